//! Memory kashim takes for itself: anonymous mappings, never the program's heap. mmap is
//! async-signal-safe (the descriptor table grows from inside hooks), and a leak checker run on
//! the program (valgrind's "still reachable") finds nothing of kashim's there.

use libc::c_void;

/// `bytes` of zeroed, writable memory, page-aligned; `None` if the kernel refuses. errno is kept.
pub fn anonymous(bytes: usize) -> Option<*mut c_void> {
    let _errno = crate::sys::errno::ErrnoGuard::save();
    // SAFETY: an anonymous private mapping; no existing memory is touched.
    let mapped = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    (mapped != libc::MAP_FAILED).then_some(mapped)
}

/// Gives back a mapping `anonymous` made that nothing refers to. errno is kept.
///
/// # Safety
/// `mapped` and `bytes` are exactly one earlier `anonymous` call's, and nothing uses it any more.
pub unsafe fn release(mapped: *mut c_void, bytes: usize) {
    let _errno = crate::sys::errno::ErrnoGuard::save();
    // SAFETY: as the caller's.
    unsafe { libc::munmap(mapped, bytes) };
}
