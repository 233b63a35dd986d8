//! close_range() and closefrom() (glibc >= 2.34; Python's os.closerange and many daemons use them):
//! like close(), every number they release is forgotten before the real call, so a socket that
//! later lands on one of those numbers (received over SCM_RIGHTS, inherited, made by a raw system
//! call) is inspected afresh instead of inheriting a stale "not TCP" or "configured" entry.
//!
//! The real functions are looked up by hand rather than with redhook: on a glibc without them the
//! lookup fails, and these detours then answer ENOSYS (close_range) or do nothing (closefrom) as
//! a libc without them would, instead of panicking.

use crate::fd_table;
use crate::init::{guarded, tracking};
use libc::{c_int, c_uint};

/// close_range(2) flags: with CLOSE_RANGE_CLOEXEC nothing is closed, only marked close-on-exec.
const CLOSE_RANGE_CLOEXEC: c_int = 1 << 2;

/// What close_range(first, last, flags) releases, if anything: the inclusive range to forget.
/// An invalid call (first > last) releases nothing; CLOSE_RANGE_UNSHARE still closes the range
/// (in the process's own, now private, table).
pub fn released(first: c_uint, last: c_uint, flags: c_int) -> Option<(u32, u32)> {
    (first <= last && flags & CLOSE_RANGE_CLOEXEC == 0).then_some((first, last))
}

/// The range closefrom(lowest) releases: every descriptor from `lowest` on.
pub fn released_from(lowest: c_int) -> (u32, u32) {
    (lowest.max(0) as u32, u32::MAX)
}

pub fn forget(range: Option<(u32, u32)>) {
    guarded((), || {
        if let Some((first, last)) = range {
            if tracking() {
                fd_table::forget_range(first, last);
            }
        }
    })
}

#[cfg(not(test))]
mod hooks {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    type CloseRangeFn = unsafe extern "C" fn(c_uint, c_uint, c_int) -> c_int;
    type ClosefromFn = unsafe extern "C" fn(c_int);

    static REAL_CLOSE_RANGE: AtomicUsize = AtomicUsize::new(0);
    static REAL_CLOSEFROM: AtomicUsize = AtomicUsize::new(0);

    /// dlsym(RTLD_NEXT, name), remembered; 0 if libc does not have it.
    fn next(cache: &AtomicUsize, name: &'static [u8]) -> usize {
        let known = cache.load(Ordering::Acquire);
        if known != 0 {
            return known;
        }
        // SAFETY: `name` is NUL-terminated; dlsym has no other preconditions.
        let found = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr().cast()) } as usize;
        cache.store(found, Ordering::Release);
        found
    }

    pub fn resolve() {
        let _errno = crate::errno::ErrnoGuard::save();
        next(&REAL_CLOSE_RANGE, b"close_range\0");
        next(&REAL_CLOSEFROM, b"closefrom\0");
        // A failed lookup leaves a dlerror message a program could read after its own dl call.
        // SAFETY: dlerror only reads and clears this thread's message.
        unsafe { libc::dlerror() };
    }

    #[no_mangle]
    pub unsafe extern "C" fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
        forget(released(first, last, flags));
        match next(&REAL_CLOSE_RANGE, b"close_range\0") {
            0 => {
                crate::errno::set(libc::ENOSYS);
                -1
            }
            // SAFETY: the address libc gave for close_range, which has this signature.
            real => std::mem::transmute::<usize, CloseRangeFn>(real)(first, last, flags),
        }
    }

    #[no_mangle]
    pub unsafe extern "C" fn closefrom(lowest: c_int) {
        forget(Some(released_from(lowest)));
        let real = next(&REAL_CLOSEFROM, b"closefrom\0");
        if real != 0 {
            // SAFETY: the address libc gave for closefrom, which has this signature.
            std::mem::transmute::<usize, ClosefromFn>(real)(lowest)
        }
    }
}

#[cfg(not(test))]
pub use hooks::resolve;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_range_releases_its_inclusive_range() {
        assert_eq!(released(3, 9, 0), Some((3, 9)));
        assert_eq!(released(5, 5, 0), Some((5, 5)));
        assert_eq!(
            released(3, u32::MAX, 2 /* CLOSE_RANGE_UNSHARE */),
            Some((3, u32::MAX))
        );
    }

    #[test]
    fn cloexec_or_an_invalid_range_releases_nothing() {
        assert_eq!(released(3, 9, CLOSE_RANGE_CLOEXEC), None);
        assert_eq!(released(9, 3, 0), None);
    }

    #[test]
    fn forgetting_a_released_range_clears_the_table() {
        use crate::fd_table::FdState;
        let fd = 13 << 16; // a number no other test uses
        fd_table::set(fd, FdState::NotTcp);
        forget(released(fd as u32, fd as u32, CLOSE_RANGE_CLOEXEC));
        assert_eq!(fd_table::get(fd), FdState::NotTcp);
        forget(Some(released_from(fd)));
        assert_eq!(fd_table::get(fd), FdState::Unknown);
    }

    #[test]
    fn closefrom_releases_everything_above() {
        assert_eq!(released_from(3), (3, u32::MAX));
        assert_eq!(released_from(-1), (0, u32::MAX));
    }
}
