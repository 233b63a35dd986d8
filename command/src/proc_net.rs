//! What /proc says about the TCP sockets of a process: its socket descriptors
//! (/proc/PID/fd) and its network namespace's TCP tables (/proc/PID/net/tcp and tcp6, which
//! are the tables of the namespace PID lives in, so a container's process is seen from the host).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{self, Read};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::RawFd;

/// The TCP states as numbered in include/net/tcp_states.h.
const STATES: [&str; 13] = [
    "?",
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "CLOSING",
    "NEW_SYN_RECV",
];
const LISTEN: u8 = 10;

/// The timer a socket shows in the `tr` column of /proc/net/tcp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    None,
    /// Retransmission (also the loss probe and reordering timers): hides the keepalive timer.
    Retransmit,
    /// The keepalive timer (sk_timer; it is armed only when SO_KEEPALIVE is on).
    Keepalive,
    /// The zero-window probe timer: hides the keepalive timer too.
    ZeroWindowProbe,
    Other(u8),
}

impl Timer {
    /// The code /proc/net/tcp and sock_diag both use.
    pub fn from_code(code: u8) -> Timer {
        match code {
            0 => Timer::None,
            1 => Timer::Retransmit,
            2 => Timer::Keepalive,
            4 => Timer::ZeroWindowProbe,
            n => Timer::Other(n),
        }
    }

    pub fn name(self) -> Option<&'static str> {
        match self {
            Timer::None => None,
            Timer::Retransmit => Some("retransmit"),
            Timer::Keepalive => Some("keepalive"),
            Timer::ZeroWindowProbe => Some("zero-window probe"),
            Timer::Other(_) => Some("other"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpSocket {
    pub inode: u64,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: u8,
    pub timer: Timer,
    /// Time until the timer fires, in milliseconds (/proc: clock ticks, converted).
    pub when_ms: u64,
    /// Keepalive (or zero-window) probes sent and not answered.
    pub probes: u32,
    /// Milliseconds since the connection last sent or received data (tcp_info; not in /proc).
    pub idle_ms: Option<u64>,
}

impl TcpSocket {
    pub fn state_name(&self) -> &'static str {
        STATES.get(self.state as usize).copied().unwrap_or("?")
    }
    pub fn listening(&self) -> bool {
        self.state == LISTEN
    }
}

/// One line of /proc/net/tcp or tcp6 (not the header). Fields:
/// `sl local remote st tx_queue:rx_queue tr:when retrnsmt uid timeout inode ...`
pub fn parse_line(line: &str) -> Option<TcpSocket> {
    let f: Vec<&str> = line.split_whitespace().take(10).collect();
    if f.len() < 10 || !f[0].ends_with(':') {
        return None;
    }
    let (tr, when) = f[5].split_once(':')?;
    let timer = Timer::from_code(u8::from_str_radix(tr, 16).ok()?);
    Some(TcpSocket {
        inode: f[9].parse().ok()?,
        local: parse_addr(f[1])?,
        remote: parse_addr(f[2])?,
        state: u8::from_str_radix(f[3], 16).ok()?,
        timer,
        when_ms: u64::from_str_radix(when, 16).ok()? * 1000 / ticks_per_second(),
        probes: f[8].parse().ok()?,
        idle_ms: None,
    })
}

/// `HEXADDR:HEXPORT`. The address is printed as 32-bit words in host byte order, so each word's
/// bytes in memory order are its native-endian bytes.
fn parse_addr(text: &str) -> Option<SocketAddr> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    if addr.len() != 8 && addr.len() != 32 {
        return None;
    }
    for i in (0..addr.len()).step_by(8) {
        let word = u32::from_str_radix(addr.get(i..i + 8)?, 16).ok()?;
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    let ip = match <[u8; 4]>::try_from(bytes.as_slice()) {
        Ok(v4) => Ipv4Addr::from(v4).into(),
        Err(_) => Ipv6Addr::from(<[u8; 16]>::try_from(bytes.as_slice()).ok()?).into(),
    };
    Some(SocketAddr::new(ip, port))
}

/// An address as `ss` shows it: `1.2.3.4:80`, `[::1]:80`, `[::ffff:1.2.3.4]:80`; port 0 (a
/// listener's remote end) as `*`.
pub fn show_addr(addr: &SocketAddr) -> String {
    let port = match addr.port() {
        0 => "*".to_string(),
        p => p.to_string(),
    };
    match addr {
        SocketAddr::V4(a) => format!("{}:{port}", a.ip()),
        // Display compresses the longest run of zero groups and writes v4-mapped as ::ffff:a.b.c.d.
        SocketAddr::V6(a) => format!("[{}]:{port}", a.ip()),
    }
}

/// The TCP sockets among `wanted` (socket inodes), from the tables of the namespace PID lives
/// in. The kernel walks its hash table while it prints, so a socket can be missed when others
/// come and go meanwhile: when some wanted inode was not seen (it may also be a UDP or Unix
/// socket), a second reading picks up what the first one missed.
pub fn tcp_tables(pid: i32, wanted: &HashSet<u64>) -> io::Result<HashMap<u64, TcpSocket>> {
    let mut found = HashMap::new();
    if wanted.is_empty() {
        // The tables hold the whole namespace's sockets: not worth reading for none.
        return Ok(found);
    }
    let mut buf = Vec::new();
    for _ in 0..2 {
        for name in ["tcp", "tcp6"] {
            match read_proc(&format!("/proc/{pid}/net/{name}"), &mut buf) {
                Ok(()) => {}
                // A kernel without IPv6 has no tcp6.
                Err(e) if e.kind() == io::ErrorKind::NotFound && name == "tcp6" => continue,
                Err(e) => return Err(e),
            }
            let text = String::from_utf8_lossy(&buf);
            for sock in text.lines().skip(1).filter_map(parse_line) {
                if wanted.contains(&sock.inode) {
                    found.entry(sock.inode).or_insert(sock);
                }
            }
        }
        if found.len() == wanted.len() {
            break;
        }
    }
    Ok(found)
}

/// Reads a /proc file with large reads: each read of a TCP table makes the kernel find its
/// place in the hash table again, so fewer reads cost less.
fn read_proc(path: &str, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut file = fs::File::open(path)?;
    buf.clear();
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The socket descriptors of PID, as (fd, inode), in fd order. Reading the links in /proc/PID/fd
/// needs ptrace's read mode: the process's user (with no capabilities beyond the caller's, and
/// not made undumpable), or CAP_SYS_PTRACE.
pub fn socket_fds(pid: i32) -> io::Result<Vec<(RawFd, u64)>> {
    let mut fds = Vec::new();
    for entry in fs::read_dir(format!("/proc/{pid}/fd"))? {
        let Ok(entry) = entry else { continue };
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let target = match fs::read_link(entry.path()) {
            Ok(target) => target,
            // A descriptor closed since the listing has no link any more.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            // Listing the directory needs less than reading its links: without the rights,
            // the sockets would silently be missing.
            Err(e) => return Err(e),
        };
        if let Some(inode) = socket_inode(&target.to_string_lossy()) {
            fds.push((fd, inode));
        }
    }
    fds.sort_unstable();
    Ok(fds)
}

/// `socket:[12345]` -> 12345.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Clock ticks per second, the unit of the `when` column.
fn ticks_per_second() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    // SAFETY: sysconf has no preconditions.
    *TICKS.get_or_init(|| match unsafe { libc::sysconf(libc::_SC_CLK_TCK) } {
        n if n > 0 => n as u64,
        _ => 100,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Lines as a little-endian kernel prints them.
    const V4: &str = "   1: 0100007F:A3B2 0100007F:1F90 01 00000000:00000000 02:00000B8A 00000000     0        0 43211 1 0000000000000000 20 4 30 10 -1";
    const V6: &str = "   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0";
    const MAPPED: &str = "   2: 0000000000000000FFFF00000100007F:9C40 0000000000000000FFFF00000100007F:1F90 01 00000000:00000000 02:000000C8 00000000  1000        3 888 1 0000000000000000 20 4 30 10 -1";

    #[test]
    #[cfg(target_endian = "little")]
    fn parses_v4_v6_and_mapped_lines() {
        let s = parse_line(V4).unwrap();
        assert_eq!(show_addr(&s.local), "127.0.0.1:41906");
        assert_eq!(show_addr(&s.remote), "127.0.0.1:8080");
        assert_eq!(s.state_name(), "ESTABLISHED");
        assert_eq!(
            (s.timer, s.when_ms, s.probes, s.inode),
            (
                Timer::Keepalive,
                0xB8A * 1000 / ticks_per_second(),
                0,
                43211
            )
        );

        let l = parse_line(V6).unwrap();
        assert_eq!(show_addr(&l.local), "[::1]:8080");
        assert_eq!(show_addr(&l.remote), "[::]:*");
        assert!(l.listening());
        assert_eq!(l.timer, Timer::None);

        let m = parse_line(MAPPED).unwrap();
        assert_eq!(show_addr(&m.local), "[::ffff:127.0.0.1]:40000");
        assert_eq!(m.probes, 3);
    }

    #[test]
    fn rejects_headers_and_garbage() {
        assert_eq!(parse_line("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"), None);
        assert_eq!(parse_line(""), None);
        assert_eq!(parse_line("   1: 0100007F:A3B2"), None);
        assert_eq!(
            parse_line(&V4.replace("0100007F:A3B2", "01007F:A3B2")),
            None
        );
    }

    #[test]
    fn shows_v6_addresses_as_ss_does() {
        let a: SocketAddr = "[2001:db8:0:0:1:0:0:1]:443".parse().unwrap();
        assert_eq!(show_addr(&a), "[2001:db8::1:0:0:1]:443");
        let b: SocketAddr = "[fe80::1:2:3:4:5:6]:1".parse().unwrap();
        assert_eq!(show_addr(&b), "[fe80:0:1:2:3:4:5:6]:1");
    }

    #[test]
    fn reads_socket_links() {
        assert_eq!(socket_inode("socket:[12345]"), Some(12345));
        assert_eq!(socket_inode("pipe:[12345]"), None);
        assert_eq!(socket_inode("/dev/null"), None);
    }

    #[test]
    fn reads_its_own_sockets() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let me = std::process::id() as i32;
        let fds = socket_fds(me).unwrap();
        let tables = tcp_tables(me, &fds.iter().map(|(_, i)| *i).collect()).unwrap();
        let ours: Vec<&TcpSocket> = fds.iter().filter_map(|(_, i)| tables.get(i)).collect();
        assert!(ours
            .iter()
            .any(|s| s.listening() && s.local == l.local_addr().unwrap()));
        assert!(ours.iter().any(|s| s.local == c.local_addr().unwrap()));
    }
}
