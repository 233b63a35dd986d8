//! System calls made without libc's wrappers, for the constructor's path only: every process kashim
//! is preloaded into runs it, and calling a libc wrapper there faults one more page of libc's code
//! into the process (about 3 µs each on the machines measured, docs/performance.md). The result is
//! the kernel's: a negative value is -errno, and errno is left alone.

use libc::c_long;

/// A system call with three arguments, made directly.
///
/// # Safety
/// As the system call `number` with these arguments.
#[cfg(target_arch = "x86_64")]
pub unsafe fn syscall3(number: c_long, a: c_long, b: c_long, c: c_long) -> c_long {
    let result;
    // SAFETY: the x86_64 Linux system call convention; rcx and r11 are clobbered by `syscall`.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") number => result,
            in("rdi") a,
            in("rsi") b,
            in("rdx") c,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    result
}

/// A system call with three arguments, made directly.
///
/// # Safety
/// As the system call `number` with these arguments.
#[cfg(target_arch = "aarch64")]
pub unsafe fn syscall3(number: c_long, a: c_long, b: c_long, c: c_long) -> c_long {
    let result;
    // SAFETY: the aarch64 Linux system call convention (number in x8, result in x0).
    unsafe {
        core::arch::asm!(
            "svc 0",
            in("x8") number,
            inlateout("x0") a => result,
            in("x1") b,
            in("x2") c,
            options(nostack),
        );
    }
    result
}

/// A system call with three arguments, through libc where no direct form is written.
///
/// # Safety
/// As the system call `number` with these arguments.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub unsafe fn syscall3(number: c_long, a: c_long, b: c_long, c: c_long) -> c_long {
    let _errno = crate::sys::errno::ErrnoGuard::save();
    // SAFETY: as the caller's.
    match unsafe { libc::syscall(number, a, b, c) } {
        -1 => -c_long::from(crate::sys::errno::get()),
        result => result,
    }
}
