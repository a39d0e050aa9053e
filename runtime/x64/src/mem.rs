//! Memory operands and the operand enums instructions accept.
//!
//! A [`Mem`] is `[base + index*scale + disp]` (each part optional), or a RIP-relative
//! reference to a [`Label`] in the same code or to an external [`SymbolId`] (which
//! becomes a PC-relative relocation). The encoder handles the irregular cases of the
//! ModRM/SIB scheme: `rsp`/`r12` as base need a SIB byte, `rbp`/`r13` as base need an
//! explicit zero displacement, and a missing base is encoded with SIB base 101.

use crate::code::SymbolId;
use crate::label::Label;
use crate::reg::{Reg, Xmm};

/// The factor an index register is multiplied by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scale {
    S1 = 0,
    S2 = 1,
    S4 = 2,
    S8 = 3,
}

impl Scale {
    /// All four scales.
    pub const ALL: [Scale; 4] = [Scale::S1, Scale::S2, Scale::S4, Scale::S8];

    /// The factor (1, 2, 4 or 8).
    pub const fn factor(self) -> u32 {
        1 << self as u32
    }

    /// The two SIB bits.
    pub(crate) const fn bits(self) -> u8 {
        self as u8
    }
}

/// A memory operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mem {
    /// `[base + index*scale + disp]`. With neither base nor index this is an absolute
    /// 32-bit address (sign-extended). The index may not be `rsp` (the encoding for
    /// "no index"); `r12` is fine.
    Sib {
        base: Option<Reg>,
        index: Option<(Reg, Scale)>,
        disp: i32,
    },
    /// `[rip + label + disp]`: an address in the code being assembled.
    Label { label: Label, disp: i32 },
    /// `[rip + symbol + addend]`: an address outside, resolved by a
    /// [`RelocKind::Rel32`](crate::RelocKind::Rel32) relocation.
    Symbol { symbol: SymbolId, addend: i32 },
}

impl Mem {
    /// `[base + disp]`.
    pub const fn base(base: Reg, disp: i32) -> Mem {
        Mem::Sib {
            base: Some(base),
            index: None,
            disp,
        }
    }

    /// `[base + index*scale + disp]`.
    pub const fn base_index(base: Reg, index: Reg, scale: Scale, disp: i32) -> Mem {
        Mem::Sib {
            base: Some(base),
            index: Some((index, scale)),
            disp,
        }
    }

    /// `[index*scale + disp]` (no base register; always a 32-bit displacement).
    pub const fn index(index: Reg, scale: Scale, disp: i32) -> Mem {
        Mem::Sib {
            base: None,
            index: Some((index, scale)),
            disp,
        }
    }

    /// `[disp]`: an absolute address in the low (or sign-extended high) 2 GiB.
    pub const fn abs(disp: i32) -> Mem {
        Mem::Sib {
            base: None,
            index: None,
            disp,
        }
    }

    /// `[rip + label]`.
    pub const fn label(label: Label) -> Mem {
        Mem::Label { label, disp: 0 }
    }

    /// `[rip + symbol + addend]`.
    pub const fn symbol(symbol: SymbolId, addend: i32) -> Mem {
        Mem::Symbol { symbol, addend }
    }

    /// The same operand `delta` bytes further on.
    pub const fn offset(self, delta: i32) -> Mem {
        match self {
            Mem::Sib { base, index, disp } => Mem::Sib {
                base,
                index,
                disp: disp.wrapping_add(delta),
            },
            Mem::Label { label, disp } => Mem::Label {
                label,
                disp: disp.wrapping_add(delta),
            },
            Mem::Symbol { symbol, addend } => Mem::Symbol {
                symbol,
                addend: addend.wrapping_add(delta),
            },
        }
    }
}

/// A register or memory operand (the ModRM `r/m` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegMem {
    Reg(Reg),
    Mem(Mem),
}

impl From<Reg> for RegMem {
    fn from(r: Reg) -> RegMem {
        RegMem::Reg(r)
    }
}

impl From<Mem> for RegMem {
    fn from(m: Mem) -> RegMem {
        RegMem::Mem(m)
    }
}

/// A source operand: register, memory or immediate.
///
/// Immediates are 32-bit; 64-bit operations sign-extend them, 8- and 16-bit operations
/// use their low bits. (For a full 64-bit constant see
/// [`Assembler::mov_imm64`](crate::Assembler::mov_imm64).)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operand {
    Reg(Reg),
    Mem(Mem),
    Imm(i32),
}

impl From<Reg> for Operand {
    fn from(r: Reg) -> Operand {
        Operand::Reg(r)
    }
}

impl From<Mem> for Operand {
    fn from(m: Mem) -> Operand {
        Operand::Mem(m)
    }
}

impl From<i32> for Operand {
    fn from(i: i32) -> Operand {
        Operand::Imm(i)
    }
}

impl From<RegMem> for Operand {
    fn from(rm: RegMem) -> Operand {
        match rm {
            RegMem::Reg(r) => Operand::Reg(r),
            RegMem::Mem(m) => Operand::Mem(m),
        }
    }
}

/// An SSE register or memory operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XmmMem {
    Xmm(Xmm),
    Mem(Mem),
}

impl From<Xmm> for XmmMem {
    fn from(x: Xmm) -> XmmMem {
        XmmMem::Xmm(x)
    }
}

impl From<Mem> for XmmMem {
    fn from(m: Mem) -> XmmMem {
        XmmMem::Mem(m)
    }
}

#[cfg(test)]
mod tests {
    use super::{Mem, Scale};
    use crate::code::SymbolId;
    use crate::label::Label;
    use crate::reg::Reg;

    #[test]
    fn offset_moves_every_kind_of_operand() {
        let m = Mem::base_index(Reg::R12, Reg::R13, Scale::S8, 16).offset(-24);
        assert_eq!(m, Mem::base_index(Reg::R12, Reg::R13, Scale::S8, -8));
        let l = Mem::label(Label(3)).offset(8);
        assert_eq!(
            l,
            Mem::Label {
                label: Label(3),
                disp: 8
            }
        );
        let s = Mem::symbol(SymbolId(1), 4).offset(4);
        assert_eq!(s, Mem::symbol(SymbolId(1), 8));
        assert_eq!(Scale::ALL.map(Scale::factor), [1, 2, 4, 8]);
    }
}
