//! Start-up: configuration is read once, eagerly from a constructor, or by the first hook if another
//! library's constructor calls socket() before kashim's own constructor ran. Nothing here ever
//! waits: a hook that finds the configuration still being read by another thread (or by itself,
//! re-entered through malloc) passes the call through untouched, and the socket stays `Unknown`,
//! which is configured later at connect().

use crate::config::{Config, Loaded, LogLevel};
use crate::errno::ErrnoGuard;
use crate::logger::{log, remember_stderr};
use once_cell::race::OnceBox;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

static CONFIG: OnceBox<Config> = OnceBox::new();
static LOADING: AtomicBool = AtomicBool::new(false);

/// The configuration, or `None` while it is being read elsewhere.
pub fn config() -> Option<&'static Config> {
    CONFIG.get().or_else(load)
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
    if LOADING.swap(true, Ordering::AcqRel) {
        return CONFIG.get();
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
        Config::from_env()
    };
    // Only the thread that flipped LOADING gets here, so this set always wins and the messages
    // below are printed once per process.
    let _ = CONFIG.set(Box::new(loaded.config.clone()));
    let level = loaded.config.log;
    if level >= LogLevel::Info || (level >= LogLevel::Warn && !loaded.problems.is_empty()) {
        // Something will be printed: from now on, only to the stderr the process has now.
        remember_stderr();
    }
    for problem in &loaded.problems {
        log(level, LogLevel::Warn, format_args!("{problem}"));
    }
    log(
        level,
        LogLevel::Info,
        format_args!("{}", loaded.config.summary()),
    );
    CONFIG.get()
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
