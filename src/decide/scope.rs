//! Scope rules (KASHIM_DIRECTION, KASHIM_ONLY, KASHIM_EXCEPT) and KASHIM_FORCE=cap: what happens
//! to a socket when its connection is made. Pure functions of their inputs, unit-tested;
//! `act::connection` carries them out.
//!
//! With a scope set, socket() only marks a TCP socket `Pending`; the decision waits for connect()
//! (the destination) or accept() (the peer). A matching connection then gets kashim's options
//! (4 calls, 5 with a user timeout), a non-matching one nothing, and an accepted socket that
//! inherited kashim's options from its listener but does not match gets keepalive turned off (1).
//! The rules are a fixed table in the Config: matching allocates nothing and takes no lock.

use crate::config::{Config, Peer, Side};
use crate::decide::policy::{KeepaliveOption, SetsockoptAction};
use crate::state::fd_table::FdState;
use libc::c_int;

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
    /// The program set only SO_KEEPALIVE: kashim's timers if it is on with the kernel's.
    TimersIfDefault,
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
        (FdState::ProgramOwned | FdState::ProgramSwitch, true) if config.force => Action::Configure,
        (FdState::ProgramOwned | FdState::ProgramSwitch, true) if config.force_cap => Action::Cap,
        (FdState::ProgramSwitch, true) => Action::TimersIfDefault,
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
        FdState::ProgramSwitch => FdState::ProgramSwitch,
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
        FdState::Unknown | FdState::Pending | FdState::ForeignListener | FdState::ProgramSwitch => {
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

/// Whether connect() got far enough to have read the address (and so made a connection or is
/// making one): success, or the connection going on in the background.
pub fn connection_under_way(rc: c_int, err: c_int) -> bool {
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

#[cfg(test)]
mod tests;
