//! WASM values as the host sees them: conversion to and from the 8-byte call slots,
//! parsing from the command line and printing.

use crate::Type;
use alloc::format;
use alloc::string::String;
use core::fmt;

/// A typed WASM value; floats are kept as bits so NaN payloads survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// i32.
    I32(i32),
    /// i64.
    I64(i64),
    /// f32 bits.
    F32(u32),
    /// f64 bits.
    F64(u64),
    /// funcref (0 = null).
    FuncRef(u64),
    /// externref (0 = null).
    ExternRef(u64),
}

impl Value {
    /// The slot representation.
    pub fn to_slot(self) -> u64 {
        match self {
            Value::I32(v) => v as u32 as u64,
            Value::I64(v) => v as u64,
            Value::F32(b) => b as u64,
            Value::F64(b) => b,
            Value::FuncRef(p) | Value::ExternRef(p) => p,
        }
    }

    /// Reads a slot as a value of type `ty`.
    pub fn from_slot(ty: Type, slot: u64) -> Self {
        match ty {
            Type::I32 => Value::I32(slot as u32 as i32),
            Type::I64 => Value::I64(slot as i64),
            Type::F32 => Value::F32(slot as u32),
            Type::F64 => Value::F64(slot),
            Type::FuncRef => Value::FuncRef(slot),
            Type::ExternRef => Value::ExternRef(slot),
        }
    }

    /// Parses a command-line argument as a value of type `ty`.
    pub fn parse(ty: Type, s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a valid {ty:?} argument");
        Ok(match ty {
            Type::I32 => Value::I32(match s.parse::<i32>() {
                Ok(v) => v,
                Err(_) => s.parse::<u32>().map_err(|_| bad())? as i32,
            }),
            Type::I64 => Value::I64(match s.parse::<i64>() {
                Ok(v) => v,
                Err(_) => s.parse::<u64>().map_err(|_| bad())? as i64,
            }),
            Type::F32 => Value::F32(s.parse::<f32>().map_err(|_| bad())?.to_bits()),
            Type::F64 => Value::F64(s.parse::<f64>().map_err(|_| bad())?.to_bits()),
            Type::FuncRef | Type::ExternRef => {
                return Err(format!(
                    "reference arguments ({ty:?}) cannot be given on the command line"
                ))
            }
        })
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Value::I32(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}"),
            Value::F32(b) => write!(f, "{}", f32::from_bits(b)),
            Value::F64(b) => write!(f, "{}", f64::from_bits(b)),
            Value::FuncRef(0) | Value::ExternRef(0) => write!(f, "null"),
            Value::FuncRef(p) => write!(f, "funcref({p:#x})"),
            Value::ExternRef(p) => write!(f, "externref({p:#x})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_slots_and_text() {
        for (ty, text, v) in [
            (Type::I32, "-5", Value::I32(-5)),
            (Type::I32, "4294967295", Value::I32(-1)),
            (Type::I64, "-9000000000", Value::I64(-9_000_000_000)),
            (Type::F64, "2.5", Value::F64(2.5f64.to_bits())),
            (Type::F32, "-0.5", Value::F32((-0.5f32).to_bits())),
        ] {
            let parsed = Value::parse(ty, text).unwrap();
            assert_eq!(parsed, v);
            assert_eq!(Value::from_slot(ty, parsed.to_slot()), v);
        }
        assert_eq!(Value::I32(-5).to_slot(), 0xffff_fffb);
        assert!(Value::parse(Type::I32, "x").is_err());
        assert_eq!(alloc::format!("{}", Value::F64(2.5f64.to_bits())), "2.5");
    }
}
