//! RTLD_DEEPBIND: a library opened with it looks its symbols up in its own dependency tree (itself,
//! its libraries, libc) before the global scope, so its socket()/connect() bind straight to libc and
//! never see a preloaded library. PHP opens every extension this way (sockets, pgsql + libpq, curl +
//! libcurl); see docs/ld-preload-gaps.md.
//!
//! The flag is kept, so every other symbol still binds as the program asked. After a successful
//! RTLD_DEEPBIND dlopen by path, only the GOT slots of the hooked functions are pointed at kashim,
//! only in the objects that this very call loaded, and only where the slot holds libc's own
//! function (or the lazy stub that would resolve to it): exactly the call the library would have
//! made, now passing through kashim's detour, which then calls that same libc function.
//!
//! Which objects this call loaded: the loader appends new objects to the end of the list in load
//! order, the opened library first, then its dependencies. So they are the library itself, if it
//! is new, and the objects after it that it needs (its DT_NEEDED names, transitively). An object
//! another thread is loading at the same time is never among them (it is not in this library's
//! tree), so kashim never writes, or changes the protection of, memory the loader may still be
//! writing. Everything this call loaded has been relocated by the time dlopen returns, and stays
//! loaded while the handle holds it.

use crate::config::LogLevel;
use crate::decide::deepbind::short_name;
use crate::hooks::{self, COUNT, NAMES};
use crate::state::config::{active_config, config};
use crate::sys::elf::Object;
use crate::sys::errno::ErrnoGuard;
use crate::sys::guard::guarded;
use crate::sys::logger::log;
use crate::sys::resolve::{self, load_count, LoadCount};
use libc::{c_char, c_int, c_void};
use std::ffi::CStr;
use std::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize, Ordering};

/// The most objects one load is followed through, and the most names they may need: PHP's largest
/// extension trees load a few dozen. Past these the rest is left alone, and logged.
const MAX_OBJECTS: usize = 256;
const MAX_NEEDED: usize = 512;

/// Runs `load` (the real dlopen/dlmopen) and, if it loaded anything, points the new tree's calls of
/// hooked functions at kashim.
pub fn load_and_patch(file: Option<&[u8]>, load: impl FnOnce() -> *mut c_void) -> *mut c_void {
    let before = guarded(None, || Some(load_count()));
    let handle = load();
    if let (false, Some(before)) = (handle.is_null(), before) {
        let _errno = ErrnoGuard::save();
        guarded((), || after_load(handle, file.unwrap_or_default(), before));
    }
    handle
}

/// `struct link_map`'s public part (<link.h>), as dlinfo(RTLD_DI_LINKMAP) returns it.
#[repr(C)]
struct LinkMap {
    addr: usize,
    name: *const c_char,
    dynamic: usize,
    next: *const LinkMap,
    previous: *const LinkMap,
}

const RTLD_DI_LINKMAP: c_int = 2;

type DlinfoFn = unsafe extern "C" fn(*mut c_void, c_int, *mut c_void) -> c_int;
type DlsymFn = unsafe extern "C" fn(*mut c_void, *const c_char) -> *mut c_void;
type DlerrorFn = unsafe extern "C" fn() -> *mut c_char;

/// A libdl function kashim calls itself, found through the resolver (never linked: on glibc < 2.34
/// libdl is loaded only by programs that use it, and a program that calls dlopen does).
fn libdl_function(cache: &AtomicUsize, name: &CStr) -> Option<usize> {
    let known = cache.load(Ordering::Acquire);
    let address = if known != 0 {
        known
    } else {
        let found = resolve::next_definition(name);
        cache.store(found, Ordering::Release);
        found
    };
    (address != 0).then_some(address)
}

fn dlinfo() -> Option<DlinfoFn> {
    static CACHE: AtomicUsize = AtomicUsize::new(0);
    // SAFETY: the definition of dlinfo, whose C type is DlinfoFn.
    libdl_function(&CACHE, c"dlinfo").map(|a| unsafe { std::mem::transmute::<usize, DlinfoFn>(a) })
}

fn dlsym() -> Option<DlsymFn> {
    static CACHE: AtomicUsize = AtomicUsize::new(0);
    // SAFETY: as above, for dlsym.
    libdl_function(&CACHE, c"dlsym").map(|a| unsafe { std::mem::transmute::<usize, DlsymFn>(a) })
}

fn dlerror() -> Option<DlerrorFn> {
    static CACHE: AtomicUsize = AtomicUsize::new(0);
    // SAFETY: as above, for dlerror.
    libdl_function(&CACHE, c"dlerror")
        .map(|a| unsafe { std::mem::transmute::<usize, DlerrorFn>(a) })
}

/// kashim's own export of each hooked function, where it is the program-wide definition (else 0):
/// what the RTLD_DEEPBIND trees are bound to. Set by `kashim_is_global`.
static OWN: [AtomicUsize; COUNT] = [const { AtomicUsize::new(0) }; COUNT];

/// Per hooked function, bit set: kashim's own export is the program-wide definition. Only then
/// is a tree bound to kashim: with another preload ahead of it, binding to kashim would skip that
/// one. Computed at the first RTLD_DEEPBIND load, kept in static memory (nothing on the heap).
fn kashim_is_global() -> u32 {
    static KNOWN: AtomicU8 = AtomicU8::new(0);
    static BITS: AtomicU32 = AtomicU32::new(0);
    if KNOWN.load(Ordering::Acquire) != 0 {
        return BITS.load(Ordering::Relaxed);
    }
    let (mut global, mut own) = ([0usize; COUNT], [0usize; COUNT]);
    resolve::global_definitions(&NAMES, &mut global);
    resolve::own_definitions(&NAMES, &mut own);
    let mut bits = 0u32;
    for (i, (global, own)) in global.into_iter().zip(own).enumerate() {
        if own != 0 && global == own {
            bits |= 1 << i;
            OWN[i].store(own, Ordering::Relaxed);
        }
    }
    BITS.store(bits, Ordering::Relaxed);
    KNOWN.store(1, Ordering::Release);
    bits
}

/// The objects this load brought in, found by following the opened library's DT_NEEDED names
/// through the objects loaded after it.
struct Tree<'n> {
    /// Program headers of each object of the tree (unique while loaded), in load order.
    objects: [usize; MAX_OBJECTS],
    len: usize,
    needed: [Option<&'n CStr>; MAX_NEEDED],
    needed_len: usize,
    /// Some object or name did not fit.
    cut: bool,
}

impl<'n> Tree<'n> {
    fn has(&self, phdrs: usize) -> bool {
        self.objects[..self.len].contains(&phdrs)
    }

    /// Does the tree need an object that answers to one of the names collected so far?
    ///
    /// # Safety
    /// The object is loaded.
    unsafe fn needs(&self, dynamic: &crate::sys::elf::Dynamic<'_, '_>) -> bool {
        self.needed[..self.needed_len]
            .iter()
            .flatten()
            .any(|name| dynamic.answers_to(name.to_bytes()))
    }

    /// # Safety
    /// The object stays loaded while the tree is used (the handle holds it).
    unsafe fn add(&mut self, object: &Object<'_>, dynamic: &crate::sys::elf::Dynamic<'_, '_>) {
        if self.len == MAX_OBJECTS {
            self.cut = true;
            return;
        }
        self.objects[self.len] = object.phdrs.as_ptr() as usize;
        self.len += 1;
        for name in dynamic.needed() {
            if self.needed_len == MAX_NEEDED {
                self.cut = true;
                break;
            }
            self.needed[self.needed_len] = Some(&*(name as *const CStr));
            self.needed_len += 1;
        }
    }
}

/// What the patching found, for the log and the lazy-slot pass.
struct Patched {
    /// Slots rewritten, and the names they were for.
    count: usize,
    which: u32,
    /// Names with a lazy (not yet bound) PLT slot in the tree.
    lazy: u32,
    /// Per name: a value bound to neither libc nor kashim (the tree's own definition).
    other: [usize; COUNT],
}

fn after_load(handle: *mut c_void, file: &[u8], before: LoadCount) {
    let Some(config) = active_config() else {
        return;
    };
    let (Some(dlinfo), Some(dlsym)) = (dlinfo(), dlsym()) else {
        return not_reached(file, "libdl's dlinfo or dlsym was not found");
    };
    let mut map: *const LinkMap = std::ptr::null();
    // SAFETY: a live handle; RTLD_DI_LINKMAP writes one pointer.
    if unsafe {
        dlinfo(
            handle,
            RTLD_DI_LINKMAP,
            (&mut map as *mut *const LinkMap).cast(),
        )
    } != 0
        || map.is_null()
    {
        clear_dlerror();
        return;
    }
    // SAFETY: the loader's link map for a live handle.
    let root_dynamic = unsafe { (*map).dynamic };
    let after = load_count();
    let unloaded_meanwhile = after.unloaded.wrapping_sub(before.unloaded) as usize;
    let page = crate::sys::page_size();
    let bits = kashim_is_global();
    let mut tree = Tree {
        objects: [0; MAX_OBJECTS],
        len: 0,
        needed: [None; MAX_NEEDED],
        needed_len: 0,
        cut: false,
    };
    let mut patched = Patched {
        count: 0,
        which: 0,
        lazy: 0,
        other: [0; COUNT],
    };
    let mut ambiguous = false;
    resolve::each_object(|index, object| {
        // SAFETY: inside the walk, the object is loaded.
        let Some(dynamic) = (unsafe { object.dynamic() }) else {
            return true;
        };
        if tree.len == 0 {
            if dynamic.address() != root_dynamic {
                return true;
            }
            // The opened library. Loaded before this call, it brought nothing new: old objects
            // always come first in the list, minus any unloaded since.
            if index < before.objects.saturating_sub(unloaded_meanwhile) {
                return false;
            }
            if index < before.objects {
                ambiguous = true; // objects were unloaded meanwhile: cannot tell
                return false;
            }
        } else if !unsafe { tree.needs(&dynamic) } {
            return true;
        }
        // SAFETY: loaded by this call (so relocated) and held by its handle.
        unsafe {
            tree.add(object, &dynamic);
            patch_object(object, &dynamic, bits, page, None, &mut patched);
        }
        true
    });
    if ambiguous {
        return not_reached(file, "other libraries were unloaded during the load");
    }
    if patched.lazy != 0 {
        // A lazy slot binds on its first call through the tree's own lookup scope: ask it.
        let mut to_libc = 0u32;
        for (i, name) in NAMES.iter().enumerate() {
            if patched.lazy & (1 << i) != 0 {
                // SAFETY: a live handle and a NUL-terminated name.
                let bound = unsafe { dlsym(handle, name.as_ptr()) } as usize;
                if bound != 0 && bound == hooks::resolved(i) {
                    to_libc |= 1 << i;
                } else if bound != 0 && bound != OWN[i].load(Ordering::Relaxed) {
                    patched.other[i] = bound;
                }
            }
        }
        clear_dlerror();
        if to_libc != 0 {
            resolve::each_object(|_, object| {
                if tree.has(object.phdrs.as_ptr() as usize) {
                    // SAFETY: as above.
                    if let Some(dynamic) = unsafe { object.dynamic() } {
                        unsafe {
                            patch_object(object, &dynamic, bits, page, Some(to_libc), &mut patched)
                        };
                    }
                }
                true
            });
        }
    }
    report(file, config.log, &patched, tree.cut);
}

/// Rewrites one object's slots for hooked functions: bound to libc's function, or (second pass,
/// `lazy_to_libc`) a lazy stub that would bind to it.
///
/// # Safety
/// The object is loaded, relocated, and held.
unsafe fn patch_object(
    object: &Object<'_>,
    dynamic: &crate::sys::elf::Dynamic<'_, '_>,
    kashim_is_global: u32,
    page: usize,
    lazy_to_libc: Option<u32>,
    patched: &mut Patched,
) {
    dynamic.import_slots(&NAMES, |slot| {
        let i = slot.name;
        let (real, hook) = (hooks::resolved(i), OWN[i].load(Ordering::Relaxed));
        if real == 0 || hook == 0 || kashim_is_global & (1 << i) == 0 {
            return;
        }
        let value = crate::sys::elf::read_slot(slot.address);
        let lazy_stub = slot.plt && object.contains(value);
        let rewrite = match lazy_to_libc {
            Some(names) => lazy_stub && names & (1 << i) != 0,
            None if value == real => true,
            None => {
                if lazy_stub {
                    patched.lazy |= 1 << i;
                } else if value != hook && value != 0 && patched.other[i] == 0 {
                    patched.other[i] = value;
                }
                false
            }
        };
        if rewrite && object.write_slot(slot.address, hook, page) {
            patched.count += 1;
            patched.which |= 1 << i;
        }
    });
}

fn clear_dlerror() {
    // A failed lookup above leaves a message; the program's dlopen succeeded, so its dlerror()
    // must say nothing.
    if let Some(dlerror) = dlerror() {
        // SAFETY: dlerror only reads and clears this thread's message.
        unsafe { dlerror() };
    }
}

fn report(file: &[u8], level: LogLevel, patched: &Patched, cut: bool) {
    for (i, name) in NAMES.iter().enumerate() {
        if patched.other[i] != 0 {
            let path = resolve::object_path(patched.other[i]).unwrap_or_default();
            let what = format!(
                "its dependency {} brings its own {}()",
                String::from_utf8_lossy(short_name(&path)),
                name.to_string_lossy()
            );
            not_reached(file, &what);
        }
    }
    if cut {
        not_reached(
            file,
            "its tree is larger than kashim follows; only part was reached",
        );
    }
    if patched.count == 0 {
        return; // a tree that makes no socket calls of its own: nothing to say
    }
    let mut names = String::new();
    for (i, name) in NAMES.iter().enumerate() {
        if patched.which & (1 << i) != 0 {
            names.push(' ');
            names.push_str(&name.to_string_lossy());
        }
    }
    log(
        level,
        LogLevel::Debug,
        format_args!(
            "{}: opened with RTLD_DEEPBIND: {} calls now pass through kashim ({})",
            String::from_utf8_lossy(short_name(file)),
            patched.count,
            names.trim_start()
        ),
    );
}

/// Logs `what` about `file` at info level, once per library (a small table of name hashes; when it
/// is full, further libraries are still logged).
pub fn not_reached(file: &[u8], what: &str) {
    static SEEN: [std::sync::atomic::AtomicU64; 32] =
        [const { std::sync::atomic::AtomicU64::new(0) }; 32];
    let Some(config) = config() else { return };
    if config.log < LogLevel::Info {
        return;
    }
    let hash = file.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }) | 1;
    for slot in &SEEN {
        match slot.compare_exchange(0, hash, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => break,
            Err(seen) if seen == hash => return,
            Err(_) => {}
        }
    }
    let name = String::from_utf8_lossy(short_name(file));
    log(
        config.log,
        LogLevel::Info,
        format_args!("{name}: {what}; its sockets are not reached (use kashim --ebpf or --attach)"),
    );
}
