use super::*;

/// The test binary stands in for kashim: what the resolver finds after it must be exactly what
/// dlsym(RTLD_NEXT) from the test binary returns, for every hooked name (fcntl and dlopen have
/// several versions in glibc, freopen64 and fcntl64 are aliases), and names nobody defines are
/// found nowhere.
#[test]
fn next_definitions_agree_with_dlsym_next() {
    let mut names: Vec<&CStr> = crate::hooks::NAMES.to_vec();
    names.extend([c"getpid", c"environ", c"dlinfo", c"kashim_no_such_function"]);
    let mut found = vec![0; names.len()];
    next_definitions(&names, &mut found);
    for (name, found) in names.iter().zip(&found) {
        let dlsym = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) } as usize;
        assert_eq!(*found, dlsym, "{name:?}");
    }
    assert_eq!(next_definition(c"socket"), found[0]);
}

#[test]
fn global_definitions_agree_with_dlsym_default() {
    let names = [c"socket", c"connect", c"malloc", c"kashim_no_such_function"];
    let mut found = [0; 4];
    global_definitions(&names, &mut found);
    for (name, found) in names.iter().zip(found) {
        let dlsym = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) } as usize;
        assert_eq!(found, dlsym, "{name:?}");
    }
}

#[test]
fn the_object_holding_an_address_is_named() {
    let libc_socket = next_definition(c"socket");
    let path = object_path(libc_socket).expect("libc is loaded");
    assert!(
        String::from_utf8_lossy(&path).contains("libc.so"),
        "{path:?}"
    );
    assert!(own_path().is_some());
}

#[test]
fn a_load_adds_an_object() {
    let before = load_count();
    // libm is not linked into the test binary; RTLD_NOLOAD first tells whether it is loaded.
    let handle = unsafe { libc::dlopen(c"libm.so.6".as_ptr(), libc::RTLD_NOW) };
    assert!(!handle.is_null());
    let after = load_count();
    assert!(after.objects >= before.objects);
    unsafe { libc::dlclose(handle) };
}

#[test]
fn the_recorded_search_order_finds_what_dlsym_next_finds() {
    assert!(record_search_order());
    let mut names: Vec<&CStr> = crate::hooks::NAMES.to_vec();
    names.extend([c"getpid", c"environ", c"dlinfo", c"kashim_no_such_function"]);
    for name in names {
        let dlsym = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) } as usize;
        assert_eq!(recorded_next_definition(name), Some(dlsym), "{name:?}");
    }
}
