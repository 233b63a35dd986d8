//! dup(), dup2(), dup3(), fcntl(F_DUPFD, F_DUPFD_CLOEXEC): the new number refers to the same
//! socket, options and all, so it inherits what kashim knows about the original (a program's own
//! keepalive choice included: Python's socket.dup() and socket.fromfd() use F_DUPFD_CLOEXEC).

use crate::fd_table;
use crate::init::{guarded, tracking};
#[cfg(not(test))]
use crate::real::{self, fallback, Next};
use libc::c_int;
#[cfg(not(test))]
use libc::c_long;

#[cfg(not(test))]
static NEXT_DUP: Next<real::DupFn> = Next::new(c"dup");
#[cfg(not(test))]
static NEXT_DUP2: Next<real::Dup2Fn> = Next::new(c"dup2");
#[cfg(not(test))]
static NEXT_DUP3: Next<real::Dup3Fn> = Next::new(c"dup3");
#[cfg(not(test))]
static NEXT_FCNTL: Next<real::FcntlFn> = Next::new(c"fcntl");
#[cfg(not(test))]
static NEXT_FCNTL64: Next<real::FcntlFn> = Next::new(c"fcntl64");

/// # Safety
/// As dup(2).
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn dup(fd: c_int) -> c_int {
    let copy = NEXT_DUP.or(fallback::dup)(fd);
    if copy >= 0 {
        copy_state(fd, copy);
    }
    copy
}

/// # Safety
/// As dup2(2).
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn dup2(old_fd: c_int, new_fd: c_int) -> c_int {
    let rc = NEXT_DUP2.or(fallback::dup2)(old_fd, new_fd);
    if rc >= 0 && old_fd != new_fd {
        copy_state(old_fd, rc);
    }
    rc
}

/// # Safety
/// As dup3(2).
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn dup3(old_fd: c_int, new_fd: c_int, flags: c_int) -> c_int {
    let rc = NEXT_DUP3.or(fallback::dup3)(old_fd, new_fd, flags);
    if rc >= 0 {
        copy_state(old_fd, rc);
    }
    rc
}

/// fcntl is variadic in C; see `real::FcntlFn` for why a pointer-sized third argument passes
/// every command's argument through unchanged. Only the two copying commands matter here.
///
/// # Safety
/// As fcntl(2).
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn fcntl(fd: c_int, command: c_int, argument: c_long) -> c_int {
    let rc = NEXT_FCNTL.or(fallback::fcntl)(fd, command, argument);
    after_fcntl(fd, command, rc);
    rc
}

/// glibc 2.28+ programs built with _FILE_OFFSET_BITS=64 call fcntl64.
///
/// # Safety
/// As fcntl(2).
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn fcntl64(fd: c_int, command: c_int, argument: c_long) -> c_int {
    let rc = NEXT_FCNTL64.or(fallback::fcntl)(fd, command, argument);
    after_fcntl(fd, command, rc);
    rc
}

#[cfg(not(test))]
#[link_section = ".text.kashim_startup"]
pub fn resolve() {
    NEXT_DUP.resolve();
    NEXT_DUP2.resolve();
    NEXT_DUP3.resolve();
    NEXT_FCNTL.resolve();
    NEXT_FCNTL64.resolve();
}

/// After fcntl returned `rc`: a successful F_DUPFD/F_DUPFD_CLOEXEC made a copy at `rc`.
#[inline]
pub fn after_fcntl(fd: c_int, command: c_int, rc: c_int) {
    if rc >= 0 && (command == libc::F_DUPFD || command == libc::F_DUPFD_CLOEXEC) {
        copy_state(fd, rc);
    }
}

/// The new number refers to the same socket, options and all.
pub fn copy_state(old_fd: c_int, new_fd: c_int) {
    guarded((), || {
        if tracking() {
            fd_table::set(new_fd, fd_table::get(old_fd))
        }
    })
}
