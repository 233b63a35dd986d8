//! `kashim --probe HOST:PORT`: measures how long the path to a TCP server keeps an idle
//! connection, how it forgets one, and whether keepalive can hold it (see docs/probe.md).
//!
//! All connections are watched from one thread with poll(2); each tick reads what the kernel
//! knows about them (tcp_info: when the far end last acknowledged anything) and hands it to
//! `plan`, which decides. No data is ever sent. SIGINT and SIGTERM close every connection.

mod plan;
mod report;
pub mod target;

use crate::cli::Invocation;
use crate::error::{Error, Result};
use crate::sockopt::errno_text;
use plan::{How, Probe, Step};
use std::io::{self, IsTerminal, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};
use target::Target;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const TICK_MS: i32 = 100;
/// A progress line this often when stderr is not a terminal (a terminal gets one per second).
const PROGRESS_EVERY_S: f64 = 60.0;

pub fn main(inv: &Invocation, target: &Target, max_s: u32) -> Result<ExitCode> {
    let addrs = target.resolve()?;
    let stderr_tty = io::stderr().is_terminal();
    let progress = Progress {
        on: !inv.json || stderr_tty,
        tty: stderr_tty,
    };
    install_signal_handlers();
    let mut run = Run {
        target,
        addr: addrs[0],
        start: Instant::now(),
        probe: Probe::new(),
        streams: Vec::new(),
        seen: Vec::new(),
        progress,
    };
    // The first connection picks the address and says whether the target answers at all.
    let mut last_err = None;
    for addr in &addrs {
        run.addr = *addr;
        match run.open(1, plan::ladder(max_s)[0]) {
            Ok(()) => {
                last_err = None;
                break;
            }
            Err(e) => last_err = Some(e),
        }
    }
    if let Some(e) = last_err {
        return Err(Error::failure(format!(
            "--probe {target}: cannot connect to {}: {}",
            run.addr,
            connect_error_text(&e)
        )));
    }
    let rungs = plan::ladder(max_s);
    for idle in &rungs[1..] {
        run.open(1, *idle).map_err(|e| run.connect_failed(&e))?;
    }
    run.progress.line(&format!(
        "probing {target} ({}): {} connections, first probes after {}; the probe takes about \
         twice the idle timeout it finds, at most about {}",
        run.addr,
        rungs.len(),
        rungs
            .iter()
            .map(|t| report::secs(*t as f64))
            .collect::<Vec<_>>()
            .join(" "),
        report::secs(deadline(max_s)),
    ));
    let finding = run.watch(deadline(max_s))?;
    let elapsed = run.now();
    let result = report::Report::new(target, run.addr, max_s, &run.probe, &finding, elapsed);
    run.progress.clear();
    if inv.json {
        crate::inspect::print_out(&(result.json() + "\n"));
    } else {
        crate::inspect::print_out(&result.text());
    }
    Ok(ExitCode::SUCCESS)
}

struct Run<'a> {
    target: &'a Target,
    addr: SocketAddr,
    start: Instant,
    probe: Probe,
    /// One per `probe.conns` entry; None once closed or lost.
    streams: Vec<Option<TcpStream>>,
    /// Per connection, from the last tick's tcp_info: segments received, data segments
    /// received, and when the far end last acknowledged anything.
    seen: Vec<(u32, u32, f64)>,
    progress: Progress,
}

impl Run<'_> {
    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn open(&mut self, round: u8, idle_s: u32) -> io::Result<()> {
        let stream = TcpStream::connect_timeout(&self.addr, CONNECT_TIMEOUT)?;
        stream.set_nonblocking(true)?;
        let fd = stream.as_raw_fd();
        // SAFETY: fd is the stream's, open for the calls.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        for (level, name, value) in [
            (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, idle_s as i32),
            (
                libc::IPPROTO_TCP,
                libc::TCP_KEEPINTVL,
                plan::PROBE_INTERVAL_S as i32,
            ),
            (
                libc::IPPROTO_TCP,
                libc::TCP_KEEPCNT,
                plan::PROBE_COUNT as i32,
            ),
            (libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1),
        ] {
            crate::sockopt::set(fd, level, name, value)?;
        }
        let now = self.now();
        self.probe.conns.push(plan::Conn::new(round, idle_s, now));
        self.streams.push(Some(stream));
        self.seen.push((0, 0, now));
        Ok(())
    }

    fn connect_failed(&self, e: &io::Error) -> Error {
        Error::failure(format!(
            "--probe {}: connection {} failed after the first succeeded: {}",
            self.target,
            self.probe.conns.len() + 1,
            connect_error_text(e)
        ))
    }

    /// Ticks until the plan is done; closes every connection on the way out.
    fn watch(&mut self, deadline: f64) -> Result<plan::Finding> {
        let mut last_progress = 0.0;
        let mut last_summary = String::new();
        loop {
            self.poll_once()?;
            let now = self.now();
            if now > deadline {
                self.close_all();
                let talkative = self
                    .probe
                    .conns
                    .iter()
                    .any(|c| c.quiet_since > c.opened + 1.0);
                return Err(Error::failure(format!(
                    "--probe {}: no finding after {}{}",
                    self.target,
                    report::secs(now),
                    if talkative {
                        ": the server sends data on its own, so the connections never stay quiet; \
                         probe a port whose server waits for the client"
                    } else {
                        ""
                    }
                )));
            }
            for i in 0..self.probe.conns.len() {
                self.observe(i, now);
            }
            let step = self.probe.step(now);
            self.drop_closed();
            match step {
                Step::Wait => {}
                Step::Open(idles) => {
                    self.progress.line(&format!(
                        "{}: {}; narrowing with {} connections ({})",
                        report::secs(now),
                        report::progress_summary(&self.probe),
                        idles.len(),
                        idles
                            .iter()
                            .map(|t| report::secs(*t as f64))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ));
                    for idle in idles {
                        self.open(2, idle).map_err(|e| self.connect_failed(&e))?;
                    }
                    last_summary = report::progress_summary(&self.probe);
                }
                Step::Done(finding) => return Ok(finding),
                Step::Unanswered { idle_s } => {
                    self.close_all();
                    return Err(Error::failure(format!(
                        "--probe {}: the connection with idle {} sent its first keepalive probe \
                         long ago and saw neither an answer nor a loss; cannot judge this path",
                        self.target,
                        report::secs(idle_s as f64)
                    )));
                }
                Step::Refused { closed, of } => {
                    self.close_all();
                    return Err(Error::failure(format!(
                        "--probe {}: the server closed {closed} of {of} connections right after \
                         they opened (a limit on connections, such as sshd's MaxStartups?); try a \
                         smaller --max, which needs fewer connections",
                        self.target
                    )));
                }
            }
            let summary = report::progress_summary(&self.probe);
            if summary != last_summary {
                self.progress
                    .line(&format!("{}: {summary}", report::secs(now)));
                last_summary = summary;
            } else if self.progress.tty && now - last_progress >= 1.0 {
                self.progress.status(&format!(
                    "{}: {summary}; {} open; this round ends within {}",
                    report::secs(now),
                    self.streams.iter().flatten().count(),
                    report::secs(self.probe.phase_left(now).ceil())
                ));
                last_progress = now;
            } else if !self.progress.tty && now - last_progress >= PROGRESS_EVERY_S {
                self.progress.line(&format!(
                    "{}: still waiting: {} connections open; this round ends within {}",
                    report::secs(now),
                    self.streams.iter().flatten().count(),
                    report::secs(self.probe.phase_left(now).ceil())
                ));
                last_progress = now;
            }
        }
    }

    /// Waits up to a tick for something to happen on any open connection; reads it.
    fn poll_once(&mut self) -> Result<()> {
        let mut fds: Vec<libc::pollfd> = Vec::new();
        let mut which = Vec::new();
        for (i, s) in self.streams.iter().enumerate() {
            if let Some(s) = s {
                fds.push(libc::pollfd {
                    fd: s.as_raw_fd(),
                    events: libc::POLLIN | libc::POLLRDHUP,
                    revents: 0,
                });
                which.push(i);
            }
        }
        // SAFETY: fds is a valid array of fds.len() pollfd.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, TICK_MS) };
        if let Some(sig) = interrupted() {
            self.close_all();
            let open = self.probe.conns.len();
            self.progress.clear();
            return Err(Error::new(
                128 + sig as u8,
                format!(
                    "--probe {}: interrupted after {}; closed all {open} connections",
                    self.target,
                    report::secs(self.now())
                ),
            ));
        }
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(Error::failure(format!("poll failed: {}", errno_text(&e))));
        }
        for (pfd, i) in fds.iter().zip(which) {
            if pfd.revents != 0 {
                self.read_from(i);
            }
        }
        Ok(())
    }

    /// Drains what the far end sent (it is never answered); notes a close, reset or timeout.
    fn read_from(&mut self, i: usize) {
        let mut buf = [0u8; 4096];
        loop {
            let Some(stream) = self.streams[i].as_mut() else {
                return;
            };
            match stream.read(&mut buf) {
                Ok(0) => return self.lose(i, How::Fin),
                Ok(n) => {
                    let now = self.now();
                    let conn = &mut self.probe.conns[i];
                    conn.bytes_received += n as u64;
                    if conn.answered.is_none() {
                        conn.quiet_since = now;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let how = match e.raw_os_error() {
                        Some(libc::ETIMEDOUT) | Some(libc::EHOSTUNREACH) => How::Silence,
                        _ => How::Reset,
                    };
                    return self.lose(i, how);
                }
            }
        }
    }

    fn lose(&mut self, i: usize, how: How) {
        let now = self.now();
        self.probe.conns[i].lose(now, how);
        self.streams[i] = None;
    }

    /// Reads the kernel's view of an open connection: when the far end last acknowledged
    /// anything (an answered keepalive probe, or data).
    fn observe(&mut self, i: usize, now: f64) {
        let Some(stream) = &self.streams[i] else {
            return;
        };
        if let Ok(info) = tcp_info(stream) {
            let last_ack = now - info.tcpi_last_ack_recv as f64 / 1000.0;
            // A segment that is not data and moved no acknowledgement is the far end's own
            // keepalive probe (out of window: the kernel answers it and discards it unread).
            let (segs, data_segs, prev_ack) = self.seen[i];
            let own = info.tcpi_segs_in.wrapping_sub(segs)
                > info.tcpi_data_segs_in.wrapping_sub(data_segs);
            if segs > 0 && own && (last_ack - prev_ack).abs() < 0.05 {
                self.probe.conns[i].saw_far_end_probe(now);
            }
            self.seen[i] = (info.tcpi_segs_in, info.tcpi_data_segs_in, last_ack);
            self.probe.conns[i].saw_ack(last_ack);
            if info.tcpi_probes > 0 {
                self.probe.conns[i].saw_probe(now);
            }
        }
    }

    /// Drops the streams of connections the plan closed.
    fn drop_closed(&mut self) {
        for (conn, stream) in self.probe.conns.iter().zip(self.streams.iter_mut()) {
            if !conn.is_open() {
                *stream = None;
            }
        }
    }

    fn close_all(&mut self) {
        let now = self.now();
        for conn in &mut self.probe.conns {
            conn.close(now);
        }
        self.drop_closed();
    }
}

/// The longest a probe can take: the ladder's top rung and a second round, each with its timer's
/// lateness and the silence that ends it, and the hold check.
fn deadline(max_s: u32) -> f64 {
    2.0 * (max_s as f64 + plan::timer_slack(max_s) + plan::SILENCE_S) + 30.0
}

fn tcp_info(stream: &TcpStream) -> io::Result<libc::tcp_info> {
    // SAFETY: tcp_info is plain data; the kernel fills at most len bytes of it.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: info and len are valid for the call.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            &mut info as *mut _ as *mut libc::c_void,
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(info)
}

fn connect_error_text(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::TimedOut => format!(
            "no answer within {} s (a firewall dropping the connection?)",
            CONNECT_TIMEOUT.as_secs()
        ),
        _ => errno_text(e).to_lowercase(),
    }
}

/// Progress on stderr: event lines, and on a terminal a status line redrawn in place.
struct Progress {
    on: bool,
    tty: bool,
}

impl Progress {
    fn line(&self, text: &str) {
        if self.on {
            self.clear();
            eprintln!("kashim: {text}");
        }
    }
    fn status(&self, text: &str) {
        if self.on && self.tty {
            eprint!("\r\x1b[Kkashim: {text}");
        }
    }
    fn clear(&self) {
        if self.on && self.tty {
            eprint!("\r\x1b[K");
        }
    }
}

static SIGNALLED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNALLED.store(sig, Ordering::SeqCst);
}

/// SIGINT and SIGTERM interrupt the wait (no SA_RESTART) and end the probe cleanly.
fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with a handler that only stores an atomic.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

fn interrupted() -> Option<i32> {
    match SIGNALLED.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}
