//! connect(): a TCP socket kashim did not create (inherited across exec, received over a Unix
//! socket, or created before kashim was ready) is configured before the real call.

use crate::fd_table;
use crate::init::{active_config, guarded};
#[cfg(not(test))]
use crate::real::{self, fallback, Next};
use crate::{policy, sockopt};
use libc::c_int;

#[cfg(not(test))]
static NEXT_CONNECT: Next<real::ConnectFn> = Next::new(c"connect");

/// # Safety
/// As connect(2).
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn connect(
    fd: c_int,
    address: *const libc::sockaddr,
    address_len: libc::socklen_t,
) -> c_int {
    if crate::scope::decides_after_connect() {
        let rc = NEXT_CONNECT.or(fallback::connect)(fd, address, address_len);
        crate::scope::after_connect(fd, address, address_len, rc);
        return rc;
    }
    before_connect(fd);
    NEXT_CONNECT.or(fallback::connect)(fd, address, address_len)
}

#[cfg(not(test))]
#[link_section = ".text.kashim_startup"]
pub fn resolve() {
    NEXT_CONNECT.resolve();
}

pub fn before_connect(fd: c_int) {
    guarded((), || {
        if let Some(config) = active_config() {
            if policy::needs_inspection(fd_table::get(fd)) {
                sockopt::adopt(fd, config, "connect");
            }
        }
    })
}
