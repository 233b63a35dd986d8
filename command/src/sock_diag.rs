//! One TCP socket's kernel view (state, timer, unanswered probes, time since its last data)
//! through NETLINK_SOCK_DIAG,
//! looked up by its addresses, as `ss` does. This costs the same for every socket, where reading
//! /proc/net/tcp costs the whole namespace's table (tens of thousands of lines on a busy host).
//! The lookup happens in kashim's own network namespace, so it is used only for a target in the
//! same namespace; /proc covers the rest.

use crate::proc_net::{TcpSocket, Timer};
use std::io;
use std::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// The reply attribute carrying struct tcp_info, and the request bit asking for it.
const INET_DIAG_INFO: u16 = 2;

/// struct inet_diag_sockid: ports and addresses in network byte order.
#[repr(C)]
#[derive(Clone, Copy)]
struct SockId {
    sport: [u8; 2],
    dport: [u8; 2],
    src: [u8; 16],
    dst: [u8; 16],
    ifindex: u32,
    cookie: [u32; 2],
}

/// struct nlmsghdr + struct inet_diag_req_v2.
#[repr(C)]
struct Request {
    nlh: libc::nlmsghdr,
    family: u8,
    protocol: u8,
    ext: u8,
    pad: u8,
    states: u32,
    id: SockId,
}

/// struct inet_diag_msg.
#[repr(C)]
#[derive(Clone, Copy)]
struct Message {
    family: u8,
    state: u8,
    timer: u8,
    retrans: u8,
    id: SockId,
    expires: u32,
    rqueue: u32,
    wqueue: u32,
    uid: u32,
    inode: u32,
}

pub struct SockDiag(OwnedFd);

impl SockDiag {
    pub fn open() -> io::Result<SockDiag> {
        // SAFETY: plain system call; the descriptor is ours to own.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                libc::NETLINK_SOCK_DIAG,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(SockDiag(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// The TCP socket with these addresses (`remote` None for a listener), if the kernel has one.
    pub fn lookup(
        &self,
        local: SocketAddr,
        remote: Option<SocketAddr>,
    ) -> io::Result<Option<TcpSocket>> {
        let family = if local.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        let (dst, dport) = match remote {
            Some(r) => (addr_bytes(r.ip()), r.port()),
            None => ([0; 16], 0),
        };
        let req = Request {
            nlh: libc::nlmsghdr {
                nlmsg_len: size_of::<Request>() as u32,
                nlmsg_type: SOCK_DIAG_BY_FAMILY,
                nlmsg_flags: libc::NLM_F_REQUEST as u16,
                nlmsg_seq: 1,
                nlmsg_pid: 0,
            },
            family: family as u8,
            protocol: libc::IPPROTO_TCP as u8,
            ext: 1 << (INET_DIAG_INFO - 1),
            pad: 0,
            states: !0,
            id: SockId {
                sport: local.port().to_be_bytes(),
                dport: dport.to_be_bytes(),
                src: addr_bytes(local.ip()),
                dst,
                ifindex: 0,
                cookie: [!0, !0], // INET_DIAG_NOCOOKIE: look up by addresses alone
            },
        };
        // SAFETY: req is a plain C struct of the size given.
        let sent = unsafe {
            libc::send(
                self.0.as_raw_fd(),
                &req as *const Request as *const libc::c_void,
                size_of::<Request>(),
                0,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = [0u8; 1024];
        // SAFETY: buf is writable for its length.
        let n = unsafe {
            libc::recv(
                self.0.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                0,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        parse_reply(&buf[..n as usize])
    }
}

fn addr_bytes(ip: IpAddr) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    match ip {
        IpAddr::V4(v4) => bytes[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => bytes = v6.octets(),
    }
    bytes
}

fn parse_reply(buf: &[u8]) -> io::Result<Option<TcpSocket>> {
    let hdr_len = size_of::<libc::nlmsghdr>();
    if buf.len() < hdr_len {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "short netlink reply",
        ));
    }
    // SAFETY: at least a header's worth of bytes; read_unaligned copes with the alignment.
    let nlh: libc::nlmsghdr = unsafe { std::ptr::read_unaligned(buf.as_ptr() as *const _) };
    let body = &buf[hdr_len..];
    if nlh.nlmsg_type == libc::NLMSG_ERROR as u16 {
        let code = body
            .get(..4)
            .map(|b| i32::from_ne_bytes(b.try_into().unwrap()))
            .unwrap_or(-libc::EIO);
        return match -code {
            libc::ENOENT => Ok(None),
            errno => Err(io::Error::from_raw_os_error(errno)),
        };
    }
    if nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY || body.len() < size_of::<Message>() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "unexpected netlink reply",
        ));
    }
    // SAFETY: as above.
    let m: Message = unsafe { std::ptr::read_unaligned(body.as_ptr() as *const _) };
    let addr = |bytes: [u8; 16], port: [u8; 2]| {
        let ip: IpAddr = if m.family as i32 == libc::AF_INET {
            Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).into()
        } else {
            Ipv6Addr::from(bytes).into()
        };
        SocketAddr::new(ip, u16::from_be_bytes(port))
    };
    Ok(Some(TcpSocket {
        idle_ms: idle_from_attributes(body.get(size_of::<Message>()..).unwrap_or(&[])),
        inode: m.inode as u64,
        local: addr(m.id.src, m.id.sport),
        remote: addr(m.id.dst, m.id.dport),
        state: m.state,
        timer: Timer::from_code(m.timer),
        when_ms: m.expires as u64,
        probes: m.retrans as u32,
    }))
}

/// The time since the connection last sent or received data, from the tcp_info attribute
/// (`tcpi_last_data_sent` and `tcpi_last_data_recv`, milliseconds, at byte offsets 44 and 52).
fn idle_from_attributes(mut attrs: &[u8]) -> Option<u64> {
    while attrs.len() >= 4 {
        let len = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
        let kind = u16::from_ne_bytes([attrs[2], attrs[3]]);
        if len < 4 || len > attrs.len() {
            return None;
        }
        if kind == INET_DIAG_INFO {
            return idle_from_tcp_info(&attrs[4..len]);
        }
        attrs = &attrs[((len + 3) & !3).min(attrs.len())..];
    }
    None
}

/// Milliseconds since the last data sent or received, from a struct tcp_info's bytes.
pub fn idle_from_tcp_info(info: &[u8]) -> Option<u64> {
    let field = |at: usize| {
        info.get(at..at + 4)
            .map(|b| u32::from_ne_bytes(b.try_into().unwrap()) as u64)
    };
    Some(field(44)?.min(field(52)?))
}

/// The local and (when connected) remote address of a socket held by kashim.
pub fn addresses(fd: BorrowedFd) -> io::Result<(SocketAddr, Option<SocketAddr>)> {
    let local = name(fd, libc::getsockname)?
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EAFNOSUPPORT))?;
    let remote = match name(fd, libc::getpeername) {
        Ok(remote) => remote,
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => None,
        Err(e) => return Err(e),
    };
    Ok((local, remote))
}

type NameCall =
    unsafe extern "C" fn(libc::c_int, *mut libc::sockaddr, *mut libc::socklen_t) -> libc::c_int;

fn name(fd: BorrowedFd, call: NameCall) -> io::Result<Option<SocketAddr>> {
    // SAFETY: storage is large enough for any address; len says so.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    if unsafe {
        call(
            fd.as_raw_fd(),
            &mut storage as *mut _ as *mut libc::sockaddr,
            &mut len,
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(match storage.ss_family as i32 {
        libc::AF_INET => {
            // SAFETY: the family says which struct the kernel wrote.
            let a: libc::sockaddr_in = unsafe { std::ptr::read(&storage as *const _ as *const _) };
            Some(SocketAddr::new(
                Ipv4Addr::from(a.sin_addr.s_addr.to_ne_bytes()).into(),
                u16::from_be(a.sin_port),
            ))
        }
        libc::AF_INET6 => {
            // SAFETY: as above.
            let a: libc::sockaddr_in6 = unsafe { std::ptr::read(&storage as *const _ as *const _) };
            Some(SocketAddr::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr).into(),
                u16::from_be(a.sin6_port),
            ))
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn finds_its_own_connection_and_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let diag = SockDiag::open().unwrap();
        let (local, remote) = addresses(c.as_fd()).unwrap();
        assert_eq!(remote, Some(l.local_addr().unwrap()));
        let s = diag.lookup(local, remote).unwrap().unwrap();
        assert_eq!(
            (s.local, s.remote, s.state_name()),
            (local, l.local_addr().unwrap(), "ESTABLISHED")
        );
        let (llocal, lremote) = addresses(l.as_fd()).unwrap();
        assert_eq!(lremote, None);
        // Just connected: idle for well under a minute.
        assert!(s.idle_ms.unwrap() < 60_000, "{:?}", s.idle_ms);
        let ls = diag.lookup(llocal, None).unwrap().unwrap();
        assert!(ls.listening());
        assert_ne!(ls.inode, s.inode);
        // Nothing listens on a port just given up.
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        assert_eq!(diag.lookup(free, None).unwrap(), None);
    }
}
