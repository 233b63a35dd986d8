use super::*;

#[test]
fn the_ladder_doubles_up_to_max() {
    assert_eq!(ladder(2), vec![1, 2]);
    assert_eq!(ladder(20), vec![1, 2, 4, 8, 16, 20]);
    assert_eq!(ladder(16), vec![1, 2, 4, 8, 16]);
    assert_eq!(ladder(1800).len(), 12);
}

#[test]
fn narrowing_fills_small_brackets_and_spreads_over_large_ones() {
    assert_eq!(narrowing(4, 8), vec![5, 6, 7]);
    assert_eq!(narrowing(1, 2), Vec::<u32>::new());
    assert_eq!(narrowing(0, 1), Vec::<u32>::new());
    let wide = narrowing(256, 512);
    assert_eq!(wide.len(), NARROWING_MAX);
    assert!(wide.windows(2).all(|w| w[0] < w[1]));
    assert!(wide[0] > 256 && wide[NARROWING_MAX - 1] < 512);
}

/// A path simulated tick by tick: a middlebox that forgets a connection after `forgets_after`
/// s without packets (answering with `how`), and a far end that closes every connection after
/// `far_end_closes` s without data, or a load balancer that resets connections without packets
/// for `resets_idle_after` s. Keepalive timers fire `LATE` of their time late, as the
/// kernel's timer wheel does.
const LATE: f64 = 0.06;

struct Path {
    forgets_after: Option<f64>,
    how: How,
    far_end_closes: Option<f64>,
    resets_idle_after: Option<f64>,
}

/// Runs a probe over `path`; returns the finding, when it came, and how many connections.
fn simulate(path: &Path, max_s: u32) -> (Finding, f64, usize) {
    let mut probe = Probe::new();
    // Per connection: when a packet last crossed the middlebox, when its next probe is due,
    // and when a silent death will be reported.
    let mut last_packet = Vec::new();
    let mut next_probe = Vec::new();
    let mut dies_at: Vec<Option<f64>> = Vec::new();
    let open = |probe: &mut Probe,
                lp: &mut Vec<f64>,
                np: &mut Vec<f64>,
                d: &mut Vec<_>,
                round,
                idle,
                now| {
        probe.conns.push(Conn::new(round, idle, now));
        lp.push(now);
        np.push(now + idle as f64 * (1.0 + LATE));
        d.push(None);
    };
    for t in ladder(max_s) {
        open(
            &mut probe,
            &mut last_packet,
            &mut next_probe,
            &mut dies_at,
            1,
            t,
            0.0,
        );
    }
    let dt = 0.05;
    let mut now = 0.0;
    loop {
        now += dt;
        for i in 0..probe.conns.len() {
            if !probe.conns[i].is_open() {
                continue;
            }
            if let Some(at) = dies_at[i] {
                if now >= at {
                    probe.conns[i].lose(now, How::Silence);
                }
                continue;
            }
            let (quiet_since, idle) = (probe.conns[i].quiet_since, probe.conns[i].idle_s);
            if path.far_end_closes.is_some_and(|n| now - quiet_since >= n) {
                probe.conns[i].lose(now, How::Fin);
                continue;
            }
            if path
                .resets_idle_after
                .is_some_and(|n| now - last_packet[i] >= n)
            {
                probe.conns[i].lose(now, How::Reset);
                continue;
            }
            if now >= next_probe[i] {
                let forgotten = path.forgets_after.is_some_and(|f| now - last_packet[i] > f);
                if !forgotten {
                    probe.conns[i].saw_ack(now);
                    last_packet[i] = now;
                    next_probe[i] = now + idle as f64 * (1.0 + LATE);
                } else if path.how == How::Reset {
                    probe.conns[i].lose(now, How::Reset);
                } else {
                    dies_at[i] = Some(now + SILENCE_S);
                }
            }
        }
        match probe.step(now) {
            Step::Wait => {}
            Step::Open(idles) => {
                for t in idles {
                    open(
                        &mut probe,
                        &mut last_packet,
                        &mut next_probe,
                        &mut dies_at,
                        2,
                        t,
                        now,
                    );
                }
            }
            Step::Done(f) => {
                assert!(
                    probe.conns.iter().all(|c| !c.is_open()),
                    "all closed at the end"
                );
                return (f, now, probe.conns.len());
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(now < 3.0 * max_s as f64 + 30.0, "the probe never ends");
    }
}

#[test]
fn a_middlebox_that_resets_is_bracketed_to_a_second_and_keepalive_holds() {
    let path = Path {
        forgets_after: Some(5.5),
        how: How::Reset,
        far_end_closes: None,
        resets_idle_after: None,
    };
    let (f, took, conns) = simulate(&path, 20);
    assert_eq!(f.kind, Kind::Middlebox);
    // The bracket is made of when the probes really went out: 5 s and 6 s, both 6 % late.
    assert_eq!(f.idle_timeout, Some((5.3, 6.5)));
    assert_eq!(f.expired_by, Some(How::Reset));
    assert_eq!(f.keepalive_holds, Some(true));
    assert_eq!(f.hold_idle_s, Some(4));
    assert_eq!(conns, 6 + 4);
    assert!(took < 16.0, "took {took}");
    let rec = recommend(&f, 20).unwrap();
    assert_eq!((rec.idle_s, rec.interval_s, rec.count), (2, 1, 6));
}

#[test]
fn silence_is_bracketed_too() {
    let path = Path {
        forgets_after: Some(5.5),
        how: How::Silence,
        far_end_closes: None,
        resets_idle_after: None,
    };
    let (f, _, _) = simulate(&path, 20);
    assert_eq!(f.idle_timeout, Some((5.3, 6.5)));
    assert_eq!(f.expired_by, Some(How::Silence));
    assert_eq!(f.keepalive_holds, Some(true));
}

#[test]
fn minutes_long_timeouts_take_about_twice_the_timeout() {
    // An AWS NAT gateway: 350 s.
    let path = Path {
        forgets_after: Some(350.0),
        how: How::Silence,
        far_end_closes: None,
        resets_idle_after: None,
    };
    let (f, took, conns) = simulate(&path, 1800);
    let (low, high) = f.idle_timeout.unwrap();
    assert!(
        low < 350.0 && 350.0 <= high && high - low <= 40.0,
        "{low} {high}"
    );
    assert_eq!(f.keepalive_holds, Some(true));
    assert!(took < 2.0 * 512.0 * (1.0 + LATE) + 10.0, "took {took}");
    assert!(conns <= 12 + NARROWING_MAX);
    let rec = recommend(&f, 1800).unwrap();
    assert!(rec.idle_s < 350 / 2 + 1 && rec.interval_s == 10, "{rec:?}");
}

#[test]
fn no_timeout_up_to_max() {
    let path = Path {
        forgets_after: None,
        how: How::Reset,
        far_end_closes: None,
        resets_idle_after: None,
    };
    let (f, took, _) = simulate(&path, 8);
    assert_eq!(f.kind, Kind::NoTimeout);
    assert_eq!(f.idle_timeout, None);
    assert_eq!(f.keepalive_holds, None);
    assert!((8.0..9.0).contains(&took));
    assert_eq!(recommend(&f, 8).map(|r| r.idle_s), Some(4));
}

#[test]
fn a_far_end_that_closes_on_data_idleness_defeats_keepalive() {
    let path = Path {
        forgets_after: None,
        how: How::Reset,
        far_end_closes: Some(5.0),
        resets_idle_after: None,
    };
    let (f, took, conns) = simulate(&path, 20);
    assert_eq!(f.kind, Kind::FarEnd);
    assert_eq!(f.expired_by, Some(How::Fin));
    assert_eq!(f.keepalive_holds, Some(false));
    assert_eq!(f.closed_by_server_after_s, Some(5.0));
    assert_eq!(f.hold_idle_s, Some(4));
    assert_eq!(recommend(&f, 20), None);
    assert_eq!(conns, 6, "no second round");
    assert!(took < 5.0 + GRACE_S + 0.5);
}

#[test]
fn a_path_that_forgets_within_a_second_cannot_be_held() {
    let path = Path {
        forgets_after: Some(0.5),
        how: How::Reset,
        far_end_closes: None,
        resets_idle_after: None,
    };
    let (f, _, _) = simulate(&path, 20);
    assert_eq!(f.idle_timeout, Some((0.0, 1.1)));
    assert_eq!(f.keepalive_holds, Some(false));
    assert_eq!(recommend(&f, 20), None);
}

#[test]
fn a_connection_closed_right_after_it_opened_is_refused_service() {
    let mut probe = Probe::new();
    for t in ladder(20) {
        probe.conns.push(Conn::new(1, t, 0.0));
    }
    probe.conns[5].lose(0.2, How::Fin);
    assert_eq!(probe.step(0.3), Step::Refused { closed: 1, of: 6 });
}

#[test]
fn a_probe_neither_answered_nor_lost_is_not_a_finding() {
    let mut probe = Probe::new();
    for t in ladder(2) {
        probe.conns.push(Conn::new(1, t, 0.0));
    }
    assert_eq!(probe.step(1.0), Step::Wait);
    assert_eq!(probe.step(10.0), Step::Unanswered { idle_s: 1 });
}

#[test]
fn a_load_balancer_that_resets_idle_connections_is_held_by_keepalive() {
    let path = Path {
        forgets_after: None,
        how: How::Reset,
        far_end_closes: None,
        resets_idle_after: Some(5.0),
    };
    let (f, _, _) = simulate(&path, 20);
    assert_eq!(f.kind, Kind::EndsIdle);
    assert_eq!(f.expired_by, Some(How::Reset));
    assert_eq!(f.keepalive_holds, Some(true));
    assert_eq!(f.closed_by_server_after_s, None);
    assert_eq!(f.idle_timeout, Some((5.0, 5.1)));
    assert_eq!(recommend(&f, 20).map(|r| r.idle_s), Some(2));
}
