//! vfork(): the child borrows the parent's memory, kashim's descriptor table included, but has
//! descriptors of its own, so what the child closes or dup2()s before exec must not rewrite the
//! parent's table (`state::thread_marks` drops those writes).
//!
//! The entry is naked: vfork returns twice on one stack, so no frame of kashim's may be live across
//! it. It marks the thread "vfork pending, parent pid P" and jumps to libc's vfork with the stack
//! exactly as the program left it.
//!
//! Not covered: a vfork made with a raw clone(CLONE_VM | CLONE_VFORK) system call, and targets other
//! than x86_64 and aarch64. glibc's posix_spawn, system() and popen() close and dup inside the child
//! with internal calls kashim does not see, so they never touch the table.

#![cfg_attr(test, allow(dead_code))]

/// Marks the thread and returns the function to jump to. Without libc's vfork, fork stands in
/// (POSIX allows it): then no memory is shared and there is nothing to mark.
extern "C" fn before_vfork() -> usize {
    let real = super::next::vfork();
    if real as usize != crate::sys::fallback::fork as *const () as usize {
        crate::state::thread_marks::mark_vfork();
    }
    real as usize
}

/// # Safety
/// As vfork(2).
#[cfg(all(not(test), target_arch = "x86_64"))]
#[unsafe(naked)]
#[no_mangle]
pub unsafe extern "C" fn vfork() -> libc::pid_t {
    // Entry: rsp = return address. Realign for the call, call, undo, then jump with the program's
    // return address back on top, as if the program had called libc directly.
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
#[cfg(all(not(test), target_arch = "aarch64"))]
#[unsafe(naked)]
#[no_mangle]
pub unsafe extern "C" fn vfork() -> libc::pid_t {
    // Save the link register around the call, restore it, then branch (x16: a BTI "bti c" landing
    // pad accepts it) so libc's vfork returns straight to the program.
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

/// Elsewhere (and in unit tests) vfork is not interposed: the table row only names it.
#[cfg(any(test, not(any(target_arch = "x86_64", target_arch = "aarch64"))))]
pub unsafe extern "C" fn vfork() -> libc::pid_t {
    crate::sys::fallback::fork()
}
