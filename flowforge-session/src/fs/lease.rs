//! Write leases (Linux `fcntl(F_SETLEASE, F_WRLCK)`): the kernel's proof that nobody else has
//! a file open, and a fence that holds late openers back while the file is rewritten.
//!
//! A write lease is granted only when the open file description asking for it is the only
//! one the file has: no reader, no writer, no `mmap`, in any process (`EAGAIN` otherwise). The
//! check and an opener's registration are ordered by the kernel (an `open` counts itself
//! before it looks for leases), so once the lease is granted every later `open` of the file
//! waits until the lease is released — or, opened `O_NONBLOCK`, fails with `EWOULDBLOCK` —
//! and sees the file whole. Renames do not break a lease; `open` and `truncate` by others do,
//! which sends the holder a signal: [`try_write_lease`] sets it to `SIGURG` (default action:
//! ignore) before taking the lease, since the default lease-break signal, `SIGIO`, would
//! terminate the process. A holder that does not release within `/proc/sys/fs/lease-break-time`
//! (45 s by default) loses the lease; the rewrites done under it take microseconds.
//!
//! rustix has no `F_SETLEASE`/`F_SETSIG`, so this module calls `libc::fcntl` directly: the
//! crate's only `unsafe` code, two integer-argument `fcntl` calls on a borrowed descriptor.
//! Elsewhere than Linux no lease is ever granted, and callers fall back to creating files.
#![allow(unsafe_code)]

use std::{
    fs::File,
    sync::atomic::{AtomicU8, Ordering},
};

/// Whether leases work here: 0 unknown or yes, 2 no (disabled with `fs.leases-enable = 0`,
/// or a filesystem without them): then nobody asks again in this process.
static LEASES: AtomicU8 = AtomicU8::new(0);

/// A write lease on a file, released when dropped (or when the file is closed).
#[derive(Debug)]
pub(crate) struct WriteLease<'a> {
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    file: &'a File,
}

/// Whether leases may work here: `false` once one was refused for another reason than an
/// open file.
pub(crate) fn available() -> bool {
    LEASES.load(Ordering::Relaxed) != 2
}

/// Takes a write lease on `file`; `None` when another open file description of it exists
/// anywhere, or leases are not available here.
pub(crate) fn try_write_lease(file: &File) -> Option<WriteLease<'_>> {
    if LEASES.load(Ordering::Relaxed) == 2 {
        return None;
    }
    match set_lease(file) {
        Ok(()) => Some(WriteLease { file }),
        Err(e) if e.raw_os_error() == Some(EAGAIN) => None,
        Err(_) => {
            LEASES.store(2, Ordering::Relaxed);
            None
        }
    }
}

#[cfg(target_os = "linux")]
const EAGAIN: i32 = libc::EAGAIN;
#[cfg(not(target_os = "linux"))]
const EAGAIN: i32 = 11;

/// `F_SETSIG`, which the `libc` crate does not name: 10 in the kernel's generic
/// `asm-generic/fcntl.h`, which every architecture listed in [`set_lease`]'s `cfg` uses.
#[cfg(target_os = "linux")]
const F_SETSIG: libc::c_int = 10;

#[cfg(all(
    target_os = "linux",
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "riscv64",
        target_arch = "powerpc64",
        target_arch = "s390x",
        target_arch = "loongarch64"
    )
))]
fn set_lease(file: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is open for the whole call (borrowed from `file`); F_SETSIG and F_SETLEASE
    // take an integer argument and read or write no memory of this process.
    let signal = unsafe { libc::fcntl(fd, F_SETSIG, libc::SIGURG) };
    if signal != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETLEASE, libc::F_WRLCK) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(all(
    target_os = "linux",
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "riscv64",
        target_arch = "powerpc64",
        target_arch = "s390x",
        target_arch = "loongarch64"
    )
)))]
fn set_lease(_: &File) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

#[cfg(target_os = "linux")]
impl Drop for WriteLease<'_> {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor is open (borrowed for the lease's lifetime); F_UNLCK is an
        // integer argument. Should it fail, closing the file releases the lease anyway.
        unsafe { libc::fcntl(self.file.as_raw_fd(), libc::F_SETLEASE, libc::F_UNLCK) };
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::{fs::OpenOptions, os::unix::fs::OpenOptionsExt};

    use super::*;

    #[test]
    fn a_lease_is_refused_while_another_description_is_open_and_fences_late_openers() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        std::fs::write(&path, "old").unwrap();
        let open_write = || OpenOptions::new().write(true).open(&path).unwrap();
        let writer = open_write();
        let reader = File::open(&path).unwrap();
        assert!(try_write_lease(&writer).is_none(), "a reader has it open");
        drop(reader);
        let lease = try_write_lease(&writer).expect("nobody else has it open");
        // A late non-blocking opener is held off while the lease stands.
        let late = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path);
        assert_eq!(
            late.unwrap_err().raw_os_error(),
            Some(libc::EWOULDBLOCK),
            "a late opener waits for the lease"
        );
        drop(lease);
        assert!(File::open(&path).is_ok(), "released");
        // A second description in this very process counts too.
        let second = open_write();
        assert!(try_write_lease(&writer).is_none());
        drop(second);
        assert!(try_write_lease(&writer).is_some());
    }
}
