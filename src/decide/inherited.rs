//! Which inherited descriptors kashim looks at when a process starts, and in what order it sets
//! its options there: pure, unit-tested (`act::inherited` carries it out).

use crate::config::Config;
use crate::decide::policy::{self, KeepaliveOption};
use libc::c_int;
use std::ops::Range;

/// sd_listen_fds(3): systemd passes its descriptors from 3 on.
const LISTEN_FDS_START: c_int = 3;
/// More than any service is passed; a larger LISTEN_FDS is a broken environment, not a reason to
/// make thousands of calls.
const LISTEN_FDS_MAX: u32 = 1024;

/// A whole decimal number, as systemd writes LISTEN_PID and LISTEN_FDS.
pub fn parse_decimal(text: &[u8]) -> Option<u32> {
    if text.is_empty() || text.len() > 10 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    text.iter().try_fold(0u32, |n, &d| {
        n.checked_mul(10)?.checked_add(u32::from(d - b'0'))
    })
}

/// The descriptors systemd passed to this process: empty unless both variables are valid and
/// LISTEN_PID is `pid()` (a child that inherited the variables is not the one they are meant for).
pub fn listen_fds(
    listen_pid: Option<&[u8]>,
    listen_fds: Option<&[u8]>,
    pid: impl FnOnce() -> u32,
) -> Range<c_int> {
    let (Some(for_pid), Some(count)) = (
        listen_pid.and_then(parse_decimal),
        listen_fds.and_then(parse_decimal),
    ) else {
        return 0..0;
    };
    if for_pid == 0 || for_pid != pid() {
        return 0..0;
    }
    LISTEN_FDS_START..LISTEN_FDS_START + count.min(LISTEN_FDS_MAX) as c_int
}

/// kashim's options in the order they are set here: TCP_KEEPIDLE first (the TCP test), then the rest.
pub fn options_in_order(config: &Config) -> ([(KeepaliveOption, c_int); 5], usize) {
    let (mut options, len) = policy::options_to_apply(config);
    if let Some(i) = options[..len]
        .iter()
        .position(|&(o, _)| o == KeepaliveOption::Idle)
    {
        options[..=i].rotate_right(1);
    }
    (options, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_fds_only_for_this_process() {
        let me = || 4242;
        assert_eq!(listen_fds(Some(b"4242"), Some(b"2"), me), 3..5);
        assert_eq!(listen_fds(Some(b"4243"), Some(b"2"), me), 0..0);
        assert_eq!(listen_fds(None, Some(b"2"), me), 0..0);
        assert_eq!(listen_fds(Some(b"4242"), None, me), 0..0);
        assert_eq!(listen_fds(Some(b"4242"), Some(b"-1"), me), 0..0);
        assert_eq!(listen_fds(Some(b"4242"), Some(b"99999999999"), me), 0..0);
        assert_eq!(listen_fds(Some(b"4242"), Some(b"1000000"), me), 3..1027);
    }

    #[test]
    fn getpid_is_asked_only_when_both_variables_are_valid() {
        let never = || -> u32 { panic!("getpid called") };
        assert_eq!(listen_fds(None, None, never), 0..0);
        assert_eq!(listen_fds(Some(b"x"), Some(b"1"), never), 0..0);
        assert_eq!(listen_fds(Some(b"1"), Some(b""), never), 0..0);
    }

    #[test]
    fn decimal_numbers() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_decimal(b"4294967296"), None);
        assert_eq!(parse_decimal(b"1 "), None);
        assert_eq!(parse_decimal(b"+1"), None);
    }

    #[test]
    fn idle_is_set_first() {
        let (options, len) = options_in_order(&Config::default());
        let names: Vec<_> = options[..len].iter().map(|o| o.0).collect();
        use KeepaliveOption::*;
        assert_eq!(names, [Idle, KeepAlive, Interval, Count]);
    }
}
