//! What kashim needs to know of an ELF file before running anything, read with the `object`
//! crate from the file mapped into memory (only the pages asked for are read from disk):
//! - does an executable go through the dynamic loader (`PT_INTERP`), so LD_PRELOAD can reach it,
//!   and is it a Go program, whose runtime makes its system calls itself (LD_PRELOAD never sees
//!   its sockets, static or not)?
//! - is a file a libkashim.so this machine can load: right class and machine, the
//!   `KASHIM_LIBRARY` marker among its dynamic symbols, and no newer glibc symbol version than
//!   this machine's glibc has?

use object::elf::PT_INTERP;
use object::read::elf::{ElfFile, FileHeader, ProgramHeader as _};
use object::{Endianness, FileKind, Object, ObjectSymbol, ReadCache, ReadRef};
use std::fs::File;
use std::path::Path;

/// The symbol libkashim.so exports so that it can be recognised by reading its file (src/lib.rs).
pub const MARKER: &[u8] = b"KASHIM_LIBRARY";

#[cfg(target_arch = "x86_64")]
const OUR_MACHINE: Option<object::Architecture> = Some(object::Architecture::X86_64);
#[cfg(target_arch = "aarch64")]
const OUR_MACHINE: Option<object::Architecture> = Some(object::Architecture::Aarch64);
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const OUR_MACHINE: Option<object::Architecture> = None; // not checked here

/// What one read of an ELF file found.
struct Facts {
    is64: bool,
    little_endian: bool,
    architecture: object::Architecture,
    shared: bool,
    interp: bool,
    go: bool,
    marker: bool,
    /// The newest `GLIBC_2.N` version the file needs, as (2, N).
    glibc: Option<(u32, u32)>,
}

fn facts(path: &Path) -> Result<Option<Facts>, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    Ok(match Mapped::of(&file) {
        Some(mapped) => facts_in(mapped.bytes()),
        // Not mappable (empty, or not a regular file): read through a cache instead.
        None => facts_in(&ReadCache::new(file)),
    })
}

fn facts_in<'data, R: ReadRef<'data>>(data: R) -> Option<Facts> {
    match FileKind::parse(data) {
        Ok(FileKind::Elf32) => facts_of::<object::elf::FileHeader32<Endianness>, _>(data),
        Ok(FileKind::Elf64) => facts_of::<object::elf::FileHeader64<Endianness>, _>(data),
        _ => None,
    }
}

/// A file mapped read-only. Read through a cache instead, each symbol name and section name cost
/// a read and a seek: 1 900 system calls and about 1.5 ms for a library with its symbol table.
struct Mapped {
    address: *mut libc::c_void,
    len: usize,
}

impl Mapped {
    fn of(file: &File) -> Option<Mapped> {
        use std::os::fd::AsRawFd;
        let len = usize::try_from(file.metadata().ok()?.len()).ok()?;
        if len == 0 {
            return None;
        }
        // SAFETY: a private read-only mapping of an open file, unmapped on drop. A file truncated
        // while mapped would raise SIGBUS in kashim (never in the program it runs); kashim reads
        // it for well under a millisecond, before running it.
        let address = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        (address != libc::MAP_FAILED).then_some(Mapped { address, len })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `len` readable bytes, mapped as long as self lives.
        unsafe { std::slice::from_raw_parts(self.address as *const u8, self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `of`, unmapped once.
        unsafe { libc::munmap(self.address, self.len) };
    }
}

fn facts_of<'data, Elf, R>(data: R) -> Option<Facts>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let elf = ElfFile::<Elf, R>::parse(data).ok()?;
    let endian = elf.endian();
    let interp = elf
        .elf_program_headers()
        .iter()
        .any(|ph| ph.p_type(endian) == PT_INTERP);
    // The Go toolchain writes .go.buildinfo and the Go build-id note into every binary, stripped
    // or not; runtime.main is the fallback for older ones that keep their symbols.
    let go = elf.section_by_name(".go.buildinfo").is_some()
        || elf.section_by_name(".note.go.buildid").is_some()
        || elf
            .symbols()
            .any(|s| s.name_bytes() == Ok(b"runtime.main".as_slice()));
    let marker = elf
        .dynamic_symbols()
        .any(|s| !s.is_undefined() && s.name_bytes() == Ok(MARKER));
    Some(Facts {
        is64: elf.is_64(),
        little_endian: elf.is_little_endian(),
        architecture: elf.architecture(),
        shared: elf.elf_header().e_type(endian) == object::elf::ET_DYN,
        interp,
        go,
        marker,
        glibc: newest_glibc(&elf, endian, data),
    })
}

/// The newest `GLIBC_2.N` among the versions the file needs (its SHT_GNU_VERNEED section).
fn newest_glibc<'data, Elf, R>(
    elf: &ElfFile<'data, Elf, R>,
    endian: Endianness,
    data: R,
) -> Option<(u32, u32)>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let sections = elf.elf_section_table();
    let (needs, link) = sections.gnu_verneed(endian, data).ok()??;
    let strings = sections.strings(endian, data, link).ok()?;
    let mut newest = None;
    for need in needs {
        let Ok((_, auxes)) = need else { break };
        for aux in auxes.flatten() {
            let Ok(name) = aux.name(endian, strings) else {
                continue;
            };
            if let Some(version) = glibc_version(name) {
                newest = newest.max(Some(version));
            }
        }
    }
    newest
}

/// `GLIBC_2.34` as (2, 34); `None` for other names (GLIBC_PRIVATE, GCC_3.0).
fn glibc_version(name: &[u8]) -> Option<(u32, u32)> {
    let text = std::str::from_utf8(name.strip_prefix(b"GLIBC_")?).ok()?;
    let mut parts = text.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |m| m.parse().ok())?;
    Some((major, minor))
}

/// The version of the glibc kashim itself runs with, as (2, N).
fn this_glibc() -> Option<(u32, u32)> {
    // SAFETY: gnu_get_libc_version returns a static NUL-terminated string.
    let text = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
    glibc_version(&[b"GLIBC_", text.to_bytes()].concat())
}

/// How the kernel will start an executable file, and whether LD_PRELOAD will see its sockets.
#[derive(Debug, PartialEq, Eq)]
pub enum Linking {
    /// It names a dynamic loader, which honours LD_PRELOAD.
    Dynamic,
    /// ELF without `PT_INTERP`: static or static-pie; no loader, no preload.
    Static,
    /// A Go program (`dynamic`: linked with cgo): the Go runtime calls the kernel itself, so a
    /// preloaded library never sees its sockets either way.
    Go { dynamic: bool },
    /// Not ELF (a script, or something the kernel will refuse), or unreadable.
    NotElf,
}

pub fn linking(path: &Path) -> Linking {
    match facts(path) {
        Ok(Some(f)) if f.go => Linking::Go { dynamic: f.interp },
        Ok(Some(f)) if f.interp => Linking::Dynamic,
        Ok(Some(_)) => Linking::Static,
        _ => Linking::NotElf,
    }
}

/// Why a file cannot serve as libkashim.so, as the end of "PATH is ..." / "PATH: ..." lines.
#[derive(Debug, PartialEq, Eq)]
pub enum NotKashim {
    Unreadable(String),
    NotElf,
    WrongArch,
    NotShared,
    NoMarker,
    /// (needed, this machine's)
    NewerGlibc((u32, u32), (u32, u32)),
}

impl NotKashim {
    pub fn why(&self) -> String {
        match self {
            NotKashim::Unreadable(e) => format!("cannot be read ({e})"),
            NotKashim::NotElf => "is not an ELF shared library".into(),
            NotKashim::WrongArch => "is built for another architecture than this machine".into(),
            NotKashim::NotShared => "is not a shared library".into(),
            NotKashim::NoMarker => format!(
                "is not libkashim.so (its dynamic symbols have no {})",
                String::from_utf8_lossy(MARKER)
            ),
            NotKashim::NewerGlibc((a, b), (c, d)) => format!(
                "needs GLIBC_{a}.{b}, but this machine has glibc {c}.{d}: use a build made for an older glibc"
            ),
        }
    }
}

/// Checks that `path` is a libkashim.so the dynamic loader of this machine would load, by
/// reading its ELF header, dynamic symbols and needed symbol versions (no process is started).
pub fn check_kashim_library(path: &Path) -> Result<(), NotKashim> {
    let f = facts(path)
        .map_err(NotKashim::Unreadable)?
        .ok_or(NotKashim::NotElf)?;
    if f.is64 != cfg!(target_pointer_width = "64")
        || f.little_endian != cfg!(target_endian = "little")
        || OUR_MACHINE.is_some_and(|ours| f.architecture != ours)
    {
        return Err(NotKashim::WrongArch);
    }
    if !f.shared {
        return Err(NotKashim::NotShared);
    }
    if !f.marker {
        return Err(NotKashim::NoMarker);
    }
    match (f.glibc, this_glibc()) {
        (Some(needed), Some(ours)) if needed > ours => Err(NotKashim::NewerGlibc(needed, ours)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_test_binary_is_dynamic_and_not_kashim() {
        let me = std::env::current_exe().unwrap();
        assert_eq!(linking(&me), Linking::Dynamic);
        // An executable (ET_DYN for PIE, or ET_EXEC) without the marker is refused either way.
        assert!(check_kashim_library(&me).is_err());
    }

    #[test]
    fn text_files_are_not_elf() {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        assert_eq!(linking(&manifest), Linking::NotElf);
        assert_eq!(check_kashim_library(&manifest), Err(NotKashim::NotElf));
        assert!(matches!(
            check_kashim_library(Path::new("/nonexistent/libkashim.so")),
            Err(NotKashim::Unreadable(_))
        ));
    }

    #[test]
    fn other_libraries_lack_the_marker() {
        // The built libkashim.so is checked by the 40-wrapper suite (a debug build here may be stale).
        let libc = Path::new("/lib/x86_64-linux-gnu/libc.so.6");
        if libc.exists() {
            assert_eq!(check_kashim_library(libc), Err(NotKashim::NoMarker));
        }
    }

    #[test]
    fn glibc_versions_compare_as_numbers() {
        assert_eq!(glibc_version(b"GLIBC_2.34"), Some((2, 34)));
        assert_eq!(glibc_version(b"GLIBC_2.2.5"), Some((2, 2)));
        assert_eq!(glibc_version(b"GLIBC_PRIVATE"), None);
        assert!(Some((2, 4)) < Some((2, 34)));
        assert!(this_glibc().unwrap() >= (2, 17));
        // This very binary needs no newer glibc than the one it runs with.
        let me = std::env::current_exe().unwrap();
        let f = facts(&me).unwrap().unwrap();
        assert!(f.glibc.unwrap() <= this_glibc().unwrap());
    }
}
