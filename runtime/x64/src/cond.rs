//! Condition codes for `jcc`, `setcc` and `cmovcc`.

/// A condition code, numbered as the low nibble of the `jcc`/`setcc`/`cmovcc` opcodes.
///
/// Unsigned comparisons use `B`/`Be`/`A`/`Ae` (below/above), signed ones
/// `L`/`Le`/`G`/`Ge` (less/greater). After `ucomiss`/`ucomisd` the unsigned codes
/// apply and `P` means "unordered" (a NaN was involved).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Cond {
    /// Overflow.
    O = 0,
    /// No overflow.
    No = 1,
    /// Below (unsigned <), carry set.
    B = 2,
    /// Above or equal (unsigned >=), carry clear.
    Ae = 3,
    /// Equal, zero set.
    E = 4,
    /// Not equal, zero clear.
    Ne = 5,
    /// Below or equal (unsigned <=).
    Be = 6,
    /// Above (unsigned >).
    A = 7,
    /// Sign set (negative).
    S = 8,
    /// Sign clear.
    Ns = 9,
    /// Parity set (unordered after a float compare).
    P = 10,
    /// Parity clear (ordered after a float compare).
    Np = 11,
    /// Less (signed <).
    L = 12,
    /// Greater or equal (signed >=).
    Ge = 13,
    /// Less or equal (signed <=).
    Le = 14,
    /// Greater (signed >).
    G = 15,
}

impl Cond {
    /// All sixteen conditions in encoding order.
    pub const ALL: [Cond; 16] = [
        Cond::O,
        Cond::No,
        Cond::B,
        Cond::Ae,
        Cond::E,
        Cond::Ne,
        Cond::Be,
        Cond::A,
        Cond::S,
        Cond::Ns,
        Cond::P,
        Cond::Np,
        Cond::L,
        Cond::Ge,
        Cond::Le,
        Cond::G,
    ];

    /// The opposite condition (true exactly when `self` is false).
    pub const fn invert(self) -> Cond {
        Cond::ALL[(self as u8 ^ 1) as usize]
    }

    /// The condition that holds after swapping the two compared operands
    /// (`a < b` ⇔ `b > a`).
    pub const fn swap_operands(self) -> Cond {
        match self {
            Cond::B => Cond::A,
            Cond::A => Cond::B,
            Cond::Ae => Cond::Be,
            Cond::Be => Cond::Ae,
            Cond::L => Cond::G,
            Cond::G => Cond::L,
            Cond::Ge => Cond::Le,
            Cond::Le => Cond::Ge,
            other => other,
        }
    }

    /// The 4-bit encoding.
    pub const fn bits(self) -> u8 {
        self as u8
    }
}

#[cfg(test)]
mod tests {
    use super::Cond;

    #[test]
    fn invert_is_an_involution_and_differs() {
        for c in Cond::ALL {
            assert_ne!(c.invert(), c);
            assert_eq!(c.invert().invert(), c);
        }
        assert_eq!(Cond::E.invert(), Cond::Ne);
        assert_eq!(Cond::L.invert(), Cond::Ge);
        assert_eq!(Cond::A.invert(), Cond::Be);
    }

    #[test]
    fn swap_operands_is_an_involution() {
        for c in Cond::ALL {
            assert_eq!(c.swap_operands().swap_operands(), c);
        }
        assert_eq!(Cond::L.swap_operands(), Cond::G);
    }
}
