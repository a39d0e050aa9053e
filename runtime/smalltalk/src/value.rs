//! Tagged 64-bit values.
//!
//! | low bits | meaning |
//! |---|---|
//! | `...1`   | SmallInteger: the value is `raw >> 1` (63-bit two's complement) |
//! | `..000`  | pointer to an object header in the heap (8-byte aligned) |
//! | `..010`  | an immediate constant: `nil`, `true`, `false`, and the VM-internal "unbound" marker |
//!
//! `nil`, `true` and `false` are immediates so they never move and compiled code can
//! compare against them without reading memory.

/// One Smalltalk value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(transparent)]
pub struct Value(pub u64);

/// Smallest SmallInteger.
pub const SMALL_MIN: i64 = -(1 << 62);
/// Largest SmallInteger.
pub const SMALL_MAX: i64 = (1 << 62) - 1;

impl Value {
    /// `nil`.
    pub const NIL: Value = Value(0x02);
    /// `true`.
    pub const TRUE: Value = Value(0x0a);
    /// `false`.
    pub const FALSE: Value = Value(0x12);
    /// An unbound global slot (never visible to Smalltalk code).
    pub const UNBOUND: Value = Value(0x1a);

    /// A SmallInteger; the caller guarantees `SMALL_MIN <= i <= SMALL_MAX`.
    #[inline(always)]
    pub const fn int(i: i64) -> Value {
        Value(((i << 1) | 1) as u64)
    }

    /// A SmallInteger if `i` fits.
    #[inline(always)]
    pub fn try_int(i: i64) -> Option<Value> {
        if (SMALL_MIN..=SMALL_MAX).contains(&i) {
            Some(Value::int(i))
        } else {
            None
        }
    }

    /// Is this a SmallInteger?
    #[inline(always)]
    pub const fn is_int(self) -> bool {
        self.0 & 1 == 1
    }

    /// The SmallInteger's value (meaningless if not [`Value::is_int`]).
    #[inline(always)]
    pub const fn as_int(self) -> i64 {
        (self.0 as i64) >> 1
    }

    /// Is this a heap pointer?
    #[inline(always)]
    pub const fn is_ptr(self) -> bool {
        self.0 & 7 == 0
    }

    /// A boolean as `true`/`false`.
    #[inline(always)]
    pub const fn bool(b: bool) -> Value {
        if b {
            Value::TRUE
        } else {
            Value::FALSE
        }
    }
}
