use super::*;

#[test]
fn every_row_is_named_after_its_function() {
    assert_eq!(NAMES.len(), COUNT);
    assert_eq!(NAMES[Hook::socket as usize], c"socket");
    assert_eq!(NAMES[Hook::dlmopen as usize], c"dlmopen");
    let mut sorted = NAMES.to_vec();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), COUNT, "a name appears twice");
}

#[test]
fn a_name_nothing_defines_is_missing_and_never_searched_again() {
    let slot = AtomicUsize::new(UNRESOLVED);
    assert_eq!(resolve_one(&slot, c"kashim_no_such_function"), MISSING);
    assert_eq!(slot.load(Ordering::Relaxed), MISSING);
}

#[test]
fn next_pointers_are_libcs_functions() {
    resolve_all();
    let dup = next::dup();
    let copy = unsafe { dup(1) };
    assert!(copy > 2);
    assert_eq!(unsafe { next::close()(copy) }, 0);
    let libc_dup = unsafe { libc::dlsym(libc::RTLD_NEXT, c"dup".as_ptr()) } as usize;
    assert_eq!(resolved(Hook::dup as usize), libc_dup);
}

#[test]
fn detours_run_with_the_stand_ins_as_their_real_functions() {
    // The stand-ins make the same system calls as libc's: a detour needs no interposing to run.
    let fd = unsafe { socket::socket(fallback::socket, libc::AF_INET, libc::SOCK_STREAM, 0) };
    assert!(fd >= 0);
    let mut on: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as socklen_t;
    unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_KEEPALIVE,
            (&mut on as *mut c_int).cast(),
            &mut len,
        )
    };
    assert_eq!(on, 1, "a TCP socket made through the detour has keepalive");
    assert_eq!(unsafe { close::close(fallback::close, fd) }, 0);
}
