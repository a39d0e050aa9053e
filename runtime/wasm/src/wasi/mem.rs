//! Little-endian access to a program's linear memory, with WASI's `EFAULT` for any
//! address range outside it. Offsets are the WASM arguments zero-extended to `u64`.

use super::errno;
use crate::range;
use alloc::string::String;
use alloc::vec::Vec;

/// A WASI result: `Err` carries the errno the program sees.
pub type Res<T = ()> = Result<T, u32>;

/// The linear memory of the calling instance.
pub struct Mem<'a>(pub &'a mut [u8]);

impl Mem<'_> {
    /// `len` bytes at `at`, to read.
    pub fn bytes(&self, at: u64, len: u64) -> Res<&[u8]> {
        if !range::fits(at, len, self.0.len()) {
            return Err(errno::FAULT);
        }
        // SAFETY: the range lies in memory (checked above), so both ends fit in `usize`.
        Ok(unsafe { core::slice::from_raw_parts(self.0.as_ptr().add(at as usize), len as usize) })
    }

    /// `len` bytes at `at`.
    pub fn slice(&mut self, at: u64, len: u64) -> Res<&mut [u8]> {
        if !range::fits(at, len, self.0.len()) {
            return Err(errno::FAULT);
        }
        // SAFETY: the range lies in memory (checked above), so both ends fit in `usize`.
        Ok(unsafe {
            core::slice::from_raw_parts_mut(self.0.as_mut_ptr().add(at as usize), len as usize)
        })
    }

    pub fn u8(&mut self, at: u64) -> Res<u8> {
        Ok(self.slice(at, 1)?[0])
    }

    pub fn u16(&mut self, at: u64) -> Res<u16> {
        let b = self.slice(at, 2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self, at: u64) -> Res<u32> {
        let b = self.slice(at, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self, at: u64) -> Res<u64> {
        let mut v = [0u8; 8];
        v.copy_from_slice(self.slice(at, 8)?);
        Ok(u64::from_le_bytes(v))
    }

    pub fn put_u8(&mut self, at: u64, v: u8) -> Res {
        self.slice(at, 1)?[0] = v;
        Ok(())
    }

    pub fn put_u16(&mut self, at: u64, v: u16) -> Res {
        self.slice(at, 2)?.copy_from_slice(&v.to_le_bytes());
        Ok(())
    }

    pub fn put_u32(&mut self, at: u64, v: u32) -> Res {
        self.slice(at, 4)?.copy_from_slice(&v.to_le_bytes());
        Ok(())
    }

    pub fn put_u64(&mut self, at: u64, v: u64) -> Res {
        self.slice(at, 8)?.copy_from_slice(&v.to_le_bytes());
        Ok(())
    }

    /// The iovec (or ciovec) array of `count` entries at `at`, in place: `EFAULT` unless
    /// every entry lies inside memory (the buffers they point to are checked as they
    /// are used). One test: an empty array is checked as if at 0 (it reads nothing, so
    /// any address will do), and the end is summed where it cannot overflow
    /// (`range::fits`).
    pub fn iovecs(&self, at: u64, count: u64) -> Res<&[[u8; 8]]> {
        let at = if count == 0 { 0 } else { at };
        if !range::fits(at, u128::from(count) * 8, self.0.len()) {
            return Err(errno::FAULT);
        }
        // SAFETY: the `count` entries of 8 bytes from `at` lie in memory (checked
        // above); a byte array needs no alignment.
        Ok(unsafe {
            core::slice::from_raw_parts(self.0.as_ptr().add(at as usize).cast(), count as usize)
        })
    }

    /// Every entry of the iovec array of `count` entries at `at` as `(ptr, len)`,
    /// copied out: a read takes them all before it writes anything (as `readv` does),
    /// since its buffers may overlap the array.
    pub fn iovec_list(&self, at: u64, count: u64) -> Res<Vec<(u64, u64)>> {
        Ok(self.iovecs(at, count)?.iter().map(iovec).collect())
    }

    /// A path argument: `len` bytes at `at`, which must be UTF-8.
    pub fn path(&mut self, at: u64, len: u64) -> Res<String> {
        let bytes = self.slice(at, len)?;
        core::str::from_utf8(bytes)
            .map(String::from)
            .map_err(|_| errno::ILSEQ)
    }
}

/// An iovec entry (of [`Mem::iovecs`]) as `(ptr, len)`.
pub fn iovec(entry: &[u8; 8]) -> (u64, u64) {
    let entry = u64::from_le_bytes(*entry);
    (entry & 0xffff_ffff, entry >> 32)
}
