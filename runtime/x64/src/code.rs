//! The assembler's output: code bytes, relocations described as data, label offsets.
//!
//! The same [`Code`] feeds both back ends: the AOT path turns `bytes` + `relocs` into
//! an ELF object (each [`Reloc`] maps one-to-one onto an `R_X86_64_64` or
//! `R_X86_64_PC32` relocation, or `R_X86_64_PLT32` for the target of a call, which a
//! static link resolves to the same value), the JIT copies the bytes to their final
//! address and resolves the relocations there with [`apply_relocs`] /
//! [`Code::patch_in_place`].

use alloc::vec::Vec;

use crate::label::Label;

/// An external symbol a relocation refers to. The numbering is the caller's: kiln's
/// compilers map symbol ids to runtime entry points, other functions, data, etc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SymbolId(pub u32);

/// How a relocation's value is computed and stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RelocKind {
    /// 8 bytes := `S + A` (ELF `R_X86_64_64`).
    Abs64,
    /// 4 bytes := `S + A - P` where `P` is the address of the field itself
    /// (ELF `R_X86_64_PC32`). For a field that ends its instruction the addend is
    /// `-4`; the assembler folds any trailing immediate into the addend.
    Rel32,
}

impl RelocKind {
    /// The ELF x86-64 relocation type (`r_type`) with the same meaning:
    /// `R_X86_64_64` (1) or `R_X86_64_PC32` (2). The addend goes into the `Elf64_Rela`
    /// entry as is.
    pub const fn elf_type(self) -> u32 {
        match self {
            RelocKind::Abs64 => 1,
            RelocKind::Rel32 => 2,
        }
    }
}

/// A place in the code that must be patched with a symbol's address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Reloc {
    /// Offset of the patched field from the start of the code.
    pub offset: u32,
    pub kind: RelocKind,
    pub target: SymbolId,
    pub addend: i64,
}

/// Why relocations could not be applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelocError {
    /// The resolver did not know this symbol.
    Unresolved(SymbolId),
    /// A `Rel32` target is more than ±2 GiB away from the field at `offset`.
    OutOfRange { offset: u32, target: SymbolId },
    /// A relocation's field lies (partly) outside the bytes.
    OutOfBounds { offset: u32 },
}

impl core::fmt::Display for RelocError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RelocError::Unresolved(s) => write!(f, "symbol {} has no address", s.0),
            RelocError::OutOfRange { offset, target } => write!(
                f,
                "symbol {} is out of rel32 range of the field at offset {offset:#x}",
                target.0
            ),
            RelocError::OutOfBounds { offset } => {
                write!(f, "relocation at offset {offset:#x} lies outside the code")
            }
        }
    }
}

/// Finished machine code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Code {
    /// The instruction (and inline data) bytes, with label references resolved and
    /// relocation fields holding zero.
    pub bytes: Vec<u8>,
    /// Fields that still need symbol addresses.
    pub relocs: Vec<Reloc>,
    /// Offset of each label (by [`Label::index`]), `None` if it was never bound.
    pub labels: Vec<Option<u32>>,
}

impl Code {
    /// The offset a label was bound to.
    pub fn label_offset(&self, label: Label) -> Option<u32> {
        self.labels.get(label.0 as usize).copied().flatten()
    }

    /// Applies all relocations to `self.bytes` as if they were loaded at `base`.
    /// `resolve` gives each symbol's absolute address.
    pub fn patch_in_place(
        &mut self,
        base: u64,
        resolve: impl FnMut(SymbolId) -> Option<u64>,
    ) -> Result<(), RelocError> {
        apply_relocs(&mut self.bytes, &self.relocs, base, resolve)
    }
}

/// Applies `relocs` to `bytes`, which are (or will be) located at address `base`.
///
/// This is what a JIT runs on the code once it is copied to its final place (while the
/// page is still writable), and what [`Code::patch_in_place`] runs on the owned bytes.
pub fn apply_relocs(
    bytes: &mut [u8],
    relocs: &[Reloc],
    base: u64,
    mut resolve: impl FnMut(SymbolId) -> Option<u64>,
) -> Result<(), RelocError> {
    for r in relocs {
        let s = resolve(r.target).ok_or(RelocError::Unresolved(r.target))?;
        let value = s.wrapping_add(r.addend as u64);
        let at = r.offset as usize;
        match r.kind {
            RelocKind::Abs64 => {
                let field = bytes
                    .get_mut(at..at + 8)
                    .ok_or(RelocError::OutOfBounds { offset: r.offset })?;
                field.copy_from_slice(&value.to_le_bytes());
            }
            RelocKind::Rel32 => {
                let p = base.wrapping_add(r.offset as u64);
                let rel = value.wrapping_sub(p) as i64;
                let rel = i32::try_from(rel).map_err(|_| RelocError::OutOfRange {
                    offset: r.offset,
                    target: r.target,
                })?;
                let field = bytes
                    .get_mut(at..at + 4)
                    .ok_or(RelocError::OutOfBounds { offset: r.offset })?;
                field.copy_from_slice(&rel.to_le_bytes());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{apply_relocs, Reloc, RelocError, RelocKind, SymbolId};

    #[test]
    fn fields_outside_the_bytes_are_reported() {
        let reloc = |kind, offset| Reloc {
            offset,
            kind,
            target: SymbolId(0),
            addend: 0,
        };
        let mut bytes = [0u8; 8];
        for (kind, ok_at) in [(RelocKind::Abs64, 0), (RelocKind::Rel32, 4)] {
            assert_eq!(
                apply_relocs(&mut bytes, &[reloc(kind, ok_at)], 0, |_| Some(64)),
                Ok(())
            );
            let bad = reloc(kind, ok_at + 1);
            assert_eq!(
                apply_relocs(&mut bytes, &[bad], 0, |_| Some(64)),
                Err(RelocError::OutOfBounds { offset: ok_at + 1 })
            );
        }
        // The Rel32 at 4 holds 64 - 4; the Abs64 at 0 held 64 before it was overwritten.
        assert_eq!(&bytes[4..], &60i32.to_le_bytes());
    }
}
