//! The published configuration: read once, eagerly from a constructor, or by the first hook if another
//! library's constructor calls socket() before kashim's own constructor ran. Nothing here ever
//! waits: a hook that finds the configuration still being read by another thread (or by itself,
//! re-entered through malloc) passes the call through untouched, and the socket stays `Unknown`,
//! which is configured later at connect().
//!
//! Start-up writes as little as it can: every process runs this. Without any KASHIM_* variable
//! (the common case) the published configuration is a constant (`Config::DEFAULT`, read-only
//! data), so nothing is written but one pointer and nothing is allocated; the environment is read
//! in place (`environ`), copying only KASHIM_* entries. Settings read from KASHIM_* are kept in a
//! mapping of their own for the life of the process.

use crate::config::{Config, LogLevel, PREFIX};
use crate::sys::errno::ErrnoGuard;
use crate::sys::logger::{log, remember_stderr};
use std::ffi::CStr;
use std::sync::atomic::{AtomicPtr, AtomicU8, Ordering};

/// The published configuration: set once, by the one thread that moves STATE from UNREAD to
/// LOADING, before READY is published; never changed after that.
static CONFIG: AtomicPtr<Config> = AtomicPtr::new(std::ptr::null_mut());
static STATE: AtomicU8 = AtomicU8::new(UNREAD);
const UNREAD: u8 = 0;
const LOADING: u8 = 1;
const READY: u8 = 2;

/// Without KASHIM_*; and in secure-execution mode, the same without any output.
static DEFAULT: Config = Config::DEFAULT;
static SECURE_EXECUTION: Config = Config {
    log: LogLevel::Off,
    ..Config::DEFAULT
};

pub fn ready() -> Option<&'static Config> {
    if STATE.load(Ordering::Acquire) != READY {
        return None;
    }
    // SAFETY: READY is stored (Release) only after CONFIG points to a configuration that lives
    // for the rest of the process (a static, or what `keep` made), and CONFIG never changes.
    unsafe { CONFIG.load(Ordering::Relaxed).as_ref() }
}

/// The configuration, or `None` while it is being read elsewhere.
#[inline]
pub fn config() -> Option<&'static Config> {
    ready().or_else(load)
}

/// The configuration if kashim is enabled and ready; `None` means "pass straight through".
pub fn active_config() -> Option<&'static Config> {
    config().filter(|c| c.enabled)
}

/// True unless kashim is known to be disabled (so descriptor bookkeeping stays correct while the
/// configuration is still loading).
pub fn tracking() -> bool {
    config().is_none_or(|c| c.enabled)
}

#[cold]
#[link_section = ".text.startup.kashim"]
fn load() -> Option<&'static Config> {
    if STATE
        .compare_exchange(UNREAD, LOADING, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return ready();
    }
    let _errno = ErrnoGuard::save();
    if !any_kashim_variable() {
        // The common case at start-up: no KASHIM_* at all, so nothing to parse and nothing to
        // ignore (in secure-execution mode too: the defaults print nothing without a KASHIM_*
        // problem to report). Kept apart from the general path below, whose frames (the parser's,
        // and `Loaded`) take about 14 KiB of stack: probed page by page, that costs a process 2 to
        // 3 page faults it would not take otherwise.
        return Some(publish(&DEFAULT));
    }
    load_from_environment()
}

/// The configuration from the KASHIM_* variables (or the secure-execution default), published,
/// with its problems logged. Only the thread that moved STATE to LOADING calls this.
#[inline(never)]
fn load_from_environment() -> Option<&'static Config> {
    crate::sys::guard::quiet_panics();
    if secure_execution() {
        // A setuid/setgid/capability program started by someone else: the caller's KASHIM_*
        // must not reach it (as glibc's secure_getenv), nor may kashim print anything there.
        return Some(publish(&SECURE_EXECUTION));
    }
    let loaded = Config::from_vars(kashim_vars());
    let config = publish(keep(loaded.config));
    let level = config.log;
    if level >= LogLevel::Info || (level >= LogLevel::Warn && !loaded.problems.is_empty()) {
        // Something will be printed: from now on, only to the stderr the process has now.
        remember_stderr();
    }
    for problem in &loaded.problems {
        log(level, LogLevel::Warn, format_args!("{problem}"));
    }
    if level >= LogLevel::Info {
        log(level, LogLevel::Info, format_args!("{}", config.summary()));
    }
    Some(config)
}

/// A home for the settings read from KASHIM_*, for the rest of the process: a mapping of their
/// own (`mapping` says why not the heap); the heap only if the mapping fails.
fn keep(config: Config) -> &'static Config {
    let Some(mapped) = crate::sys::mapping::anonymous(std::mem::size_of::<Config>()) else {
        return Box::leak(Box::new(config));
    };
    let slot = mapped.cast::<Config>();
    // SAFETY: `slot` is writable, page-aligned, large enough, and never unmapped or written again.
    unsafe {
        slot.write(config);
        &*slot
    }
}

/// Publishes the configuration and marks it READY. Called once, by the thread that moved STATE
/// from UNREAD to LOADING.
fn publish(config: &'static Config) -> &'static Config {
    CONFIG.store(config as *const Config as *mut Config, Ordering::Relaxed);
    STATE.store(READY, Ordering::Release);
    config
}

extern "C" {
    static environ: *const *const libc::c_char;
}

/// The environment's entries, read in place (no copy, no allocation, no libc call).
fn environment() -> impl Iterator<Item = &'static [u8]> {
    // SAFETY: environ is libc's NULL-terminated array of NUL-terminated strings (or NULL). Like
    // getenv, this assumes no other thread is changing the environment during start-up.
    let mut entry = unsafe { environ };
    std::iter::from_fn(move || {
        if entry.is_null() {
            return None;
        }
        // SAFETY: see above; the array ends with a NULL pointer, which stops the walk.
        let text = unsafe { *entry };
        if text.is_null() {
            entry = std::ptr::null();
            return None;
        }
        // SAFETY: as above.
        entry = unsafe { entry.add(1) };
        Some(unsafe { CStr::from_ptr(text) }.to_bytes())
    })
}

/// The environment's KASHIM_* entries as (name, value) bytes: only they are copied
/// (std::env::vars_os would copy every variable of the process).
fn kashim_vars() -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> {
    environment()
        .filter(|bytes| bytes.starts_with(PREFIX.as_bytes()))
        // An entry without '=' is no variable (getenv never matches it).
        .filter_map(|bytes| {
            let eq = bytes.iter().position(|&b| b == b'=')?;
            Some((bytes[..eq].to_vec(), bytes[eq + 1..].to_vec()))
        })
}

/// Is any KASHIM_* variable set? The question every process's start-up asks.
fn any_kashim_variable() -> bool {
    find_in_environment(PREFIX.as_bytes(), None).is_some()
}

/// getenv(name), read in place: the value of the first entry `name=...`.
pub fn getenv(name: &[u8]) -> Option<&'static [u8]> {
    let value = find_in_environment(name, Some(b'='))?;
    // SAFETY: `value` points just past "name=" inside a NUL-terminated environment entry.
    Some(unsafe { CStr::from_ptr(value) }.to_bytes())
}

/// The first environment entry that starts with `prefix` (then `then`, if given), read in place:
/// a pointer just past them. Compared byte by byte, so an entry that does not match costs no
/// strlen; start-up asks this three times (KASHIM_, LISTEN_PID=, LISTEN_FDS=) in every process.
fn find_in_environment(prefix: &[u8], then: Option<u8>) -> Option<*const libc::c_char> {
    // SAFETY: environ is libc's NULL-terminated array of NUL-terminated strings (or NULL). Like
    // getenv, this assumes no other thread is changing the environment during start-up. Each
    // entry is read only up to its first byte that differs, which is at the latest its NUL (no
    // byte of the names asked here is NUL).
    unsafe {
        let mut entry = environ;
        if entry.is_null() {
            return None;
        }
        while !(*entry).is_null() {
            let text = (*entry).cast::<u8>();
            if prefix.iter().enumerate().all(|(i, &b)| *text.add(i) == b)
                && then.is_none_or(|b| *text.add(prefix.len()) == b)
            {
                return Some(text.add(prefix.len() + usize::from(then.is_some())).cast());
            }
            entry = entry.add(1);
        }
        None
    }
}

/// Secure-execution mode (AT_SECURE): set by the kernel for setuid, setgid and file-capability
/// programs. getauxval reads the auxiliary vector in memory: no system call.
pub fn secure_execution() -> bool {
    // SAFETY: getauxval has no preconditions.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// load() publishes Config::default() without parsing when no KASHIM_* variable is set: that
    /// must be exactly what parsing an empty set gives, silently.
    #[test]
    fn no_variables_is_the_default_configuration() {
        let loaded = Config::from_vars(std::iter::empty());
        assert_eq!(loaded.config, Config::default());
        assert!(loaded.problems.is_empty());
    }

    #[test]
    fn getenv_reads_the_environment_in_place() {
        use std::os::unix::ffi::OsStrExt;
        let path = std::env::var_os("PATH").expect("PATH is set in tests");
        assert_eq!(getenv(b"PATH"), Some(path.as_bytes()));
        assert_eq!(getenv(b"PAT"), None); // a prefix of a name is not that name
        assert_eq!(getenv(b"KASHIM_TEST_NO_SUCH_VARIABLE"), None);
    }
}
