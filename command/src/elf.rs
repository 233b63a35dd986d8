//! Just enough ELF reading to answer two questions without running anything:
//! does an executable go through the dynamic loader (`PT_INTERP`), so LD_PRELOAD can reach it,
//! and is a file a libkashim.so this machine can load (right class and machine, and the
//! `KASHIM_LIBRARY` marker among its dynamic symbols)?

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The symbol libkashim.so exports so that it can be recognised by reading its file (src/lib.rs).
pub const MARKER: &[u8] = b"KASHIM_LIBRARY";

const PT_INTERP: u32 = 3;
const SHT_DYNSYM: u32 = 11;
const ET_DYN: u16 = 3;

#[cfg(target_arch = "x86_64")]
const OUR_MACHINE: u16 = 62;
#[cfg(target_arch = "aarch64")]
const OUR_MACHINE: u16 = 183;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const OUR_MACHINE: u16 = 0; // unknown here: the machine is not checked

/// The parts of an ELF file header this module needs, in the file's own byte order.
struct Header {
    is64: bool,
    le: bool,
    e_type: u16,
    machine: u16,
    phoff: u64,
    phentsize: u64,
    phnum: u64,
    shoff: u64,
    shentsize: u64,
    shnum: u64,
}

struct Reader<'a> {
    file: &'a File,
    le: bool,
}

impl Reader<'_> {
    fn bytes(&self, at: u64, len: usize) -> io::Result<Vec<u8>> {
        if len > 64 << 20 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "ELF table too large",
            ));
        }
        let mut buf = vec![0; len];
        self.file.read_exact_at(&mut buf, at)?;
        Ok(buf)
    }
    fn uint(&self, b: &[u8]) -> u64 {
        let mut v = 0u64;
        for (i, byte) in b.iter().enumerate() {
            let shift = if self.le { i } else { b.len() - 1 - i };
            v |= (*byte as u64) << (8 * shift);
        }
        v
    }
}

fn header(file: &File) -> io::Result<Option<Header>> {
    let mut h = [0u8; 64];
    let n = read_up_to(file, &mut h)?;
    if n < 52 || h[..4] != *b"\x7fELF" {
        return Ok(None);
    }
    let is64 = match h[4] {
        1 => false,
        2 => true,
        _ => return Ok(None),
    };
    if is64 && n < 64 {
        return Ok(None);
    }
    let le = h[5] == 1;
    let r = Reader { file, le };
    let u = |at: usize, len: usize| r.uint(&h[at..at + len]);
    Ok(Some(if is64 {
        Header {
            is64,
            le,
            e_type: u(16, 2) as u16,
            machine: u(18, 2) as u16,
            phoff: u(32, 8),
            phentsize: u(54, 2),
            phnum: u(56, 2),
            shoff: u(40, 8),
            shentsize: u(58, 2),
            shnum: u(60, 2),
        }
    } else {
        Header {
            is64,
            le,
            e_type: u(16, 2) as u16,
            machine: u(18, 2) as u16,
            phoff: u(28, 4),
            phentsize: u(42, 2),
            phnum: u(44, 2),
            shoff: u(32, 4),
            shentsize: u(46, 2),
            shnum: u(48, 2),
        }
    }))
}

fn read_up_to(file: &File, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// How the kernel will start an executable file.
#[derive(Debug, PartialEq, Eq)]
pub enum Linking {
    /// It names a dynamic loader, which honours LD_PRELOAD.
    Dynamic,
    /// ELF without `PT_INTERP`: static or static-pie; no loader, no preload.
    Static,
    /// Not ELF (a script, or something the kernel will refuse), or unreadable.
    NotElf,
}

pub fn linking(path: &Path) -> Linking {
    let Ok(file) = File::open(path) else {
        return Linking::NotElf;
    };
    let Ok(Some(h)) = header(&file) else {
        return Linking::NotElf;
    };
    // PN_XNUM (0xffff) moves the count elsewhere; no real executable does that.
    if h.phnum == 0 || h.phnum >= 0xffff || h.phentsize < 8 {
        return Linking::NotElf;
    }
    let r = Reader {
        file: &file,
        le: h.le,
    };
    let Ok(table) = r.bytes(h.phoff, (h.phnum * h.phentsize) as usize) else {
        return Linking::NotElf;
    };
    let interp = table
        .chunks_exact(h.phentsize as usize)
        .any(|ph| r.uint(&ph[..4]) == PT_INTERP as u64);
    if interp {
        Linking::Dynamic
    } else {
        Linking::Static
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
        }
    }
}

/// Checks that `path` is a libkashim.so the dynamic loader of this machine would load, by
/// reading its ELF header and dynamic symbol table (no process is started).
pub fn check_kashim_library(path: &Path) -> Result<(), NotKashim> {
    let file = File::open(path).map_err(|e| NotKashim::Unreadable(e.to_string()))?;
    let h = header(&file)
        .map_err(|e| NotKashim::Unreadable(e.to_string()))?
        .ok_or(NotKashim::NotElf)?;
    if h.is64 != cfg!(target_pointer_width = "64")
        || h.le != cfg!(target_endian = "little")
        || (OUR_MACHINE != 0 && h.machine != OUR_MACHINE)
    {
        return Err(NotKashim::WrongArch);
    }
    if h.e_type != ET_DYN {
        return Err(NotKashim::NotShared);
    }
    if has_dynamic_symbol(&file, &h, MARKER).unwrap_or(false) {
        Ok(())
    } else {
        Err(NotKashim::NoMarker)
    }
}

/// True if the file's `.dynsym` defines `name`.
fn has_dynamic_symbol(file: &File, h: &Header, name: &[u8]) -> io::Result<bool> {
    let r = Reader { file, le: h.le };
    let min_shentsize = if h.is64 { 64 } else { 40 };
    if h.shnum == 0 || h.shentsize < min_shentsize {
        return Ok(false);
    }
    let sections = r.bytes(h.shoff, (h.shnum * h.shentsize) as usize)?;
    let section = |i: u64| -> Option<&[u8]> {
        let start = (i * h.shentsize) as usize;
        sections.get(start..start + h.shentsize as usize)
    };
    // (type, link, offset, size, entsize) of a section header.
    let fields = |s: &[u8]| {
        if h.is64 {
            (
                r.uint(&s[4..8]) as u32,
                r.uint(&s[40..44]),
                r.uint(&s[24..32]),
                r.uint(&s[32..40]),
                r.uint(&s[56..64]),
            )
        } else {
            (
                r.uint(&s[4..8]) as u32,
                r.uint(&s[24..28]),
                r.uint(&s[16..20]),
                r.uint(&s[20..24]),
                r.uint(&s[36..40]),
            )
        }
    };
    for i in 0..h.shnum {
        let Some(s) = section(i) else { break };
        let (kind, link, offset, size, entsize) = fields(s);
        if kind != SHT_DYNSYM {
            continue;
        }
        let Some(strtab) = section(link) else {
            return Ok(false);
        };
        let (_, _, str_off, str_size, _) = fields(strtab);
        let strings = r.bytes(str_off, str_size as usize)?;
        let syms = r.bytes(offset, size as usize)?;
        let entsize = if entsize == 0 {
            min_shentsize / 2 + 8
        } else {
            entsize
        } as usize;
        for sym in syms.chunks_exact(entsize) {
            // st_name at 0 in both classes; st_shndx at 6 (64-bit) or 14 (32-bit).
            let name_at = r.uint(&sym[0..4]) as usize;
            let shndx = if h.is64 {
                r.uint(&sym[6..8])
            } else {
                r.uint(&sym[14..16])
            };
            if shndx == 0 {
                continue; // undefined: imported, not exported
            }
            let Some(rest) = strings.get(name_at..) else {
                continue;
            };
            let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
            if &rest[..end] == name {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    Ok(false)
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
}
