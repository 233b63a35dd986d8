//! kashim's own work runs inside `guarded`, so that a bug in it can never unwind into the program
//! or make a hook call the real function a second time: a panic just means "kashim did nothing
//! this time". The library has its own copy of std, so the panic hook installed here is kashim's
//! alone: it keeps std's message off the program's stderr (fd 2 may be anything by then: a
//! socket, a log file) and, at debug level, says what happened through kashim's logger.
//!
//! The hook is installed before kashim's first real work, not by every process at start: setting
//! it costs a process about 4 page faults (std's panic code and data), and the constructor's fixed
//! steps in a process without `KASHIM_*` variables or inherited connections (resolving the table,
//! three getpeername calls) are the one stretch that runs without it (`guarded_at_start`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

/// Runs `work`; `fallback` if it panicked. The panic hook is in place first.
#[inline]
pub fn guarded<T>(fallback: T, work: impl FnOnce() -> T) -> T {
    quiet_panics();
    catch_unwind(AssertUnwindSafe(work)).unwrap_or(fallback)
}

#[cfg_attr(test, allow(dead_code))]
/// `guarded` for the constructor's fixed steps, which install the hook themselves as soon as they
/// find work to do (`quiet_panics`).
pub fn guarded_at_start(work: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(work));
}

/// Installs the quiet panic hook, once (never in unit tests, whose panics are their messages).
#[inline]
pub fn quiet_panics() {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if cfg!(test) || INSTALLED.load(Ordering::Relaxed) {
        return;
    }
    install(&INSTALLED);
}

#[cold]
fn install(installed: &AtomicBool) {
    if installed.swap(true, Ordering::AcqRel) {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        if let Some(config) = crate::state::config::ready() {
            crate::sys::logger::log(
                config.log,
                crate::config::LogLevel::Debug,
                format_args!("internal error, nothing done: {info}"),
            );
        }
    }));
}
