//! The probe's reasoning, apart from sockets: which idle times to try, how to read what happened
//! to each connection, and when the probe knows enough. `Probe::step` is called on every tick
//! with the observations so far; the caller opens and closes the connections it asks for.
//!
//! Each connection gets keepalive with its own idle time t (its first probe after t s without
//! anything received) and a short interval and count. Behind a middlebox that has forgotten the
//! connection, that first probe is answered with a reset or with silence; otherwise the far end's
//! kernel answers it and the probe refreshes every state on the path. So connections with t below
//! the path's idle timeout live on and those above it die at t: a ladder of idle times brackets
//! the timeout in one round, a second round narrows the bracket, and the connection kept from
//! the ladder just below the bracket shows whether keepalive holds the path.
//!
//! The kernel's timer wheel fires a keepalive timer late by up to about an eighth of its length
//! (2 s at 40 s, 16 s at 5 min), never early. So the bracket is made of the times the probes
//! really went out, as observed (an answer's arrival, a reset, or tcp_info's probe counter), not
//! of the idle times asked for; the idle times only order the connections.
//!
//! A connection that ends without being provoked by its own first probe (a FIN, or a reset or
//! timeout before that probe or after one was answered) was ended by something that does not
//! wait for our probes: the server, a proxy, or a load balancer acting on idleness itself. All
//! connections opened together then end together, and what matters is whether those whose
//! probes had been answered survived.

use serde::Serialize;

/// Keepalive interval and count on every probing connection: after an unanswered first probe, a
/// connection dies `SILENCE_S` later, having sent `PROBE_COUNT` probes (one lost packet is not
/// silence).
pub const PROBE_INTERVAL_S: u32 = 1;
pub const PROBE_COUNT: u32 = 3;
pub const SILENCE_S: f64 = (PROBE_INTERVAL_S * PROBE_COUNT) as f64;
/// Connections the second round adds at most.
pub const NARROWING_MAX: usize = 8;
/// How early before its idle time a probe's answer may seem to come (clock and tick skew).
const TOLERANCE_S: f64 = 0.3;
/// After a connection ends unprovoked, how long to wait for the others that end with it.
pub const GRACE_S: f64 = 2.0;
/// A connection ended by the far end sooner than this after it opened was refused service.
pub const REFUSED_WITHIN_S: f64 = 1.0;

/// How late a keepalive timer of `idle_s` may fire (the timer wheel's granularity, about an
/// eighth of the time at each level, plus scheduling).
pub fn timer_slack(idle_s: u32) -> f64 {
    idle_s as f64 * 0.15 + 1.0
}

/// The ladder's idle times: 1 s, doubling, and `max_s` last.
pub fn ladder(max_s: u32) -> Vec<u32> {
    let mut rungs = Vec::new();
    let mut t = 1;
    while t < max_s {
        rungs.push(t);
        t *= 2;
    }
    rungs.push(max_s);
    rungs
}

/// The second round's idle times, strictly between `low` and `high`, evenly spread.
pub fn narrowing(low: u32, high: u32) -> Vec<u32> {
    let inside = high.saturating_sub(low).saturating_sub(1) as usize;
    if inside <= NARROWING_MAX {
        return (low + 1..high).collect();
    }
    let parts = (NARROWING_MAX + 1) as f64;
    let mut idles: Vec<u32> = (1..=NARROWING_MAX)
        .map(|j| low + ((high - low) as f64 * j as f64 / parts).round() as u32)
        .filter(|t| *t > low && *t < high)
        .collect();
    idles.dedup();
    idles
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum How {
    /// The far end closed the connection (FIN).
    Fin,
    /// ECONNRESET.
    Reset,
    /// ETIMEDOUT: the keepalive probes went unanswered.
    Silence,
}

impl How {
    pub fn name(self) -> &'static str {
        match self {
            How::Fin => "fin",
            How::Reset => "reset",
            How::Silence => "silence",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Ended {
    /// Closed by kashim (no longer needed, or the probe is over).
    ByKashim,
    /// Lost: `provoked` when it died answering its own first probe, which then was not answered
    /// by the far end.
    Lost { how: How, provoked: bool },
}

/// What is known about one connection. Times are seconds since the probe started.
#[derive(Clone, Debug, PartialEq)]
pub struct Conn {
    pub round: u8,
    pub idle_s: u32,
    pub opened: f64,
    /// When the keepalive clock started: the open, or the last data the far end sent.
    pub quiet_since: f64,
    /// When the far end first acknowledged a probe (the first probe answered).
    pub answered: Option<f64>,
    /// When tcp_info first showed a probe unanswered.
    pub probe_seen: Option<f64>,
    pub ended: Option<(f64, Ended)>,
    pub bytes_received: u64,
    /// Segments the far end sent on its own (neither data nor an answer to a probe of ours):
    /// its own keepalive probes. How many, and how long the connection was quiet at the first.
    pub far_end_probes: u32,
    pub far_end_probe_quiet: Option<f64>,
}

impl Conn {
    pub fn new(round: u8, idle_s: u32, opened: f64) -> Conn {
        Conn {
            round,
            idle_s,
            opened,
            quiet_since: opened,
            answered: None,
            probe_seen: None,
            ended: None,
            bytes_received: 0,
            far_end_probes: 0,
            far_end_probe_quiet: None,
        }
    }

    /// The far end sent a segment of its own at `at`.
    pub fn saw_far_end_probe(&mut self, at: f64) {
        self.far_end_probes += 1;
        if self.far_end_probe_quiet.is_none() {
            self.far_end_probe_quiet = Some(at - self.quiet_since);
        }
    }

    pub fn is_open(&self) -> bool {
        self.ended.is_none()
    }

    /// When its first probe goes out (as long as nothing more is received).
    pub fn first_probe_at(&self) -> f64 {
        self.quiet_since + self.idle_s as f64
    }

    /// The far end acknowledged something at `at` (seconds): an answer to the first probe if it
    /// came after that probe went out.
    pub fn saw_ack(&mut self, at: f64) {
        if self.answered.is_none() && at >= self.first_probe_at() - TOLERANCE_S {
            self.answered = Some(at);
        }
    }

    /// tcp_info showed an unanswered probe at `at`.
    pub fn saw_probe(&mut self, at: f64) {
        if self.probe_seen.is_none() && self.answered.is_none() {
            self.probe_seen = Some(at);
        }
    }

    /// How long the connection had been quiet when its first probe really went out, if known:
    /// from the answer, or from the loss it provoked.
    pub fn first_probe_quiet(&self) -> Option<f64> {
        let at = match (self.answered, self.lost()) {
            (Some(answered), _) => answered,
            (None, Some((at, How::Reset, true))) => at,
            (None, Some((at, How::Silence, true))) => self.probe_seen.unwrap_or(at - SILENCE_S),
            _ => return None,
        };
        Some(at - self.quiet_since)
    }

    /// The connection was lost at `at`: provoked if by its own unanswered first probe.
    pub fn lose(&mut self, at: f64, how: How) {
        let provoked =
            how != How::Fin && self.answered.is_none() && at >= self.first_probe_at() - TOLERANCE_S;
        self.ended = Some((at, Ended::Lost { how, provoked }));
    }

    pub fn close(&mut self, at: f64) {
        if self.ended.is_none() {
            self.ended = Some((at, Ended::ByKashim));
        }
    }

    pub fn lost(&self) -> Option<(f64, How, bool)> {
        match self.ended {
            Some((at, Ended::Lost { how, provoked })) => Some((at, how, provoked)),
            _ => None,
        }
    }

    /// Its first probe has had its chance: answered, lost, or long overdue.
    fn resolved(&self, now: f64) -> bool {
        self.answered.is_some() || self.ended.is_some() || now > self.overdue_at()
    }

    fn overdue_at(&self) -> f64 {
        self.first_probe_at() + timer_slack(self.idle_s) + SILENCE_S + 2.0
    }
}

/// What the path does to idle connections.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Every probe up to --max was answered.
    NoTimeout,
    /// Connections die at their first probe beyond the timeout: a middlebox forgets them.
    Middlebox,
    /// Connections idle for some time end unprovoked, but those with keepalive live: a
    /// middlebox (a load balancer) ends idle connections itself and counts probes as activity.
    EndsIdle,
    /// Every connection ends at the same time whatever keepalive does: the server, or a proxy.
    FarEnd,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub kind: Kind,
    /// Seconds: the path lost idle connections after more than `low` and at most `high`.
    pub idle_timeout: Option<(f64, f64)>,
    pub expired_by: Option<How>,
    pub keepalive_holds: Option<bool>,
    pub closed_by_server_after_s: Option<f64>,
    /// The keepalive idle of the connection that showed whether keepalive holds.
    pub hold_idle_s: Option<u32>,
    /// How long that connection had gone without data when the probe ended (or it was lost).
    pub hold_quiet_s: Option<f64>,
}

/// What the caller does next.
#[derive(Debug, PartialEq)]
pub enum Step {
    Wait,
    /// Open a connection for each idle time (the second round).
    Open(Vec<u32>),
    Done(Finding),
    /// The far end closed connections right after they opened.
    Refused {
        closed: usize,
        of: usize,
    },
    /// A connection's first probe is long overdue, neither answered nor lost: keepalive is not
    /// doing what the probe relies on.
    Unanswered {
        idle_s: u32,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    Ladder,
    /// `low`/`high`: the bracket so far, in seconds of quiet at the probes that were answered
    /// and lost.
    Narrow {
        low: f64,
        high: f64,
        hold: Option<usize>,
        how: How,
    },
    Hold {
        low: f64,
        high: f64,
        hold: Option<usize>,
        how: How,
    },
    /// A connection ended unprovoked at `first`; waiting for the others that end with it.
    Grace {
        first: f64,
        prior: Option<(f64, f64, How, Option<usize>)>,
    },
}

pub struct Probe {
    pub conns: Vec<Conn>,
    pub phase: Phase,
}

impl Probe {
    pub fn new() -> Probe {
        Probe {
            conns: Vec::new(),
            phase: Phase::Ladder,
        }
    }

    /// The longest an answer is still outstanding in this phase, in seconds from `now`.
    pub fn phase_left(&self, now: f64) -> f64 {
        let end = match &self.phase {
            Phase::Grace { first, .. } => first + GRACE_S,
            Phase::Hold { high, hold, .. } => self.hold_until(*hold, *high),
            _ => self
                .conns
                .iter()
                .filter(|c| c.is_open() && c.answered.is_none())
                .map(|c| c.first_probe_at() + timer_slack(c.idle_s) + SILENCE_S)
                .fold(now, f64::max),
        };
        (end - now).max(0.0)
    }

    /// The hold connection has been quiet past the bracket's end, and an unanswered probe of
    /// its own would have been noticed.
    fn hold_until(&self, hold: Option<usize>, high: f64) -> f64 {
        hold.map(|i| {
            let c = &self.conns[i];
            c.quiet_since + high + timer_slack(c.idle_s) + SILENCE_S + 1.0
        })
        .unwrap_or(0.0)
    }

    /// Closes every open connection but `keep`, at `now`.
    fn close_all_but(&mut self, keep: Option<usize>, now: f64) {
        for (i, c) in self.conns.iter_mut().enumerate() {
            if Some(i) != keep {
                c.close(now);
            }
        }
    }

    pub fn step(&mut self, now: f64) -> Step {
        // A connection lost unprovoked decides the rest, whatever the phase.
        if !matches!(self.phase, Phase::Grace { .. }) {
            if let Some(first) = self
                .conns
                .iter()
                .filter_map(|c| c.lost().filter(|l| !l.2).map(|l| l.0))
                .reduce(f64::min)
            {
                let early = self
                    .conns
                    .iter()
                    .filter(|c| {
                        matches!(c.lost(), Some((at, _, false)) if at - c.opened < REFUSED_WITHIN_S)
                    })
                    .count();
                if early > 0 {
                    return Step::Refused {
                        closed: early,
                        of: self.conns.len(),
                    };
                }
                let prior = match self.phase {
                    Phase::Narrow {
                        low,
                        high,
                        hold,
                        how,
                    }
                    | Phase::Hold {
                        low,
                        high,
                        hold,
                        how,
                    } => Some((low, high, how, hold)),
                    _ => None,
                };
                self.phase = Phase::Grace { first, prior };
            }
        }
        match self.phase.clone() {
            Phase::Ladder => self.step_round(1, 0.0, f64::MAX, None, now),
            Phase::Narrow {
                low,
                high,
                hold,
                how,
            } => self.step_round(2, low, high, Some((hold, how)), now),
            Phase::Hold {
                low,
                high,
                hold,
                how,
            } => {
                if now < self.hold_until(hold, high) {
                    return Step::Wait;
                }
                let finding = self.middlebox(low, high, how, hold, now);
                self.close_all_but(None, now);
                Step::Done(finding)
            }
            Phase::Grace { first, prior } => {
                if now < first + GRACE_S {
                    return Step::Wait;
                }
                let finding = self.ended_unprovoked(first, prior, now);
                self.close_all_but(None, now);
                Step::Done(finding)
            }
        }
    }

    /// One round: its connections' first probes, in order of idle time. `low`/`high` is the
    /// bracket known before it (the ladder: none); in the narrowing round, `ladder_hold` is the
    /// ladder's hold connection and how the ladder saw connections lost.
    fn step_round(
        &mut self,
        round: u8,
        low: f64,
        high: f64,
        ladder_hold: Option<(Option<usize>, How)>,
        now: f64,
    ) -> Step {
        let in_round = |c: &&Conn| c.round == round;
        // The lowest idle time that provoked a loss, with when its probe went out and how.
        let first_lost = self
            .conns
            .iter()
            .filter(in_round)
            .filter_map(|c| match c.lost() {
                Some((_, how, true)) => Some((c.idle_s, c.first_probe_quiet()?, how)),
                _ => None,
            })
            .min_by_key(|l| l.0);
        let top = first_lost.map(|l| l.0).unwrap_or(u32::MAX);
        if self
            .conns
            .iter()
            .filter(in_round)
            .any(|c| c.idle_s < top && !c.resolved(now))
        {
            return Step::Wait;
        }
        // The longest quiet an answered probe of this round survived, and its connection.
        let best = self
            .conns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.round == round && c.idle_s < top && c.is_open())
            .filter_map(|(i, c)| Some((i, c.first_probe_quiet()?)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some(c) = self
            .conns
            .iter()
            .filter(in_round)
            .find(|c| c.idle_s < top && c.is_open() && c.answered.is_none())
        {
            return Step::Unanswered { idle_s: c.idle_s };
        }
        match (first_lost, ladder_hold) {
            (None, None) => {
                // Every rung answered, the last at --max.
                self.close_all_but(None, now);
                Step::Done(Finding {
                    kind: Kind::NoTimeout,
                    idle_timeout: None,
                    expired_by: None,
                    keepalive_holds: None,
                    closed_by_server_after_s: None,
                    hold_idle_s: None,
                    hold_quiet_s: None,
                })
            }
            (Some((_, lost_quiet, how)), None) => {
                let (low, hold) = best.map(|(i, q)| (q, Some(i))).unwrap_or((0.0, None));
                let high = lost_quiet.max(low);
                self.close_all_but(hold, now);
                let next = narrowing(low.floor() as u32, high.ceil() as u32);
                if next.is_empty() {
                    self.phase = Phase::Hold {
                        low,
                        high,
                        hold,
                        how,
                    };
                    Step::Wait
                } else {
                    self.phase = Phase::Narrow {
                        low,
                        high,
                        hold,
                        how,
                    };
                    Step::Open(next)
                }
            }
            (lost, Some((hold, how))) => {
                let new_low = best.map(|b| b.1).unwrap_or(low).max(low);
                let (new_high, how) = match lost {
                    Some((_, q, how)) if q < high => (q.max(new_low), how),
                    _ => (high, how),
                };
                self.close_all_but(hold, now);
                self.phase = Phase::Hold {
                    low: new_low,
                    high: new_high,
                    hold,
                    how,
                };
                Step::Wait
            }
        }
    }

    fn middlebox(&self, low: f64, high: f64, how: How, hold: Option<usize>, now: f64) -> Finding {
        let hold_conn = hold.map(|i| &self.conns[i]);
        Finding {
            kind: Kind::Middlebox,
            idle_timeout: Some((floor1(low), ceil1(high))),
            expired_by: Some(how),
            // Below 1 s there is no keepalive to hold with.
            keepalive_holds: Some(hold_conn.is_some_and(|c| c.is_open())),
            closed_by_server_after_s: None,
            hold_idle_s: hold_conn.map(|c| c.idle_s),
            hold_quiet_s: hold_conn.map(|c| round1(now - c.quiet_since)),
        }
    }

    fn ended_unprovoked(
        &self,
        first: f64,
        prior: Option<(f64, f64, How, Option<usize>)>,
        now: f64,
    ) -> Finding {
        let lost: Vec<(&Conn, f64, How)> = self
            .conns
            .iter()
            .filter_map(|c| match c.lost() {
                Some((at, how, false)) if at >= first => Some((c, at, how)),
                _ => None,
            })
            .collect();
        // Quiet time at the end: what the far end or the middlebox measures.
        let quiet: Vec<f64> = lost.iter().map(|(c, at, _)| at - c.quiet_since).collect();
        let (lo, hi) = quiet
            .iter()
            .fold((f64::MAX, 0.0f64), |(lo, hi), q| (lo.min(*q), hi.max(*q)));
        let how = lost
            .iter()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|l| l.2)
            .unwrap_or(How::Fin);
        // The connections whose probes had been answered before the first loss: did they live?
        let probed: Vec<&Conn> = self
            .conns
            .iter()
            .filter(|c| c.answered.is_some_and(|a| a < first))
            .collect();
        let holds = if probed.is_empty() {
            None
        } else {
            Some(probed.iter().any(|c| c.is_open()))
        };
        let witness = probed
            .iter()
            .filter(|c| c.is_open() == holds.unwrap_or(false))
            .max_by_key(|c| c.idle_s);
        let closed_by_server = (how == How::Fin).then_some(round1(lo));
        let witness_quiet = witness.map(|c| {
            let end = c.ended.as_ref().map(|e| e.0).unwrap_or(now);
            round1(end - c.quiet_since)
        });
        match prior {
            // A middlebox bracket first, then the hold connection (or others) ended unprovoked.
            Some((low, high, prior_how, _)) => Finding {
                kind: Kind::Middlebox,
                idle_timeout: Some((floor1(low), ceil1(high))),
                expired_by: Some(prior_how),
                keepalive_holds: Some(holds == Some(true)),
                closed_by_server_after_s: closed_by_server,
                hold_idle_s: witness.map(|c| c.idle_s),
                hold_quiet_s: witness_quiet,
            },
            None => Finding {
                kind: if holds == Some(true) {
                    Kind::EndsIdle
                } else {
                    Kind::FarEnd
                },
                idle_timeout: Some((floor1(lo), ceil1(hi))),
                expired_by: Some(how),
                keepalive_holds: holds,
                closed_by_server_after_s: closed_by_server,
                hold_idle_s: witness.map(|c| c.idle_s),
                hold_quiet_s: witness_quiet,
            },
        }
    }
}

pub fn round1(s: f64) -> f64 {
    (s * 10.0).round() / 10.0
}
fn floor1(s: f64) -> f64 {
    (s * 10.0).floor() / 10.0
}
fn ceil1(s: f64) -> f64 {
    (s * 10.0).ceil() / 10.0
}

/// The keepalive settings to use on this path, if keepalive can keep it: the first probe after
/// half the longest idle time the path is known to keep, retries every tenth of it (at most
/// kashim's default 10 s) so that lost probes are repeated well before the timeout, and kashim's
/// default count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recommended {
    pub idle_s: u32,
    pub interval_s: u32,
    pub count: u32,
}

pub fn recommend(finding: &Finding, max_s: u32) -> Option<Recommended> {
    if finding.keepalive_holds == Some(false) || finding.kind == Kind::FarEnd {
        return None;
    }
    let kept = match finding.kind {
        Kind::NoTimeout => max_s,
        _ => finding.idle_timeout?.0.floor() as u32,
    };
    if kept < 1 {
        return None;
    }
    Some(Recommended {
        idle_s: (kept / 2).clamp(1, kashim_config::KEEPALIVE_SECONDS_MAX),
        interval_s: (kept / 10).clamp(1, 10),
        count: 6,
    })
}

#[cfg(test)]
mod tests;
