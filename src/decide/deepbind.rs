//! Which dlopen()/dlmopen() calls kashim follows (`act::deepbind` says how): pure, unit-tested.
//! An RTLD_DEEPBIND library by path is patched; cases kashim cannot reach safely are logged once at
//! info level, naming the library: a DEEPBIND load by bare name or with $ORIGIN (the search depends
//! on the caller, which must stay the program's), and dlmopen into another namespace (a separate
//! libc, errno and all).

use libc::c_int;

pub const RTLD_DEEPBIND: c_int = 0x8;
pub const LM_ID_BASE: libc::c_long = 0;

/// How a dlopen/dlmopen call is carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Straight to libc's function, the caller unchanged: everything but the cases below.
    PassThrough,
    /// RTLD_DEEPBIND by path into the base namespace: loaded by kashim, then patched.
    Patch,
    /// RTLD_DEEPBIND by bare name or with a $-token: the caller decides the search, so it must stay
    /// the program's. Passed through, and logged as not reached.
    DeepbindByName,
    /// dlmopen into another namespace: that tree has its own libc. Passed through, logged.
    OtherNamespace,
}

/// Pure: which route a call takes. `file` is the name without its NUL (None for a null pointer).
pub fn route(namespace: libc::c_long, file: Option<&[u8]>, mode: c_int) -> Route {
    if namespace != LM_ID_BASE {
        return Route::OtherNamespace;
    }
    if mode & RTLD_DEEPBIND == 0 {
        return Route::PassThrough;
    }
    match file {
        None => Route::PassThrough, // the program itself: nothing new is loaded
        Some(name) if name.contains(&b'/') && !name.contains(&b'$') => Route::Patch,
        Some(_) => Route::DeepbindByName,
    }
}

/// The object's name for the log: the part after the last '/'.
pub fn short_name(file: &[u8]) -> &[u8] {
    file.rsplit(|&b| b == b'/').next().unwrap_or(file)
}

#[cfg(test)]
mod tests;
