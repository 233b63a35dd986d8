//! The dlopen/dlmopen entry points and the patching after an RTLD_DEEPBIND load.

use super::elf::{self, Object};
use super::{info_once, route, short_name, Route, HOOKED, LM_ID_BASE, RTLD_DEEPBIND};
use crate::config::LogLevel;
use crate::errno::ErrnoGuard;
use crate::init::{active_config, guarded};
use crate::logger::log;
use libc::{c_char, c_int, c_long, c_void};
use std::ffi::CStr;
use std::sync::atomic::{AtomicUsize, Ordering};

type DlopenFn = unsafe extern "C" fn(*const c_char, c_int) -> *mut c_void;
type DlmopenFn = unsafe extern "C" fn(c_long, *const c_char, c_int) -> *mut c_void;

static REAL_DLOPEN: AtomicUsize = AtomicUsize::new(0);
static REAL_DLMOPEN: AtomicUsize = AtomicUsize::new(0);

/// dlsym(RTLD_NEXT, name) (crate::real::next_definition), remembered.
fn next(cache: &AtomicUsize, name: &CStr) -> usize {
    let known = cache.load(Ordering::Acquire);
    if known != 0 {
        return known;
    }
    let found = crate::real::next_definition(name) as usize;
    cache.store(found, Ordering::Release);
    found
}

#[link_section = ".text.kashim_startup"]
pub fn resolve() {
    next(&REAL_DLOPEN, c"dlopen");
    next(&REAL_DLMOPEN, c"dlmopen");
}

fn name<'a>(file: *const c_char) -> Option<&'a [u8]> {
    // SAFETY: dlopen's argument is a NUL-terminated string or null.
    (!file.is_null()).then(|| unsafe { CStr::from_ptr(file) }.to_bytes())
}

// The exported entry points. Each saves its arguments, asks a Rust function where to go, restores
// them and jumps there: to libc's function for ordinary calls (a tail call, so libc sees the
// program as the caller), or to kashim's loader for an RTLD_DEEPBIND load by path.

#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
#[no_mangle]
pub unsafe extern "C" fn dlopen(file: *const c_char, mode: c_int) -> *mut c_void {
    core::arch::naked_asm!(
        "push rdi",
        "push rsi",
        "sub rsp, 8", // 16-byte alignment at the call
        "call {target}",
        "add rsp, 8",
        "pop rsi",
        "pop rdi",
        "jmp rax",
        target = sym dlopen_target,
    )
}

#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
#[no_mangle]
pub unsafe extern "C" fn dlmopen(
    namespace: c_long,
    file: *const c_char,
    mode: c_int,
) -> *mut c_void {
    core::arch::naked_asm!(
        "push rdi",
        "push rsi",
        "push rdx",
        "call {target}",
        "pop rdx",
        "pop rsi",
        "pop rdi",
        "jmp rax",
        target = sym dlmopen_target,
    )
}

/// Where dlopen(file, mode) goes. Never unwinds (it is called from assembly).
extern "C" fn dlopen_target(file: *const c_char, mode: c_int) -> usize {
    let real = next(&REAL_DLOPEN, c"dlopen");
    if mode & RTLD_DEEPBIND == 0 {
        return real; // every ordinary dlopen: nothing else is looked at
    }
    guarded(real, || {
        target(
            LM_ID_BASE,
            file,
            mode,
            real,
            deepbind_dlopen as *const () as usize,
        )
    })
}

extern "C" fn dlmopen_target(namespace: c_long, file: *const c_char, mode: c_int) -> usize {
    let real = next(&REAL_DLMOPEN, c"dlmopen");
    if namespace == LM_ID_BASE && mode & RTLD_DEEPBIND == 0 {
        return real;
    }
    guarded(real, || {
        target(
            namespace,
            file,
            mode,
            real,
            deepbind_dlmopen as *const () as usize,
        )
    })
}

fn target(
    namespace: c_long,
    file: *const c_char,
    mode: c_int,
    real: usize,
    patching: usize,
) -> usize {
    if active_config().is_none() {
        return real;
    }
    let _errno = ErrnoGuard::save();
    match route(namespace, name(file), mode) {
        Route::PassThrough => real,
        Route::Patch => patching,
        Route::DeepbindByName => {
            info_once(
                name(file).unwrap_or_default(),
                "opened with RTLD_DEEPBIND by name (the caller's search path decides which file)",
            );
            real
        }
        Route::OtherNamespace => {
            info_once(
                name(file).unwrap_or_default(),
                "loaded into another link-map namespace by dlmopen (with its own libc)",
            );
            real
        }
    }
}

unsafe extern "C" fn deepbind_dlopen(file: *const c_char, mode: c_int) -> *mut c_void {
    let real: DlopenFn = std::mem::transmute(next(&REAL_DLOPEN, c"dlopen"));
    let before = guarded(None, || Some(Loaded::now()));
    let handle = real(file, mode);
    after_load(handle, file, before);
    handle
}

unsafe extern "C" fn deepbind_dlmopen(
    namespace: c_long,
    file: *const c_char,
    mode: c_int,
) -> *mut c_void {
    let real: DlmopenFn = std::mem::transmute(next(&REAL_DLMOPEN, c"dlmopen"));
    let before = guarded(None, || Some(Loaded::now()));
    let handle = real(namespace, file, mode);
    after_load(handle, file, before);
    handle
}

/// The objects loaded at one moment, by their program headers' address (unique while loaded).
struct Loaded {
    phdrs: [usize; 1024],
    len: usize,
    complete: bool,
}

impl Loaded {
    fn now() -> Loaded {
        unsafe extern "C" fn each(
            info: *mut libc::dl_phdr_info,
            _: usize,
            out: *mut c_void,
        ) -> c_int {
            let loaded = &mut *(out as *mut Loaded);
            if loaded.len == loaded.phdrs.len() {
                loaded.complete = false;
                return 1;
            }
            loaded.phdrs[loaded.len] = (*info).dlpi_phdr as usize;
            loaded.len += 1;
            0
        }
        let mut loaded = Loaded {
            phdrs: [0; 1024],
            len: 0,
            complete: true,
        };
        // SAFETY: the callback only writes into `loaded`.
        unsafe { libc::dl_iterate_phdr(Some(each), (&mut loaded as *mut Loaded).cast()) };
        loaded
    }

    fn had(&self, phdr: usize) -> bool {
        self.phdrs[..self.len].contains(&phdr)
    }
}

/// For each hooked function: kashim's own detour (the global definition, when it is kashim's) and
/// libc's function (what an RTLD_DEEPBIND tree binds to). 0 where either is missing.
struct Targets {
    hook: [usize; HOOKED.len()],
    real: [usize; HOOKED.len()],
    own_base: usize,
}

fn targets() -> &'static Targets {
    static TARGETS: once_cell::race::OnceBox<Targets> = once_cell::race::OnceBox::new();
    TARGETS.get_or_init(|| {
        let base_of = |address: usize| {
            // SAFETY: dladdr fills `info` or returns 0.
            let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
            let found = unsafe { libc::dladdr(address as *const c_void, &mut info) };
            if found == 0 {
                0
            } else {
                info.dli_fbase as usize
            }
        };
        let own_base = base_of(targets as *const () as usize);
        let mut t = Targets {
            hook: [0; HOOKED.len()],
            real: [0; HOOKED.len()],
            own_base,
        };
        for (i, name) in HOOKED.iter().enumerate() {
            // SAFETY: NUL-terminated names.
            let global = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) } as usize;
            // Only where kashim is the global definition: with another preload ahead of it, binding
            // the tree to kashim would skip that one.
            if global != 0 && base_of(global) == own_base {
                t.hook[i] = global;
            }
            t.real[i] = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) } as usize;
        }
        Box::new(t)
    })
}

/// The file name of the object that defines `address`.
fn object_name(address: usize) -> Vec<u8> {
    // SAFETY: dladdr fills `info` or returns 0; dli_fname is then a NUL-terminated path.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    if unsafe { libc::dladdr(address as *const c_void, &mut info) } == 0 || info.dli_fname.is_null()
    {
        return b"?".to_vec();
    }
    unsafe { CStr::from_ptr(info.dli_fname) }
        .to_bytes()
        .to_vec()
}

/// What to write where, handed to the dl_iterate_phdr callback (which must make no dl* calls: it
/// runs under the loader's lock).
struct Patch<'a> {
    before: Option<&'a Loaded>,
    targets: &'a Targets,
    page: usize,
    /// The first pass rewrites slots already bound to libc's function and notes the rest; the
    /// second rewrites the lazy stubs of the names in `lazy_to_libc`.
    second_pass: bool,
    /// Names with a lazy (not yet resolved) PLT slot in a new object.
    lazy: u32,
    /// Names whose lazy stubs would resolve to libc's function (dlsym on the handle says so).
    lazy_to_libc: u32,
    /// Per name: a value found bound to neither libc nor kashim (the tree's own definition).
    other: [usize; HOOKED.len()],
    patched: usize,
    which: u32,
}

fn after_load(handle: *mut c_void, file: *const c_char, before: Option<Loaded>) {
    if handle.is_null() {
        return; // the load failed: dlerror() keeps libc's message
    }
    let _errno = ErrnoGuard::save();
    guarded((), || {
        let Some(config) = active_config() else {
            return;
        };
        let file = name(file).unwrap_or_default();
        let mut patch = Patch {
            before: before.as_ref().filter(|b| b.complete),
            targets: targets(),
            // SAFETY: getauxval has no preconditions.
            page: unsafe { libc::getauxval(libc::AT_PAGESZ) } as usize,
            second_pass: false,
            lazy: 0,
            lazy_to_libc: 0,
            other: [0; HOOKED.len()],
            patched: 0,
            which: 0,
        };
        if !patch.page.is_power_of_two() {
            return;
        }
        // SAFETY: the callback reads loaded objects only while the loader keeps them loaded.
        unsafe { libc::dl_iterate_phdr(Some(patch_object), (&mut patch as *mut Patch).cast()) };
        if patch.lazy != 0 {
            // Lazy slots resolve through the new tree: ask it (only now, outside the loader's lock).
            for (i, hooked) in HOOKED.iter().enumerate() {
                if patch.lazy & (1 << i) == 0 {
                    continue;
                }
                // SAFETY: a live handle and a NUL-terminated name.
                let tree = unsafe { libc::dlsym(handle, hooked.as_ptr()) } as usize;
                if tree == patch.targets.real[i] {
                    patch.lazy_to_libc |= 1 << i;
                } else if tree != 0 && tree != patch.targets.hook[i] {
                    patch.other[i] = tree;
                }
            }
            if patch.lazy_to_libc != 0 {
                patch.second_pass = true;
                // SAFETY: as above.
                unsafe {
                    libc::dl_iterate_phdr(Some(patch_object), (&mut patch as *mut Patch).cast())
                };
            }
        }
        for (i, hooked) in HOOKED.iter().enumerate() {
            if patch.other[i] != 0 {
                let what = format!(
                    "its dependency {} brings its own {}()",
                    String::from_utf8_lossy(short_name(&object_name(patch.other[i]))),
                    hooked.to_string_lossy()
                );
                info_once(file, &what);
            }
        }
        if patch.patched == 0 {
            return; // a tree that makes no socket calls of its own: nothing to say
        }
        let mut names = String::new();
        for (i, hooked) in HOOKED.iter().enumerate() {
            if patch.which & (1 << i) != 0 {
                names.push(' ');
                names.push_str(&hooked.to_string_lossy());
            }
        }
        log(
            config.log,
            LogLevel::Debug,
            format_args!(
                "{}: opened with RTLD_DEEPBIND: {} calls now pass through kashim ({})",
                String::from_utf8_lossy(short_name(file)),
                patch.patched,
                names.trim_start()
            ),
        );
    });
    // A failed lookup above (a name the tree lacks) leaves a message; the program's dlopen succeeded,
    // so its dlerror() must say nothing.
    // SAFETY: dlerror only reads and clears this thread's message.
    unsafe { libc::dlerror() };
}

unsafe extern "C" fn patch_object(
    info: *mut libc::dl_phdr_info,
    _: usize,
    data: *mut c_void,
) -> c_int {
    let patch = &mut *(data as *mut Patch);
    let info = &*info;
    let base = info.dlpi_addr as usize;
    if base == patch.targets.own_base
        || patch.before.is_some_and(|b| b.had(info.dlpi_phdr as usize))
    {
        return 0; // kashim itself, or loaded before this call
    }
    let object = Object {
        base,
        phdrs: std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize),
    };
    let mut slots = [None; 64];
    let mut count = 0;
    object.slots(&HOOKED, |slot| {
        if count < slots.len() {
            slots[count] = Some(slot);
            count += 1;
        }
    });
    for slot in slots.iter().flatten() {
        let i = slot.name;
        let (real, hook) = (patch.targets.real[i], patch.targets.hook[i]);
        if real == 0 || hook == 0 {
            continue; // kashim is not the global definition of this name
        }
        let value = elf::read(slot.address);
        let lazy_stub = slot.plt && object.contains(value);
        let rewrite = if patch.second_pass {
            lazy_stub && patch.lazy_to_libc & (1 << i) != 0
        } else if value == real {
            true // bound to libc's function, past kashim
        } else {
            if lazy_stub {
                patch.lazy |= 1 << i;
            } else if value != hook && value != 0 && patch.other[i] == 0 {
                patch.other[i] = value;
            }
            false
        };
        if rewrite && object.write(slot.address, hook, patch.page) {
            patch.patched += 1;
            patch.which |= 1 << i;
        }
    }
    0
}
