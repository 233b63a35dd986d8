//! The one resolver of definitions: for a name, the function kashim's hook forwards to (what
//! `dlsym(RTLD_NEXT, name)` would give from inside kashim), the program-wide definition (what
//! `dlsym(RTLD_DEFAULT, name)` would give), and kashim's own object. All by walking the loaded
//! objects with `dl_iterate_phdr` and reading their hash tables through `sys::elf`.
//!
//! Why not dlsym: on glibc before 2.34 dlsym, dladdr and dlerror live in libdl, so calling them
//! would make every program that preloads kashim load libdl.so.2 too (docs/performance.md has the
//! cost). dl_iterate_phdr is in libc on every glibc. The walk also costs a fraction of dlsym's
//! lookup per name; docs/performance.md has both numbers.
//!
//! The next definition is searched for as glibc searches for RTLD_NEXT: the objects after kashim in
//! load order (for a preloaded or linked kashim, that is the search order); if none defines the
//! name, kashim's own dependencies (a dlopen()ed kashim: libc was loaded before it). An IFUNC's
//! resolver is called, as the loader calls it, to get the function.

use super::elf::{Definition, Dynamic, Object};
use libc::{c_int, c_void, dl_phdr_info, size_t};
use std::ffi::CStr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// An address inside kashim, to recognise its object.
fn inside_kashim() -> usize {
    inside_kashim as fn() -> usize as usize
}

/// Calls `each(index, object)` for every loaded object in load order until it returns false.
pub fn each_object<F: FnMut(usize, &Object<'_>) -> bool>(each: F) {
    struct Walk<F> {
        each: F,
        index: usize,
    }
    // One callback per closure type (generic, not `dyn`): no vtable in the library's relocated
    // data, which every process pays for at load.
    #[link_section = ".text.startup.kashim"]
    unsafe extern "C" fn callback<F: FnMut(usize, &Object<'_>) -> bool>(
        info: *mut dl_phdr_info,
        _: size_t,
        data: *mut c_void,
    ) -> c_int {
        let walk = &mut *(data as *mut Walk<F>);
        let index = walk.index;
        walk.index += 1;
        match Object::from_info(&*info) {
            Some(object) => c_int::from(!(walk.each)(index, &object)),
            None => 0,
        }
    }
    let mut walk = Walk { each, index: 0 };
    // SAFETY: the callback reads only what dl_iterate_phdr hands it, while the loader holds the
    // objects; `walk` outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(callback::<F>), (&mut walk as *mut Walk<F>).cast()) };
}

/// The path of the object that holds `address`, copied (for a log line).
pub fn object_path(address: usize) -> Option<Vec<u8>> {
    let mut path = None;
    each_object(|_, object| {
        if object.contains(address) {
            path = Some(object.path.to_bytes().to_vec());
            return false;
        }
        true
    });
    path
}

/// The path the loader opened kashim from, or `None` if the walk did not see it (never expected).
pub fn own_path() -> Option<&'static CStr> {
    let here = inside_kashim();
    let mut own = None;
    each_object(|_, object| {
        if object.contains(here) {
            // SAFETY: the loader keeps kashim's path for as long as kashim is loaded, which is as
            // long as this code exists.
            own = Some(unsafe { &*(object.path as *const CStr) });
            return false;
        }
        true
    });
    own
}

/// The function a definition stands for: an IFUNC's resolver is called, as the loader would.
fn function(definition: Definition) -> usize {
    if !definition.indirect {
        return definition.address;
    }
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: an IFUNC resolver; on x86_64 glibc calls them with no arguments (dl-irel.h).
        let resolver: unsafe extern "C" fn() -> usize =
            unsafe { std::mem::transmute(definition.address) };
        unsafe { resolver() }
    }
    #[cfg(target_arch = "aarch64")]
    {
        // SAFETY: an IFUNC resolver; without _IFUNC_ARG_HWCAP in the first argument glibc's
        // resolvers read only the hwcap bits.
        let resolver: unsafe extern "C" fn(u64, *const c_void) -> usize =
            unsafe { std::mem::transmute(definition.address) };
        unsafe { resolver(libc::getauxval(libc::AT_HWCAP), std::ptr::null()) }
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        0
    }
}

/// The function `dynamic`'s object defines for `name`, or 0.
///
/// # Safety
/// The object is loaded.
#[link_section = ".text.startup.kashim"]
unsafe fn function_in(dynamic: &Dynamic<'_, '_>, name: &CStr) -> usize {
    dynamic.lookup(name.to_bytes()).map_or(0, function)
}

/// The names kashim itself needs (libc.so.6...), read from its own dynamic section, which stays
/// mapped as long as this code does.
///
/// # Safety
/// `dynamic` is kashim's own.
#[link_section = ".text.startup.kashim"]
unsafe fn own_needed(dynamic: &Dynamic<'_, '_>) -> [Option<&'static CStr>; 8] {
    let mut own = [None; 8];
    for (slot, name) in own.iter_mut().zip(dynamic.needed()) {
        *slot = Some(&*(name as *const CStr));
    }
    own
}

/// For each of `names`, the next definition after kashim, or 0 where there is none: one walk, and
/// for a dlopen()ed kashim (whose libc was loaded before it) a second over its own dependencies.
/// `found` has one slot per name.
pub fn next_definitions(names: &[&CStr], found: &mut [usize]) {
    let here = inside_kashim();
    found.fill(0);
    let mut position = None;
    let mut own: [Option<&'static CStr>; 8] = [None; 8];
    let search = |dynamic: &Dynamic<'_, '_>, found: &mut [usize]| {
        let mut missing = 0;
        for (name, slot) in names.iter().zip(found.iter_mut()) {
            if *slot == 0 {
                // SAFETY: inside the walk, the object is loaded.
                *slot = unsafe { function_in(dynamic, name) };
                missing += usize::from(*slot == 0);
            }
        }
        missing
    };
    each_object(|index, object| {
        // SAFETY: inside the walk, the object is loaded.
        let Some(dynamic) = (unsafe { object.dynamic() }) else {
            return true;
        };
        if position.is_none() {
            if object.contains(here) {
                position = Some(index);
                // SAFETY: this is kashim's own object.
                own = unsafe { own_needed(&dynamic) };
            }
            return true;
        }
        search(&dynamic, found) > 0
    });
    let Some(own_position) = position else {
        return;
    };
    if found.iter().all(|&f| f != 0) {
        return;
    }
    each_object(|index, object| {
        if index >= own_position {
            return false;
        }
        // SAFETY: inside the walk, the object is loaded.
        if let Some(dynamic) = unsafe { object.dynamic() } {
            let needed_by_kashim = own
                .iter()
                .flatten()
                .any(|name| unsafe { dynamic.answers_to(name.to_bytes()) });
            if needed_by_kashim {
                search(&dynamic, found);
            }
        }
        true
    });
}

/// The next definition of one name after kashim, or 0.
pub fn next_definition(name: &CStr) -> usize {
    let mut found = [0];
    next_definitions(&[name], &mut found);
    found[0]
}

/// The most objects the search order records; a process with more after kashim at start has its
/// names resolved at once instead (`record_search_order` says so).
const RECORDED_MAX: usize = 16;

/// One object of the recorded search order: what dl_iterate_phdr said of it.
struct Recorded {
    bias: AtomicUsize,
    name: AtomicUsize,
    phdr: AtomicUsize,
    phnum: AtomicUsize,
}

/// The objects `next_definitions` searches, in its order, recorded once at start; RECORDED_LEN is
/// published (Release) after them, and never changes again.
static RECORDED: [Recorded; RECORDED_MAX] = [const {
    Recorded {
        bias: AtomicUsize::new(0),
        name: AtomicUsize::new(0),
        phdr: AtomicUsize::new(0),
        phnum: AtomicUsize::new(0),
    }
}; RECORDED_MAX];
static RECORDED_LEN: AtomicUsize = AtomicUsize::new(NOT_RECORDED);
const NOT_RECORDED: usize = usize::MAX;

/// Records the objects a next definition is searched in, in the order `next_definitions` searches
/// them: the objects after kashim. One walk, and no lookup: `recorded_next_definition` looks a name
/// up in them when its hook first runs, without walking the objects (no loader lock). Only for a
/// kashim loaded with the program (preloaded or linked), recognised by its own dependencies
/// (libc) coming after it: every object recorded then stays loaded for the life of the process.
/// False otherwise (a dlopen()ed kashim, after which a later dlclose could unload what it would
/// record), or when the objects are too many to record: the caller resolves every name at once.
#[link_section = ".text.startup.kashim"]
pub fn record_search_order() -> bool {
    let here = inside_kashim();
    let mut len = 0;
    let mut overflow = false;
    let mut found_kashim = false;
    let mut own: [Option<&'static CStr>; 8] = [None; 8];
    let mut answered = [false; 8];
    each_object(|_, object| {
        if !found_kashim {
            if object.contains(here) {
                found_kashim = true;
                // SAFETY: inside the walk, the object is loaded, and it is kashim's own.
                if let Some(dynamic) = unsafe { object.dynamic() } {
                    own = unsafe { own_needed(&dynamic) };
                }
            }
            return true;
        }
        // SAFETY: inside the walk, the object is loaded.
        if let Some(dynamic) = unsafe { object.dynamic() } {
            for (name, done) in own.iter().zip(answered.iter_mut()) {
                if let Some(name) = name {
                    *done |= unsafe { dynamic.answers_to(name.to_bytes()) };
                }
            }
            let Some(slot) = RECORDED.get(len) else {
                overflow = true;
                return false;
            };
            slot.bias.store(object.bias, Ordering::Relaxed);
            slot.name
                .store(object.path.as_ptr() as usize, Ordering::Relaxed);
            slot.phdr
                .store(object.phdrs.as_ptr() as usize, Ordering::Relaxed);
            slot.phnum.store(object.phdrs.len(), Ordering::Relaxed);
            len += 1;
        }
        true
    });
    let loaded_with_the_program = own
        .iter()
        .zip(answered)
        .all(|(name, done)| name.is_none() || done);
    if !found_kashim || overflow || !loaded_with_the_program {
        return false;
    }
    RECORDED_LEN.store(len, Ordering::Release);
    true
}

/// `name`'s next definition, looked up in the search order recorded at start: `None` if none was
/// recorded (the caller walks instead), `Some(0)` if no recorded object defines it. Reads only the
/// objects' hash and symbol tables: safe wherever a hook runs.
pub fn recorded_next_definition(name: &CStr) -> Option<usize> {
    let len = RECORDED_LEN.load(Ordering::Acquire);
    if len == NOT_RECORDED {
        return None;
    }
    for slot in &RECORDED[..len] {
        // SAFETY: a dl_phdr_info rebuilt from what the walk said of an object that stays loaded.
        let info = dl_phdr_info {
            dlpi_addr: slot.bias.load(Ordering::Relaxed) as libc::Elf64_Addr,
            dlpi_name: slot.name.load(Ordering::Relaxed) as *const libc::c_char,
            dlpi_phdr: slot.phdr.load(Ordering::Relaxed) as *const libc::Elf64_Phdr,
            dlpi_phnum: slot.phnum.load(Ordering::Relaxed) as libc::Elf64_Half,
            ..unsafe { std::mem::zeroed() }
        };
        let Some(object) = (unsafe { Object::from_info(&info) }) else {
            continue;
        };
        if let Some(dynamic) = unsafe { object.dynamic() } {
            match unsafe { function_in(&dynamic, name) } {
                0 => {}
                address => return Some(address),
            }
        }
    }
    Some(0)
}

/// For each of `names`, kashim's own exported definition (0 where it exports none). Read from
/// kashim's symbol table rather than taken as addresses in the code: an address of an exported
/// function in the code costs a symbol lookup in every process at load time.
pub fn own_definitions(names: &[&CStr], found: &mut [usize]) {
    let here = inside_kashim();
    found.fill(0);
    each_object(|_, object| {
        if !object.contains(here) {
            return true;
        }
        // SAFETY: inside the walk, the object is loaded.
        if let Some(dynamic) = unsafe { object.dynamic() } {
            for (name, slot) in names.iter().zip(found.iter_mut()) {
                if let Some(definition) = unsafe { dynamic.lookup(name.to_bytes()) } {
                    *slot = definition.address;
                }
            }
        }
        false
    });
}

/// For each of `names`, the program-wide definition: the first object in load order that defines
/// it (the program, then what it preloads and links), as `dlsym(RTLD_DEFAULT)` finds it; 0 if none.
/// One walk.
pub fn global_definitions(names: &[&CStr], found: &mut [usize]) {
    found.fill(0);
    each_object(|_, object| {
        // SAFETY: inside the walk, the object is loaded.
        let Some(dynamic) = (unsafe { object.dynamic() }) else {
            return true;
        };
        let mut missing = 0;
        for (name, slot) in names.iter().zip(found.iter_mut()) {
            if *slot == 0 {
                *slot = unsafe { function_in(&dynamic, name) };
                missing += usize::from(*slot == 0);
            }
        }
        missing > 0
    });
}

/// The objects loaded now, and how many were ever unloaded: what a later walk is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadCount {
    pub objects: usize,
    pub unloaded: u64,
}

/// Counts the loaded objects (one walk, no memory).
pub fn load_count() -> LoadCount {
    struct Count {
        objects: usize,
        unloaded: u64,
    }
    unsafe extern "C" fn callback(info: *mut dl_phdr_info, _: size_t, data: *mut c_void) -> c_int {
        let count = &mut *(data as *mut Count);
        count.objects += 1;
        count.unloaded = (*info).dlpi_subs;
        0
    }
    let mut count = Count {
        objects: 0,
        unloaded: 0,
    };
    // SAFETY: the callback writes only into `count`.
    unsafe { libc::dl_iterate_phdr(Some(callback), (&mut count as *mut Count).cast()) };
    LoadCount {
        objects: count.objects,
        unloaded: count.unloaded,
    }
}

#[cfg(test)]
mod tests;
