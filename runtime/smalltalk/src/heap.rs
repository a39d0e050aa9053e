//! Object memory: object layout, bump allocation and a precise semispace copying
//! collector (Cheney).
//!
//! Every object starts with two header words:
//!
//! ```text
//! word 0:  bit 63 forwarded (GC) | bits 56..60 format | bits 32..56 identity hash | bits 0..32 class index
//! word 1:  size: number of slots (pointer formats) or number of bytes (byte formats)
//!          (during a collection a forwarded object's word 1 holds its new address)
//! ```
//!
//! Slots follow the header. Only [`Format::Pointers`] objects hold values the collector
//! scans; the other formats hold raw bytes. The collector finds its roots through a
//! callback the VM provides (the Smalltalk value stack and the VM's handles); nothing is
//! scanned conservatively.

use crate::value::Value;
use kiln_abi::{Platform, Protection};

/// How an object's body is laid out.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Format {
    /// Slots holding values (fields and indexable elements).
    Pointers = 0,
    /// Raw bytes (String, Symbol).
    Bytes = 1,
    /// An IEEE double in 8 bytes.
    Double = 2,
    /// A non-negative large integer: little-endian 32-bit limbs.
    LargePos = 3,
    /// A negative large integer (magnitude as for `LargePos`).
    LargeNeg = 4,
}

const FORWARDED: u64 = 1 << 63;
const HEADER_WORDS: usize = 2;

impl Format {
    fn from_bits(b: u64) -> Format {
        match b & 0xf {
            0 => Format::Pointers,
            1 => Format::Bytes,
            2 => Format::Double,
            3 => Format::LargePos,
            _ => Format::LargeNeg,
        }
    }

    /// Does the collector scan this format's slots?
    pub fn has_pointers(self) -> bool {
        self == Format::Pointers
    }
}

/// Size in words of an object with `size` units of format `fmt`.
fn words_for(fmt: Format, size: usize) -> usize {
    HEADER_WORDS
        + if fmt.has_pointers() {
            size
        } else {
            size.div_ceil(8)
        }
}

// --- object accessors. All take a value the caller knows is a heap pointer. ---

/// The header word of an object.
///
/// # Safety
/// `v` must point to a live object.
#[inline(always)]
pub unsafe fn header(v: Value) -> u64 {
    // SAFETY: the caller guarantees `v` points at a live object header.
    unsafe { *(v.0 as *const u64) }
}

/// Class index of an object.
///
/// # Safety
/// `v` must point to a live object.
#[inline(always)]
pub unsafe fn class_index(v: Value) -> u32 {
    // SAFETY: as for `header`.
    unsafe { header(v) as u32 }
}

/// Format of an object.
///
/// # Safety
/// `v` must point to a live object.
#[inline(always)]
pub unsafe fn format(v: Value) -> Format {
    // SAFETY: as for `header`.
    Format::from_bits(unsafe { header(v) } >> 56)
}

/// Identity hash of an object.
///
/// # Safety
/// `v` must point to a live object.
pub unsafe fn identity_hash(v: Value) -> u32 {
    // SAFETY: as for `header`.
    ((unsafe { header(v) } >> 32) & 0xff_ffff) as u32
}

/// Size of an object (slots or bytes).
///
/// # Safety
/// `v` must point to a live object.
#[inline(always)]
pub unsafe fn size(v: Value) -> usize {
    // SAFETY: word 1 of a live object is its size.
    unsafe { *(v.0 as *const u64).add(1) as usize }
}

/// Pointer to the first slot.
///
/// # Safety
/// `v` must point to a live object.
#[inline(always)]
pub unsafe fn slots(v: Value) -> *mut Value {
    // SAFETY: the body follows the two header words.
    unsafe { (v.0 as *mut u64).add(HEADER_WORDS) as *mut Value }
}

/// Reads slot `i`.
///
/// # Safety
/// `v` must point to a live pointer object with more than `i` slots.
#[inline(always)]
pub unsafe fn slot(v: Value, i: usize) -> Value {
    // SAFETY: the caller guarantees `i` is in bounds.
    unsafe { *slots(v).add(i) }
}

/// Writes slot `i`.
///
/// # Safety
/// `v` must point to a live pointer object with more than `i` slots.
#[inline(always)]
pub unsafe fn set_slot(v: Value, i: usize, x: Value) {
    // SAFETY: the caller guarantees `i` is in bounds.
    unsafe { *slots(v).add(i) = x }
}

/// The bytes of a byte-format object.
///
/// # Safety
/// `v` must point to a live byte-format object, and no allocation may happen while the
/// slice is in use (the collector moves objects).
pub unsafe fn bytes<'a>(v: Value) -> &'a mut [u8] {
    // SAFETY: a byte object's body holds `size` bytes.
    unsafe { core::slice::from_raw_parts_mut(slots(v) as *mut u8, size(v)) }
}

/// The collector's root enumeration: called with a visitor to apply to every root slot.
pub type RootScan<'a> = &'a mut dyn FnMut(&mut dyn FnMut(&mut Value));

/// The semispace heap.
pub struct Heap {
    platform: &'static dyn Platform,
    spaces: [*mut u8; 2],
    current: usize,
    reserved: usize,
    committed: usize,
    top: *mut u64,
    limit: *mut u64,
    next_hash: u32,
    /// Collect at every allocation (`--gc-stress`).
    pub stress: bool,
    /// Number of collections so far.
    pub collections: u64,
}

/// The heap cannot grow any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfMemory;

const INITIAL_SEMISPACE: usize = 4 << 20;

impl Heap {
    /// Reserves two semispaces of up to `max_bytes` each and commits a small start.
    pub fn new(platform: &'static dyn Platform, max_bytes: usize) -> Result<Heap, OutOfMemory> {
        let reserved = max_bytes
            .next_multiple_of(platform.page_size())
            .max(INITIAL_SEMISPACE);
        let a = platform.reserve(reserved).map_err(|_| OutOfMemory)?;
        let b = platform.reserve(reserved).map_err(|_| OutOfMemory)?;
        let mut h = Heap {
            platform,
            spaces: [a, b],
            current: 0,
            reserved,
            committed: 0,
            top: a as *mut u64,
            limit: a as *mut u64,
            next_hash: 0x1234,
            stress: false,
            collections: 0,
        };
        h.grow_to(INITIAL_SEMISPACE)?;
        h.limit = (a as usize + h.committed) as *mut u64;
        Ok(h)
    }

    fn grow_to(&mut self, bytes: usize) -> Result<(), OutOfMemory> {
        let bytes = bytes.next_multiple_of(self.platform.page_size());
        if bytes > self.reserved {
            return Err(OutOfMemory);
        }
        if bytes > self.committed {
            for s in self.spaces {
                // SAFETY: both ranges lie inside the regions reserved in `new`.
                let start = unsafe { s.add(self.committed) };
                self.platform
                    .protect(start, bytes - self.committed, Protection::ReadWrite)
                    .map_err(|_| OutOfMemory)?;
            }
            self.committed = bytes;
        }
        Ok(())
    }

    /// Bytes in use in the current space.
    pub fn used(&self) -> usize {
        self.top as usize - self.spaces[self.current] as usize
    }

    /// Tries to allocate without collecting. Slots are set to `nil` (pointer formats) or zero.
    pub fn try_alloc(&mut self, class: u32, fmt: Format, size: usize) -> Option<Value> {
        let words = words_for(fmt, size);
        if self.stress || (self.limit as usize - self.top as usize) / 8 < words {
            return None;
        }
        let p = self.top;
        // SAFETY: there are at least `words` committed words between `top` and `limit`.
        unsafe {
            self.top = p.add(words);
            self.next_hash = self
                .next_hash
                .wrapping_mul(1_103_515_245)
                .wrapping_add(12345);
            let hash = (self.next_hash >> 8) as u64 & 0xff_ffff;
            *p = class as u64 | hash << 32 | (fmt as u64) << 56;
            *p.add(1) = size as u64;
            let fill = if fmt.has_pointers() { Value::NIL.0 } else { 0 };
            for i in HEADER_WORDS..words {
                *p.add(i) = fill;
            }
        }
        Some(Value(p as u64))
    }

    /// Copies every object reachable from the roots into the other space. `roots` is
    /// called with a visitor that must be applied to every root slot.
    pub fn collect(&mut self, need_words: usize, roots: RootScan<'_>) -> Result<(), OutOfMemory> {
        self.collections += 1;
        let to = self.spaces[1 - self.current];
        let mut top = to as *mut u64;
        let mut forward = |v: &mut Value| {
            if v.is_ptr() {
                // SAFETY: every pointer value reachable from the roots points at a live
                // object in from-space; `top` stays inside the committed to-space because
                // to-space is as large as from-space.
                unsafe { *v = forward_one(*v, &mut top) };
            }
        };
        roots(&mut forward);
        let mut scan = to as *mut u64;
        loop {
            if scan >= top {
                break;
            }
            // SAFETY: `scan` walks the objects just copied into to-space, one by one.
            unsafe {
                let obj = Value(scan as u64);
                let fmt = format(obj);
                let n = size(obj);
                if fmt.has_pointers() {
                    let s = slots(obj);
                    for i in 0..n {
                        let mut v = *s.add(i);
                        if v.is_ptr() {
                            v = forward_one(v, &mut top);
                            *s.add(i) = v;
                        }
                    }
                }
                scan = scan.add(words_for(fmt, n));
            }
        }
        self.current = 1 - self.current;
        self.top = top;
        let used = self.used() + need_words * 8;
        if used * 2 > self.committed {
            let want = (used * 2).max(self.committed * 2);
            self.grow_to(want.min(self.reserved))?;
            if used > self.committed {
                return Err(OutOfMemory);
            }
        }
        self.limit = (self.spaces[self.current] as usize + self.committed) as *mut u64;
        Ok(())
    }
}

/// Copies `v` to to-space (or finds where it went) and returns the new reference.
///
/// # Safety
/// `v` must point to a live from-space object and `*top` into to-space with room.
unsafe fn forward_one(v: Value, top: &mut *mut u64) -> Value {
    // SAFETY: guaranteed by the caller.
    unsafe {
        let p = v.0 as *mut u64;
        let h = *p;
        if h & FORWARDED != 0 {
            return Value(*p.add(1));
        }
        let words = words_for(Format::from_bits(h >> 56), *p.add(1) as usize);
        let dst = *top;
        core::ptr::copy_nonoverlapping(p, dst, words);
        *top = dst.add(words);
        *p = h | FORWARDED;
        *p.add(1) = dst as u64;
        Value(dst as u64)
    }
}

impl Drop for Heap {
    fn drop(&mut self) {
        for s in self.spaces {
            self.platform.release(s, self.reserved);
        }
    }
}
