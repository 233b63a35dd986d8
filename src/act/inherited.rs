//! Start-up: connections a program inherits already connected never reach connect() or accept(),
//! so they are configured here, once, from the constructor:
//! - fds 0-2 when they are connected TCP sockets (inetd, xinetd, `systemd-socket-activate --inetd`,
//!   socat's EXEC);
//! - the fds `LISTEN_FDS` names when `LISTEN_PID` is this process (systemd socket activation;
//!   `Accept=yes` passes one connected socket at fd 3). Listeners among them stay as today: each
//!   socket accepted from them is configured at accept().
//!
//! The same rule as everywhere: keepalive timers someone already chose (the parent) stay theirs,
//! unless KASHIM_FORCE; keepalive turned on with the kernel's default timers (a socket unit with
//! `KeepAlive=yes`, sshd's TCPKeepAlive) is no protection and gets kashim's timers.
//!
//! System calls, per fd checked: one getpeername (it fails with ENOTSOCK for a terminal, pipe or
//! file, ENOTCONN for a listener), and for a connected IPv4/IPv6 socket one getsockopt
//! (SO_KEEPALIVE; three more when it is on, none under FORCE), then the options. TCP_KEEPIDLE is set first because it doubles
//! as the TCP test: on UDP, SCTP or raw sockets it fails with ENOPROTOOPT and changes nothing.
//! Nothing is read from files; LISTEN_PID costs one getpid, and only when it is set.

use crate::act::sockopt;
use crate::config::keepalive::Judgement;
use crate::config::Config;
use crate::debug;
use crate::decide::inherited::options_in_order;
use crate::decide::policy::KeepaliveOption;
use crate::state::fd_table::{self, FdState};
use crate::sys::errno::{self, ErrnoGuard};
use libc::{c_int, c_long, socklen_t};

/// What getpeername said about a descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// Not a socket, not open, or not connected (a listener, an unconnected socket).
    None,
    /// Connected, but not over IPv4/IPv6 (a Unix socket, e.g. stderr to the journal).
    NotInet,
    /// Connected over IPv4 or IPv6: TCP, or UDP/SCTP/raw.
    Inet,
}

/// A peer address as getpeername returned it, to recognise the same connection on fds 0 and 1.
#[derive(Clone, Copy)]
pub struct PeerAddress {
    bytes: [u8; std::mem::size_of::<libc::sockaddr_storage>()],
    len: usize,
}

impl PartialEq for PeerAddress {
    fn eq(&self, other: &Self) -> bool {
        self.bytes[..self.len] == other.bytes[..other.len]
    }
}

fn peer(fd: c_int) -> (Peer, PeerAddress) {
    // SAFETY: a zeroed sockaddr_storage is a valid buffer for any address family.
    let mut address: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as socklen_t;
    // SAFETY: address/len describe a live buffer of that size. Made directly: this runs in every
    // process's constructor (raw_syscall says why).
    let rc = unsafe {
        crate::sys::raw_syscall::syscall3(
            libc::SYS_getpeername,
            c_long::from(fd),
            &mut address as *mut libc::sockaddr_storage as c_long,
            &mut len as *mut socklen_t as c_long,
        )
    };
    let kind = match (rc, c_int::from(address.ss_family)) {
        (0, libc::AF_INET | libc::AF_INET6) => Peer::Inet,
        (0, _) => Peer::NotInet,
        _ => Peer::None,
    };
    // SAFETY: sockaddr_storage is plain bytes.
    let bytes = unsafe { std::mem::transmute::<libc::sockaddr_storage, [u8; 128]>(address) };
    let len = (len as usize).min(bytes.len());
    (kind, PeerAddress { bytes, len })
}

fn set(fd: c_int, option: KeepaliveOption, value: c_int) -> bool {
    sockopt::set_int(fd, option, value)
}

/// Configures `fd` if it is a connected TCP socket nobody chose keepalive for; remembers what it is.
/// `context` names where the socket came from, for the debug log. `configured` is the peer of the
/// connection configured just before (inetd passes one connection as fds 0, 1 and often 2): the
/// same peer with keepalive on is that connection again, not someone else's choice. Returns the
/// peer if this fd was configured.
#[link_section = ".text.startup.kashim"]
pub fn adopt_connected(
    fd: c_int,
    config: &Config,
    context: &str,
    configured: Option<PeerAddress>,
) -> Option<PeerAddress> {
    let _errno = ErrnoGuard::save();
    let (kind, address) = peer(fd);
    if kind != Peer::Inet {
        return None; // left as today: a listener is inspected at its first accept()
    }
    crate::sys::guard::quiet_panics();
    if !crate::decide::scope::inherited_in_scope(config, &address.bytes[..address.len]) {
        debug!(config, "fd {fd}: {context}: out of scope; left alone");
        fd_table::set(fd, FdState::OutOfScope);
        return None;
    }
    if !config.force && sockopt::keepalive_on(fd)? {
        if configured == Some(address) {
            debug!(
                config,
                "fd {fd}: {context}: the same connection as the fd before; configured"
            );
            fd_table::set(fd, FdState::Configured);
            return Some(address);
        }
        if config.force_cap {
            // KASHIM_FORCE=cap: the passer's longer timers are lowered to kashim's.
            let state = crate::act::connection::cap_existing(fd, config, context);
            fd_table::set(fd, state);
            return None;
        }
        match sockopt::judgement_of_timers(fd)? {
            Judgement::ChosenTimers => {
                debug!(config, "fd {fd}: {context}: keepalive timers already chosen (by whoever passed it); left alone");
                fd_table::set(fd, FdState::ProgramOwned);
                return None;
            }
            Judgement::DefaultTimers | Judgement::Off => {
                debug!(config, "fd {fd}: {context}: keepalive on with the kernel's default timers; kashim's set");
            }
        }
    }
    let (options, len) = options_in_order(config);
    let (first, value) = options[0];
    if !set(fd, first, value) {
        debug!(
            config,
            "fd {fd}: {context}: connected, but not TCP (errno {}); left alone",
            errno::get()
        );
        fd_table::set(fd, FdState::NotTcp);
        return None;
    }
    let mut failed = false;
    for &(option, value) in &options[1..len] {
        if !set(fd, option, value) {
            failed = true;
            debug!(
                config,
                "fd {fd}: {context}: setsockopt {}={value} failed (errno {})",
                option.name(),
                errno::get()
            );
        }
    }
    if !failed {
        debug!(
            config,
            "fd {fd}: {context}: keepalive on (idle {}s, interval {}s, count {})",
            config.idle_s,
            config.interval_s,
            config.count
        );
    }
    fd_table::set(fd, FdState::Configured);
    Some(address)
}

#[cfg(not(test))]
#[link_section = ".text.startup.kashim"]
fn env(name: &'static [u8]) -> Option<&'static [u8]> {
    // As secure_getenv: in a setuid/setgid/capability program the caller's LISTEN_* must not
    // choose descriptors for kashim (secure-execution mode ignores the environment, as for
    // KASHIM_*). Read in place, as the KASHIM_* variables are: calling libc's secure_getenv would
    // fault one more page of libc's code into every process, and so would asking getauxval
    // before there is a variable to ignore.
    let value = crate::state::config::getenv(name)?;
    (!crate::state::config::secure_execution()).then_some(value)
}

#[cfg(not(test))]
/// From the constructor: fds 0-2, then the fds systemd passed to this process.
pub fn adopt_at_start(config: &Config) {
    let mut configured = None;
    for fd in 0..=2 {
        configured = adopt_connected(fd, config, "inherited connection (inetd)", configured);
    }
    // SAFETY: getpid has no preconditions.
    let passed =
        crate::decide::inherited::listen_fds(env(b"LISTEN_PID"), env(b"LISTEN_FDS"), || unsafe {
            libc::getpid() as u32
        });
    for fd in passed {
        adopt_connected(fd, config, "socket activation (LISTEN_FDS)", None);
    }
}

#[cfg(test)]
mod tests;
