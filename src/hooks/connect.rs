//! connect(): a TCP socket kashim did not create (inherited across exec, received over a Unix
//! socket, or created before kashim was ready) is configured before the real call; with scope
//! rules or FORCE=cap the decision waits until the kernel has read the destination.

use crate::act::connection;
use libc::{c_int, sockaddr, socklen_t};

/// # Safety
/// As connect(2).
pub unsafe fn connect(
    real: unsafe extern "C" fn(c_int, *const sockaddr, socklen_t) -> c_int,
    fd: c_int,
    address: *const sockaddr,
    len: socklen_t,
) -> c_int {
    if connection::decides_after_connect() {
        let rc = real(fd, address, len);
        connection::after_connect(fd, address, len, rc);
        return rc;
    }
    connection::before_connect(fd);
    real(fd, address, len)
}
