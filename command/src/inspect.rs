//! `kashim --inspect PID`: the TCP connections of a process and their keepalive state.
//!
//! The sockets come from /proc (the process's descriptors and its network namespace's TCP tables);
//! each one's keepalive options are read with getsockopt on a pidfd_getfd duplicate when kashim
//! has ptrace rights over the process, and otherwise judged from the timer /proc shows. The
//! target is only read: never stopped, signalled or changed. `attach` prints the same view.

use crate::cli::Invocation;
use crate::error::{Error, Result, EXIT_FAILURE};
use crate::json::Json;
use crate::pidfd::{permission_hint, DupError, PidFd};
use crate::proc_net::{self, show_addr, TcpSocket, Timer};
use crate::sock_diag::{self, SockDiag};
use crate::sockopt::{self, errno_text, Keepalive};
use std::collections::{HashMap, HashSet};
use std::io;
use std::os::fd::{AsFd, RawFd};
use std::process::ExitCode;

pub fn main(inv: &Invocation, pid: i32) -> Result<ExitCode> {
    let label = format!("--inspect {pid}");
    check_process(pid, &label)?;
    let pidfd = PidFd::open(pid).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOSYS) => "reading the options needs Linux 5.6 or newer (pidfd_open)".into(),
        _ => format!("pidfd_open failed: {}", errno_text(&e)),
    });
    let survey = Survey::take(pid, pidfd.as_ref(), &label)?;
    if inv.json {
        print_out(&(survey.json(None).to_text() + "\n"));
    } else {
        print_out(&survey.table(None));
    }
    Ok(if survey.all_have_keepalive() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILURE)
    })
}

/// Writes the report to stdout. A reader that went away (`| head`) is not an error worth a
/// panic: the report is simply cut short.
pub fn print_out(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

pub fn no_such_process(label: &str) -> Error {
    Error::failure(format!("{label}: no such process"))
}

/// PID must be a process: a thread's id also has a (hidden) /proc entry, but no pidfd.
pub fn check_process(pid: i32, label: &str) -> Result<()> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|_| no_such_process(label))?;
    let tgid = status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse::<i32>().ok());
    match tgid {
        Some(tgid) if tgid != pid => Err(Error::failure(format!(
            "{label}: {pid} is a thread of process {tgid}; give the process id"
        ))),
        _ => Ok(()),
    }
}

/// One TCP socket of the process.
pub struct Entry {
    /// The first of the process's descriptors for this socket.
    pub fd: RawFd,
    pub sock: TcpSocket,
    /// Read with getsockopt on a duplicate; `None` without ptrace rights.
    pub opts: Option<Keepalive>,
}

impl Entry {
    /// Whether keepalive is on: known from getsockopt, or from the keepalive timer /proc shows
    /// (`None` while a retransmit or zero-window timer hides it).
    pub fn keepalive(&self) -> Option<bool> {
        if let Some(opts) = self.opts {
            return Some(opts.on);
        }
        match self.sock.timer {
            Timer::Keepalive => Some(true),
            Timer::Retransmit | Timer::ZeroWindowProbe => None,
            Timer::None | Timer::Other(_) => Some(false),
        }
    }
}

pub struct Survey {
    pub pid: i32,
    pub command: String,
    /// In descriptor order.
    pub entries: Vec<Entry>,
    /// Why the options could not be read (each socket then shows `?`).
    pub opts_unreadable: Option<String>,
}

/// What `attach` did to one socket, for its extra column.
pub trait AttachColumn {
    fn outcome(&self, inode: u64) -> (String, Json);
}

/// The process's TCP sockets (descriptor, kernel view), without their options. With `pidfd`
/// and the target in kashim's own network namespace, each socket is looked up by its addresses
/// (sock_diag); /proc/PID/net/tcp{,6} (the whole namespace's tables) covers the rest.
pub fn tcp_sockets(
    pid: i32,
    label: &str,
    pidfd: Option<&PidFd>,
) -> Result<Vec<(RawFd, TcpSocket)>> {
    let fds = proc_net::socket_fds(pid).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => no_such_process(label),
        io::ErrorKind::PermissionDenied => Error::failure(format!(
            "{label}: not permitted to read /proc/{pid}/fd; {}",
            permission_hint()
        )),
        _ => Error::failure(format!(
            "{label}: cannot read /proc/{pid}/fd: {}",
            errno_text(&e)
        )),
    })?;
    let mut found: HashMap<u64, TcpSocket> = HashMap::new();
    let mut not_tcp: HashSet<u64> = HashSet::new();
    if let (Some(pidfd), Some(diag)) = (pidfd, same_namespace_diag(pid)) {
        for (fd, inode) in &fds {
            if found.contains_key(inode) || not_tcp.contains(inode) {
                continue;
            }
            let dup = match pidfd.dup_socket(*fd, *inode) {
                Ok(dup) => dup,
                Err(DupError::NotPermitted(_)) | Err(DupError::NoSyscall) => break,
                Err(_) => continue, // closed meanwhile; /proc has the last word
            };
            if !sockopt::is_tcp(dup.as_fd()) {
                not_tcp.insert(*inode);
                continue;
            }
            let Ok((local, remote)) = sock_diag::addresses(dup.as_fd()) else {
                continue;
            };
            // The inode check guards against a lookup that finds another socket (SO_REUSEPORT).
            if let Ok(Some(sock)) = diag.lookup(local, remote) {
                if sock.inode == *inode {
                    found.insert(*inode, sock);
                }
            }
        }
    }
    let wanted: HashSet<u64> = fds
        .iter()
        .map(|(_, inode)| *inode)
        .filter(|inode| !found.contains_key(inode) && !not_tcp.contains(inode))
        .collect();
    let tables = proc_net::tcp_tables(pid, &wanted).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => no_such_process(label),
        _ => Error::failure(format!(
            "{label}: cannot read /proc/{pid}/net/tcp: {}",
            errno_text(&e)
        )),
    })?;
    found.extend(tables);
    // A socket held by several descriptors is listed once, under its first.
    Ok(fds
        .into_iter()
        .filter_map(|(fd, inode)| Some((fd, found.remove(&inode)?)))
        .collect())
}

/// A sock_diag socket, when PID shares kashim's network namespace (the lookups happen there).
fn same_namespace_diag(pid: i32) -> Option<SockDiag> {
    let theirs = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok()?;
    let ours = std::fs::read_link("/proc/self/ns/net").ok()?;
    if theirs != ours {
        return None;
    }
    SockDiag::open().ok()
}

impl Survey {
    /// Reads the process's TCP sockets, and their options through `pidfd` when permitted.
    pub fn take(
        pid: i32,
        pidfd: std::result::Result<&PidFd, &String>,
        label: &str,
    ) -> Result<Survey> {
        let sockets = tcp_sockets(pid, label, pidfd.ok())?;
        let command = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|c| c.trim_end().to_string())
            .unwrap_or_else(|_| "?".into());
        let mut opts_unreadable = pidfd.err().cloned();
        let pidfd = pidfd.ok();
        let mut entries = Vec::with_capacity(sockets.len());
        for (fd, sock) in sockets {
            let mut opts = None;
            if let (Some(pidfd), None) = (pidfd, &opts_unreadable) {
                match pidfd.dup_socket(fd, sock.inode) {
                    Ok(dup) => opts = sockopt::read(dup.as_fd()).ok(),
                    Err(DupError::NotPermitted(_)) => {
                        opts_unreadable = Some(format!(
                            "reading the options (pidfd_getfd) is not permitted: it {}",
                            permission_hint()
                        ));
                    }
                    Err(DupError::NoSyscall) => {
                        opts_unreadable = Some(
                            "reading the options needs Linux 5.6 or newer (pidfd_getfd)".into(),
                        )
                    }
                    Err(DupError::Exited) => {
                        return Err(Error::failure(format!(
                            "{label}: the process exited meanwhile"
                        )))
                    }
                    // Closed meanwhile: shown as /proc saw it a moment ago.
                    Err(DupError::Gone) | Err(DupError::Other(_)) => {}
                }
            }
            entries.push(Entry { fd, sock, opts });
        }
        if entries.is_empty() {
            opts_unreadable = None;
        }
        Ok(Survey {
            pid,
            command,
            entries,
            opts_unreadable,
        })
    }

    fn connections(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| !e.sock.listening())
    }
    pub fn total(&self) -> usize {
        self.connections().count()
    }
    pub fn with_keepalive(&self) -> usize {
        self.connections()
            .filter(|e| e.keepalive() == Some(true))
            .count()
    }
    pub fn listeners(&self) -> usize {
        self.entries.iter().filter(|e| e.sock.listening()).count()
    }
    /// Unknown (a retransmit timer hiding keepalive) counts as not shown to have it.
    pub fn all_have_keepalive(&self) -> bool {
        self.with_keepalive() == self.total()
    }

    fn fires_in(&self, e: &Entry) -> Option<f64> {
        (e.sock.timer == Timer::Keepalive).then(|| e.sock.when_ms as f64 / 1000.0)
    }

    fn keepalive_text(&self, e: &Entry) -> String {
        if e.sock.listening() {
            return match e.opts.map(|o| o.on) {
                Some(true) => "on (listening: accepted connections inherit it)".into(),
                Some(false) => "off (listening: accepted connections inherit that)".into(),
                None => "- (listening: accepted connections inherit its settings)".into(),
            };
        }
        match e.keepalive() {
            Some(true) => match e.sock.timer {
                Timer::Keepalive => {
                    // Tenths of a second, truncated.
                    let tenths = e.sock.when_ms / 100;
                    let mut text = format!("yes, fires in {}.{}s", tenths / 10, tenths % 10);
                    if e.sock.probes > 0 {
                        text.push_str(&format!(", {} unanswered probe(s)", e.sock.probes));
                    }
                    text
                }
                Timer::None => "yes".into(),
                other => format!("yes (the {} timer runs now)", other.name().unwrap_or("?")),
            },
            Some(false) => "NO".into(),
            None => "unknown (a retransmit timer hides it)".into(),
        }
    }

    fn timers_text(e: &Entry) -> String {
        match e.opts {
            Some(o) if o.on => o.timers_text(),
            Some(_) => "-".into(),
            None => "?".into(),
        }
    }

    /// The table, its notes and the "K of N" line; with `attach`, one more column.
    pub fn table(&self, attach: Option<&dyn AttachColumn>) -> String {
        let mut out = format!(
            "process {} ({}): {} TCP connection(s), {} listening socket(s)\n",
            self.pid,
            self.command,
            self.total(),
            self.listeners()
        );
        let mut rows: Vec<Vec<String>> = Vec::new();
        for e in &self.entries {
            let mut row = vec![
                show_addr(&e.sock.local),
                show_addr(&e.sock.remote),
                e.sock.state_name().to_string(),
                Self::timers_text(e),
                self.keepalive_text(e),
            ];
            if let Some(a) = attach {
                row.push(a.outcome(e.sock.inode).0);
            }
            rows.push(row);
        }
        if !rows.is_empty() {
            let mut header: Vec<String> =
                ["LOCAL", "REMOTE", "STATE", "IDLE/INTVL/CNT", "KEEPALIVE"]
                    .map(String::from)
                    .to_vec();
            if attach.is_some() {
                header.push("ATTACH".into());
            }
            rows.insert(0, header);
            let columns = rows[0].len();
            let widths: Vec<usize> = (0..columns)
                .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
                .collect();
            for row in &rows {
                let mut line = String::new();
                for (c, cell) in row.iter().enumerate() {
                    if c + 1 == columns {
                        line.push_str(cell);
                    } else {
                        line.push_str(&format!("{cell:<width$}  ", width = widths[c]));
                    }
                }
                out.push_str(line.trim_end());
                out.push('\n');
            }
        }
        let unknown = self
            .connections()
            .filter(|e| e.keepalive().is_none())
            .count();
        if unknown > 0 {
            out.push_str(&format!(
                "note: {unknown} connection(s) have unacknowledged data in flight; the kernel shows the retransmit timer instead of keepalive (look again in a moment)\n"
            ));
        }
        if let Some(why) = &self.opts_unreadable {
            out.push_str(&format!(
                "note: IDLE/INTVL/CNT shows ? because {why}; KEEPALIVE is judged from the kernel's timers\n"
            ));
        }
        out.push_str(&format!(
            "{} of {} connections have keepalive\n",
            self.with_keepalive(),
            self.total()
        ));
        out
    }

    pub fn json(&self, attach: Option<&dyn AttachColumn>) -> Json {
        let sockets = self
            .entries
            .iter()
            .map(|e| {
                let o = e.opts;
                let mut fields = vec![
                    ("fd", Json::num(e.fd)),
                    ("local", Json::str(show_addr(&e.sock.local))),
                    ("remote", Json::str(show_addr(&e.sock.remote))),
                    ("state", Json::str(e.sock.state_name())),
                    ("listening", Json::Bool(e.sock.listening())),
                    ("keepalive", Json::opt(e.keepalive(), Json::Bool)),
                    ("timer", Json::opt(e.sock.timer.name(), Json::str)),
                    ("fires_in_s", Json::opt(self.fires_in(e), Json::num)),
                    ("unanswered_probes", Json::num(e.sock.probes)),
                    ("idle_s", Json::opt(o, |o| Json::num(o.idle_s))),
                    ("interval_s", Json::opt(o, |o| Json::num(o.interval_s))),
                    ("count", Json::opt(o, |o| Json::num(o.count))),
                    (
                        "user_timeout_ms",
                        Json::opt(o, |o| Json::num(o.user_timeout_ms)),
                    ),
                ];
                if let Some(a) = attach {
                    fields.push(("attach", a.outcome(e.sock.inode).1));
                }
                Json::Obj(fields)
            })
            .collect();
        Json::Obj(vec![
            ("pid", Json::num(self.pid)),
            ("command", Json::str(&self.command)),
            ("connections", Json::num(self.total())),
            ("with_keepalive", Json::num(self.with_keepalive())),
            ("listening", Json::num(self.listeners())),
            ("all_have_keepalive", Json::Bool(self.all_have_keepalive())),
            ("options_read", Json::Bool(self.opts_unreadable.is_none())),
            (
                "options_unreadable_why",
                Json::opt(self.opts_unreadable.as_ref(), Json::str),
            ),
            ("sockets", Json::Arr(sockets)),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(fd: RawFd, line: &str, opts: Option<Keepalive>) -> Entry {
        Entry {
            fd,
            sock: proc_net::parse_line(line).unwrap(),
            opts,
        }
    }

    const ON: Keepalive = Keepalive {
        on: true,
        idle_s: 30,
        interval_s: 10,
        count: 6,
        user_timeout_ms: 0,
    };

    // Lines as a little-endian kernel prints them: a listener, a connection with the keepalive
    // timer at 25.0 s (2500 ticks), one with no timer, one behind a retransmit timer.
    const LISTEN: &str =
        "0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 10 1 0";
    const KA: &str =
        "1: 0100007F:1F90 0100007F:A000 01 00000000:00000000 02:000009C4 00000000 0 0 11 1 0";
    const NONE: &str =
        "2: 0100007F:1F90 0100007F:A001 01 00000000:00000000 00:00000000 00000000 0 0 12 1 0";
    const RETRANS: &str =
        "3: 0100007F:1F90 0100007F:A002 01 00000000:00000000 01:00000010 00000000 0 0 13 1 0";

    fn survey(entries: Vec<Entry>, unreadable: Option<&str>) -> Survey {
        Survey {
            pid: 42,
            command: "srv".into(),
            entries,
            opts_unreadable: unreadable.map(String::from),
        }
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn the_table_reads_options_when_it_can() {
        let s = survey(
            vec![
                entry(3, LISTEN, Some(ON)),
                entry(4, KA, Some(ON)),
                entry(5, NONE, Some(Keepalive { on: false, ..ON })),
            ],
            None,
        );
        let text = s.table(None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "process 42 (srv): 2 TCP connection(s), 1 listening socket(s)"
        );
        assert!(lines[1].starts_with("LOCAL "), "{text}");
        assert!(lines[1].ends_with("IDLE/INTVL/CNT  KEEPALIVE"), "{text}");
        assert!(lines[2].contains("LISTEN       30s/10s/6"), "{text}");
        assert!(
            lines[3].ends_with("30s/10s/6       yes, fires in 25.0s"),
            "{text}"
        );
        assert!(lines[4].ends_with(" -               NO"), "{text}");
        assert_eq!(lines.last(), Some(&"1 of 2 connections have keepalive"));
        assert!(!s.all_have_keepalive());
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn without_options_the_timers_decide() {
        let s = survey(
            vec![entry(4, KA, None), entry(6, RETRANS, None)],
            Some("reading the options is not permitted"),
        );
        let text = s.table(None);
        assert!(
            text.contains("?               yes, fires in 25.0s"),
            "{text}"
        );
        assert!(
            text.contains("unknown (a retransmit timer hides it)"),
            "{text}"
        );
        assert!(text.contains("note: 1 connection(s) have unacknowledged data in flight"));
        assert!(text.contains(
            "note: IDLE/INTVL/CNT shows ? because reading the options is not permitted;"
        ));
        // Unknown is not shown to have keepalive: exit 1.
        assert_eq!((s.with_keepalive(), s.total()), (1, 2));
        assert!(!s.all_have_keepalive());
        let json = s.json(None).to_text();
        assert!(
            json.contains(r#""keepalive":null,"timer":"retransmit""#),
            "{json}"
        );
        assert!(json.contains(r#""fires_in_s":25,"#), "{json}");
        assert!(json.contains(r#""options_read":false"#), "{json}");
    }

    #[test]
    fn no_connections_is_all_of_them() {
        assert!(survey(Vec::new(), None).all_have_keepalive());
    }
}
