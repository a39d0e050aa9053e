//! Little-endian access to a program's linear memory, with WASI's `EFAULT` for any
//! address range outside it. Offsets are the WASM arguments zero-extended to `u64`.

use super::errno;
use alloc::string::String;
use alloc::vec::Vec;

/// A WASI result: `Err` carries the errno the program sees.
pub type Res<T = ()> = Result<T, u32>;

/// An iovec (or ciovec) array whose entries [`Mem::iovecs`] found inside memory.
#[derive(Clone, Copy)]
pub struct Iovecs {
    at: u64,
    /// The number of entries.
    pub count: u64,
}

/// The linear memory of the calling instance.
pub struct Mem<'a>(pub &'a mut [u8]);

impl Mem<'_> {
    /// `len` bytes at `at`.
    pub fn slice(&mut self, at: u64, len: u64) -> Res<&mut [u8]> {
        // The rest of memory from `at`, then its first `len` bytes: two tests, and no sum
        // that could overflow.
        let at = usize::try_from(at).map_err(|_| errno::FAULT)?;
        let len = usize::try_from(len).map_err(|_| errno::FAULT)?;
        self.0
            .get_mut(at..)
            .and_then(|rest| rest.get_mut(..len))
            .ok_or(errno::FAULT)
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

    /// The iovec (or ciovec) array of `count` entries at `at`: `EFAULT` unless every
    /// entry lies inside memory (the buffers they point to are checked as they are used).
    pub fn iovecs(&mut self, at: u64, count: u64) -> Res<Iovecs> {
        if count > 0 {
            self.slice(at, count.checked_mul(8).ok_or(errno::FAULT)?)?;
        }
        Ok(Iovecs { at, count })
    }

    /// Entry `i` of `iovecs` as `(ptr, len)`; `i` is below its count.
    pub fn iovec(&self, iovecs: Iovecs, i: u64) -> (u64, u64) {
        // `iovecs` checked that its entries are inside memory, so this cannot panic.
        let at = (iovecs.at + 8 * i) as usize;
        let mut entry = [0; 8];
        entry.copy_from_slice(&self.0[at..at + 8]);
        let entry = u64::from_le_bytes(entry);
        (entry & 0xffff_ffff, entry >> 32)
    }

    /// Every entry of `iovecs` as `(ptr, len)`, copied out: a read takes them all before
    /// it writes anything (as `readv` does), since its buffers may overlap the array.
    pub fn iovec_list(&self, iovecs: Iovecs) -> Vec<(u64, u64)> {
        (0..iovecs.count).map(|i| self.iovec(iovecs, i)).collect()
    }

    /// A path argument: `len` bytes at `at`, which must be UTF-8.
    pub fn path(&mut self, at: u64, len: u64) -> Res<String> {
        let bytes = self.slice(at, len)?;
        core::str::from_utf8(bytes)
            .map(String::from)
            .map_err(|_| errno::ILSEQ)
    }
}
