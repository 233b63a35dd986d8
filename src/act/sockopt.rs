//! kashim's own system calls on a socket: setting the keepalive options and asking the kernel
//! what a socket it did not create is. errno is restored afterwards; failures are logged at
//! debug and otherwise ignored, so they never reach the program.

use crate::config::keepalive::{judge, Judgement, Timers};
use crate::config::Config;
use crate::debug;
use crate::decide::policy::{self, ForeignVerdict, KeepaliveOption};
use crate::hooks::next;
use crate::state::fd_table::{self, FdState};
use crate::sys::errno::{self, ErrnoGuard};
use libc::{c_int, c_void, socklen_t};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

const INT_LEN: socklen_t = std::mem::size_of::<c_int>() as socklen_t;

/// Sets kashim's options on `fd`. `context` names the call that led here, for the debug log.
pub fn configure(fd: c_int, config: &Config, context: &str) {
    let _errno = ErrnoGuard::save();
    let (options, len) = policy::options_to_apply(config);
    let mut failed = false;
    for &(option, value) in &options[..len] {
        failed |= !set_logged(fd, option, value, config, context);
    }
    if !failed {
        debug!(
            config,
            "fd {fd}: {context}: keepalive on (idle {}s, interval {}s, count {}{})",
            config.idle_s,
            config.interval_s,
            config.count,
            UserTimeoutNote(config.user_timeout_ms)
        );
    }
}

/// Sets one option with libc's setsockopt; errno is left as it was. False (and a debug line) if
/// the kernel refused.
pub fn set_one(
    fd: c_int,
    option: policy::KeepaliveOption,
    value: c_int,
    config: &Config,
    context: &str,
) -> bool {
    let _errno = ErrnoGuard::save();
    set_logged(fd, option, value, config, context)
}

/// `set_one` without saving errno (the caller does, once for several calls).
#[inline(always)]
fn set_logged(
    fd: c_int,
    option: policy::KeepaliveOption,
    value: c_int,
    config: &Config,
    context: &str,
) -> bool {
    let ok = set_int(fd, option, value);
    if !ok {
        debug!(
            config,
            "fd {fd}: {context}: setsockopt {}={value} failed (errno {}); left as it is",
            option.name(),
            errno::get()
        );
    }
    ok
}

/// Sets one option with the real setsockopt (never kashim's own hook); true if the kernel took it.
/// Nothing is logged and errno is the caller's to keep.
#[inline]
pub fn set_int(fd: c_int, option: policy::KeepaliveOption, value: c_int) -> bool {
    let (level, name) = option.level_and_name();
    // SAFETY: `value` is a live c_int and INT_LEN its size.
    unsafe {
        next::setsockopt()(
            fd,
            level,
            name,
            (&value as *const c_int).cast::<c_void>(),
            INT_LEN,
        ) == 0
    }
}

struct UserTimeoutNote(Option<u32>);

impl std::fmt::Display for UserTimeoutNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(ms) => write!(f, ", user timeout {ms}ms"),
            None => Ok(()),
        }
    }
}

/// An int-valued socket option as the kernel reports it, or `None` if it would not say.
pub fn get_int(fd: c_int, level: c_int, name: c_int) -> Option<c_int> {
    let mut value: c_int = 0;
    let mut len = INT_LEN;
    // SAFETY: value/len describe a live c_int; getsockopt is not hooked, so this is libc's.
    let rc =
        unsafe { libc::getsockopt(fd, level, name, (&mut value as *mut c_int).cast(), &mut len) };
    (rc == 0).then_some(value)
}

/// Asks the kernel what a socket kashim did not create is, and decides what to do with it.
/// `None` if `fd` is not a socket or the kernel would not say (kashim then leaves it alone).
pub fn inspect(fd: c_int, config: &Config) -> Option<ForeignVerdict> {
    let _errno = ErrnoGuard::save();
    let socket_type = get_int(fd, libc::SOL_SOCKET, libc::SO_TYPE)?;
    let domain = get_int(fd, libc::SOL_SOCKET, libc::SO_DOMAIN)?;
    let protocol = get_int(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL)?;
    let keepalive = if policy::is_tcp(domain, socket_type, protocol) && !config.force {
        judgement(fd)?
    } else {
        Judgement::Off
    };
    Some(policy::classify_foreign(
        domain,
        socket_type,
        protocol,
        keepalive,
        config,
    ))
}

/// What a TCP socket's keepalive amounts to (`kashim_config::keepalive::judge`): one getsockopt
/// when it is off, four when it is on.
pub fn judgement(fd: c_int) -> Option<Judgement> {
    if !keepalive_on(fd)? {
        return Some(Judgement::Off);
    }
    judgement_of_timers(fd)
}

/// SO_KEEPALIVE, as the kernel reports it.
pub fn keepalive_on(fd: c_int) -> Option<bool> {
    get_int(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE).map(|on| on != 0)
}

/// For a socket whose keepalive is on: are its timers somebody's choice, or the kernel's defaults?
pub fn judgement_of_timers(fd: c_int) -> Option<Judgement> {
    Some(judge(true, timers(fd)?, namespace_defaults()))
}

/// A socket's keepalive idle, interval and count.
pub fn timers(fd: c_int) -> Option<Timers> {
    let get = |option: KeepaliveOption| {
        let (level, name) = option.level_and_name();
        get_int(fd, level, name).map(|v| v.max(0) as u32)
    };
    Some(Timers {
        idle_s: get(KeepaliveOption::Idle)?,
        interval_s: get(KeepaliveOption::Interval)?,
        count: get(KeepaliveOption::Count)?,
    })
}

/// The process's network namespace's keepalive defaults (`net.ipv4.tcp_keepalive_*`), as a fresh
/// TCP socket reports them: no file is read. Asked once, the first time a socket with keepalive on
/// is inspected, and kept; Linux's built-in defaults if no socket can be made.
pub fn namespace_defaults() -> Timers {
    static KNOWN: AtomicU64 = AtomicU64::new(0);
    static COUNT: AtomicU32 = AtomicU32::new(0);
    let known = KNOWN.load(Ordering::Acquire);
    if known != 0 {
        return Timers {
            idle_s: (known >> 32) as u32,
            interval_s: known as u32,
            count: COUNT.load(Ordering::Relaxed),
        };
    }
    let _errno = ErrnoGuard::save();
    // SAFETY: the real socket() and close(), so kashim's own hooks never see this socket.
    let probe = unsafe { next::socket()(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    let defaults = if probe >= 0 {
        let read = timers(probe);
        unsafe { next::close()(probe) };
        read.unwrap_or(Timers::LINUX)
    } else {
        Timers::LINUX
    };
    COUNT.store(defaults.count, Ordering::Relaxed);
    KNOWN.store(
        (u64::from(defaults.idle_s) << 32) | u64::from(defaults.interval_s),
        Ordering::Release,
    );
    defaults
}

/// Takes on a socket kashim did not create (inherited, received, or created before kashim was
/// ready) when it reaches connect(): configures it if it is TCP and nobody chose keepalive yet.
pub fn adopt(fd: c_int, config: &Config, context: &str) {
    let state = match inspect(fd, config) {
        None => return,
        Some(ForeignVerdict::NotTcp) => FdState::NotTcp,
        Some(ForeignVerdict::ProgramOwned) => {
            debug!(
                config,
                "fd {fd}: {context}: keepalive timers already chosen by the program; left alone"
            );
            FdState::ProgramOwned
        }
        Some(ForeignVerdict::Configure) => {
            configure(fd, config, context);
            FdState::Configured
        }
    };
    fd_table::set(fd, state);
}

#[cfg(test)]
mod tests;
