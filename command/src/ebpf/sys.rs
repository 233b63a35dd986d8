//! The few bpf(2) commands aya 0.14 does not wrap: which programs a cgroup has (BPF_PROG_QUERY),
//! replacing the program of a link in place (BPF_LINK_UPDATE), detaching a pinned link at once
//! (BPF_LINK_DETACH), opening a pinned object (BPF_OBJ_GET), and which cgroup a link is attached
//! to (BPF_OBJ_GET_INFO_BY_FD). The attribute layouts come from aya-obj's kernel bindings, so no
//! structure is written out by hand.

use aya_obj::generated::{bpf_attach_type, bpf_attr, bpf_cmd};
use std::ffi::CString;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

fn bpf(cmd: bpf_cmd, attr: &mut bpf_attr) -> io::Result<i64> {
    // SAFETY: attr is a fully initialised bpf_attr and the size passed is its size.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_int,
            attr as *mut bpf_attr,
            mem::size_of::<bpf_attr>() as libc::c_uint,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn zeroed() -> bpf_attr {
    // SAFETY: bpf_attr is a plain C union for which all-zero bytes are valid (and expected).
    unsafe { mem::zeroed() }
}

/// The ids of the sock_ops programs attached to this cgroup itself (not inherited).
pub fn sock_ops_programs(cgroup: BorrowedFd<'_>) -> io::Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    loop {
        let mut attr = zeroed();
        attr.query.__bindgen_anon_1.target_fd = cgroup.as_raw_fd() as u32;
        attr.query.attach_type = bpf_attach_type::BPF_CGROUP_SOCK_OPS as u32;
        attr.query.__bindgen_anon_2.prog_cnt = ids.len() as u32;
        attr.query.prog_ids = ids.as_mut_ptr() as u64;
        let result = bpf(bpf_cmd::BPF_PROG_QUERY, &mut attr);
        // SAFETY: the kernel wrote prog_cnt (the union member set above).
        let count = unsafe { attr.query.__bindgen_anon_2.prog_cnt } as usize;
        match result {
            Ok(_) => {
                ids.truncate(count);
                return Ok(ids);
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) && count > ids.len() => {
                ids.resize(count, 0)
            }
            Err(e) => return Err(e),
        }
    }
}

/// Opens a pinned BPF object (a link, here).
pub fn open_pinned(path: &Path) -> io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut attr = zeroed();
    attr.__bindgen_anon_4.pathname = c.as_ptr() as u64;
    let fd = bpf(bpf_cmd::BPF_OBJ_GET, &mut attr)?;
    // SAFETY: BPF_OBJ_GET returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Makes the link run `new_program` instead of its current one, atomically: no connection is
/// seen by both or by neither.
pub fn link_update(link: BorrowedFd<'_>, new_program: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = zeroed();
    attr.link_update.link_fd = link.as_raw_fd() as u32;
    attr.link_update.__bindgen_anon_1.new_prog_fd = new_program.as_raw_fd() as u32;
    bpf(bpf_cmd::BPF_LINK_UPDATE, &mut attr).map(|_| ())
}

/// Detaches the link now (removing its pin alone would detach it later, from a kernel worker).
pub fn link_detach(link: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = zeroed();
    attr.link_detach.link_fd = link.as_raw_fd() as u32;
    bpf(bpf_cmd::BPF_LINK_DETACH, &mut attr).map(|_| ())
}

/// The id of the cgroup a cgroup link is attached to; 0 once the link is detached (by
/// BPF_LINK_DETACH, or by the kernel when the cgroup was removed and freed).
pub fn link_cgroup_id(link: BorrowedFd<'_>) -> io::Result<u64> {
    // SAFETY: bpf_link_info is a plain C structure for which all-zero bytes are valid.
    let mut info: aya_obj::generated::bpf_link_info = unsafe { mem::zeroed() };
    let mut attr = zeroed();
    attr.info.bpf_fd = link.as_raw_fd() as u32;
    attr.info.info_len = mem::size_of_val(&info) as u32;
    attr.info.info = &mut info as *mut _ as u64;
    bpf(bpf_cmd::BPF_OBJ_GET_INFO_BY_FD, &mut attr)?;
    // SAFETY: the kernel filled the cgroup member for a cgroup link.
    Ok(unsafe { info.__bindgen_anon_1.cgroup.cgroup_id })
}

/// Attaches a program to a cgroup with a BPF link (BPF_LINK_CREATE); the link lives as long as
/// the returned descriptor, or its pin.
pub fn link_create(
    program: BorrowedFd<'_>,
    cgroup: BorrowedFd<'_>,
    attach_type: bpf_attach_type,
) -> io::Result<OwnedFd> {
    let mut attr = zeroed();
    attr.link_create.__bindgen_anon_1.prog_fd = program.as_raw_fd() as u32;
    attr.link_create.__bindgen_anon_2.target_fd = cgroup.as_raw_fd() as u32;
    attr.link_create.attach_type = attach_type as u32;
    let fd = bpf(bpf_cmd::BPF_LINK_CREATE, &mut attr)?;
    // SAFETY: BPF_LINK_CREATE returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Pins a BPF object (a link, here) at `path` in bpffs (BPF_OBJ_PIN).
pub fn pin(object: BorrowedFd<'_>, path: &Path) -> io::Result<()> {
    let c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut attr = zeroed();
    attr.__bindgen_anon_4.pathname = c.as_ptr() as u64;
    attr.__bindgen_anon_4.bpf_fd = object.as_raw_fd() as u32;
    bpf(bpf_cmd::BPF_OBJ_PIN, &mut attr).map(|_| ())
}
