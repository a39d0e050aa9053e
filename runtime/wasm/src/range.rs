//! The bounds test shared by the WASI memory accesses and the reading and instantiating
//! of instance templates: whether a range given by its start and length lies within a
//! buffer.

/// Whether `len` units from `at` end within `size` units. The end is summed in `u128`,
/// where it cannot overflow, so the test is one compare: under an emulator each branch
/// of code this common is a block to translate at every call site.
#[inline]
pub(crate) fn fits(at: u64, len: impl Into<u128>, size: usize) -> bool {
    u128::from(at) + len.into() <= size as u128
}

#[cfg(test)]
mod tests {
    use super::fits;

    #[test]
    fn ends_at_most_at_the_size_without_overflowing() {
        assert!(fits(0, 0u64, 0));
        assert!(fits(3, 5u64, 8));
        assert!(!fits(3, 6u64, 8));
        assert!(!fits(9, 0u64, 8));
        // Ends past 2^64 are refused rather than wrapping around to a small end.
        assert!(!fits(u64::MAX, 2u64, 8));
        assert!(!fits(1, u128::from(u64::MAX) * 8, usize::MAX));
    }
}
