//! The one reader of loaded ELF objects (64-bit, as dl_iterate_phdr describes them): their dynamic
//! section, symbol lookup through the GNU or the SysV hash table with symbol versions, the names
//! they need, and the GOT slots of their imports. The resolver (`sys::resolve`) and the
//! RTLD_DEEPBIND patching (`act::deepbind`) both read objects through it.
//!
//! Two rules keep it safe on any object the loader accepted:
//! - Addresses are computed with wrapping arithmetic: an object loaded below its link address has a
//!   negative load bias, which dl_iterate_phdr reports as a huge unsigned number.
//! - A pointer read from the dynamic section is followed only once it lies inside one of the
//!   object's loaded segments. glibc relocates those pointers in place when the dynamic section is
//!   writable and leaves them relative when it is not (the vDSO's); both readings are checked.

use libc::{c_char, dl_phdr_info, Elf64_Phdr};
use std::ffi::CStr;
use std::sync::atomic::{AtomicUsize, Ordering};

#[repr(C)]
struct Dyn {
    tag: i64,
    val: u64,
}

#[repr(C)]
struct Sym {
    name: u32,
    info: u8,
    other: u8,
    shndx: u16,
    value: u64,
    size: u64,
}

#[repr(C)]
struct Rela {
    offset: u64,
    info: u64,
    addend: i64,
}

const DT_NULL: i64 = 0;
const DT_NEEDED: i64 = 1;
const DT_PLTRELSZ: i64 = 2;
const DT_HASH: i64 = 4;
const DT_STRTAB: i64 = 5;
const DT_SYMTAB: i64 = 6;
const DT_RELA: i64 = 7;
const DT_RELASZ: i64 = 8;
const DT_STRSZ: i64 = 10;
const DT_SONAME: i64 = 14;
const DT_PLTREL: i64 = 20;
const DT_JMPREL: i64 = 23;
const DT_GNU_HASH: i64 = 0x6fff_fef5;
const DT_VERSYM: i64 = 0x6fff_fff0;

const STT_OBJECT: u8 = 1;
const STT_FUNC: u8 = 2;
const STT_COMMON: u8 = 5;
const STT_GNU_IFUNC: u8 = 10;
const STB_GLOBAL: u8 = 1;
const STB_WEAK: u8 = 2;
const STB_GNU_UNIQUE: u8 = 10;
/// The versym bit of a non-default version (`name@VERSION`), which an unversioned lookup skips.
const VERSYM_HIDDEN: u16 = 0x8000;

#[cfg(target_arch = "x86_64")]
const GLOB_DAT: u32 = 6; // R_X86_64_GLOB_DAT
#[cfg(target_arch = "x86_64")]
const JUMP_SLOT: u32 = 7; // R_X86_64_JUMP_SLOT
#[cfg(target_arch = "aarch64")]
const GLOB_DAT: u32 = 1025; // R_AARCH64_GLOB_DAT
#[cfg(target_arch = "aarch64")]
const JUMP_SLOT: u32 = 1026; // R_AARCH64_JUMP_SLOT
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const GLOB_DAT: u32 = u32::MAX;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const JUMP_SLOT: u32 = u32::MAX;

/// A loaded object, valid while the loader keeps it loaded (inside a dl_iterate_phdr callback, or
/// while a handle to it is held).
pub struct Object<'a> {
    /// The load bias: run-time address minus link-time address (wrapping: it may be negative).
    pub bias: usize,
    pub phdrs: &'a [Elf64_Phdr],
    /// The path the loader opened ("" for the program, the vDSO's soname for the vDSO).
    pub path: &'a CStr,
}

/// What one object's symbol table says about a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Definition {
    pub address: usize,
    /// An IFUNC: `address` is the resolver, which returns the function.
    pub indirect: bool,
}

/// One GOT slot that refers to one of the names asked for.
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    pub address: usize,
    /// Index into the names passed to `Dynamic::import_slots`.
    pub name: usize,
    /// A PLT slot, which may still hold the lazy-binding stub (an address inside the object).
    pub plt: bool,
}

impl<'a> Object<'a> {
    /// # Safety
    /// `info` comes from dl_iterate_phdr, and the object stays loaded while the result is used.
    pub unsafe fn from_info(info: &'a dl_phdr_info) -> Option<Object<'a>> {
        if info.dlpi_phdr.is_null() {
            return None;
        }
        let path = if info.dlpi_name.is_null() {
            c""
        } else {
            CStr::from_ptr(info.dlpi_name)
        };
        Some(Object {
            bias: info.dlpi_addr as usize,
            phdrs: std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)),
            path,
        })
    }

    fn runtime(&self, link_address: u64) -> usize {
        self.bias.wrapping_add(link_address as usize)
    }

    fn segment_holding(&self, address: usize) -> Option<&Elf64_Phdr> {
        self.phdrs.iter().find(|p| {
            let start = self.runtime(p.p_vaddr);
            p.p_type == libc::PT_LOAD && address.wrapping_sub(start) < p.p_memsz as usize
        })
    }

    /// Does `address` lie inside one of the object's loaded segments?
    pub fn contains(&self, address: usize) -> bool {
        self.segment_holding(address).is_some()
    }

    /// The object's dynamic section, read. `None` for an object without one, or whose tables do
    /// not lie inside its own segments.
    ///
    /// # Safety
    /// The object is loaded and stays loaded while the result is used.
    #[link_section = ".text.startup.kashim"]
    pub unsafe fn dynamic(&self) -> Option<Dynamic<'_, 'a>> {
        let header = self.phdrs.iter().find(|p| p.p_type == libc::PT_DYNAMIC)?;
        let start = self.runtime(header.p_vaddr);
        if !self.contains(start) {
            return None;
        }
        let relocated_in_place = header.p_flags & libc::PF_W != 0;
        let entries = std::slice::from_raw_parts(
            start as *const Dyn,
            header.p_memsz as usize / std::mem::size_of::<Dyn>(),
        );
        let len = entries
            .iter()
            .position(|e| e.tag == DT_NULL)
            .unwrap_or(entries.len());
        let mut d = Dynamic {
            object: self,
            entries: &entries[..len],
            symtab: 0,
            strtab: 0,
            strsz: 0,
            versym: 0,
            gnu_hash: 0,
            sysv_hash: 0,
            rela: (0, 0),
            jmprel: (0, 0),
            plt_is_rela: true,
        };
        let address = |value: u64| self.pointer(value, relocated_in_place);
        for e in d.entries {
            match e.tag {
                DT_SYMTAB => d.symtab = address(e.val)?,
                DT_STRTAB => d.strtab = address(e.val)?,
                DT_STRSZ => d.strsz = e.val as usize,
                DT_VERSYM => d.versym = address(e.val).unwrap_or(0),
                DT_GNU_HASH => d.gnu_hash = address(e.val).unwrap_or(0),
                DT_HASH => d.sysv_hash = address(e.val).unwrap_or(0),
                DT_RELA => d.rela.0 = address(e.val).unwrap_or(0),
                DT_RELASZ => d.rela.1 = e.val as usize,
                DT_JMPREL => d.jmprel.0 = address(e.val).unwrap_or(0),
                DT_PLTRELSZ => d.jmprel.1 = e.val as usize,
                DT_PLTREL => d.plt_is_rela = e.val as i64 == DT_RELA,
                _ => {}
            }
        }
        (d.symtab != 0 && d.strtab != 0).then_some(d)
    }

    /// A pointer-valued dynamic entry as an address inside the object: as glibc left it (relocated
    /// in place if the section is writable, relative if not), checked, else the other reading.
    fn pointer(&self, value: u64, relocated_in_place: bool) -> Option<usize> {
        let (absolute, relative) = (value as usize, self.runtime(value));
        let (first, second) = if relocated_in_place {
            (absolute, relative)
        } else {
            (relative, absolute)
        };
        [first, second].into_iter().find(|&a| self.contains(a))
    }

    /// Writes `value` into the GOT slot at `address`. A slot in the RELRO region (read-only once the
    /// loader is done with the object) is made writable for the write and read-only again after,
    /// page by page as glibc protected it; any other slot must be in a writable segment. False if
    /// not written.
    ///
    /// # Safety
    /// `address` is a GOT slot of this object, and the loader has finished relocating the object
    /// (so it never writes that page again).
    pub unsafe fn write_slot(&self, address: usize, value: usize, page: usize) -> bool {
        let slot = &*(address as *const AtomicUsize);
        let relro = self
            .phdrs
            .iter()
            .find(|p| p.p_type == libc::PT_GNU_RELRO)
            .map(|p| {
                let start = self.runtime(p.p_vaddr);
                // glibc's _dl_protect_relro rounds both ends down: a partial last page stays writable.
                (start & !(page - 1))..(start.wrapping_add(p.p_memsz as usize) & !(page - 1))
            });
        if relro.is_some_and(|r| r.contains(&address)) {
            let page_start = (address & !(page - 1)) as *mut libc::c_void;
            if libc::mprotect(page_start, page, libc::PROT_READ | libc::PROT_WRITE) != 0 {
                return false;
            }
            slot.store(value, Ordering::Release);
            libc::mprotect(page_start, page, libc::PROT_READ);
            return true;
        }
        let writable = self
            .segment_holding(address)
            .is_some_and(|p| p.p_flags & libc::PF_W != 0);
        if writable {
            slot.store(value, Ordering::Release);
        }
        writable
    }
}

/// A GOT slot's value.
///
/// # Safety
/// `address` is a GOT slot of a loaded object.
pub unsafe fn read_slot(address: usize) -> usize {
    (*(address as *const AtomicUsize)).load(Ordering::Acquire)
}

/// One object's dynamic section, read by `Object::dynamic`.
pub struct Dynamic<'o, 'a> {
    object: &'o Object<'a>,
    entries: &'o [Dyn],
    symtab: usize,
    strtab: usize,
    strsz: usize,
    versym: usize,
    gnu_hash: usize,
    sysv_hash: usize,
    rela: (usize, usize),
    jmprel: (usize, usize),
    plt_is_rela: bool,
}

impl Dynamic<'_, '_> {
    /// Where the dynamic section is loaded (`l_ld` in the loader's link map).
    pub fn address(&self) -> usize {
        self.entries.as_ptr() as usize
    }

    /// The string at `offset` in the object's string table, if the offset is inside it.
    ///
    /// # Safety
    /// The object is loaded.
    unsafe fn string(&self, offset: u64) -> Option<&CStr> {
        let offset = offset as usize;
        (offset < self.strsz || self.strsz == 0)
            .then(|| CStr::from_ptr((self.strtab + offset) as *const c_char))
    }

    /// The object's DT_SONAME, if it has one.
    ///
    /// # Safety
    /// The object is loaded.
    #[link_section = ".text.startup.kashim"]
    pub unsafe fn soname(&self) -> Option<&CStr> {
        let entry = self.entries.iter().find(|e| e.tag == DT_SONAME)?;
        self.string(entry.val)
    }

    /// The names in the object's DT_NEEDED entries, in order.
    ///
    /// # Safety
    /// The object is loaded.
    pub unsafe fn needed(&self) -> impl Iterator<Item = &CStr> {
        self.entries
            .iter()
            .filter(|e| e.tag == DT_NEEDED)
            .filter_map(|e| self.string(e.val))
    }

    /// Is this object the one a DT_NEEDED `name` refers to? As the loader matches: a name with a
    /// slash is the path, any other the soname, or the file name when there is no soname.
    ///
    /// # Safety
    /// The object is loaded.
    #[link_section = ".text.startup.kashim"]
    pub unsafe fn answers_to(&self, name: &[u8]) -> bool {
        let path = self.object.path.to_bytes();
        if name.contains(&b'/') {
            return path == name;
        }
        match self.soname() {
            Some(soname) => soname.to_bytes() == name,
            None => path.rsplit(|&b| b == b'/').next() == Some(name),
        }
    }

    /// `name`'s definition in this object, as an unversioned dlsym judges a candidate: defined, of
    /// a data or code type, global or weak, and not a non-default version. Through the GNU hash
    /// table when there is one, else the SysV one.
    ///
    /// # Safety
    /// The object is loaded.
    #[link_section = ".text.startup.kashim"]
    pub unsafe fn lookup(&self, name: &[u8]) -> Option<Definition> {
        if self.gnu_hash != 0 {
            self.lookup_gnu(name)
        } else if self.sysv_hash != 0 {
            self.lookup_sysv(name)
        } else {
            None
        }
    }

    /// The definition at symbol `index`, if it is one that matches `name`.
    #[link_section = ".text.startup.kashim"]
    unsafe fn candidate(&self, index: usize, name: &[u8]) -> Option<Definition> {
        let sym = &*(self.symtab as *const Sym).add(index);
        let kind = sym.info & 0xf;
        let binding = sym.info >> 4;
        let defined = sym.shndx != 0 && sym.value != 0;
        let typed = matches!(kind, 0 | STT_OBJECT | STT_FUNC | STT_COMMON | STT_GNU_IFUNC);
        let bound = matches!(binding, STB_GLOBAL | STB_WEAK | STB_GNU_UNIQUE);
        if !(defined && typed && bound) || self.string(u64::from(sym.name))?.to_bytes() != name {
            return None;
        }
        if self.versym != 0 && *(self.versym as *const u16).add(index) & VERSYM_HIDDEN != 0 {
            return None;
        }
        Some(Definition {
            address: self.object.runtime(sym.value),
            indirect: kind == STT_GNU_IFUNC,
        })
    }

    unsafe fn lookup_gnu(&self, name: &[u8]) -> Option<Definition> {
        let header = self.gnu_hash as *const u32;
        let (buckets_len, first, bloom_len, shift) =
            (*header, *header.add(1), *header.add(2), *header.add(3));
        if buckets_len == 0 || bloom_len == 0 {
            return None;
        }
        let hash = gnu_hash(name);
        let bloom = header.add(4) as *const u64;
        let word = *bloom.add((hash as usize / 64) % bloom_len as usize);
        let mask = (1u64 << (hash % 64)) | (1u64 << ((hash >> shift) % 64));
        if word & mask != mask {
            return None;
        }
        let buckets = bloom.add(bloom_len as usize) as *const u32;
        let chain = buckets.add(buckets_len as usize);
        let mut index = *buckets.add((hash % buckets_len) as usize);
        if index < first {
            return None;
        }
        loop {
            let chain_hash = *chain.add((index - first) as usize);
            if chain_hash | 1 == hash | 1 {
                if let Some(found) = self.candidate(index as usize, name) {
                    return Some(found);
                }
            }
            if chain_hash & 1 != 0 {
                return None;
            }
            index += 1;
        }
    }

    unsafe fn lookup_sysv(&self, name: &[u8]) -> Option<Definition> {
        let header = self.sysv_hash as *const u32;
        let (buckets_len, chain_len) = (*header as usize, *header.add(1) as usize);
        if buckets_len == 0 {
            return None;
        }
        let buckets = header.add(2);
        let chain = buckets.add(buckets_len);
        let mut index = *buckets.add(sysv_hash(name) as usize % buckets_len) as usize;
        // The chain ends at index 0; a table whose chain loops is cut off after every symbol.
        for _ in 0..chain_len {
            if index == 0 || index >= chain_len {
                return None;
            }
            if let Some(found) = self.candidate(index, name) {
                return Some(found);
            }
            index = *chain.add(index) as usize;
        }
        None
    }

    /// Calls `found` for every GLOB_DAT/JUMP_SLOT relocation of an undefined symbol named in `names`.
    ///
    /// # Safety
    /// The object is loaded.
    pub unsafe fn import_slots(&self, names: &[&CStr], mut found: impl FnMut(Slot)) {
        // Most imports share no first letter with the names asked for: skip them before strlen.
        let mut first_letters = [false; 256];
        for name in names {
            if let Some(&b) = name.to_bytes().first() {
                first_letters[usize::from(b)] = true;
            }
        }
        let mut scan = |(table, size): (usize, usize)| {
            if table == 0 {
                return;
            }
            let relocations = std::slice::from_raw_parts(
                table as *const Rela,
                size / std::mem::size_of::<Rela>(),
            );
            for r in relocations {
                let kind = (r.info & 0xffff_ffff) as u32;
                if kind != GLOB_DAT && kind != JUMP_SLOT {
                    continue;
                }
                let sym = &*(self.symtab as *const Sym).add((r.info >> 32) as usize);
                if sym.shndx != 0 {
                    continue; // defined in the object itself: not an import
                }
                let Some(name) = self.string(u64::from(sym.name)) else {
                    continue;
                };
                if !first_letters[usize::from(*name.as_ptr() as u8)] {
                    continue;
                }
                if let Some(index) = names.iter().position(|n| *n == name) {
                    found(Slot {
                        address: self.object.runtime(r.offset),
                        name: index,
                        plt: kind == JUMP_SLOT,
                    });
                }
            }
        };
        scan(self.rela);
        if self.plt_is_rela {
            scan(self.jmprel);
        }
    }
}

/// The GNU hash of a symbol name (the ELF gABI extension glibc and binutils use).
pub fn gnu_hash(name: &[u8]) -> u32 {
    name.iter().fold(5381u32, |h, &b| {
        h.wrapping_mul(33).wrapping_add(u32::from(b))
    })
}

/// The SysV ELF hash of a symbol name (the System V gABI's DT_HASH).
pub fn sysv_hash(name: &[u8]) -> u32 {
    name.iter().fold(0u32, |h, &b| {
        let h = (h << 4).wrapping_add(u32::from(b));
        let high = h & 0xf000_0000;
        (h ^ (high >> 24)) & !high
    })
}

#[cfg(test)]
mod tests;
