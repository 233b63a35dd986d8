//! accept() and accept4(): an accepted socket inherits its listener's keepalive options in the
//! kernel (tcp_create_openreq_child), so a listener kashim configured costs nothing here. Sockets
//! accepted from a listener kashim did not create are configured one by one.

use crate::fd_table::{self, FdState};
use crate::init::{active_config, guarded};
use crate::policy::{self, AcceptAction};
#[cfg(not(test))]
use crate::real::{self, fallback, Next};
use crate::{debug, sockopt};
use libc::c_int;

#[cfg(not(test))]
static NEXT_ACCEPT: Next<real::AcceptFn> = Next::new(c"accept");
#[cfg(not(test))]
static NEXT_ACCEPT4: Next<real::Accept4Fn> = Next::new(c"accept4");

/// # Safety
/// As accept(2).
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn accept(
    listener: c_int,
    address: *mut libc::sockaddr,
    address_len: *mut libc::socklen_t,
) -> c_int {
    let fd = NEXT_ACCEPT.or(fallback::accept)(listener, address, address_len);
    if fd >= 0 {
        after_accept(listener, fd);
    }
    fd
}

/// # Safety
/// As accept4(2).
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn accept4(
    listener: c_int,
    address: *mut libc::sockaddr,
    address_len: *mut libc::socklen_t,
    flags: c_int,
) -> c_int {
    let fd = NEXT_ACCEPT4.or(fallback::accept4)(listener, address, address_len, flags);
    if fd >= 0 {
        after_accept(listener, fd);
    }
    fd
}

#[cfg(not(test))]
#[link_section = ".text.kashim_startup"]
pub fn resolve() {
    NEXT_ACCEPT.resolve();
    NEXT_ACCEPT4.resolve();
}

pub fn after_accept(listener: c_int, fd: c_int) {
    guarded((), || {
        let Some(config) = active_config() else {
            return;
        };
        if crate::scope::decides(config) {
            return crate::scope::after_accept(listener, fd, config);
        }
        let mut listener_state = fd_table::get(listener);
        if policy::on_accept(listener_state) == AcceptAction::InspectListener {
            // First accept from a listener kashim has never seen: ask the kernel once, remember.
            let Some(verdict) = sockopt::inspect(listener, config) else {
                fd_table::set(fd, FdState::Unknown);
                return;
            };
            listener_state = policy::listener_state(verdict);
            fd_table::set(listener, listener_state);
        }
        let state = match policy::on_accept(listener_state) {
            AcceptAction::Inherit(state) => {
                debug!(config, "fd {fd}: accepted from listener fd {listener}: inherits its settings ({state:?})");
                state
            }
            AcceptAction::ConfigureAccepted => {
                sockopt::configure(fd, config, "accept");
                FdState::Configured
            }
            AcceptAction::InspectListener => FdState::Unknown, // not reached: inspected above
        };
        fd_table::set(fd, state);
    })
}
