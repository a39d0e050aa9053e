//! Labels: positions in the code that may be referenced before they are bound.
//!
//! A reference to a label is either resolved at once (the label is already bound:
//! backward jumps pick the short rel8 form when it reaches) or recorded as a
//! [`Fixup`] and patched by [`Assembler::finish`](crate::Assembler::finish).

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

/// How a recorded reference to a not-yet-bound label is patched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FixupKind {
    /// A 32-bit field holding `target - end`, where `end` is the end of the instruction
    /// (jumps, calls, RIP-relative operands).
    Rel32 { end: u32 },
    /// A 1-byte field holding `target - end` (short jumps the caller asked for).
    Rel8 { end: u32 },
    /// A 32-bit field holding `target - base` for another label `base`
    /// (entries of relative jump tables).
    Diff32 { base: Label },
}

/// A reference to a label from the field at `at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fixup {
    pub at: u32,
    pub label: Label,
    pub kind: FixupKind,
}
