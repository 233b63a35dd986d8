//! accept() and accept4(): an accepted socket inherits its listener's keepalive options in the
//! kernel (tcp_create_openreq_child), so a listener kashim configured costs nothing here; sockets
//! accepted from a listener kashim did not configure are configured one by one.

use libc::{c_int, sockaddr, socklen_t};

/// # Safety
/// As accept(2).
pub unsafe fn accept(
    real: unsafe extern "C" fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int,
    listener: c_int,
    address: *mut sockaddr,
    len: *mut socklen_t,
) -> c_int {
    let fd = real(listener, address, len);
    if fd >= 0 {
        crate::act::connection::after_accept(listener, fd);
    }
    fd
}

/// # Safety
/// As accept4(2).
pub unsafe fn accept4(
    real: unsafe extern "C" fn(c_int, *mut sockaddr, *mut socklen_t, c_int) -> c_int,
    listener: c_int,
    address: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    let fd = real(listener, address, len, flags);
    if fd >= 0 {
        crate::act::connection::after_accept(listener, fd);
    }
    fd
}
