//! close_range() and closefrom() (glibc >= 2.34; Python's os.closerange and many daemons use them):
//! every number they release is forgotten before the real call, as for close(). With
//! CLOSE_RANGE_UNSHARE the calling thread first gets a private copy of the descriptor table, so it
//! closes only its own copies: the process's table is left as it is, and the thread is marked so
//! that nothing it does later rewrites the process's records.

use crate::act::descriptors;
use crate::decide::descriptors::{close_range_effect, released_from};
use libc::{c_int, c_uint};

/// # Safety
/// As close_range(2).
pub unsafe fn close_range(
    real: unsafe extern "C" fn(c_uint, c_uint, c_int) -> c_int,
    first: c_uint,
    last: c_uint,
    flags: c_int,
) -> c_int {
    let effect = close_range_effect(first, last, flags);
    if !effect.unshares {
        descriptors::forget_range(effect.released);
    }
    let rc = real(first, last, flags);
    if rc == 0 && effect.unshares {
        descriptors::table_now_private();
    }
    rc
}

/// # Safety
/// As closefrom(3).
pub unsafe fn closefrom(real: unsafe extern "C" fn(c_int), lowest: c_int) {
    descriptors::forget_range(Some(released_from(lowest)));
    real(lowest)
}
