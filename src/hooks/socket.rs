//! socket(): a new TCP socket gets kashim's options right after the real call.

use libc::c_int;

/// # Safety
/// As socket(2).
pub unsafe fn socket(
    real: unsafe extern "C" fn(c_int, c_int, c_int) -> c_int,
    domain: c_int,
    socket_type: c_int,
    protocol: c_int,
) -> c_int {
    let fd = real(domain, socket_type, protocol);
    if fd >= 0 {
        crate::act::connection::after_socket(fd, domain, socket_type, protocol);
    }
    fd
}
