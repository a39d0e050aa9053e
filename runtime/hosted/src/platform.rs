//! `kiln_abi::Platform` for a Linux process.

use kiln_abi::{MemoryError, Platform, Protection};
use std::io::{Read, Write};

/// The Linux-process platform. Stateless: every call goes straight to the C library.
#[derive(Default, Clone, Copy, Debug)]
pub struct LinuxPlatform;

fn prot_bits(prot: Protection) -> libc::c_int {
    match prot {
        Protection::None => libc::PROT_NONE,
        Protection::Read => libc::PROT_READ,
        Protection::ReadWrite => libc::PROT_READ | libc::PROT_WRITE,
        Protection::ReadExecute => libc::PROT_READ | libc::PROT_EXEC,
    }
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; both clocks used here always exist on Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl Platform for LinuxPlatform {
    fn console_write(&self, bytes: &[u8]) {
        let mut out = std::io::stdout().lock();
        // A closed stdout (e.g. `| head`) must not crash the runtime; output is best effort.
        let _ = out.write_all(bytes);
        let _ = out.flush();
    }

    fn console_write_err(&self, bytes: &[u8]) {
        let _ = std::io::stderr().lock().write_all(bytes);
    }

    fn console_read(&self, buf: &mut [u8]) -> usize {
        std::io::stdin().lock().read(buf).unwrap_or(0)
    }

    fn monotonic_ns(&self) -> u64 {
        clock_ns(libc::CLOCK_MONOTONIC)
    }

    fn wall_clock_ns(&self) -> u64 {
        clock_ns(libc::CLOCK_REALTIME)
    }

    fn random_fill(&self, buf: &mut [u8]) {
        let mut filled = 0;
        while filled < buf.len() {
            let rest = &mut buf[filled..];
            // SAFETY: `rest` is a valid writable buffer of `rest.len()` bytes.
            let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
            if n > 0 {
                filled += n as usize;
            }
        }
    }

    fn reserve(&self, len: usize) -> Result<*mut u8, MemoryError> {
        // SAFETY: an anonymous private PROT_NONE mapping at an address of the kernel's
        // choosing touches no existing memory.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            Err(MemoryError::OutOfMemory)
        } else {
            Ok(p.cast())
        }
    }

    fn protect(&self, addr: *mut u8, len: usize, prot: Protection) -> Result<(), MemoryError> {
        if prot == Protection::None {
            // Give the pages back: a fresh PROT_NONE mapping over the range drops their contents.
            // SAFETY: the caller promises the range lies inside a region from `reserve`.
            let p = unsafe {
                libc::mmap(
                    addr.cast(),
                    len,
                    libc::PROT_NONE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            return if p == libc::MAP_FAILED {
                Err(MemoryError::BadRange)
            } else {
                Ok(())
            };
        }
        // SAFETY: the caller promises the range lies inside a region from `reserve`.
        let rc = unsafe { libc::mprotect(addr.cast(), len, prot_bits(prot)) };
        if rc == 0 {
            Ok(())
        } else if std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOMEM) {
            Err(MemoryError::OutOfMemory)
        } else {
            Err(MemoryError::BadRange)
        }
    }

    fn release(&self, addr: *mut u8, len: usize) {
        // SAFETY: the caller hands back a whole region it got from `reserve` and no longer uses.
        unsafe { libc::munmap(addr.cast(), len) };
    }

    fn exit(&self, status: i32) -> ! {
        let _ = std::io::stdout().flush();
        std::process::exit(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_memory_is_zero_once_committed_and_can_be_given_back() {
        let p = LinuxPlatform;
        let page = p.page_size();
        let base = p.reserve(4 * page).unwrap();
        p.protect(base, 2 * page, Protection::ReadWrite).unwrap();
        // SAFETY: the first two pages were just made read+write.
        unsafe {
            assert_eq!(*base.add(page + 7), 0);
            *base.add(page + 7) = 42;
            assert_eq!(*base.add(page + 7), 42);
        }
        p.protect(base, 2 * page, Protection::None).unwrap();
        p.protect(base, 2 * page, Protection::ReadWrite).unwrap();
        // SAFETY: re-committed read+write just above.
        unsafe { assert_eq!(*base.add(page + 7), 0, "given-back pages come back zeroed") };
        p.release(base, 4 * page);
    }

    #[test]
    fn monotonic_clock_does_not_go_backwards_and_random_fills() {
        let p = LinuxPlatform;
        let a = p.monotonic_ns();
        let b = p.monotonic_ns();
        assert!(b >= a);
        assert!(p.wall_clock_ns() > 1_600_000_000 * 1_000_000_000);
        let mut buf = [0u8; 64];
        p.random_fill(&mut buf);
        assert!(buf.iter().any(|&x| x != 0));
    }
}
