//! dlopen() and dlmopen(): naked entries that ask `target` where the call goes and jump there with
//! the program's arguments and return address untouched. Every ordinary call goes straight to
//! libc's function as a tail call, so the caller libc sees (it picks the namespace, DT_RPATH,
//! DT_RUNPATH and $ORIGIN from it) is still the program's. An RTLD_DEEPBIND load by path goes to
//! `act::deepbind`, which loads, then points the new objects' calls of hooked functions at kashim.

#![cfg_attr(test, allow(dead_code))]

use crate::act::deepbind;
use crate::decide::deepbind::{route, Route, LM_ID_BASE, RTLD_DEEPBIND};
use crate::state::config::active_config;
use crate::sys::guard::guarded;
use libc::{c_char, c_int, c_long, c_void};
use std::ffi::CStr;

fn name<'a>(file: *const c_char) -> Option<&'a [u8]> {
    // SAFETY: dlopen's argument is a NUL-terminated string or null.
    (!file.is_null()).then(|| unsafe { CStr::from_ptr(file) }.to_bytes())
}

/// # Safety
/// As dlopen(3).
#[cfg(all(not(test), target_arch = "x86_64"))]
#[unsafe(naked)]
#[no_mangle]
pub unsafe extern "C" fn dlopen(file: *const c_char, mode: c_int) -> *mut c_void {
    core::arch::naked_asm!(
        "endbr64",
        "push rdi",
        "push rsi",
        "sub rsp, 8", // 16-byte alignment at the call
        "call {target}",
        "add rsp, 8",
        "pop rsi",
        "pop rdi",
        "jmp rax",
        target = sym dlopen_target,
    )
}

/// # Safety
/// As dlmopen(3).
#[cfg(all(not(test), target_arch = "x86_64"))]
#[unsafe(naked)]
#[no_mangle]
pub unsafe extern "C" fn dlmopen(
    namespace: c_long,
    file: *const c_char,
    mode: c_int,
) -> *mut c_void {
    core::arch::naked_asm!(
        "endbr64",
        "push rdi",
        "push rsi",
        "push rdx",
        "call {target}",
        "pop rdx",
        "pop rsi",
        "pop rdi",
        "jmp rax",
        target = sym dlmopen_target,
    )
}

/// Elsewhere (and in unit tests) dlopen is not interposed: the table row only names it
/// (docs/ld-preload-gaps.md).
#[cfg(any(test, not(target_arch = "x86_64")))]
pub unsafe extern "C" fn dlopen(file: *const c_char, mode: c_int) -> *mut c_void {
    super::next::dlopen()(file, mode)
}

#[cfg(any(test, not(target_arch = "x86_64")))]
pub unsafe extern "C" fn dlmopen(
    namespace: c_long,
    file: *const c_char,
    mode: c_int,
) -> *mut c_void {
    super::next::dlmopen()(namespace, file, mode)
}

/// Where dlopen(file, mode) goes. Never unwinds (it is called from assembly).
extern "C" fn dlopen_target(file: *const c_char, mode: c_int) -> usize {
    let real = super::next::dlopen() as usize;
    if mode & RTLD_DEEPBIND == 0 {
        return real; // every ordinary dlopen: nothing else is looked at
    }
    guarded(real, || {
        target(
            LM_ID_BASE,
            file,
            mode,
            real,
            deepbind_dlopen as *const () as usize,
        )
    })
}

extern "C" fn dlmopen_target(namespace: c_long, file: *const c_char, mode: c_int) -> usize {
    let real = super::next::dlmopen() as usize;
    if namespace == LM_ID_BASE && mode & RTLD_DEEPBIND == 0 {
        return real;
    }
    guarded(real, || {
        target(
            namespace,
            file,
            mode,
            real,
            deepbind_dlmopen as *const () as usize,
        )
    })
}

fn target(
    namespace: c_long,
    file: *const c_char,
    mode: c_int,
    real: usize,
    patching: usize,
) -> usize {
    if active_config().is_none() {
        return real;
    }
    let _errno = crate::sys::errno::ErrnoGuard::save();
    match route(namespace, name(file), mode) {
        Route::PassThrough => real,
        Route::Patch => patching,
        Route::DeepbindByName => {
            deepbind::not_reached(
                name(file).unwrap_or_default(),
                "opened with RTLD_DEEPBIND by name (the caller's search path decides which file)",
            );
            real
        }
        Route::OtherNamespace => {
            deepbind::not_reached(
                name(file).unwrap_or_default(),
                "loaded into another link-map namespace by dlmopen (with its own libc)",
            );
            real
        }
    }
}

unsafe extern "C" fn deepbind_dlopen(file: *const c_char, mode: c_int) -> *mut c_void {
    let real = super::next::dlopen();
    deepbind::load_and_patch(name(file), || real(file, mode))
}

unsafe extern "C" fn deepbind_dlmopen(
    namespace: c_long,
    file: *const c_char,
    mode: c_int,
) -> *mut c_void {
    let real = super::next::dlmopen();
    deepbind::load_and_patch(name(file), || real(namespace, file, mode))
}
