//! kashim's own system calls on a socket: setting the keepalive options and asking the kernel
//! what a socket it did not create is. errno is restored afterwards; failures are logged at
//! debug and otherwise ignored, so they never reach the program.

use crate::config::Config;
use crate::debug;
use crate::errno::{self, ErrnoGuard};
use crate::fd_table::{self, FdState};
use crate::policy::{self, ForeignVerdict};
use crate::real::SetsockoptFn;
use crate::setsockopt::real_setsockopt;
use libc::{c_int, c_void, socklen_t};

const INT_LEN: socklen_t = std::mem::size_of::<c_int>() as socklen_t;

/// Sets kashim's options on `fd`. `context` names the call that led here, for the debug log.
pub fn configure(fd: c_int, config: &Config, context: &str) {
    let _errno = ErrnoGuard::save();
    let set = real_setsockopt();
    let (options, len) = policy::options_to_apply(config);
    let mut failed = false;
    for &(option, value) in &options[..len] {
        failed |= !set_with(set, fd, option, value, config, context);
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
    set_with(real_setsockopt(), fd, option, value, config, context)
}

/// `set_one` without saving errno (the caller does, once for several calls).
#[inline(always)]
fn set_with(
    set: SetsockoptFn,
    fd: c_int,
    option: policy::KeepaliveOption,
    value: c_int,
    config: &Config,
    context: &str,
) -> bool {
    let ok = set_int(set, fd, option, value);
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

/// Sets one option through `set` (libc's setsockopt, as kashim calls it); true if the kernel took
/// it. Nothing is logged and errno is the caller's to keep.
#[inline]
pub fn set_int(
    set: SetsockoptFn,
    fd: c_int,
    option: policy::KeepaliveOption,
    value: c_int,
) -> bool {
    let (level, name) = option.level_and_name();
    // SAFETY: `value` is a live c_int and INT_LEN its size.
    unsafe {
        set(
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
    let keepalive_on = if policy::is_tcp(domain, socket_type, protocol) && !config.force {
        get_int(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE)? != 0
    } else {
        false
    };
    Some(policy::classify_foreign(
        domain,
        socket_type,
        protocol,
        keepalive_on,
        config,
    ))
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
                "fd {fd}: {context}: keepalive already chosen by the program; left alone"
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
