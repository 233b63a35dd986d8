//! fork(): the child gets copies of the parent's descriptors and memory, kashim's table included,
//! but the kernel copies the descriptors first: a socket another thread opened in between is in
//! the child's copy of the table while its number is free in the child. The child checks its
//! records before it returns to the program.

use libc::pid_t;

/// # Safety
/// As fork(2).
pub unsafe fn fork(real: unsafe extern "C" fn() -> pid_t) -> pid_t {
    let pid = real();
    if pid == 0 {
        crate::act::descriptors::after_fork_in_child();
    }
    pid
}
