//! The hooks' logic, driven in the order a program's calls would drive it, on real kernel
//! sockets (the exported hooks themselves are compiled out of `cargo test`; the C tests run them
//! under LD_PRELOAD). The test process has no KASHIM_* variables, so the defaults apply.

use crate::act::{connection, descriptors, options, sockopt};
use crate::decide::policy::{KeepaliveOption, SetsockoptAction};
use crate::state::fd_table::{self, FdState};
use libc::c_int;

fn int_option(fd: c_int, level: c_int, name: c_int) -> c_int {
    sockopt::get_int(fd, level, name).expect("getsockopt")
}

fn keepalive(fd: c_int) -> (c_int, c_int) {
    (
        int_option(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE),
        int_option(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE),
    )
}

fn traced_socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    let fd = unsafe { libc::socket(domain, ty, protocol) };
    assert!(fd >= 0);
    connection::after_socket(fd, domain, ty, protocol);
    fd
}

fn traced_close(fd: c_int) {
    descriptors::forget(fd);
    unsafe { libc::close(fd) };
}

/// A loopback listener and a connected pair, all plain kernel calls.
fn listener() -> (c_int, libc::sockaddr_in) {
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    addr.sin_family = libc::AF_INET as u16;
    addr.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
    let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    unsafe {
        assert_eq!(
            libc::bind(fd, (&addr as *const libc::sockaddr_in).cast(), len),
            0
        );
        assert_eq!(libc::listen(fd, 8), 0);
        libc::getsockname(fd, (&mut addr as *mut libc::sockaddr_in).cast(), &mut len);
    }
    (fd, addr)
}

fn connect_to(fd: c_int, addr: &libc::sockaddr_in) {
    connection::before_connect(fd);
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    assert_eq!(
        unsafe { libc::connect(fd, (addr as *const libc::sockaddr_in).cast(), len) },
        0
    );
}

fn accept_from(listener: c_int) -> c_int {
    let fd = unsafe {
        libc::accept4(
            listener,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_CLOEXEC,
        )
    };
    assert!(fd >= 0);
    connection::after_accept(listener, fd);
    fd
}

#[test]
fn new_tcp_sockets_are_configured_and_others_left_alone() {
    let tcp = traced_socket(
        libc::AF_INET6,
        libc::SOCK_STREAM | libc::SOCK_NONBLOCK,
        libc::IPPROTO_TCP,
    );
    assert_eq!(fd_table::get(tcp), FdState::Configured);
    assert_eq!(keepalive(tcp), (1, 60));
    let udp = traced_socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
    assert_eq!(fd_table::get(udp), FdState::NotTcp);
    assert_eq!(int_option(udp, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 0);
    traced_close(tcp);
    traced_close(udp);
    assert_eq!(fd_table::get(tcp), FdState::Unknown);
}

#[test]
fn accepted_sockets_inherit_from_a_configured_listener() {
    let listen_fd = traced_socket(libc::AF_INET, libc::SOCK_STREAM, 0);
    let (plain, addr) = listener();
    traced_close(plain);
    // Rebind the traced socket on the same kind of address.
    let mut a = addr;
    a.sin_port = 0;
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let mut got = len;
    unsafe {
        assert_eq!(
            libc::bind(listen_fd, (&a as *const libc::sockaddr_in).cast(), len),
            0
        );
        assert_eq!(libc::listen(listen_fd, 8), 0);
        libc::getsockname(
            listen_fd,
            (&mut a as *mut libc::sockaddr_in).cast(),
            &mut got,
        );
    }
    let client = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    connect_to(client, &a); // an unknown socket reaching connect() is taken on
    assert_eq!(fd_table::get(client), FdState::Configured);
    assert_eq!(keepalive(client), (1, 60));
    let accepted = accept_from(listen_fd);
    assert_eq!(fd_table::get(accepted), FdState::Configured);
    assert_eq!(keepalive(accepted), (1, 60)); // by the kernel's inheritance, not by kashim
    for fd in [accepted, client, listen_fd] {
        traced_close(fd);
    }
}

#[test]
fn a_foreign_listener_gets_each_accepted_socket_configured() {
    let (listen_fd, addr) = listener(); // created "before kashim": Unknown
    let client = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    assert_eq!(
        unsafe { libc::connect(client, (&addr as *const libc::sockaddr_in).cast(), len) },
        0
    );
    let accepted = accept_from(listen_fd);
    assert_eq!(fd_table::get(listen_fd), FdState::ForeignListener);
    assert_eq!(
        int_option(listen_fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE),
        0,
        "the listener itself is not changed"
    );
    assert_eq!(fd_table::get(accepted), FdState::Configured);
    assert_eq!(keepalive(accepted), (1, 60));
    for fd in [accepted, client, listen_fd] {
        traced_close(fd);
    }
}

#[test]
fn the_programs_own_choice_is_remembered() {
    let fd = traced_socket(libc::AF_INET, libc::SOCK_STREAM, 0);
    let action = options::decide(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE);
    assert_eq!(action, SetsockoptAction::PassThroughProgramOwns);
    options::after_program_sets(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 0, action);
    assert_eq!(fd_table::get(fd), FdState::ProgramOwned);
    // Unrelated options never even look at the table.
    assert_eq!(
        options::decide(fd, libc::SOL_SOCKET, libc::TCP_KEEPCNT),
        SetsockoptAction::PassThrough
    );
    traced_close(fd);
}

#[test]
fn dup2_carries_the_state_to_the_new_number() {
    let fd = traced_socket(libc::AF_INET, libc::SOCK_STREAM, 0);
    let target = 900; // below the usual soft limit of 1024 descriptors
    assert_eq!(unsafe { libc::dup2(fd, target) }, target);
    descriptors::copy_state(fd, target);
    assert_eq!(fd_table::get(target), FdState::Configured);
    traced_close(target);
    traced_close(fd);
}

#[test]
fn force_puts_kashims_value_back_after_the_programs_call() {
    let fd = traced_socket(libc::AF_INET, libc::SOCK_STREAM, 0);
    assert!(sockopt::set_int(fd, KeepaliveOption::Idle, 300));
    assert_eq!(keepalive(fd), (1, 300));
    crate::sys::errno::set(4242);
    options::after_program_sets(
        fd,
        libc::IPPROTO_TCP,
        libc::TCP_KEEPIDLE,
        0,
        SetsockoptAction::RestoreKashimsValue,
    );
    assert_eq!(crate::sys::errno::get(), 4242);
    assert_eq!(keepalive(fd), (1, 60));
    traced_close(fd);
}

#[test]
fn a_copy_made_by_fcntl_inherits_the_programs_choice() {
    let fd = traced_socket(libc::AF_INET, libc::SOCK_STREAM, 0);
    fd_table::set(fd, FdState::ProgramOwned);
    let fcntl = crate::sys::fallback::fcntl; // the same system call libc's makes
    let copy = unsafe { crate::hooks::dup::fcntl(fcntl, fd, libc::F_DUPFD_CLOEXEC, 0) };
    assert_eq!(fd_table::get(copy), FdState::ProgramOwned);
    // Other commands return a number that is not a descriptor: nothing is copied.
    let flags = unsafe { crate::hooks::dup::fcntl(fcntl, fd, libc::F_GETFL, 0) };
    assert_eq!(fd_table::get(flags), FdState::Unknown);
    traced_close(copy);
    traced_close(fd);
}

#[test]
fn fclose_of_an_fdopened_socket_forgets_it() {
    let fd = traced_socket(libc::AF_INET, libc::SOCK_STREAM, 0);
    let stream = unsafe { libc::fdopen(fd, c"r+".as_ptr()) };
    assert!(!stream.is_null());
    unsafe { descriptors::forget_stream(stream) };
    assert_eq!(fd_table::get(fd), FdState::Unknown);
    unsafe { libc::fclose(stream) };
    unsafe { descriptors::forget_stream(std::ptr::null_mut()) }; // no crash on null
}
