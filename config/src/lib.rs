//! Configuration from `KASHIM_*` environment variables.
//!
//! Everything here is pure: [`Config::from_vars`] takes the environment as byte pairs and returns the
//! effective settings plus one message per problem. A bad value never stops the program: that one
//! setting falls back to its default and the rest apply.

use serde::Deserialize;
use std::collections::HashSet;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::os::unix::ffi::OsStringExt;

pub mod keepalive;
pub mod scope;
pub use scope::{Direction, Peer, Scope, Side};

pub const PREFIX: &str = "KASHIM_";

/// Kernel limits for the keepalive options (include/net/tcp.h: MAX_TCP_KEEPIDLE etc.).
pub const KEEPALIVE_SECONDS_MAX: u32 = 32767;
pub const COUNT_MAX: u32 = 127;
/// TCP_USER_TIMEOUT is an `int` of milliseconds; negative values are EINVAL.
pub const USER_TIMEOUT_MS_MAX: u64 = i32::MAX as u64;

pub const DEFAULT_IDLE_S: u32 = 60;
pub const DEFAULT_INTERVAL_S: u32 = 10;
pub const DEFAULT_COUNT: u32 = 6;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Off,
    Warn,
    Info,
    Debug,
}

impl LogLevel {
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Off => "off",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub enabled: bool,
    pub idle_s: u32,
    pub interval_s: u32,
    pub count: u32,
    /// `None`: kashim leaves TCP_USER_TIMEOUT alone.
    pub user_timeout_ms: Option<u32>,
    pub force: bool,
    pub log: LogLevel,
    /// KASHIM_FORCE=cap: kashim's idle, interval and count are upper bounds (docs/scope.md).
    pub force_cap: bool,
    /// Which connections get keepalive (KASHIM_DIRECTION, KASHIM_ONLY, KASHIM_EXCEPT).
    pub scope: Scope,
    /// KASHIM_CHILDREN: false = the library leaves itself out of the children's environment.
    pub children: bool,
}

impl Config {
    /// The configuration when no KASHIM_* variable is set; a constant, so the library can publish
    /// it without writing (or allocating) anything at start-up.
    pub const DEFAULT: Config = Config {
        enabled: true,
        idle_s: DEFAULT_IDLE_S,
        interval_s: DEFAULT_INTERVAL_S,
        count: DEFAULT_COUNT,
        user_timeout_ms: None,
        force: false,
        log: LogLevel::Warn,
        force_cap: false,
        scope: Scope::EVERY_CONNECTION,
        children: true,
    };
}

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}

/// The variables as envy sees them (after `KASHIM_` is stripped and the rest lower-cased).
/// Every field is a plain string so envy itself can never reject a value: each one is checked
/// below, so that a bad value costs only that setting.
#[derive(Deserialize, Default, Debug)]
struct RawVars {
    idle: Option<String>,
    interval: Option<String>,
    count: Option<String>,
    user_timeout: Option<String>,
    force: Option<String>,
    enabled: Option<String>,
    log: Option<String>,
    direction: Option<String>,
    only: Option<String>,
    except: Option<String>,
    children: Option<String>,
}

/// Every variable kashim reads, in the order messages and `--print-env` list them.
pub const KNOWN: [&str; 11] = [
    "KASHIM_IDLE",
    "KASHIM_INTERVAL",
    "KASHIM_COUNT",
    "KASHIM_USER_TIMEOUT",
    "KASHIM_FORCE",
    "KASHIM_ENABLED",
    "KASHIM_LOG",
    "KASHIM_DIRECTION",
    "KASHIM_ONLY",
    "KASHIM_EXCEPT",
    "KASHIM_CHILDREN",
];

/// What each variable accepts, shown in its error message.
const ACCEPTS_KEEPALIVE_DURATION: &str = "whole seconds from 1s to 32767s, e.g. 600, 30s, 10m, 1h";
const ACCEPTS_COUNT: &str = "a whole number from 1 to 127";
const ACCEPTS_USER_TIMEOUT: &str =
    "a duration up to 2147483647ms such as 30s, 1500ms, 2m, or auto, or 0/off";
const ACCEPTS_BOOL: &str = "1/0, true/false, yes/no, on/off";
const ACCEPTS_FORCE: &str = "1/0, true/false, yes/no, on/off, or cap";
const ACCEPTS_LOG: &str = "off, warn, info, debug";

#[derive(Debug, PartialEq, Eq)]
pub struct Loaded {
    pub config: Config,
    /// One line per problem, without the `kashim: ` prefix.
    pub problems: Vec<String>,
}

impl Config {
    /// Reads the process environment. Never fails and never panics on odd input: non-UTF-8
    /// names or values of unrelated variables are skipped without a word.
    pub fn from_env() -> Loaded {
        Self::from_vars(
            std::env::vars_os().map(|(k, v)| (OsString::into_vec(k), OsString::into_vec(v))),
        )
    }

    /// The pure core of [`Config::from_env`]: `vars` are (name, value) byte strings.
    pub fn from_vars<I>(vars: I) -> Loaded
    where
        I: IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
    {
        let mut problems = Vec::new();
        let mut utf8_vars = Vec::new();
        // execve allows a name twice; glibc's getenv takes the first, and so does kashim. Sets, so
        // that start-up stays linear in the number of KASHIM_* variables, however many there are.
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        let mut repeated: Vec<String> = Vec::new();
        let mut repeated_seen: HashSet<String> = HashSet::new();
        for (name, value) in vars {
            if !name.starts_with(PREFIX.as_bytes()) {
                continue; // not ours, whatever its encoding
            }
            let shown_name = escape(&name);
            if seen.contains(&name) {
                if repeated_seen.insert(shown_name.clone()) {
                    repeated.push(shown_name);
                }
                continue;
            }
            seen.insert(name);
            if !KNOWN.contains(&shown_name.as_str()) {
                problems.push(format!(
                    "{}=\"{}\" is not a kashim variable (known: {}); ignored",
                    shown_name,
                    escape(&value),
                    KNOWN.join(", ")
                ));
                continue;
            }
            match String::from_utf8(value) {
                Ok(value) => utf8_vars.push((shown_name, value)),
                // A rule list keeps its readable entries: its default (every connection) would widen
                // the scope. The unreadable entries are reported one by one (scope::parse_rules).
                Err(err) if scope::is_rule_list(&shown_name) => utf8_vars.push((
                    shown_name,
                    String::from_utf8_lossy(err.as_bytes()).into_owned(),
                )),
                Err(err) => problems.push(format!(
                    "{}=\"{}\" is not valid UTF-8 (accepted: {}); using the default {}",
                    shown_name,
                    escape(err.as_bytes()),
                    accepts(&shown_name),
                    default_text(&shown_name)
                )),
            }
        }
        for name in repeated {
            problems.push(format!(
                "{name} is set more than once; the first value is used (as getenv does), the others are ignored"
            ));
        }
        let raw: RawVars = match envy::prefixed(PREFIX).from_iter(utf8_vars) {
            Ok(raw) => raw,
            Err(err) => {
                // Cannot happen with all-string fields; still, never lose the program over it.
                problems.push(format!(
                    "could not read the KASHIM_* variables ({err}); using the defaults"
                ));
                RawVars::default()
            }
        };
        let mut config = Config::default();
        let check = |name: &str, value: &Option<String>, problems: &mut Vec<String>| {
            value.as_deref().and_then(|v| match parse_var(name, v) {
                Ok(parsed) => Some(parsed),
                Err(why) => {
                    problems.push(format!(
                        "{}=\"{}\" {} (accepted: {}); using the default {}",
                        name,
                        escape(v.as_bytes()),
                        why,
                        accepts(name),
                        default_text(name)
                    ));
                    None
                }
            })
        };
        // Parsed in a fixed order so the messages are stable, whatever the environment's order.
        if let Some(Parsed::Log(level)) = check("KASHIM_LOG", &raw.log, &mut problems) {
            config.log = level;
        }
        if let Some(Parsed::Bool(b)) = check("KASHIM_ENABLED", &raw.enabled, &mut problems) {
            config.enabled = b;
        }
        if let Some(Parsed::Seconds(s)) = check("KASHIM_IDLE", &raw.idle, &mut problems) {
            config.idle_s = s;
        }
        if let Some(Parsed::Seconds(s)) = check("KASHIM_INTERVAL", &raw.interval, &mut problems) {
            config.interval_s = s;
        }
        if let Some(Parsed::Count(n)) = check("KASHIM_COUNT", &raw.count, &mut problems) {
            config.count = n;
        }
        if let Some(Parsed::UserTimeout(ut)) =
            check("KASHIM_USER_TIMEOUT", &raw.user_timeout, &mut problems)
        {
            config.user_timeout_ms = match ut {
                UserTimeout::Off => None,
                UserTimeout::Millis(ms) => Some(ms),
                UserTimeout::Auto => Some(auto_user_timeout_ms(
                    config.idle_s,
                    config.interval_s,
                    config.count,
                )),
            };
        }
        if let Some(Parsed::Force(force, cap)) = check("KASHIM_FORCE", &raw.force, &mut problems) {
            (config.force, config.force_cap) = (force, cap);
        }
        if let Some(Parsed::Bool(b)) = check("KASHIM_CHILDREN", &raw.children, &mut problems) {
            config.children = b;
        }
        if let Some(Parsed::Direction(d)) = check("KASHIM_DIRECTION", &raw.direction, &mut problems)
        {
            config.scope.direction = d;
        }
        // Rule lists: a bad entry costs only that entry (see scope.rs for an empty ONLY list).
        for (name, value, only) in [
            ("KASHIM_ONLY", &raw.only, true),
            ("KASHIM_EXCEPT", &raw.except, false),
        ] {
            let Some(value) = value else { continue };
            let parsed = scope::parse_rules(value);
            for line in parsed.problems(only) {
                problems.push(format!("{name}=\"{}\" {line}", escape(value.as_bytes())));
            }
            if only {
                config.scope.only = parsed.list;
            } else {
                config.scope.except = parsed.list;
            }
        }
        // Unknown names were found before the known ones were parsed; keep them last for readability.
        problems.sort_by_key(|p| p.contains("is not a kashim variable"));
        Loaded { config, problems }
    }

    /// The one line printed at start with `KASHIM_LOG=info`.
    pub fn summary(&self) -> String {
        if !self.enabled {
            return "disabled by KASHIM_ENABLED; every call passes straight through".to_string();
        }
        let user_timeout = match self.user_timeout_ms {
            None => "off".to_string(),
            Some(ms) => format_ms(ms as u64),
        };
        let mut line = format!(
            "active: TCP keepalive idle {}s, interval {}s, count {}, user timeout {}, force {}, log {}",
            self.idle_s,
            self.interval_s,
            self.count,
            user_timeout,
            match (self.force, self.force_cap) {
                (true, _) => "on",
                (false, true) => "cap",
                _ => "off",
            },
            self.log.name()
        );
        // Only mentioned when set, so the line stays as it was for everyone else.
        if self.scope.is_set() {
            line.push_str(&format!(", scope {}", self.scope.summary()));
        }
        if !self.children {
            line.push_str(", children without kashim");
        }
        line
    }
}

/// `auto` user timeout: the time keepalive needs to declare the peer dead, so that data stuck
/// unacknowledged gives up no later than an idle connection would. Note the parentheses: the whole
/// sum is in seconds (an earlier shim multiplied only the last term by 1000).
pub fn auto_user_timeout_ms(idle_s: u32, interval_s: u32, count: u32) -> u32 {
    let seconds = idle_s as u64 + interval_s as u64 * count as u64;
    (seconds * 1000).min(USER_TIMEOUT_MS_MAX) as u32
}

enum Parsed {
    Seconds(u32),
    Count(u32),
    UserTimeout(UserTimeout),
    Bool(bool),
    Log(LogLevel),
    /// (force, cap)
    Force(bool, bool),
    Direction(Direction),
}

#[derive(Debug, PartialEq, Eq)]
enum UserTimeout {
    Off,
    Auto,
    Millis(u32),
}

/// Judges one value of a known variable on its own, as [`Config::from_vars`] would.
/// `Err` is the reason with what is accepted, e.g. `is out of range (accepted: a whole number
/// from 1 to 127)`, ready to follow a name and the quoted value. The command uses it to word its
/// own messages (`--count "500" is out of range ...`), so the two can never disagree.
pub fn check(name: &str, value: &[u8]) -> Result<(), String> {
    if !KNOWN.contains(&name) {
        return Err(format!(
            "is not a kashim variable (known: {})",
            KNOWN.join(", ")
        ));
    }
    let value = std::str::from_utf8(value)
        .map_err(|_| format!("is not valid UTF-8 (accepted: {})", accepts(name)))?;
    if name == "KASHIM_ONLY" || name == "KASHIM_EXCEPT" {
        // The command refuses any bad entry: report the first problem.
        let parsed = scope::parse_rules(value);
        if let Some((entry, why)) = parsed.bad.first() {
            return Err(format!(
                "entry \"{entry}\" {why} (accepted: {})",
                scope::ACCEPTS_RULES
            ));
        }
        return match parsed.problems(name == "KASHIM_ONLY").into_iter().next() {
            None => Ok(()),
            Some(line) => Err(format!("{line} (accepted: {})", scope::ACCEPTS_RULES)),
        };
    }
    parse_var(name, value)
        .map(|_| ())
        .map_err(|why| format!("{why} (accepted: {})", accepts(name)))
}

fn parse_var(name: &str, value: &str) -> Result<Parsed, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("is empty".to_string());
    }
    match name {
        "KASHIM_IDLE" | "KASHIM_INTERVAL" => keepalive_seconds(value).map(Parsed::Seconds),
        "KASHIM_COUNT" => count(value).map(Parsed::Count),
        "KASHIM_USER_TIMEOUT" => user_timeout(value).map(Parsed::UserTimeout),
        "KASHIM_FORCE" if value.eq_ignore_ascii_case("cap") => Ok(Parsed::Force(false, true)),
        "KASHIM_FORCE" => boolean(value)
            .map(|b| Parsed::Force(b, false))
            .map_err(|_| "is not a boolean or cap".to_string()),
        "KASHIM_ENABLED" | "KASHIM_CHILDREN" => boolean(value).map(Parsed::Bool),
        "KASHIM_DIRECTION" => scope::parse_direction(value).map(Parsed::Direction),
        _ => log_level(value).map(Parsed::Log),
    }
}

fn accepts(name: &str) -> &'static str {
    match name {
        "KASHIM_IDLE" | "KASHIM_INTERVAL" => ACCEPTS_KEEPALIVE_DURATION,
        "KASHIM_COUNT" => ACCEPTS_COUNT,
        "KASHIM_USER_TIMEOUT" => ACCEPTS_USER_TIMEOUT,
        "KASHIM_FORCE" => ACCEPTS_FORCE,
        "KASHIM_ENABLED" | "KASHIM_CHILDREN" => ACCEPTS_BOOL,
        "KASHIM_DIRECTION" => scope::ACCEPTS_DIRECTION,
        "KASHIM_ONLY" | "KASHIM_EXCEPT" => scope::ACCEPTS_RULES,
        _ => ACCEPTS_LOG,
    }
}

fn default_text(name: &str) -> String {
    let d = Config::default();
    match name {
        "KASHIM_IDLE" => format!("{}s", d.idle_s),
        "KASHIM_INTERVAL" => format!("{}s", d.interval_s),
        "KASHIM_COUNT" => d.count.to_string(),
        "KASHIM_USER_TIMEOUT" => "off".to_string(),
        "KASHIM_FORCE" => "false".to_string(),
        "KASHIM_ENABLED" | "KASHIM_CHILDREN" => "true".to_string(),
        "KASHIM_DIRECTION" => "both".to_string(),
        "KASHIM_ONLY" | "KASHIM_EXCEPT" => "(every connection)".to_string(),
        _ => d.log.name().to_string(),
    }
}

/// A duration in milliseconds: a bare number is seconds; suffixes ms, s, m, h (any case).
fn duration_ms(value: &str) -> Result<u64, String> {
    let digits_end = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(digits_end);
    let per_unit: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "s" => 1000,
        "ms" => 1,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err("is not a duration".to_string()),
    };
    if digits.is_empty() {
        return Err("is not a duration".to_string());
    }
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(per_unit))
        .ok_or_else(|| "is out of range".to_string())
}

/// A duration in whole seconds (a bare number is seconds; suffixes ms, s, m, h), with no range
/// check: for command options whose range is not a KASHIM_* variable's. `Err` is the reason, e.g.
/// `is not a whole number of seconds`.
pub fn whole_seconds(value: &str) -> Result<u64, String> {
    let ms = duration_ms(value.trim())?;
    if !ms.is_multiple_of(1000) {
        return Err("is not a whole number of seconds".to_string());
    }
    Ok(ms / 1000)
}

fn keepalive_seconds(value: &str) -> Result<u32, String> {
    let ms = duration_ms(value)?;
    if !ms.is_multiple_of(1000) {
        return Err("is not a whole number of seconds".to_string());
    }
    let s = ms / 1000;
    if s < 1 || s > KEEPALIVE_SECONDS_MAX as u64 {
        return Err("is out of range".to_string());
    }
    Ok(s as u32)
}

fn count(value: &str) -> Result<u32, String> {
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err("is not a whole number".to_string());
    }
    match value.parse::<u64>() {
        Ok(n) if (1..=COUNT_MAX as u64).contains(&n) => Ok(n as u32),
        _ => Err("is out of range".to_string()),
    }
}

fn user_timeout(value: &str) -> Result<UserTimeout, String> {
    match value.to_ascii_lowercase().as_str() {
        "auto" => return Ok(UserTimeout::Auto),
        "off" => return Ok(UserTimeout::Off),
        _ => {}
    }
    let ms = duration_ms(value).map_err(|e| {
        if e == "is not a duration" {
            "is not a duration, auto or off".to_string()
        } else {
            e
        }
    })?;
    match ms {
        0 => Ok(UserTimeout::Off),
        ms if ms <= USER_TIMEOUT_MS_MAX => Ok(UserTimeout::Millis(ms as u32)),
        _ => Err("is out of range".to_string()),
    }
}

fn boolean(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err("is not a boolean".to_string()),
    }
}

fn log_level(value: &str) -> Result<LogLevel, String> {
    match value.to_ascii_lowercase().as_str() {
        "off" => Ok(LogLevel::Off),
        "warn" => Ok(LogLevel::Warn),
        "info" => Ok(LogLevel::Info),
        "debug" => Ok(LogLevel::Debug),
        _ => Err("is not a log level".to_string()),
    }
}

/// Shows bytes as text, with anything that is not printable UTF-8 as `\xNN`, and quotes escaped,
/// so a hostile value cannot forge extra lines or terminal escapes in kashim's one-line message.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        let _ = write!(out, "\\x{b:02x}");
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

pub fn format_ms(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests;
