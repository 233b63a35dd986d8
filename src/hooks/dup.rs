//! dup(), dup2(), dup3(), fcntl(F_DUPFD, F_DUPFD_CLOEXEC): the new number refers to the same
//! socket, options and all, so it inherits what kashim knows about the original (a program's own
//! keepalive choice included: Python's socket.dup() and socket.fromfd() use F_DUPFD_CLOEXEC).

use crate::act::descriptors::copy_state;
use libc::{c_int, c_long};

/// # Safety
/// As dup(2).
pub unsafe fn dup(real: unsafe extern "C" fn(c_int) -> c_int, fd: c_int) -> c_int {
    let copy = real(fd);
    if copy >= 0 {
        copy_state(fd, copy);
    }
    copy
}

/// # Safety
/// As dup2(2).
pub unsafe fn dup2(
    real: unsafe extern "C" fn(c_int, c_int) -> c_int,
    old_fd: c_int,
    new_fd: c_int,
) -> c_int {
    let rc = real(old_fd, new_fd);
    if rc >= 0 && old_fd != new_fd {
        copy_state(old_fd, rc);
    }
    rc
}

/// # Safety
/// As dup3(2).
pub unsafe fn dup3(
    real: unsafe extern "C" fn(c_int, c_int, c_int) -> c_int,
    old_fd: c_int,
    new_fd: c_int,
    flags: c_int,
) -> c_int {
    let rc = real(old_fd, new_fd, flags);
    if rc >= 0 {
        copy_state(old_fd, rc);
    }
    rc
}

/// fcntl and fcntl64 (glibc 2.28+ programs built with _FILE_OFFSET_BITS=64). fcntl is variadic in
/// C; its third argument, when there is one, is an int or a pointer, and on x86_64 and aarch64 a
/// variadic integer or pointer travels in the same register as a fixed one, so a pointer-sized
/// value carries either unchanged (libc takes it back out with va_arg as the type the command needs).
///
/// # Safety
/// As fcntl(2).
pub unsafe fn fcntl(
    real: unsafe extern "C" fn(c_int, c_int, c_long) -> c_int,
    fd: c_int,
    command: c_int,
    argument: c_long,
) -> c_int {
    let rc = real(fd, command, argument);
    if rc >= 0 && (command == libc::F_DUPFD || command == libc::F_DUPFD_CLOEXEC) {
        copy_state(fd, rc);
    }
    rc
}
