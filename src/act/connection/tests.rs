use super::*;
use crate::test_config as config;

#[test]
fn real_sockets_in_and_out_of_scope() {
    let c = config(&[("KASHIM_ONLY", "127.0.0.1")]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    use std::os::fd::AsRawFd;
    let fd = stream.as_raw_fd();
    let keepalive = |fd| sockopt::get_int(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE);
    assert_eq!(
        peer_of(fd),
        Some(Peer::v4(
            [127, 0, 0, 1],
            listener.local_addr().unwrap().port()
        ))
    );
    carry_out(fd, FdState::Pending, Action::Configure, &c, "test");
    assert_eq!(keepalive(fd), Some(1));
    assert_eq!(
        sockopt::get_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE),
        Some(60)
    );
    carry_out(fd, FdState::Configured, Action::TurnOff, &c, "test");
    assert_eq!(keepalive(fd), Some(0));
    assert_eq!(fd_table::get(fd), FdState::OutOfScope);
    // Cap: the program's 300 s idle is lowered to 60, its 5 s interval stands.
    let cap = config(&[("KASHIM_FORCE", "cap")]);
    for (opt, v) in [
        (KeepaliveOption::KeepAlive, 1),
        (KeepaliveOption::Idle, 300),
        (KeepaliveOption::Interval, 5),
    ] {
        sockopt::set_one(fd, opt, v, &cap, "test");
    }
    carry_out(fd, FdState::ProgramOwned, Action::Cap, &cap, "test");
    assert_eq!(
        sockopt::get_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE),
        Some(60)
    );
    assert_eq!(
        sockopt::get_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL),
        Some(5)
    );
    assert_eq!(fd_table::get(fd), FdState::Configured);
    fd_table::set(fd, FdState::Unknown);
}
