//! A small WASI (`wasi_snapshot_preview1`) on top of `kiln_abi::Platform`: enough for
//! programs that write to the console, read their arguments, clocks and randomness, and
//! exit. Files and sockets are not provided (no preopened directories), and every other
//! function answers `ENOSYS`.
//!
//! The functions work on the instance's linear memory as a byte slice, so the same code
//! serves the hosted runtime and the kernel.

use alloc::string::String;
use alloc::vec::Vec;
use kiln_abi::Platform;

/// The import module name.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// WASI error numbers used here.
pub mod errno {
    /// No error.
    pub const SUCCESS: u32 = 0;
    /// Bad file descriptor.
    pub const BADF: u32 = 8;
    /// Memory access out of bounds.
    pub const FAULT: u32 = 21;
    /// Function not supported.
    pub const NOSYS: u32 = 52;
}

/// What a WASI call asks of its caller besides its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Return this errno to the program.
    Errno(u32),
    /// `proc_exit` with this status: the runtime ends the program.
    Exit(u32),
}

/// The state of a WASI program: its command-line arguments.
#[derive(Clone, Debug, Default)]
pub struct Wasi {
    /// `argv`, program name first.
    pub args: Vec<String>,
}

/// Little-endian access to linear memory with WASI's `EFAULT` on bad addresses.
struct Mem<'a>(&'a mut [u8]);

impl Mem<'_> {
    fn slice(&mut self, at: u64, len: u64) -> Result<&mut [u8], u32> {
        let end = at.checked_add(len).ok_or(errno::FAULT)?;
        self.0
            .get_mut(at as usize..end as usize)
            .ok_or(errno::FAULT)
    }

    fn u32(&mut self, at: u64) -> Result<u32, u32> {
        let b = self.slice(at, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn put_u32(&mut self, at: u64, v: u32) -> Result<(), u32> {
        self.slice(at, 4)?.copy_from_slice(&v.to_le_bytes());
        Ok(())
    }

    fn put_u64(&mut self, at: u64, v: u64) -> Result<(), u32> {
        self.slice(at, 8)?.copy_from_slice(&v.to_le_bytes());
        Ok(())
    }

    /// The `(ptr, len)` pairs of an iovec array.
    fn iovecs(&mut self, at: u64, count: u64) -> Result<Vec<(u64, u64)>, u32> {
        (0..count)
            .map(|i| {
                Ok((
                    self.u32(at + 8 * i)? as u64,
                    self.u32(at + 8 * i + 4)? as u64,
                ))
            })
            .collect()
    }
}

impl Wasi {
    /// Runs WASI function `name` with `args` (the WASM arguments, zero-extended) on
    /// linear memory `memory`.
    pub fn call(
        &self,
        platform: &dyn Platform,
        memory: &mut [u8],
        name: &str,
        args: &[u64],
    ) -> Outcome {
        if name == "proc_exit" {
            return Outcome::Exit(args.first().copied().unwrap_or(0) as u32);
        }
        let mut mem = Mem(memory);
        let a = |i: usize| args.get(i).copied().unwrap_or(0);
        let r = match name {
            "fd_write" => self.fd_write(platform, &mut mem, a(0), a(1), a(2), a(3)),
            "fd_read" => self.fd_read(platform, &mut mem, a(0), a(1), a(2), a(3)),
            "args_sizes_get" => self.sizes(&mut mem, &self.args, a(0), a(1)),
            "args_get" => self.strings(&mut mem, &self.args, a(0), a(1)),
            "environ_sizes_get" => self.sizes(&mut mem, &[], a(0), a(1)),
            "environ_get" => self.strings(&mut mem, &[], a(0), a(1)),
            "clock_time_get" => {
                let ns = if a(0) == 0 {
                    platform.wall_clock_ns()
                } else {
                    platform.monotonic_ns()
                };
                mem.put_u64(a(2), ns)
            }
            "clock_res_get" => mem.put_u64(a(1), 1),
            "random_get" => mem.slice(a(0), a(1)).map(|b| platform.random_fill(b)),
            "fd_fdstat_get" if a(0) <= 2 => {
                // filetype: character device; no flags; all rights.
                mem.slice(a(1), 24).map(|b| {
                    b.fill(0);
                    b[0] = 2;
                    b[8..24].fill(0xff);
                })
            }
            "fd_close" | "fd_sync" if a(0) <= 2 => Ok(()),
            "sched_yield" => Ok(()),
            "fd_prestat_get" | "fd_prestat_dir_name" | "fd_seek" | "fd_fdstat_get" | "fd_close" => {
                Err(errno::BADF)
            }
            _ => Err(errno::NOSYS),
        };
        Outcome::Errno(r.err().unwrap_or(errno::SUCCESS))
    }

    fn fd_write(
        &self,
        p: &dyn Platform,
        mem: &mut Mem<'_>,
        fd: u64,
        iovs: u64,
        n: u64,
        written: u64,
    ) -> Result<(), u32> {
        if fd != 1 && fd != 2 {
            return Err(errno::BADF);
        }
        let mut total = 0u32;
        for (ptr, len) in mem.iovecs(iovs, n)? {
            let bytes = mem.slice(ptr, len)?;
            if fd == 1 {
                p.console_write(bytes);
            } else {
                p.console_write_err(bytes);
            }
            total += len as u32;
        }
        mem.put_u32(written, total)
    }

    fn fd_read(
        &self,
        p: &dyn Platform,
        mem: &mut Mem<'_>,
        fd: u64,
        iovs: u64,
        n: u64,
        read: u64,
    ) -> Result<(), u32> {
        if fd != 0 {
            return Err(errno::BADF);
        }
        let mut total = 0u32;
        for (ptr, len) in mem.iovecs(iovs, n)? {
            let got = p.console_read(mem.slice(ptr, len)?);
            total += got as u32;
            if (got as u64) < len {
                break;
            }
        }
        mem.put_u32(read, total)
    }

    /// `*_sizes_get`: the count and the total size with NUL terminators.
    fn sizes(&self, mem: &mut Mem<'_>, list: &[String], count: u64, size: u64) -> Result<(), u32> {
        mem.put_u32(count, list.len() as u32)?;
        mem.put_u32(size, list.iter().map(|s| s.len() as u32 + 1).sum())
    }

    /// `*_get`: pointers into a buffer of NUL-terminated strings.
    fn strings(&self, mem: &mut Mem<'_>, list: &[String], ptrs: u64, buf: u64) -> Result<(), u32> {
        let mut at = buf;
        for (i, s) in list.iter().enumerate() {
            mem.put_u32(ptrs + 4 * i as u64, at as u32)?;
            let dst = mem.slice(at, s.len() as u64 + 1)?;
            dst[..s.len()].copy_from_slice(s.as_bytes());
            dst[s.len()] = 0;
            at += s.len() as u64 + 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::RefCell;
    use kiln_abi::{MemoryError, Protection};

    #[derive(Default)]
    struct FakePlatform {
        out: RefCell<Vec<u8>>,
    }

    impl Platform for FakePlatform {
        fn console_write(&self, bytes: &[u8]) {
            self.out.borrow_mut().extend_from_slice(bytes);
        }
        fn console_read(&self, _: &mut [u8]) -> usize {
            0
        }
        fn monotonic_ns(&self) -> u64 {
            7
        }
        fn wall_clock_ns(&self) -> u64 {
            9
        }
        fn random_fill(&self, buf: &mut [u8]) {
            buf.fill(0xab);
        }
        fn reserve(&self, _: usize) -> Result<*mut u8, MemoryError> {
            Err(MemoryError::OutOfMemory)
        }
        fn protect(&self, _: *mut u8, _: usize, _: Protection) -> Result<(), MemoryError> {
            Err(MemoryError::BadRange)
        }
        fn release(&self, _: *mut u8, _: usize) {}
        fn exit(&self, _: i32) -> ! {
            panic!("exit")
        }
    }

    #[test]
    fn writes_reads_arguments_and_reports_errors() {
        let p = FakePlatform::default();
        let wasi = Wasi {
            args: alloc::vec!["prog".into(), "x".into()],
        };
        let mut mem = alloc::vec![0u8; 256];
        mem[100..105].copy_from_slice(b"hello");
        // iovec at 0: (100, 5)
        mem[0..4].copy_from_slice(&100u32.to_le_bytes());
        mem[4..8].copy_from_slice(&5u32.to_le_bytes());
        assert_eq!(
            wasi.call(&p, &mut mem, "fd_write", &[1, 0, 1, 16]),
            Outcome::Errno(0)
        );
        assert_eq!(&*p.out.borrow(), b"hello");
        assert_eq!(mem[16], 5);
        assert_eq!(
            wasi.call(&p, &mut mem, "fd_write", &[7, 0, 1, 16]),
            Outcome::Errno(errno::BADF)
        );
        assert_eq!(
            wasi.call(&p, &mut mem, "fd_write", &[1, 250, 1, 16]),
            Outcome::Errno(errno::FAULT)
        );
        assert_eq!(
            wasi.call(&p, &mut mem, "args_sizes_get", &[20, 24]),
            Outcome::Errno(0)
        );
        assert_eq!((mem[20], mem[24]), (2, 7));
        assert_eq!(
            wasi.call(&p, &mut mem, "args_get", &[32, 40]),
            Outcome::Errno(0)
        );
        assert_eq!(&mem[40..47], b"prog\0x\0");
        assert_eq!(mem[36], 45);
        assert_eq!(
            wasi.call(&p, &mut mem, "random_get", &[60, 4]),
            Outcome::Errno(0)
        );
        assert_eq!(&mem[60..64], &[0xab; 4]);
        assert_eq!(
            wasi.call(&p, &mut mem, "sock_accept", &[]),
            Outcome::Errno(errno::NOSYS)
        );
        assert_eq!(wasi.call(&p, &mut mem, "proc_exit", &[3]), Outcome::Exit(3));
    }
}
