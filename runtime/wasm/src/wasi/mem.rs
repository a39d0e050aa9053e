//! Little-endian access to a program's linear memory, with WASI's `EFAULT` for any
//! address range outside it. Offsets are the WASM arguments zero-extended to `u64`.

use super::errno;
use alloc::string::String;
use alloc::vec::Vec;

/// A WASI result: `Err` carries the errno the program sees.
pub type Res<T = ()> = Result<T, u32>;

/// The linear memory of the calling instance.
pub struct Mem<'a>(pub &'a mut [u8]);

impl Mem<'_> {
    /// `len` bytes at `at`.
    pub fn slice(&mut self, at: u64, len: u64) -> Res<&mut [u8]> {
        let end = at.checked_add(len).ok_or(errno::FAULT)?;
        let (at, end) = (
            usize::try_from(at).map_err(|_| errno::FAULT)?,
            usize::try_from(end).map_err(|_| errno::FAULT)?,
        );
        self.0.get_mut(at..end).ok_or(errno::FAULT)
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

    /// The `(ptr, len)` pairs of an iovec (or ciovec) array of `count` entries.
    pub fn iovecs(&mut self, at: u64, count: u64) -> Res<Vec<(u64, u64)>> {
        (0..count)
            .map(|i| {
                let entry = at.checked_add(8 * i).ok_or(errno::FAULT)?;
                Ok((u64::from(self.u32(entry)?), u64::from(self.u32(entry + 4)?)))
            })
            .collect()
    }

    /// A path argument: `len` bytes at `at`, which must be UTF-8.
    pub fn path(&mut self, at: u64, len: u64) -> Res<String> {
        let bytes = self.slice(at, len)?;
        core::str::from_utf8(bytes)
            .map(String::from)
            .map_err(|_| errno::ILSEQ)
    }
}
