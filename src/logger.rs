//! Output to stderr without allocation, locks or sockets (no syslog: it opens a socket, which would
//! re-enter kashim's own hook). Lines are formatted into a stack buffer and written with one
//! system call, so they are async-signal-safe and do not interleave mid-line between threads.
//!
//! kashim is a guest in the program, so a line is dropped rather than ever:
//! - written anywhere but the stderr the process started with: the file fd 2 was (device and
//!   inode) is remembered at start, and a line is written only while fd 2 is still that file. A
//!   daemon that closed stderr and got a socket, a log file or /dev/null on fd 2 gets nothing;
//! - blocking: a pipe is written with `pwritev2(RWF_NOWAIT)`, a socket with `MSG_DONTWAIT`, anything
//!   else only when `poll` says it is writable now; the file description's flags (shared with the
//!   program and other processes) are never changed;
//! - stopping the program: a terminal whose TOSTOP flag is set gets no line from a background
//!   process group (the write would stop the whole process with SIGTTOU);
//! - raising SIGPIPE: a socket is written with `MSG_NOSIGNAL`; for a pipe SIGPIPE is blocked around
//!   the write and, if the write raised it, taken back before it is unblocked.
//!
//! stderr is remembered only when something can be printed (`remember_stderr`), so a quiet start
//! (the default: warnings only, and none) costs no system call.

use crate::config::LogLevel;
use crate::errno::{self, ErrnoGuard};
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

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

/// What fd 2 was at start, which decides how a line is written without blocking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    /// Not remembered (nothing to print, or fd 2 was closed at start): lines are dropped.
    None = 0,
    Pipe = 1,
    Socket = 2,
    /// Regular file and anything else that is neither of the above nor a character device.
    Other = 3,
    /// A terminal, or another character device (/dev/null...).
    CharDevice = 4,
}

static STDERR_KIND: AtomicU8 = AtomicU8::new(Kind::None as u8);
static STDERR_DEV: AtomicU64 = AtomicU64::new(0);
static STDERR_INO: AtomicU64 = AtomicU64::new(0);

/// fd 2's identity now: its kind, device and inode. `None` if fd 2 is closed.
fn identify_stderr() -> Option<(Kind, u64, u64)> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat fills the whole struct when it returns 0.
    if unsafe { libc::fstat(2, st.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: as above.
    let st = unsafe { st.assume_init() };
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFIFO => Kind::Pipe,
        libc::S_IFSOCK => Kind::Socket,
        libc::S_IFCHR => Kind::CharDevice,
        _ => Kind::Other,
    };
    #[allow(clippy::unnecessary_cast)] // dev_t and ino_t are not u64 on every target
    Some((kind, st.st_dev as u64, st.st_ino as u64))
}

/// Called once at start, before the first line: from now on lines go to this file only.
pub fn remember_stderr() {
    let _errno = ErrnoGuard::save();
    if let Some((kind, dev, ino)) = identify_stderr() {
        STDERR_DEV.store(dev, Ordering::Relaxed);
        STDERR_INO.store(ino, Ordering::Relaxed);
        STDERR_KIND.store(kind as u8, Ordering::Release);
    }
}

/// How to write to fd 2, if it is still the stderr the process started with.
fn stderr_if_unchanged() -> Option<Kind> {
    let kind = match STDERR_KIND.load(Ordering::Acquire) {
        1 => Kind::Pipe,
        2 => Kind::Socket,
        3 => Kind::Other,
        4 => Kind::CharDevice,
        _ => return None,
    };
    let (now, dev, ino) = identify_stderr()?;
    let same = now == kind
        && dev == STDERR_DEV.load(Ordering::Relaxed)
        && ino == STDERR_INO.load(Ordering::Relaxed);
    same.then_some(kind)
}

/// Writes `kashim: <message>\n` to stderr if `level` is enabled by `configured`.
pub fn log(configured: LogLevel, level: LogLevel, args: fmt::Arguments<'_>) {
    if level == LogLevel::Off || configured < level {
        return;
    }
    let _errno = ErrnoGuard::save();
    let Some(kind) = stderr_if_unchanged() else {
        return;
    };
    let mut line = LineBuf {
        buf: [0; LINE_MAX],
        len: 0,
    };
    let _ = fmt::write(&mut line, format_args!("kashim: {args}"));
    line.buf[line.len] = b'\n';
    line.len += 1;
    let bytes = &line.buf[..line.len];
    match kind {
        Kind::Socket => {
            // SAFETY: the pointer and length describe `bytes`. A partial send cuts the line.
            unsafe {
                libc::send(
                    2,
                    bytes.as_ptr().cast(),
                    bytes.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
        }
        Kind::Pipe => without_sigpipe(|| write_pipe(bytes)),
        Kind::Other => {
            if writable_now() {
                write_once(bytes);
            }
        }
        Kind::CharDevice => {
            if !background_on_tostop_terminal() && writable_now() {
                write_once(bytes);
            }
        }
        Kind::None => {}
    }
}

/// A pipe write never blocks: RWF_NOWAIT (Linux 5.8+; the line fits in PIPE_BUF, so it is written
/// whole or not at all), or on older kernels only when poll says there is room.
fn write_pipe(bytes: &[u8]) -> isize {
    let iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    // SAFETY: one iovec describing `bytes`; offset -1 = the current position, as write(2).
    let n = unsafe { libc::pwritev2(2, &iov, 1, -1, libc::RWF_NOWAIT) };
    if n < 0 && errno::get() == libc::EOPNOTSUPP && writable_now() {
        return write_once(bytes);
    }
    n
}

fn write_once(bytes: &[u8]) -> isize {
    // SAFETY: the pointer and length describe `bytes`.
    unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) }
}

/// Would a write to fd 2 stop this process? True when fd 2 is a terminal with TOSTOP set and this
/// process group is not its foreground group (then the kernel sends SIGTTOU, whose default action
/// stops the process).
fn background_on_tostop_terminal() -> bool {
    // SAFETY: tcgetattr fills the struct when it returns 0; it fails (ENOTTY) on other devices.
    unsafe {
        let mut terminal = std::mem::zeroed::<libc::termios>();
        if libc::tcgetattr(2, &mut terminal) != 0 || terminal.c_lflag & libc::TOSTOP == 0 {
            return false;
        }
        let foreground = libc::tcgetpgrp(2);
        foreground >= 0 && foreground != libc::getpgrp()
    }
}

/// Is fd 2 ready for a write right now (and its reader still there)?
fn writable_now() -> bool {
    let mut pfd = libc::pollfd {
        fd: 2,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd; timeout 0 never waits.
    let ready = unsafe { libc::poll(&mut pfd, 1, 0) };
    ready == 1 && pfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) == 0
}

/// Runs `write` (which returns what write(2) returns) with SIGPIPE blocked in this thread; a
/// SIGPIPE the write raised is taken back before the mask is restored, so the program never sees
/// it. One the program already had pending stays pending.
fn without_sigpipe(write: impl FnOnce() -> isize) {
    // SAFETY: plain signal-set manipulation on stack values; all calls are async-signal-safe.
    unsafe {
        let mut pipe_only = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut pipe_only);
        libc::sigaddset(&mut pipe_only, libc::SIGPIPE);
        let mut old = std::mem::zeroed::<libc::sigset_t>();
        if libc::pthread_sigmask(libc::SIG_BLOCK, &pipe_only, &mut old) != 0 {
            return; // cannot protect the program from SIGPIPE: drop the line
        }
        // Unblocked before, a SIGPIPE could not be pending (it would have been delivered).
        let mut already_pending = false;
        if libc::sigismember(&old, libc::SIGPIPE) == 1 {
            let mut pending = std::mem::zeroed::<libc::sigset_t>();
            already_pending = libc::sigpending(&mut pending) != 0
                || libc::sigismember(&pending, libc::SIGPIPE) == 1;
        }
        if write() < 0 && errno::get() == libc::EPIPE && !already_pending {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            libc::sigtimedwait(&pipe_only, std::ptr::null_mut(), &zero);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
    }
}

#[macro_export]
macro_rules! debug {
    // The level is tested here, so a quiet run never even builds the message's arguments.
    ($cfg:expr, $($arg:tt)*) => {{
        let level = $cfg.log;
        if level >= $crate::config::LogLevel::Debug {
            $crate::logger::log(level, $crate::config::LogLevel::Debug, format_args!($($arg)*))
        }
    }};
}
