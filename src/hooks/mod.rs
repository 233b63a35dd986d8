//! The functions kashim interposes on: the one table. Each row declares a hooked function once —
//! its C name and type, the detour that carries it out, and the stand-in used if no later object
//! defines it — and from that row come its exported symbol, its "next" pointer (the definition the
//! program would have called), its resolution at start, and its place in the list the RTLD_DEEPBIND
//! patching rewrites.
//!
//! A detour is plain Rust that receives the real function as its first argument, so it can be run
//! without interposing (the unit tests pass the stand-ins, which make the same system calls). Rows
//! marked `naked` name their hand-written entries (vfork, dlopen, dlmopen must leave the stack
//! exactly as the program made it); the table still owns their next pointers.
//!
//! The constructor records where next pointers are searched (`prepare`: the objects after kashim,
//! one walk), and each row is looked up there when its hook first runs: no hook walks the loaded
//! objects or takes the loader's lock, and a process pays at start only for the walk, not for 21
//! lookups (docs/performance.md). A dlopen()ed kashim, or one with too many objects to record,
//! resolves every row at once instead.
//! A hook that runs before the constructor (another library's constructor calling socket())
//! resolves its own row with a walk. A name nothing defines is remembered as missing, and its
//! stand-in is used from then on without another search.

// The exports that call the detours are compiled out of `cargo test`.
#![cfg_attr(test, allow(dead_code))]

use crate::sys::{fallback, resolve};
use libc::{c_char, c_int, c_long, c_uint, c_void, pid_t, socklen_t};
use std::ffi::CStr;
use std::sync::atomic::{AtomicUsize, Ordering};

pub(crate) mod accept;
pub(crate) mod close;
pub(crate) mod close_range;
pub(crate) mod connect;
pub mod dlopen;
pub(crate) mod dup;
pub(crate) mod fork;
pub(crate) mod setsockopt;
pub(crate) mod socket;
pub(crate) mod unshare;
pub(crate) mod vfork;

/// A next pointer not resolved yet.
const UNRESOLVED: usize = 0;
/// A name no object after kashim defines: the stand-in is used.
const MISSING: usize = 1;

macro_rules! hook_table {
    ($(
        $name:ident ( $($arg:ident : $argty:ty),* ) -> $ret:ty
            => $kind:ident $entry:path, fallback $fallback:path;
    )*) => {
        /// Each hooked function's position in the table.
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Hook { $($name),* }

        /// The hooked functions' C names, in table order.
        pub static NAMES: [&CStr; COUNT] = [$(
            // SAFETY: the literal ends with its only NUL.
            unsafe { CStr::from_bytes_with_nul_unchecked(concat!(stringify!($name), "\0").as_bytes()) }
        ),*];

        /// How many functions kashim hooks.
        pub const COUNT: usize = [$(Hook::$name),*].len();

        /// The next definition of each hooked function, typed: what the detours and kashim's own
        /// calls use.
        #[allow(dead_code)]
        pub mod next {
            use super::*;
            $(
                #[inline]
                pub fn $name() -> unsafe extern "C" fn($($argty),*) -> $ret {
                    let stand_in: unsafe extern "C" fn($($argty),*) -> $ret = $fallback;
                    match address(Hook::$name) {
                        MISSING => stand_in,
                        // SAFETY: the address is the definition of this C name, whose type is
                        // the row's (the rows copy libc's prototypes).
                        found => unsafe { std::mem::transmute::<usize, unsafe extern "C" fn($($argty),*) -> $ret>(found) },
                    }
                }
            )*
        }

        $( hook_table!(@export $kind $name ( $($arg : $argty),* ) -> $ret, $entry); )*
    };

    (@export detour $name:ident ( $($arg:ident : $argty:ty),* ) -> $ret:ty, $entry:path) => {
        /// # Safety
        /// As the C function of this name.
        #[cfg(not(test))]
        #[no_mangle]
        pub unsafe extern "C" fn $name($($arg: $argty),*) -> $ret {
            $entry(next::$name(), $($arg),*)
        }
    };
    (@export naked $name:ident ( $($arg:ident : $argty:ty),* ) -> $ret:ty, $entry:path) => {};
}

hook_table! {
    socket(domain: c_int, socket_type: c_int, protocol: c_int) -> c_int
        => detour socket::socket, fallback fallback::socket;
    connect(fd: c_int, address: *const libc::sockaddr, len: socklen_t) -> c_int
        => detour connect::connect, fallback fallback::connect;
    accept(fd: c_int, address: *mut libc::sockaddr, len: *mut socklen_t) -> c_int
        => detour accept::accept, fallback fallback::accept;
    accept4(fd: c_int, address: *mut libc::sockaddr, len: *mut socklen_t, flags: c_int) -> c_int
        => detour accept::accept4, fallback fallback::accept4;
    setsockopt(fd: c_int, level: c_int, name: c_int, value: *const c_void, len: socklen_t) -> c_int
        => detour setsockopt::setsockopt, fallback fallback::setsockopt;
    close(fd: c_int) -> c_int
        => detour close::close, fallback fallback::close;
    fclose(stream: *mut libc::FILE) -> c_int
        => detour close::fclose, fallback fallback::fclose;
    freopen(path: *const c_char, mode: *const c_char, stream: *mut libc::FILE) -> *mut libc::FILE
        => detour close::freopen, fallback fallback::freopen;
    freopen64(path: *const c_char, mode: *const c_char, stream: *mut libc::FILE) -> *mut libc::FILE
        => detour close::freopen, fallback fallback::freopen;
    close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int
        => detour close_range::close_range, fallback fallback::close_range;
    closefrom(lowest: c_int) -> ()
        => detour close_range::closefrom, fallback fallback::closefrom;
    dup(fd: c_int) -> c_int
        => detour dup::dup, fallback fallback::dup;
    dup2(old_fd: c_int, new_fd: c_int) -> c_int
        => detour dup::dup2, fallback fallback::dup2;
    dup3(old_fd: c_int, new_fd: c_int, flags: c_int) -> c_int
        => detour dup::dup3, fallback fallback::dup3;
    fcntl(fd: c_int, command: c_int, argument: c_long) -> c_int
        => detour dup::fcntl, fallback fallback::fcntl;
    fcntl64(fd: c_int, command: c_int, argument: c_long) -> c_int
        => detour dup::fcntl, fallback fallback::fcntl;
    unshare(flags: c_int) -> c_int
        => detour unshare::unshare, fallback fallback::unshare;
    fork() -> pid_t
        => detour fork::fork, fallback fallback::fork;
    vfork() -> pid_t
        => naked vfork::vfork, fallback fallback::fork;
    dlopen(file: *const c_char, mode: c_int) -> *mut c_void
        => naked dlopen::dlopen, fallback fallback::dlopen;
    dlmopen(namespace: c_long, file: *const c_char, mode: c_int) -> *mut c_void
        => naked dlopen::dlmopen, fallback fallback::dlmopen;
}

/// The resolved next definitions, in table order: UNRESOLVED, MISSING, or an address.
static NEXT: [AtomicUsize; COUNT] = [const { AtomicUsize::new(UNRESOLVED) }; COUNT];

/// The next definition of `hook`, resolving its row first if the constructor has not run yet.
#[inline]
fn address(hook: Hook) -> usize {
    let slot = &NEXT[hook as usize];
    match slot.load(Ordering::Acquire) {
        UNRESOLVED => resolve_one(slot, NAMES[hook as usize]),
        known => known,
    }
}

#[cold]
fn resolve_one(slot: &AtomicUsize, name: &CStr) -> usize {
    let _errno = crate::sys::errno::ErrnoGuard::save();
    let address =
        resolve::recorded_next_definition(name).unwrap_or_else(|| resolve::next_definition(name));
    let found = match address {
        0 => MISSING,
        address => address,
    };
    slot.store(found, Ordering::Release);
    found
}

/// From the constructor: records where the rows are looked up, or resolves them all when it cannot.
#[link_section = ".text.startup.kashim"]
pub fn prepare() {
    if !resolve::record_search_order() {
        resolve_all();
    }
}

/// Resolves every row at once (one walk over the loaded objects).
pub fn resolve_all() {
    let mut found = [0usize; COUNT];
    resolve::next_definitions(&NAMES, &mut found);
    for (slot, address) in NEXT.iter().zip(found) {
        slot.store(
            if address == 0 { MISSING } else { address },
            Ordering::Release,
        );
    }
}

/// The next definition of row `hook` (0 if missing), resolved now if it was not: what the
/// RTLD_DEEPBIND patching compares GOT slots with.
pub fn resolved(hook: usize) -> usize {
    let slot = &NEXT[hook];
    let address = match slot.load(Ordering::Acquire) {
        UNRESOLVED => resolve_one(slot, NAMES[hook]),
        known => known,
    };
    if address == MISSING {
        0
    } else {
        address
    }
}

#[cfg(test)]
mod tests;
