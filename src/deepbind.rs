//! RTLD_DEEPBIND: a library opened with it looks its symbols up in its own dependency tree (itself,
//! its libraries, libc) before the global scope, so its socket()/connect() bind straight to libc and
//! never see a preloaded library. PHP opens every extension this way (sockets, pgsql + libpq, curl +
//! libcurl), to keep an extension's libraries from binding to same-named symbols already loaded
//! (Apache's or an embedding program's); see docs/ld-preload-gaps.md.
//!
//! The flag is kept, so every other symbol still binds as the program asked. After a successful
//! RTLD_DEEPBIND dlopen, only the GOT slots of the functions kashim hooks are pointed at kashim, in
//! the objects that call just loaded, and only where the slot holds libc's own function (or the lazy
//! PLT stub that would resolve to it): exactly the call the library would have made, now passing
//! through kashim's detour, which then calls that same libc function.
//!
//! dlopen itself is a naked function that tail-jumps to libc's dlopen for every ordinary call, so
//! the caller libc sees (it picks the namespace, DT_RPATH/DT_RUNPATH and $ORIGIN from it) is still
//! the program's. Cases kashim cannot reach safely are logged once at info level, naming the library:
//! a DEEPBIND load by bare name or with $ORIGIN (the search depends on the caller), a tree that
//! brings its own socket() etc., and dlmopen into another namespace (a separate libc, errno and all).

use crate::config::LogLevel;
use crate::init::{config, guarded};
use crate::logger::log;
use libc::c_int;
use std::ffi::CStr;

const RTLD_DEEPBIND: c_int = 0x8;
const LM_ID_BASE: libc::c_long = 0;

/// The functions kashim hooks: the only slots it ever rewrites.
pub const HOOKED: [&CStr; 19] = [
    c"socket",
    c"connect",
    c"accept",
    c"accept4",
    c"setsockopt",
    c"close",
    c"dup",
    c"dup2",
    c"dup3",
    c"fcntl",
    c"fcntl64",
    c"fclose",
    c"freopen",
    c"freopen64",
    c"close_range",
    c"closefrom",
    c"vfork",
    c"dlopen",
    c"dlmopen",
];
/// How a dlopen/dlmopen call is carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Straight to libc's function, the caller unchanged: everything but the cases below.
    PassThrough,
    /// RTLD_DEEPBIND by path into the base namespace: loaded by kashim, then patched.
    Patch,
    /// RTLD_DEEPBIND by bare name or with a $-token: the caller decides the search, so it must stay
    /// the program's. Passed through, and logged as not reached.
    DeepbindByName,
    /// dlmopen into another namespace: that tree has its own libc. Passed through, logged.
    OtherNamespace,
}

/// Pure: which route a call takes. `file` is the name without its NUL (None for a null pointer).
pub fn route(namespace: libc::c_long, file: Option<&[u8]>, mode: c_int) -> Route {
    if namespace != LM_ID_BASE {
        return Route::OtherNamespace;
    }
    if mode & RTLD_DEEPBIND == 0 {
        return Route::PassThrough;
    }
    match file {
        None => Route::PassThrough, // the program itself: nothing new is loaded
        Some(name) if name.contains(&b'/') && !name.contains(&b'$') => Route::Patch,
        Some(_) => Route::DeepbindByName,
    }
}

/// The object's name for the log: the part after the last '/'.
pub fn short_name(file: &[u8]) -> &[u8] {
    file.rsplit(|&b| b == b'/').next().unwrap_or(file)
}

mod elf;
#[cfg(all(not(test), target_arch = "x86_64"))]
mod hooks;
#[cfg(all(not(test), target_arch = "x86_64"))]
pub use hooks::resolve;
/// Elsewhere dlopen is not hooked (the entry points are x86_64 assembly): see docs/ld-preload-gaps.md.
#[cfg(all(not(test), not(target_arch = "x86_64")))]
pub fn resolve() {}

#[cfg_attr(test, allow(dead_code))]
/// Logs `what` about `file` at info level, once per library (a small table of name hashes; when it
/// is full, further libraries are still logged).
fn info_once(file: &[u8], what: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEEN: [AtomicU64; 32] = [const { AtomicU64::new(0) }; 32];
    let Some(config) = config() else { return };
    if config.log < LogLevel::Info {
        return;
    }
    let hash = file.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }) | 1;
    for slot in &SEEN {
        match slot.compare_exchange(0, hash, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => break,
            Err(seen) if seen == hash => return,
            Err(_) => {}
        }
    }
    let name = String::from_utf8_lossy(short_name(file));
    guarded((), || {
        log(
            config.log,
            LogLevel::Info,
            format_args!(
                "{name}: {what}; its sockets are not reached (use kashim --ebpf or --attach)"
            ),
        )
    });
}

#[cfg(test)]
mod tests;
