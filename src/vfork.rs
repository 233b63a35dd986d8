//! vfork(): the child borrows the parent's memory, kashim's descriptor table included, but has
//! descriptors of its own. A child that closes or dup2()s descriptors before exec must not rewrite
//! the parent's table (it would make the parent's keepalive-off socket look unknown, and kashim
//! would then configure it at connect()).
//!
//! No system call on the hot path: `vfork` is a naked entry that marks this thread "vfork pending,
//! parent pid P" and then jumps to libc's vfork with the stack exactly as the program left it
//! (vfork must return twice on one stack: no frame of kashim's may be live across it). A table
//! write that sees the mark asks getpid() once: another pid is the child (the write is dropped),
//! P is the parent, resumed after the child's exec or exit (the mark is cleared). While no thread
//! has a mark (a global count of marks is zero) the check is one load of that count. A fork()
//! child clears an inherited mark (pthread_atfork, registered by the first vfork: registering it
//! from the constructor would cost every process two page faults of libc for a handler that has
//! nothing to do until some thread carries a mark).
//!
//! Not covered: a vfork made with a raw clone(CLONE_VM | CLONE_VFORK) system call, and targets other
//! than x86_64 and aarch64 (there vfork is not interposed and a child's close() still rewrites the
//! parent's table). glibc's posix_spawn, system() and popen() close and dup inside the child with
//! internal calls kashim does not see, so they never touch the table.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};

/// How many threads carry a mark: zero almost always, so the hot path reads no thread-local.
static MARKS: AtomicU32 = AtomicU32::new(0);

thread_local! {
    /// The pid that called vfork on this thread, until that process writes the table again.
    static VFORK_PARENT: Cell<libc::pid_t> = const { Cell::new(0) };
}

/// True in a vfork child (sharing the parent's memory): kashim must not write its table.
#[inline]
pub fn in_vfork_child() -> bool {
    if MARKS.load(Ordering::Relaxed) == 0 {
        return false;
    }
    let parent = VFORK_PARENT.try_with(Cell::get).unwrap_or(0);
    parent != 0 && still_in_child(parent)
}

#[cold]
fn still_in_child(parent: libc::pid_t) -> bool {
    // SAFETY: getpid has no preconditions and does not touch errno.
    if unsafe { libc::getpid() } == parent {
        let _ = VFORK_PARENT.try_with(|p| p.set(0));
        MARKS.fetch_sub(1, Ordering::Relaxed);
        false
    } else {
        true
    }
}

/// fork() child: a mark inherited from the parent's thread is not about this process.
/// Only the forking thread exists in the child, so no mark is left at all.
extern "C" fn forget_mark_in_fork_child() {
    let _ = VFORK_PARENT.try_with(|p| p.set(0));
    MARKS.store(0, Ordering::Relaxed);
}

#[cfg(all(not(test), any(target_arch = "x86_64", target_arch = "aarch64")))]
mod entry {
    use super::{forget_mark_in_fork_child, MARKS, VFORK_PARENT};
    use crate::real::Next;
    use std::sync::atomic::{AtomicBool, Ordering};

    type VforkFn = unsafe extern "C" fn() -> libc::pid_t;
    static NEXT_VFORK: Next<VforkFn> = Next::new(c"vfork");

    #[link_section = ".text.kashim_startup"]
    pub fn resolve() {
        NEXT_VFORK.resolve();
    }

    /// Registers the fork-child handler, once, before the first mark is made. A fork() child only
    /// has a mark to forget if some thread vforked before, so until then there is nothing to
    /// register.
    fn register_fork_handler_once() {
        static REGISTERED: AtomicBool = AtomicBool::new(false);
        if !REGISTERED.swap(true, Ordering::AcqRel) {
            // SAFETY: registers a handler that only writes a thread-local and an atomic.
            unsafe { libc::pthread_atfork(None, None, Some(forget_mark_in_fork_child)) };
        }
    }

    /// Marks the thread, and returns the function to jump to. Without libc's vfork (never seen),
    /// fork stands in, which POSIX allows; then there is no shared memory, and no mark.
    extern "C" fn before_vfork() -> usize {
        let fork: VforkFn = libc::fork;
        let real = NEXT_VFORK.or(fork);
        if real as usize != fork as usize {
            register_fork_handler_once();
            // SAFETY: getpid has no preconditions.
            let pid = unsafe { libc::getpid() };
            // A nested vfork (from a vfork child) keeps the first parent's mark.
            let _ = VFORK_PARENT.try_with(|p| {
                if p.get() == 0 {
                    p.set(pid);
                    // Before vfork returns in the child, which is the first to look.
                    MARKS.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        real as usize
    }

    /// # Safety
    /// As vfork(2).
    #[cfg(target_arch = "x86_64")]
    #[unsafe(naked)]
    #[no_mangle]
    pub unsafe extern "C" fn vfork() -> libc::pid_t {
        // Entry: rsp = return address. Realign for the call, call, undo, then jump with the
        // program's return address back on top, as if the program had called libc directly.
        core::arch::naked_asm!(
            "endbr64",
            "sub rsp, 8",
            "call {before}",
            "add rsp, 8",
            "jmp rax",
            before = sym before_vfork,
        )
    }

    /// # Safety
    /// As vfork(2).
    #[cfg(target_arch = "aarch64")]
    #[unsafe(naked)]
    #[no_mangle]
    pub unsafe extern "C" fn vfork() -> libc::pid_t {
        // Save the link register around the call, restore it, then branch (x16: a BTI "bti c"
        // landing pad accepts it) so libc's vfork returns straight to the program.
        core::arch::naked_asm!(
            "hint #34", // bti c
            "stp x29, x30, [sp, #-16]!",
            "mov x29, sp",
            "bl {before}",
            "mov x16, x0",
            "ldp x29, x30, [sp], #16",
            "br x16",
            before = sym before_vfork,
        )
    }
}

#[cfg(all(not(test), any(target_arch = "x86_64", target_arch = "aarch64")))]
pub use entry::resolve;

#[cfg(all(not(test), not(any(target_arch = "x86_64", target_arch = "aarch64"))))]
pub fn resolve() {}

#[cfg(test)]
mod tests {
    use super::*;

    /// MARKS is process-wide; tests run in parallel threads.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn no_mark_means_not_a_child() {
        assert!(!in_vfork_child());
    }

    #[test]
    fn the_marking_process_itself_is_the_parent_and_clears_the_mark() {
        let _one_at_a_time = SERIAL.lock().unwrap();
        MARKS.fetch_add(1, Ordering::Relaxed);
        VFORK_PARENT.with(|p| p.set(unsafe { libc::getpid() }));
        assert!(!in_vfork_child());
        assert_eq!(VFORK_PARENT.with(Cell::get), 0);
    }

    #[test]
    fn another_pid_is_the_child() {
        let _one_at_a_time = SERIAL.lock().unwrap();
        MARKS.fetch_add(1, Ordering::Relaxed);
        VFORK_PARENT.with(|p| p.set(1)); // not this test process
        assert!(in_vfork_child());
        forget_mark_in_fork_child();
        assert!(!in_vfork_child());
    }
}
