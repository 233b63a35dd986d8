//! Stand-ins for the hooked functions, used only when no object after kashim defines one: the same
//! system call made directly, or, where there is no system call (stdio, the loader), a failure
//! the caller already handles. A hook must never jump to nothing.

#![allow(clippy::missing_safety_doc)] // each is "as the C function of the same name"

use libc::{c_char, c_int, c_long, c_uint, c_void, pid_t, socklen_t, FILE};

fn int(rc: c_long) -> c_int {
    rc as c_int
}

pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    int(libc::syscall(libc::SYS_socket, domain, ty, protocol))
}
pub unsafe extern "C" fn connect(
    fd: c_int,
    address: *const libc::sockaddr,
    len: socklen_t,
) -> c_int {
    int(libc::syscall(libc::SYS_connect, fd, address, len))
}
pub unsafe extern "C" fn accept(
    fd: c_int,
    address: *mut libc::sockaddr,
    len: *mut socklen_t,
) -> c_int {
    accept4(fd, address, len, 0)
}
pub unsafe extern "C" fn accept4(
    fd: c_int,
    address: *mut libc::sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    int(libc::syscall(libc::SYS_accept4, fd, address, len, flags))
}
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: socklen_t,
) -> c_int {
    int(libc::syscall(
        libc::SYS_setsockopt,
        fd,
        level,
        name,
        value,
        len,
    ))
}
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    int(libc::syscall(libc::SYS_close, fd))
}
pub unsafe extern "C" fn dup(fd: c_int) -> c_int {
    int(libc::syscall(libc::SYS_dup, fd))
}
/// dup2 is dup3 except that equal numbers are allowed (aarch64 has no dup2 system call).
pub unsafe extern "C" fn dup2(old_fd: c_int, new_fd: c_int) -> c_int {
    if old_fd == new_fd {
        return if fcntl(old_fd, libc::F_GETFD, 0) < 0 {
            -1
        } else {
            old_fd
        };
    }
    dup3(old_fd, new_fd, 0)
}
pub unsafe extern "C" fn dup3(old_fd: c_int, new_fd: c_int, flags: c_int) -> c_int {
    int(libc::syscall(libc::SYS_dup3, old_fd, new_fd, flags))
}
pub unsafe extern "C" fn fcntl(fd: c_int, command: c_int, argument: c_long) -> c_int {
    int(libc::syscall(libc::SYS_fcntl, fd, command, argument))
}
/// glibc < 2.34 has no close_range: the system call itself (ENOSYS before Linux 5.9, as libc's).
pub unsafe extern "C" fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
    int(libc::syscall(libc::SYS_close_range, first, last, flags))
}
/// closefrom as glibc's is: close_range to the end.
pub unsafe extern "C" fn closefrom(lowest: c_int) {
    let _errno = super::errno::ErrnoGuard::save();
    close_range(lowest.max(0) as c_uint, c_uint::MAX, 0);
}
pub unsafe extern "C" fn unshare(flags: c_int) -> c_int {
    int(libc::syscall(libc::SYS_unshare, flags))
}
/// fork without libc's: the system call, as clone with SIGCHLD (the child's pid caches are libc's
/// concern; this is never reached with a glibc).
pub unsafe extern "C" fn fork() -> pid_t {
    int(libc::syscall(libc::SYS_clone, libc::SIGCHLD, 0, 0, 0, 0))
}
pub unsafe extern "C" fn fclose(_stream: *mut FILE) -> c_int {
    super::errno::set(libc::ENOSYS);
    libc::EOF
}
pub unsafe extern "C" fn freopen(
    _path: *const c_char,
    _mode: *const c_char,
    _stream: *mut FILE,
) -> *mut FILE {
    super::errno::set(libc::ENOSYS);
    std::ptr::null_mut()
}
/// No loader function to call: the load fails, as dlopen reports a failure (dlerror then says
/// nothing, since it belongs to the missing libdl too).
pub unsafe extern "C" fn dlopen(_file: *const c_char, _mode: c_int) -> *mut c_void {
    std::ptr::null_mut()
}
pub unsafe extern "C" fn dlmopen(
    _namespace: c_long,
    _file: *const c_char,
    _mode: c_int,
) -> *mut c_void {
    std::ptr::null_mut()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dup2_on_equal_numbers() {
        assert_eq!(unsafe { dup2(1, 1) }, 1);
        assert_eq!(unsafe { dup2(-1, -1) }, -1);
    }

    #[test]
    fn the_system_calls_work() {
        let copy = unsafe { dup(1) };
        assert!(copy > 2);
        assert_eq!(unsafe { close(copy) }, 0);
    }
}
