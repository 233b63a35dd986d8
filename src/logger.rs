//! Output to stderr without allocation, locks or sockets (no syslog: it opens a socket, which would
//! re-enter kashim's own hook). Lines are formatted into a stack buffer and written with one
//! `write(2)`, so they are async-signal-safe and do not interleave mid-line between threads.

use crate::config::LogLevel;
use crate::errno::ErrnoGuard;
use std::fmt;

const LINE_MAX: usize = 512;

struct LineBuf {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl fmt::Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Leave room for the newline; a longer line is cut, never split across writes.
        let room = LINE_MAX - 1 - self.len;
        let take = s.len().min(room);
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

/// Writes `kashim: <message>\n` to stderr if `level` is enabled by `configured`.
pub fn log(configured: LogLevel, level: LogLevel, args: fmt::Arguments<'_>) {
    if level == LogLevel::Off || configured < level {
        return;
    }
    let _errno = ErrnoGuard::save();
    let mut line = LineBuf {
        buf: [0; LINE_MAX],
        len: 0,
    };
    let _ = fmt::write(&mut line, format_args!("kashim: {args}"));
    line.buf[line.len] = b'\n';
    line.len += 1;
    let mut written = 0;
    while written < line.len {
        // SAFETY: the pointer and length describe the initialised part of `line.buf`.
        let n = unsafe { libc::write(2, line.buf[written..].as_ptr().cast(), line.len - written) };
        if n <= 0 {
            break; // stderr closed or full: losing a log line is better than blocking the program
        }
        written += n as usize;
    }
}

#[macro_export]
macro_rules! debug {
    ($cfg:expr, $($arg:tt)*) => {
        $crate::logger::log($cfg.log, $crate::config::LogLevel::Debug, format_args!($($arg)*))
    };
}
