//! close_range() and closefrom() (glibc >= 2.34; Python's os.closerange and many daemons use them):
//! like close(), every number they release is forgotten before the real call, so a socket that
//! later lands on one of those numbers (received over SCM_RIGHTS, inherited, made by a raw system
//! call) is inspected afresh instead of inheriting a stale "not TCP" or "configured" entry.
//!
//! On a libc without them (glibc < 2.34) the detours make the system call themselves.

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
    use crate::real::Next;

    type CloseRangeFn = unsafe extern "C" fn(c_uint, c_uint, c_int) -> c_int;
    type ClosefromFn = unsafe extern "C" fn(c_int);

    static NEXT_CLOSE_RANGE: Next<CloseRangeFn> = Next::new(c"close_range");
    static NEXT_CLOSEFROM: Next<ClosefromFn> = Next::new(c"closefrom");

    /// Used only where libc has no close_range (glibc < 2.34): the system call itself (ENOSYS on
    /// kernels before 5.9, as libc's would say).
    unsafe extern "C" fn close_range_syscall(first: c_uint, last: c_uint, flags: c_int) -> c_int {
        libc::syscall(libc::SYS_close_range, first, last, flags) as c_int
    }

    /// Used only where libc has no closefrom: close_range to the end, which is what glibc's does.
    unsafe extern "C" fn closefrom_syscall(lowest: c_int) {
        let _errno = crate::errno::ErrnoGuard::save();
        close_range_syscall(lowest.max(0) as c_uint, c_uint::MAX, 0);
    }

    #[link_section = ".text.kashim_startup"]
    pub fn resolve() {
        NEXT_CLOSE_RANGE.resolve();
        NEXT_CLOSEFROM.resolve();
        // A failed lookup (an older libc) leaves a dlerror message a program could read later.
        // SAFETY: dlerror only reads and clears this thread's message.
        unsafe { libc::dlerror() };
    }

    /// # Safety
    /// As close_range(2).
    #[no_mangle]
    pub unsafe extern "C" fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
        forget(released(first, last, flags));
        NEXT_CLOSE_RANGE.or(close_range_syscall)(first, last, flags)
    }

    /// # Safety
    /// As closefrom(3).
    #[no_mangle]
    pub unsafe extern "C" fn closefrom(lowest: c_int) {
        forget(Some(released_from(lowest)));
        NEXT_CLOSEFROM.or(closefrom_syscall)(lowest)
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
