//! Errors as values: every failure the user can see is one line and an exit status.

use std::fmt;
use std::process::ExitCode;

/// Exit statuses (documented in `kashim --help` and kashim(1)).
pub const EXIT_FAILURE: u8 = 1; // the job could not be done (inspect/attach/ebpf)
pub const EXIT_USAGE: u8 = 2; // bad option or value
pub const EXIT_KASHIM: u8 = 125; // kashim itself cannot work (no library, build failed)
pub const EXIT_CANNOT_RUN: u8 = 126; // COMMAND found but not executable
pub const EXIT_NOT_FOUND: u8 = 127; // COMMAND not found

#[derive(Debug, PartialEq, Eq)]
pub struct Error {
    pub code: u8,
    /// One or more lines, each printed as `kashim: <line>`.
    pub lines: Vec<String>,
}

impl Error {
    pub fn new(code: u8, line: impl Into<String>) -> Self {
        Error {
            code,
            lines: vec![line.into()],
        }
    }
    pub fn usage(line: impl Into<String>) -> Self {
        Self::new(EXIT_USAGE, line)
    }
    pub fn failure(line: impl Into<String>) -> Self {
        Self::new(EXIT_FAILURE, line)
    }
    pub fn report(&self) -> ExitCode {
        for line in &self.lines {
            eprintln!("kashim: {line}");
        }
        ExitCode::from(self.code)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lines.join("; "))
    }
}

pub type Result<T> = std::result::Result<T, Error>;
