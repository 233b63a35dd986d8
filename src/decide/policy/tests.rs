use super::*;
use crate::config::keepalive::Judgement;
use crate::config::Config;

fn forced() -> Config {
    Config {
        force: true,
        ..Config::default()
    }
}

#[test]
fn tcp_is_inet_or_inet6_stream_with_tcp_or_default_protocol() {
    use libc::*;
    for domain in [AF_INET, AF_INET6] {
        for flags in [0, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_CLOEXEC | SOCK_NONBLOCK] {
            assert!(is_tcp(domain, SOCK_STREAM | flags, 0));
            assert!(is_tcp(domain, SOCK_STREAM | flags, IPPROTO_TCP));
        }
        // SOCK_RAW (3) and SOCK_SEQPACKET (5) share the SOCK_STREAM bit (1).
        for ty in [SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET, SOCK_RDM] {
            assert!(!is_tcp(domain, ty, 0), "type {ty}");
            assert!(!is_tcp(domain, ty | SOCK_CLOEXEC, IPPROTO_TCP), "type {ty}");
        }
        assert!(!is_tcp(domain, SOCK_STREAM, IPPROTO_UDP));
        assert!(!is_tcp(domain, SOCK_STREAM, 262)); // IPPROTO_MPTCP
        assert!(!is_tcp(domain, SOCK_STREAM, IPPROTO_SCTP));
    }
    for domain in [AF_UNIX, AF_NETLINK, AF_PACKET, AF_UNSPEC, AF_INET6 + 100] {
        assert!(!is_tcp(domain, SOCK_STREAM, 0), "domain {domain}");
    }
}

#[test]
fn level_and_name_are_matched_together() {
    use libc::*;
    assert_eq!(
        keepalive_option(SOL_SOCKET, SO_KEEPALIVE),
        Some(KeepaliveOption::KeepAlive)
    );
    assert_eq!(
        keepalive_option(SOL_TCP, TCP_KEEPIDLE),
        Some(KeepaliveOption::Idle)
    );
    assert_eq!(
        keepalive_option(IPPROTO_TCP, TCP_KEEPINTVL),
        Some(KeepaliveOption::Interval)
    );
    assert_eq!(
        keepalive_option(IPPROTO_TCP, TCP_KEEPCNT),
        Some(KeepaliveOption::Count)
    );
    assert_eq!(
        keepalive_option(IPPROTO_TCP, TCP_USER_TIMEOUT),
        Some(KeepaliveOption::UserTimeout)
    );
    // SOL_SOCKET option 6 is SO_BROADCAST, 4 is SO_REUSEADDR; TCP option 9 is TCP_DEFER_ACCEPT.
    assert_eq!(keepalive_option(SOL_SOCKET, TCP_KEEPCNT), None);
    assert_eq!(keepalive_option(SOL_SOCKET, TCP_KEEPIDLE), None);
    assert_eq!(keepalive_option(IPPROTO_TCP, SO_KEEPALIVE), None);
    assert_eq!(keepalive_option(IPPROTO_IP, TCP_KEEPIDLE), None);
    assert_eq!(keepalive_option(IPPROTO_TCP, TCP_NODELAY), None);
    for option in [
        KeepaliveOption::KeepAlive,
        KeepaliveOption::Idle,
        KeepaliveOption::Interval,
        KeepaliveOption::Count,
        KeepaliveOption::UserTimeout,
    ] {
        let (level, name) = option.level_and_name();
        assert_eq!(keepalive_option(level, name), Some(option));
    }
}

#[test]
fn options_follow_the_config() {
    let (options, len) = options_to_apply(&Config::default());
    assert_eq!(
        &options[..len],
        &[
            (KeepaliveOption::KeepAlive, 1),
            (KeepaliveOption::Idle, 60),
            (KeepaliveOption::Interval, 10),
            (KeepaliveOption::Count, 6),
        ]
    );
    let config = Config {
        idle_s: 2,
        interval_s: 3,
        count: 4,
        user_timeout_ms: Some(1500),
        ..Config::default()
    };
    let (options, len) = options_to_apply(&config);
    assert_eq!(len, 5);
    assert_eq!(options[4], (KeepaliveOption::UserTimeout, 1500));
    assert_eq!(
        &options[1..4],
        &[
            (KeepaliveOption::Idle, 2),
            (KeepaliveOption::Interval, 3),
            (KeepaliveOption::Count, 4)
        ]
    );
}

#[test]
fn program_choices_win_without_force() {
    let config = Config::default();
    for state in [
        FdState::Unknown,
        FdState::Configured,
        FdState::ForeignListener,
    ] {
        assert_eq!(
            on_setsockopt(state, KeepaliveOption::Idle, &config),
            SetsockoptAction::PassThroughProgramOwns
        );
        assert_eq!(
            on_setsockopt(state, KeepaliveOption::UserTimeout, &config),
            SetsockoptAction::PassThroughProgramOwns
        );
    }
    for state in [FdState::NotTcp, FdState::ProgramOwned] {
        assert_eq!(
            on_setsockopt(state, KeepaliveOption::KeepAlive, &config),
            SetsockoptAction::PassThrough
        );
    }
    // Other options are passed through before any decision: keepalive_option is the gate.
    assert_eq!(keepalive_option(libc::SOL_SOCKET, libc::SO_REUSEADDR), None);
}

#[test]
fn force_keeps_kashims_values_on_configured_sockets() {
    let config = forced();
    assert_eq!(
        on_setsockopt(FdState::Configured, KeepaliveOption::KeepAlive, &config),
        SetsockoptAction::RestoreKashimsValue
    );
    assert_eq!(
        on_setsockopt(FdState::Configured, KeepaliveOption::Count, &config),
        SetsockoptAction::RestoreKashimsValue
    );
    // kashim sets no user timeout here, so the program's stands.
    assert_eq!(
        on_setsockopt(FdState::Configured, KeepaliveOption::UserTimeout, &config),
        SetsockoptAction::PassThrough
    );
    let with_ut = Config {
        user_timeout_ms: Some(5000),
        ..forced()
    };
    assert_eq!(
        on_setsockopt(FdState::Configured, KeepaliveOption::UserTimeout, &with_ut),
        SetsockoptAction::RestoreKashimsValue
    );
    // Not yet configured: passes, and connect()/accept() will put kashim's values over it.
    assert_eq!(
        on_setsockopt(FdState::Unknown, KeepaliveOption::Idle, &config),
        SetsockoptAction::PassThrough
    );
    assert_eq!(
        on_setsockopt(FdState::NotTcp, KeepaliveOption::KeepAlive, &config),
        SetsockoptAction::PassThrough
    );
    // Other options are passed through before any decision: keepalive_option is the gate.
    assert_eq!(keepalive_option(libc::SOL_SOCKET, libc::SO_REUSEADDR), None);
}

#[test]
fn connect_inspects_only_unknown_sockets() {
    assert_eq!(on_connect(FdState::Unknown), ConnectAction::Inspect);
    for state in [
        FdState::Configured,
        FdState::ProgramOwned,
        FdState::NotTcp,
        FdState::ForeignListener,
    ] {
        assert_eq!(on_connect(state), ConnectAction::Nothing, "{state:?}");
    }
}

/// sshd's TCPKeepAlive, Java's setKeepAlive(true): the switch alone, on a socket without kashim's
/// timers, is not a choice of timers. It is settled at the connection; a timer set afterwards (or
/// on a socket kashim configured) makes the socket the program's.
#[test]
fn the_switch_alone_leaves_the_timers_to_the_connection() {
    let config = Config::default();
    for state in [FdState::Unknown, FdState::Pending, FdState::ForeignListener] {
        assert_eq!(
            on_setsockopt(state, KeepaliveOption::KeepAlive, &config),
            SetsockoptAction::PassThroughProgramSwitches,
            "{state:?}"
        );
    }
    assert_eq!(
        on_setsockopt(FdState::Configured, KeepaliveOption::KeepAlive, &config),
        SetsockoptAction::PassThroughProgramOwns
    );
    assert_eq!(
        on_setsockopt(FdState::ProgramSwitch, KeepaliveOption::KeepAlive, &config),
        SetsockoptAction::PassThrough
    );
    assert_eq!(
        on_setsockopt(FdState::ProgramSwitch, KeepaliveOption::Idle, &config),
        SetsockoptAction::PassThroughProgramOwns
    );
    assert_eq!(
        on_connect(FdState::ProgramSwitch),
        ConnectAction::TimersIfDefault
    );
    assert_eq!(
        on_accept(FdState::ProgramSwitch),
        AcceptAction::TimersIfDefault
    );
}

#[test]
fn foreign_sockets() {
    use libc::*;
    let config = Config::default();
    assert_eq!(
        classify_foreign(AF_INET, SOCK_STREAM, IPPROTO_TCP, Judgement::Off, &config),
        ForeignVerdict::Configure
    );
    assert_eq!(
        classify_foreign(
            AF_INET6,
            SOCK_STREAM,
            IPPROTO_TCP,
            Judgement::ChosenTimers,
            &config
        ),
        ForeignVerdict::ProgramOwned
    );
    // Keepalive on with the namespace's default timers (sshd, Java's setKeepAlive): nobody chose
    // timers, and the first probe would come after two hours, so kashim sets its own.
    assert_eq!(
        classify_foreign(
            AF_INET,
            SOCK_STREAM,
            IPPROTO_TCP,
            Judgement::DefaultTimers,
            &config
        ),
        ForeignVerdict::Configure
    );
    assert_eq!(
        classify_foreign(
            AF_INET6,
            SOCK_STREAM,
            IPPROTO_TCP,
            Judgement::ChosenTimers,
            &forced()
        ),
        ForeignVerdict::Configure
    );
    assert_eq!(
        classify_foreign(AF_INET, SOCK_DGRAM, IPPROTO_UDP, Judgement::Off, &config),
        ForeignVerdict::NotTcp
    );
    assert_eq!(
        classify_foreign(AF_INET, SOCK_RAW, IPPROTO_TCP, Judgement::Off, &config),
        ForeignVerdict::NotTcp
    );
    assert_eq!(
        classify_foreign(AF_UNIX, SOCK_STREAM, 0, Judgement::Off, &config),
        ForeignVerdict::NotTcp
    );
}

#[test]
fn accept_inherits_from_known_listeners_without_syscalls() {
    assert_eq!(
        on_accept(FdState::Configured),
        AcceptAction::Inherit(FdState::Configured)
    );
    assert_eq!(
        on_accept(FdState::ProgramOwned),
        AcceptAction::Inherit(FdState::ProgramOwned)
    );
    assert_eq!(
        on_accept(FdState::NotTcp),
        AcceptAction::Inherit(FdState::NotTcp)
    );
    assert_eq!(
        on_accept(FdState::ForeignListener),
        AcceptAction::ConfigureAccepted
    );
    assert_eq!(on_accept(FdState::Unknown), AcceptAction::InspectListener);
    assert_eq!(
        listener_state(ForeignVerdict::Configure),
        FdState::ForeignListener
    );
    assert_eq!(
        listener_state(ForeignVerdict::ProgramOwned),
        FdState::ProgramOwned
    );
    assert_eq!(listener_state(ForeignVerdict::NotTcp), FdState::NotTcp);
}

#[test]
fn kashims_values_to_put_back_under_force() {
    use KeepaliveOption::*;
    let config = Config {
        idle_s: 45,
        user_timeout_ms: Some(5000),
        ..forced()
    };
    assert_eq!(kashim_value(KeepAlive, &config), 1);
    assert_eq!(kashim_value(Idle, &config), 45);
    assert_eq!(kashim_value(Interval, &config), 10);
    assert_eq!(kashim_value(Count, &config), 6);
    assert_eq!(kashim_value(UserTimeout, &config), 5000);
}
