//! SSE scalar float and transfer forms, decoded back with iced-x86 across all XMM
//! and general registers and the tricky memory operand shapes.

use super::common;

use common::{check, i, m, mems, r, tricky_mems, x};
use iced_x86::Mnemonic;
use kiln_x64::{FSize, FloatCmp, FloatOp, PackedOp, Reg, RoundMode, Size, Xmm};

fn width(f: FSize) -> usize {
    match f {
        FSize::F32 => 4,
        FSize::F64 => 8,
    }
}

fn float_op_mnemonic(f: FSize, op: FloatOp) -> Mnemonic {
    let single = f == FSize::F32;
    match op {
        FloatOp::Sqrt if single => Mnemonic::Sqrtss,
        FloatOp::Sqrt => Mnemonic::Sqrtsd,
        FloatOp::Add if single => Mnemonic::Addss,
        FloatOp::Add => Mnemonic::Addsd,
        FloatOp::Mul if single => Mnemonic::Mulss,
        FloatOp::Mul => Mnemonic::Mulsd,
        FloatOp::Sub if single => Mnemonic::Subss,
        FloatOp::Sub => Mnemonic::Subsd,
        FloatOp::Min if single => Mnemonic::Minss,
        FloatOp::Min => Mnemonic::Minsd,
        FloatOp::Div if single => Mnemonic::Divss,
        FloatOp::Div => Mnemonic::Divsd,
        FloatOp::Max if single => Mnemonic::Maxss,
        FloatOp::Max => Mnemonic::Maxsd,
    }
}

/// Picks the single or double mnemonic.
fn pick(f: FSize, single: Mnemonic, double: Mnemonic) -> Mnemonic {
    match f {
        FSize::F32 => single,
        FSize::F64 => double,
    }
}

#[test]
fn scalar_arithmetic() {
    for f in FSize::ALL {
        for op in FloatOp::ALL {
            let mn = float_op_mnemonic(f, op);
            for d in Xmm::ALL {
                for s in Xmm::ALL {
                    check(|a| a.float_op(f, op, d, s), mn, &[x(d), x(s)]);
                }
            }
            for (k, mem) in mems().into_iter().enumerate() {
                let d = Xmm::ALL[k % 16];
                check(|a| a.float_op(f, op, d, mem), mn, &[x(d), m(mem, width(f))]);
            }
        }
    }
}

#[test]
fn scalar_moves_and_compares() {
    for f in FSize::ALL {
        let w = width(f);
        let mov = pick(f, Mnemonic::Movss, Mnemonic::Movsd);
        let cmp = pick(f, Mnemonic::Cmpss, Mnemonic::Cmpsd);
        let ucomi = pick(f, Mnemonic::Ucomiss, Mnemonic::Ucomisd);
        let comi = pick(f, Mnemonic::Comiss, Mnemonic::Comisd);
        for d in Xmm::ALL {
            for s in Xmm::ALL {
                check(|a| a.movs(f, d, s), mov, &[x(d), x(s)]);
                check(|a| a.ucomis(f, d, s), ucomi, &[x(d), x(s)]);
                check(|a| a.comis(f, d, s), comi, &[x(d), x(s)]);
                let pred = FloatCmp::ALL[(d.num() + s.num()) as usize % 8];
                check(
                    |a| a.cmps(f, d, s, pred),
                    cmp,
                    &[x(d), x(s), i(pred as i64, Size::S8)],
                );
            }
        }
        for (k, mem) in mems().into_iter().enumerate() {
            let reg = Xmm::ALL[k % 16];
            check(|a| a.movs(f, reg, mem), mov, &[x(reg), m(mem, w)]);
            check(|a| a.movs(f, mem, reg), mov, &[m(mem, w), x(reg)]);
            check(|a| a.ucomis(f, reg, mem), ucomi, &[x(reg), m(mem, w)]);
            check(|a| a.comis(f, reg, mem), comi, &[x(reg), m(mem, w)]);
            for pred in FloatCmp::ALL {
                check(
                    |a| a.cmps(f, reg, mem, pred),
                    cmp,
                    &[x(reg), m(mem, w), i(pred as i64, Size::S8)],
                );
            }
        }
    }
}

#[test]
fn conversions() {
    for f in FSize::ALL {
        let to_f = pick(f, Mnemonic::Cvtsi2ss, Mnemonic::Cvtsi2sd);
        let to_i = pick(f, Mnemonic::Cvttss2si, Mnemonic::Cvttsd2si);
        let widen = pick(f, Mnemonic::Cvtsd2ss, Mnemonic::Cvtss2sd);
        let source_width = width(f) ^ 12; // the other precision: 4 <-> 8
        for size in [Size::S32, Size::S64] {
            for g in Reg::ALL {
                for v in Xmm::ALL {
                    check(|a| a.cvtsi2f(f, v, size, g), to_f, &[x(v), r(g, size)]);
                    check(|a| a.cvttf2si(size, g, f, v), to_i, &[r(g, size), x(v)]);
                }
            }
            for (k, mem) in tricky_mems().into_iter().enumerate() {
                let v = Xmm::ALL[15 - k];
                let g = Reg::ALL[k];
                check(
                    |a| a.cvtsi2f(f, v, size, mem),
                    to_f,
                    &[x(v), m(mem, size.bytes() as usize)],
                );
                check(
                    |a| a.cvttf2si(size, g, f, mem),
                    to_i,
                    &[r(g, size), m(mem, width(f))],
                );
            }
        }
        for d in Xmm::ALL {
            for s in Xmm::ALL {
                check(|a| a.cvtf2f(f, d, s), widen, &[x(d), x(s)]);
            }
        }
        for mem in tricky_mems() {
            check(
                |a| a.cvtf2f(f, Xmm::Xmm9, mem),
                widen,
                &[x(Xmm::Xmm9), m(mem, source_width)],
            );
        }
    }
}

#[test]
fn rounding_with_every_mode() {
    for f in FSize::ALL {
        let mn = pick(f, Mnemonic::Roundss, Mnemonic::Roundsd);
        for mode in RoundMode::ALL {
            for d in Xmm::ALL {
                for s in Xmm::ALL {
                    check(
                        |a| a.round(f, d, s, mode),
                        mn,
                        &[x(d), x(s), i(mode as i64, Size::S8)],
                    );
                }
            }
            for mem in tricky_mems() {
                check(
                    |a| a.round(f, Xmm::Xmm3, mem, mode),
                    mn,
                    &[x(Xmm::Xmm3), m(mem, width(f)), i(mode as i64, Size::S8)],
                );
            }
        }
    }
}

#[test]
fn packed_bitwise_and_moves() {
    let mnemonics = [
        Mnemonic::Andps,
        Mnemonic::Andpd,
        Mnemonic::Andnps,
        Mnemonic::Andnpd,
        Mnemonic::Orps,
        Mnemonic::Orpd,
        Mnemonic::Xorps,
        Mnemonic::Xorpd,
        Mnemonic::Pand,
        Mnemonic::Pandn,
        Mnemonic::Por,
        Mnemonic::Pxor,
        Mnemonic::Movaps,
        Mnemonic::Movapd,
    ];
    for (op, mn) in PackedOp::ALL.into_iter().zip(mnemonics) {
        for d in Xmm::ALL {
            for s in Xmm::ALL {
                check(|a| a.packed(op, d, s), mn, &[x(d), x(s)]);
            }
        }
        for mem in tricky_mems() {
            check(
                |a| a.packed(op, Xmm::Xmm12, mem),
                mn,
                &[x(Xmm::Xmm12), m(mem, 16)],
            );
        }
    }
    for (k, mem) in mems().into_iter().enumerate() {
        let s = Xmm::ALL[k % 16];
        check(
            |a| a.movaps_store(mem, s),
            Mnemonic::Movaps,
            &[m(mem, 16), x(s)],
        );
    }
}

#[test]
fn moves_between_gprs_and_xmms() {
    for size in [Size::S32, Size::S64] {
        let mn = if size == Size::S32 {
            Mnemonic::Movd
        } else {
            Mnemonic::Movq
        };
        for g in Reg::ALL {
            for v in Xmm::ALL {
                check(|a| a.movd_to_xmm(size, v, g), mn, &[x(v), r(g, size)]);
                check(|a| a.movd_from_xmm(size, g, v), mn, &[r(g, size), x(v)]);
            }
        }
        for (k, mem) in tricky_mems().into_iter().enumerate() {
            let v = Xmm::ALL[k + 5];
            let w = size.bytes() as usize;
            check(|a| a.movd_to_xmm(size, v, mem), mn, &[x(v), m(mem, w)]);
            check(|a| a.movd_from_xmm(size, mem, v), mn, &[m(mem, w), x(v)]);
        }
    }
}

#[test]
fn sign_masks() {
    for f in FSize::ALL {
        let mn = pick(f, Mnemonic::Movmskps, Mnemonic::Movmskpd);
        for g in Reg::ALL {
            for v in Xmm::ALL {
                check(|a| a.movmsk(f, g, v), mn, &[r(g, Size::S32), x(v)]);
            }
        }
    }
}
