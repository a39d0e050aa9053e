//! Integer instructions: arithmetic and logic, shifts, multiply/divide, moves and
//! extensions, bit counting, conditional set/move, atomics.

use crate::asm::Assembler;
use crate::code::{RelocKind, SymbolId};
use crate::cond::Cond;
use crate::encode::{fits_i8, Imm, Inst, Rm};
use crate::mem::{Mem, Operand, RegMem};
use crate::reg::{Reg, Size};

/// The eight classic two-operand ALU operations (their number is the `/digit` of the
/// `0x80`-group encodings and bits 5..3 of the register forms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum AluOp {
    Add = 0,
    Or = 1,
    Adc = 2,
    Sbb = 3,
    And = 4,
    Sub = 5,
    Xor = 6,
    Cmp = 7,
}

impl AluOp {
    /// All eight operations.
    pub const ALL: [AluOp; 8] = [
        AluOp::Add,
        AluOp::Or,
        AluOp::Adc,
        AluOp::Sbb,
        AluOp::And,
        AluOp::Sub,
        AluOp::Xor,
        AluOp::Cmp,
    ];
}

/// Shifts and rotates (the `/digit` of the `0xC0`/`0xD0` groups).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ShiftOp {
    Rol = 0,
    Ror = 1,
    Rcl = 2,
    Rcr = 3,
    Shl = 4,
    Shr = 5,
    Sar = 7,
}

impl ShiftOp {
    /// All seven operations.
    pub const ALL: [ShiftOp; 7] = [
        ShiftOp::Rol,
        ShiftOp::Ror,
        ShiftOp::Rcl,
        ShiftOp::Rcr,
        ShiftOp::Shl,
        ShiftOp::Shr,
        ShiftOp::Sar,
    ];
}

/// Picks the byte or the wider opcode.
fn by_size(size: Size, byte: u8, wide: u8) -> u8 {
    if size == Size::S8 {
        byte
    } else {
        wide
    }
}

fn not_byte(size: Size, what: &str) {
    assert!(size != Size::S8, "{what} has no 8-bit form");
}

impl Assembler {
    /// An integer instruction of width `size` in ModRM form.
    fn sized(
        &mut self,
        size: Size,
        op: &[u8],
        reg: u8,
        reg_is_gpr: bool,
        rm: impl Into<Rm>,
        imm: Imm,
    ) {
        self.inst(
            Inst::new(op, reg, rm.into())
                .sized(size, reg_is_gpr)
                .imm(imm),
        );
    }

    /// `op dst, src` for the eight ALU operations: reg-reg, reg-imm, reg-mem, mem-reg,
    /// mem-imm. Immediates that fit in a sign-extended byte use the short `0x83` form.
    ///
    /// # Panics
    /// On memory-to-memory.
    pub fn alu(&mut self, size: Size, op: AluOp, dst: impl Into<RegMem>, src: impl Into<Operand>) {
        let base = (op as u8) << 3;
        match (dst.into(), src.into()) {
            (dst, Operand::Imm(i)) => {
                let (opc, imm) = match size {
                    Size::S8 => (0x80, Imm::B(i as u8)),
                    _ if fits_i8(i) => (0x83, Imm::B(i as u8)),
                    _ => (0x81, Imm::sized(size, i)),
                };
                self.sized(size, &[opc], op as u8, false, dst, imm);
            }
            (dst, Operand::Reg(src)) => {
                self.sized(
                    size,
                    &[base + by_size(size, 0, 1)],
                    src.num(),
                    true,
                    dst,
                    Imm::None,
                );
            }
            (RegMem::Reg(dst), Operand::Mem(src)) => {
                self.sized(
                    size,
                    &[base + by_size(size, 2, 3)],
                    dst.num(),
                    true,
                    src,
                    Imm::None,
                );
            }
            (RegMem::Mem(_), Operand::Mem(_)) => panic!("alu: memory-to-memory operands"),
        }
    }

    /// `test a, b` (flags of `a & b`) with a register or an immediate; memory may be
    /// on either side when the other side is a register.
    ///
    /// # Panics
    /// On memory-to-memory.
    pub fn test(&mut self, size: Size, a: impl Into<RegMem>, b: impl Into<Operand>) {
        let op = [by_size(size, 0x84, 0x85)];
        match (a.into(), b.into()) {
            (a, Operand::Imm(i)) => {
                let imm = Imm::sized(size, i);
                self.sized(size, &[by_size(size, 0xF6, 0xF7)], 0, false, a, imm)
            }
            (a, Operand::Reg(b)) => self.sized(size, &op, b.num(), true, a, Imm::None),
            (RegMem::Reg(a), Operand::Mem(m)) => self.sized(size, &op, a.num(), true, m, Imm::None),
            (RegMem::Mem(_), Operand::Mem(_)) => panic!("test: memory-to-memory operands"),
        }
    }

    /// The one-operand `0xF6`/`0xF7` (and `0xFE`/`0xFF`) group.
    fn group3(&mut self, size: Size, op8: u8, digit: u8, rm: RegMem) {
        self.sized(
            size,
            &[by_size(size, op8, op8 + 1)],
            digit,
            false,
            rm,
            Imm::None,
        );
    }

    /// `not dst` (bitwise complement).
    pub fn not(&mut self, size: Size, dst: impl Into<RegMem>) {
        self.group3(size, 0xF6, 2, dst.into());
    }

    /// `neg dst` (two's complement negation).
    pub fn neg(&mut self, size: Size, dst: impl Into<RegMem>) {
        self.group3(size, 0xF6, 3, dst.into());
    }

    /// `inc dst`.
    pub fn inc(&mut self, size: Size, dst: impl Into<RegMem>) {
        self.group3(size, 0xFE, 0, dst.into());
    }

    /// `dec dst`.
    pub fn dec(&mut self, size: Size, dst: impl Into<RegMem>) {
        self.group3(size, 0xFE, 1, dst.into());
    }

    /// `mul src`: unsigned `rdx:rax := rax * src` (for 8 bits `ax := al * src`).
    pub fn mul(&mut self, size: Size, src: impl Into<RegMem>) {
        self.group3(size, 0xF6, 4, src.into());
    }

    /// One-operand `imul src`: signed `rdx:rax := rax * src`.
    pub fn imul_wide(&mut self, size: Size, src: impl Into<RegMem>) {
        self.group3(size, 0xF6, 5, src.into());
    }

    /// `div src`: unsigned `rax := rdx:rax / src`, `rdx := remainder`
    /// (zero `rdx` first). Faults (#DE) on division by zero or overflow.
    pub fn div(&mut self, size: Size, src: impl Into<RegMem>) {
        self.group3(size, 0xF6, 6, src.into());
    }

    /// `idiv src`: signed `rax := rdx:rax / src`, `rdx := remainder`
    /// (sign-extend with [`cdq`](Self::cdq)/[`cqo`](Self::cqo) first). Faults (#DE) on
    /// division by zero and on `MIN / -1`.
    pub fn idiv(&mut self, size: Size, src: impl Into<RegMem>) {
        self.group3(size, 0xF6, 7, src.into());
    }

    /// Two-operand `imul dst, src` (`dst := dst * src`, truncated). 16/32/64 bits.
    pub fn imul(&mut self, size: Size, dst: Reg, src: impl Into<RegMem>) {
        not_byte(size, "imul r, r/m");
        self.sized(size, &[0x0F, 0xAF], dst.num(), true, src.into(), Imm::None);
    }

    /// Three-operand `imul dst, src, imm` (`dst := src * imm`); the imm8 form is chosen
    /// when the constant fits. 16/32/64 bits.
    pub fn imul_imm(&mut self, size: Size, dst: Reg, src: impl Into<RegMem>, imm: i32) {
        not_byte(size, "imul r, r/m, imm");
        let (op, imm) = if fits_i8(imm) {
            (0x6B, Imm::B(imm as u8))
        } else {
            (0x69, Imm::sized(size, imm))
        };
        self.sized(size, &[op], dst.num(), true, src.into(), imm);
    }

    /// Shift or rotate by a constant (`count` is masked by the CPU to 5 or 6 bits).
    /// A count of 1 uses the short `0xD0`/`0xD1` form.
    pub fn shift(&mut self, size: Size, op: ShiftOp, dst: impl Into<RegMem>, count: u8) {
        let dst = dst.into();
        if count == 1 {
            self.sized(
                size,
                &[by_size(size, 0xD0, 0xD1)],
                op as u8,
                false,
                dst,
                Imm::None,
            );
        } else {
            self.sized(
                size,
                &[by_size(size, 0xC0, 0xC1)],
                op as u8,
                false,
                dst,
                Imm::B(count),
            );
        }
    }

    /// Shift or rotate by `cl`.
    pub fn shift_cl(&mut self, size: Size, op: ShiftOp, dst: impl Into<RegMem>) {
        self.sized(
            size,
            &[by_size(size, 0xD2, 0xD3)],
            op as u8,
            false,
            dst.into(),
            Imm::None,
        );
    }

    /// `mov dst, src`: register, memory or immediate source. A 64-bit register
    /// destination with an immediate goes through [`mov_imm64`](Self::mov_imm64) (shortest
    /// form); a 64-bit memory destination takes a sign-extended 32-bit immediate.
    /// Writing a 32-bit register zero-extends into the full register.
    ///
    /// # Panics
    /// On memory-to-memory.
    pub fn mov(&mut self, size: Size, dst: impl Into<RegMem>, src: impl Into<Operand>) {
        match (dst.into(), src.into()) {
            (RegMem::Reg(d), Operand::Imm(i)) => match size {
                Size::S64 => self.mov_imm64(d, i as i64),
                Size::S8 => {
                    self.inst_plus_reg(false, false, &[0xB0], d.num(), true, Imm::B(i as u8))
                }
                _ => {
                    let imm = Imm::sized(size, i);
                    self.inst_plus_reg(size == Size::S16, false, &[0xB8], d.num(), false, imm)
                }
            },
            (RegMem::Mem(m), Operand::Imm(i)) => self.sized(
                size,
                &[by_size(size, 0xC6, 0xC7)],
                0,
                false,
                m,
                Imm::sized(size, i),
            ),
            (dst, Operand::Reg(s)) => self.sized(
                size,
                &[by_size(size, 0x88, 0x89)],
                s.num(),
                true,
                dst,
                Imm::None,
            ),
            (RegMem::Reg(d), Operand::Mem(m)) => self.sized(
                size,
                &[by_size(size, 0x8A, 0x8B)],
                d.num(),
                true,
                m,
                Imm::None,
            ),
            (RegMem::Mem(_), Operand::Mem(_)) => panic!("mov: memory-to-memory operands"),
        }
    }

    /// Loads a 64-bit constant into `dst` with the shortest encoding: `mov r32, imm32`
    /// (zero-extends) for values in `0..=u32::MAX`, `mov r64, simm32` for other values
    /// that fit a sign-extended 32-bit immediate, otherwise `movabs r64, imm64`.
    pub fn mov_imm64(&mut self, dst: Reg, value: i64) {
        if let Ok(v) = u32::try_from(value) {
            self.inst_plus_reg(false, false, &[0xB8], dst.num(), false, Imm::D(v));
        } else if let Ok(v) = i32::try_from(value) {
            self.sized(Size::S64, &[0xC7], 0, false, dst, Imm::D(v as u32));
        } else {
            self.inst_plus_reg(false, true, &[0xB8], dst.num(), false, Imm::Q(value as u64));
        }
    }

    /// `movabs dst, imm64` holding the absolute address `symbol + addend`
    /// (an [`Abs64`](crate::RelocKind::Abs64) relocation). Always 10 bytes.
    pub fn mov_symbol_addr(&mut self, dst: Reg, symbol: SymbolId, addend: i64) {
        self.inst_plus_reg(false, true, &[0xB8], dst.num(), false, Imm::None);
        self.reloc_here(RelocKind::Abs64, symbol, addend);
        self.buf.extend_from_slice(&[0; 8]);
    }

    /// Zero-extending load/move: `movzx dst, src` for an 8- or 16-bit source. A 32-bit
    /// source is a plain `mov r32, r/m32` (which zero-extends to 64 bits).
    ///
    /// # Panics
    /// If `src_size` is 64 bits or not narrower than `dst_size` (except 32 → 32/64).
    pub fn movzx(&mut self, dst_size: Size, dst: Reg, src_size: Size, src: impl Into<RegMem>) {
        let src = src.into();
        let op: &[u8] = match src_size {
            Size::S8 => &[0x0F, 0xB6],
            Size::S16 => &[0x0F, 0xB7],
            Size::S32 => return self.mov(Size::S32, dst, Operand::from(src)),
            Size::S64 => panic!("movzx: 64-bit source"),
        };
        assert!(
            src_size < dst_size,
            "movzx: source must be narrower than destination"
        );
        let mut i = Inst::new(op, dst.num(), src.into()).sized(dst_size, true);
        i.byte_rm = src_size == Size::S8;
        self.inst(i);
    }

    /// Sign-extending load/move: `movsx dst, src` (8/16-bit source) or
    /// `movsxd dst, src` (32-bit source, 64-bit destination).
    ///
    /// # Panics
    /// If `src_size` is not narrower than `dst_size`.
    pub fn movsx(&mut self, dst_size: Size, dst: Reg, src_size: Size, src: impl Into<RegMem>) {
        assert!(
            src_size < dst_size,
            "movsx: source must be narrower than destination"
        );
        let op: &[u8] = match src_size {
            Size::S8 => &[0x0F, 0xBE],
            Size::S16 => &[0x0F, 0xBF],
            _ => &[0x63],
        };
        let mut i = Inst::new(op, dst.num(), src.into().into()).sized(dst_size, true);
        i.byte_rm = src_size == Size::S8;
        self.inst(i);
    }

    /// `lea dst, [mem]` (16/32/64-bit result).
    pub fn lea(&mut self, size: Size, dst: Reg, mem: Mem) {
        not_byte(size, "lea");
        self.sized(size, &[0x8D], dst.num(), true, mem, Imm::None);
    }

    /// `push src`: a 64-bit register, a qword in memory, or a sign-extended immediate.
    pub fn push(&mut self, src: impl Into<Operand>) {
        match src.into() {
            Operand::Reg(r) => self.inst_plus_reg(false, false, &[0x50], r.num(), false, Imm::None),
            Operand::Mem(m) => self.inst(Inst::new(&[0xFF], 6, Rm::Mem(m))),
            Operand::Imm(i) if fits_i8(i) => self.emit_bytes(&[0x6A, i as u8]),
            Operand::Imm(i) => {
                self.emit_bytes(&[0x68]);
                self.emit_bytes(&i.to_le_bytes());
            }
        }
    }

    /// `pop dst`: a 64-bit register or a qword in memory.
    pub fn pop(&mut self, dst: impl Into<RegMem>) {
        match dst.into() {
            RegMem::Reg(r) => self.inst_plus_reg(false, false, &[0x58], r.num(), false, Imm::None),
            RegMem::Mem(m) => self.inst(Inst::new(&[0x8F], 0, Rm::Mem(m))),
        }
    }

    /// `xchg a, b` (implicitly locked when `a` is memory).
    pub fn xchg(&mut self, size: Size, a: impl Into<RegMem>, b: Reg) {
        self.sized(
            size,
            &[by_size(size, 0x86, 0x87)],
            b.num(),
            true,
            a.into(),
            Imm::None,
        );
    }

    /// `cmpxchg dst, src`: if `rax == dst` then `dst := src` (ZF set) else
    /// `rax := dst`. Precede with [`lock`](Self::lock) for atomicity.
    pub fn cmpxchg(&mut self, size: Size, dst: impl Into<RegMem>, src: Reg) {
        let op = [0x0F, by_size(size, 0xB0, 0xB1)];
        self.sized(size, &op, src.num(), true, dst.into(), Imm::None);
    }

    /// `xadd dst, src`: `tmp := dst + src; src := dst; dst := tmp`.
    pub fn xadd(&mut self, size: Size, dst: impl Into<RegMem>, src: Reg) {
        let op = [0x0F, by_size(size, 0xC0, 0xC1)];
        self.sized(size, &op, src.num(), true, dst.into(), Imm::None);
    }

    /// The `lock` prefix for the next instruction.
    pub fn lock(&mut self) {
        self.emit_bytes(&[0xF0]);
    }

    /// `setcc dst`: the byte `dst := cond ? 1 : 0` (upper bits of a register unchanged).
    pub fn setcc(&mut self, cond: Cond, dst: impl Into<RegMem>) {
        self.sized(
            Size::S8,
            &[0x0F, 0x90 + cond.bits()],
            0,
            false,
            dst.into(),
            Imm::None,
        );
    }

    /// `cmovcc dst, src`: `if cond { dst := src }` (16/32/64 bits; the 32-bit form
    /// zero-extends `dst` even when the condition is false).
    pub fn cmov(&mut self, size: Size, cond: Cond, dst: Reg, src: impl Into<RegMem>) {
        not_byte(size, "cmovcc");
        self.sized(
            size,
            &[0x0F, 0x40 + cond.bits()],
            dst.num(),
            true,
            src.into(),
            Imm::None,
        );
    }

    /// The bit-counting family (`0F xx`, with an optional mandatory `F3` prefix).
    fn bit_count(&mut self, size: Size, rep: u8, op: u8, dst: Reg, src: RegMem) {
        not_byte(size, "bit counting");
        let op = [0x0F, op];
        let i = Inst::new(&op, dst.num(), src.into())
            .sized(size, true)
            .rep(rep);
        self.inst(i);
    }

    /// `lzcnt dst, src`: leading zero count (LZCNT/ABM; `size` bits for zero).
    pub fn lzcnt(&mut self, size: Size, dst: Reg, src: impl Into<RegMem>) {
        self.bit_count(size, 0xF3, 0xBD, dst, src.into());
    }

    /// `tzcnt dst, src`: trailing zero count (BMI1; `size` bits for zero).
    pub fn tzcnt(&mut self, size: Size, dst: Reg, src: impl Into<RegMem>) {
        self.bit_count(size, 0xF3, 0xBC, dst, src.into());
    }

    /// `popcnt dst, src`: population count.
    pub fn popcnt(&mut self, size: Size, dst: Reg, src: impl Into<RegMem>) {
        self.bit_count(size, 0xF3, 0xB8, dst, src.into());
    }

    /// `bsf dst, src`: index of the lowest set bit (ZF set and `dst` undefined for zero).
    pub fn bsf(&mut self, size: Size, dst: Reg, src: impl Into<RegMem>) {
        self.bit_count(size, 0, 0xBC, dst, src.into());
    }

    /// `bsr dst, src`: index of the highest set bit (ZF set and `dst` undefined for zero).
    pub fn bsr(&mut self, size: Size, dst: Reg, src: impl Into<RegMem>) {
        self.bit_count(size, 0, 0xBD, dst, src.into());
    }

    /// `bswap reg` (32 or 64 bits).
    ///
    /// # Panics
    /// On 8/16-bit sizes (the 16-bit form is undefined).
    pub fn bswap(&mut self, size: Size, reg: Reg) {
        assert!(size >= Size::S32, "bswap: 32 or 64 bits only");
        self.inst_plus_reg(
            false,
            size == Size::S64,
            &[0x0F, 0xC8],
            reg.num(),
            false,
            Imm::None,
        );
    }

    /// `cdq`: sign-extend `eax` into `edx:eax` (before a 32-bit `idiv`).
    pub fn cdq(&mut self) {
        self.emit_bytes(&[0x99]);
    }

    /// `cqo`: sign-extend `rax` into `rdx:rax` (before a 64-bit `idiv`).
    pub fn cqo(&mut self) {
        self.emit_bytes(&[0x48, 0x99]);
    }
}
