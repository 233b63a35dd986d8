//! `kashim [options] [--] COMMAND [ARGS...]`: exec COMMAND with libkashim.so preloaded.
//!
//! Nothing is started to check anything: the settings are judged by the shared rules, the library
//! by its ELF symbols, the program by its ELF headers and file attributes. Then kashim execs
//! COMMAND (same process id), so its exit status and signals are COMMAND's own.

use crate::cli::Invocation;
use crate::elf;
use crate::error::{Error, Result, EXIT_CANNOT_RUN, EXIT_NOT_FOUND};
use crate::library::{self, Library};
use crate::reach;
use crate::settings::{self, Settings};
use kashim_config::{LogLevel, PREFIX};
use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What the run adds to the environment's LD_PRELOAD.
#[derive(Debug, PartialEq, Eq)]
enum Preload {
    /// Add this library, unless the list names a libkashim.so already. `replace`: `--lib` was
    /// given, so the library named there takes the place of another copy in the list.
    Add { lib: PathBuf, replace: bool },
    /// /etc/ld.so.preload loads kashim into every program already: pass only the settings, so
    /// no second copy acts beside it.
    SystemWide(PathBuf),
}

pub fn main(inv: &Invocation, command: &[OsString]) -> Result<ExitCode> {
    let settings = settings::resolve(std::env::vars_os(), &inv.settings)?;
    let preload = match library::system_wide() {
        Some(system) => {
            if let Some(given) = &inv.lib {
                let given = library::for_run(Some(given))?;
                if !same_file(&given.path, &system) {
                    eprintln!(
                        "kashim: warning: {} already loads {} into every program; --lib {} is not \
                         added (two copies would both act on every socket)",
                        library::SYSTEM_PRELOAD,
                        system.display(),
                        given.path.display()
                    );
                }
            }
            Preload::SystemWide(system)
        }
        None => {
            let Library { path, .. } = library::for_run(inv.lib.as_deref())?;
            Preload::Add {
                lib: path,
                replace: inv.lib.is_some(),
            }
        }
    };
    let path = find_command(&command[0])?;
    let system_wide = matches!(preload, Preload::SystemWide(_));
    let reach = reach::judge(&path);
    let warning = reach::warning(&reach, system_wide, has_keepalive_settings(&settings));
    if let Some(line) = &warning {
        eprintln!("kashim: {line}");
    }
    // Log level info means one start line: kashim prints it here, once, instead of every process
    // of the program's tree printing its own (a shell script would print one per command).
    let info = settings.config.log == LogLevel::Info;
    if info && warning.is_none() {
        eprintln!("kashim: {}", settings.config.summary());
    }
    let env = child_env(std::env::vars_os(), &settings, &preload, info);
    Err(exec(&path, command, env))
}

/// True when the run passes KASHIM_* values that change what the library does (not just its log).
fn has_keepalive_settings(settings: &Settings) -> bool {
    settings.vars.iter().any(|(name, _)| *name != "KASHIM_LOG")
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => a == b,
    }
}

/// The environment COMMAND starts with: the caller's, with LD_PRELOAD extended once and the
/// KASHIM_* variables replaced by the resolved settings (the first of duplicated entries won).
fn child_env(
    env: impl IntoIterator<Item = (OsString, OsString)>,
    settings: &Settings,
    preload: &Preload,
    info_printed: bool,
) -> Vec<(OsString, OsString)> {
    let mut out: Vec<(OsString, OsString)> = Vec::new();
    let mut ld_preload: Option<OsString> = None;
    for (name, value) in env {
        if name == "LD_PRELOAD" {
            ld_preload.get_or_insert(value);
        } else if !name.as_bytes().starts_with(PREFIX.as_bytes()) {
            out.push((name, value));
        }
    }
    match preload {
        Preload::Add { lib, replace } => {
            let list = extend_preload(ld_preload, lib, *replace, |e| is_kashim(e, lib));
            out.push(("LD_PRELOAD".into(), list));
        }
        Preload::SystemWide(_) => {
            if let Some(v) = ld_preload {
                out.push(("LD_PRELOAD".into(), v));
            }
        }
    }
    for (name, value) in &settings.vars {
        if *name == "KASHIM_LOG" && info_printed {
            continue; // the start line is printed; the program runs at the default level, warn
        }
        out.push((OsString::from(*name), value.clone()));
    }
    out
}

/// Whether an LD_PRELOAD entry is a libkashim.so (this one, one named so, or one with the marker).
fn is_kashim(entry: &Path, lib: &Path) -> bool {
    entry == lib
        || entry.file_name() == Some(OsStr::new(library::FILE_NAME))
        || same_file(entry, lib)
        || elf::check_kashim_library(entry).is_ok()
}

/// `list` with `lib` appended, so that it names one libkashim.so: when an entry is a kashim
/// library already (`is_kashim`), that copy stays (two would both act on every socket), or with
/// `replace` is replaced by `lib` in its place.
fn extend_preload(
    list: Option<OsString>,
    lib: &Path,
    replace: bool,
    is_kashim: impl Fn(&Path) -> bool,
) -> OsString {
    let Some(list) = list.filter(|l| !l.is_empty()) else {
        return lib.as_os_str().to_owned();
    };
    let entries: Vec<&Path> = library::preload_entries(list.as_bytes())
        .map(|e| Path::new(OsStr::from_bytes(e)))
        .collect();
    let Some(at) = entries.iter().position(|e| is_kashim(e)) else {
        let mut out = list;
        out.push(":");
        out.push(lib);
        return out;
    };
    if !replace || entries[at] == lib {
        return list;
    }
    let mut out = OsString::new();
    for (i, entry) in entries.iter().enumerate() {
        if i > 0 {
            out.push(":");
        }
        out.push(if i == at { lib } else { entry });
    }
    out
}

/// The file exec will run, found as a shell finds it, or the error a shell would give.
pub(crate) fn find_command(cmd: &OsStr) -> Result<PathBuf> {
    let shown = cmd.to_string_lossy();
    let path = if cmd.as_bytes().contains(&b'/') {
        let path = PathBuf::from(cmd);
        if std::fs::metadata(&path).is_err() {
            return Err(Error::new(EXIT_NOT_FOUND, format!("{shown}: no such file")));
        }
        path
    } else {
        reach::find_in_path(cmd)
            .ok_or_else(|| Error::new(EXIT_NOT_FOUND, format!("{shown}: command not found")))?
    };
    if path.is_dir() {
        return Err(Error::new(
            EXIT_CANNOT_RUN,
            format!("{shown}: is a directory"),
        ));
    }
    if !reach::executable(&path) {
        return Err(Error::new(
            EXIT_CANNOT_RUN,
            format!("{shown}: permission denied (not executable)"),
        ));
    }
    Ok(path)
}

fn cstring(s: impl Into<Vec<u8>>) -> CString {
    // Arguments and environment strings from the OS cannot hold a NUL; a path built here neither.
    CString::new(s).unwrap_or_default()
}

/// Replaces this process with COMMAND; returns only the error when that fails.
fn exec(path: &Path, command: &[OsString], env: Vec<(OsString, OsString)>) -> Error {
    let envp: Vec<CString> = env
        .into_iter()
        .map(|(mut k, v)| {
            k.push("=");
            k.push(v);
            cstring(k.into_vec())
        })
        .collect();
    let argv: Vec<CString> = command
        .iter()
        .map(|a| cstring(a.as_bytes().to_vec()))
        .collect();
    let file = cstring(path.as_os_str().as_bytes().to_vec());
    let errno = execve(&file, &argv, &envp);
    if errno == libc::ENOEXEC {
        // Neither ELF nor #!: run it as a shell script, as execvp(3) and shells do.
        let mut sh_argv = vec![cstring("sh"), file.clone()];
        sh_argv.extend(argv.into_iter().skip(1));
        execve(&cstring("/bin/sh"), &sh_argv, &envp);
    }
    let shown = command[0].to_string_lossy();
    let why = std::io::Error::from_raw_os_error(errno);
    let hint = if errno == libc::ENOENT {
        " (is its #! interpreter missing?)"
    } else {
        ""
    };
    Error::new(
        EXIT_CANNOT_RUN,
        format!("{shown}: cannot run it: {why}{hint}"),
    )
}

fn execve(file: &CString, argv: &[CString], envp: &[CString]) -> i32 {
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut envp_p: Vec<*const libc::c_char> = envp.iter().map(|e| e.as_ptr()).collect();
    envp_p.push(std::ptr::null());
    // SAFETY: NUL-terminated strings in NULL-terminated arrays, all alive across the call.
    unsafe { libc::execve(file.as_ptr(), argv_p.as_ptr(), envp_p.as_ptr()) };
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs.iter().map(|(k, v)| (k.into(), v.into())).collect()
    }

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        settings::resolve(env(pairs), &[]).unwrap()
    }

    #[test]
    fn ld_preload_is_extended_once() {
        let lib = Path::new("/opt/k/lib/libkashim.so");
        let named = |e: &Path| e.file_name() == Some(OsStr::new("libkashim.so"));
        let ext = |list: &str, replace| extend_preload(Some(list.into()), lib, replace, named);
        assert_eq!(
            extend_preload(None, lib, false, named),
            "/opt/k/lib/libkashim.so"
        );
        assert_eq!(ext("", false), "/opt/k/lib/libkashim.so");
        assert_eq!(ext("/a.so", false), "/a.so:/opt/k/lib/libkashim.so");
        assert_eq!(
            ext("/a.so /opt/k/lib/libkashim.so", false),
            "/a.so /opt/k/lib/libkashim.so"
        );
        // Another copy stays, unless --lib names the one to use.
        assert_eq!(ext("/b/libkashim.so /a.so", false), "/b/libkashim.so /a.so");
        assert_eq!(
            ext("/b/libkashim.so /a.so", true),
            "/opt/k/lib/libkashim.so:/a.so"
        );
    }

    #[test]
    fn the_child_gets_the_resolved_settings_only() {
        let s = settings(&[("KASHIM_IDLE", "30"), ("KASHIM_LOG", "info")]);
        let got = child_env(
            env(&[
                ("PATH", "/bin"),
                ("KASHIM_IDLE", "30"),
                ("KASHIM_IDLE", "99999"),
                ("LD_PRELOAD", "/a.so"),
                ("KASHIM_LOG", "info"),
            ]),
            &s,
            &Preload::Add {
                lib: "/l/libkashim.so".into(),
                replace: false,
            },
            true,
        );
        assert_eq!(
            got,
            env(&[
                ("PATH", "/bin"),
                ("LD_PRELOAD", "/a.so:/l/libkashim.so"),
                ("KASHIM_IDLE", "30")
            ])
        );
    }

    #[test]
    fn system_wide_adds_no_second_copy() {
        let s = settings(&[("KASHIM_COUNT", "3")]);
        let got = child_env(
            env(&[("PATH", "/bin")]),
            &s,
            &Preload::SystemWide("/usr/lib/libkashim.so".into()),
            false,
        );
        assert_eq!(got, env(&[("PATH", "/bin"), ("KASHIM_COUNT", "3")]));
    }

    #[test]
    fn commands_are_found_as_a_shell_finds_them() {
        assert_eq!(
            find_command(OsStr::new("/nonexistent/x")).unwrap_err().code,
            127
        );
        assert_eq!(
            find_command(OsStr::new("no-such-command-kashim"))
                .unwrap_err()
                .code,
            127
        );
        assert_eq!(find_command(OsStr::new("/")).unwrap_err().code, 126);
        assert!(find_command(OsStr::new("sh")).is_ok());
    }
}
