//! `kashim --attach PID`: keepalive for the TCP sockets of a running process, through
//! pidfd_getfd(2) duplicates; the target is never stopped or signalled.
//!
//! Each TCP socket (IPv4/IPv6, connections and listeners) gets the one rule
//! ([`kashim_config::keepalive::judge`]): keepalive off, or on with the default timers of the
//! socket's network namespace, gets kashim's values; timers the program chose stay, unless
//! --force (replaced) or --force=cap (longer ones lowered). Listeners matter most: the sockets
//! accepted from them later inherit their options in the kernel, unless the program sets its own
//! on each. Each duplicate is closed as soon as its socket is done, and is checked to still be
//! the socket /proc listed (the number may have been closed and reused meanwhile).

use crate::cli::Invocation;
use crate::error::{Error, Result, EXIT_FAILURE};
use crate::inspect::{
    check_process, no_such_process, print_out, tcp_sockets, AttachColumn, Judging, Survey,
};
use crate::kernel_defaults;
use crate::pidfd::{permission_hint, DupError, PidFd};
use crate::proc_net::{show_addr, TcpSocket};
use crate::settings;
use crate::sockopt::{self, errno_text, Applied, Keepalive};
use kashim_config::keepalive::{Judgement, Timers};
use kashim_config::Config;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::os::fd::AsFd;
use std::process::ExitCode;

/// What attach did to one socket.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Done(Applied),
    Failed(String),
    /// Closed by the process between the listing and the duplicate.
    Closed,
}

impl Outcome {
    /// The ATTACH column, the JSON `result`, and the error if any.
    fn describe(&self) -> (String, &'static str, Option<String>) {
        match self {
            Outcome::Done(Applied::Configured {
                found: Judgement::Off,
            }) => ("configured".into(), "configured", None),
            Outcome::Done(Applied::Configured {
                found: Judgement::DefaultTimers,
            }) => (
                "configured (keepalive was on with the kernel's default timers)".into(),
                "configured_default_timers",
                None,
            ),
            Outcome::Done(Applied::Configured {
                found: Judgement::ChosenTimers,
            }) => (
                "configured (replaced the program's own: --force)".into(),
                "replaced_own",
                None,
            ),
            Outcome::Done(Applied::Capped { lowered: true }) => (
                "capped (--force=cap lowered the program's longer timers)".into(),
                "capped",
                None,
            ),
            Outcome::Done(Applied::Capped { lowered: false }) => (
                "left alone: the program's own, within --force=cap".into(),
                "within_cap",
                None,
            ),
            Outcome::Done(Applied::ProgramsOwn) => (
                "left alone: the program's own keepalive".into(),
                "programs_own",
                None,
            ),
            Outcome::Failed(why) => (format!("FAILED: {why}"), "failed", Some(why.clone())),
            Outcome::Closed => ("closed meanwhile".into(), "closed", None),
        }
    }
}

struct Outcomes(HashMap<u64, Outcome>);

impl AttachColumn for Outcomes {
    fn outcome(&self, inode: u64) -> (String, Value) {
        let (text, result, why) = match self.0.get(&inode) {
            Some(outcome) => outcome.describe(),
            // Opened by the process while attach was working.
            None => ("- (new since attach began)".into(), "new", None),
        };
        (text, json!({"result": result, "error": why}))
    }
}

pub fn main(inv: &Invocation, pid: i32) -> Result<ExitCode> {
    let config = settings::resolve(std::env::vars_os(), &inv.settings)?.config;
    if !config.enabled {
        return Err(Error::usage(
            "KASHIM_ENABLED is off in the environment, so --attach would change nothing (unset it)",
        ));
    }
    if let Some(name) = unsupported(&config) {
        // The options are refused by the parser; an inherited variable must not be ignored silently.
        return Err(Error::usage(format!(
            "{name} is set in the environment, but --attach cannot apply it (it configures every TCP socket of the process; unset it)"
        )));
    }
    let label = format!("--attach {pid}");
    check_process(pid, &label)?;
    let pidfd = PidFd::open(pid).map_err(|e| match e.raw_os_error() {
        Some(libc::ESRCH) => no_such_process(&label),
        Some(libc::ENOSYS) => needs_new_kernel(&label),
        _ => Error::failure(format!("{label}: pidfd_open: {}", errno_text(&e))),
    })?;
    let sockets = tcp_sockets(pid, &label, Some(&pidfd))?;
    let judging = Judging {
        threshold_s: config.idle_s,
        defaults: kernel_defaults::of_pid_or_linux(pid),
    };
    let mut before: HashMap<u64, Keepalive> = HashMap::new();
    let mut outcomes = HashMap::new();
    let mut changed = 0;
    for (fd, sock) in &sockets {
        let outcome = match pidfd.dup_socket(*fd, sock.inode) {
            Ok(dup) if !sockopt::is_tcp(dup.as_fd()) => {
                Outcome::Failed("not a TCP socket any more".into())
            }
            // The duplicate is closed at the end of this arm.
            Ok(dup) => {
                if let Ok(opts) = sockopt::read(dup.as_fd()) {
                    before.insert(sock.inode, opts);
                }
                match sockopt::apply(dup.as_fd(), &config, judging.defaults) {
                    Ok(applied) => Outcome::Done(applied),
                    Err(why) => Outcome::Failed(why),
                }
            }
            Err(DupError::NotPermitted(e)) => {
                return Err(Error::failure(format!(
                    "{label}: not permitted to take its sockets (pidfd_getfd: {}); {}{}",
                    errno_text(&e),
                    permission_hint(),
                    changed_so_far(changed)
                )))
            }
            Err(DupError::NoSyscall) => return Err(needs_new_kernel(&label)),
            Err(DupError::Exited) => {
                return Err(Error::failure(format!(
                    "{label}: the process exited while attach was working{}",
                    changed_so_far(changed)
                )))
            }
            Err(DupError::Gone) => Outcome::Closed,
            Err(DupError::Other(e)) => Outcome::Failed(format!("pidfd_getfd: {}", errno_text(&e))),
        };
        if matches!(outcome, Outcome::Done(Applied::Configured { .. })) {
            changed += 1;
        }
        if inv.verbose > 0 {
            eprintln!(
                "kashim: fd {fd} {} {}: {}",
                show_addr(&sock.local),
                show_addr(&sock.remote),
                outcome.describe().0
            );
        }
        outcomes.insert(sock.inode, outcome);
    }

    let after = Survey::take(pid, Ok(&pidfd), &label, judging).map_err(|mut e| {
        if let Some(line) = e.lines.first_mut() {
            line.push_str(&changed_so_far(changed));
        }
        e
    })?;
    let outcomes = Outcomes(outcomes);
    let failed = outcomes.0.values().any(|o| matches!(o, Outcome::Failed(_)));
    let accepting = accepting(&sockets, &before, judging.defaults);
    let covers_future = after.entries.iter().any(|e| e.sock.listening());
    // Sockets that closed meanwhile are gone from the view after; they are named here.
    let still_open: HashSet<u64> = after.entries.iter().map(|e| e.sock.inode).collect();
    let closed: Vec<String> = sockets
        .iter()
        .filter(|(_, s)| {
            outcomes.0.get(&s.inode) == Some(&Outcome::Closed) || !still_open.contains(&s.inode)
        })
        .map(|(fd, s)| format!("fd {fd} ({} {})", show_addr(&s.local), show_addr(&s.remote)))
        .collect();
    if inv.json {
        let mut report = after.json(Some(&outcomes));
        report["settings"] = settings_json(&config);
        report["closed_during_attach"] = json!(closed);
        report["future_accepted_connections_covered"] =
            json!(covers_future && accepting != Accepting::ResetsItsOwn);
        report["program_sets_keepalive_on_accepted"] = match accepting {
            Accepting::ResetsItsOwn => json!(true),
            Accepting::Inherits => json!(false),
            Accepting::Unknown => Value::Null,
        };
        print_out(&(report.to_string() + "\n"));
    } else {
        let mut text = after.table(Some(&outcomes));
        // The summary line stays last.
        let last = text.trim_end().rfind('\n').map_or(0, |i| i + 1);
        let summary = text.split_off(last);
        if !closed.is_empty() {
            text.push_str(&format!(
                "note: closed by the process while attach was working: {}\n",
                closed.join(", ")
            ));
        }
        text.push_str(&future_note(pid, covers_future, accepting, &config));
        let own_long = after
            .connections()
            .filter(|e| {
                e.judgement(judging.defaults) == Some(Judgement::ChosenTimers)
                    && e.at_risk(judging.threshold_s) == Some(true)
            })
            .count();
        if own_long > 0 {
            text.push_str(&format!(
                "note: {own_long} connection(s) keep the program's own timers, with a first probe after more than {}s: --force=cap lowers them (--force replaces them)\n",
                judging.threshold_s
            ));
        }
        text.push_str(&summary);
        print_out(&text);
    }
    Ok(if !failed && after.none_at_risk() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILURE)
    })
}

fn needs_new_kernel(label: &str) -> Error {
    Error::failure(format!(
        "{label}: this kernel has no pidfd_getfd; attach needs Linux 5.6 or newer (restart the program under kashim instead)"
    ))
}

fn changed_so_far(changed: usize) -> String {
    if changed == 0 {
        String::new()
    } else {
        format!(" ({changed} socket(s) had been configured)")
    }
}

/// Whether the program sets keepalive timers itself on the connections it accepts, told from
/// the options its listeners and their accepted connections had before attach changed them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Accepting {
    /// An accepted connection had timers of its own, or keepalive off where its listener had it
    /// on: the program sets them on each.
    ResetsItsOwn,
    /// Every accepted connection had its listener's options.
    Inherits,
    /// No accepted connection to compare with.
    Unknown,
}

fn accepting(
    sockets: &[(std::os::fd::RawFd, TcpSocket)],
    before: &HashMap<u64, Keepalive>,
    defaults: Timers,
) -> Accepting {
    let listeners: HashMap<std::net::SocketAddr, Keepalive> = sockets
        .iter()
        .filter(|(_, s)| s.listening())
        .filter_map(|(_, s)| Some((s.local, *before.get(&s.inode)?)))
        .collect();
    let mut seen = Accepting::Unknown;
    for (_, s) in sockets.iter().filter(|(_, s)| !s.listening()) {
        // An accepted connection has its listener's local port (and address, or the wildcard).
        let listener = listeners.iter().find(|(addr, _)| {
            addr.port() == s.local.port()
                && (addr.ip() == s.local.ip() || addr.ip().is_unspecified())
        });
        if let (Some((_, l)), Some(c)) = (listener, before.get(&s.inode)) {
            // Turning SO_KEEPALIVE on (sshd) keeps the inherited timers; setting timers of its
            // own (Redis) or turning keepalive off does not.
            let own_timers = c.on && c.timers() != l.timers() && c.timers() != defaults;
            if own_timers || (l.on && !c.on) {
                return Accepting::ResetsItsOwn;
            }
            seen = Accepting::Inherits;
        }
    }
    seen
}

fn future_note(pid: i32, covers_future: bool, accepting: Accepting, config: &Config) -> String {
    let ebpf = ebpf_hint(pid, config);
    if covers_future && accepting == Accepting::ResetsItsOwn {
        format!(
            "note: process {pid} sets keepalive itself on the connections it accepts (they had other timers than its listening socket): \
             connections it accepts or opens from now on keep the program's settings, not kashim's; \
             to cover them, restart it under kashim, or {ebpf}\n"
        )
    } else if covers_future {
        let unless = match accepting {
            Accepting::Inherits => "",
            _ => " (unless the program sets its own options on each accepted socket, as Redis does: attach again later to see)",
        };
        format!(
            "note: connections process {pid} accepts from now on inherit keepalive from its listening socket(s){unless}; \
             connections it opens itself later are not covered: for those, restart it under kashim, or {ebpf}\n"
        )
    } else {
        format!(
            "note: process {pid} has no listening socket: connections it opens later will NOT have keepalive. \
             To cover them, restart it under kashim (kashim [options] -- COMMAND), or {ebpf}\n"
        )
    }
}

/// The eBPF mode covers every new connection of a cgroup: name the process's own cgroup (v2),
/// unless it is the root cgroup, which would mean every process of the machine.
fn ebpf_hint(pid: i32, c: &Config) -> String {
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("0::"))
                .map(str::to_string)
        });
    match cgroup {
        Some(path) if path != "/" && !path.contains(char::is_whitespace) => {
            let mut options = format!(
                "--idle {}s --interval {}s --count {}",
                c.idle_s, c.interval_s, c.count
            );
            if let Some(ms) = c.user_timeout_ms {
                options.push_str(&format!(" --user-timeout {ms}ms"));
            }
            if c.force {
                options.push_str(" --force");
            } else if c.force_cap {
                options.push_str(" --force=cap");
            }
            format!(
                "run: kashim --ebpf --cgroup {path} {options} (every new connection of that cgroup's processes)"
            )
        }
        _ => {
            "use kashim --ebpf (its cgroup is the root one: start it in a cgroup of its own)".into()
        }
    }
}

fn settings_json(c: &Config) -> Value {
    json!({
        "idle_s": c.idle_s,
        "interval_s": c.interval_s,
        "count": c.count,
        "user_timeout_ms": c.user_timeout_ms,
        "force": if c.force { json!(true) } else if c.force_cap { json!("cap") } else { json!(false) },
    })
}

/// The settings --attach cannot honour: scope rules (they are decided per connection as it is
/// made) and `CHILDREN` (a library setting).
fn unsupported(config: &kashim_config::Config) -> Option<&'static str> {
    let scope = &config.scope;
    if scope.direction != kashim_config::Direction::Both {
        Some("KASHIM_DIRECTION")
    } else if scope.only.given() {
        Some("KASHIM_ONLY")
    } else if scope.except.given() {
        Some("KASHIM_EXCEPT")
    } else if !config.children {
        Some("KASHIM_CHILDREN=0")
    } else {
        None
    }
}
