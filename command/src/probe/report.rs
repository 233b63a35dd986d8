//! What the probe found, as text for people and as JSON (`--json`).

use super::plan::{self, Conn, Ended, Finding, How, Kind, Phase, Probe};
use super::target::Target;
use serde::Serialize;
use std::fmt::Write as _;
use std::net::SocketAddr;

#[derive(Serialize)]
pub struct Report {
    pub target: String,
    pub address: String,
    pub max_s: u32,
    pub elapsed_s: f64,
    /// "no_timeout", "middlebox", "ends_idle" or "far_end".
    pub kind: Kind,
    pub idle_timeout: Option<Bracket>,
    pub expired_by: Option<How>,
    pub keepalive_holds: Option<bool>,
    pub closed_by_server_after_s: Option<f64>,
    /// The far end's own keepalive: seconds of quiet at the first probe it sent, or null.
    pub far_end_keepalive_after_s: Option<f64>,
    pub recommended_idle_s: Option<u32>,
    pub recommended_interval_s: Option<u32>,
    pub recommended_count: Option<u32>,
    /// The recommendation as one line: a kashim command, or what to do instead.
    pub recommendation: String,
    /// The finding in one sentence, as the text report says it.
    pub verdict: String,
    pub keepalive_interval_s: u32,
    pub keepalive_count: u32,
    pub connections: Vec<Observation>,
    #[serde(skip)]
    holds_text: String,
}

#[derive(Serialize)]
pub struct Bracket {
    pub low_s: f64,
    pub high_s: f64,
}

#[derive(Serialize)]
pub struct Observation {
    /// 1: the ladder; 2: the narrowing round.
    pub round: u8,
    pub idle_s: u32,
    pub opened_at_s: f64,
    /// "answered", "reset", "silence" (the first probe's fate) or null (never probed).
    pub first_probe: Option<&'static str>,
    /// Seconds without data when the first probe really went out (the kernel's timer fires up
    /// to about an eighth of idle_s late), when known.
    pub first_probe_after_s: Option<f64>,
    /// "kashim" (closed when no longer needed), "fin", "reset" or "silence".
    pub ended_by: &'static str,
    /// Seconds after it opened.
    pub ended_after_s: f64,
    /// Seconds without data from the far end when it ended.
    pub quiet_s: f64,
    pub bytes_received: u64,
    /// Keepalive probes the far end sent on this connection.
    pub far_end_probes: u32,
}

impl Report {
    pub fn new(
        target: &Target,
        addr: SocketAddr,
        max_s: u32,
        probe: &Probe,
        finding: &Finding,
        elapsed: f64,
    ) -> Report {
        let rec = plan::recommend(finding, max_s);
        let (verdict, holds_text, recommendation) = words(finding, max_s, rec);
        Report {
            target: target.to_string(),
            address: addr.to_string(),
            max_s,
            elapsed_s: plan::round1(elapsed),
            kind: finding.kind.clone(),
            idle_timeout: finding
                .idle_timeout
                .map(|(low_s, high_s)| Bracket { low_s, high_s }),
            expired_by: finding.expired_by,
            keepalive_holds: finding.keepalive_holds,
            closed_by_server_after_s: finding.closed_by_server_after_s,
            far_end_keepalive_after_s: probe
                .conns
                .iter()
                .filter_map(|c| c.far_end_probe_quiet)
                .reduce(f64::min)
                .map(plan::round1),
            recommended_idle_s: rec.map(|r| r.idle_s),
            recommended_interval_s: rec.map(|r| r.interval_s),
            recommended_count: rec.map(|r| r.count),
            recommendation,
            verdict,
            keepalive_interval_s: plan::PROBE_INTERVAL_S,
            keepalive_count: plan::PROBE_COUNT,
            connections: probe
                .conns
                .iter()
                .map(|c| observation(c, elapsed))
                .collect(),
            holds_text,
        }
    }

    pub fn json(&self) -> String {
        serde_json::to_string(self).expect("a report serializes")
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "kashim --probe {} ({}): {} connections, idle times up to {}, took {}",
            self.target,
            self.address,
            self.connections.len(),
            secs(self.max_s as f64),
            secs(self.elapsed_s)
        );
        let _ = writeln!(out, "path:       {}", self.verdict);
        let _ = writeln!(out, "keepalive:  {}", self.holds_text);
        if let Some(after) = self.far_end_keepalive_after_s {
            let _ = writeln!(
                out,
                "far end:    sends keepalive probes of its own, the first after {} quiet: they \
                 keep the path's state too, so a middlebox timeout longer than that cannot show",
                secs(after)
            );
        }
        let _ = writeln!(out, "recommend:  {}", self.recommendation);
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  round  idle     first probe             ended                       quiet"
        );
        for c in &self.connections {
            let probe = match (c.first_probe, c.first_probe_after_s) {
                (Some(fate), Some(at)) => format!("{fate} at {}", secs(at)),
                (Some(fate), None) => fate.to_string(),
                _ => "-".to_string(),
            };
            let ended = match c.ended_by {
                "kashim" => format!("closed by kashim at {}", secs(c.ended_after_s)),
                how => format!("{how} at {}", secs(c.ended_after_s)),
            };
            let _ = writeln!(
                out,
                "  {:<6} {:<8} {:<23} {:<27} {}",
                c.round,
                secs(c.idle_s as f64),
                probe,
                ended,
                secs(c.quiet_s)
            );
        }
        out
    }
}

fn observation(c: &Conn, now: f64) -> Observation {
    let (at, by) = match &c.ended {
        Some((at, Ended::ByKashim)) => (*at, "kashim"),
        Some((at, Ended::Lost { how, .. })) => (*at, how.name()),
        None => (now, "kashim"),
    };
    let first_probe = match (&c.answered, &c.ended) {
        (Some(_), _) => Some("answered"),
        (
            None,
            Some((
                _,
                Ended::Lost {
                    how,
                    provoked: true,
                },
            )),
        ) => Some(how.name()),
        _ => None,
    };
    Observation {
        round: c.round,
        idle_s: c.idle_s,
        opened_at_s: plan::round1(c.opened),
        first_probe,
        first_probe_after_s: c.first_probe_quiet().map(plan::round1),
        ended_by: by,
        ended_after_s: plan::round1(at - c.opened),
        quiet_s: plan::round1(at - c.quiet_since),
        bytes_received: c.bytes_received,
        far_end_probes: c.far_end_probes,
    }
}

/// The verdict on the path, on keepalive, and the recommendation, in words.
fn words(f: &Finding, max_s: u32, rec: Option<plan::Recommended>) -> (String, String, String) {
    let how_text = |how: Option<How>| match how {
        Some(How::Reset) => "the next packet is answered with a reset",
        Some(How::Silence) => "the next packet is dropped without an answer",
        Some(How::Fin) => "the connection is closed (FIN)",
        None => "",
    };
    let bracket = f
        .idle_timeout
        .map(|(lo, hi)| format!("after more than {} and at most {}", secs(lo), secs(hi)))
        .unwrap_or_default();
    let verdict = match f.kind {
        Kind::NoTimeout => format!(
            "no idle timeout up to {} (every keepalive probe was answered, the last after {} idle)",
            secs(max_s as f64),
            secs(max_s as f64)
        ),
        Kind::Middlebox => format!(
            "a middlebox (stateful firewall, NAT, load balancer) forgets idle connections \
             {bracket}; {}{}",
            how_text(f.expired_by),
            match f.closed_by_server_after_s {
                Some(n) => format!(
                    "; the far end also closed a connection after {} without data",
                    secs(n)
                ),
                None => String::new(),
            }
        ),
        Kind::EndsIdle => format!(
            "connections without keepalive are ended after {} idle ({}), but those with \
             keepalive live: a middlebox ends idle connections itself and counts probes as \
             activity",
            secs(f.idle_timeout.map(|b| b.0).unwrap_or(0.0)),
            f.expired_by.map(How::name).unwrap_or("?")
        ),
        Kind::FarEnd => {
            let after = secs(f.idle_timeout.map(|b| b.0).unwrap_or(0.0));
            match f.expired_by {
                Some(How::Fin) => format!(
                    "the far end closes connections after {after} without data (FIN), whatever \
                     keepalive does: the server itself, or a TCP proxy in front of it (TCP cannot \
                     tell them apart)"
                ),
                how => format!(
                    "every connection was ended after {after} without data ({}), whatever \
                     keepalive does: the server, or a proxy or middlebox that times out on data",
                    how.map(How::name).unwrap_or("?")
                ),
            }
        }
    };
    let quiet = f.hold_quiet_s.map(secs).unwrap_or_default();
    let holds = match (f.keepalive_holds, f.hold_idle_s) {
        (None, _) => match f.kind {
            Kind::NoTimeout => "not needed up to this --max (nothing to hold against)".to_string(),
            _ => {
                "not tested (no connection had a probe answered before the first loss)".to_string()
            }
        },
        (Some(true), Some(t)) => format!(
            "holds: a connection probed every {} was still open after {quiet} without data",
            secs(t as f64)
        ),
        (Some(true), None) => "holds".to_string(),
        (Some(false), Some(t)) => format!(
            "does NOT hold: a connection probed every {} was ended anyway after {quiet} without \
             data; the far end or a proxy times out on data, not on packets",
            secs(t as f64)
        ),
        (Some(false), None) => {
            "cannot hold: the path forgets connections sooner than keepalive can probe (1 s)"
                .to_string()
        }
    };
    let recommendation = match rec {
        Some(r) => format!(
            "kashim --idle {}s --interval {}s --count {} -- COMMAND",
            r.idle_s, r.interval_s, r.count
        ),
        None => match f.idle_timeout {
            Some((lo, _)) if lo >= 1.0 => format!(
                "an application-level heartbeat (real data) more often than every {}, or a \
                 longer idle timeout on the server or proxy: TCP keepalive cannot keep this \
                 connection",
                secs(lo)
            ),
            _ => "none: TCP keepalive cannot keep this connection".to_string(),
        },
    };
    (verdict, holds, recommendation)
}

/// `4.5 s`, `90 s`, `25 min`, `1 h 30 min` style durations for people.
pub fn secs(s: f64) -> String {
    if s < 10.0 && s.fract() != 0.0 {
        format!("{s:.1} s")
    } else if s < 120.0 {
        format!("{} s", s.round() as u64)
    } else if s < 7200.0 {
        let m = s / 60.0;
        if (m - m.round()).abs() < 0.01 {
            format!("{} min", m.round() as u64)
        } else {
            format!("{} s", s.round() as u64)
        }
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// What is known so far, in one clause, for progress lines.
pub fn progress_summary(probe: &Probe) -> String {
    let answered = probe
        .conns
        .iter()
        .filter(|c| c.answered.is_some())
        .map(|c| c.idle_s)
        .max();
    match &probe.phase {
        Phase::Ladder => match answered {
            Some(t) => format!("no loss yet: idle {} answered", secs(t as f64)),
            None => "waiting for the first probes".to_string(),
        },
        Phase::Narrow { low, high, .. } => {
            format!(
                "the path forgets between {} and {}",
                secs(*low),
                secs(*high)
            )
        }
        Phase::Hold { low, high, .. } => format!(
            "the path forgets between {} and {}; checking that keepalive holds",
            secs(*low),
            secs(*high)
        ),
        Phase::Grace { first, .. } => format!(
            "a connection was ended unprovoked at {}; waiting for the others",
            secs(plan::round1(*first))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_issues_fields_and_the_text_its_lines() {
        let mut probe = Probe::new();
        probe.conns.push(Conn::new(1, 4, 0.0));
        probe.conns[0].saw_ack(4.2);
        probe.conns.push(Conn::new(1, 8, 0.0));
        probe.conns[1].lose(8.5, How::Reset);
        let finding = Finding {
            kind: Kind::Middlebox,
            idle_timeout: Some((4.2, 8.5)),
            expired_by: Some(How::Reset),
            keepalive_holds: Some(true),
            closed_by_server_after_s: None,
            hold_idle_s: Some(4),
            hold_quiet_s: Some(12.5),
        };
        let target = Target {
            host: "db.example.com".into(),
            port: 5432,
        };
        let report = Report::new(
            &target,
            "192.0.2.7:5432".parse().unwrap(),
            20,
            &probe,
            &finding,
            12.5,
        );
        let v: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
        assert_eq!(v["target"], "db.example.com:5432");
        assert_eq!(v["idle_timeout"]["low_s"], 4.2);
        assert_eq!(v["idle_timeout"]["high_s"], 8.5);
        assert_eq!(v["expired_by"], "reset");
        assert_eq!(v["keepalive_holds"], true);
        assert!(v["closed_by_server_after_s"].is_null());
        assert!(v["far_end_keepalive_after_s"].is_null());
        assert_eq!(v["recommended_idle_s"], 2);
        assert_eq!(v["connections"][0]["first_probe"], "answered");
        assert_eq!(v["connections"][0]["first_probe_after_s"], 4.2);
        assert_eq!(v["connections"][1]["first_probe"], "reset");
        assert_eq!(v["connections"][1]["ended_by"], "reset");
        let text = report.text();
        assert!(text.contains("path:       a middlebox"), "{text}");
        assert!(
            text.contains("after more than 4.2 s and at most 8.5 s"),
            "{text}"
        );
        assert!(
            text.contains("keepalive:  holds: a connection probed every 4 s"),
            "{text}"
        );
        assert!(text.contains("recommend:  kashim --idle 2s --interval 1s --count 6 -- COMMAND"));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(secs(4.2), "4.2 s");
        assert_eq!(secs(4.0), "4 s");
        assert_eq!(secs(107.3), "107 s");
        assert_eq!(secs(120.0), "2 min");
        assert_eq!(secs(1800.0), "30 min");
        assert_eq!(secs(9000.0), "2.5 h");
    }
}
