//! What kashim knows about each descriptor, kept lock-free and allocation-free so the hooks stay
//! async-signal-safe.
//!
//! One byte per descriptor. Descriptors below 4096 (nearly every program's) have a static table;
//! the rest live in chunks of 65536 mapped with mmap when a descriptor in them is first recorded,
//! found through a directory mapped the same way, so a server with descriptors in the millions works
//! without reserving memory up front. The static part is kept small: a 320 KiB table of zeroed
//! .bss cost every process one more mapping at start-up, sockets or not (docs/performance.md).
//! A descriptor whose chunk was never mapped is `Unknown`, which is always the safe answer: kashim
//! then asks the kernel.

use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU8, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FdState {
    /// Not seen, closed, or reused through a path kashim does not see.
    Unknown = 0,
    /// A TCP socket with kashim's options (set by kashim or inherited from a configured listener).
    Configured = 1,
    /// A socket whose keepalive settings belong to the program: kashim leaves it alone.
    ProgramOwned = 2,
    /// Not a TCP socket (UDP, Unix, raw...): kashim never touches it.
    NotTcp = 3,
    /// A TCP listener kashim did not create and did not change: each accepted socket is configured.
    ForeignListener = 4,
    /// A TCP socket made under scope rules (KASHIM_DIRECTION/ONLY/EXCEPT): nothing set yet; decided
    /// at connect() or, for the sockets a listener accepts, at accept().
    Pending = 5,
    /// A connection the scope rules leave out: kashim never touches it.
    OutOfScope = 6,
    /// The program set SO_KEEPALIVE itself, and no timer, on a socket kashim had not configured:
    /// its timers are still the kernel's. At the connection, keepalive on gets kashim's timers
    /// (keepalive on with a two-hour first probe is no protection); then the socket is the
    /// program's.
    ProgramSwitch = 7,
}

impl FdState {
    fn from_u8(v: u8) -> FdState {
        match v {
            1 => FdState::Configured,
            2 => FdState::ProgramOwned,
            3 => FdState::NotTcp,
            4 => FdState::ForeignListener,
            5 => FdState::Pending,
            6 => FdState::OutOfScope,
            7 => FdState::ProgramSwitch,
            _ => FdState::Unknown,
        }
    }
}

const CHUNK_BITS: u32 = 16;
const CHUNK_LEN: usize = 1 << CHUNK_BITS;
/// Descriptors are non-negative `int`s: 2^31 / 2^16 chunks cover them all.
const CHUNKS: usize = 1 << (31 - CHUNK_BITS);

/// The highest descriptor ever recorded as anything but Unknown: close_range() and closefrom()
/// need not look further (closefrom(3) in a process with 20 descriptors reads 20 entries).
static HIGHEST: AtomicI32 = AtomicI32::new(-1);
/// Descriptors below LOW: no mapping, no system call, ever.
const LOW: usize = 4096;
static LOW_SLOTS: [AtomicU8; LOW] = [const { AtomicU8::new(0) }; LOW];
/// Chunk 0 (its first LOW entries unused), one load away on the hooks' path.
static FIRST_CHUNK: AtomicPtr<AtomicU8> = AtomicPtr::new(std::ptr::null_mut());
/// CHUNKS entries; entry 0 is unused (FIRST_CHUNK).
static DIRECTORY: AtomicPtr<AtomicPtr<AtomicU8>> = AtomicPtr::new(std::ptr::null_mut());

/// Where chunk `chunk`'s address is kept; with `create`, maps the directory if needed.
fn chunk_entry(chunk: usize, create: bool) -> Option<&'static AtomicPtr<AtomicU8>> {
    if chunk == 0 {
        return Some(&FIRST_CHUNK);
    }
    if chunk >= CHUNKS {
        return None;
    }
    let mut directory = DIRECTORY.load(Ordering::Acquire);
    if directory.is_null() {
        if !create {
            return None;
        }
        directory = map_zeroed(&DIRECTORY, CHUNKS)?;
    }
    // SAFETY: the directory holds CHUNKS entries, is never unmapped, and chunk < CHUNKS.
    Some(unsafe { &*directory.add(chunk) })
}

/// The base of chunk `chunk`, or null if it was never mapped.
fn chunk_base(chunk: usize) -> *const AtomicU8 {
    chunk_entry(chunk, false).map_or(std::ptr::null(), |entry| entry.load(Ordering::Acquire))
}

fn slot(fd: i32, create: bool) -> Option<&'static AtomicU8> {
    if fd < 0 {
        return None;
    }
    let fd = fd as usize;
    if fd < LOW {
        return LOW_SLOTS.get(fd);
    }
    let (chunk, index) = (fd >> CHUNK_BITS, fd & (CHUNK_LEN - 1));
    let entry = chunk_entry(chunk, create)?;
    let mut base = entry.load(Ordering::Acquire);
    if base.is_null() {
        if !create {
            return None;
        }
        base = map_zeroed(entry, CHUNK_LEN)?;
    }
    // SAFETY: `base` points to CHUNK_LEN AtomicU8s that are never unmapped, and index < CHUNK_LEN.
    Some(unsafe { &*base.add(index) })
}

/// Maps `len` zeroed `T`s and publishes them in `entry`; if another thread won the race, uses
/// theirs. errno is kept (`mapping` keeps it): callers record state after the program's call
/// succeeded, outside any other guard, and a failed mmap (ENOMEM) must not show through.
#[cold]
fn map_zeroed<T>(entry: &AtomicPtr<T>, len: usize) -> Option<*mut T> {
    let bytes = len * std::mem::size_of::<T>();
    // Zeroed memory: every T here (an AtomicU8, an AtomicPtr) is valid all-zero.
    let mapped = crate::sys::mapping::anonymous(bytes)?.cast::<T>();
    match entry.compare_exchange(
        std::ptr::null_mut(),
        mapped,
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        Ok(_) => Some(mapped),
        Err(winner) => {
            // SAFETY: our mapping was never published.
            unsafe { crate::sys::mapping::release(mapped.cast(), bytes) };
            Some(winner)
        }
    }
}

pub fn get(fd: i32) -> FdState {
    slot(fd, false).map_or(FdState::Unknown, |s| {
        FdState::from_u8(s.load(Ordering::Acquire))
    })
}

/// Records what kashim knows. A thread whose descriptors are not the process's (a vfork child,
/// a thread with a private table: `thread_marks`) records nothing.
pub fn set(fd: i32, state: FdState) {
    if !crate::state::thread_marks::records_reach_process() {
        return;
    }
    // A load and a compare; the write only when a higher number than ever before is recorded.
    if state != FdState::Unknown && fd > HIGHEST.load(Ordering::Relaxed) {
        HIGHEST.fetch_max(fd, Ordering::AcqRel);
    }
    // Forgetting never needs memory: an unmapped chunk already reads as Unknown.
    if let Some(s) = slot(fd, state != FdState::Unknown) {
        s.store(state as u8, Ordering::Release);
    }
}

/// Forgets every descriptor from `first` to `last` (inclusive), for close_range() and closefrom().
pub fn forget_range(first: u32, last: u32) {
    if !crate::state::thread_marks::records_reach_process() {
        return; // as in set()
    }
    each_recorded(first, last, |_, _| false);
}

/// Forgets every record for which `keep(fd)` is false (a fork child's check of its records).
pub fn retain(keep: impl Fn(i32) -> bool) {
    each_recorded(0, u32::MAX, |fd, _| keep(fd));
}

/// Visits every record from `first` to `last` (inclusive) that is not Unknown, and forgets those
/// for which `keep(fd, state)` is false. Only chunks that exist are visited, and only non-Unknown
/// slots are written, so closefrom(3) in a process that never used a high descriptor touches one
/// chunk and maps no memory.
fn each_recorded(first: u32, last: u32, keep: impl Fn(i32, FdState) -> bool) {
    let highest = HIGHEST.load(Ordering::Acquire);
    if highest < 0 {
        return;
    }
    let last = last.min(highest as u32) as usize;
    let mut fd = first as usize;
    while fd <= last {
        // One piece at a time: the static low table, then each chunk.
        let (base, index, end) = if fd < LOW {
            (LOW_SLOTS.as_ptr(), fd, last.min(LOW - 1))
        } else {
            let chunk = fd >> CHUNK_BITS;
            let end = last.min((chunk << CHUNK_BITS) | (CHUNK_LEN - 1));
            (chunk_base(chunk), fd & (CHUNK_LEN - 1), end)
        };
        if !base.is_null() {
            for i in index..=index + (end - fd) {
                // SAFETY: `base` points to a table that is never unmapped, and i stays inside it
                // (below LOW for the static one, below CHUNK_LEN for a chunk).
                let s = unsafe { &*base.add(i) };
                let state = s.load(Ordering::Relaxed);
                let number = (fd + (i - index)) as i32;
                if state != FdState::Unknown as u8 && !keep(number, FdState::from_u8(state)) {
                    s.store(FdState::Unknown as u8, Ordering::Release);
                }
            }
        }
        fd = end + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_until_set_and_after_forget() {
        // A number no other test's real socket will get (tests run in parallel threads).
        let fd = 60_007;
        assert_eq!(get(fd), FdState::Unknown);
        set(fd, FdState::Configured);
        assert_eq!(get(fd), FdState::Configured);
        set(fd, FdState::Unknown);
        assert_eq!(get(fd), FdState::Unknown);
    }

    #[test]
    fn high_descriptors_get_their_own_chunk() {
        for fd in [65_535, 65_536, 1_000_000, i32::MAX] {
            assert_eq!(get(fd), FdState::Unknown, "fd {fd}");
            set(fd, FdState::NotTcp);
            assert_eq!(get(fd), FdState::NotTcp, "fd {fd}");
            assert_eq!(get(fd ^ 1), FdState::Unknown, "neighbour of fd {fd}");
        }
    }

    #[test]
    fn the_static_table_and_the_first_chunk_meet_without_a_gap() {
        let edge = LOW as i32;
        for fd in [edge - 1, edge] {
            set(fd, FdState::Pending);
            assert_eq!(get(fd), FdState::Pending, "fd {fd}");
        }
        forget_range((edge - 1) as u32, edge as u32);
        assert_eq!(get(edge - 1), FdState::Unknown);
        assert_eq!(get(edge), FdState::Unknown);
    }

    #[test]
    fn negative_descriptors_are_ignored() {
        set(-1, FdState::Configured);
        assert_eq!(get(-1), FdState::Unknown);
        assert_eq!(get(i32::MIN), FdState::Unknown);
    }

    #[test]
    fn forgetting_an_unmapped_chunk_maps_nothing() {
        let fd = 5 << CHUNK_BITS;
        set(fd, FdState::Unknown);
        assert!(chunk_base(5).is_null());
    }

    #[test]
    fn a_chunk_that_cannot_be_mapped_leaves_errno_alone() {
        // In a child process: the address-space limit would break the other tests' threads.
        // SAFETY: the child only calls async-signal-safe functions, then _exit.
        unsafe {
            let pid = libc::fork();
            if pid == 0 {
                let limit = libc::rlimit {
                    rlim_cur: 1 << 20,
                    rlim_max: libc::RLIM_INFINITY,
                };
                libc::setrlimit(libc::RLIMIT_AS, &limit);
                crate::sys::errno::set(4242);
                let fd = 77 << CHUNK_BITS;
                set(fd, FdState::Configured); // mmap fails: nothing recorded
                let code = if crate::sys::errno::get() != 4242 {
                    1
                } else if get(fd) != FdState::Unknown {
                    2
                } else {
                    0
                };
                libc::_exit(code);
            }
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
            assert!(libc::WIFEXITED(status), "child status {status}");
            assert_eq!(
                libc::WEXITSTATUS(status),
                0,
                "1 = errno changed, 2 = recorded"
            );
        }
    }

    #[test]
    fn retain_drops_only_the_records_it_is_told_to() {
        let base = 15 << CHUNK_BITS;
        for fd in base..base + 4 {
            set(fd, FdState::Configured);
        }
        retain(|fd| !(base + 1..base + 3).contains(&fd));
        let got: Vec<_> = (base..base + 4).map(get).collect();
        use FdState::*;
        assert_eq!(got, [Configured, Unknown, Unknown, Configured]);
    }

    #[test]
    fn concurrent_first_use_of_a_chunk_keeps_every_write() {
        let base = 9 << CHUNK_BITS;
        let threads: Vec<_> = (0..8)
            .map(|t| std::thread::spawn(move || set(base + t, FdState::Configured)))
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        for t in 0..8 {
            assert_eq!(get(base + t), FdState::Configured);
        }
    }

    #[test]
    fn forget_range_clears_only_the_range() {
        let base = 11 << CHUNK_BITS;
        for fd in base - 2..base + 3 {
            set(fd, FdState::Configured);
        }
        forget_range((base - 1) as u32, (base + 1) as u32);
        let got: Vec<_> = (base - 2..base + 3).map(get).collect();
        use FdState::*;
        assert_eq!(got, [Configured, Unknown, Unknown, Unknown, Configured]);
        // Up to the largest number, through chunks never mapped: nothing is mapped on the way.
        forget_range((base - 2) as u32, u32::MAX);
        assert_eq!(get(base - 2), Unknown);
        assert_eq!(get(base + 2), Unknown);
        assert!(chunk_base(12).is_null());
    }
}
