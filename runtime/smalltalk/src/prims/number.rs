//! Integer (small and large) and Double primitives.

use super::{arg, string};
use crate::bigint::Big;
use crate::code::{Prim, PrimFn};
use crate::float;
use crate::value::Value;
use crate::vm::Vm;
use alloc::format;
use alloc::string::String;
use core::cmp::Ordering;

pub(super) fn find(class: &str, selector: &str) -> Option<PrimFn> {
    let f: PrimFn = match (class, selector) {
        ("Integer", "+") => |vm, fp| arith(vm, fp, Op::Add),
        ("Integer", "-") => |vm, fp| arith(vm, fp, Op::Sub),
        ("Integer", "*") => |vm, fp| arith(vm, fp, Op::Mul),
        ("Integer", "/") => |vm, fp| arith(vm, fp, Op::Div),
        ("Integer", "%") => |vm, fp| arith(vm, fp, Op::Mod),
        ("Integer", "rem:") => |vm, fp| arith(vm, fp, Op::Rem),
        ("Integer", "//") => |vm, fp| float_arith(vm, fp, Op::Div),
        ("Integer", "=") => int_eq,
        ("Integer", "<") => |vm, fp| compare(vm, fp),
        ("Integer", "&") => |vm, fp| bits(vm, fp, |a, b| a & b),
        ("Integer", "bitOr:") => |vm, fp| bits(vm, fp, |a, b| a | b),
        ("Integer", "bitXor:") => |vm, fp| bits(vm, fp, |a, b| a ^ b),
        ("Integer", "<<") => shift_left,
        ("Integer", ">>") => shift_right,
        ("Integer", ">>>") => |vm, fp| {
            let (a, b) = (arg(fp, 0), arg(fp, 1));
            if !a.is_int() || !b.is_int() || !(0..64).contains(&b.as_int()) {
                return Prim::Fail;
            }
            Prim::Ok(vm.int_from(((a.as_int() as u64) >> b.as_int()) as i128))
        },
        ("Integer", "sqrt") => int_sqrt,
        ("Integer", "asString") => |vm, fp| match vm.big_of(arg(fp, 0)) {
            Some(b) => string(vm, &b.to_decimal()),
            None => Prim::Fail,
        },
        ("Integer", "asDouble") => |vm, fp| match vm.big_of(arg(fp, 0)) {
            Some(b) => Prim::Ok(vm.new_double(b.to_f64())),
            None => Prim::Fail,
        },
        ("Integer", "hashcode") => |vm, fp| {
            let v = arg(fp, 0);
            if v.is_int() {
                return Prim::Ok(v);
            }
            let b = vm.big_of(v).unwrap_or(Big::from_i128(0));
            let h = b.mag.iter().fold(b.neg as i64, |h, &l| {
                h.wrapping_mul(31).wrapping_add(l as i64)
            });
            Prim::Ok(Value::int(h >> 2))
        },
        ("Integer", "as32BitSignedValue") => |vm, fp| match vm.big_of(arg(fp, 0)) {
            Some(b) => Prim::Ok(Value::int(low_bits(&b) as u32 as i32 as i64)),
            None => Prim::Fail,
        },
        ("Integer", "as32BitUnsignedValue") => |vm, fp| match vm.big_of(arg(fp, 0)) {
            Some(b) => Prim::Ok(Value::int(low_bits(&b) as u32 as i64)),
            None => Prim::Fail,
        },
        ("Integer", "atRandom") => |vm, fp| {
            let v = arg(fp, 0);
            if !v.is_int() || v.as_int() < 1 {
                return Prim::Fail;
            }
            let mut buf = [0u8; 8];
            vm.platform.random_fill(&mut buf);
            Prim::Ok(Value::int(
                (u64::from_le_bytes(buf) % v.as_int() as u64) as i64 + 1,
            ))
        },
        ("Integer class", "fromString:") => |vm, fp| {
            let Some(b) = vm.string_of(arg(fp, 1)) else {
                return Prim::Fail;
            };
            match Big::parse(String::from_utf8_lossy(&b).trim()) {
                Some(n) => Prim::Ok(vm.new_int(&n)),
                None => Prim::Ok(Value::NIL),
            }
        },
        ("Double", "+") => |vm, fp| float_arith(vm, fp, Op::Add),
        ("Double", "-") => |vm, fp| float_arith(vm, fp, Op::Sub),
        ("Double", "*") => |vm, fp| float_arith(vm, fp, Op::Mul),
        ("Double", "/") | ("Double", "//") => |vm, fp| float_arith(vm, fp, Op::Div),
        ("Double", "%") => |vm, fp| float_arith(vm, fp, Op::Mod),
        ("Double", "=") => |vm, fp| match (vm.double_of(arg(fp, 0)), as_f64(vm, arg(fp, 1))) {
            (Some(a), Some(b)) => Prim::Ok(Value::bool(float::eq(a, b))),
            _ => Prim::Ok(Value::FALSE),
        },
        ("Double", "<") => |vm, fp| match (vm.double_of(arg(fp, 0)), as_f64(vm, arg(fp, 1))) {
            (Some(a), Some(b)) => Prim::Ok(Value::bool(float::lt(a, b))),
            _ => Prim::Fail,
        },
        ("Double", "sqrt") => |vm, fp| unary_float(vm, fp, float::sqrt),
        ("Double", "sin") => |vm, fp| unary_float(vm, fp, libm::sin),
        ("Double", "cos") => |vm, fp| unary_float(vm, fp, libm::cos),
        ("Double", "exp") => |vm, fp| unary_float(vm, fp, libm::exp),
        ("Double", "log") => |vm, fp| unary_float(vm, fp, libm::log),
        ("Double", "round") => |vm, fp| to_integer(vm, fp, |d| libm::floor(d + 0.5)),
        ("Double", "floor") => |vm, fp| to_integer(vm, fp, libm::floor),
        ("Double", "ceiling") => |vm, fp| to_integer(vm, fp, libm::ceil),
        ("Double", "asInteger") => |vm, fp| to_integer(vm, fp, libm::trunc),
        ("Double", "asString") => |vm, fp| match vm.double_of(arg(fp, 0)) {
            Some(d) => string(vm, &format_double(d)),
            None => Prim::Fail,
        },
        ("Double", "hashcode") => |vm, fp| match vm.double_of(arg(fp, 0)) {
            Some(d) => Prim::Ok(Value::int(
                (d.to_bits() >> 2) as i64 & 0x3fff_ffff_ffff_ffff,
            )),
            None => Prim::Fail,
        },
        ("Double class", "fromString:") => |vm, fp| {
            let Some(b) = vm.string_of(arg(fp, 1)) else {
                return Prim::Fail;
            };
            match String::from_utf8_lossy(&b).trim().parse::<f64>() {
                Ok(d) => Prim::Ok(vm.new_double(d)),
                Err(_) => Prim::Ok(Value::NIL),
            }
        },
        _ => return None,
    };
    Some(f)
}

/// SOM's printing of doubles (as the Java-based SOMs do): the shortest digits that read
/// back to the same double, plain between 10^-3 and 10^7 (`0.1`, `1.0`, `1234567.0`),
/// otherwise in scientific form (`1.0E10`, `1.5E-5`).
pub fn format_double(d: f64) -> String {
    if d.is_infinite() {
        return String::from(if d > 0.0 { "Infinity" } else { "-Infinity" });
    }
    if d.is_nan() {
        return String::from("NaN");
    }
    let magnitude = d.abs();
    if magnitude == 0.0 || (1e-3..1e7).contains(&magnitude) {
        return format!("{d:?}");
    }
    let s = format!("{d:e}");
    match s.split_once('e') {
        Some((m, e)) if m.contains('.') => format!("{m}E{e}"),
        Some((m, e)) => format!("{m}.0E{e}"),
        None => s,
    }
}

fn low_bits(b: &Big) -> u64 {
    let m = b.mag.first().copied().unwrap_or(0) as u64
        | (b.mag.get(1).copied().unwrap_or(0) as u64) << 32;
    if b.neg {
        m.wrapping_neg()
    } else {
        m
    }
}

#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Rem,
}

/// A numeric operand as a double (Integer or Double).
fn as_f64(vm: &Vm, v: Value) -> Option<f64> {
    if v.is_int() {
        return Some(float::from_i64(v.as_int()));
    }
    vm.double_of(v).or_else(|| vm.big_of(v).map(|b| b.to_f64()))
}

fn zero_divide(vm: &mut Vm) -> Prim {
    vm.abort(String::from("ZeroDivide: division by zero"));
    Prim::Done
}

fn arith(vm: &mut Vm, fp: *mut Value, op: Op) -> Prim {
    let (a, b) = (arg(fp, 0), arg(fp, 1));
    if vm.double_of(b).is_some() {
        return float_arith(vm, fp, op);
    }
    if a.is_int() && b.is_int() {
        let (x, y) = (a.as_int() as i128, b.as_int() as i128);
        let r = match op {
            Op::Add => x + y,
            Op::Sub => x - y,
            Op::Mul => x * y,
            Op::Div | Op::Mod | Op::Rem if y == 0 => return zero_divide(vm),
            Op::Div => {
                x / y
                    - if x % y != 0 && (x < 0) != (y < 0) {
                        1
                    } else {
                        0
                    }
            }
            Op::Mod => ((x % y) + y) % y,
            Op::Rem => x % y,
        };
        return Prim::Ok(vm.int_from(r));
    }
    let (Some(x), Some(y)) = (vm.big_of(a), vm.big_of(b)) else {
        return Prim::Fail;
    };
    let r = match op {
        Op::Add => x.add(&y),
        Op::Sub => x.sub(&y),
        Op::Mul => x.mul(&y),
        Op::Div | Op::Mod | Op::Rem if y.is_zero() => return zero_divide(vm),
        Op::Div => x.div_mod(&y).0,
        Op::Mod => x.div_mod(&y).1,
        Op::Rem => x.quo_rem(&y).1,
    };
    Prim::Ok(vm.new_int(&r))
}

fn float_arith(vm: &mut Vm, fp: *mut Value, op: Op) -> Prim {
    let (Some(x), Some(y)) = (as_f64(vm, arg(fp, 0)), as_f64(vm, arg(fp, 1))) else {
        return Prim::Fail;
    };
    let r = match op {
        Op::Add => float::add(x, y),
        Op::Sub => float::sub(x, y),
        Op::Mul => float::mul(x, y),
        Op::Div => float::div(x, y),
        Op::Mod => x - libm::floor(x / y) * y,
        Op::Rem => libm::fmod(x, y),
    };
    Prim::Ok(vm.new_double(r))
}

fn int_eq(vm: &mut Vm, fp: *mut Value) -> Prim {
    let (a, b) = (arg(fp, 0), arg(fp, 1));
    if let Some(d) = vm.double_of(b) {
        return Prim::Ok(Value::bool(as_f64(vm, a).is_some_and(|x| float::eq(x, d))));
    }
    match (vm.big_of(a), vm.big_of(b)) {
        (Some(x), Some(y)) => Prim::Ok(Value::bool(x == y)),
        _ => Prim::Ok(Value::FALSE),
    }
}

fn compare(vm: &mut Vm, fp: *mut Value) -> Prim {
    let (a, b) = (arg(fp, 0), arg(fp, 1));
    if let Some(d) = vm.double_of(b) {
        return match as_f64(vm, a) {
            Some(x) => Prim::Ok(Value::bool(float::lt(x, d))),
            None => Prim::Fail,
        };
    }
    match (vm.big_of(a), vm.big_of(b)) {
        (Some(x), Some(y)) => Prim::Ok(Value::bool(x.compare(&y) == Ordering::Less)),
        _ => Prim::Fail,
    }
}

fn bits(vm: &mut Vm, fp: *mut Value, f: fn(i64, i64) -> i64) -> Prim {
    let (a, b) = (arg(fp, 0), arg(fp, 1));
    if a.is_int() && b.is_int() {
        return Prim::Ok(Value::int(f(a.as_int(), b.as_int())));
    }
    let (Some(x), Some(y)) = (vm.big_of(a), vm.big_of(b)) else {
        return Prim::Fail;
    };
    if x.neg || y.neg {
        return Prim::Fail;
    }
    let n = x.mag.len().max(y.mag.len());
    let mag = (0..n)
        .map(|i| {
            f(
                *x.mag.get(i).unwrap_or(&0) as i64,
                *y.mag.get(i).unwrap_or(&0) as i64,
            ) as u32
        })
        .collect();
    let mut r = Big { neg: false, mag };
    while r.mag.last() == Some(&0) {
        r.mag.pop();
    }
    Prim::Ok(vm.new_int(&r))
}

fn shift_left(vm: &mut Vm, fp: *mut Value) -> Prim {
    let (a, b) = (arg(fp, 0), arg(fp, 1));
    if !b.is_int() {
        return Prim::Fail;
    }
    let n = b.as_int();
    if n < 0 {
        return shift_by(vm, a, -n);
    }
    if a.is_int() && n < 62 {
        let x = a.as_int() as i128;
        return Prim::Ok(vm.int_from(x << n));
    }
    match vm.big_of(a) {
        Some(x) if n <= 1 << 24 => Prim::Ok(vm.new_int(&x.shl(n as usize))),
        _ => Prim::Fail,
    }
}

fn shift_by(vm: &mut Vm, a: Value, n: i64) -> Prim {
    if a.is_int() {
        return Prim::Ok(Value::int(a.as_int() >> n.min(63)));
    }
    match vm.big_of(a) {
        Some(x) => Prim::Ok(vm.new_int(&x.shr(n as usize))),
        None => Prim::Fail,
    }
}

fn shift_right(vm: &mut Vm, fp: *mut Value) -> Prim {
    let (a, b) = (arg(fp, 0), arg(fp, 1));
    if !b.is_int() || b.as_int() < 0 {
        return Prim::Fail;
    }
    shift_by(vm, a, b.as_int())
}

fn int_sqrt(vm: &mut Vm, fp: *mut Value) -> Prim {
    let Some(b) = vm.big_of(arg(fp, 0)) else {
        return Prim::Fail;
    };
    if b.neg {
        return Prim::Ok(vm.new_double(f64::NAN));
    }
    let r = b.isqrt();
    if r.mul(&r) == b {
        return Prim::Ok(vm.new_int(&r));
    }
    Prim::Ok(vm.new_double(libm::sqrt(b.to_f64())))
}

fn unary_float(vm: &mut Vm, fp: *mut Value, f: fn(f64) -> f64) -> Prim {
    match vm.double_of(arg(fp, 0)) {
        Some(d) => Prim::Ok(vm.new_double(f(d))),
        None => Prim::Fail,
    }
}

fn to_integer(vm: &mut Vm, fp: *mut Value, f: fn(f64) -> f64) -> Prim {
    let Some(d) = vm.double_of(arg(fp, 0)) else {
        return Prim::Fail;
    };
    let r = f(d);
    if !r.is_finite() {
        return Prim::Fail;
    }
    if r.abs() < 9.0e18 {
        return Prim::Ok(vm.int_from(r as i64 as i128));
    }
    let text = format!("{r:.0}");
    match Big::parse(&text) {
        Some(b) => Prim::Ok(vm.new_int(&b)),
        None => Prim::Fail,
    }
}

#[cfg(test)]
mod tests {
    use super::format_double;

    #[test]
    fn doubles_print_like_som() {
        assert_eq!(format_double(1.0), "1.0");
        assert_eq!(format_double(0.1), "0.1");
        assert_eq!(format_double(-2.5), "-2.5");
        assert_eq!(format_double(1e100), "1.0E100");
        assert_eq!(format_double(1e10), "1.0E10");
        assert_eq!(format_double(1.5e-5), "1.5E-5");
        assert_eq!(format_double(1234567.0), "1234567.0");
        assert_eq!(format_double(0.0), "0.0");
        assert_eq!(format_double(1.0 / 0.0), "Infinity");
    }
}
