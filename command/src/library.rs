//! Where libkashim.so is: `--lib PATH`, else `<prefix>/lib/libkashim.so` beside an installed
//! `<prefix>/bin/kashim`, else `libkashim.so` beside the binary (a checkout's `target/release/`,
//! where cargo puts both). Also: is kashim already loaded system-wide through /etc/ld.so.preload?

use crate::elf;
use crate::error::{Error, Result, EXIT_KASHIM};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "libkashim.so";
pub const SYSTEM_PRELOAD: &str = "/etc/ld.so.preload";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Given with `--lib`.
    Option,
    /// `<prefix>/lib/libkashim.so` beside `<prefix>/bin/kashim`.
    Installed,
    /// Beside the binary in a build directory: this machine's build.
    Build,
}

#[derive(Debug)]
pub struct Library {
    pub path: PathBuf,
    pub origin: Origin,
}

/// LD_PRELOAD splits its list on spaces and colons, so such a path cannot be named in it.
pub fn unsafe_in_preload(path: &OsStr) -> bool {
    path.as_bytes()
        .iter()
        .any(|b| *b == b':' || b.is_ascii_whitespace())
}

fn shown(path: &OsStr) -> String {
    kashim_config::escape(path.as_bytes())
}

/// The library a run preloads: it must exist here and be libkashim.so.
pub fn for_run(opt: Option<&Path>) -> Result<Library> {
    let lib = match opt {
        Some(given) => {
            let path = given_path(given)?;
            if !std::fs::metadata(&path).is_ok_and(|m| m.is_file())
                || std::fs::File::open(&path).is_err()
            {
                return Err(Error::usage(format!(
                    "--lib \"{}\": no such readable file (the path of {FILE_NAME} is expected)",
                    shown(given.as_os_str())
                )));
            }
            Library {
                path: absolute(&path),
                origin: Origin::Option,
            }
        }
        None => default()?,
    };
    verify(&lib)?;
    Ok(lib)
}

/// The library `--print-env` names: with `--lib` it is meant for another machine or image, so it
/// only has to be an absolute path; it is checked when it exists here.
pub fn for_print(opt: Option<&Path>) -> Result<Library> {
    let lib = match opt {
        Some(given) => {
            let path = given_path(given)?;
            if !path.is_absolute() {
                return Err(Error::usage(format!(
                    "--lib \"{}\" must be an absolute path with --print-env",
                    shown(given.as_os_str())
                )));
            }
            Library {
                path,
                origin: Origin::Option,
            }
        }
        None => default()?,
    };
    if lib.origin != Origin::Option || lib.path.exists() {
        verify(&lib)?;
    }
    Ok(lib)
}

fn given_path(given: &Path) -> Result<PathBuf> {
    if unsafe_in_preload(given.as_os_str()) {
        return Err(Error::usage(format!(
            "--lib \"{}\": the path contains a space or colon, and LD_PRELOAD splits on those \
             (move or link the library to a plain path)",
            shown(given.as_os_str())
        )));
    }
    Ok(given.to_path_buf())
}

/// An absolute path with the directory's symlinks resolved and the file name kept.
fn absolute(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or(OsStr::new(FILE_NAME));
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match std::fs::canonicalize(&dir) {
        Ok(dir) => dir.join(name),
        Err(_) => std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
    }
}

/// The directory of this kashim binary, symlinks resolved.
fn exe_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.parent().map(Path::to_path_buf)
}

fn default() -> Result<Library> {
    let dir = exe_dir().ok_or_else(|| {
        Error::new(
            EXIT_KASHIM,
            format!("cannot tell where this kashim is installed; pass --lib PATH to {FILE_NAME}"),
        )
    })?;
    let installed = dir
        .parent()
        .map(|prefix| prefix.join("lib").join(FILE_NAME));
    let build = dir.join(FILE_NAME);
    let lib = match installed {
        Some(path) if path.is_file() => Library {
            path,
            origin: Origin::Installed,
        },
        _ if build.is_file() => Library {
            path: build,
            origin: Origin::Build,
        },
        installed => {
            let mut looked = Vec::new();
            if let Some(p) = installed {
                looked.push(p.display().to_string());
            }
            looked.push(build.display().to_string());
            return Err(Error::new(
                EXIT_KASHIM,
                format!(
                    "cannot find {FILE_NAME} (looked for {}); pass --lib PATH",
                    looked.join(" and ")
                ),
            ));
        }
    };
    if unsafe_in_preload(lib.path.as_os_str()) {
        return Err(Error::new(
            EXIT_KASHIM,
            format!(
                "{}: the path contains a space or colon, and LD_PRELOAD splits on those \
                 (move or link the library to a plain path, or pass --lib PATH)",
                lib.path.display()
            ),
        ));
    }
    Ok(lib)
}

fn verify(lib: &Library) -> Result<()> {
    elf::check_kashim_library(&lib.path).map_err(|why| {
        let hint = match lib.origin {
            Origin::Build => " (rebuild it: cargo build --release)",
            _ => "",
        };
        Error::new(
            EXIT_KASHIM,
            format!("{} {}{hint}", lib.path.display(), why.why()),
        )
    })
}

/// The entries of an LD_PRELOAD-style list (spaces and colons separate them).
pub fn preload_entries(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|b| *b == b':' || b.is_ascii_whitespace())
        .filter(|e| !e.is_empty())
}

/// The libkashim.so that /etc/ld.so.preload loads into every dynamic program, if any: named so,
/// or carrying kashim's marker. Only existing files count (ld.so skips missing ones).
pub fn system_wide() -> Option<PathBuf> {
    system_wide_in(Path::new(SYSTEM_PRELOAD))
}

pub fn system_wide_in(preload: &Path) -> Option<PathBuf> {
    let text = std::fs::read(preload).ok()?;
    // ld.so splits the file on white space and colons, as it does LD_PRELOAD.
    let found = preload_entries(&text)
        .map(|e| PathBuf::from(OsString::from(OsStr::from_bytes(e))))
        .find(|p| {
            p.is_file()
                && (p.file_name() == Some(OsStr::new(FILE_NAME))
                    || elf::check_kashim_library(p).is_ok())
        });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preload_lists_split_on_spaces_and_colons() {
        let got: Vec<&[u8]> = preload_entries(b" /a.so:/b.so  /c.so::").collect();
        assert_eq!(got, vec![&b"/a.so"[..], b"/b.so", b"/c.so"]);
        assert!(unsafe_in_preload(OsStr::new("/a b/libkashim.so")));
        assert!(unsafe_in_preload(OsStr::new("/a:b/libkashim.so")));
        assert!(!unsafe_in_preload(OsStr::new("/usr/lib/libkashim.so")));
    }

    #[test]
    fn system_wide_finds_a_named_existing_library() {
        let dir = std::env::temp_dir().join(format!("kashim-sw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let lib = dir.join(FILE_NAME);
        std::fs::write(&lib, b"not elf, but named so").unwrap();
        let preload = dir.join("ld.so.preload");
        std::fs::write(
            &preload,
            format!(
                "/nonexistent/libkashim.so /lib/none.so\n{}:/x.so\n",
                lib.display()
            ),
        )
        .unwrap();
        assert_eq!(system_wide_in(&preload), Some(lib.clone()));
        std::fs::write(&preload, "/nonexistent/libkashim.so\n").unwrap();
        assert_eq!(system_wide_in(&preload), None);
        assert_eq!(system_wide_in(&dir.join("missing")), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
