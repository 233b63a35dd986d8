//! The functions kashim interposes on, as the program would have called them: the next definition
//! after kashim (libc's), found once (eagerly from the constructor, so no hook has to call dlsym,
//! which is not async-signal-safe) and kept in an atomic pointer. The constructor finds them all in
//! one pass over the loaded objects' symbol tables (`scan`), asking `dlsym(RTLD_NEXT)` only for
//! what that pass cannot settle.
//!
//! If dlsym ever finds nothing, the hook must still not abort the program (a panic cannot leave an
//! `extern "C"` function): each function has a fallback that does the same system call directly,
//! or fails with ENOSYS where there is none (stdio).

// The hooks that call these are compiled out of `cargo test`.
#![cfg_attr(test, allow(dead_code))]

use crate::errno::ErrnoGuard;
use libc::{c_int, c_long, c_void, socklen_t};
use std::ffi::CStr;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

mod scan;

/// What one pass over the loaded objects found for each of deepbind::HOOKED (0: not found there;
/// dlsym is asked). Filled by `find_all` from the constructor, before any `resolve`.
static FOUND: [AtomicUsize; HOOKED.len()] = [const { AtomicUsize::new(0) }; HOOKED.len()];
use crate::deepbind::HOOKED;

/// Looks up every hooked function's next definition at once (see `scan`): from the constructor,
/// so that the `resolve` calls that follow need no dlsym.
#[link_section = ".text.kashim_startup"]
pub fn find_all() {
    let mut found = [scan::Found::Nothing; HOOKED.len()];
    scan::next_definitions(find_all as fn() as usize, &HOOKED, &mut found);
    for (slot, found) in FOUND.iter().zip(found) {
        if let scan::Found::At(address) = found {
            slot.store(address, Ordering::Release);
        }
    }
}

/// dlsym(RTLD_NEXT, name): from the table `find_all` filled when it has the name, else dlsym.
#[cold]
#[link_section = ".text.kashim_startup"]
pub fn next_definition(name: &CStr) -> *mut c_void {
    if let Some(i) = HOOKED.iter().position(|hooked| *hooked == name) {
        let address = FOUND[i].load(Ordering::Acquire);
        if address != 0 {
            return address as *mut c_void;
        }
    }
    let _errno = ErrnoGuard::save();
    // SAFETY: `name` is a NUL-terminated string; RTLD_NEXT is valid from a shared object.
    unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) }
}

/// The next definition of one function, of type `F` (an `unsafe extern "C" fn`).
pub struct Next<F> {
    name: &'static CStr,
    address: AtomicPtr<c_void>,
    kind: PhantomData<F>,
}

impl<F: Copy> Next<F> {
    pub const fn new(name: &'static CStr) -> Self {
        assert!(std::mem::size_of::<F>() == std::mem::size_of::<*mut c_void>());
        Next {
            name,
            address: AtomicPtr::new(std::ptr::null_mut()),
            kind: PhantomData,
        }
    }

    /// The next definition, or `fallback` if there is none.
    #[inline]
    pub fn or(&self, fallback: F) -> F {
        let mut address = self.address.load(Ordering::Acquire);
        if address.is_null() {
            address = self.resolve();
            if address.is_null() {
                return fallback;
            }
        }
        // SAFETY: `address` is dlsym's answer for `name`, whose C type is F (checked by the
        // declarations below, which copy libc's prototypes); F is pointer-sized (asserted in new).
        unsafe { std::mem::transmute_copy::<*mut c_void, F>(&address) }
    }

    /// Looks the function up now (from the constructor); null if nothing after kashim defines it.
    #[cold]
    #[link_section = ".text.kashim_startup"]
    pub fn resolve(&self) -> *mut c_void {
        let address = next_definition(self.name);
        if !address.is_null() {
            self.address.store(address, Ordering::Release);
        }
        address
    }
}

// SAFETY: Next holds only an atomic pointer; F is a marker for the type of function it points to.
unsafe impl<F> Sync for Next<F> {}

pub type SocketFn = unsafe extern "C" fn(c_int, c_int, c_int) -> c_int;
pub type ConnectFn = unsafe extern "C" fn(c_int, *const libc::sockaddr, socklen_t) -> c_int;
pub type AcceptFn = unsafe extern "C" fn(c_int, *mut libc::sockaddr, *mut socklen_t) -> c_int;
pub type Accept4Fn =
    unsafe extern "C" fn(c_int, *mut libc::sockaddr, *mut socklen_t, c_int) -> c_int;
pub type SetsockoptFn =
    unsafe extern "C" fn(c_int, c_int, c_int, *const c_void, socklen_t) -> c_int;
pub type CloseFn = unsafe extern "C" fn(c_int) -> c_int;
pub type DupFn = unsafe extern "C" fn(c_int) -> c_int;
pub type Dup2Fn = unsafe extern "C" fn(c_int, c_int) -> c_int;
pub type Dup3Fn = unsafe extern "C" fn(c_int, c_int, c_int) -> c_int;
/// fcntl is variadic; its third argument, when there is one, is an int or a pointer. On x86_64
/// and aarch64 (Linux) a variadic integer or pointer travels in the same register as a fixed one,
/// so a pointer-sized value carries either unchanged (an int's upper bits are never read: libc's
/// fcntl takes its argument back out with va_arg as the type the command needs).
pub type FcntlFn = unsafe extern "C" fn(c_int, c_int, c_long) -> c_int;
pub type FcloseFn = unsafe extern "C" fn(*mut libc::FILE) -> c_int;
pub type FreopenFn = unsafe extern "C" fn(
    *const libc::c_char,
    *const libc::c_char,
    *mut libc::FILE,
) -> *mut libc::FILE;

/// Stand-ins used only if dlsym finds no next definition: the same system call, made directly.
pub mod fallback {
    use super::*;

    fn int(rc: c_long) -> c_int {
        rc as c_int
    }

    pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
        int(libc::syscall(libc::SYS_socket, domain, ty, protocol))
    }
    pub unsafe extern "C" fn connect(
        fd: c_int,
        address: *const libc::sockaddr,
        len: socklen_t,
    ) -> c_int {
        int(libc::syscall(libc::SYS_connect, fd, address, len))
    }
    pub unsafe extern "C" fn accept(
        fd: c_int,
        address: *mut libc::sockaddr,
        len: *mut socklen_t,
    ) -> c_int {
        accept4(fd, address, len, 0)
    }
    pub unsafe extern "C" fn accept4(
        fd: c_int,
        address: *mut libc::sockaddr,
        len: *mut socklen_t,
        flags: c_int,
    ) -> c_int {
        int(libc::syscall(libc::SYS_accept4, fd, address, len, flags))
    }
    pub unsafe extern "C" fn setsockopt(
        fd: c_int,
        level: c_int,
        name: c_int,
        value: *const c_void,
        len: socklen_t,
    ) -> c_int {
        int(libc::syscall(
            libc::SYS_setsockopt,
            fd,
            level,
            name,
            value,
            len,
        ))
    }
    pub unsafe extern "C" fn close(fd: c_int) -> c_int {
        int(libc::syscall(libc::SYS_close, fd))
    }
    pub unsafe extern "C" fn dup(fd: c_int) -> c_int {
        int(libc::syscall(libc::SYS_dup, fd))
    }
    /// dup2 is dup3 except that equal numbers are allowed (aarch64 has no dup2 system call).
    pub unsafe extern "C" fn dup2(old_fd: c_int, new_fd: c_int) -> c_int {
        if old_fd == new_fd {
            return if fcntl(old_fd, libc::F_GETFD, 0) < 0 {
                -1
            } else {
                old_fd
            };
        }
        dup3(old_fd, new_fd, 0)
    }
    pub unsafe extern "C" fn dup3(old_fd: c_int, new_fd: c_int, flags: c_int) -> c_int {
        int(libc::syscall(libc::SYS_dup3, old_fd, new_fd, flags))
    }
    pub unsafe extern "C" fn fcntl(fd: c_int, command: c_int, argument: c_long) -> c_int {
        int(libc::syscall(libc::SYS_fcntl, fd, command, argument))
    }
    pub unsafe extern "C" fn fclose(_stream: *mut libc::FILE) -> c_int {
        crate::errno::set(libc::ENOSYS);
        libc::EOF
    }
    pub unsafe extern "C" fn freopen(
        _path: *const libc::c_char,
        _mode: *const libc::c_char,
        _stream: *mut libc::FILE,
    ) -> *mut libc::FILE {
        crate::errno::set(libc::ENOSYS);
        std::ptr::null_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_function_nothing_defines_falls_back() {
        static MISSING: Next<DupFn> = Next::new(c"kashim_no_such_function");
        assert!(MISSING.resolve().is_null());
        let dup = MISSING.or(fallback::dup);
        let copy = unsafe { dup(1) };
        assert!(copy > 2);
        unsafe { libc::close(copy) };
    }

    #[test]
    fn libc_functions_are_found() {
        static DUP: Next<DupFn> = Next::new(c"dup");
        assert!(!DUP.resolve().is_null());
    }

    #[test]
    fn dup2_fallback_on_equal_numbers() {
        assert_eq!(unsafe { fallback::dup2(1, 1) }, 1);
        assert_eq!(unsafe { fallback::dup2(-1, -1) }, -1);
    }
}
