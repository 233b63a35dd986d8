//! kashim's own work runs inside `guarded`, so that a bug in it can never unwind into the program
//! or make a hook call the real function a second time: a panic just means "kashim did nothing
//! this time". The library has its own copy of std, so the panic hook installed here is kashim's
//! alone: it keeps std's message off the program's stderr (fd 2 may be anything by then: a
//! socket, a log file) and, at debug level, says where through kashim's logger.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `work`; `fallback` if it panicked.
pub fn guarded<T>(fallback: T, work: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(work)).unwrap_or(fallback)
}

/// Installs the quiet panic hook: from the constructor, once (never in unit tests, whose panics
/// are their failure messages).
#[cfg_attr(test, allow(dead_code))]
pub fn quiet_panics() {
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
