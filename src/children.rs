//! KASHIM_CHILDREN=0: only the process kashim starts gets keepalive. At start, from the
//! constructor, the library takes itself out of LD_PRELOAD and removes every KASHIM_* variable,
//! so whatever the program later runs (exec, posix_spawn, system) inherits an environment without
//! kashim. Other preloaded libraries stay. Doing it once at start, before main() and before any
//! thread of the program exists, is what makes it safe: changing the environment at exec time in
//! a multi-threaded program would race with its other threads' getenv.
//! The program itself then no longer sees those variables either (documented in docs/scope.md).

// The hooks that call some of these are compiled out of `cargo test`.
#![cfg_attr(test, allow(dead_code))]

use crate::config::{Config, PREFIX};
use std::ffi::{CStr, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// LD_PRELOAD without the entries naming this library (same file name), or `None` if it names
/// none. glibc splits the list on spaces and colons; the rest is joined with the list's first
/// separator, which glibc reads the same way.
pub fn without_library(preload: &[u8], own_file_name: &[u8]) -> Option<Vec<u8>> {
    let is_separator = |b: &u8| *b == b' ' || *b == b':';
    let entries = preload.split(is_separator).filter(|e| !e.is_empty());
    let is_own = |e: &&[u8]| file_name(e) == own_file_name;
    if !entries.clone().any(|e| is_own(&e)) {
        return None;
    }
    let separator = preload.iter().copied().find(is_separator).unwrap_or(b':');
    let kept: Vec<&[u8]> = entries.filter(|e| !is_own(e)).collect();
    Some(kept.join(&separator))
}

fn file_name(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or(path)
}

/// The file name this library was loaded from (dladdr on one of its own functions).
fn own_file_name() -> Option<Vec<u8>> {
    // SAFETY: dladdr fills `info` for an address inside a loaded object; dli_fname then points to
    // a NUL-terminated string owned by the loader.
    unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        let here = own_file_name as *const libc::c_void;
        if libc::dladdr(here, &mut info) == 0 || info.dli_fname.is_null() {
            return None;
        }
        Some(file_name(CStr::from_ptr(info.dli_fname).to_bytes()).to_vec())
    }
}

/// Called once from the constructor, after the configuration was read.
#[link_section = ".text.kashim_startup"]
pub fn leave_children_alone(config: &Config) {
    if config.children {
        return;
    }
    if let (Some(own), Some(preload)) = (own_file_name(), std::env::var_os("LD_PRELOAD")) {
        match without_library(preload.as_bytes(), &own) {
            None => {}
            Some(rest) if rest.is_empty() => std::env::remove_var("LD_PRELOAD"),
            Some(rest) => std::env::set_var("LD_PRELOAD", OsString::from_vec(rest)),
        }
    }
    let ours: Vec<OsString> = std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| name.as_bytes().starts_with(PREFIX.as_bytes()))
        .collect();
    for name in ours {
        std::env::remove_var(OsStr::new(&name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_library_leaves_the_list() {
        let own = b"libkashim.so";
        for (list, want) in [
            ("/x/libkashim.so", Some("")),
            ("libkashim.so", Some("")),
            ("/a/libother.so /x/libkashim.so", Some("/a/libother.so")),
            ("/x/libkashim.so:/a/libother.so", Some("/a/libother.so")),
            (
                "/a/one.so:/x/libkashim.so::/b/two.so ",
                Some("/a/one.so:/b/two.so"),
            ),
            ("/a/libkashim.so.bak", None),
            ("/a/libother.so", None),
            ("", None),
        ] {
            let got = without_library(list.as_bytes(), own);
            assert_eq!(got.as_deref(), want.map(str::as_bytes), "{list:?}");
        }
    }
}
