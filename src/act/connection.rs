//! What kashim does when a TCP connection is made: at socket(), connect() and accept(), each hook
//! reads the descriptor's state, asks `decide` what to do (a value), carries it out with kashim's
//! own calls (`act::sockopt`), and records the new state.

// The hooks that call these are compiled out of `cargo test`; the flow tests drive them directly.
#![cfg_attr(test, allow(dead_code))]

use crate::act::sockopt;
use crate::config::keepalive::Judgement;
use crate::config::{Config, Peer, Side};
use crate::debug;
use crate::decide::policy::{self, AcceptAction, ConnectAction, ForeignVerdict, KeepaliveOption};
use crate::decide::scope::{
    accepted_state, connection_under_way, decide, decides, peer_from_bytes, Action,
};
use crate::state::config::active_config;
use crate::state::fd_table::{self, FdState};
use crate::sys::errno::{self, ErrnoGuard};
use crate::sys::guard::guarded;
use libc::{c_int, socklen_t};

/// After socket() made `fd`: a TCP socket gets kashim's options now, or, under scope rules, is
/// marked to be decided at its connection.
pub fn after_socket(fd: c_int, domain: c_int, socket_type: c_int, protocol: c_int) {
    guarded((), || {
        let Some(config) = active_config() else {
            // Not ready (another thread is loading the configuration): Unknown, so connect()
            // takes the socket on later. Disabled: nothing is recorded either.
            return;
        };
        let state = if !policy::is_tcp(domain, socket_type, protocol) {
            debug!(config, "fd {fd}: socket(domain {domain}, type {socket_type}, protocol {protocol}): not TCP; left alone");
            FdState::NotTcp
        } else if config.scope.is_set() {
            FdState::Pending
        } else {
            sockopt::configure(fd, config, "socket");
            FdState::Configured
        };
        fd_table::set(fd, state);
    })
}

/// Before connect() without scope rules: a socket kashim has not seen is taken on now, and one
/// whose keepalive the program only switched on gets kashim's timers.
pub fn before_connect(fd: c_int) {
    guarded((), || {
        let Some(config) = active_config() else {
            return;
        };
        match policy::on_connect(fd_table::get(fd)) {
            ConnectAction::Nothing => {}
            ConnectAction::Inspect => sockopt::adopt(fd, config, "connect"),
            ConnectAction::TimersIfDefault => {
                let state = timers_if_default(fd, config, "connect");
                fd_table::set(fd, state);
            }
        }
    })
}

/// The program turned keepalive on or off itself but chose no timers: if it is on with the
/// kernel's default timers (no protection), kashim sets its own; the socket is the program's from
/// now on either way.
pub fn timers_if_default(fd: c_int, config: &Config, context: &str) -> FdState {
    if sockopt::judgement(fd) == Some(Judgement::DefaultTimers) {
        sockopt::configure(fd, config, context);
    }
    FdState::ProgramOwned
}

const STORAGE_LEN: usize = std::mem::size_of::<libc::sockaddr_in6>();

/// connect() hook: true when the decision is taken after the real call.
pub fn decides_after_connect() -> bool {
    guarded(false, || active_config().is_some_and(decides))
}

/// After the real connect(): the kernel has read `address` (it returned success or "in
/// progress"), so reading it here cannot fault where the kernel would have said EFAULT.
pub fn after_connect(fd: c_int, address: *const libc::sockaddr, address_len: socklen_t, rc: c_int) {
    let err = errno::get();
    guarded((), || {
        let _errno = ErrnoGuard::save();
        let Some(config) = active_config() else {
            return;
        };
        if !connection_under_way(rc, err) || address.is_null() {
            return;
        }
        let state = fd_table::get(fd);
        let action = decide(state, Side::Outbound, config, || {
            let len = (address_len as usize).min(STORAGE_LEN);
            // SAFETY: the kernel has just read `address_len` bytes at `address`.
            let bytes = unsafe { std::slice::from_raw_parts(address.cast::<u8>(), len) };
            peer_from_bytes(bytes)
        });
        carry_out(fd, state, action, config, "connect");
    })
}

/// After accept()/accept4() returned `fd` from `listener`.
pub fn after_accept(listener: c_int, fd: c_int) {
    guarded((), || {
        let Some(config) = active_config() else {
            return;
        };
        let Some(listener_state) = known_listener(listener, config) else {
            fd_table::set(fd, FdState::Unknown);
            return;
        };
        if decides(config) {
            let state = accepted_state(listener_state);
            let action = decide(state, Side::Inbound, config, || peer_of(fd));
            return carry_out(fd, state, action, config, "accept");
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
            AcceptAction::TimersIfDefault => timers_if_default(fd, config, "accept"),
            AcceptAction::InspectListener => FdState::Unknown, // not reached: inspected above
        };
        fd_table::set(fd, state);
    })
}

/// What kashim knows of a listener; at the first accept from one it has never seen, the kernel is
/// asked once and the answer remembered. `None` if the kernel would not say.
fn known_listener(listener: c_int, config: &Config) -> Option<FdState> {
    let state = fd_table::get(listener);
    if policy::on_accept(state) != AcceptAction::InspectListener {
        return Some(state);
    }
    let state = policy::listener_state(sockopt::inspect(listener, config)?);
    fd_table::set(listener, state);
    Some(state)
}

/// The peer of a connected socket, asked of the kernel (the program's own buffer may be absent
/// or too short, and is never read).
fn peer_of(fd: c_int) -> Option<Peer> {
    let _errno = ErrnoGuard::save();
    let mut storage = [0u8; STORAGE_LEN];
    let mut len = STORAGE_LEN as socklen_t;
    // SAFETY: storage/len describe a live buffer of STORAGE_LEN bytes.
    let rc = unsafe { libc::getpeername(fd, storage.as_mut_ptr().cast(), &mut len) };
    (rc == 0).then(|| peer_from_bytes(&storage[..(len as usize).min(STORAGE_LEN)]))?
}

fn carry_out(fd: c_int, state: FdState, action: Action, config: &Config, context: &str) {
    let new_state = match action {
        Action::Keep => state,
        Action::Mark(new) => {
            debug!(config, "fd {fd}: {context}: out of scope; left alone");
            new
        }
        Action::Configure => {
            sockopt::configure(fd, config, context);
            FdState::Configured
        }
        Action::TurnOff => {
            sockopt::set_one(fd, KeepaliveOption::KeepAlive, 0, config, context);
            debug!(
                config,
                "fd {fd}: {context}: out of scope; inherited keepalive turned off"
            );
            FdState::OutOfScope
        }
        Action::Cap => cap_existing(fd, config, context),
        Action::TimersIfDefault => timers_if_default(fd, config, context),
        Action::Adopt => match sockopt::inspect(fd, config) {
            None => return,
            Some(ForeignVerdict::NotTcp) => FdState::NotTcp,
            Some(ForeignVerdict::ProgramOwned) if config.force_cap => {
                cap_existing(fd, config, context)
            }
            Some(ForeignVerdict::ProgramOwned) => FdState::ProgramOwned,
            Some(ForeignVerdict::Configure) => {
                sockopt::configure(fd, config, context);
                FdState::Configured
            }
        },
    };
    fd_table::set(fd, new_state);
}

/// FORCE=cap on a socket whose keepalive the program set first: if keepalive is on, idle,
/// interval and count above kashim's are lowered; if off, it stays off.
pub fn cap_existing(fd: c_int, config: &Config, context: &str) -> FdState {
    let _errno = ErrnoGuard::save();
    if sockopt::get_int(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE) != Some(1) {
        debug!(
            config,
            "fd {fd}: {context}: the program left keepalive off; it stays off (cap)"
        );
        return FdState::ProgramOwned;
    }
    for option in [
        KeepaliveOption::Idle,
        KeepaliveOption::Interval,
        KeepaliveOption::Count,
    ] {
        lower_to_kashims(fd, option, config, context);
    }
    FdState::Configured
}

pub fn lower_to_kashims(fd: c_int, option: KeepaliveOption, config: &Config, context: &str) {
    let _errno = ErrnoGuard::save();
    let (level, name) = option.level_and_name();
    let kashims = policy::kashim_value(option, config);
    if let Some(programs) = sockopt::get_int(fd, level, name) {
        if programs > kashims {
            debug!(
                config,
                "fd {fd}: {context}: program's {} {programs} lowered to {kashims} (cap)",
                option.name()
            );
            sockopt::set_one(fd, option, kashims, config, context);
        }
    }
}

#[cfg(test)]
mod tests;
