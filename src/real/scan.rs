//! The next definitions of all hooked functions, found in one pass over the loaded objects' own
//! GNU hash tables, instead of one `dlsym(RTLD_NEXT)` per function.
//!
//! Why: every process kashim is preloaded into pays for its start-up, and 19 dlsym calls were most
//! of kashim's constructor (about 880 instructions each: the loader's lock, error catching, and a
//! full symbol lookup). Reading the hash tables directly costs a few dozen instructions a name.
//!
//! What dlsym(RTLD_NEXT, name) answers, and what this reproduces: the first object after kashim in
//! the search order that defines `name` (a defined function or object, global or weak, whose
//! version is the default one, i.e. not hidden). At start-up, for a preloaded or linked kashim, the
//! load order dl_iterate_phdr walks is that search order. Anything this does not reproduce is left
//! to dlsym, which is then asked as before: a name no later object defines (also the case of a
//! kashim that was dlopen()ed, whose libc was loaded before it), an IFUNC (dlsym runs its
//! resolver), several default versions, an object without a GNU hash table.
//! One difference remains, deliberately: a kashim dlopen()ed on glibc < 2.34 that brings in
//! libpthread itself gets libpthread's close/connect/accept/fcntl (the same system calls, as
//! cancellation points) where dlsym would name libc's.

use crate::elf::{Object, Sym, DT_GNU_HASH, DT_STRTAB, DT_SYMTAB, DT_VERSYM};
use libc::{c_char, c_int, c_void, dl_phdr_info, size_t};
use std::ffi::CStr;

const STT_OBJECT: u8 = 1;
const STT_FUNC: u8 = 2;
const STT_COMMON: u8 = 5;
const STT_GNU_IFUNC: u8 = 10;
const STB_GLOBAL: u8 = 1;
const STB_WEAK: u8 = 2;
const STB_GNU_UNIQUE: u8 = 10;

/// What one pass found for one name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// No object after kashim defines it (dlsym may still know better: ask it).
    Nothing,
    /// The address dlsym(RTLD_NEXT) would give.
    At(usize),
    /// Defined, but only dlsym can say how (IFUNC, several default versions): ask it.
    AskDlsym,
}

/// The GNU hash of a symbol name (the ELF gABI extension glibc and binutils use).
#[link_section = ".text.kashim_startup"]
pub fn gnu_hash(name: &[u8]) -> u32 {
    name.iter().fold(5381u32, |h, &b| {
        h.wrapping_mul(33).wrapping_add(u32::from(b))
    })
}

/// One loaded object's dynamic symbol table.
struct Table {
    symtab: *const Sym,
    strtab: *const c_char,
    versym: *const u16,
    gnu_hash: *const u32,
}

impl Table {
    /// # Safety
    /// `base` and `phdrs` describe a loaded object (from within dl_iterate_phdr).
    #[link_section = ".text.kashim_startup"]
    unsafe fn of(base: usize, phdrs: &[libc::Elf64_Phdr]) -> Option<Table> {
        let object = Object { base, phdrs };
        let (mut symtab, mut strtab, mut versym, mut gnu_hash) = (0, 0, 0, 0);
        object.each_dynamic(|tag, val| match tag {
            DT_SYMTAB => symtab = object.absolute(val),
            DT_STRTAB => strtab = object.absolute(val),
            DT_VERSYM => versym = object.absolute(val),
            DT_GNU_HASH => gnu_hash = object.absolute(val),
            _ => {}
        });
        (symtab != 0 && strtab != 0 && gnu_hash != 0).then_some(Table {
            symtab: symtab as *const Sym,
            strtab: strtab as *const c_char,
            versym: versym as *const u16,
            gnu_hash: gnu_hash as *const u32,
        })
    }

    /// `name` in this object, as glibc's lookup for dlsym judges a candidate (check_match with
    /// DL_LOOKUP_RETURN_NEWEST): defined, of a data or code type, not hidden by its version; an
    /// unversioned definition wins, else the one default version.
    ///
    /// # Safety
    /// The table must belong to a loaded object.
    #[link_section = ".text.kashim_startup"]
    unsafe fn lookup(&self, base: usize, name: &[u8]) -> Found {
        let header = self.gnu_hash;
        let (buckets_len, first, bloom_len, shift) =
            (*header, *header.add(1), *header.add(2), *header.add(3));
        if buckets_len == 0 || bloom_len == 0 {
            return Found::Nothing;
        }
        let hash = gnu_hash(name);
        let bloom = header.add(4) as *const u64;
        let word = *bloom.add((hash as usize / 64) % bloom_len as usize);
        let mask = (1u64 << (hash % 64)) | (1u64 << ((hash >> shift) % 64));
        if word & mask != mask {
            return Found::Nothing;
        }
        let buckets = bloom.add(bloom_len as usize) as *const u32;
        let chain = buckets.add(buckets_len as usize);
        let mut index = *buckets.add((hash % buckets_len) as usize);
        if index < first {
            return Found::Nothing;
        }
        let (mut versioned, mut versions) = (0usize, 0);
        loop {
            let chain_hash = *chain.add((index - first) as usize);
            if chain_hash | 1 == hash | 1 {
                let sym = &*self.symtab.add(index as usize);
                let kind = sym.info & 0xf;
                let binding = sym.info >> 4;
                let defined = sym.shndx != 0 && sym.value != 0;
                let typed = matches!(kind, 0 | STT_OBJECT | STT_FUNC | STT_COMMON | STT_GNU_IFUNC);
                let bound = matches!(binding, STB_GLOBAL | STB_WEAK | STB_GNU_UNIQUE);
                if defined
                    && typed
                    && bound
                    && CStr::from_ptr(self.strtab.add(sym.name as usize)).to_bytes() == name
                {
                    let version = if self.versym.is_null() {
                        0
                    } else {
                        *self.versym.add(index as usize)
                    };
                    let address = base + sym.value as usize;
                    if kind == STT_GNU_IFUNC {
                        return Found::AskDlsym;
                    }
                    if version & 0x7fff < 2 {
                        return Found::At(address); // unversioned: taken at once
                    }
                    if version & 0x8000 == 0 {
                        versions += 1;
                        versioned = address;
                    }
                }
            }
            if chain_hash & 1 != 0 {
                break;
            }
            index += 1;
        }
        match versions {
            0 => Found::Nothing,
            1 => Found::At(versioned),
            _ => Found::AskDlsym,
        }
    }
}

struct Pass<'a> {
    /// An address inside the object the search starts after (kashim itself).
    after: usize,
    seen_self: bool,
    names: &'a [&'a CStr],
    found: &'a mut [Found],
}

#[link_section = ".text.kashim_startup"]
unsafe extern "C" fn each_object(
    info: *mut dl_phdr_info,
    _size: size_t,
    data: *mut c_void,
) -> c_int {
    let pass = &mut *(data as *mut Pass);
    let info = &*info;
    if info.dlpi_phdr.is_null() {
        return 0;
    }
    let base = info.dlpi_addr as usize;
    let phdrs = std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize);
    if !pass.seen_self {
        pass.seen_self = phdrs.iter().any(|p| {
            let start = base + p.p_vaddr as usize;
            p.p_type == libc::PT_LOAD && (start..start + p.p_memsz as usize).contains(&pass.after)
        });
        return 0;
    }
    let Some(table) = Table::of(base, phdrs) else {
        return 0;
    };
    let mut missing = 0;
    for (name, found) in pass.names.iter().zip(pass.found.iter_mut()) {
        if *found == Found::Nothing {
            *found = table.lookup(base, name.to_bytes());
            missing += usize::from(*found == Found::Nothing);
        }
    }
    // Stop the walk once every name is settled.
    c_int::from(missing == 0)
}

/// For each of `names`, what the objects loaded after the one containing `after` define.
#[link_section = ".text.kashim_startup"]
pub fn next_definitions(after: usize, names: &[&CStr], found: &mut [Found]) {
    found.fill(Found::Nothing);
    let mut pass = Pass {
        after,
        seen_self: false,
        names,
        found,
    };
    // SAFETY: the callback reads only what dl_iterate_phdr hands it, while the objects are held.
    unsafe { libc::dl_iterate_phdr(Some(each_object), (&mut pass as *mut Pass).cast()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gnu_hash_of_known_names() {
        // Values from the gABI extension's reference implementation.
        assert_eq!(gnu_hash(b""), 0x0000_1505);
        assert_eq!(gnu_hash(b"printf"), 0x156b_2bb8);
        assert_eq!(gnu_hash(b"exit"), 0x7c96_7e3f);
        assert_eq!(gnu_hash(b"syscall"), 0xbac2_12a0);
    }

    /// The test binary stands in for kashim: whatever one pass finds after it must be exactly what
    /// dlsym(RTLD_NEXT) from the test binary returns, for every hooked name (fcntl and dlopen have
    /// several versions in glibc, freopen64 and fcntl64 are aliases), and names nobody defines are
    /// found nowhere.
    #[test]
    fn one_pass_agrees_with_dlsym_next() {
        let mut names: Vec<&CStr> = crate::deepbind::HOOKED.to_vec();
        names.extend([c"getpid", c"environ", c"kashim_no_such_function"]);
        let mut found = vec![Found::Nothing; names.len()];
        let here = one_pass_agrees_with_dlsym_next as fn() as usize;
        next_definitions(here, &names, &mut found);
        let mut compared = 0;
        for (name, found) in names.iter().zip(&found) {
            let dlsym = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) } as usize;
            match *found {
                Found::At(address) => {
                    assert_eq!(address, dlsym, "{name:?}");
                    compared += 1;
                }
                Found::Nothing => assert_eq!(dlsym, 0, "{name:?}: dlsym knows it"),
                Found::AskDlsym => {}
            }
        }
        assert!(compared >= 15, "only {compared} names compared: {found:?}");
    }
}
