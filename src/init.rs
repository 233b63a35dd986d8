//! Start-up: configuration is read once, eagerly from a constructor, or by the first hook if another
//! library's constructor calls socket() before kashim's own constructor ran. Nothing here ever
//! waits: a hook that finds the configuration still being read by another thread (or by itself,
//! re-entered through malloc) passes the call through untouched, and the socket stays `Unknown`,
//! which is configured later at connect().

//!
//! Nothing allocated here outlives start-up: the configuration lives in a static, and the
//! environment is read in place (`environ`), copying only KASHIM_* entries, so a process without
//! any allocates nothing at all.

use crate::config::{Config, Loaded, LogLevel, PREFIX};
use crate::errno::ErrnoGuard;
use crate::logger::{log, remember_stderr};
use std::cell::UnsafeCell;
use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};

/// Written once, by the one thread that moves STATE from UNREAD to LOADING, before READY is
/// published; only read after that.
struct ConfigSlot(UnsafeCell<MaybeUninit<Config>>);
// SAFETY: see above: the single write happens-before every read (Release/Acquire on STATE).
unsafe impl Sync for ConfigSlot {}

static CONFIG: ConfigSlot = ConfigSlot(UnsafeCell::new(MaybeUninit::uninit()));
static STATE: AtomicU8 = AtomicU8::new(UNREAD);
const UNREAD: u8 = 0;
const LOADING: u8 = 1;
const READY: u8 = 2;

fn ready() -> Option<&'static Config> {
    // SAFETY: READY is stored (Release) only after CONFIG was written; never written again.
    (STATE.load(Ordering::Acquire) == READY).then(|| unsafe { (*CONFIG.0.get()).assume_init_ref() })
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
fn load() -> Option<&'static Config> {
    if STATE
        .compare_exchange(UNREAD, LOADING, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return ready();
    }
    let _errno = ErrnoGuard::save();
    let loaded = if secure_execution() {
        // A setuid/setgid/capability program started by someone else: the caller's KASHIM_*
        // must not reach it (as glibc's secure_getenv), nor may kashim print anything there.
        Loaded {
            config: Config {
                log: LogLevel::Off,
                ..Config::default()
            },
            problems: Vec::new(),
        }
    } else {
        Config::from_vars(kashim_vars())
    };
    // SAFETY: only this thread got past the compare_exchange; nobody reads before READY.
    let config: &'static Config = unsafe { (*CONFIG.0.get()).write(loaded.config) };
    STATE.store(READY, Ordering::Release);
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

extern "C" {
    static environ: *const *const libc::c_char;
}

/// The environment's KASHIM_* entries as (name, value) bytes, read in place: only they are
/// copied (std::env::vars_os would copy every variable of the process).
fn kashim_vars() -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> {
    // SAFETY: environ is libc's NULL-terminated array of NUL-terminated strings (or NULL). Like
    // getenv, this assumes no other thread is changing the environment during start-up.
    let mut entry = unsafe { environ };
    std::iter::from_fn(move || loop {
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
        let bytes = unsafe { CStr::from_ptr(text) }.to_bytes();
        if !bytes.starts_with(PREFIX.as_bytes()) {
            continue;
        }
        // An entry without '=' is no variable (getenv never matches it).
        if let Some(eq) = bytes.iter().position(|&b| b == b'=') {
            return Some((bytes[..eq].to_vec(), bytes[eq + 1..].to_vec()));
        }
    })
}

/// Secure-execution mode (AT_SECURE): set by the kernel for setuid, setgid and file-capability
/// programs. getauxval reads the auxiliary vector in memory: no system call.
fn secure_execution() -> bool {
    // SAFETY: getauxval has no preconditions.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// Runs kashim's own work so that a bug in it can never unwind into the program or make a hook
/// call the real function a second time: a panic just means "kashim did nothing this time".
pub fn guarded<T>(fallback: T, work: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(work)).unwrap_or(fallback)
}

#[cfg(not(test))]
extern "C" fn constructor() {
    guarded((), || {
        if let Some(config) = config() {
            crate::children::leave_children_alone(config);
        }
        // Resolve every real function now, so no hook has to do it later (dlsym is not
        // async-signal-safe).
        crate::socket::resolve();
        crate::connect::resolve();
        crate::accept::resolve();
        crate::setsockopt::resolve();
        crate::close::resolve();
        crate::dup::resolve();
        crate::vfork::resolve();
        crate::vfork::install();
        crate::close_range::resolve();
        crate::deepbind::resolve();
        if let Some(config) = active_config() {
            crate::inherited::adopt_at_start(config);
        }
    });
}

#[cfg(not(test))]
#[used]
#[link_section = ".init_array"]
static CONSTRUCTOR: extern "C" fn() = constructor;
