//! Threads whose descriptor changes must not be recorded in kashim's table, because the table
//! describes descriptors they do not share:
//! - a vfork child borrows its parent's memory, table included, but has its own descriptors;
//! - a thread that called unshare(CLONE_FILES) or close_range(CLOSE_RANGE_UNSHARE) has a private
//!   copy of the descriptor table, so what it closes stays open for the rest of the process.
//!
//! Their writes are dropped (`records_reach_process`); reads still use the table, which holds
//! what that thread's descriptors were when they were shared.
//!
//! No system call on the hot path: while no thread carries a mark (a global count is zero, almost
//! always), the check is one load. A vfork mark holds the parent's pid: a write that sees it asks
//! getpid() once: another pid is the child (the write is dropped), the parent's pid means the
//! parent has resumed after the child's exec or exit (the mark is cleared).

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};

/// How many threads carry a mark of either kind.
static MARKS: AtomicU32 = AtomicU32::new(0);

thread_local! {
    /// The pid that called vfork on this thread, until that process writes the table again.
    static VFORK_PARENT: Cell<libc::pid_t> = const { Cell::new(0) };
    /// This thread's descriptor table is its own.
    static PRIVATE_TABLE: Cell<bool> = const { Cell::new(false) };
}

/// May this thread's descriptor changes be recorded in the process's table?
#[inline]
pub fn records_reach_process() -> bool {
    MARKS.load(Ordering::Relaxed) == 0 || !(in_vfork_child() || has_private_table())
}

#[cold]
fn has_private_table() -> bool {
    PRIVATE_TABLE.try_with(Cell::get).unwrap_or(false)
}

#[cold]
fn in_vfork_child() -> bool {
    let parent = VFORK_PARENT.try_with(Cell::get).unwrap_or(0);
    if parent == 0 {
        return false;
    }
    // SAFETY: getpid has no preconditions and does not touch errno.
    if unsafe { libc::getpid() } == parent {
        let _ = VFORK_PARENT.try_with(|p| p.set(0));
        MARKS.fetch_sub(1, Ordering::Relaxed);
        false
    } else {
        true
    }
}

/// Before libc's vfork: this thread's next writes may come from the child. A nested vfork (from a
/// vfork child) keeps the first parent's mark.
pub fn mark_vfork() {
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    let _ = VFORK_PARENT.try_with(|p| {
        if p.get() == 0 {
            p.set(pid);
            // Before vfork returns in the child, which is the first to look.
            MARKS.fetch_add(1, Ordering::Relaxed);
        }
    });
}

/// After a successful unshare(CLONE_FILES) or close_range(CLOSE_RANGE_UNSHARE) on this thread.
pub fn mark_private_table() {
    let _ = PRIVATE_TABLE.try_with(|p| {
        if !p.replace(true) {
            MARKS.fetch_add(1, Ordering::Relaxed);
        }
    });
}

/// In a fork child: only the forking thread exists, and whatever table it had is now the
/// process's own, so no mark applies any more.
pub fn clear_in_fork_child() {
    let _ = VFORK_PARENT.try_with(|p| p.set(0));
    let _ = PRIVATE_TABLE.try_with(|p| p.set(false));
    MARKS.store(0, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MARKS is process-wide; tests run in parallel threads.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn no_mark_means_records_reach_the_process() {
        let _one_at_a_time = SERIAL.lock().unwrap();
        assert!(records_reach_process());
    }

    #[test]
    fn the_marking_process_itself_is_the_parent_and_clears_the_mark() {
        let _one_at_a_time = SERIAL.lock().unwrap();
        mark_vfork();
        assert!(records_reach_process());
        assert_eq!(VFORK_PARENT.with(Cell::get), 0);
        assert_eq!(MARKS.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn another_pid_is_the_child() {
        let _one_at_a_time = SERIAL.lock().unwrap();
        MARKS.fetch_add(1, Ordering::Relaxed);
        VFORK_PARENT.with(|p| p.set(1)); // not this test process
        assert!(!records_reach_process());
        clear_in_fork_child();
        assert!(records_reach_process());
    }

    #[test]
    fn a_thread_with_a_private_table_records_nothing_and_others_still_do() {
        let _one_at_a_time = SERIAL.lock().unwrap();
        std::thread::spawn(|| {
            mark_private_table();
            mark_private_table(); // counted once
            assert!(!records_reach_process());
        })
        .join()
        .unwrap();
        assert!(records_reach_process(), "the main thread's table is shared");
        MARKS.store(0, Ordering::Relaxed);
    }
}
