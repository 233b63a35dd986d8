use super::*;
use crate::config::Config;
use crate::test_config as config;

fn sockaddr_in(ip: [u8; 4], port: u16) -> Vec<u8> {
    let mut b = vec![0u8; 16];
    b[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
    b[2..4].copy_from_slice(&port.to_be_bytes());
    b[4..8].copy_from_slice(&ip);
    b
}

fn sockaddr_in6(ip: std::net::Ipv6Addr, port: u16) -> Vec<u8> {
    let mut b = vec![0u8; 28];
    b[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
    b[2..4].copy_from_slice(&port.to_be_bytes());
    b[8..24].copy_from_slice(&ip.octets());
    b
}

#[test]
fn peers_from_sockaddrs() {
    assert_eq!(
        peer_from_bytes(&sockaddr_in([10, 0, 0, 1], 5432)),
        Some(Peer::v4([10, 0, 0, 1], 5432))
    );
    let mapped = sockaddr_in6("::ffff:10.0.0.1".parse().unwrap(), 80);
    assert_eq!(peer_from_bytes(&mapped), Some(Peer::v4([10, 0, 0, 1], 80)));
    let v6 = sockaddr_in6("2001:db8::1".parse().unwrap(), 443);
    assert!(matches!(peer_from_bytes(&v6), Some(Peer::V6(_, 443))));
    assert!(peer_from_bytes(&v6[..24]).is_some(), "RFC 2133 length");
    assert_eq!(peer_from_bytes(&v6[..23]), None);
    assert_eq!(peer_from_bytes(&sockaddr_in([1, 2, 3, 4], 1)[..15]), None);
    assert_eq!(peer_from_bytes(&[]), None);
    assert_eq!(peer_from_bytes(&[1, 0, 0, 0]), None, "AF_UNIX");
}

#[test]
fn pending_sockets_are_configured_only_in_scope() {
    let c = config(&[("KASHIM_ONLY", ":5432")]);
    assert_eq!(on_connection(FdState::Pending, true, &c), Action::Configure);
    assert_eq!(
        on_connection(FdState::Pending, false, &c),
        Action::Mark(FdState::OutOfScope)
    );
    assert_eq!(on_connection(FdState::Unknown, true, &c), Action::Adopt);
    assert_eq!(on_connection(FdState::NotTcp, true, &c), Action::Keep);
    assert_eq!(on_connection(FdState::OutOfScope, true, &c), Action::Keep);
    // Inherited kashim options on a connection the rules leave out: turned off.
    assert_eq!(
        on_connection(FdState::Configured, false, &c),
        Action::TurnOff
    );
    assert_eq!(on_connection(FdState::Configured, true, &c), Action::Keep);
    // The program's choice stands, in scope or not, unless FORCE (override) or cap (lower).
    assert_eq!(on_connection(FdState::ProgramOwned, true, &c), Action::Keep);
    assert_eq!(
        on_connection(FdState::ProgramOwned, false, &c),
        Action::Keep
    );
    let force = config(&[("KASHIM_ONLY", ":5432"), ("KASHIM_FORCE", "1")]);
    assert_eq!(
        on_connection(FdState::ProgramOwned, true, &force),
        Action::Configure
    );
    assert_eq!(
        on_connection(FdState::ProgramOwned, false, &force),
        Action::Keep
    );
    let cap = config(&[("KASHIM_FORCE", "cap")]);
    assert_eq!(
        on_connection(FdState::ProgramOwned, true, &cap),
        Action::Cap
    );
}

#[test]
fn accepted_sockets_start_from_their_listener() {
    assert_eq!(accepted_state(FdState::Pending), FdState::Pending);
    assert_eq!(accepted_state(FdState::ForeignListener), FdState::Pending);
    assert_eq!(accepted_state(FdState::Configured), FdState::Configured);
    assert_eq!(accepted_state(FdState::ProgramOwned), FdState::ProgramOwned);
    assert_eq!(accepted_state(FdState::NotTcp), FdState::NotTcp);
}

#[test]
fn the_peer_is_asked_only_when_it_matters() {
    let c = config(&[("KASHIM_ONLY", "10.0.0.0/8")]);
    let never = || -> Option<Peer> { panic!("peer asked") };
    assert_eq!(
        decide(FdState::NotTcp, Side::Inbound, &c, never),
        Action::Keep
    );
    assert_eq!(
        decide(FdState::ProgramOwned, Side::Inbound, &c, never),
        Action::Keep
    );
    let inside = || Some(Peer::v4([10, 1, 1, 1], 80));
    let outside = || Some(Peer::v4([11, 1, 1, 1], 80));
    assert_eq!(
        decide(FdState::Pending, Side::Inbound, &c, inside),
        Action::Configure
    );
    assert_eq!(
        decide(FdState::Pending, Side::Outbound, &c, outside),
        Action::Mark(FdState::OutOfScope)
    );
    assert_eq!(
        decide(FdState::Configured, Side::Inbound, &c, outside),
        Action::TurnOff
    );
    // Direction alone: no address needed.
    let d = config(&[("KASHIM_DIRECTION", "inbound")]);
    assert_eq!(
        decide(FdState::Pending, Side::Inbound, &d, never),
        Action::Configure
    );
    assert_eq!(
        decide(FdState::Pending, Side::Outbound, &d, never),
        Action::Mark(FdState::OutOfScope)
    );
}

#[test]
fn cap_on_the_programs_setsockopt() {
    use KeepaliveOption::*;
    for option in [Idle, Interval, Count] {
        assert_eq!(
            on_setsockopt_cap(FdState::Configured, option),
            SetsockoptAction::CapToKashimsValue
        );
    }
    assert_eq!(
        on_setsockopt_cap(FdState::Configured, KeepAlive),
        SetsockoptAction::PassThrough
    );
    assert_eq!(
        on_setsockopt_cap(FdState::Configured, UserTimeout),
        SetsockoptAction::PassThrough
    );
    assert_eq!(
        on_setsockopt_cap(FdState::Pending, Idle),
        SetsockoptAction::PassThroughProgramOwns
    );
    assert_eq!(
        on_setsockopt_cap(FdState::OutOfScope, Idle),
        SetsockoptAction::PassThrough
    );
    let c = config(&[("KASHIM_FORCE", "cap")]);
    assert_eq!(
        crate::decide::policy::on_setsockopt(FdState::Configured, Idle, &c),
        SetsockoptAction::CapToKashimsValue
    );
}

#[test]
fn decided_only_with_scope_or_cap() {
    assert!(!decides(&Config::default()));
    assert!(!decides(&config(&[
        ("KASHIM_FORCE", "1"),
        ("KASHIM_CHILDREN", "0")
    ])));
    assert!(decides(&config(&[("KASHIM_FORCE", "cap")])));
    assert!(decides(&config(&[("KASHIM_EXCEPT", ":22")])));
    assert!(decides(&config(&[("KASHIM_DIRECTION", "outbound")])));
}

/// A real socket pair on loopback: the connect()/accept() decisions carried out, read back.
#[test]
fn inherited_connections_are_matched_as_inbound() {
    let peer = sockaddr_in([10, 0, 0, 1], 4000);
    assert!(inherited_in_scope(&Config::default(), &peer));
    assert!(inherited_in_scope(
        &config(&[("KASHIM_ONLY", "10.0.0.0/8")]),
        &peer
    ));
    assert!(!inherited_in_scope(
        &config(&[("KASHIM_ONLY", "11.0.0.0/8")]),
        &peer
    ));
    assert!(!inherited_in_scope(
        &config(&[("KASHIM_DIRECTION", "outbound")]),
        &peer
    ));
    assert!(inherited_in_scope(
        &config(&[("KASHIM_DIRECTION", "inbound")]),
        &peer
    ));
}

#[test]
fn the_switch_alone_gets_kashims_timers_in_scope_only() {
    let c = config(&[("KASHIM_ONLY", "127.0.0.1")]);
    assert_eq!(
        on_connection(FdState::ProgramSwitch, true, &c),
        Action::TimersIfDefault
    );
    assert_eq!(
        on_connection(FdState::ProgramSwitch, false, &c),
        Action::Keep
    );
    assert_eq!(
        accepted_state(FdState::ProgramSwitch),
        FdState::ProgramSwitch
    );
    let cap = config(&[("KASHIM_FORCE", "cap")]);
    assert_eq!(
        on_connection(FdState::ProgramSwitch, true, &cap),
        Action::Cap
    );
}
