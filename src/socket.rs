//! socket(): a new TCP socket gets kashim's options right after the real call.

use crate::fd_table::{self, FdState};
use crate::init::{active_config, guarded};
#[cfg(not(test))]
use crate::real::{self, fallback, Next};
use crate::{debug, policy, sockopt};
use libc::c_int;

#[cfg(not(test))]
static NEXT_SOCKET: Next<real::SocketFn> = Next::new(c"socket");

/// # Safety
/// As socket(2).
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn socket(domain: c_int, socket_type: c_int, protocol: c_int) -> c_int {
    let fd = NEXT_SOCKET.or(fallback::socket)(domain, socket_type, protocol);
    if fd >= 0 {
        after_socket(fd, domain, socket_type, protocol);
    }
    fd
}

#[cfg(not(test))]
#[link_section = ".text.kashim_startup"]
pub fn resolve() {
    NEXT_SOCKET.resolve();
}

pub fn after_socket(fd: c_int, domain: c_int, socket_type: c_int, protocol: c_int) {
    guarded((), || {
        let Some(config) = active_config() else {
            // Not ready (another thread is loading the configuration): Unknown, so connect()
            // takes the socket on later. Disabled: nothing is recorded either.
            return;
        };
        if policy::is_tcp(domain, socket_type, protocol) && config.scope.is_set() {
            // Scope rules: decided at connect() or accept(), when the peer is known.
            fd_table::set(fd, FdState::Pending);
        } else if policy::is_tcp(domain, socket_type, protocol) {
            sockopt::configure(fd, config, "socket");
            fd_table::set(fd, FdState::Configured);
        } else {
            debug!(config, "fd {fd}: socket(domain {domain}, type {socket_type}, protocol {protocol}): not TCP; left alone");
            fd_table::set(fd, FdState::NotTcp);
        }
    })
}
