use super::*;
use crate::decide::policy::KeepaliveOption;
use crate::test_config as config;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

fn get(fd: c_int, level: c_int, name: c_int) -> c_int {
    sockopt::get_int(fd, level, name).unwrap_or(-1)
}

/// What the program (or whoever passed the socket) did before kashim saw it: keepalive on, with
/// its own idle time.
fn program_chooses_keepalive(fd: c_int, idle: c_int) {
    assert!(sockopt::set_int(fd, KeepaliveOption::KeepAlive, 1));
    assert!(sockopt::set_int(fd, KeepaliveOption::Idle, idle));
}

fn keepalive(fd: c_int) -> [c_int; 4] {
    [
        get(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE),
        get(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE),
        get(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL),
        get(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT),
    ]
}

fn connection() -> (TcpListener, TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (listener, client, server)
}

#[test]
fn a_connected_tcp_socket_is_configured() {
    let (_l, client, server) = connection();
    let config = Config::default();
    assert_eq!(keepalive(server.as_raw_fd())[0], 0);
    let peer = adopt_connected(server.as_raw_fd(), &config, "test", None);
    assert!(peer.is_some());
    assert_eq!(keepalive(server.as_raw_fd()), [1, 60, 10, 6]);
    assert_eq!(fd_table::get(server.as_raw_fd()), FdState::Configured);
    // The same connection on another number (inetd's fd 1): recognised, not "someone's choice".
    let again = server.try_clone().unwrap();
    assert!(adopt_connected(again.as_raw_fd(), &config, "test", peer).is_some());
    assert_eq!(fd_table::get(again.as_raw_fd()), FdState::Configured);
    drop(client);
}

#[test]
fn keepalive_chosen_by_the_parent_stays_unless_force() {
    let (_l, _client, server) = connection();
    let fd = server.as_raw_fd();
    program_chooses_keepalive(fd, 300);
    assert!(adopt_connected(fd, &Config::default(), "test", None).is_none());
    assert_eq!(keepalive(fd)[..2], [1, 300]);
    assert_eq!(fd_table::get(fd), FdState::ProgramOwned);
    let force = Config {
        force: true,
        ..Config::default()
    };
    adopt_connected(fd, &force, "test", None);
    assert_eq!(keepalive(fd), [1, 60, 10, 6]);
}

#[test]
fn keepalive_on_with_the_kernels_default_timers_gets_kashims() {
    // sshd's TCPKeepAlive, a socket unit's KeepAlive=yes: on, but the first probe after two hours.
    let (_l, _client, server) = connection();
    let fd = server.as_raw_fd();
    assert!(sockopt::set_int(fd, KeepaliveOption::KeepAlive, 1));
    assert!(adopt_connected(fd, &Config::default(), "test", None).is_some());
    assert_eq!(keepalive(fd), [1, 60, 10, 6]);
    assert_eq!(fd_table::get(fd), FdState::Configured);
}

#[test]
fn listeners_udp_unix_and_pipes_are_left_alone() {
    let config = Config::default();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // The table is global and close() is not hooked in unit tests: another test may have left an
    // entry on this number, so start from the state a fresh process has.
    fd_table::set(listener.as_raw_fd(), FdState::Unknown);
    assert!(adopt_connected(listener.as_raw_fd(), &config, "test", None).is_none());
    assert_eq!(keepalive(listener.as_raw_fd())[0], 0);
    assert_eq!(fd_table::get(listener.as_raw_fd()), FdState::Unknown);

    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.connect(listener.local_addr().unwrap()).unwrap();
    assert!(adopt_connected(udp.as_raw_fd(), &config, "test", None).is_none());
    assert_eq!(
        get(udp.as_raw_fd(), libc::SOL_SOCKET, libc::SO_KEEPALIVE),
        0
    );
    assert_eq!(fd_table::get(udp.as_raw_fd()), FdState::NotTcp);

    let (unix, _other) = UnixStream::pair().unwrap();
    assert!(adopt_connected(unix.as_raw_fd(), &config, "test", None).is_none());
    assert_eq!(
        get(unix.as_raw_fd(), libc::SOL_SOCKET, libc::SO_KEEPALIVE),
        0
    );

    let mut pipe = [0; 2];
    // SAFETY: a two-int array.
    unsafe { libc::pipe(pipe.as_mut_ptr()) };
    errno::set(1234);
    assert!(adopt_connected(pipe[0], &config, "test", None).is_none());
    assert_eq!(errno::get(), 1234, "errno restored");
    // SAFETY: our own pipe.
    unsafe {
        libc::close(pipe[0]);
        libc::close(pipe[1]);
    }
}

#[test]
fn scope_rules_apply_inherited_connections_count_as_inbound() {
    let (_l, _client, server) = connection(); // peer 127.0.0.1
    let fd = server.as_raw_fd();
    adopt_connected(fd, &config(&[("KASHIM_ONLY", "10.0.0.0/8")]), "test", None);
    assert_eq!(keepalive(fd)[0], 0, "out of scope: untouched");
    assert_eq!(fd_table::get(fd), FdState::OutOfScope);
    adopt_connected(
        fd,
        &config(&[("KASHIM_DIRECTION", "outbound")]),
        "test",
        None,
    );
    assert_eq!(keepalive(fd)[0], 0, "inbound, rules say outbound only");
    adopt_connected(
        fd,
        &config(&[
            ("KASHIM_ONLY", "127.0.0.1"),
            ("KASHIM_DIRECTION", "inbound"),
        ]),
        "test",
        None,
    );
    assert_eq!(keepalive(fd), [1, 60, 10, 6]);
    assert_eq!(fd_table::get(fd), FdState::Configured);
}

#[test]
fn force_cap_lowers_the_passers_longer_timers() {
    let (_l, _client, server) = connection();
    let fd = server.as_raw_fd();
    program_chooses_keepalive(fd, 300);
    adopt_connected(fd, &config(&[("KASHIM_FORCE", "cap")]), "test", None);
    assert_eq!(keepalive(fd), [1, 60, 10, 6]);
}
