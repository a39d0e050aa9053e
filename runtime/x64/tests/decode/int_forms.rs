//! Integer instruction forms, decoded back with iced-x86 across all registers,
//! widths and memory operand shapes.

use super::common;

use common::{check, i, m, mems, r, tricky_mems};
use iced_x86::Mnemonic;
use kiln_x64::{AluOp, Cond, Mem, Reg, ShiftOp, Size};

const ALU_MNEMONICS: [Mnemonic; 8] = [
    Mnemonic::Add,
    Mnemonic::Or,
    Mnemonic::Adc,
    Mnemonic::Sbb,
    Mnemonic::And,
    Mnemonic::Sub,
    Mnemonic::Xor,
    Mnemonic::Cmp,
];

const IMMS: [i32; 10] = [
    0,
    1,
    -1,
    127,
    -128,
    128,
    -129,
    0x1234,
    0x7fff_ffff,
    i32::MIN,
];

/// Value of `imm` as the CPU sees it for an operation of width `size`.
fn imm_as(size: Size, imm: i32) -> i64 {
    match size {
        Size::S8 => imm as i8 as i64,
        Size::S16 => imm as i16 as i64,
        _ => imm as i64,
    }
}

fn fits_i8(v: i32) -> bool {
    v == v as i8 as i32
}

#[test]
fn alu_reg_reg_all_registers_and_widths() {
    for size in Size::ALL {
        for (op, mn) in AluOp::ALL.into_iter().zip(ALU_MNEMONICS) {
            for dst in Reg::ALL {
                for src in Reg::ALL {
                    check(
                        |a| a.alu(size, op, dst, src),
                        mn,
                        &[r(dst, size), r(src, size)],
                    );
                }
            }
        }
    }
}

#[test]
fn alu_reg_imm_picks_the_short_form() {
    for size in Size::ALL {
        for (op, mn) in AluOp::ALL.into_iter().zip(ALU_MNEMONICS) {
            for dst in Reg::ALL {
                for imm in IMMS {
                    let len = check(
                        |a| a.alu(size, op, dst, imm),
                        mn,
                        &[r(dst, size), i(imm_as(size, imm), size)],
                    );
                    let prefix = (size == Size::S16) as usize
                        + (size == Size::S64
                            || dst.num() >= 8
                            || (size == Size::S8 && dst.num() >= 4))
                            as usize;
                    let imm_len = match size {
                        Size::S8 => 1,
                        _ if fits_i8(imm) => 1,
                        Size::S16 => 2,
                        _ => 4,
                    };
                    assert_eq!(len, prefix + 2 + imm_len, "{op:?} {size:?} {dst:?}, {imm}");
                }
            }
        }
    }
}

#[test]
fn alu_with_memory_operands() {
    for size in Size::ALL {
        let w = size.bytes() as usize;
        for (op, mn) in AluOp::ALL.into_iter().zip(ALU_MNEMONICS) {
            for (k, mem) in mems().into_iter().enumerate() {
                let reg = Reg::ALL[k % 16];
                check(
                    |a| a.alu(size, op, mem, reg),
                    mn,
                    &[m(mem, w), r(reg, size)],
                );
                check(
                    |a| a.alu(size, op, reg, mem),
                    mn,
                    &[r(reg, size), m(mem, w)],
                );
                let imm = IMMS[k % IMMS.len()];
                check(
                    |a| a.alu(size, op, mem, imm),
                    mn,
                    &[m(mem, w), i(imm_as(size, imm), size)],
                );
            }
        }
    }
}

#[test]
fn test_instruction_forms() {
    for size in Size::ALL {
        let w = size.bytes() as usize;
        for a in Reg::ALL {
            for b in Reg::ALL {
                check(
                    |x| x.test(size, a, b),
                    Mnemonic::Test,
                    &[r(a, size), r(b, size)],
                );
            }
            for imm in IMMS {
                check(
                    |x| x.test(size, a, imm),
                    Mnemonic::Test,
                    &[r(a, size), i(imm_as(size, imm), size)],
                );
            }
        }
        for (k, mem) in tricky_mems().into_iter().enumerate() {
            let reg = Reg::ALL[k * 3 % 16];
            check(
                |x| x.test(size, mem, reg),
                Mnemonic::Test,
                &[m(mem, w), r(reg, size)],
            );
            // Memory on the right is the same instruction with the operands swapped.
            check(
                |x| x.test(size, reg, mem),
                Mnemonic::Test,
                &[m(mem, w), r(reg, size)],
            );
            check(
                |x| x.test(size, mem, 77),
                Mnemonic::Test,
                &[m(mem, w), i(77, size)],
            );
        }
    }
}

#[test]
fn one_operand_group() {
    type Emit = fn(&mut kiln_x64::Assembler, Size, kiln_x64::RegMem);
    let ops: [(Emit, Mnemonic); 8] = [
        (|a, s, d| a.not(s, d), Mnemonic::Not),
        (|a, s, d| a.neg(s, d), Mnemonic::Neg),
        (|a, s, d| a.inc(s, d), Mnemonic::Inc),
        (|a, s, d| a.dec(s, d), Mnemonic::Dec),
        (|a, s, d| a.mul(s, d), Mnemonic::Mul),
        (|a, s, d| a.imul_wide(s, d), Mnemonic::Imul),
        (|a, s, d| a.div(s, d), Mnemonic::Div),
        (|a, s, d| a.idiv(s, d), Mnemonic::Idiv),
    ];
    for size in Size::ALL {
        for (emit, mn) in ops {
            for reg in Reg::ALL {
                check(|a| emit(a, size, reg.into()), mn, &[r(reg, size)]);
            }
            for mem in tricky_mems() {
                check(
                    |a| emit(a, size, mem.into()),
                    mn,
                    &[m(mem, size.bytes() as usize)],
                );
            }
        }
    }
}

#[test]
fn two_and_three_operand_imul() {
    for size in [Size::S16, Size::S32, Size::S64] {
        for dst in Reg::ALL {
            for src in Reg::ALL {
                check(
                    |a| a.imul(size, dst, src),
                    Mnemonic::Imul,
                    &[r(dst, size), r(src, size)],
                );
                let imm = IMMS[(dst.num() + src.num()) as usize % IMMS.len()];
                let len = check(
                    |a| a.imul_imm(size, dst, src, imm),
                    Mnemonic::Imul,
                    &[r(dst, size), r(src, size), i(imm_as(size, imm), size)],
                );
                let prefix = (size == Size::S16) as usize
                    + (size == Size::S64 || dst.num() >= 8 || src.num() >= 8) as usize;
                let imm_len = if fits_i8(imm) {
                    1
                } else if size == Size::S16 {
                    2
                } else {
                    4
                };
                assert_eq!(len, prefix + 2 + imm_len);
            }
        }
        for (k, mem) in mems().into_iter().enumerate() {
            let dst = Reg::ALL[k % 16];
            let w = size.bytes() as usize;
            check(
                |a| a.imul(size, dst, mem),
                Mnemonic::Imul,
                &[r(dst, size), m(mem, w)],
            );
            check(
                |a| a.imul_imm(size, dst, mem, 1000),
                Mnemonic::Imul,
                &[r(dst, size), m(mem, w), i(1000, size)],
            );
        }
    }
}

const SHIFT_MNEMONICS: [Mnemonic; 7] = [
    Mnemonic::Rol,
    Mnemonic::Ror,
    Mnemonic::Rcl,
    Mnemonic::Rcr,
    Mnemonic::Shl,
    Mnemonic::Shr,
    Mnemonic::Sar,
];

#[test]
fn shifts_and_rotates() {
    for size in Size::ALL {
        for (op, mn) in ShiftOp::ALL.into_iter().zip(SHIFT_MNEMONICS) {
            for reg in Reg::ALL {
                for count in [1u8, 3, 31, 63] {
                    check(
                        |a| a.shift(size, op, reg, count),
                        mn,
                        &[r(reg, size), i(count as i64, Size::S8)],
                    );
                }
                check(
                    |a| a.shift_cl(size, op, reg),
                    mn,
                    &[r(reg, size), r(Reg::Rcx, Size::S8)],
                );
            }
            for mem in tricky_mems() {
                let w = size.bytes() as usize;
                check(
                    |a| a.shift(size, op, mem, 7),
                    mn,
                    &[m(mem, w), i(7, Size::S8)],
                );
                check(
                    |a| a.shift_cl(size, op, mem),
                    mn,
                    &[m(mem, w), r(Reg::Rcx, Size::S8)],
                );
            }
        }
    }
}

#[test]
fn mov_every_form() {
    for size in Size::ALL {
        let w = size.bytes() as usize;
        for dst in Reg::ALL {
            for src in Reg::ALL {
                check(
                    |a| a.mov(size, dst, src),
                    Mnemonic::Mov,
                    &[r(dst, size), r(src, size)],
                );
            }
        }
        for (k, mem) in mems().into_iter().enumerate() {
            let reg = Reg::ALL[k % 16];
            check(
                |a| a.mov(size, reg, mem),
                Mnemonic::Mov,
                &[r(reg, size), m(mem, w)],
            );
            check(
                |a| a.mov(size, mem, reg),
                Mnemonic::Mov,
                &[m(mem, w), r(reg, size)],
            );
            let imm = IMMS[k % IMMS.len()];
            check(
                |a| a.mov(size, mem, imm),
                Mnemonic::Mov,
                &[m(mem, w), i(imm_as(size, imm), size)],
            );
        }
    }
    for size in [Size::S8, Size::S16, Size::S32] {
        for dst in Reg::ALL {
            for imm in IMMS {
                check(
                    |a| a.mov(size, dst, imm),
                    Mnemonic::Mov,
                    &[r(dst, size), i(imm_as(size, imm), size)],
                );
            }
        }
    }
}

#[test]
fn mov_imm64_picks_the_shortest_form() {
    let cases: [(i64, Size, usize); 8] = [
        (0, Size::S32, 5),
        (1, Size::S32, 5),
        (0xffff_ffff, Size::S32, 5),
        (-1, Size::S64, 7),
        (i32::MIN as i64, Size::S64, 7),
        (0x1_0000_0000, Size::S64, 10),
        (i64::MIN, Size::S64, 10),
        (-0x8000_0001, Size::S64, 10),
    ];
    for dst in Reg::ALL {
        for (value, size, len) in cases {
            let rex = (dst.num() >= 8 && size == Size::S32) as usize;
            let got = check(
                |a| a.mov_imm64(dst, value),
                Mnemonic::Mov,
                &[r(dst, size), i(value, size)],
            );
            assert_eq!(got, len + rex, "mov {dst:?}, {value:#x}");
            // A 64-bit `mov` with an immediate is the same thing.
            let imm32 = value as i32;
            if imm32 as i64 == value {
                assert_eq!(
                    common::assemble(|a| a.mov(Size::S64, dst, imm32)),
                    common::assemble(|a| a.mov_imm64(dst, value))
                );
            }
        }
    }
}

#[test]
fn zero_and_sign_extension() {
    let pairs = [
        (Size::S16, Size::S8),
        (Size::S32, Size::S8),
        (Size::S64, Size::S8),
        (Size::S32, Size::S16),
        (Size::S64, Size::S16),
    ];
    for (dsz, ssz) in pairs {
        for dst in Reg::ALL {
            for src in Reg::ALL {
                check(
                    |a| a.movzx(dsz, dst, ssz, src),
                    Mnemonic::Movzx,
                    &[r(dst, dsz), r(src, ssz)],
                );
                check(
                    |a| a.movsx(dsz, dst, ssz, src),
                    Mnemonic::Movsx,
                    &[r(dst, dsz), r(src, ssz)],
                );
            }
        }
        for (k, mem) in mems().into_iter().enumerate() {
            let dst = Reg::ALL[k % 16];
            let w = ssz.bytes() as usize;
            check(
                |a| a.movzx(dsz, dst, ssz, mem),
                Mnemonic::Movzx,
                &[r(dst, dsz), m(mem, w)],
            );
            check(
                |a| a.movsx(dsz, dst, ssz, mem),
                Mnemonic::Movsx,
                &[r(dst, dsz), m(mem, w)],
            );
        }
    }
    for dst in Reg::ALL {
        for src in Reg::ALL {
            check(
                |a| a.movsx(Size::S64, dst, Size::S32, src),
                Mnemonic::Movsxd,
                &[r(dst, Size::S64), r(src, Size::S32)],
            );
            // 32 → 64 zero extension is a 32-bit mov.
            check(
                |a| a.movzx(Size::S64, dst, Size::S32, src),
                Mnemonic::Mov,
                &[r(dst, Size::S32), r(src, Size::S32)],
            );
        }
    }
    for mem in tricky_mems() {
        check(
            |a| a.movsx(Size::S64, Reg::R9, Size::S32, mem),
            Mnemonic::Movsxd,
            &[r(Reg::R9, Size::S64), m(mem, 4)],
        );
        check(
            |a| a.movzx(Size::S64, Reg::R9, Size::S32, mem),
            Mnemonic::Mov,
            &[r(Reg::R9, Size::S32), m(mem, 4)],
        );
    }
}

#[test]
fn lea_forms() {
    for size in [Size::S16, Size::S32, Size::S64] {
        for (k, mem) in mems().into_iter().enumerate() {
            let dst = Reg::ALL[(k * 7) % 16];
            check(
                |a| a.lea(size, dst, mem),
                Mnemonic::Lea,
                &[r(dst, size), common::Op::M(mem, None)],
            );
        }
    }
}

#[test]
fn push_and_pop() {
    for reg in Reg::ALL {
        check(|a| a.push(reg), Mnemonic::Push, &[r(reg, Size::S64)]);
        check(|a| a.pop(reg), Mnemonic::Pop, &[r(reg, Size::S64)]);
    }
    for mem in tricky_mems() {
        check(|a| a.push(mem), Mnemonic::Push, &[m(mem, 8)]);
        check(|a| a.pop(mem), Mnemonic::Pop, &[m(mem, 8)]);
    }
    for imm in IMMS {
        let len = check(|a| a.push(imm), Mnemonic::Push, &[i(imm as i64, Size::S64)]);
        assert_eq!(len, if fits_i8(imm) { 2 } else { 5 });
    }
}

#[test]
fn exchange_and_atomics() {
    for size in Size::ALL {
        let w = size.bytes() as usize;
        for a in Reg::ALL {
            for b in Reg::ALL {
                check(
                    |x| x.xchg(size, a, b),
                    Mnemonic::Xchg,
                    &[r(a, size), r(b, size)],
                );
                check(
                    |x| x.cmpxchg(size, a, b),
                    Mnemonic::Cmpxchg,
                    &[r(a, size), r(b, size)],
                );
                check(
                    |x| x.xadd(size, a, b),
                    Mnemonic::Xadd,
                    &[r(a, size), r(b, size)],
                );
            }
        }
        for (k, mem) in tricky_mems().into_iter().enumerate() {
            let reg = Reg::ALL[15 - k];
            check(
                |x| x.xchg(size, mem, reg),
                Mnemonic::Xchg,
                &[m(mem, w), r(reg, size)],
            );
            for (emit, mn) in [
                (
                    kiln_x64::Assembler::cmpxchg as fn(&mut kiln_x64::Assembler, Size, Mem, Reg),
                    Mnemonic::Cmpxchg,
                ),
                (kiln_x64::Assembler::xadd, Mnemonic::Xadd),
            ] {
                let bytes = common::assemble(|x| {
                    x.lock();
                    emit(x, size, mem, reg)
                });
                let ins = common::decode_one(&bytes, 0);
                assert!(ins.has_lock_prefix(), "{}", common::fmt(&ins));
                assert_eq!(ins.mnemonic(), mn);
            }
        }
    }
}

#[test]
fn setcc_and_cmov_every_condition() {
    let set = [
        Mnemonic::Seto,
        Mnemonic::Setno,
        Mnemonic::Setb,
        Mnemonic::Setae,
        Mnemonic::Sete,
        Mnemonic::Setne,
        Mnemonic::Setbe,
        Mnemonic::Seta,
        Mnemonic::Sets,
        Mnemonic::Setns,
        Mnemonic::Setp,
        Mnemonic::Setnp,
        Mnemonic::Setl,
        Mnemonic::Setge,
        Mnemonic::Setle,
        Mnemonic::Setg,
    ];
    let cmov = [
        Mnemonic::Cmovo,
        Mnemonic::Cmovno,
        Mnemonic::Cmovb,
        Mnemonic::Cmovae,
        Mnemonic::Cmove,
        Mnemonic::Cmovne,
        Mnemonic::Cmovbe,
        Mnemonic::Cmova,
        Mnemonic::Cmovs,
        Mnemonic::Cmovns,
        Mnemonic::Cmovp,
        Mnemonic::Cmovnp,
        Mnemonic::Cmovl,
        Mnemonic::Cmovge,
        Mnemonic::Cmovle,
        Mnemonic::Cmovg,
    ];
    for (n, cond) in Cond::ALL.into_iter().enumerate() {
        for reg in Reg::ALL {
            check(|a| a.setcc(cond, reg), set[n], &[r(reg, Size::S8)]);
            for size in [Size::S16, Size::S32, Size::S64] {
                let src = Reg::ALL[15 - reg.num() as usize];
                check(
                    |a| a.cmov(size, cond, reg, src),
                    cmov[n],
                    &[r(reg, size), r(src, size)],
                );
            }
        }
        for mem in tricky_mems() {
            check(|a| a.setcc(cond, mem), set[n], &[m(mem, 1)]);
            check(
                |a| a.cmov(Size::S64, cond, Reg::R13, mem),
                cmov[n],
                &[r(Reg::R13, Size::S64), m(mem, 8)],
            );
        }
    }
}

#[test]
fn bit_counting_and_bswap() {
    type Emit = fn(&mut kiln_x64::Assembler, Size, Reg, kiln_x64::RegMem);
    let ops: [(Emit, Mnemonic); 5] = [
        (|a, s, d, x| a.lzcnt(s, d, x), Mnemonic::Lzcnt),
        (|a, s, d, x| a.tzcnt(s, d, x), Mnemonic::Tzcnt),
        (|a, s, d, x| a.popcnt(s, d, x), Mnemonic::Popcnt),
        (|a, s, d, x| a.bsf(s, d, x), Mnemonic::Bsf),
        (|a, s, d, x| a.bsr(s, d, x), Mnemonic::Bsr),
    ];
    for size in [Size::S16, Size::S32, Size::S64] {
        for (emit, mn) in ops {
            for dst in Reg::ALL {
                for src in Reg::ALL {
                    check(
                        |a| emit(a, size, dst, src.into()),
                        mn,
                        &[r(dst, size), r(src, size)],
                    );
                }
            }
            for mem in tricky_mems() {
                check(
                    |a| emit(a, size, Reg::R10, mem.into()),
                    mn,
                    &[r(Reg::R10, size), m(mem, size.bytes() as usize)],
                );
            }
        }
    }
    for size in [Size::S32, Size::S64] {
        for reg in Reg::ALL {
            check(|a| a.bswap(size, reg), Mnemonic::Bswap, &[r(reg, size)]);
        }
    }
}

#[test]
fn operandless_instructions() {
    type Emit = fn(&mut kiln_x64::Assembler);
    let cases: [(Emit, Mnemonic); 16] = [
        (|a| a.cld(), Mnemonic::Cld),
        (|a| a.std(), Mnemonic::Std),
        (|a| a.lfence(), Mnemonic::Lfence),
        (|a| a.sfence(), Mnemonic::Sfence),
        (|a| a.rep_movsb(), Mnemonic::Movsb),
        (|a| a.rep_stosb(), Mnemonic::Stosb),
        (|a| a.cdq(), Mnemonic::Cdq),
        (|a| a.cqo(), Mnemonic::Cqo),
        (|a| a.ret(), Mnemonic::Ret),
        (|a| a.ud2(), Mnemonic::Ud2),
        (|a| a.int3(), Mnemonic::Int3),
        (|a| a.hlt(), Mnemonic::Hlt),
        (|a| a.pause(), Mnemonic::Pause),
        (|a| a.mfence(), Mnemonic::Mfence),
        (|a| a.rdtsc(), Mnemonic::Rdtsc),
        (|a| a.cpuid(), Mnemonic::Cpuid),
    ];
    for (emit, mn) in cases {
        let bytes = common::assemble(emit);
        let ins = common::decode_one(&bytes, 0);
        assert_eq!(ins.mnemonic(), mn, "{}", common::fmt(&ins));
        let string_op = matches!(mn, Mnemonic::Movsb | Mnemonic::Stosb);
        assert_eq!(ins.has_rep_prefix(), string_op, "{}", common::fmt(&ins));
    }
}

#[test]
fn nops_of_every_length_and_alignment() {
    for len in 0..40 {
        let bytes = common::assemble(|a| a.nop(len));
        assert_eq!(bytes.len(), len);
        let all = common::decode_all(&bytes);
        assert!(all.iter().all(|ins| ins.mnemonic() == Mnemonic::Nop));
        assert_eq!(
            all.len(),
            len.div_ceil(9),
            "nop({len}) uses as few instructions as possible"
        );
    }
    for start in 0..20 {
        for align in [1u32, 2, 4, 8, 16, 32] {
            let mut a = kiln_x64::Assembler::new();
            a.nop(start);
            a.align(align);
            assert_eq!(a.offset() % align, 0);
            assert!(a.offset() < start as u32 + align);
        }
    }
}

#[test]
fn indirect_calls_and_jumps() {
    for reg in Reg::ALL {
        check(|a| a.call_ind(reg), Mnemonic::Call, &[r(reg, Size::S64)]);
        check(|a| a.jmp_ind(reg), Mnemonic::Jmp, &[r(reg, Size::S64)]);
    }
    for mem in mems() {
        check(|a| a.call_ind(mem), Mnemonic::Call, &[m(mem, 8)]);
        check(|a| a.jmp_ind(mem), Mnemonic::Jmp, &[m(mem, 8)]);
    }
}

#[test]
#[should_panic(expected = "memory-to-memory")]
fn memory_to_memory_alu_panics() {
    kiln_x64::Assembler::new().alu(
        Size::S32,
        AluOp::Add,
        Mem::base(Reg::Rax, 0),
        Mem::base(Reg::Rcx, 0),
    );
}

#[test]
#[should_panic(expected = "rsp cannot be an index")]
fn rsp_as_index_panics() {
    let mem = Mem::base_index(Reg::Rax, Reg::Rsp, kiln_x64::Scale::S1, 0);
    kiln_x64::Assembler::new().mov(Size::S64, Reg::Rax, mem);
}

#[test]
#[should_panic(expected = "no 8-bit form")]
fn byte_imul_panics() {
    kiln_x64::Assembler::new().imul(Size::S8, Reg::Rax, Reg::Rcx);
}

#[test]
#[should_panic(expected = "narrower")]
fn widening_to_the_same_size_panics() {
    kiln_x64::Assembler::new().movsx(Size::S32, Reg::Rax, Size::S32, Reg::Rcx);
}
