//! Double arithmetic for the primitives.
//!
//! On bare metal (`x86_64-unknown-none`, a soft-float target) the runtime's own code never
//! touches XMM registers, so `+ - * /`, `sqrt`, `<`, `=` and Integer-to-Double
//! conversion go through these tiny SSE2 helpers instead of soft-float library calls; the kernel enables SSE at boot. The
//! instructions are written as bytes because the assembler refuses SSE mnemonics on a
//! target without the `sse2` feature. Hosted builds use the same helpers in tests (and
//! native `f64` otherwise).

/// The bits of xmm0 after `movq xmm0, rax; movq xmm1, rcx; <op> xmm0, xmm1; movq rax,
/// xmm0` with `a` in rax and `b` in rcx: the one sequence behind every two-operand helper.
#[cfg(any(target_os = "none", test))]
macro_rules! sse2_bits {
    ($op:literal, $a:expr, $b:expr) => {{
        let r: u64;
        // SAFETY: SSE2 is available (enabled at boot on bare metal, always present on
        // x86-64 Linux). The bytes are `movq xmm0, rax; movq xmm1, rcx; <op> xmm0,
        // xmm1; movq rax, xmm0`; they touch only rax, rcx, xmm0 and xmm1. On the
        // soft-float target no Rust value ever lives in an XMM register; hosted, the
        // two are declared clobbered.
        unsafe {
            core::arch::asm!(
                ".byte 0x66, 0x48, 0x0f, 0x6e, 0xc0",
                ".byte 0x66, 0x48, 0x0f, 0x6e, 0xc9",
                $op,
                ".byte 0x66, 0x48, 0x0f, 0x7e, 0xc0",
                inout("rax") $a.to_bits() => r,
                in("rcx") $b.to_bits(),
                options(nomem, nostack, pure),
                // Only hosted builds can name XMM registers.
                #[cfg(not(target_os = "none"))] out("xmm0") _,
                #[cfg(not(target_os = "none"))] out("xmm1") _,
            );
        }
        r
    }};
}

#[cfg(any(target_os = "none", test))]
macro_rules! sse2_binary {
    ($name:ident, $op:literal) => {
        /// One SSE2 scalar double operation on `a` and `b` (xmm0 and xmm1 are scratch).
        pub fn $name(a: f64, b: f64) -> f64 {
            f64::from_bits(sse2_bits!($op, a, b))
        }
    };
}

/// One SSE2 scalar comparison (`cmpsd xmm0, xmm1, predicate`): true if the mask is set.
#[cfg(any(target_os = "none", test))]
macro_rules! sse2_compare {
    ($name:ident, $op:literal) => {
        /// An SSE2 scalar double comparison of `a` with `b` (false if either is NaN).
        pub fn $name(a: f64, b: f64) -> bool {
            sse2_bits!($op, a, b) != 0
        }
    };
}

#[cfg(any(target_os = "none", test))]
mod sse2 {
    sse2_compare!(lt, ".byte 0xf2, 0x0f, 0xc2, 0xc1, 0x01");
    sse2_compare!(eq, ".byte 0xf2, 0x0f, 0xc2, 0xc1, 0x00");

    /// `cvtsi2sd xmm0, rax`: the nearest double to `i`.
    pub fn from_i64(i: i64) -> f64 {
        let r: u64;
        // SAFETY: as for `sse2_bits`: `cvtsi2sd xmm0, rax; movq rax, xmm0`.
        unsafe {
            core::arch::asm!(
                ".byte 0xf2, 0x48, 0x0f, 0x2a, 0xc0",
                ".byte 0x66, 0x48, 0x0f, 0x7e, 0xc0",
                inout("rax") i => r,
                options(nomem, nostack, pure),
                #[cfg(not(target_os = "none"))] out("xmm0") _,
            );
        }
        f64::from_bits(r)
    }

    sse2_binary!(add, ".byte 0xf2, 0x0f, 0x58, 0xc1");
    sse2_binary!(sub, ".byte 0xf2, 0x0f, 0x5c, 0xc1");
    sse2_binary!(mul, ".byte 0xf2, 0x0f, 0x59, 0xc1");
    sse2_binary!(div, ".byte 0xf2, 0x0f, 0x5e, 0xc1");
    // `sqrtsd xmm0, xmm1`: the square root of the second operand.
    sse2_binary!(sqrt_of_second, ".byte 0xf2, 0x0f, 0x51, 0xc1");
}

#[cfg(target_os = "none")]
pub use sse2::{add, div, eq, from_i64, lt, mul, sub};

/// Square root.
#[cfg(target_os = "none")]
pub fn sqrt(a: f64) -> f64 {
    sse2::sqrt_of_second(0.0, a)
}

/// `a + b`.
#[cfg(not(target_os = "none"))]
pub fn add(a: f64, b: f64) -> f64 {
    a + b
}

/// `a - b`.
#[cfg(not(target_os = "none"))]
pub fn sub(a: f64, b: f64) -> f64 {
    a - b
}

/// `a * b`.
#[cfg(not(target_os = "none"))]
pub fn mul(a: f64, b: f64) -> f64 {
    a * b
}

/// `a / b`.
#[cfg(not(target_os = "none"))]
pub fn div(a: f64, b: f64) -> f64 {
    a / b
}

/// Square root.
#[cfg(not(target_os = "none"))]
pub fn sqrt(a: f64) -> f64 {
    libm::sqrt(a)
}

/// `a < b`.
#[cfg(not(target_os = "none"))]
pub fn lt(a: f64, b: f64) -> bool {
    a < b
}

/// `a == b`.
#[cfg(not(target_os = "none"))]
pub fn eq(a: f64, b: f64) -> bool {
    a == b
}

/// The nearest double to `i`.
#[cfg(not(target_os = "none"))]
pub fn from_i64(i: i64) -> f64 {
    i as f64
}

#[cfg(test)]
mod tests {
    use super::sse2;

    #[test]
    fn sse2_int_conversion_matches_native() {
        for i in [
            0i64,
            1,
            -1,
            1 << 53,
            (1 << 53) + 1,
            i64::MAX,
            i64::MIN,
            123456789,
        ] {
            assert_eq!(sse2::from_i64(i).to_bits(), (i as f64).to_bits(), "{i}");
        }
    }

    #[test]
    fn sse2_helpers_match_native_arithmetic() {
        let values = [
            0.0,
            -0.0,
            1.5,
            -2.25,
            1e300,
            3.0e-310,
            f64::INFINITY,
            f64::NAN,
            7.0,
        ];
        for &a in &values {
            for &b in &values {
                for (got, want) in [
                    (sse2::add(a, b), a + b),
                    (sse2::sub(a, b), a - b),
                    (sse2::mul(a, b), a * b),
                    (sse2::div(a, b), a / b),
                ] {
                    assert!(
                        got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                        "{a} {b}"
                    );
                }
            }
            for &b in &values {
                assert_eq!(sse2::lt(a, b), a < b, "{a} < {b}");
                assert_eq!(sse2::eq(a, b), a == b, "{a} = {b}");
            }
            let (got, want) = (sse2::sqrt_of_second(0.0, a), libm::sqrt(a));
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "sqrt {a}"
            );
        }
    }
}
