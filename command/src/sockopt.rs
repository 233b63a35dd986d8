//! Reading and setting the keepalive options of a socket the command holds (a pidfd_getfd
//! duplicate), with the one rule the library also follows: keepalive off, or on with the
//! namespace's default timers, gets kashim's values; timers the program chose stay unless FORCE
//! (or are bounded by FORCE=cap).

use kashim_config::keepalive::{self, Judgement, Timers};
use kashim_config::Config;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// A socket's keepalive options as the kernel reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    pub on: bool,
    pub idle_s: u32,
    pub interval_s: u32,
    pub count: u32,
    /// 0: the system default.
    pub user_timeout_ms: u32,
}

impl Keepalive {
    pub fn timers(&self) -> Timers {
        Timers {
            idle_s: self.idle_s,
            interval_s: self.interval_s,
            count: self.count,
        }
    }

    /// `30s/10s/6`, plus the user timeout when one is set.
    pub fn timers_text(&self) -> String {
        let mut text = format!("{}s/{}s/{}", self.idle_s, self.interval_s, self.count);
        if self.user_timeout_ms > 0 {
            text.push_str(&format!(" ut {}", duration_text(self.user_timeout_ms)));
        }
        text
    }
}

fn duration_text(ms: u32) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

fn get(fd: BorrowedFd, level: i32, name: i32) -> io::Result<i32> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: value and len are valid for the call.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            &mut value as *mut _ as *mut libc::c_void,
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(value)
}

pub fn set(fd: BorrowedFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: as above.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            &value as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub fn read(fd: BorrowedFd) -> io::Result<Keepalive> {
    Ok(Keepalive {
        on: get(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE)? != 0,
        idle_s: get(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE)? as u32,
        interval_s: get(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL)? as u32,
        count: get(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT)? as u32,
        user_timeout_ms: get(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT)? as u32,
    })
}

/// Milliseconds since the connection last sent or received data (getsockopt TCP_INFO).
pub fn idle_ms(fd: BorrowedFd) -> io::Result<u64> {
    let mut info = [0u8; 256];
    let mut len = info.len() as libc::socklen_t;
    // SAFETY: info and len are valid for the call.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr() as *mut libc::c_void,
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    crate::sock_diag::idle_from_tcp_info(&info[..len as usize])
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))
}

/// True for a TCP socket (stream, protocol TCP): the only kind kashim ever changes.
pub fn is_tcp(fd: BorrowedFd) -> bool {
    matches!(
        get(fd, libc::SOL_SOCKET, libc::SO_TYPE),
        Ok(libc::SOCK_STREAM)
    ) && matches!(get(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL), Ok(p) if p == libc::IPPROTO_TCP)
        && matches!(
            get(fd, libc::SOL_SOCKET, libc::SO_DOMAIN),
            Ok(libc::AF_INET | libc::AF_INET6)
        )
}

/// What [`apply`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// kashim's values are set; `found` is what the socket had: keepalive off, on with the
    /// namespace's default timers (nobody chose them), or the program's own timers (--force).
    Configured { found: Judgement },
    /// --force=cap on the program's own timers: the longer ones lowered to kashim's, the
    /// shorter ones kept; `lowered` false when all were within the bounds already.
    Capped { lowered: bool },
    /// Keepalive on with timers the program chose: its choice, left alone.
    ProgramsOwn,
}

/// The one rule ([`keepalive::judge`]) for one TCP socket seen from outside, `defaults` being
/// those of the socket's network namespace. Errors name the option that failed.
pub fn apply(fd: BorrowedFd, config: &Config, defaults: Timers) -> Result<Applied, String> {
    let now = read(fd).map_err(|e| format!("getsockopt: {}", errno_text(&e)))?;
    let found = keepalive::judge(now.on, now.timers(), defaults);
    match found {
        Judgement::ChosenTimers if config.force => {}
        Judgement::ChosenTimers if config.force_cap => return cap(fd, now, config),
        Judgement::ChosenTimers => return Ok(Applied::ProgramsOwn),
        // Off cannot be told from never set when seen from outside: configured, as without
        // --force (and so also under --force=cap).
        Judgement::Off | Judgement::DefaultTimers => {}
    }
    let mut options = vec![
        // The timers first: turning SO_KEEPALIVE on arms the timer with the current idle time.
        (
            "TCP_KEEPIDLE",
            libc::IPPROTO_TCP,
            libc::TCP_KEEPIDLE,
            config.idle_s as i32,
        ),
        (
            "TCP_KEEPINTVL",
            libc::IPPROTO_TCP,
            libc::TCP_KEEPINTVL,
            config.interval_s as i32,
        ),
        (
            "TCP_KEEPCNT",
            libc::IPPROTO_TCP,
            libc::TCP_KEEPCNT,
            config.count as i32,
        ),
    ];
    if let Some(ms) = config.user_timeout_ms {
        options.push((
            "TCP_USER_TIMEOUT",
            libc::IPPROTO_TCP,
            libc::TCP_USER_TIMEOUT,
            ms as i32,
        ));
    }
    if !now.on {
        options.push(("SO_KEEPALIVE", libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1));
    }
    set_all(fd, &options)?;
    Ok(Applied::Configured { found })
}

/// --force=cap: kashim's idle, interval and count as upper bounds; the user timeout stays the
/// program's (the library's cap rule, docs/scope.md).
fn cap(fd: BorrowedFd, now: Keepalive, config: &Config) -> Result<Applied, String> {
    let options: Vec<_> = [
        (
            "TCP_KEEPIDLE",
            libc::TCP_KEEPIDLE,
            now.idle_s,
            config.idle_s,
        ),
        (
            "TCP_KEEPINTVL",
            libc::TCP_KEEPINTVL,
            now.interval_s,
            config.interval_s,
        ),
        ("TCP_KEEPCNT", libc::TCP_KEEPCNT, now.count, config.count),
    ]
    .into_iter()
    .filter(|(_, _, theirs, bound)| theirs > bound)
    .map(|(name, option, _, bound)| (name, libc::IPPROTO_TCP, option, bound as i32))
    .collect();
    set_all(fd, &options)?;
    Ok(Applied::Capped {
        lowered: !options.is_empty(),
    })
}

fn set_all(fd: BorrowedFd, options: &[(&str, i32, i32, i32)]) -> Result<(), String> {
    for &(name, level, option, value) in options {
        set(fd, level, option, value)
            .map_err(|e| format!("setsockopt {name}={value}: {}", errno_text(&e)))?;
    }
    Ok(())
}

/// `Invalid argument (EINVAL)`-style text without Rust's "(os error 22)".
pub fn errno_text(err: &io::Error) -> String {
    match err.raw_os_error() {
        // SAFETY: strerror returns a pointer to a static or thread-local string.
        Some(n) => unsafe { std::ffi::CStr::from_ptr(libc::strerror(n)) }
            .to_string_lossy()
            .into_owned(),
        None => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn config(force: bool) -> Config {
        Config {
            idle_s: 33,
            interval_s: 7,
            count: 4,
            user_timeout_ms: Some(61_000),
            force,
            ..Config::default()
        }
    }

    fn defaults() -> Timers {
        crate::kernel_defaults::own().unwrap()
    }

    #[test]
    fn configures_a_plain_socket_and_leaves_the_programs_own() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(is_tcp(l.as_fd()));
        assert_eq!(
            apply(l.as_fd(), &config(false), defaults()),
            Ok(Applied::Configured {
                found: Judgement::Off
            })
        );
        let k = read(l.as_fd()).unwrap();
        assert_eq!(
            k,
            Keepalive {
                on: true,
                idle_s: 33,
                interval_s: 7,
                count: 4,
                user_timeout_ms: 61_000
            }
        );
        assert_eq!(k.timers_text(), "33s/7s/4 ut 61s");
        // Now keepalive is on with chosen timers: the program's own, unless forced.
        let mut other = config(false);
        other.idle_s = 99;
        assert_eq!(
            apply(l.as_fd(), &other, defaults()),
            Ok(Applied::ProgramsOwn)
        );
        assert_eq!(read(l.as_fd()).unwrap().idle_s, 33);
        other.force = true;
        assert_eq!(
            apply(l.as_fd(), &other, defaults()),
            Ok(Applied::Configured {
                found: Judgement::ChosenTimers
            })
        );
        assert_eq!(read(l.as_fd()).unwrap().idle_s, 99);
    }

    #[test]
    fn keepalive_on_with_the_default_timers_is_configured() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        set(l.as_fd(), libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1).unwrap();
        assert_eq!(
            apply(l.as_fd(), &config(false), defaults()),
            Ok(Applied::Configured {
                found: Judgement::DefaultTimers
            })
        );
        assert_eq!(read(l.as_fd()).unwrap().timers_text(), "33s/7s/4 ut 61s");
    }

    #[test]
    fn cap_lowers_longer_timers_and_keeps_shorter_ones() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        set(l.as_fd(), libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1).unwrap();
        set(l.as_fd(), libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 300).unwrap();
        set(l.as_fd(), libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, 5).unwrap();
        let capped = Config {
            force_cap: true,
            ..config(false)
        };
        assert_eq!(
            apply(l.as_fd(), &capped, defaults()),
            Ok(Applied::Capped { lowered: true })
        );
        // Idle lowered to 33, interval 5 kept, count lowered to 4, user timeout the program's.
        assert_eq!(read(l.as_fd()).unwrap().timers_text(), "33s/5s/4");
        assert_eq!(
            apply(l.as_fd(), &capped, defaults()),
            Ok(Applied::Capped { lowered: false })
        );
    }

    #[test]
    fn never_calls_a_udp_or_unix_socket_tcp() {
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(!is_tcp(u.as_fd()));
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(!is_tcp(a.as_fd()));
    }
}
