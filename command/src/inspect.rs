//! `kashim --inspect PID`: the TCP connections of a process, their keepalive and how long each
//! has been idle, judged against a threshold (`--idle`, default 60 s): a connection is at risk
//! when keepalive is off or its first probe comes later than the threshold
//! ([`kashim_config::keepalive`], the one rule).
//!
//! The sockets come from /proc (the process's descriptors and its network namespace's TCP tables);
//! each one's keepalive options are read with getsockopt on a pidfd_getfd duplicate when kashim
//! has ptrace rights over the process, and otherwise judged from the timer /proc shows. The
//! target is only read: never stopped, signalled or changed. `attach` prints the same view.

use crate::cli::Invocation;
use crate::error::{Error, Result, EXIT_FAILURE};
use crate::kernel_defaults;
use crate::pidfd::{permission_hint, DupError, PidFd};
use crate::proc_net::{self, show_addr, TcpSocket, Timer};
use crate::sock_diag::{self, SockDiag};
use crate::sockopt::{self, errno_text, Keepalive};
use kashim_config::keepalive::{self, Judgement, Timers};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::io;
use std::os::fd::{AsFd, RawFd};
use std::process::ExitCode;

pub fn main(inv: &Invocation, pid: Option<i32>) -> Result<ExitCode> {
    let threshold_s = threshold(inv)?;
    let Some(pid) = pid else {
        return crate::host::main(inv, threshold_s);
    };
    let label = format!("--inspect {pid}");
    check_process(pid, &label)?;
    let pidfd = PidFd::open(pid).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOSYS) => "reading the options needs Linux 5.6 or newer (pidfd_open)".into(),
        _ => format!("pidfd_open failed: {}", errno_text(&e)),
    });
    let judging = Judging {
        threshold_s,
        defaults: kernel_defaults::of_pid_or_linux(pid),
    };
    let survey = Survey::take(pid, pidfd.as_ref(), &label, judging)?;
    if inv.json {
        print_out(&(survey.json(None).to_string() + "\n"));
    } else {
        print_out(&survey.table(None));
    }
    Ok(if survey.none_at_risk() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILURE)
    })
}

/// The threshold is `--idle` alone: a KASHIM_IDLE in the environment is meant for programs
/// started under kashim, not for an audit.
pub fn threshold(inv: &Invocation) -> Result<u32> {
    let none: [(std::ffi::OsString, std::ffi::OsString); 0] = [];
    Ok(crate::settings::resolve(none, &inv.settings)?.config.idle_s)
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

/// PID must be a process with sockets to look at: a thread's id also has a (hidden) /proc entry
/// but no pidfd; a zombie and a kernel thread have no descriptors at all.
pub fn check_process(pid: i32, label: &str) -> Result<()> {
    if let Some((comm, state, flags)) = stat(pid) {
        const PF_KTHREAD: u64 = 0x0020_0000;
        if state == 'Z' {
            return Err(Error::failure(format!(
                "{label}: process {pid} ({comm}) is a zombie: it has exited and holds no sockets (its parent has not collected its exit status yet)"
            )));
        }
        if flags & PF_KTHREAD != 0 {
            return Err(Error::failure(format!(
                "{label}: {pid} ({comm}) is a kernel thread: it has no sockets of its own to inspect or attach"
            )));
        }
    }
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

/// The command name, state letter and flags of /proc/PID/stat.
fn stat(pid: i32) -> Option<(String, char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    Some((
        comm,
        rest.first()?.chars().next()?,
        rest.get(6)?.parse().ok()?,
    ))
}

/// What a survey judges against: the threshold, and the network namespace's default timers
/// (keepalive on with those counts as nobody's choice).
#[derive(Clone, Copy, Debug)]
pub struct Judging {
    pub threshold_s: u32,
    pub defaults: Timers,
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
    pub fn judgement(&self, defaults: Timers) -> Option<Judgement> {
        self.opts
            .map(|o| keepalive::judge(o.on, o.timers(), defaults))
    }

    /// At risk: keepalive off, or a first probe later than the threshold. Without the options,
    /// a keepalive timer due later than the threshold settles it too; otherwise `None`.
    pub fn at_risk(&self, threshold_s: u32) -> Option<bool> {
        match (self.opts, self.keepalive()) {
            (Some(o), _) => Some(keepalive::at_risk(o.on, o.idle_s, threshold_s)),
            (None, Some(false)) => Some(true),
            (None, Some(true))
                if self.sock.timer == Timer::Keepalive
                    && self.sock.when_ms > u64::from(threshold_s) * 1000 =>
            {
                Some(true)
            }
            (None, _) => None,
        }
    }

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
    pub judging: Judging,
}

/// What `attach` did to one socket, for its extra column: the text and the JSON value.
pub trait AttachColumn {
    fn outcome(&self, inode: u64) -> (String, Value);
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

/// `12.3s` below 100 s, whole seconds above.
pub fn seconds_text(ms: u64) -> String {
    if ms < 100_000 {
        format!("{}.{}s", ms / 1000, ms % 1000 / 100)
    } else {
        format!("{}s", ms / 1000)
    }
}

impl Survey {
    /// Reads the process's TCP sockets, and their options through `pidfd` when permitted.
    pub fn take(
        pid: i32,
        pidfd: std::result::Result<&PidFd, &String>,
        label: &str,
        judging: Judging,
    ) -> Result<Survey> {
        let sockets = tcp_sockets(pid, label, pidfd.ok())?;
        let command = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|c| c.trim_end().to_string())
            .unwrap_or_else(|_| "?".into());
        let mut opts_unreadable = pidfd.err().cloned();
        let pidfd = pidfd.ok();
        let mut entries = Vec::with_capacity(sockets.len());
        for (fd, mut sock) in sockets {
            let mut opts = None;
            if let (Some(pidfd), None) = (pidfd, &opts_unreadable) {
                match pidfd.dup_socket(fd, sock.inode) {
                    Ok(dup) => {
                        opts = sockopt::read(dup.as_fd()).ok();
                        if sock.idle_ms.is_none() && !sock.listening() {
                            sock.idle_ms = sockopt::idle_ms(dup.as_fd()).ok();
                        }
                    }
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
            judging,
        })
    }

    pub fn connections(&self) -> impl Iterator<Item = &Entry> {
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
    pub fn at_risk(&self) -> usize {
        self.connections()
            .filter(|e| e.at_risk(self.judging.threshold_s) == Some(true))
            .count()
    }
    /// Connections whose risk cannot be told (options unreadable, keepalive timer hidden).
    pub fn unknown(&self) -> usize {
        self.connections()
            .filter(|e| e.at_risk(self.judging.threshold_s).is_none())
            .count()
    }
    /// Exit 0 only then: an unknown connection is not shown to be safe.
    pub fn none_at_risk(&self) -> bool {
        self.at_risk() == 0 && self.unknown() == 0
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
        let defaults = e.judgement(self.judging.defaults) == Some(Judgement::DefaultTimers);
        let yes = if defaults {
            "yes (kernel defaults)"
        } else {
            "yes"
        };
        match e.keepalive() {
            Some(true) => match e.sock.timer {
                Timer::Keepalive => {
                    let mut text = format!("{yes}, fires in {}", seconds_text(e.sock.when_ms));
                    if e.sock.probes > 0 {
                        text.push_str(&format!(", {} unanswered probe(s)", e.sock.probes));
                    }
                    text
                }
                Timer::None => yes.into(),
                other => format!("{yes} (the {} timer runs now)", other.name().unwrap_or("?")),
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

    fn idle_text(e: &Entry) -> String {
        match (e.sock.listening(), e.sock.idle_ms) {
            (true, _) => "-".into(),
            (false, Some(ms)) => seconds_text(ms),
            (false, None) => "?".into(),
        }
    }

    pub fn risk_text(&self, e: &Entry) -> String {
        if e.sock.listening() {
            return "-".into();
        }
        let threshold = self.judging.threshold_s;
        match (e.at_risk(threshold), e.opts) {
            (Some(false), _) => "ok".into(),
            (Some(true), Some(o)) if o.on => {
                format!("AT RISK: first probe after {}s > {threshold}s", o.idle_s)
            }
            (Some(true), _) => "AT RISK: no keepalive".into(),
            (None, _) => "?".into(),
        }
    }

    /// One row per socket (`only_at_risk`: connections at risk only), for [`Survey::table`]
    /// and the host-wide audit.
    pub fn rows(&self, attach: Option<&dyn AttachColumn>, only_at_risk: bool) -> Vec<Vec<String>> {
        self.entries
            .iter()
            .filter(|e| {
                !only_at_risk
                    || (!e.sock.listening() && e.at_risk(self.judging.threshold_s) != Some(false))
            })
            .map(|e| {
                let mut row = vec![
                    show_addr(&e.sock.local),
                    show_addr(&e.sock.remote),
                    e.sock.state_name().to_string(),
                    Self::timers_text(e),
                    self.keepalive_text(e),
                    Self::idle_text(e),
                    self.risk_text(e),
                ];
                if let Some(a) = attach {
                    row.push(a.outcome(e.sock.inode).0);
                }
                row
            })
            .collect()
    }

    /// The table, its notes and the summary line; with `attach`, one more column.
    pub fn table(&self, attach: Option<&dyn AttachColumn>) -> String {
        let mut out = format!(
            "process {} ({}): {} TCP connection(s), {} listening socket(s)\n",
            self.pid,
            self.command,
            self.total(),
            self.listeners()
        );
        let rows = self.rows(attach, false);
        if !rows.is_empty() {
            let mut header: Vec<String> = HEADER.map(String::from).to_vec();
            if attach.is_some() {
                header.push("ATTACH".into());
            }
            out.push_str(&columns(header, rows));
        }
        let hidden = self
            .connections()
            .filter(|e| e.keepalive().is_none())
            .count();
        if hidden > 0 {
            out.push_str(&format!(
                "note: {hidden} connection(s) have unacknowledged data in flight; the kernel shows the retransmit timer instead of keepalive (look again in a moment)\n"
            ));
        }
        if let Some(why) = &self.opts_unreadable {
            out.push_str(&format!(
                "note: IDLE/INTVL/CNT shows ? because {why}; KEEPALIVE is judged from the kernel's timers\n"
            ));
        }
        let defaults = self
            .connections()
            .filter(|e| e.judgement(self.judging.defaults) == Some(Judgement::DefaultTimers))
            .count();
        if defaults > 0 {
            let d = self.judging.defaults;
            out.push_str(&format!(
                "note: {defaults} connection(s) have keepalive on with the kernel's default timers ({}s/{}s/{}): the first probe comes after {}s idle\n",
                d.idle_s, d.interval_s, d.count, d.idle_s
            ));
        }
        out.push_str(&self.summary());
        out
    }

    /// `K of N connections at risk (...)`, the report's last line.
    pub fn summary(&self) -> String {
        let unknown = match self.unknown() {
            0 => String::new(),
            n => format!("; {n} not known"),
        };
        format!(
            "{} of {} connections at risk (no keepalive, or a first probe after more than {}s idle){unknown}\n",
            self.at_risk(),
            self.total(),
            self.judging.threshold_s
        )
    }

    pub fn socket_json(&self, e: &Entry, attach: Option<&dyn AttachColumn>) -> Value {
        let o = e.opts;
        let judgement = e.judgement(self.judging.defaults).map(|j| match j {
            Judgement::Off => "off",
            Judgement::DefaultTimers => "default_timers",
            Judgement::ChosenTimers => "chosen_timers",
        });
        let mut v = json!({
            "fd": e.fd,
            "local": show_addr(&e.sock.local),
            "remote": show_addr(&e.sock.remote),
            "state": e.sock.state_name(),
            "listening": e.sock.listening(),
            "keepalive": e.keepalive(),
            "keepalive_timers": judgement,
            "timer": e.sock.timer.name(),
            "fires_in_s": self.fires_in(e),
            "unanswered_probes": e.sock.probes,
            "idle_s": o.map(|o| o.idle_s),
            "interval_s": o.map(|o| o.interval_s),
            "count": o.map(|o| o.count),
            "user_timeout_ms": o.map(|o| o.user_timeout_ms),
            "idle_for_s": e.sock.idle_ms.filter(|_| !e.sock.listening()).map(|ms| ms as f64 / 1000.0),
            "at_risk": if e.sock.listening() { None } else { e.at_risk(self.judging.threshold_s) },
        });
        if let Some(a) = attach {
            v["attach"] = a.outcome(e.sock.inode).1;
        }
        v
    }

    pub fn json(&self, attach: Option<&dyn AttachColumn>) -> Value {
        let d = self.judging.defaults;
        json!({
            "pid": self.pid,
            "command": self.command,
            "threshold_s": self.judging.threshold_s,
            "namespace_defaults": {"idle_s": d.idle_s, "interval_s": d.interval_s, "count": d.count},
            "connections": self.total(),
            "with_keepalive": self.with_keepalive(),
            "at_risk": self.at_risk(),
            "unknown": self.unknown(),
            "listening": self.listeners(),
            "options_read": self.opts_unreadable.is_none(),
            "options_unreadable_why": self.opts_unreadable,
            "sockets": self.entries.iter().map(|e| self.socket_json(e, attach)).collect::<Vec<_>>(),
        })
    }
}

/// The columns of a process's connection table (`--inspect`, `--attach`, the host audit).
pub const HEADER: [&str; 7] = [
    "LOCAL",
    "REMOTE",
    "STATE",
    "IDLE/INTVL/CNT",
    "KEEPALIVE",
    "IDLE FOR",
    "RISK",
];

/// Left-aligned columns; the last one is not padded.
pub fn columns(header: Vec<String>, mut rows: Vec<Vec<String>>) -> String {
    rows.insert(0, header);
    let count = rows[0].len();
    let widths: Vec<usize> = (0..count)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == count {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
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
    const DEFAULTS: Keepalive = Keepalive {
        on: true,
        idle_s: 7200,
        interval_s: 75,
        count: 9,
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
            judging: Judging {
                threshold_s: 60,
                defaults: Timers::LINUX,
            },
        }
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn the_table_reads_options_when_it_can() {
        let mut idle = entry(4, KA, Some(ON));
        idle.sock.idle_ms = Some(4_200);
        let s = survey(
            vec![
                entry(3, LISTEN, Some(ON)),
                idle,
                entry(5, NONE, Some(Keepalive { on: false, ..ON })),
                entry(7, NONE, Some(DEFAULTS)),
            ],
            None,
        );
        let text = s.table(None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "process 42 (srv): 3 TCP connection(s), 1 listening socket(s)"
        );
        assert!(lines[1].starts_with("LOCAL "), "{text}");
        let cells = |line: &str| {
            line.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            cells(lines[1])[3..],
            ["IDLE/INTVL/CNT", "KEEPALIVE", "IDLE FOR", "RISK"]
        );
        assert!(lines[2].contains("LISTEN       30s/10s/6"), "{text}");
        assert_eq!(
            cells(lines[3])[3..],
            ["30s/10s/6", "yes, fires in 25.0s", "4.2s", "ok"]
        );
        assert_eq!(
            cells(lines[4])[3..],
            ["-", "NO", "?", "AT RISK: no keepalive"]
        );
        assert_eq!(
            cells(lines[5])[3..],
            [
                "7200s/75s/9",
                "yes (kernel defaults)",
                "?",
                "AT RISK: first probe after 7200s > 60s"
            ]
        );
        assert!(text.contains("note: 1 connection(s) have keepalive on with the kernel's default timers (7200s/75s/9)"));
        assert_eq!(
            lines.last(),
            Some(&"2 of 3 connections at risk (no keepalive, or a first probe after more than 60s idle)")
        );
        assert!(!s.none_at_risk());
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
        // Without the timers, the risk is not known: exit 1.
        assert_eq!((s.with_keepalive(), s.at_risk(), s.unknown()), (1, 0, 2));

        assert!(!s.none_at_risk());
        let json = s.json(None);
        assert_eq!(json["sockets"][1]["keepalive"], Value::Null);
        assert_eq!(json["sockets"][1]["timer"], "retransmit");
        assert_eq!(json["sockets"][0]["fires_in_s"], 25.0);
        assert_eq!(json["options_read"], false);
        // A keepalive timer due in 25 s is later than a 20 s threshold: at risk for sure.
        let strict = Survey {
            judging: Judging {
                threshold_s: 20,
                ..s.judging
            },
            ..s
        };
        assert_eq!((strict.at_risk(), strict.unknown()), (1, 1));
    }

    #[test]
    fn no_connections_is_none_at_risk() {
        assert!(survey(Vec::new(), None).none_at_risk());
    }

    #[test]
    fn seconds_are_shown_in_tenths_then_whole() {
        assert_eq!(seconds_text(4_260), "4.2s");
        assert_eq!(seconds_text(7_199_800), "7199s");
    }
}
