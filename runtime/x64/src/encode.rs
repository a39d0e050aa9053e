//! The one generic encoder: legacy prefixes, REX, opcode, ModRM, SIB, displacement
//! and immediate. Every instruction method builds an [`Inst`] and hands it to
//! [`Assembler::inst`] (or, for the "opcode + register" forms such as `push r64`,
//! to [`Assembler::inst_plus_reg`]).

use crate::asm::Assembler;
use crate::code::RelocKind;
use crate::mem::{Mem, RegMem, Scale, XmmMem};
use crate::reg::{Reg, Size};

/// The ModRM `r/m` operand: a register number (GPR or XMM, 0..=15) or memory.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Rm {
    Reg(u8),
    Mem(Mem),
}

impl From<RegMem> for Rm {
    fn from(rm: RegMem) -> Rm {
        match rm {
            RegMem::Reg(r) => Rm::Reg(r.num()),
            RegMem::Mem(m) => Rm::Mem(m),
        }
    }
}

impl From<XmmMem> for Rm {
    fn from(rm: XmmMem) -> Rm {
        match rm {
            XmmMem::Xmm(x) => Rm::Reg(x.num()),
            XmmMem::Mem(m) => Rm::Mem(m),
        }
    }
}

impl From<Mem> for Rm {
    fn from(m: Mem) -> Rm {
        Rm::Mem(m)
    }
}

impl From<Reg> for Rm {
    fn from(r: Reg) -> Rm {
        Rm::Reg(r.num())
    }
}

/// An immediate that follows the ModRM bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Imm {
    None,
    B(u8),
    W(u16),
    D(u32),
    Q(u64),
}

impl Imm {
    /// The immediate of an `op r/m, imm` instruction of width `size`: 8/16/32 bits,
    /// 32 bits sign-extended for 64-bit operations.
    pub(crate) fn sized(size: Size, value: i32) -> Imm {
        match size {
            Size::S8 => Imm::B(value as u8),
            Size::S16 => Imm::W(value as u16),
            Size::S32 | Size::S64 => Imm::D(value as u32),
        }
    }

    fn len(self) -> u32 {
        match self {
            Imm::None => 0,
            Imm::B(_) => 1,
            Imm::W(_) => 2,
            Imm::D(_) => 4,
            Imm::Q(_) => 8,
        }
    }
}

/// Whether a signed value fits in a sign-extended byte.
pub(crate) fn fits_i8(v: i32) -> bool {
    v == v as i8 as i32
}

/// One instruction in ModRM form.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Inst<'o> {
    /// Emit the 0x66 operand-size prefix (16-bit operations, some SSE forms).
    pub opsize: bool,
    /// A mandatory 0xF2/0xF3 prefix, or 0.
    pub rep: u8,
    /// REX.W (64-bit operand size).
    pub w: bool,
    /// Opcode bytes (including any 0x0F escape).
    pub op: &'o [u8],
    /// The ModRM `reg` field: a register number or an opcode extension `/digit`.
    pub reg: u8,
    pub rm: Rm,
    /// `reg` names a byte register (so 4..=7 mean spl..dil and need a REX prefix).
    pub byte_reg: bool,
    /// `rm`, if a register, names a byte register.
    pub byte_rm: bool,
    pub imm: Imm,
}

impl<'o> Inst<'o> {
    /// An instruction with no prefixes, no REX.W, byte-register flags off, no immediate.
    pub(crate) fn new(op: &'o [u8], reg: u8, rm: Rm) -> Inst<'o> {
        Inst {
            opsize: false,
            rep: 0,
            w: false,
            op,
            reg,
            rm,
            byte_reg: false,
            byte_rm: false,
            imm: Imm::None,
        }
    }

    /// Sets the operand-size prefix / REX.W / byte flags for an integer operation of
    /// width `size`. `reg_is_gpr` says whether `reg` is a register (not a `/digit`).
    pub(crate) fn sized(mut self, size: Size, reg_is_gpr: bool) -> Inst<'o> {
        self.opsize = size == Size::S16;
        self.w = size == Size::S64;
        self.byte_reg = size == Size::S8 && reg_is_gpr;
        self.byte_rm = size == Size::S8;
        self
    }

    pub(crate) fn imm(mut self, imm: Imm) -> Inst<'o> {
        self.imm = imm;
        self
    }

    pub(crate) fn rep(mut self, rep: u8) -> Inst<'o> {
        self.rep = rep;
        self
    }

    pub(crate) fn opsize(mut self, opsize: bool) -> Inst<'o> {
        self.opsize = opsize;
        self
    }

    pub(crate) fn w(mut self, w: bool) -> Inst<'o> {
        self.w = w;
        self
    }
}

fn is_byte_high(n: u8) -> bool {
    (4..8).contains(&n)
}

impl Assembler {
    fn put(&mut self, b: u8) {
        self.buf.push(b);
    }

    fn put_imm(&mut self, imm: Imm) {
        match imm {
            Imm::None => {}
            Imm::B(v) => self.put(v),
            Imm::W(v) => self.buf.extend_from_slice(&v.to_le_bytes()),
            Imm::D(v) => self.buf.extend_from_slice(&v.to_le_bytes()),
            Imm::Q(v) => self.buf.extend_from_slice(&v.to_le_bytes()),
        }
    }

    fn prefixes(&mut self, opsize: bool, rep: u8) {
        if opsize {
            self.put(0x66);
        }
        if rep != 0 {
            self.put(rep);
        }
    }

    /// Encodes one ModRM-form instruction.
    pub(crate) fn inst(&mut self, i: Inst<'_>) {
        self.prefixes(i.opsize, i.rep);
        let (x, b) = match i.rm {
            Rm::Reg(n) => (0, n >> 3),
            Rm::Mem(Mem::Sib { base, index, .. }) => (
                index.map_or(0, |(r, _)| r.num() >> 3),
                base.map_or(0, |r| r.num() >> 3),
            ),
            Rm::Mem(_) => (0, 0),
        };
        let rex = 0x40 | (i.w as u8) << 3 | (i.reg >> 3 & 1) << 2 | x << 1 | b;
        let byte_rex = (i.byte_reg && is_byte_high(i.reg))
            || (i.byte_rm && matches!(i.rm, Rm::Reg(n) if is_byte_high(n)));
        if rex != 0x40 || byte_rex {
            self.put(rex);
        }
        self.buf.extend_from_slice(i.op);
        let reg = (i.reg & 7) << 3;
        match i.rm {
            Rm::Reg(n) => self.put(0xC0 | reg | (n & 7)),
            Rm::Mem(m) => self.modrm_mem(reg, m, i.imm.len()),
        }
        self.put_imm(i.imm);
    }

    /// Encodes an "opcode + register number" instruction (`push r`, `mov r, imm`,
    /// `bswap r`): `op` is emitted with the register's low 3 bits added to its last byte.
    pub(crate) fn inst_plus_reg(
        &mut self,
        opsize: bool,
        w: bool,
        op: &[u8],
        reg: u8,
        byte: bool,
        imm: Imm,
    ) {
        self.prefixes(opsize, 0);
        let rex = 0x40 | (w as u8) << 3 | reg >> 3;
        if rex != 0x40 || (byte && is_byte_high(reg)) {
            self.put(rex);
        }
        let (last, head) = op.split_last().expect("opcode");
        self.buf.extend_from_slice(head);
        self.put(last + (reg & 7));
        self.put_imm(imm);
    }

    /// ModRM (+ SIB + displacement) for a memory operand. `reg` is the ModRM reg field
    /// already shifted into bits 5..3; `imm_len` is the size of the immediate that will
    /// follow (RIP-relative displacements are relative to the end of the instruction).
    fn modrm_mem(&mut self, reg: u8, m: Mem, imm_len: u32) {
        match m {
            Mem::Label { label, disp } => {
                self.put(0x05 | reg);
                let end = self.offset() + 4 + imm_len;
                self.rel32_to_label(label, disp, end);
            }
            Mem::Symbol { symbol, addend } => {
                self.put(0x05 | reg);
                self.reloc_here(RelocKind::Rel32, symbol, addend as i64 - 4 - imm_len as i64);
                self.buf.extend_from_slice(&[0; 4]);
            }
            Mem::Sib { base, index, disp } => {
                if let Some((i, _)) = index {
                    assert!(i.num() != 4, "rsp cannot be an index register");
                }
                let sib_index = |index: Option<(Reg, Scale)>| match index {
                    Some((i, s)) => s.bits() << 6 | (i.num() & 7) << 3,
                    None => 4 << 3,
                };
                match base {
                    None => {
                        // mod 00, rm 100, SIB base 101: [index*scale + disp32].
                        self.put(0x04 | reg);
                        self.put(sib_index(index) | 5);
                        self.buf.extend_from_slice(&disp.to_le_bytes());
                    }
                    Some(b) => {
                        let b = b.num() & 7;
                        // rbp/r13 with mod 00 would mean RIP/no-base: use disp8 0.
                        let md = if disp == 0 && b != 5 {
                            0
                        } else if fits_i8(disp) {
                            1
                        } else {
                            2
                        };
                        // rsp/r12 in rm means "SIB follows".
                        if index.is_none() && b != 4 {
                            self.put(md << 6 | reg | b);
                        } else {
                            self.put(md << 6 | reg | 4);
                            self.put(sib_index(index) | b);
                        }
                        match md {
                            0 => {}
                            1 => self.put(disp as u8),
                            _ => self.buf.extend_from_slice(&disp.to_le_bytes()),
                        }
                    }
                }
            }
        }
    }
}
