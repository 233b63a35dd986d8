//! Plumbing: finding definitions in loaded objects, reading ELF, system calls made directly,
//! kashim's own memory, errno, the panic guard and the logger. Nothing here knows about keepalive.

pub mod elf;
pub mod errno;
pub mod fallback;
pub mod guard;
#[cfg(not(test))]
mod libc_only;
pub mod logger;
pub mod mapping;
pub mod raw_syscall;
pub mod resolve;

/// The page size (for mprotect), from the auxiliary vector: no system call.
pub fn page_size() -> usize {
    // SAFETY: getauxval has no preconditions.
    match unsafe { libc::getauxval(libc::AT_PAGESZ) } as usize {
        size if size.is_power_of_two() => size,
        _ => 4096,
    }
}
