//! Scope: which connections get keepalive (`KASHIM_DIRECTION`, `KASHIM_ONLY`, `KASHIM_EXCEPT`).
//!
//! Rules are parsed once, at start, into fixed-size tables that live in the [`Config`](crate::Config):
//! matching a peer is a loop over at most [`MAX_RULES`] plain values, with no allocation and no
//! lock, so the library can do it inside a hook.
//!
//! A rule is an IPv4 address or CIDR (`10.0.0.0/8`), an IPv6 address or CIDR in brackets
//! (`[2001:db8::1]`, `[2001:db8::]/32`), or nothing (any address), each with an optional port or
//! port range after a colon (`192.0.2.5:5432`, `[::1]:443`, `:8000-8099`). Brackets are required for
//! IPv6 so that a port can never be mistaken for the last group of an address (`::1:80`).
//!
//! Meaning (documented in docs/scope.md):
//! - An IPv4 peer, also one seen on an IPv6 socket as `::ffff:a.b.c.d`, is matched by IPv4 rules
//!   only; an IPv6 rule for `[::ffff:a.b.c.d]/n` (n >= 96) is read as the IPv4 rule it names.
//! - EXCEPT wins over ONLY. A bad entry is reported and ignored; the other entries apply.
//! - An ONLY list with no valid entry (all bad, or empty) matches nothing: kashim then configures
//!   no connection, and says so. Falling back to "everything" would silently widen the scope the
//!   user asked to narrow.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Entries per list; more are reported and ignored. Enough for any real allow/deny list of a program,
/// small enough that a miss costs a few dozen comparisons.
pub const MAX_RULES: usize = 32;

pub const ACCEPTS_DIRECTION: &str = "both, outbound, inbound";
pub const ACCEPTS_RULES: &str =
    "comma-separated IPv4 or [IPv6] addresses or CIDRs with an optional \
:port or :port-range, e.g. 10.0.0.0/8, 192.0.2.5:5432, [2001:db8::]/32:443, :8000-8099";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    Both,
    /// Connections the program opens with connect().
    Outbound,
    /// Connections the program accepts.
    Inbound,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::Both => "both",
            Direction::Outbound => "outbound",
            Direction::Inbound => "inbound",
        }
    }
}

/// Which side opened a connection, as seen by the hook that meets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Outbound,
    Inbound,
}

pub fn is_rule_list(name: &str) -> bool {
    name == "KASHIM_ONLY" || name == "KASHIM_EXCEPT"
}

pub fn parse_direction(value: &str) -> Result<Direction, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "both" => Ok(Direction::Both),
        "outbound" => Ok(Direction::Outbound),
        "inbound" => Ok(Direction::Inbound),
        _ => Err("is not a direction".to_string()),
    }
}

/// The address part of a rule, stored masked (host order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Net {
    #[default]
    Any,
    V4 {
        addr: u32,
        mask: u32,
    },
    V6 {
        addr: u128,
        mask: u128,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    net: Net,
    port_lo: u16,
    port_hi: u16,
}

impl Rule {
    /// Every address, every port.
    pub const ANY: Rule = Rule {
        net: Net::Any,
        port_lo: 0,
        port_hi: u16::MAX,
    };
}

impl Default for Rule {
    fn default() -> Self {
        Rule::ANY
    }
}

/// The far end of a connection: address in host order, and port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    V4(u32, u16),
    V6(u128, u16),
}

impl Peer {
    pub fn v4(octets: [u8; 4], port: u16) -> Peer {
        Peer::V4(u32::from_be_bytes(octets), port)
    }

    /// An IPv6 peer; `::ffff:a.b.c.d` (an IPv4 peer on a dual-stack socket) becomes the IPv4 peer.
    pub fn v6(octets: [u8; 16], port: u16) -> Peer {
        match Ipv6Addr::from(octets).to_ipv4_mapped() {
            Some(v4) => Peer::V4(u32::from(v4), port),
            None => Peer::V6(u128::from_be_bytes(octets), port),
        }
    }
}

impl Rule {
    /// The address part, for matchers outside this crate (kashim --ebpf's program).
    pub fn net(&self) -> Net {
        self.net
    }

    /// The port range, inclusive.
    pub fn ports(&self) -> (u16, u16) {
        (self.port_lo, self.port_hi)
    }

    pub fn matches(&self, peer: Peer) -> bool {
        let (net_ok, port) = match (self.net, peer) {
            (Net::Any, Peer::V4(_, p) | Peer::V6(_, p)) => (true, p),
            (Net::V4 { addr, mask }, Peer::V4(a, p)) => (a & mask == addr, p),
            (Net::V6 { addr, mask }, Peer::V6(a, p)) => (a & mask == addr, p),
            _ => return false,
        };
        net_ok && (self.port_lo..=self.port_hi).contains(&port)
    }
}

/// A fixed-size list of rules. `given` tells an absent variable from one whose entries were all bad.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleList {
    rules: [Rule; MAX_RULES],
    len: u8,
    given: bool,
}

impl Default for RuleList {
    fn default() -> Self {
        RuleList::NONE
    }
}

impl RuleList {
    /// No list given.
    pub const NONE: RuleList = RuleList {
        rules: [Rule::ANY; MAX_RULES],
        len: 0,
        given: false,
    };

    pub fn rules(&self) -> &[Rule] {
        &self.rules[..self.len as usize]
    }

    /// Was the variable set at all (even if no entry was valid)?
    pub fn given(&self) -> bool {
        self.given
    }

    pub fn any_matches(&self, peer: Peer) -> bool {
        self.rules().iter().any(|r| r.matches(peer))
    }
}

/// What a list's parse produced: the table, and one `(entry, reason)` per bad entry (the entry
/// escaped for display), plus how many valid entries did not fit.
pub struct ParsedList {
    pub list: RuleList,
    pub bad: Vec<(String, String)>,
    pub dropped: usize,
}

impl ParsedList {
    /// One line per problem, each to follow `KASHIM_ONLY="..."` or `--only "..."`. `only` picks the
    /// wording of what the list means without a valid entry.
    pub fn problems(&self, only: bool) -> Vec<String> {
        let mut lines: Vec<String> = self
            .bad
            .iter()
            .map(|(entry, why)| {
                format!(
                    "entry \"{entry}\" {why} (accepted: {ACCEPTS_RULES}); that entry is ignored"
                )
            })
            .collect();
        if self.dropped > 0 {
            lines.push(format!(
                "has {} valid entries beyond the first {MAX_RULES}; those are ignored",
                self.dropped
            ));
        }
        if self.list.len == 0 {
            lines.push(if only {
                "has no valid entry, so it matches no connection: kashim configures none (unset it to cover every connection)".to_string()
            } else {
                "has no valid entry, so it excepts no connection".to_string()
            });
        }
        lines
    }
}

/// Parses a comma-separated rule list. Empty entries (a trailing or doubled comma) are skipped.
pub fn parse_rules(value: &str) -> ParsedList {
    let mut list = RuleList {
        given: true,
        ..RuleList::default()
    };
    let mut bad = Vec::new();
    let mut dropped = 0usize;
    for entry in value.split(',') {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        if entry.contains(char::REPLACEMENT_CHARACTER) {
            // From_env's lossy reading of a non-UTF-8 value (or a literal U+FFFD: no rule has one).
            bad.push((
                crate::escape(entry.as_bytes()),
                "is not valid UTF-8".to_string(),
            ));
            continue;
        }
        match parse_rule(entry) {
            Ok(rule) if (list.len as usize) < MAX_RULES => {
                list.rules[list.len as usize] = rule;
                list.len += 1;
            }
            Ok(_) => dropped += 1,
            Err(why) => bad.push((crate::escape(entry.as_bytes()), why)),
        }
    }
    ParsedList { list, bad, dropped }
}

/// One rule: `[ADDR][/PREFIX][:PORT[-PORT]]` with ADDR an IPv4 address or an IPv6 one in brackets.
pub fn parse_rule(entry: &str) -> Result<Rule, String> {
    let (net, ports) = if let Some(rest) = entry.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return Err("has no closing ] after its IPv6 address".to_string());
        };
        let ip: Ipv6Addr = inside
            .parse()
            .map_err(|_| "is not an IPv6 address in brackets".to_string())?;
        let (prefix, ports) = split_prefix_and_ports(after)?;
        let prefix = match prefix {
            None => 128,
            Some(p) => prefix_len(p, 128)?,
        };
        (v6_net(ip, prefix), ports)
    } else if let Some(ports) = entry.strip_prefix(':') {
        if ports.starts_with(':') {
            return Err("looks like an IPv6 address: write it in brackets, e.g. [::1]".to_string());
        }
        (Net::Any, Some(ports))
    } else {
        let addr_end = entry.find(['/', ':']).unwrap_or(entry.len());
        let (addr, after) = entry.split_at(addr_end);
        let ip: Ipv4Addr = match addr.parse() {
            Ok(ip) => ip,
            Err(_) if entry.matches(':').count() >= 2 => {
                return Err(
                    "looks like an IPv6 address: write it in brackets, e.g. [2001:db8::1]"
                        .to_string(),
                )
            }
            Err(_) => return Err("is not an IPv4 address".to_string()),
        };
        let (prefix, ports) = split_prefix_and_ports(after)?;
        let prefix = match prefix {
            None => 32,
            Some(p) => prefix_len(p, 32)?,
        };
        (v4_net(u32::from(ip), prefix), ports)
    };
    let (port_lo, port_hi) = match ports {
        None => (0, u16::MAX),
        Some(text) => port_range(text)?,
    };
    Ok(Rule {
        net,
        port_lo,
        port_hi,
    })
}

/// `after` is what follows the address: `""`, `/N`, `:PORTS` or `/N:PORTS`.
fn split_prefix_and_ports(after: &str) -> Result<(Option<&str>, Option<&str>), String> {
    let (prefix_part, ports) = match after.split_once(':') {
        Some((p, ports)) => (p, Some(ports)),
        None => (after, None),
    };
    let prefix = if prefix_part.is_empty() {
        None
    } else if let Some(p) = prefix_part.strip_prefix('/') {
        Some(p)
    } else {
        return Err("has unexpected text after its address".to_string());
    };
    Ok((prefix, ports))
}

fn small_number(text: &str) -> Option<u32> {
    // Digits only: u32::from_str would also take "+8".
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn prefix_len(text: &str, max: u32) -> Result<u32, String> {
    match small_number(text) {
        Some(n) if n <= max => Ok(n),
        _ => Err(format!("has a prefix length that is not 0 to {max}")),
    }
}

fn port(text: &str) -> Result<u16, String> {
    match small_number(text) {
        Some(n) if (1..=u16::MAX as u32).contains(&n) => Ok(n as u16),
        _ => Err("has a port that is not 1 to 65535".to_string()),
    }
}

fn port_range(text: &str) -> Result<(u16, u16), String> {
    match text.split_once('-') {
        None => port(text).map(|p| (p, p)),
        Some((lo, hi)) => {
            let (lo, hi) = (port(lo)?, port(hi)?);
            if lo > hi {
                return Err("has a port range whose start is above its end".to_string());
            }
            Ok((lo, hi))
        }
    }
}

fn v4_mask(prefix: u32) -> u32 {
    // A shift by 32 would overflow: /0 is the empty mask.
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    }
}

fn v6_mask(prefix: u32) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    }
}

fn v4_net(addr: u32, prefix: u32) -> Net {
    let mask = v4_mask(prefix);
    Net::V4 {
        addr: addr & mask,
        mask,
    }
}

fn v6_net(ip: Ipv6Addr, prefix: u32) -> Net {
    // [::ffff:a.b.c.d]/n names IPv4 peers, which are matched as IPv4: make it that IPv4 rule.
    if prefix >= 96 {
        if let Some(v4) = ip.to_ipv4_mapped() {
            return v4_net(u32::from(v4), prefix - 96);
        }
    }
    let mask = v6_mask(prefix);
    Net::V6 {
        addr: u128::from(ip) & mask,
        mask,
    }
}

/// The whole scope, as the library uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope {
    pub direction: Direction,
    pub only: RuleList,
    pub except: RuleList,
}

impl Default for Scope {
    fn default() -> Self {
        Scope::EVERY_CONNECTION
    }
}

impl Scope {
    /// No scope variable set.
    pub const EVERY_CONNECTION: Scope = Scope {
        direction: Direction::Both,
        only: RuleList::NONE,
        except: RuleList::NONE,
    };

    /// Any scope variable set: sockets are then configured at connect()/accept(), not socket().
    pub fn is_set(&self) -> bool {
        self.direction != Direction::Both || self.only.given || self.except.given
    }

    /// Does an address rule need the peer's address (else the direction alone decides)?
    pub fn has_address_rules(&self) -> bool {
        self.only.given || self.except.given
    }

    /// Does the connection on `side` to `peer` (None: unknown address) get keepalive?
    /// An unknown address matches no rule: not in an ONLY list, not excepted.
    pub fn matches(&self, side: Side, peer: Option<Peer>) -> bool {
        let direction_ok = match self.direction {
            Direction::Both => true,
            Direction::Outbound => side == Side::Outbound,
            Direction::Inbound => side == Side::Inbound,
        };
        if !direction_ok {
            return false;
        }
        let in_only = !self.only.given || peer.is_some_and(|p| self.only.any_matches(p));
        let excepted = peer.is_some_and(|p| self.except.any_matches(p));
        in_only && !excepted
    }

    /// Short description for the start line with `KASHIM_LOG=info`.
    pub fn summary(&self) -> String {
        if !self.is_set() {
            return "every connection".to_string();
        }
        let mut s = format!("direction {}", self.direction.name());
        if self.only.given {
            s.push_str(&format!(", only {} rule(s)", self.only.len));
        }
        if self.except.given {
            s.push_str(&format!(", except {} rule(s)", self.except.len));
        }
        s
    }
}

#[cfg(test)]
mod tests;
