//! `kashim --inspect PID`: the TCP connections of a process and their keepalive state.

use crate::cli::Invocation;
use crate::error::{Error, Result};
use std::process::ExitCode;

pub fn main(_inv: &Invocation, _pid: i32) -> Result<ExitCode> {
    Err(Error::failure("--inspect is not built yet"))
}
