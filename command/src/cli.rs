//! The command line: every flag is declared once in [`FLAGS`], with its value, its help and the
//! modes it has an effect in. The parser, `--help`, the bash completion and the man page test all
//! read that table, so they cannot drift apart.
//!
//! Syntax: options come first and stop at the first word that is not an option (or after `--`);
//! each value can also be given as `--opt=VALUE`. Values are only collected here: the keepalive
//! values are judged by the shared configuration rules (see `settings`).

use crate::error::{Error, Result};
use lexopt::{Arg, Parser, ValueExt};
use std::ffi::OsString;
use std::path::PathBuf;

pub use crate::probe::target::Target;

/// What kashim was asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModeKind {
    Run,
    PrintEnv,
    Inspect,
    Attach,
    Ebpf,
    Probe,
}

impl ModeKind {
    /// How the mode is named in messages.
    pub fn flag(self) -> &'static str {
        match self {
            ModeKind::Run => "a run",
            ModeKind::PrintEnv => "--print-env",
            ModeKind::Inspect => "--inspect",
            ModeKind::Attach => "--attach",
            ModeKind::Ebpf => "--ebpf",
            ModeKind::Probe => "--probe",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    None,
    /// The flag needs a value, shown as this placeholder.
    Required(&'static str),
    /// The flag takes a value if the next word is not an option.
    Optional(&'static str),
    /// The flag alone, or with a value written `--flag=VALUE` (never the next word, which is
    /// the COMMAND in `kashim --force curl`).
    Attached(&'static str),
}

pub struct Flag {
    pub long: &'static str,
    pub short: Option<char>,
    pub value: Value,
    /// What the value may be, for "needs a value" messages and the completion.
    pub accepts: &'static str,
    pub help: &'static str,
    /// The modes the flag has an effect in; elsewhere it is an error.
    pub modes: &'static [ModeKind],
    /// The KASHIM_* variable the flag sets, if any.
    pub var: Option<&'static str>,
}

use ModeKind::*;
const KEEPALIVE_MODES: &[ModeKind] = &[Run, PrintEnv, Attach, Ebpf];
const PRELOAD_MODES: &[ModeKind] = &[Run, PrintEnv];
/// Scope rules: the library decides them at connect()/accept(), the eBPF program at connection
/// establishment. --attach does not apply them (yet): an error there, never silently ignored.
const SCOPE_MODES: &[ModeKind] = &[Run, PrintEnv, Ebpf];
/// --no-children changes the environment COMMAND's children inherit: LD_PRELOAD modes only
/// (--ebpf covers the whole cgroup, children included).
const CHILDREN_MODES: &[ModeKind] = &[Run, PrintEnv];
const ANY: &[ModeKind] = &[Run, PrintEnv, Inspect, Attach, Ebpf, Probe];
/// --idle: kashim's idle where it sets keepalive, and the threshold of --inspect and --attach.
const IDLE_MODES: &[ModeKind] = &[Run, PrintEnv, Inspect, Attach, Ebpf];
/// --force=cap: the library applies it at each setsockopt, the eBPF program and --attach to the
/// timers they find.
const CAP_MODES: &[ModeKind] = &[Run, PrintEnv, Attach, Ebpf];

pub const FLAGS: &[Flag] = &[
    Flag {
        long: "--idle",
        short: None,
        value: Value::Required("D"),
        accepts: "a duration such as 30s, 10m or 1h; 1s to 32767s",
        help: "idle time before the first probe (KASHIM_IDLE).\nDefault 60s; 1s to 32767s in whole seconds. With --inspect and --attach also\nthe threshold: a connection is at risk when keepalive is off or its first\nprobe comes later.",
        modes: IDLE_MODES,
        var: Some("KASHIM_IDLE"),
    },
    Flag {
        long: "--interval",
        short: None,
        value: Value::Required("D"),
        accepts: "a duration such as 30s, 10m or 1h; 1s to 32767s",
        help: "time between unanswered probes (KASHIM_INTERVAL).\nDefault 10s; 1s to 32767s in whole seconds.",
        modes: KEEPALIVE_MODES,
        var: Some("KASHIM_INTERVAL"),
    },
    Flag {
        long: "--count",
        short: None,
        value: Value::Required("N"),
        accepts: "a whole number from 1 to 127",
        help: "unanswered probes before the connection is dropped (KASHIM_COUNT).\nDefault 6; 1 to 127.",
        modes: KEEPALIVE_MODES,
        var: Some("KASHIM_COUNT"),
    },
    Flag {
        long: "--user-timeout",
        short: None,
        value: Value::Required("D|auto|off"),
        accepts: "a duration such as 30s or 1500ms, auto, or off",
        help: "TCP_USER_TIMEOUT: longest time sent data may stay unacknowledged\n(KASHIM_USER_TIMEOUT). Default off; 0 to 2147483647 ms; auto means\nidle + interval x count; 0 or off leaves the system default.",
        modes: KEEPALIVE_MODES,
        var: Some("KASHIM_USER_TIMEOUT"),
    },
    Flag {
        long: "--force",
        short: None,
        value: Value::Attached("cap|true"),
        accepts: "cap or true",
        help: "kashim's values replace the program's own keepalive settings\n(KASHIM_FORCE=1). --force=cap: kashim's idle, interval and count are\nupper bounds: longer values of the program are lowered, shorter ones and\nkeepalive turned off stand. Default: the program's own choice wins\n(keepalive on with the kernel's default timers is no choice: kashim sets its own).",
        modes: KEEPALIVE_MODES,
        var: Some("KASHIM_FORCE"),
    },
    Flag {
        long: "--direction",
        short: None,
        value: Value::Required("DIR"),
        accepts: "both, outbound or inbound",
        help: "which connections get keepalive: outbound (the program's connect()),\ninbound (accepted) or both (KASHIM_DIRECTION). Default both.",
        modes: SCOPE_MODES,
        var: Some("KASHIM_DIRECTION"),
    },
    Flag {
        long: "--only",
        short: None,
        value: Value::Required("RULES"),
        accepts: "comma-separated addresses/CIDRs with optional :port[-port], e.g. 10.0.0.0/8,[2001:db8::]/32:443,:5432",
        help: "only connections to (outbound) or from (inbound) these addresses get\nkeepalive (KASHIM_ONLY): comma-separated IPv4 or [IPv6] addresses or CIDRs,\neach with an optional :port or :port-range, e.g. 10.0.0.0/8,:5432.",
        modes: SCOPE_MODES,
        var: Some("KASHIM_ONLY"),
    },
    Flag {
        long: "--except",
        short: None,
        value: Value::Required("RULES"),
        accepts: "comma-separated addresses/CIDRs with optional :port[-port], e.g. 10.0.0.5,:22",
        help: "these connections never get keepalive, even if --only names them\n(KASHIM_EXCEPT). Same rules as --only.",
        modes: SCOPE_MODES,
        var: Some("KASHIM_EXCEPT"),
    },
    Flag {
        long: "--no-children",
        short: None,
        value: Value::None,
        accepts: "",
        help: "only COMMAND's own process gets keepalive: the programs it starts inherit\nneither libkashim.so nor KASHIM_* (KASHIM_CHILDREN=0).",
        modes: CHILDREN_MODES,
        var: Some("KASHIM_CHILDREN"),
    },
    Flag {
        long: "--log",
        short: None,
        value: Value::Required("LEVEL"),
        accepts: "off, warn, info or debug",
        help: "off, warn (configuration problems only), info (one start line) or debug\n(every socket decision) (KASHIM_LOG). Default warn.",
        modes: PRELOAD_MODES,
        var: Some("KASHIM_LOG"),
    },
    Flag {
        long: "--verbose",
        short: Some('v'),
        value: Value::None,
        accepts: "",
        help: "-v: more detail (a run: --log info); -vv: --log debug.",
        modes: ANY,
        var: None,
    },
    Flag {
        long: "--lib",
        short: None,
        value: Value::Required("PATH"),
        accepts: "the path of libkashim.so",
        help: "use this libkashim.so. Default: <prefix>/lib/libkashim.so next to\n<prefix>/bin/kashim, else the one built next to this binary (a checkout's\ntarget/release/). The path must not contain spaces or colons (LD_PRELOAD\nsplits on them). When /etc/ld.so.preload loads libkashim.so already, a run\nadds no second copy and passes only the settings.",
        modes: PRELOAD_MODES,
        var: None,
    },
    Flag {
        long: "--print-env",
        short: None,
        value: Value::Optional("FORM"),
        accepts: "shell, systemd or docker",
        help: "print the LD_PRELOAD and KASHIM_* settings (inherited ones included) and\nexit. FORM is shell (lines for a shell, the default; pasting them twice adds\nthe library once), systemd (a [Service] drop-in) or docker (ENV lines).",
        modes: &[PrintEnv],
        var: None,
    },
    Flag {
        long: "--inspect",
        short: None,
        value: Value::Optional("PID"),
        accepts: "a process id",
        help: "list the TCP connections of process PID with their keepalive and how long\neach has been idle, then \"K of N connections at risk\" (keepalive off, or a\nfirst probe later than --idle). Without PID: every process of the host,\nthose with connections at risk. Exit 0 only when none is at risk.",
        modes: &[Inspect],
        var: None,
    },
    Flag {
        long: "--attach",
        short: None,
        value: Value::Required("PID"),
        accepts: "a process id",
        help: "turn keepalive on for the TCP sockets of running process PID, without\nstopping it (pidfd_getfd, Linux 5.6+), then show them as --inspect does.",
        modes: &[Attach],
        var: None,
    },
    Flag {
        long: "--ebpf",
        short: None,
        value: Value::None,
        accepts: "",
        help: "use a cgroup eBPF program instead of LD_PRELOAD: reaches static, musl,\nsetuid and io_uring programs. With -- COMMAND: run it in a new cgroup.",
        modes: &[Ebpf],
        var: None,
    },
    Flag {
        long: "--cgroup",
        short: None,
        value: Value::Required("PATH"),
        accepts: "a cgroup v2 directory",
        help: "with --ebpf: attach to this existing cgroup and stay attached (pinned).",
        modes: &[Ebpf],
        var: None,
    },
    Flag {
        long: "--detach",
        short: None,
        value: Value::None,
        accepts: "",
        help: "with --ebpf --cgroup PATH: remove kashim's program from that cgroup.",
        modes: &[Ebpf],
        var: None,
    },
    Flag {
        long: "--status",
        short: None,
        value: Value::None,
        accepts: "",
        help: "with --ebpf: list the cgroups kashim's program is attached to.",
        modes: &[Ebpf],
        var: None,
    },
    Flag {
        long: "--probe",
        short: None,
        value: Value::Required("HOST:PORT"),
        accepts: "HOST:PORT, e.g. db.example.com:5432, 10.0.0.5:22 or [2001:db8::5]:443",
        help: "measure how long the path to HOST:PORT keeps an idle TCP connection, and\nwhether keepalive can hold it; ends with a recommended kashim line.\nAny server that holds idle connections will do; sends no data. Takes\nabout twice the idle timeout it finds, or --max if none (see docs/probe.md).",
        modes: &[Probe],
        var: None,
    },
    Flag {
        long: "--max",
        short: None,
        value: Value::Required("D"),
        accepts: "whole seconds from 2s to 32767s, e.g. 90s, 10m, 1h",
        help: "with --probe: the longest idle time tried. Default 30m; 2s to 32767s.",
        modes: &[Probe],
        var: None,
    },
    Flag {
        long: "--json",
        short: None,
        value: Value::None,
        accepts: "",
        help: "with --inspect, --attach, --ebpf --status or --probe: print JSON instead\nof a table.",
        modes: &[Inspect, Attach, Ebpf, Probe],
        var: None,
    },
    Flag {
        long: "--completion",
        short: None,
        value: Value::Required("SHELL"),
        accepts: "bash",
        help: "print the completion script for SHELL (bash) and exit.",
        modes: ANY,
        var: None,
    },
    Flag {
        long: "--help",
        short: Some('h'),
        value: Value::None,
        accepts: "",
        help: "show this help and exit.",
        modes: ANY,
        var: None,
    },
    Flag {
        long: "--version",
        short: Some('V'),
        value: Value::None,
        accepts: "",
        help: "print the version and commit, and exit.",
        modes: ANY,
        var: None,
    },
];

pub fn flag(long: &str) -> &'static Flag {
    FLAGS
        .iter()
        .find(|f| f.long == long)
        .expect("flag declared in FLAGS")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvForm {
    Shell,
    Systemd,
    Docker,
}

#[derive(Debug, PartialEq, Eq)]
pub enum EbpfMode {
    /// `--ebpf [opts] -- COMMAND`: a new cgroup for COMMAND, removed when it ends.
    Run { command: Vec<OsString> },
    /// `--ebpf --cgroup PATH [opts]`: attach to an existing cgroup and pin.
    Attach { cgroup: PathBuf },
    /// `--ebpf --cgroup PATH --detach`.
    Detach { cgroup: PathBuf },
    /// `--ebpf --status`.
    Status,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Mode {
    Help,
    Version,
    Completion(String),
    Run {
        command: Vec<OsString>,
    },
    PrintEnv {
        form: EnvForm,
    },
    /// `None`: the whole host.
    Inspect {
        pid: Option<i32>,
    },
    Attach {
        pid: i32,
    },
    Ebpf(EbpfMode),
    Probe {
        target: Target,
        max_s: u32,
    },
}

/// A keepalive setting given on the command line: the flag as the user spelled it, the
/// KASHIM_* variable it stands for, and the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingArg {
    pub flag: &'static str,
    pub var: &'static str,
    pub value: OsString,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Invocation {
    pub mode: Mode,
    /// In the order given; a later one for the same variable wins.
    pub settings: Vec<SettingArg>,
    pub lib: Option<PathBuf>,
    pub json: bool,
    /// 0, 1 (-v) or 2 (-vv).
    pub verbose: u8,
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Invocation> {
    let mut parser = Parser::from_args(args);
    let mut used: Vec<&'static str> = Vec::new();
    let mut settings = Vec::new();
    let mut lib = None;
    let mut json = false;
    let mut verbose = 0u8;
    let mut print_env: Option<Option<OsString>> = None;
    let mut inspect = None;
    let mut attach = None;
    let mut ebpf = false;
    let mut cgroup = None;
    let mut detach = false;
    let mut status = false;
    let mut completion = None;
    let mut probe = None;
    let mut max = None;
    let mut command: Vec<OsString> = Vec::new();

    while let Some(arg) = parser.next().map_err(lexopt_error)? {
        let is_long = matches!(arg, Arg::Long(_));
        let (spelled, f) = match arg {
            Arg::Long(name) => {
                let spelled = format!("--{name}");
                match FLAGS.iter().find(|f| f.long == spelled) {
                    Some(f) => (spelled, f),
                    None => return Err(unknown(&spelled)),
                }
            }
            Arg::Short(c) => {
                let spelled = format!("-{c}");
                match FLAGS.iter().find(|f| f.short == Some(c)) {
                    Some(f) => (spelled, f),
                    None => return Err(unknown(&spelled)),
                }
            }
            Arg::Value(first) => {
                command.push(first);
                command.extend(parser.raw_args().map_err(lexopt_error)?);
                break;
            }
        };
        used.push(f.long);
        let value = match f.value {
            // For a short flag the "optional value" would be the rest of a cluster like -vv.
            Value::None if !is_long => None,
            Value::None => {
                if let Some(v) = parser.optional_value() {
                    return Err(Error::usage(format!(
                        "{spelled} takes no value (got \"{spelled}={}\")",
                        v.to_string_lossy()
                    )));
                }
                None
            }
            Value::Required(_) => Some(required_value(&mut parser, &spelled, f)?),
            Value::Optional(_) => optional_value(&mut parser),
            Value::Attached(_) if is_long => parser.optional_value(),
            Value::Attached(_) => None,
        };
        match f.long {
            "--verbose" => verbose = verbose.saturating_add(1),
            "--force" => settings.push(SettingArg {
                flag: f.long,
                var: "KASHIM_FORCE",
                value: value.unwrap_or_else(|| "1".into()),
            }),
            "--no-children" => settings.push(SettingArg {
                flag: f.long,
                var: "KASHIM_CHILDREN",
                value: "0".into(),
            }),
            "--lib" => lib = Some(PathBuf::from(nonempty(value.unwrap(), f)?)),
            "--print-env" => print_env = Some(value),
            "--inspect" => inspect = Some(value.map(|v| pid(v, f)).transpose()?),
            "--attach" => attach = Some(pid(value.unwrap(), f)?),
            "--ebpf" => ebpf = true,
            "--cgroup" => cgroup = Some(PathBuf::from(nonempty(value.unwrap(), f)?)),
            "--detach" => detach = true,
            "--status" => status = true,
            "--json" => json = true,
            "--probe" => probe = Some(value.unwrap()),
            "--max" => max = Some(value.unwrap()),
            "--completion" => completion = Some(value.unwrap().to_string_lossy().into_owned()),
            "--help" => return Ok(simple(Mode::Help)),
            "--version" => return Ok(simple(Mode::Version)),
            _ => settings.push(SettingArg {
                flag: f.long,
                var: f.var.expect("a keepalive flag names its variable"),
                value: value.unwrap(),
            }),
        }
    }
    if verbose > 0 {
        // -v stands for --log info in a run; elsewhere it only makes kashim itself say more.
        settings.push(SettingArg {
            flag: "-v",
            var: "KASHIM_LOG",
            value: if verbose > 1 { "debug" } else { "info" }.into(),
        });
    }
    if let Some(shell) = completion {
        return Ok(simple(Mode::Completion(shell)));
    }

    let chosen: Vec<ModeKind> = [
        (print_env.is_some(), PrintEnv),
        (inspect.is_some(), Inspect),
        (attach.is_some(), Attach),
        (ebpf, Ebpf),
        (probe.is_some(), Probe),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, m)| *m)
    .collect();
    let kind = match chosen.as_slice() {
        [] => Run,
        [one] => *one,
        [a, b, ..] => {
            return Err(Error::usage(format!(
                "{} and {} cannot be used together",
                a.flag(),
                b.flag()
            )))
        }
    };
    for long in &used {
        let f = flag(long);
        if !f.modes.contains(&kind) {
            let name = if *long == "--verbose" { "-v" } else { long };
            return Err(Error::usage(format!(
                "{name} has no effect with {} (it applies to: {})",
                kind.flag(),
                f.modes
                    .iter()
                    .map(|m| m.flag())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    if !CAP_MODES.contains(&kind)
        && settings
            .iter()
            .any(|s| s.var == "KASHIM_FORCE" && s.value.eq_ignore_ascii_case("cap"))
    {
        return Err(Error::usage(format!(
            "--force=cap has no effect with {} (it applies to: a run, --print-env, --attach, --ebpf)",
            kind.flag()
        )));
    }
    if kind != Ebpf {
        for (on, name) in [
            (cgroup.is_some(), "--cgroup"),
            (detach, "--detach"),
            (status, "--status"),
        ] {
            if on {
                return Err(Error::usage(format!("{name} needs --ebpf")));
            }
        }
    }
    if json && kind == Ebpf && !status {
        return Err(Error::usage("--json with --ebpf needs --status"));
    }
    let takes_command = matches!(kind, Run | Ebpf) && cgroup.is_none() && !status;
    if !takes_command && !command.is_empty() {
        let name = match kind {
            Ebpf if status => "--status".to_string(),
            Ebpf => "--cgroup".to_string(),
            other => other.flag().to_string(),
        };
        return Err(Error::usage(format!(
            "{name} takes no COMMAND (got \"{}\")",
            command[0].to_string_lossy()
        )));
    }
    let mode = match kind {
        Run => {
            if command.is_empty() {
                return Err(Error::usage(
                    "missing COMMAND (usage: kashim [options] [--] COMMAND [ARGS...]; see kashim --help)",
                ));
            }
            Mode::Run { command }
        }
        PrintEnv => Mode::PrintEnv {
            form: env_form(print_env.flatten())?,
        },
        Inspect => Mode::Inspect {
            pid: inspect.unwrap(),
        },
        Attach => Mode::Attach {
            pid: attach.unwrap(),
        },
        Ebpf => Mode::Ebpf(ebpf_mode(command, cgroup, detach, status)?),
        Probe => Mode::Probe {
            target: Target::parse(&probe.unwrap())?,
            max_s: probe_max(max)?,
        },
    };
    Ok(Invocation {
        mode,
        settings,
        lib,
        json,
        verbose,
    })
}

fn ebpf_mode(
    command: Vec<OsString>,
    cgroup: Option<PathBuf>,
    detach: bool,
    status: bool,
) -> Result<EbpfMode> {
    match (cgroup, detach, status) {
        (_, _, true) if detach => Err(Error::usage(
            "--status and --detach cannot be used together",
        )),
        (Some(_), _, true) => Err(Error::usage(
            "--status lists every cgroup; it takes no --cgroup",
        )),
        (None, false, true) => Ok(EbpfMode::Status),
        (None, true, _) => Err(Error::usage("--detach needs --cgroup PATH")),
        (Some(cgroup), true, false) => Ok(EbpfMode::Detach { cgroup }),
        (Some(cgroup), false, false) => Ok(EbpfMode::Attach { cgroup }),
        (None, false, false) if command.is_empty() => Err(Error::usage(
            "--ebpf needs -- COMMAND, --cgroup PATH or --status (see kashim --help)",
        )),
        (None, false, false) => Ok(EbpfMode::Run { command }),
    }
}

/// The longest idle a probe tries: a keepalive idle time (its top rung uses it), at least 2 s so
/// there is a bracket to find.
pub const PROBE_MAX_DEFAULT_S: u32 = 1800;
const PROBE_MAX_RANGE_S: std::ops::RangeInclusive<u64> = 2..=32767;

fn probe_max(value: Option<OsString>) -> Result<u32> {
    let Some(value) = value else {
        return Ok(PROBE_MAX_DEFAULT_S);
    };
    let f = flag("--max");
    let shown = kashim_config::escape(value.as_encoded_bytes());
    let why = match value.to_str().map(kashim_config::whole_seconds) {
        Some(Ok(s)) if PROBE_MAX_RANGE_S.contains(&s) => return Ok(s as u32),
        Some(Ok(_)) => "is out of range".to_string(),
        Some(Err(why)) => why,
        None => "is not valid UTF-8".to_string(),
    };
    Err(Error::usage(format!(
        "--max \"{shown}\" {why} (accepted: {})",
        f.accepts
    )))
}

fn simple(mode: Mode) -> Invocation {
    Invocation {
        mode,
        settings: Vec::new(),
        lib: None,
        json: false,
        verbose: 0,
    }
}

fn unknown(spelled: &str) -> Error {
    Error::usage(format!("unknown option {spelled} (see kashim --help)"))
}

fn lexopt_error(err: lexopt::Error) -> Error {
    Error::usage(format!("{err} (see kashim --help)"))
}

/// The value of a flag that needs one. A following option word is not a value: in
/// `--idle --count 3` the idle value is missing. `--idle=--x` is taken as written.
fn required_value(parser: &mut Parser, spelled: &str, f: &Flag) -> Result<OsString> {
    if let Some(v) = parser.optional_value() {
        return Ok(v);
    }
    let missing = || Error::usage(format!("{spelled} needs a value ({})", f.accepts));
    let mut raw = parser.try_raw_args().ok_or_else(missing)?;
    match raw.peek() {
        Some(next) if !next.to_string_lossy().starts_with("--") => Ok(raw.next().unwrap()),
        _ => Err(missing()),
    }
}

/// The value of a flag whose value may be left out: the next word, unless it is an option. A
/// negative number is taken, to be refused by name (`--inspect -3`).
fn optional_value(parser: &mut Parser) -> Option<OsString> {
    if let Some(v) = parser.optional_value() {
        return Some(v);
    }
    let mut raw = parser.try_raw_args()?;
    raw.next_if(|next| {
        let next = next.to_string_lossy();
        match next.strip_prefix('-') {
            Some(rest) => rest.starts_with(|c: char| c.is_ascii_digit()),
            None => true,
        }
    })
}

fn nonempty(value: OsString, f: &Flag) -> Result<OsString> {
    if value.is_empty() {
        return Err(Error::usage(format!(
            "{} needs a value, got an empty one ({})",
            f.long, f.accepts
        )));
    }
    Ok(value)
}

fn pid(value: OsString, f: &Flag) -> Result<i32> {
    let text = nonempty(value, f)?;
    let shown = kashim_config::escape(text.as_encoded_bytes());
    match text.parse::<i32>() {
        Ok(pid) if pid > 0 && text.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) => Ok(pid),
        _ => Err(Error::usage(format!(
            "{} \"{shown}\" is not a process id (accepted: a positive whole number)",
            f.long
        ))),
    }
}

fn env_form(value: Option<OsString>) -> Result<EnvForm> {
    let Some(value) = value else {
        return Ok(EnvForm::Shell);
    };
    match value.to_str() {
        Some("shell") => Ok(EnvForm::Shell),
        Some("systemd") => Ok(EnvForm::Systemd),
        Some("docker") => Ok(EnvForm::Docker),
        _ => Err(Error::usage(format!(
            "--print-env \"{}\" is not a form (accepted: shell, systemd, docker)",
            kashim_config::escape(value.as_encoded_bytes())
        ))),
    }
}

#[cfg(test)]
mod tests;
