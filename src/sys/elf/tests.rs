use super::*;

#[test]
fn gnu_hash_of_known_names() {
    // Values from the gABI extension's reference implementation.
    assert_eq!(gnu_hash(b""), 0x0000_1505);
    assert_eq!(gnu_hash(b"printf"), 0x156b_2bb8);
    assert_eq!(gnu_hash(b"exit"), 0x7c96_7e3f);
    assert_eq!(gnu_hash(b"syscall"), 0xbac2_12a0);
}

#[test]
fn sysv_hash_of_known_names() {
    // Values from the System V gABI's elf_hash.
    assert_eq!(sysv_hash(b""), 0);
    assert_eq!(sysv_hash(b"printf"), 0x0779_05a6);
    assert_eq!(sysv_hash(b"exit"), 0x0006_cf04);
    assert_eq!(sysv_hash(b"syscall"), 0x0b09_985c);
}

/// A small object laid out in memory by hand: one segment linked at LINK_ADDRESS, far above where
/// the buffer really is, so the load bias is negative (an object loaded below its link address),
/// with a dynamic section, a string table, a symbol table defining `socket`, and only a SysV hash
/// table (no DT_GNU_HASH).
struct FakeObject {
    memory: Vec<u64>,
    phdrs: [Elf64_Phdr; 2],
}

const LINK_ADDRESS: u64 = 0x8000_0000_0000;
const DYNAMIC_AT: usize = 0x100;
const STRTAB_AT: usize = 0x200;
const SYMTAB_AT: usize = 0x300;
const HASH_AT: usize = 0x380;
const SOCKET_AT: usize = 0x400;

impl FakeObject {
    fn new(relocated_in_place: bool) -> FakeObject {
        let mut memory = vec![0u64; 4096 / 8];
        let base = memory.as_ptr() as usize;
        let bias = base.wrapping_sub(LINK_ADDRESS as usize);
        // As glibc leaves a pointer: relocated if the dynamic section is writable, else relative.
        let pointer = |offset: usize| {
            let link = LINK_ADDRESS + offset as u64;
            if relocated_in_place {
                bias.wrapping_add(link as usize) as u64
            } else {
                link
            }
        };
        let bytes = memory.as_mut_ptr() as *mut u8;
        unsafe {
            let dynamic = bytes.add(DYNAMIC_AT) as *mut Dyn;
            let entries = [
                (DT_STRTAB, pointer(STRTAB_AT)),
                (DT_SYMTAB, pointer(SYMTAB_AT)),
                (DT_HASH, pointer(HASH_AT)),
                (DT_STRSZ, 8),
                (DT_NULL, 0),
            ];
            for (i, (tag, val)) in entries.into_iter().enumerate() {
                dynamic.add(i).write(Dyn { tag, val });
            }
            std::ptr::copy_nonoverlapping(
                [0u8, b's', b'o', b'c', b'k', b'e', b't', 0].as_ptr(),
                bytes.add(STRTAB_AT),
                8,
            );
            let symbols = bytes.add(SYMTAB_AT) as *mut Sym;
            symbols.add(1).write(Sym {
                name: 1,
                info: (STB_GLOBAL << 4) | STT_FUNC,
                other: 0,
                shndx: 1,
                value: LINK_ADDRESS + SOCKET_AT as u64,
                size: 0,
            });
            // nbucket 1, nchain 2, bucket[0] = 1, chain = [0, 0]
            let hash = bytes.add(HASH_AT) as *mut u32;
            for (i, v) in [1u32, 2, 1, 0, 0].into_iter().enumerate() {
                hash.add(i).write(v);
            }
        }
        let mut phdrs: [Elf64_Phdr; 2] = unsafe { std::mem::zeroed() };
        phdrs[0].p_type = libc::PT_LOAD;
        phdrs[0].p_vaddr = LINK_ADDRESS;
        phdrs[0].p_memsz = 4096;
        phdrs[0].p_flags = libc::PF_R | libc::PF_W;
        phdrs[1].p_type = libc::PT_DYNAMIC;
        phdrs[1].p_vaddr = LINK_ADDRESS + DYNAMIC_AT as u64;
        phdrs[1].p_memsz = 5 * std::mem::size_of::<Dyn>() as u64;
        phdrs[1].p_flags = if relocated_in_place {
            libc::PF_R | libc::PF_W
        } else {
            libc::PF_R
        };
        FakeObject { memory, phdrs }
    }

    fn object(&self) -> Object<'_> {
        Object {
            bias: (self.memory.as_ptr() as usize).wrapping_sub(LINK_ADDRESS as usize),
            phdrs: &self.phdrs,
            path: c"/fake/libnegative.so",
        }
    }

    fn at(&self, offset: usize) -> usize {
        self.memory.as_ptr() as usize + offset
    }
}

#[test]
fn an_object_below_its_link_address_is_read_where_it_is() {
    for relocated_in_place in [true, false] {
        let fake = FakeObject::new(relocated_in_place);
        let object = fake.object();
        assert!(object.bias > usize::MAX / 2, "the bias is negative");
        let dynamic = unsafe { object.dynamic() }.expect("the dynamic section is read");
        assert_eq!(
            dynamic.strtab,
            fake.at(STRTAB_AT),
            "relocated: {relocated_in_place}"
        );
        assert_eq!(
            dynamic.symtab,
            fake.at(SYMTAB_AT),
            "relocated: {relocated_in_place}"
        );
        assert_eq!(dynamic.address(), fake.at(DYNAMIC_AT));
    }
}

#[test]
fn a_sysv_hash_table_alone_is_enough_to_find_a_symbol() {
    let fake = FakeObject::new(true);
    let object = fake.object();
    let dynamic = unsafe { object.dynamic() }.unwrap();
    assert_eq!(dynamic.gnu_hash, 0);
    assert_eq!(
        unsafe { dynamic.lookup(b"socket") },
        Some(Definition {
            address: fake.at(SOCKET_AT),
            indirect: false
        })
    );
    assert_eq!(unsafe { dynamic.lookup(b"connect") }, None);
    assert_eq!(unsafe { dynamic.lookup(b"sock") }, None);
}

#[test]
fn pointers_outside_the_object_are_not_followed() {
    let fake = FakeObject::new(true);
    let mut object = fake.object();
    let mut phdrs = fake.phdrs;
    phdrs[0].p_memsz = (STRTAB_AT) as u64; // the tables now lie outside the one segment
    object.phdrs = &phdrs;
    assert!(unsafe { object.dynamic() }.is_none());
}

/// The test program's own GOT: its slot for `socket` holds libc's socket, as the dynamic loader put
/// it there; writing it back (through mprotect when it is in RELRO) works and leaves the program
/// running.
#[test]
fn finds_and_rewrites_the_test_programs_own_socket_slot() {
    let libc_socket = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"socket".as_ptr()) } as usize;
    let _ = std::hint::black_box(libc::socket as *const () as usize);
    let mut found: Vec<(usize, bool)> = Vec::new();
    crate::sys::resolve::each_object(|index, object| {
        if index != 0 {
            return false; // the first object is the program itself
        }
        let dynamic = unsafe { object.dynamic() }.unwrap();
        unsafe {
            dynamic.import_slots(&[c"socket"], |slot| {
                let value = read_slot(slot.address);
                let written = object.write_slot(slot.address, value, crate::sys::page_size());
                found.push((value, written && object.contains(slot.address)));
            })
        };
        false
    });
    assert!(
        !found.is_empty(),
        "no socket slot found in the test program"
    );
    for (value, written) in found {
        assert_eq!(value, libc_socket, "slot does not hold libc's socket");
        assert!(written, "slot could not be rewritten");
    }
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    assert!(fd >= 0);
    unsafe { libc::close(fd) };
}
