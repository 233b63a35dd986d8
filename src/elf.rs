//! The parts of a loaded object's ELF dynamic section kashim reads (64-bit ELF), shared by the
//! start-up symbol scan (`real/scan.rs`) and the RTLD_DEEPBIND GOT rewriting (`deepbind/elf.rs`).

use libc::Elf64_Phdr;

#[repr(C)]
pub struct Dyn {
    pub tag: i64,
    pub val: u64,
}

#[repr(C)]
#[allow(dead_code)] // the layout is the ELF format's; not every field is read
pub struct Sym {
    pub name: u32,
    pub info: u8,
    pub other: u8,
    pub shndx: u16,
    pub value: u64,
    pub size: u64,
}

pub const DT_NULL: i64 = 0;
pub const DT_PLTRELSZ: i64 = 2;
pub const DT_STRTAB: i64 = 5;
pub const DT_SYMTAB: i64 = 6;
pub const DT_RELA: i64 = 7;
pub const DT_RELASZ: i64 = 8;
pub const DT_STRSZ: i64 = 10;
pub const DT_PLTREL: i64 = 20;
pub const DT_JMPREL: i64 = 23;
pub const DT_GNU_HASH: i64 = 0x6fff_fef5;
pub const DT_VERSYM: i64 = 0x6fff_fff0;

/// A loaded object as dl_iterate_phdr describes it.
pub struct Object<'a> {
    pub base: usize,
    pub phdrs: &'a [Elf64_Phdr],
}

impl Object<'_> {
    /// A pointer-valued dynamic entry as an address: glibc relocates the dynamic section's
    /// pointers in place on these architectures, but an address below the load base (the vDSO's)
    /// is still relative.
    #[link_section = ".text.kashim_startup"]
    pub fn absolute(&self, value: u64) -> usize {
        let value = value as usize;
        if value < self.base {
            self.base + value
        } else {
            value
        }
    }

    /// Calls `entry(tag, value)` for each dynamic entry up to DT_NULL; false if the object has no
    /// dynamic section.
    ///
    /// # Safety
    /// The object must be loaded and stay loaded (call from within dl_iterate_phdr).
    #[link_section = ".text.kashim_startup"]
    pub unsafe fn each_dynamic(&self, mut entry: impl FnMut(i64, u64)) -> bool {
        let Some(dynamic) = self.phdrs.iter().find(|p| p.p_type == libc::PT_DYNAMIC) else {
            return false;
        };
        let entries = (self.base + dynamic.p_vaddr as usize) as *const Dyn;
        for i in 0..dynamic.p_memsz as usize / std::mem::size_of::<Dyn>() {
            let e = &*entries.add(i);
            if e.tag == DT_NULL {
                break;
            }
            entry(e.tag, e.val);
        }
        true
    }
}
