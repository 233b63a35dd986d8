//! `kashim --attach PID`: keepalive for the TCP sockets of a running process, through
//! pidfd_getfd(2) duplicates; the target is never stopped or signalled.

use crate::cli::Invocation;
use crate::error::{Error, Result};
use std::process::ExitCode;

pub fn main(_inv: &Invocation, _pid: i32) -> Result<ExitCode> {
    Err(Error::failure("--attach is not built yet"))
}
