//! KASHIM_CHILDREN=0: only the process kashim starts gets keepalive. At start, from the
//! constructor, the library takes itself out of LD_PRELOAD and removes every KASHIM_* variable,
//! so whatever the program later runs (exec, posix_spawn, system) inherits an environment without
//! kashim. Other preloaded libraries stay. Doing it once at start, before main() and before any
//! thread of the program exists, is what makes it safe: changing the environment at exec time in
//! a multi-threaded program would race with its other threads' getenv.
//! The program itself then no longer sees those variables either (documented in docs/scope.md).
//! A kashim dlopen()ed into a program that already runs threads leaves the environment alone and
//! says so: there, setenv would race with those threads' getenv.

// The hooks that call some of these are compiled out of `cargo test`.
#![cfg_attr(test, allow(dead_code))]

use crate::config::{Config, LogLevel, PREFIX};
use std::ffi::{OsStr, OsString};
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

/// The file name this library was loaded from.
fn own_file_name() -> Option<Vec<u8>> {
    let own = crate::sys::resolve::own_path()?;
    Some(file_name(own.to_bytes()).to_vec())
}

/// How many threads the process runs, from /proc (`None` if it cannot be read).
fn threads() -> Option<u32> {
    let mut status = [0u8; 4096];
    // SAFETY: a read-only open of a NUL-terminated path, a read into a live buffer, a close.
    let len = unsafe {
        let fd = libc::open(
            c"/proc/self/status".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return None;
        }
        let len = libc::read(fd, status.as_mut_ptr().cast(), status.len());
        crate::hooks::next::close()(fd);
        usize::try_from(len).ok()?
    };
    let text = std::str::from_utf8(&status[..len]).ok()?;
    let line = text.lines().find(|l| l.starts_with("Threads:"))?;
    line["Threads:".len()..].trim().parse().ok()
}

/// Called once from the constructor, after the configuration was read.
pub fn leave_children_alone(config: &Config) {
    if config.children {
        return;
    }
    if threads().is_some_and(|n| n > 1) {
        crate::sys::logger::log(
            config.log,
            LogLevel::Warn,
            format_args!("KASHIM_CHILDREN=0 has no effect here: kashim was loaded into a program that already runs threads, whose environment it must not change"),
        );
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
