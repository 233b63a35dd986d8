//! unshare(): with CLONE_FILES the calling thread gets a private copy of the descriptor table.
//! Whatever it closes or opens from then on happens in its copy only, so kashim stops recording
//! that thread's changes in the process's table.

use libc::c_int;

/// # Safety
/// As unshare(2).
pub unsafe fn unshare(real: unsafe extern "C" fn(c_int) -> c_int, flags: c_int) -> c_int {
    let rc = real(flags);
    if rc == 0 && flags & libc::CLONE_FILES != 0 {
        crate::act::descriptors::table_now_private();
    }
    rc
}
