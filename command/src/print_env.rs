//! `kashim --print-env [shell|systemd|docker]`: the settings as lines to paste.

use crate::cli::{EnvForm, Invocation};
use crate::error::{Error, Result};
use std::process::ExitCode;

pub fn main(_inv: &Invocation, _form: EnvForm) -> Result<ExitCode> {
    Err(Error::failure("--print-env is not built yet"))
}
