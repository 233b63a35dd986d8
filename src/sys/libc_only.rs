//! Local, hidden definitions of the libpthread and libdl functions that code linked into the
//! library calls, so that its NEEDED stays at libc: on glibc < 2.34 these live in
//! `libpthread.so.0` and `libdl.so.2`, and opening those stub libraries costs every program started
//! with kashim preloaded about 30–50 µs (docs/release.md, "Start-up").
//!
//! - `pthread_rwlock_rdlock`/`wrlock`/`unlock`: the statically linked unwinder of the release
//!   build (LLVM libunwind, linked by zig) guards its cache of unwind tables with one
//!   `pthread_rwlock_t`. Here that lock is a small futex lock kept inside the caller's
//!   `pthread_rwlock_t`, whose initialiser is all zeros.
//! - `dlsym`, `dladdr` (libdl's on glibc < 2.34): kashim calls neither; the unwinder does.
//!   `dlsym(RTLD_DEFAULT, "_dl_find_object")`, once, for a faster lookup of unwind tables on glibc
//!   ≥ 2.35: answered NULL, it walks `dl_iterate_phdr`, as it does on every older glibc. `dladdr`
//!   serves only `unw_get_proc_name`, which Rust never calls: answered 0, "not found".
//!
//! The symbols are defined in assembly as hidden, so only this library's own references bind to
//! them: nothing is exported, no other object in the process sees them. In a build whose unwinder
//! is `libgcc_s` nothing calls the lock functions and the linker drops them.

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicU32, Ordering::SeqCst};

macro_rules! hidden_functions {
    ($($name:literal => $target:path),* $(,)?) => {
        $(
            #[cfg(target_arch = "x86_64")]
            core::arch::global_asm!(
                concat!(".pushsection .text.kashim_libc_only.", $name, ",\"ax\",@progbits"),
                concat!(".globl ", $name),
                concat!(".hidden ", $name),
                concat!(".type ", $name, ",@function"),
                concat!($name, ":"),
                "jmp {target}",
                concat!(".size ", $name, ", . - ", $name),
                ".popsection",
                target = sym $target,
            );
            #[cfg(target_arch = "aarch64")]
            core::arch::global_asm!(
                concat!(".pushsection .text.kashim_libc_only.", $name, ",\"ax\",%progbits"),
                concat!(".globl ", $name),
                concat!(".hidden ", $name),
                concat!(".type ", $name, ",%function"),
                concat!($name, ":"),
                "b {target}",
                concat!(".size ", $name, ", . - ", $name),
                ".popsection",
                target = sym $target,
            );
        )*
    };
}

hidden_functions! {
    "pthread_rwlock_rdlock" => read_lock,
    "pthread_rwlock_wrlock" => write_lock,
    "pthread_rwlock_unlock" => unlock,
    "dlsym" => no_symbol,
    "dladdr" => no_object,
}

/// Set in the lock word while a writer holds the lock; below it, the number of readers.
const WRITER: u32 = 1 << 31;

/// The lock word and the number of threads waiting, the first 8 bytes of a `pthread_rwlock_t`
/// (56 bytes, 8-aligned on x86_64 and aarch64).
///
/// # Safety
/// `lock` points to a `pthread_rwlock_t` that only these functions use, for as long as they run.
unsafe fn words<'a>(lock: *mut c_void) -> (&'a AtomicU32, &'a AtomicU32) {
    let p = lock.cast::<AtomicU32>();
    // SAFETY: per the contract; AtomicU32 has u32's layout and the storage is 8-aligned.
    unsafe { (&*p, &*p.add(1)) }
}

/// Sleeps until the lock word may no longer be `seen`. The waiter count is raised before the word
/// is compared by the kernel, so an unlock either sees the waiter or changes the word first.
fn wait(state: &AtomicU32, waiters: &AtomicU32, seen: u32) {
    waiters.fetch_add(1, SeqCst);
    // SAFETY: FUTEX_WAIT on a live, aligned u32; returns at once if the word is not `seen`.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            state.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            seen,
            core::ptr::null::<libc::timespec>(),
        )
    };
    waiters.fetch_sub(1, SeqCst);
}

extern "C" fn read_lock(lock: *mut c_void) -> c_int {
    // SAFETY: the unwinder passes its own static pthread_rwlock_t.
    let (state, waiters) = unsafe { words(lock) };
    loop {
        let s = state.load(SeqCst);
        if s & WRITER != 0 {
            wait(state, waiters, s);
        } else if state
            .compare_exchange_weak(s, s + 1, SeqCst, SeqCst)
            .is_ok()
        {
            return 0;
        }
    }
}

extern "C" fn write_lock(lock: *mut c_void) -> c_int {
    // SAFETY: as in read_lock.
    let (state, waiters) = unsafe { words(lock) };
    loop {
        match state.compare_exchange_weak(0, WRITER, SeqCst, SeqCst) {
            Ok(_) => return 0,
            Err(0) => {}
            Err(s) => wait(state, waiters, s),
        }
    }
}

extern "C" fn unlock(lock: *mut c_void) -> c_int {
    // SAFETY: as in read_lock.
    let (state, waiters) = unsafe { words(lock) };
    if state.load(SeqCst) & WRITER != 0 {
        state.store(0, SeqCst);
    } else {
        state.fetch_sub(1, SeqCst);
    }
    if waiters.load(SeqCst) != 0 {
        // SAFETY: FUTEX_WAKE on a live, aligned u32.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                state.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                c_int::MAX,
            )
        };
    }
    0
}

extern "C" fn no_symbol(_handle: *mut c_void, _name: *const core::ffi::c_char) -> *mut c_void {
    core::ptr::null_mut()
}

extern "C" fn no_object(_address: *const c_void, _info: *mut c_void) -> c_int {
    0
}
