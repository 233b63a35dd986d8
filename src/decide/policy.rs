//! Which sockets kashim touches and what it does at each call: plain functions of their inputs,
//! unit-tested without LD_PRELOAD. The hooks only carry out what these return.

use crate::config::keepalive::Judgement;
use crate::config::Config;
use crate::state::fd_table::FdState;
use libc::c_int;

/// Does `socket(domain, type, protocol)` create a TCP socket? The type's SOCK_NONBLOCK and
/// SOCK_CLOEXEC bits are masked off, and the type is compared whole: `type & SOCK_STREAM` would
/// also match SOCK_RAW (3) and SOCK_SEQPACKET (5).
pub fn is_tcp(domain: c_int, socket_type: c_int, protocol: c_int) -> bool {
    let base_type = socket_type & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC);
    matches!(domain, libc::AF_INET | libc::AF_INET6)
        && base_type == libc::SOCK_STREAM
        && (protocol == 0 || protocol == libc::IPPROTO_TCP)
}

/// The socket options kashim manages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeepaliveOption {
    KeepAlive,
    Idle,
    Interval,
    Count,
    UserTimeout,
}

impl KeepaliveOption {
    pub fn level_and_name(self) -> (c_int, c_int) {
        match self {
            KeepaliveOption::KeepAlive => (libc::SOL_SOCKET, libc::SO_KEEPALIVE),
            KeepaliveOption::Idle => (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE),
            KeepaliveOption::Interval => (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL),
            KeepaliveOption::Count => (libc::IPPROTO_TCP, libc::TCP_KEEPCNT),
            KeepaliveOption::UserTimeout => (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            KeepaliveOption::KeepAlive => "SO_KEEPALIVE",
            KeepaliveOption::Idle => "TCP_KEEPIDLE",
            KeepaliveOption::Interval => "TCP_KEEPINTVL",
            KeepaliveOption::Count => "TCP_KEEPCNT",
            KeepaliveOption::UserTimeout => "TCP_USER_TIMEOUT",
        }
    }
}

/// Which keepalive option a `setsockopt(level, name)` call sets, if any. Level and name are matched
/// together: SOL_SOCKET option 6 (SO_BROADCAST) is not TCP_KEEPCNT. SOL_TCP is IPPROTO_TCP.
pub fn keepalive_option(level: c_int, name: c_int) -> Option<KeepaliveOption> {
    match (level, name) {
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE) => Some(KeepaliveOption::KeepAlive),
        (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE) => Some(KeepaliveOption::Idle),
        (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL) => Some(KeepaliveOption::Interval),
        (libc::IPPROTO_TCP, libc::TCP_KEEPCNT) => Some(KeepaliveOption::Count),
        (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT) => Some(KeepaliveOption::UserTimeout),
        _ => None,
    }
}

/// The options kashim sets on a TCP socket, in order, with their values.
pub fn options_to_apply(config: &Config) -> ([(KeepaliveOption, c_int); 5], usize) {
    let mut options = [
        (KeepaliveOption::KeepAlive, 1),
        (KeepaliveOption::Idle, config.idle_s as c_int),
        (KeepaliveOption::Interval, config.interval_s as c_int),
        (KeepaliveOption::Count, config.count as c_int),
        (KeepaliveOption::UserTimeout, 0),
    ];
    let mut len = 4;
    if let Some(ms) = config.user_timeout_ms {
        options[4].1 = ms.min(i32::MAX as u32) as c_int;
        len = 5;
    }
    (options, len)
}

/// kashim's own value for `option`, the one it sets and, under KASHIM_FORCE, puts back.
pub fn kashim_value(option: KeepaliveOption, config: &Config) -> c_int {
    let (options, len) = options_to_apply(config);
    options[..len]
        .iter()
        .find(|(o, _)| *o == option)
        .map_or(0, |&(_, value)| value)
}

/// Does kashim set this option (so that FORCE protects it)?
pub fn kashim_sets(option: KeepaliveOption, config: &Config) -> bool {
    option != KeepaliveOption::UserTimeout || config.user_timeout_ms.is_some()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetsockoptAction {
    /// Not a keepalive option, or nothing to remember: the real call, nothing else.
    PassThrough,
    /// The program chose its own keepalive setting: the real call, and if it succeeds kashim
    /// leaves the socket alone from then on.
    PassThroughProgramOwns,
    /// The program turned keepalive on or off, on a socket that does not carry kashim's timers:
    /// the real call, then the socket waits for its connection (`FdState::ProgramSwitch`).
    PassThroughProgramSwitches,
    /// KASHIM_FORCE: the real call, so the kernel judges it (EFAULT, EINVAL, ENOTSOCK... stay
    /// real), then, if it succeeded, kashim's own value goes back on.
    RestoreKashimsValue,
    /// KASHIM_FORCE=cap: the real call, then, if the program's value is above kashim's, kashim's.
    CapToKashimsValue,
}

/// What to do with the program's own `setsockopt` of a keepalive option. Other options never get
/// here: `setsockopt::decide` passes them through as soon as `keepalive_option` says `None`.
pub fn on_setsockopt(state: FdState, option: KeepaliveOption, config: &Config) -> SetsockoptAction {
    if config.force_cap && !config.force {
        return crate::decide::scope::on_setsockopt_cap(state, option);
    }
    if config.force {
        // Only a socket that already carries kashim's values is protected; an unconfigured one
        // is configured (overriding the program) when it reaches connect() or accept().
        return if state == FdState::Configured && kashim_sets(option, config) {
            SetsockoptAction::RestoreKashimsValue
        } else {
            SetsockoptAction::PassThrough
        };
    }
    match (state, option) {
        // Keepalive options on a UDP or Unix socket: the program's business, and kashim already
        // knows never to touch it.
        (FdState::NotTcp | FdState::ProgramOwned | FdState::OutOfScope, _) => {
            SetsockoptAction::PassThrough
        }
        // Only the switch, on a socket whose timers are the kernel's: the program asked for
        // keepalive, or none, but chose no timers (sshd, Java's setKeepAlive).
        (
            FdState::Unknown | FdState::ForeignListener | FdState::Pending,
            KeepaliveOption::KeepAlive,
        ) => SetsockoptAction::PassThroughProgramSwitches,
        (FdState::ProgramSwitch, KeepaliveOption::KeepAlive) => SetsockoptAction::PassThrough,
        (
            FdState::Unknown
            | FdState::Configured
            | FdState::ForeignListener
            | FdState::Pending
            | FdState::ProgramSwitch,
            _,
        ) => SetsockoptAction::PassThroughProgramOwns,
    }
}

/// At `connect()` without scope rules: what kashim does with a socket in `state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectAction {
    /// Known: nothing to do.
    Nothing,
    /// Never seen: ask the kernel what it is (`classify_foreign`).
    Inspect,
    /// The program set only the switch: kashim's timers if keepalive is on with the kernel's.
    TimersIfDefault,
}

pub fn on_connect(state: FdState) -> ConnectAction {
    match state {
        FdState::Unknown => ConnectAction::Inspect,
        FdState::ProgramSwitch => ConnectAction::TimersIfDefault,
        _ => ConnectAction::Nothing,
    }
}

/// What a socket kashim did not create turns into once the kernel has said what it is.
/// `keepalive` is what its current settings amount to (`kashim_config::keepalive::judge`): timers
/// someone chose (the program, or the parent that passed the socket down) stand, unless FORCE;
/// keepalive off, or on with the kernel's default timers, is no choice, and gets kashim's.
pub fn classify_foreign(
    domain: c_int,
    socket_type: c_int,
    protocol: c_int,
    keepalive: Judgement,
    config: &Config,
) -> ForeignVerdict {
    if !is_tcp(domain, socket_type, protocol) {
        ForeignVerdict::NotTcp
    } else if keepalive == Judgement::ChosenTimers && !config.force {
        ForeignVerdict::ProgramOwned
    } else {
        ForeignVerdict::Configure
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForeignVerdict {
    NotTcp,
    ProgramOwned,
    Configure,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcceptAction {
    /// The accepted socket inherited the listener's options in the kernel: just remember that.
    Inherit(FdState),
    /// A TCP listener kashim did not configure: configure the accepted socket.
    ConfigureAccepted,
    /// kashim has never seen this listener: ask the kernel what it is first.
    InspectListener,
    /// The program turned keepalive on the listener on itself, without timers: the accepted
    /// socket gets kashim's timers if it has the kernel's.
    TimersIfDefault,
}

pub fn on_accept(listener: FdState) -> AcceptAction {
    match listener {
        FdState::Unknown => AcceptAction::InspectListener,
        FdState::ForeignListener => AcceptAction::ConfigureAccepted,
        FdState::Configured => AcceptAction::Inherit(FdState::Configured),
        FdState::ProgramOwned => AcceptAction::Inherit(FdState::ProgramOwned),
        // The listener's switch without timers is copied to the accepted socket, timers and all.
        FdState::ProgramSwitch => AcceptAction::TimersIfDefault,
        FdState::NotTcp => AcceptAction::Inherit(FdState::NotTcp),
        // Only seen under scope rules, which decide::scope decides; kept sound here anyway.
        FdState::Pending => AcceptAction::ConfigureAccepted,
        FdState::OutOfScope => AcceptAction::Inherit(FdState::OutOfScope),
    }
}

/// The state a listener gets once inspected.
pub fn listener_state(verdict: ForeignVerdict) -> FdState {
    match verdict {
        ForeignVerdict::NotTcp => FdState::NotTcp,
        ForeignVerdict::ProgramOwned => FdState::ProgramOwned,
        ForeignVerdict::Configure => FdState::ForeignListener,
    }
}

#[cfg(test)]
mod tests;
