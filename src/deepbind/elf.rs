//! Reading a loaded object's dynamic section and rewriting single GOT slots: just the structures
//! and relocation types kashim needs (64-bit ELF, RELA, x86_64 and aarch64).

pub use crate::elf::Object;
use crate::elf::{
    Sym, DT_JMPREL, DT_PLTREL, DT_PLTRELSZ, DT_RELA, DT_RELASZ, DT_STRSZ, DT_STRTAB, DT_SYMTAB,
};
use libc::c_char;
use std::ffi::CStr;
use std::sync::atomic::{AtomicUsize, Ordering};

#[repr(C)]
#[allow(dead_code)] // the layout is the ELF format's; not every field is read
struct Rela {
    offset: u64,
    info: u64,
    addend: i64,
}

#[cfg(target_arch = "x86_64")]
const GLOB_DAT: u32 = 6; // R_X86_64_GLOB_DAT
#[cfg(target_arch = "x86_64")]
const JUMP_SLOT: u32 = 7; // R_X86_64_JUMP_SLOT
#[cfg(target_arch = "aarch64")]
const GLOB_DAT: u32 = 1025; // R_AARCH64_GLOB_DAT
#[cfg(target_arch = "aarch64")]
const JUMP_SLOT: u32 = 1026; // R_AARCH64_JUMP_SLOT

/// One GOT slot that refers to one of the names asked for.
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    pub address: usize,
    /// Index into the names passed to `slots`.
    pub name: usize,
    /// A PLT slot, which may still hold the lazy-binding stub (an address inside the object).
    pub plt: bool,
}

impl Object<'_> {
    /// Does `address` lie inside one of the object's segments?
    pub fn contains(&self, address: usize) -> bool {
        self.phdrs.iter().any(|p| {
            let start = self.base + p.p_vaddr as usize;
            p.p_type == libc::PT_LOAD && (start..start + p.p_memsz as usize).contains(&address)
        })
    }

    /// Calls `found` for every undefined-symbol GLOB_DAT/JUMP_SLOT relocation naming one of `names`.
    ///
    /// # Safety
    /// The object must be loaded and stay loaded (call from within dl_iterate_phdr).
    pub unsafe fn slots(&self, names: &[&CStr], mut found: impl FnMut(Slot)) {
        let (mut symtab, mut strtab, mut strsz) = (0, 0, 0);
        let (mut rela, mut relasz, mut jmprel, mut pltrelsz, mut pltrel) = (0, 0, 0, 0, DT_RELA);
        self.each_dynamic(|tag, val| match tag {
            DT_SYMTAB => symtab = self.absolute(val),
            DT_STRTAB => strtab = self.absolute(val),
            DT_STRSZ => strsz = val as usize,
            DT_RELA => rela = self.absolute(val),
            DT_RELASZ => relasz = val as usize,
            DT_JMPREL => jmprel = self.absolute(val),
            DT_PLTRELSZ => pltrelsz = val as usize,
            DT_PLTREL => pltrel = val as i64,
            _ => {}
        });
        if symtab == 0 || strtab == 0 {
            return;
        }
        // Most imports share no first letter with the names asked for: skip them before strlen.
        let mut first_letters = [false; 256];
        for name in names {
            if let Some(&b) = name.to_bytes().first() {
                first_letters[b as usize] = true;
            }
        }
        let mut scan = |table: usize, size: usize| {
            if table == 0 {
                return;
            }
            let relocations = table as *const Rela;
            for i in 0..size / std::mem::size_of::<Rela>() {
                let r = &*relocations.add(i);
                let kind = (r.info & 0xffff_ffff) as u32;
                if kind != GLOB_DAT && kind != JUMP_SLOT {
                    continue;
                }
                let sym = &*(symtab as *const Sym).add((r.info >> 32) as usize);
                if sym.shndx != 0 || sym.name as usize >= strsz.max(1) {
                    continue; // defined in the object itself: not an import
                }
                let name = (strtab + sym.name as usize) as *const c_char;
                if !first_letters[*name as u8 as usize] {
                    continue;
                }
                let name = CStr::from_ptr(name);
                if let Some(index) = names.iter().position(|n| *n == name) {
                    found(Slot {
                        address: self.base + r.offset as usize,
                        name: index,
                        plt: kind == JUMP_SLOT,
                    });
                }
            }
        };
        scan(rela, relasz);
        if pltrel == DT_RELA {
            scan(jmprel, pltrelsz);
        }
    }

    /// Writes `value` into the slot at `address`. A slot in the RELRO region (read-only once
    /// loaded) is made writable for the write and read-only again after, page by page as glibc
    /// protected it; a slot anywhere else must be in a writable segment. False if not written.
    ///
    /// # Safety
    /// `address` must be a GOT slot of this loaded object.
    pub unsafe fn write(&self, address: usize, value: usize, page: usize) -> bool {
        let relro = self
            .phdrs
            .iter()
            .find(|p| p.p_type == libc::PT_GNU_RELRO)
            .map(|p| {
                let start = self.base + p.p_vaddr as usize;
                // glibc's _dl_protect_relro rounds both ends down: a partial last page stays writable.
                (start & !(page - 1))..((start + p.p_memsz as usize) & !(page - 1))
            });
        let slot = &*(address as *const AtomicUsize);
        if let Some(range) = relro.filter(|r| r.contains(&address)) {
            let page_start = (address & !(page - 1)) as *mut libc::c_void;
            debug_assert!(range.contains(&(page_start as usize)));
            if libc::mprotect(page_start, page, libc::PROT_READ | libc::PROT_WRITE) != 0 {
                return false;
            }
            slot.store(value, Ordering::Release);
            libc::mprotect(page_start, page, libc::PROT_READ);
            return true;
        }
        let writable = self.phdrs.iter().any(|p| {
            let start = self.base + p.p_vaddr as usize;
            p.p_type == libc::PT_LOAD
                && p.p_flags & libc::PF_W != 0
                && (start..start + p.p_memsz as usize).contains(&address)
        });
        if writable {
            slot.store(value, Ordering::Release);
        }
        writable
    }
}

/// The value in a slot.
///
/// # Safety
/// `address` must be a GOT slot of a loaded object.
pub unsafe fn read(address: usize) -> usize {
    (*(address as *const AtomicUsize)).load(Ordering::Acquire)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test program's own GOT: its slot for `socket` (the libc crate imports it) holds libc's
    /// socket, as the dynamic loader put it there; writing it back (through mprotect when it is in
    /// RELRO) works and leaves the program running.
    #[test]
    fn finds_and_rewrites_the_test_programs_own_socket_slot() {
        unsafe extern "C" fn each(
            info: *mut libc::dl_phdr_info,
            _: usize,
            out: *mut libc::c_void,
        ) -> libc::c_int {
            let info = &*info;
            let object = Object {
                base: info.dlpi_addr as usize,
                phdrs: std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize),
            };
            let found = &mut *(out as *mut Vec<(usize, usize, bool, bool)>);
            let page = libc::getauxval(libc::AT_PAGESZ) as usize;
            object.slots(&crate::deepbind::HOOKED, |s| {
                let value = read(s.address);
                let written = object.write(s.address, value, page);
                found.push((
                    value,
                    s.name,
                    s.plt, // Rust calls through the GOT (GLOB_DAT), C through the PLT
                    written && object.contains(s.address),
                ))
            });
            1 // the first object is the program itself
        }
        let libc_socket = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"socket".as_ptr()) } as usize;
        let _ = std::hint::black_box(libc::socket as *const () as usize);
        let mut found: Vec<(usize, usize, bool, bool)> = Vec::new();
        unsafe { libc::dl_iterate_phdr(Some(each), (&mut found as *mut Vec<_>).cast()) };
        let socket: Vec<_> = found.iter().filter(|f| f.1 == 0).collect();
        assert!(
            !socket.is_empty(),
            "no socket slot found in the test program: {found:?}"
        );
        for (value, _, _, written) in socket {
            assert_eq!(*value, libc_socket, "slot does not hold libc's socket");
            assert!(written, "slot could not be rewritten");
        }
        // Still callable through the rewritten slot.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
        assert!(fd >= 0);
        unsafe { libc::close(fd) };
    }
}
