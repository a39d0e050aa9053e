//! Register operands: the sixteen general-purpose registers, the sixteen SSE registers
//! and the operand sizes an integer instruction can work on.

/// A general-purpose register, numbered as the hardware numbers it (0..=15).
///
/// The same register is named by its width at each use: `Reg::Rax` with [`Size::S32`]
/// is `eax`, with [`Size::S8`] it is `al`. Byte-sized uses of `Rsp`, `Rbp`, `Rsi`, `Rdi`
/// mean `spl`, `bpl`, `sil`, `dil` (the assembler adds the REX prefix these need);
/// the legacy `ah`..`bh` registers are never produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Reg {
    Rax = 0,
    Rcx = 1,
    Rdx = 2,
    Rbx = 3,
    Rsp = 4,
    Rbp = 5,
    Rsi = 6,
    Rdi = 7,
    R8 = 8,
    R9 = 9,
    R10 = 10,
    R11 = 11,
    R12 = 12,
    R13 = 13,
    R14 = 14,
    R15 = 15,
}

impl Reg {
    /// All sixteen registers in hardware order.
    pub const ALL: [Reg; 16] = [
        Reg::Rax,
        Reg::Rcx,
        Reg::Rdx,
        Reg::Rbx,
        Reg::Rsp,
        Reg::Rbp,
        Reg::Rsi,
        Reg::Rdi,
        Reg::R8,
        Reg::R9,
        Reg::R10,
        Reg::R11,
        Reg::R12,
        Reg::R13,
        Reg::R14,
        Reg::R15,
    ];

    /// The hardware number (0..=15).
    pub const fn num(self) -> u8 {
        self as u8
    }

    /// The register with hardware number `n & 15`.
    pub const fn from_num(n: u8) -> Reg {
        Reg::ALL[(n & 15) as usize]
    }
}

/// An SSE register, `xmm0`..`xmm15`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Xmm {
    Xmm0 = 0,
    Xmm1 = 1,
    Xmm2 = 2,
    Xmm3 = 3,
    Xmm4 = 4,
    Xmm5 = 5,
    Xmm6 = 6,
    Xmm7 = 7,
    Xmm8 = 8,
    Xmm9 = 9,
    Xmm10 = 10,
    Xmm11 = 11,
    Xmm12 = 12,
    Xmm13 = 13,
    Xmm14 = 14,
    Xmm15 = 15,
}

impl Xmm {
    /// All sixteen SSE registers in hardware order.
    pub const ALL: [Xmm; 16] = [
        Xmm::Xmm0,
        Xmm::Xmm1,
        Xmm::Xmm2,
        Xmm::Xmm3,
        Xmm::Xmm4,
        Xmm::Xmm5,
        Xmm::Xmm6,
        Xmm::Xmm7,
        Xmm::Xmm8,
        Xmm::Xmm9,
        Xmm::Xmm10,
        Xmm::Xmm11,
        Xmm::Xmm12,
        Xmm::Xmm13,
        Xmm::Xmm14,
        Xmm::Xmm15,
    ];

    /// The hardware number (0..=15).
    pub const fn num(self) -> u8 {
        self as u8
    }

    /// The register with hardware number `n & 15`.
    pub const fn from_num(n: u8) -> Xmm {
        Xmm::ALL[(n & 15) as usize]
    }
}

/// The width of an integer operation or memory access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Size {
    /// 8 bits (`al`, `byte ptr`).
    S8,
    /// 16 bits (`ax`, `word ptr`); encoded with the 0x66 operand-size prefix.
    S16,
    /// 32 bits (`eax`, `dword ptr`); writing a 32-bit register zero-extends it to 64 bits.
    S32,
    /// 64 bits (`rax`, `qword ptr`); encoded with REX.W.
    S64,
}

impl Size {
    /// All four sizes, narrowest first.
    pub const ALL: [Size; 4] = [Size::S8, Size::S16, Size::S32, Size::S64];

    /// The width in bytes.
    pub const fn bytes(self) -> u32 {
        match self {
            Size::S8 => 1,
            Size::S16 => 2,
            Size::S32 => 4,
            Size::S64 => 8,
        }
    }

    /// The width in bits.
    pub const fn bits(self) -> u32 {
        self.bytes() * 8
    }
}

/// The precision of a scalar SSE float operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FSize {
    /// `f32`: the `...ss` / `...ps` instructions.
    F32,
    /// `f64`: the `...sd` / `...pd` instructions.
    F64,
}

impl FSize {
    /// Both precisions.
    pub const ALL: [FSize; 2] = [FSize::F32, FSize::F64];
}

#[cfg(test)]
mod tests {
    use super::{Reg, Size, Xmm};

    #[test]
    fn numbers_round_trip() {
        for (n, r) in Reg::ALL.into_iter().enumerate() {
            assert_eq!(r.num() as usize, n);
            assert_eq!(Reg::from_num(n as u8), r);
        }
        for (n, x) in Xmm::ALL.into_iter().enumerate() {
            assert_eq!(x.num() as usize, n);
            assert_eq!(Xmm::from_num(n as u8 + 16), x);
        }
    }

    #[test]
    fn sizes_are_ordered_by_width() {
        let bits: [u32; 4] = Size::ALL.map(Size::bits);
        assert_eq!(bits, [8, 16, 32, 64]);
        assert!(Size::S8 < Size::S16 && Size::S32 < Size::S64);
    }
}
