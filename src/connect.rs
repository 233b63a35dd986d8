//! connect(): a TCP socket kashim did not create (inherited across exec, received over a Unix
//! socket, or created before kashim was ready) is configured before the real call.

use crate::fd_table;
use crate::init::{active_config, guarded};
use crate::{policy, sockopt};
use libc::c_int;

#[cfg(not(test))]
redhook::hook! {
    unsafe fn connect(fd: c_int, address: *const libc::sockaddr, address_len: libc::socklen_t) -> c_int => kashim_connect {
        before_connect(fd);
        redhook::real!(connect)(fd, address, address_len)
    }
}

#[cfg(not(test))]
pub fn resolve() {
    let _ = redhook::real!(connect);
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
