//! Arbitrary-precision integers for `Integer` values that do not fit a SmallInteger:
//! sign and magnitude, the magnitude as little-endian 32-bit limbs without leading zeros.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cmp::Ordering;

/// A signed big integer. Zero is `neg == false` with no limbs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Big {
    /// Negative?
    pub neg: bool,
    /// Magnitude limbs, least significant first.
    pub mag: Vec<u32>,
}

fn trim(m: &mut Vec<u32>) {
    while m.last() == Some(&0) {
        m.pop();
    }
}

fn cmp_mag(a: &[u32], b: &[u32]) -> Ordering {
    if a.len() != b.len() {
        return a.len().cmp(&b.len());
    }
    for i in (0..a.len()).rev() {
        if a[i] != b[i] {
            return a[i].cmp(&b[i]);
        }
    }
    Ordering::Equal
}

fn add_mag(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (a, b) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    let mut out = Vec::with_capacity(a.len() + 1);
    let mut carry = 0u64;
    for (i, &x) in a.iter().enumerate() {
        let s = x as u64 + *b.get(i).unwrap_or(&0) as u64 + carry;
        out.push(s as u32);
        carry = s >> 32;
    }
    if carry != 0 {
        out.push(carry as u32);
    }
    out
}

/// `a - b` for `a >= b`.
fn sub_mag(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len());
    let mut borrow = 0i64;
    for (i, &x) in a.iter().enumerate() {
        let mut d = x as i64 - *b.get(i).unwrap_or(&0) as i64 - borrow;
        borrow = 0;
        if d < 0 {
            d += 1 << 32;
            borrow = 1;
        }
        out.push(d as u32);
    }
    trim(&mut out);
    out
}

fn mul_mag(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = vec![0u32; a.len() + b.len()];
    for (i, &x) in a.iter().enumerate() {
        let mut carry = 0u64;
        for (j, &y) in b.iter().enumerate() {
            let t = x as u64 * y as u64 + out[i + j] as u64 + carry;
            out[i + j] = t as u32;
            carry = t >> 32;
        }
        out[i + b.len()] = carry as u32;
    }
    trim(&mut out);
    out
}

/// Divides by one limb; returns quotient and remainder.
fn divmod_small(a: &[u32], d: u32) -> (Vec<u32>, u32) {
    let mut q = vec![0u32; a.len()];
    let mut r = 0u64;
    for i in (0..a.len()).rev() {
        let cur = (r << 32) | a[i] as u64;
        q[i] = (cur / d as u64) as u32;
        r = cur % d as u64;
    }
    trim(&mut q);
    (q, r as u32)
}

fn shl_mag(a: &[u32], n: usize) -> Vec<u32> {
    if a.is_empty() {
        return Vec::new();
    }
    let (limbs, bits) = (n / 32, n % 32);
    let mut out = vec![0u32; limbs];
    let mut carry = 0u32;
    for &x in a {
        if bits == 0 {
            out.push(x);
        } else {
            out.push((x << bits) | carry);
            carry = x >> (32 - bits);
        }
    }
    if carry != 0 {
        out.push(carry);
    }
    out
}

fn shr_mag(a: &[u32], n: usize) -> Vec<u32> {
    let (limbs, bits) = (n / 32, n % 32);
    if limbs >= a.len() {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(a.len() - limbs);
    for i in limbs..a.len() {
        let lo = a[i] >> bits;
        let hi = if bits == 0 {
            0
        } else {
            a.get(i + 1).map_or(0, |&h| h << (32 - bits))
        };
        out.push(lo | hi);
    }
    trim(&mut out);
    out
}

fn bit_len(a: &[u32]) -> usize {
    match a.last() {
        None => 0,
        Some(&top) => (a.len() - 1) * 32 + (32 - top.leading_zeros() as usize),
    }
}

/// Truncating division of magnitudes (shift-and-subtract over limbs of the quotient).
fn divmod_mag(a: &[u32], b: &[u32]) -> (Vec<u32>, Vec<u32>) {
    if cmp_mag(a, b) == Ordering::Less {
        return (Vec::new(), a.to_vec());
    }
    if b.len() == 1 {
        let (q, r) = divmod_small(a, b[0]);
        let mut r = vec![r];
        trim(&mut r);
        return (q, r);
    }
    let shift = bit_len(a) - bit_len(b);
    let mut rem = a.to_vec();
    let mut q = vec![0u32; shift / 32 + 1];
    let mut d = shl_mag(b, shift);
    for s in (0..=shift).rev() {
        if cmp_mag(&rem, &d) != Ordering::Less {
            rem = sub_mag(&rem, &d);
            q[s / 32] |= 1 << (s % 32);
        }
        d = shr_mag(&d, 1);
    }
    trim(&mut q);
    (q, rem)
}

impl Big {
    /// From a machine integer.
    pub fn from_i128(v: i128) -> Big {
        let neg = v < 0;
        let mut m = v.unsigned_abs();
        let mut mag = Vec::new();
        while m != 0 {
            mag.push(m as u32);
            m >>= 32;
        }
        Big { neg, mag }
    }

    fn new(neg: bool, mut mag: Vec<u32>) -> Big {
        trim(&mut mag);
        let neg = neg && !mag.is_empty();
        Big { neg, mag }
    }

    /// The value as an `i64`, if it fits.
    pub fn to_i64(&self) -> Option<i64> {
        if self.mag.len() > 2 {
            return None;
        }
        let m = self
            .mag
            .iter()
            .rev()
            .fold(0u128, |acc, &l| (acc << 32) | l as u128);
        let v = if self.neg { -(m as i128) } else { m as i128 };
        i64::try_from(v).ok()
    }

    /// Is this zero?
    pub fn is_zero(&self) -> bool {
        self.mag.is_empty()
    }

    /// Sum.
    pub fn add(&self, o: &Big) -> Big {
        if self.neg == o.neg {
            return Big::new(self.neg, add_mag(&self.mag, &o.mag));
        }
        match cmp_mag(&self.mag, &o.mag) {
            Ordering::Less => Big::new(o.neg, sub_mag(&o.mag, &self.mag)),
            _ => Big::new(self.neg, sub_mag(&self.mag, &o.mag)),
        }
    }

    /// Negation.
    pub fn neg(&self) -> Big {
        Big::new(!self.neg, self.mag.clone())
    }

    /// Difference.
    pub fn sub(&self, o: &Big) -> Big {
        self.add(&o.neg())
    }

    /// Product.
    pub fn mul(&self, o: &Big) -> Big {
        Big::new(self.neg != o.neg, mul_mag(&self.mag, &o.mag))
    }

    /// Truncating quotient and remainder (remainder has the dividend's sign). `o` must not be zero.
    pub fn quo_rem(&self, o: &Big) -> (Big, Big) {
        let (q, r) = divmod_mag(&self.mag, &o.mag);
        (Big::new(self.neg != o.neg, q), Big::new(self.neg, r))
    }

    /// Floored quotient and modulo (modulo has the divisor's sign). `o` must not be zero.
    pub fn div_mod(&self, o: &Big) -> (Big, Big) {
        let (q, r) = self.quo_rem(o);
        if !r.is_zero() && r.neg != o.neg {
            (q.sub(&Big::from_i128(1)), r.add(o))
        } else {
            (q, r)
        }
    }

    /// Three-way comparison.
    pub fn compare(&self, o: &Big) -> Ordering {
        match (self.neg, o.neg) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => cmp_mag(&self.mag, &o.mag),
            (true, true) => cmp_mag(&o.mag, &self.mag),
        }
    }

    /// `self << n` (arithmetic).
    pub fn shl(&self, n: usize) -> Big {
        Big::new(self.neg, shl_mag(&self.mag, n))
    }

    /// `self >> n`, flooring like an arithmetic shift.
    pub fn shr(&self, n: usize) -> Big {
        if self.neg {
            let divisor = Big::from_i128(1).shl(n);
            self.div_mod(&divisor).0
        } else {
            Big::new(false, shr_mag(&self.mag, n))
        }
    }

    /// The nearest double.
    pub fn to_f64(&self) -> f64 {
        let m = self
            .mag
            .iter()
            .rev()
            .fold(0.0f64, |acc, &l| acc * 4294967296.0 + l as f64);
        if self.neg {
            -m
        } else {
            m
        }
    }

    /// Decimal text.
    pub fn to_decimal(&self) -> String {
        if self.mag.is_empty() {
            return String::from("0");
        }
        let mut chunks = Vec::new();
        let mut m = self.mag.clone();
        while !m.is_empty() {
            let (q, r) = divmod_small(&m, 1_000_000_000);
            chunks.push(r);
            m = q;
        }
        let mut s = String::new();
        if self.neg {
            s.push('-');
        }
        let mut first = true;
        for c in chunks.iter().rev() {
            if first {
                s.push_str(&alloc::format!("{c}"));
                first = false;
            } else {
                s.push_str(&alloc::format!("{c:09}"));
            }
        }
        s
    }

    /// Parses optional `-` and decimal digits.
    pub fn parse(text: &str) -> Option<Big> {
        let (neg, digits) = match text.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, text),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut mag: Vec<u32> = Vec::new();
        for b in digits.bytes() {
            let mut carry = (b - b'0') as u64;
            for l in mag.iter_mut() {
                let t = *l as u64 * 10 + carry;
                *l = t as u32;
                carry = t >> 32;
            }
            if carry != 0 {
                mag.push(carry as u32);
            }
        }
        Some(Big::new(neg, mag))
    }

    /// Integer square root of a non-negative value (Newton's method).
    pub fn isqrt(&self) -> Big {
        if self.mag.is_empty() {
            return self.clone();
        }
        let mut x = Big::from_i128(1).shl(bit_len(&self.mag).div_ceil(2));
        loop {
            let y = x.add(&self.quo_rem(&x).0).shr(1);
            if y.compare(&x) != Ordering::Less {
                return x;
            }
            x = y;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Big {
        Big::parse(s).unwrap()
    }

    #[test]
    fn arithmetic_matches_known_values() {
        let two100 = Big::from_i128(1).shl(100);
        assert_eq!(two100.to_decimal(), "1267650600228229401496703205376");
        let f = (1..=25).fold(Big::from_i128(1), |acc, i| acc.mul(&Big::from_i128(i)));
        assert_eq!(f.to_decimal(), "15511210043330985984000000");
        let (q, r) = f.quo_rem(&b("123456789123"));
        assert_eq!(q.mul(&b("123456789123")).add(&r), f);
        assert_eq!(r.compare(&b("123456789123")), Ordering::Less);
        assert_eq!(b("-7").div_mod(&b("2")), (b("-4"), b("1")));
        assert_eq!(b("-7").quo_rem(&b("2")), (b("-3"), b("-1")));
        assert_eq!(two100.sub(&two100.add(&b("5"))).to_decimal(), "-5");
        assert_eq!(b("-9").shr(1).to_decimal(), "-5");
        assert_eq!(b("99999999999999999999").isqrt().to_decimal(), "9999999999");
        assert_eq!(b("123").to_i64(), Some(123));
        assert_eq!(two100.to_i64(), None);
        assert!(Big::parse("12a").is_none());
    }
}
