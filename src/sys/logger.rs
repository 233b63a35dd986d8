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
use crate::sys::errno::{self, ErrnoGuard};
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
    if unsafe { sys::fstat(2, st.as_mut_ptr()) } != 0 {
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
                sys::send(
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
    let n = unsafe { sys::pwritev2(2, &iov, 1, -1, libc::RWF_NOWAIT) };
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
    // SAFETY: the calls only write into the locals they are given; TCGETS fails (ENOTTY) on
    // other devices.
    unsafe {
        match sys::terminal_local_flags(2) {
            Some(flags) if flags & libc::TOSTOP != 0 => {}
            _ => return false,
        }
        let foreground = sys::tcgetpgrp(2);
        foreground >= 0 && foreground != sys::getpgrp()
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
    let ready = unsafe { sys::poll_now(&mut pfd) };
    ready == 1 && pfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) == 0
}

/// Runs `write` (which returns what write(2) returns) with SIGPIPE blocked in this thread; a
/// SIGPIPE the write raised is taken back before the mask is restored, so the program never sees
/// it. One the program already had pending stays pending.
fn without_sigpipe(write: impl FnOnce() -> isize) {
    // SAFETY: plain signal-set manipulation on stack values; all calls are async-signal-safe.
    unsafe {
        let pipe_only: sys::SigSet = sys::signal_bit(libc::SIGPIPE);
        let mut old: sys::SigSet = 0;
        if sys::sigprocmask(libc::SIG_BLOCK, &pipe_only, &mut old) != 0 {
            return; // cannot protect the program from SIGPIPE: drop the line
        }
        // Unblocked before, a SIGPIPE could not be pending (it would have been delivered).
        let mut already_pending = false;
        if old & pipe_only != 0 {
            let mut pending: sys::SigSet = 0;
            already_pending = sys::sigpending(&mut pending) != 0 || pending & pipe_only != 0;
        }
        if write() < 0 && errno::get() == libc::EPIPE && !already_pending {
            sys::take_pending_now(&pipe_only);
        }
        sys::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
    }
}

/// The logger's system calls, made directly: the same calls glibc's wrappers make on Linux
/// (fstat = newfstatat(AT_EMPTY_PATH), tcgetattr = ioctl(TCGETS), ...), but without importing 13
/// more libc functions, each of which the loader would look up in every process at start-up
/// (about 750 instructions a symbol), although most processes never log a line.
mod sys {
    use libc::{c_int, c_long, c_void};

    // Every argument goes to syscall() as a full c_long: syscall() is variadic, and an int would
    // leave the upper half of its register undefined (the kernel ignores it; valgrind does not).
    fn arg(value: c_int) -> c_long {
        c_long::from(value)
    }

    fn int(rc: c_long) -> c_int {
        rc as c_int
    }

    /// The kernel's signal set (64 signals, `_NSIG / 8` = 8 bytes on Linux).
    pub type SigSet = u64;
    const SIGSET_BYTES: c_long = std::mem::size_of::<SigSet>() as c_long;
    const NULL: *const c_void = std::ptr::null();

    pub fn signal_bit(signal: c_int) -> SigSet {
        1 << (signal - 1)
    }

    pub unsafe fn fstat(fd: c_int, st: *mut libc::stat) -> c_int {
        let empty = c"".as_ptr();
        let flags = arg(libc::AT_EMPTY_PATH);
        int(libc::syscall(
            libc::SYS_newfstatat,
            arg(fd),
            empty,
            st,
            flags,
        ))
    }

    pub unsafe fn send(fd: c_int, buf: *const c_void, len: usize, flags: c_int) -> isize {
        let (fd, flags) = (arg(fd), arg(flags));
        libc::syscall(libc::SYS_sendto, fd, buf, len, flags, NULL, 0 as c_long) as isize
    }

    /// pwritev2 takes the offset split in two longs (glibc's LO_HI_LONG).
    pub unsafe fn pwritev2(
        fd: c_int,
        iov: *const libc::iovec,
        count: c_int,
        offset: i64,
        flags: c_int,
    ) -> isize {
        let (low, high) = (offset as c_long, ((offset as u64) >> 32) as c_long);
        let (fd, count, flags) = (arg(fd), arg(count), arg(flags));
        libc::syscall(libc::SYS_pwritev2, fd, iov, count, low, high, flags) as isize
    }

    /// The terminal's c_lflag (ioctl TCGETS, as tcgetattr), or None if fd is no terminal.
    pub unsafe fn terminal_local_flags(fd: c_int) -> Option<libc::tcflag_t> {
        // The kernel's struct termios: c_iflag, c_oflag, c_cflag, c_lflag, then c_line and c_cc;
        // 64 bytes hold it on every Linux architecture.
        let mut termios = [0 as libc::tcflag_t; 16];
        let request = libc::TCGETS as c_long;
        let rc = libc::syscall(libc::SYS_ioctl, arg(fd), request, termios.as_mut_ptr());
        (rc == 0).then_some(termios[3])
    }

    pub unsafe fn tcgetpgrp(fd: c_int) -> libc::pid_t {
        let mut group: libc::pid_t = 0;
        let request = libc::TIOCGPGRP as c_long;
        let rc = libc::syscall(libc::SYS_ioctl, arg(fd), request, &mut group);
        if rc < 0 {
            -1
        } else {
            group
        }
    }

    pub unsafe fn getpgrp() -> libc::pid_t {
        #[cfg(target_arch = "x86_64")]
        let rc = libc::syscall(libc::SYS_getpgrp);
        #[cfg(not(target_arch = "x86_64"))]
        let rc = libc::syscall(libc::SYS_getpgid, 0 as c_long);
        rc as libc::pid_t
    }

    /// poll with a zero timeout.
    pub unsafe fn poll_now(pfd: *mut libc::pollfd) -> c_int {
        #[cfg(target_arch = "x86_64")]
        let rc = libc::syscall(libc::SYS_poll, pfd, 1 as c_long, 0 as c_long);
        #[cfg(not(target_arch = "x86_64"))]
        let rc = {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            libc::syscall(libc::SYS_ppoll, pfd, 1 as c_long, &zero, NULL, 0 as c_long)
        };
        int(rc)
    }

    pub unsafe fn sigprocmask(how: c_int, set: *const SigSet, old: *mut SigSet) -> c_int {
        let how = arg(how);
        int(libc::syscall(
            libc::SYS_rt_sigprocmask,
            how,
            set,
            old,
            SIGSET_BYTES,
        ))
    }

    pub unsafe fn sigpending(set: *mut SigSet) -> c_int {
        int(libc::syscall(libc::SYS_rt_sigpending, set, SIGSET_BYTES))
    }

    /// sigtimedwait with a zero timeout: takes one pending signal of `set`, if there is one.
    pub unsafe fn take_pending_now(set: *const SigSet) {
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        libc::syscall(libc::SYS_rt_sigtimedwait, set, NULL, &zero, SIGSET_BYTES);
    }
}

#[macro_export]
macro_rules! debug {
    // The level is tested here, so a quiet run never even builds the message's arguments.
    ($cfg:expr, $($arg:tt)*) => {{
        let level = $cfg.log;
        if level >= $crate::config::LogLevel::Debug {
            $crate::sys::logger::log(level, $crate::config::LogLevel::Debug, format_args!($($arg)*))
        }
    }};
}
