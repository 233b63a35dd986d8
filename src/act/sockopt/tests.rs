//! kashim's own system calls against real kernel sockets.
use super::*;
use crate::config::Config;

fn new_socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    let fd = unsafe { libc::socket(domain, ty, protocol) };
    assert!(fd >= 0, "socket({domain}, {ty}, {protocol}) failed");
    fd
}

fn int_option(fd: c_int, level: c_int, name: c_int) -> c_int {
    get_int(fd, level, name).expect("getsockopt")
}

#[test]
fn configure_sets_every_option_and_keeps_errno() {
    let fd = new_socket(libc::AF_INET6, libc::SOCK_STREAM, 0);
    let config = Config {
        idle_s: 7,
        interval_s: 3,
        count: 9,
        user_timeout_ms: Some(4321),
        ..Config::default()
    };
    errno::set(12345);
    configure(fd, &config, "test");
    assert_eq!(errno::get(), 12345);
    assert_eq!(int_option(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 1);
    assert_eq!(int_option(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE), 7);
    assert_eq!(int_option(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL), 3);
    assert_eq!(int_option(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT), 9);
    assert_eq!(
        int_option(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT),
        4321
    );
    unsafe { libc::close(fd) };
}

#[test]
fn failures_are_swallowed_and_errno_restored() {
    // Not a socket at all: every setsockopt fails with ENOTSOCK, none of it reaches the caller.
    let mut pipe = [0; 2];
    assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
    errno::set(0);
    configure(pipe[0], &Config::default(), "test");
    assert_eq!(errno::get(), 0);
    assert_eq!(inspect(pipe[0], &Config::default()), None);
    assert_eq!(errno::get(), 0);
    unsafe {
        libc::close(pipe[0]);
        libc::close(pipe[1])
    };
}

#[test]
fn the_namespace_defaults_are_a_fresh_sockets() {
    let defaults = namespace_defaults();
    let read = |name: &str| -> u32 {
        std::fs::read_to_string(format!("/proc/sys/net/ipv4/tcp_keepalive_{name}"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    assert_eq!(
        (defaults.idle_s, defaults.interval_s, defaults.count),
        (read("time"), read("intvl"), read("probes"))
    );
    assert_eq!(namespace_defaults(), defaults, "kept after the first read");
}

#[test]
fn inspect_tells_tcp_from_everything_else() {
    let config = Config::default();
    let tcp = new_socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
    assert_eq!(inspect(tcp, &config), Some(ForeignVerdict::Configure));
    assert!(set_int(tcp, policy::KeepaliveOption::KeepAlive, 1));
    // On with the kernel's default timers (sshd, Java's setKeepAlive(true)): no protection, so
    // kashim's timers go on.
    assert_eq!(inspect(tcp, &config), Some(ForeignVerdict::Configure));
    assert!(set_int(tcp, policy::KeepaliveOption::Idle, 300));
    assert_eq!(inspect(tcp, &config), Some(ForeignVerdict::ProgramOwned));
    assert_eq!(
        inspect(
            tcp,
            &Config {
                force: true,
                ..Config::default()
            }
        ),
        Some(ForeignVerdict::Configure)
    );
    let udp = new_socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
    assert_eq!(inspect(udp, &config), Some(ForeignVerdict::NotTcp));
    let unix = new_socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
    assert_eq!(inspect(unix, &config), Some(ForeignVerdict::NotTcp));
    for fd in [tcp, udp, unix] {
        unsafe { libc::close(fd) };
    }
}

#[test]
fn adopt_records_what_it_found() {
    let config = Config::default();
    let tcp = new_socket(libc::AF_INET, libc::SOCK_STREAM, 0);
    adopt(tcp, &config, "test");
    assert_eq!(fd_table::get(tcp), FdState::Configured);
    assert_eq!(int_option(tcp, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE), 60);
    let udp = new_socket(libc::AF_INET6, libc::SOCK_DGRAM, 0);
    adopt(udp, &config, "test");
    assert_eq!(fd_table::get(udp), FdState::NotTcp);
    assert_eq!(int_option(udp, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 0);
    for fd in [tcp, udp] {
        fd_table::set(fd, FdState::Unknown);
        unsafe { libc::close(fd) };
    }
}
