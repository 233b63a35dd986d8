//! How kashim judges a connection's keepalive, the same way in the library, `--attach`, `--ebpf`
//! and `--inspect`: the way a firewall sees it. What protects a connection is a probe sent before
//! a middlebox forgets it, so keepalive that is on with the kernel's default timers (first probe
//! after 7200 s) protects nothing, and counts as not configured by the program.
//!
//! From outside a program, "the kernel's defaults" can only be told by value: a program that chose
//! exactly the defaults (`net.ipv4.tcp_keepalive_*` of the socket's network namespace) looks like
//! one that chose nothing. That is the rule's one blind spot, and a harmless one: such a program
//! asked for no protection either.

/// A socket's keepalive timers, as the kernel reports them (getsockopt, tcp_info, sock_diag), or
/// a network namespace's defaults (`net.ipv4.tcp_keepalive_time`, `_intvl`, `_probes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    pub idle_s: u32,
    pub interval_s: u32,
    pub count: u32,
}

impl Timers {
    /// Linux's built-in defaults (include/net/tcp.h), for when a namespace's cannot be read.
    pub const LINUX: Timers = Timers {
        idle_s: 7200,
        interval_s: 75,
        count: 9,
    };
}

/// What a socket's keepalive amounts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judgement {
    /// SO_KEEPALIVE off: no probes at all.
    Off,
    /// On, with the kernel's default timers: nobody chose them, and the first probe comes long
    /// after any firewall forgot the connection. kashim sets its own timers.
    DefaultTimers,
    /// On, with timers somebody chose (the program, or kashim): they stand (unless forced).
    ChosenTimers,
}

/// Judges a socket from what the kernel reports: `on` is SO_KEEPALIVE, `timers` its current
/// idle/interval/count, `defaults` those of its network namespace.
pub fn judge(on: bool, timers: Timers, defaults: Timers) -> Judgement {
    if !on {
        Judgement::Off
    } else if timers == defaults {
        Judgement::DefaultTimers
    } else {
        Judgement::ChosenTimers
    }
}

/// Is a connection at risk of being forgotten by a middlebox whose idle timeout is longer than
/// `threshold_s`? Yes when keepalive is off, or its first probe comes later than the threshold.
pub fn at_risk(on: bool, idle_s: u32, threshold_s: u32) -> bool {
    !on || idle_s > threshold_s
}

#[cfg(test)]
mod tests {
    use super::*;

    const KASHIM: Timers = Timers {
        idle_s: 60,
        interval_s: 10,
        count: 6,
    };

    #[test]
    fn keepalive_off_is_off_whatever_the_timers() {
        assert_eq!(judge(false, KASHIM, Timers::LINUX), Judgement::Off);
        assert_eq!(judge(false, Timers::LINUX, Timers::LINUX), Judgement::Off);
    }

    #[test]
    fn on_with_the_namespaces_defaults_is_not_a_choice() {
        assert_eq!(
            judge(true, Timers::LINUX, Timers::LINUX),
            Judgement::DefaultTimers
        );
        // A namespace with other defaults: judged against its own.
        let tuned = Timers {
            idle_s: 600,
            ..Timers::LINUX
        };
        assert_eq!(judge(true, tuned, tuned), Judgement::DefaultTimers);
        assert_eq!(judge(true, Timers::LINUX, tuned), Judgement::ChosenTimers);
    }

    #[test]
    fn any_timer_changed_is_a_choice() {
        for timers in [
            Timers {
                idle_s: 7199,
                ..Timers::LINUX
            },
            Timers {
                interval_s: 74,
                ..Timers::LINUX
            },
            Timers {
                count: 3,
                ..Timers::LINUX
            },
            KASHIM,
        ] {
            assert_eq!(
                judge(true, timers, Timers::LINUX),
                Judgement::ChosenTimers,
                "{timers:?}"
            );
        }
    }

    #[test]
    fn at_risk_when_off_or_probing_later_than_the_threshold() {
        assert!(at_risk(false, 10, 60));
        assert!(at_risk(true, 7200, 60));
        assert!(at_risk(true, 61, 60));
        assert!(!at_risk(true, 60, 60));
        assert!(!at_risk(true, 15, 60));
    }
}
