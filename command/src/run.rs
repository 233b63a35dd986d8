//! `kashim [options] [--] COMMAND [ARGS...]`: exec COMMAND with libkashim.so preloaded.

use crate::cli::Invocation;
use crate::error::{Error, Result};
use std::process::ExitCode;

pub fn main(_inv: &Invocation, _command: &[std::ffi::OsString]) -> Result<ExitCode> {
    Err(Error::failure("running a command is not built yet"))
}
