//! Labels: positions in the code that may be referenced before they are bound.
//!
//! Every reference to a label is recorded (as a [`Fixup`], or as a relaxable branch
//! in `relax`) and patched by [`Assembler::finish`](crate::Assembler::finish), once the
//! final layout is known. Positions are kept as [`Pos`]: the offset at assembly time
//! plus how many layout events (relaxable branches, alignment paddings) came before,
//! which is all that is needed to find the position again after relaxation.

/// A position in the code under construction, created by
/// [`Assembler::new_label`](crate::Assembler::new_label) and fixed by
/// [`Assembler::bind`](crate::Assembler::bind).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label(pub(crate) u32);

impl Label {
    /// The label's index among the assembler's labels (0, 1, 2, ... in creation order).
    pub const fn index(self) -> u32 {
        self.0
    }
}

/// A position in the code as assembled: the offset, and the number of layout events
/// recorded before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pos {
    pub off: u32,
    pub ev: u32,
}

/// How a recorded reference to a not-yet-bound label is patched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FixupKind {
    /// A 32-bit field that gets `target - end` added, where `end` is the offset of the
    /// end of the instruction (calls, RIP-relative operands; the field holds the
    /// operand's displacement until then).
    Rel32 { end: u32 },
    /// A 1-byte field holding `target - end` (backward jumps in reach, and the short
    /// jumps the caller asked for).
    Rel8 { end: u32 },
    /// A 32-bit field holding `target - base` for another label `base`
    /// (entries of relative jump tables).
    Diff32 { base: Label },
}

/// A reference to a label from the field at `at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fixup {
    pub at: Pos,
    pub label: Label,
    pub kind: FixupKind,
}
