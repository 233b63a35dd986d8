//! Mixed settings, reported at debug level: many clients set part of keepalive themselves (libcurl
//! idle 60 / interval 60, redis-cli 15/5/3, Redis's accepted sockets 300/100/3, Node's http Agent
//! just SO_KEEPALIVE). After such a call kashim stays away from the socket, but the options the
//! program did not set keep kashim's values. So a user can see why a connection has 60 s and not
//! kashim's 30 s, each such call logs the socket's effective settings, each marked as the program's
//! (this call), kashim's (equal to kashim's configured value) or neither (set earlier by the
//! program, or the kernel's default):
//!
//!   kashim: fd 5: program set TCP_KEEPIDLE=15; now: keepalive on (kashim), idle 15s (program),
//!   interval 10s (kashim), count 6 (kashim)
//!
//! The values are read back from the kernel (never from the program's buffer, `act::options`),
//! and only when the debug level is on: at any other level this costs nothing.

use crate::config::Config;
use crate::decide::policy::{self, KeepaliveOption};
use libc::c_int;
use std::fmt;

/// The keepalive settings on a socket, as the kernel reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Effective {
    pub keepalive: c_int,
    pub idle: c_int,
    pub interval: c_int,
    pub count: c_int,
    pub user_timeout_ms: c_int,
}

/// The report line (without the "kashim: " prefix) after the program set `chosen` itself.
pub struct Report<'a> {
    pub fd: c_int,
    pub chosen: KeepaliveOption,
    pub now: Effective,
    pub config: &'a Config,
}

impl Report<'_> {
    fn value_of(&self, option: KeepaliveOption) -> c_int {
        match option {
            KeepaliveOption::KeepAlive => self.now.keepalive,
            KeepaliveOption::Idle => self.now.idle,
            KeepaliveOption::Interval => self.now.interval,
            KeepaliveOption::Count => self.now.count,
            KeepaliveOption::UserTimeout => self.now.user_timeout_ms,
        }
    }

    /// Whose value `option` holds now.
    fn owner(&self, option: KeepaliveOption) -> &'static str {
        if option == self.chosen {
            return "program";
        }
        let (options, len) = policy::options_to_apply(self.config);
        let kashims = options[..len].iter().find(|(o, _)| *o == option);
        match kashims {
            Some(&(_, v)) if v == self.value_of(option) => "kashim",
            _ => "not kashim's",
        }
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use KeepaliveOption::*;
        let on = if self.now.keepalive != 0 { "on" } else { "off" };
        write!(
            f,
            "fd {}: program set {}={}; now: keepalive {on} ({})",
            self.fd,
            self.chosen.name(),
            self.value_of(self.chosen),
            self.owner(KeepAlive)
        )?;
        if self.now.keepalive == 0 {
            return write!(f, ", so no probes are sent");
        }
        write!(
            f,
            ", idle {}s ({}), interval {}s ({}), count {} ({})",
            self.now.idle,
            self.owner(Idle),
            self.now.interval,
            self.owner(Interval),
            self.now.count,
            self.owner(Count)
        )?;
        if self.config.user_timeout_ms.is_some()
            || self.now.user_timeout_ms != 0
            || self.chosen == UserTimeout
        {
            write!(
                f,
                ", user timeout {}ms ({})",
                self.now.user_timeout_ms,
                self.owner(UserTimeout)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(chosen: KeepaliveOption, now: Effective, config: &Config) -> String {
        Report {
            fd: 5,
            chosen,
            now,
            config,
        }
        .to_string()
    }

    const KASHIM: Effective = Effective {
        keepalive: 1,
        idle: 60,
        interval: 10,
        count: 6,
        user_timeout_ms: 0,
    };

    #[test]
    fn redis_cli_sets_idle_kashims_interval_and_count_remain() {
        let now = Effective { idle: 15, ..KASHIM };
        assert_eq!(
            line(KeepaliveOption::Idle, now, &Config::default()),
            "fd 5: program set TCP_KEEPIDLE=15; now: keepalive on (kashim), idle 15s (program), interval 10s (kashim), count 6 (kashim)"
        );
    }

    #[test]
    fn libcurl_sets_idle_then_interval() {
        let now = Effective {
            idle: 60,
            interval: 60,
            ..KASHIM
        };
        let config = Config {
            idle_s: 30,
            ..Config::default()
        };
        assert_eq!(
            line(KeepaliveOption::Interval, now, &config),
            "fd 5: program set TCP_KEEPINTVL=60; now: keepalive on (kashim), idle 60s (not kashim's), interval 60s (program), count 6 (kashim)"
        );
    }

    #[test]
    fn keepalive_turned_off_says_no_probes() {
        let now = Effective {
            keepalive: 0,
            ..KASHIM
        };
        assert_eq!(
            line(KeepaliveOption::KeepAlive, now, &Config::default()),
            "fd 5: program set SO_KEEPALIVE=0; now: keepalive off (program), so no probes are sent"
        );
    }

    #[test]
    fn user_timeout_shown_when_kashim_sets_one() {
        let config = Config {
            user_timeout_ms: Some(120_000),
            ..Config::default()
        };
        let now = Effective {
            user_timeout_ms: 120_000,
            ..KASHIM
        };
        assert!(line(KeepaliveOption::KeepAlive, now, &config)
            .ends_with(", user timeout 120000ms (kashim)"));
    }

    #[test]
    fn real_socket_read_back() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        use std::os::fd::AsRawFd;
        let fd = listener.as_raw_fd();
        assert!(crate::act::sockopt::set_int(fd, KeepaliveOption::Idle, 15));
        let now = crate::act::options::effective(fd).unwrap();
        assert_eq!((now.keepalive, now.idle), (0, 15));
    }
}
