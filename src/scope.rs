//! Scope rules (KASHIM_DIRECTION, KASHIM_ONLY, KASHIM_EXCEPT) and KASHIM_FORCE=cap in the hooks.
//!
//! With a scope set, socket() only marks a TCP socket `Pending`; the decision waits for connect()
//! (the destination) or accept() (the peer). A matching connection then gets kashim's options
//! (4 calls, 5 with a user timeout), a non-matching one nothing, and an accepted socket that
//! inherited kashim's options from its listener but does not match gets keepalive turned off (1).
//! The rules are a fixed table in the Config: matching allocates nothing and takes no lock.
//!
//! The decisions are the pure functions at the top (unit-tested); the rest carries them out.

// The hooks that call some of these are compiled out of `cargo test`.
#![cfg_attr(test, allow(dead_code))]

use crate::config::{Config, Peer, Side};
use crate::errno::{self, ErrnoGuard};
use crate::fd_table::{self, FdState};
use crate::init::{active_config, guarded};
use crate::policy::{self, ForeignVerdict, KeepaliveOption, SetsockoptAction};
use crate::{debug, sockopt};
use libc::{c_int, socklen_t};

/// What kashim does with a socket when its connection is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing; the socket keeps `state` (recorded for an accepted socket).
    Keep,
    /// No call; remember this.
    Mark(FdState),
    /// kashim's options (4 calls, 5 with a user timeout).
    Configure,
    /// SO_KEEPALIVE off (1 call): it carries kashim's options, inherited, but is out of scope.
    TurnOff,
    /// FORCE=cap: the program's keepalive values above kashim's are lowered to kashim's.
    Cap,
    /// A socket kashim did not create: ask the kernel what it is, then configure or cap.
    Adopt,
}

/// Does kashim decide at connect()/accept() (scope rules or cap)? Otherwise the hooks work as they
/// always did, at no cost beyond this check.
pub fn decides(config: &Config) -> bool {
    config.scope.is_set() || config.force_cap
}

/// At a connection: what to do with a socket in `state`, covered by the scope or not.
pub fn on_connection(state: FdState, in_scope: bool, config: &Config) -> Action {
    match (state, in_scope) {
        (FdState::Pending, true) => Action::Configure,
        (FdState::Pending | FdState::Unknown, false) => Action::Mark(FdState::OutOfScope),
        (FdState::Unknown, true) => Action::Adopt,
        // The program chose its own keepalive before the connection: FORCE overrides it, cap
        // lowers it, otherwise it stands (its choices win, within the scope as everywhere).
        (FdState::ProgramOwned, true) if config.force => Action::Configure,
        (FdState::ProgramOwned, true) if config.force_cap => Action::Cap,
        // kashim's options, inherited from a listener kashim configured, on a connection the
        // rules leave out: off, so the rules really hold.
        (FdState::Configured, false) => Action::TurnOff,
        _ => Action::Keep,
    }
}

/// What an accepted socket starts as, from its listener's state (the kernel copies the listener's
/// keepalive options to it: tcp_create_openreq_child).
pub fn accepted_state(listener: FdState) -> FdState {
    match listener {
        // A TCP listener without kashim's options: the accepted socket has none either.
        FdState::Pending | FdState::ForeignListener | FdState::Unknown => FdState::Pending,
        FdState::Configured => FdState::Configured,
        FdState::ProgramOwned => FdState::ProgramOwned,
        FdState::NotTcp => FdState::NotTcp,
        FdState::OutOfScope => FdState::OutOfScope,
    }
}

/// The decision, asking for the peer address only when the answer depends on it.
pub fn decide(
    state: FdState,
    side: Side,
    config: &Config,
    peer: impl FnOnce() -> Option<Peer>,
) -> Action {
    let (if_in, if_out) = (
        on_connection(state, true, config),
        on_connection(state, false, config),
    );
    if if_in == if_out {
        return if_in;
    }
    let peer = if config.scope.has_address_rules() {
        peer()
    } else {
        None
    };
    if config.scope.matches(side, peer) {
        if_in
    } else {
        if_out
    }
}

/// FORCE=cap, the program's own setsockopt: on a socket with kashim's values, a longer idle,
/// interval or count is lowered afterwards; anything else is the program's (keepalive off stays
/// off). On a socket not configured yet the program's values are capped at the connection.
pub fn on_setsockopt_cap(state: FdState, option: KeepaliveOption) -> SetsockoptAction {
    match state {
        FdState::Configured => match option {
            KeepaliveOption::Idle | KeepaliveOption::Interval | KeepaliveOption::Count => {
                SetsockoptAction::CapToKashimsValue
            }
            KeepaliveOption::KeepAlive | KeepaliveOption::UserTimeout => {
                SetsockoptAction::PassThrough
            }
        },
        FdState::Unknown | FdState::Pending | FdState::ForeignListener => {
            SetsockoptAction::PassThroughProgramOwns
        }
        FdState::NotTcp | FdState::ProgramOwned | FdState::OutOfScope => {
            SetsockoptAction::PassThrough
        }
    }
}

/// The peer in a sockaddr's bytes (as many as the caller gave the kernel). IPv4-mapped IPv6
/// addresses become IPv4 peers.
pub fn peer_from_bytes(bytes: &[u8]) -> Option<Peer> {
    let family = c_int::from(u16::from_ne_bytes([*bytes.first()?, *bytes.get(1)?]));
    let port = u16::from_be_bytes([*bytes.get(2)?, *bytes.get(3)?]);
    match family {
        // sockaddr_in: family, port, 4 address bytes (the kernel wants at least 16 in all).
        libc::AF_INET if bytes.len() >= 16 => Some(Peer::v4(bytes[4..8].try_into().ok()?, port)),
        // sockaddr_in6: family, port, flowinfo, 16 address bytes (24 bytes: RFC 2133's size,
        // the least the kernel accepts).
        libc::AF_INET6 if bytes.len() >= 24 => Some(Peer::v6(bytes[8..24].try_into().ok()?, port)),
        _ => None,
    }
}

const STORAGE_LEN: usize = std::mem::size_of::<libc::sockaddr_in6>();

/// Whether connect() got far enough to have read the address (and so made a connection or is
/// making one): success, or the connection going on in the background.
fn connection_under_way(rc: c_int, err: c_int) -> bool {
    rc == 0 || err == libc::EINPROGRESS || err == libc::EINTR
}

/// A connection inherited already connected (inetd, socket activation with Accept=yes): it was
/// accepted by whoever passed it, so it is matched as inbound, on its peer.
pub fn inherited_in_scope(config: &Config, sockaddr: &[u8]) -> bool {
    !config.scope.is_set()
        || config
            .scope
            .matches(Side::Inbound, peer_from_bytes(sockaddr))
}

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

/// accept()/accept4() with a scope or cap (called from accept.rs inside its guard).
pub fn after_accept(listener: c_int, fd: c_int, config: &Config) {
    let mut listener_state = fd_table::get(listener);
    if listener_state == FdState::Unknown {
        // First accept from a listener kashim has never seen: ask the kernel once, remember.
        let Some(verdict) = sockopt::inspect(listener, config) else {
            fd_table::set(fd, FdState::Unknown);
            return;
        };
        listener_state = policy::listener_state(verdict);
        fd_table::set(listener, listener_state);
    }
    let state = accepted_state(listener_state);
    let action = decide(state, Side::Inbound, config, || peer_of(fd));
    carry_out(fd, state, action, config, "accept");
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

fn lower_to_kashims(fd: c_int, option: KeepaliveOption, config: &Config, context: &str) {
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

/// FORCE=cap, after the program's own successful setsockopt on a configured socket.
pub fn cap_after_program(fd: c_int, level: c_int, name: c_int) {
    guarded((), || {
        if let (Some(config), Some(option)) =
            (active_config(), policy::keepalive_option(level, name))
        {
            lower_to_kashims(fd, option, config, "cap");
        }
    })
}

#[cfg(test)]
mod tests;
