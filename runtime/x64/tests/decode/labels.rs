//! Labels and relocations: forward and backward references, the rel8/rel32 choice,
//! RIP-relative operands followed by immediates, jump tables, and relocations applied
//! for a load address then decoded back at that address.

use super::common;

use common::{decode_all, decode_one, fmt};
use iced_x86::{Mnemonic, OpKind};
use kiln_x64::{
    AluOp, AsmError, Assembler, Code, Cond, Mem, Reg, RelocError, RelocKind, Size, SymbolId,
};

const JCC: [Mnemonic; 16] = [
    Mnemonic::Jo,
    Mnemonic::Jno,
    Mnemonic::Jb,
    Mnemonic::Jae,
    Mnemonic::Je,
    Mnemonic::Jne,
    Mnemonic::Jbe,
    Mnemonic::Ja,
    Mnemonic::Js,
    Mnemonic::Jns,
    Mnemonic::Jp,
    Mnemonic::Jnp,
    Mnemonic::Jl,
    Mnemonic::Jge,
    Mnemonic::Jle,
    Mnemonic::Jg,
];

/// Decodes the instruction at `at` in `code` and returns it.
fn decode_at(code: &[u8], at: usize) -> iced_x86::Instruction {
    let mut d = iced_x86::Decoder::with_ip(64, &code[at..], at as u64, 0);
    d.decode()
}

#[test]
fn backward_branches_use_rel8_when_in_reach() {
    for (n, cond) in Cond::ALL.into_iter().enumerate() {
        // Distance from the end of a 2-byte branch back to the label: 2 + pad.
        for pad in [0usize, 1, 60, 125, 126, 127, 128, 500] {
            let mut a = Assembler::new();
            let top = a.new_label();
            a.bind(top);
            a.nop(pad);
            let at = a.offset() as usize;
            a.jcc(cond, top);
            let j = a.offset() as usize;
            a.jmp(top);
            let code = a.finish().unwrap().bytes;
            let short = pad + 2 <= 128;
            let jcc = decode_at(&code, at);
            assert_eq!(jcc.mnemonic(), JCC[n], "{}", fmt(&jcc));
            assert_eq!(jcc.len(), if short { 2 } else { 6 }, "jcc back over {pad}");
            assert_eq!(jcc.near_branch_target(), 0);
            let jmp = decode_at(&code, j);
            assert_eq!(jmp.mnemonic(), Mnemonic::Jmp);
            // The jmp sits after the jcc, so it is further away.
            let short = j - at + pad + 2 <= 128;
            assert_eq!(jmp.len(), if short { 2 } else { 5 }, "jmp back over {}", j);
            assert_eq!(jmp.near_branch_target(), 0);
        }
    }
}

#[test]
fn forward_branches_and_calls_resolve_at_finish() {
    for (n, cond) in Cond::ALL.into_iter().enumerate() {
        let mut a = Assembler::new();
        let target = a.new_label();
        a.jcc(cond, target);
        a.jmp(target);
        a.call(target);
        a.nop(n * 17);
        a.bind(target);
        a.ret();
        let code = a.finish().unwrap();
        let want = code.label_offset(target).unwrap() as u64;
        let all = decode_all(&code.bytes);
        assert_eq!(all[0].mnemonic(), JCC[n]);
        assert_eq!(all[1].mnemonic(), Mnemonic::Jmp);
        assert_eq!(all[2].mnemonic(), Mnemonic::Call);
        for ins in &all[..3] {
            assert_eq!(ins.near_branch_target(), want, "{}", fmt(ins));
        }
    }
}

#[test]
fn forced_short_branches_reach_or_fail_cleanly() {
    for (n, cond) in Cond::ALL.into_iter().enumerate() {
        for gap in [0usize, 1, 100, 125, 127, 128, 300] {
            let mut a = Assembler::new();
            let skip = a.new_label();
            a.jcc_short(cond, skip);
            a.jmp_short(skip);
            a.nop(gap);
            a.bind(skip);
            a.ret();
            // The jcc is 2 bytes further from the label than the jmp.
            let result = a.finish();
            if gap + 2 > 127 {
                assert_eq!(
                    result,
                    Err(AsmError::ShortBranchOutOfRange { label: skip, at: 1 })
                );
                continue;
            }
            let code = result.unwrap();
            let all = decode_all(&code.bytes);
            assert_eq!((all[0].mnemonic(), all[0].len()), (JCC[n], 2));
            assert_eq!((all[1].mnemonic(), all[1].len()), (Mnemonic::Jmp, 2));
            let want = code.label_offset(skip).unwrap() as u64;
            assert_eq!(all[0].near_branch_target(), want);
            assert_eq!(all[1].near_branch_target(), want);
        }
    }
    // Backward as well, to exactly -128.
    let mut a = Assembler::new();
    let top = a.new_label();
    a.bind(top);
    a.nop(126);
    a.jmp_short(top);
    let code = a.finish().unwrap();
    assert_eq!(code.bytes[126..], [0xEB, 0x80]);
}

#[test]
fn backward_call_is_rel32() {
    let mut a = Assembler::new();
    let f = a.new_label();
    a.bind(f);
    a.ret();
    a.call(f);
    let code = a.finish().unwrap().bytes;
    let call = decode_at(&code, 1);
    assert_eq!((call.mnemonic(), call.len()), (Mnemonic::Call, 5));
    assert_eq!(call.near_branch_target(), 0);
}

#[test]
fn rip_relative_operands_account_for_trailing_immediates() {
    for forward in [false, true] {
        for disp in [0, 8, -16] {
            let mut a = Assembler::new();
            let data = a.new_label();
            if !forward {
                a.bind(data);
                a.emit_bytes(&[0; 16]);
            }
            let at = a.offset() as usize;
            let mem = Mem::Label { label: data, disp };
            a.alu(Size::S32, AluOp::Cmp, mem, 5); // imm8 follows the disp32
            a.mov(Size::S32, mem, 0x1234_5678); // imm32 follows
            a.mov(Size::S16, mem, 0x1234); // imm16 follows
            a.lea(Size::S64, Reg::R12, mem); // nothing follows
            a.shift(Size::S64, kiln_x64::ShiftOp::Shl, mem, 3);
            if forward {
                a.align(16);
                a.bind(data);
                a.emit_bytes(&[0; 16]);
            }
            let code = a.finish().unwrap();
            let want = (code.label_offset(data).unwrap() as i64 + disp as i64) as u64;
            let mut d = iced_x86::Decoder::with_ip(64, &code.bytes[at..], at as u64, 0);
            for _ in 0..5 {
                let ins = d.decode();
                assert_eq!(ins.memory_base(), iced_x86::Register::RIP, "{}", fmt(&ins));
                assert_eq!(ins.memory_displacement64(), want, "{}", fmt(&ins));
            }
        }
    }
}

#[test]
fn unbound_label_is_an_error() {
    let mut a = Assembler::new();
    let nowhere = a.new_label();
    a.jmp(nowhere);
    assert_eq!(a.finish(), Err(AsmError::UnboundLabel(nowhere)));
}

#[test]
#[should_panic(expected = "bound twice")]
fn binding_twice_panics() {
    let mut a = Assembler::new();
    let l = a.new_label();
    a.bind(l);
    a.bind(l);
}

#[test]
fn jump_table_entries_are_label_differences() {
    let mut a = Assembler::new();
    let table = a.new_label();
    let cases: Vec<_> = (0..4).map(|_| a.new_label()).collect();
    a.bind(table);
    for &c in &cases {
        a.emit_label_diff32(c, table);
    }
    for (n, &c) in cases.iter().enumerate() {
        a.nop(n * 3 + 1);
        a.bind(c);
        a.ret();
    }
    let code = a.finish().unwrap();
    for (n, &c) in cases.iter().enumerate() {
        let entry = i32::from_le_bytes(code.bytes[n * 4..n * 4 + 4].try_into().unwrap());
        assert_eq!(entry as u32, code.label_offset(c).unwrap());
    }
}

const BASE: u64 = 0x7000_0000_1000;

/// Resolves symbol `n` to a fixed address near `BASE`.
fn near_symbol(s: SymbolId) -> Option<u64> {
    (s.0 < 10).then(|| BASE + 0x10_0000 + s.0 as u64 * 0x100)
}

fn patched(a: Assembler) -> Code {
    let mut code = a.finish().unwrap();
    code.patch_in_place(BASE, near_symbol).unwrap();
    code
}

#[test]
fn relocated_calls_and_jumps_reach_their_symbols() {
    let mut a = Assembler::new();
    a.call_symbol(SymbolId(3));
    a.jmp_symbol(SymbolId(7));
    assert_eq!(a.bytes().len(), 10);
    let code = patched(a);
    assert_eq!(code.relocs.len(), 2);
    assert!(code
        .relocs
        .iter()
        .all(|r| r.kind == RelocKind::Rel32 && r.addend == -4));
    assert_eq!(code.relocs[0].offset, 1);
    let mut d = iced_x86::Decoder::with_ip(64, &code.bytes, BASE, 0);
    let call = d.decode();
    let jmp = d.decode();
    assert_eq!(call.near_branch_target(), near_symbol(SymbolId(3)).unwrap());
    assert_eq!(jmp.near_branch_target(), near_symbol(SymbolId(7)).unwrap());
}

#[test]
fn relocated_rip_relative_operands() {
    type Emit = fn(&mut Assembler, Mem);
    let cases: [(i32, Emit); 4] = [
        (0, |a, m| a.mov(Size::S64, Reg::R13, m)),
        (8, |a, m| a.alu(Size::S32, AluOp::Add, m, 1000)),
        (-4, |a, m| a.mov(Size::S8, m, 7)),
        (16, |a, m| {
            a.float_op(
                kiln_x64::FSize::F64,
                kiln_x64::FloatOp::Add,
                kiln_x64::Xmm::Xmm14,
                m,
            )
        }),
    ];
    for (addend, emit) in cases {
        let mut a = Assembler::new();
        a.nop(3);
        emit(&mut a, Mem::symbol(SymbolId(2), addend));
        let code = patched(a);
        let ins = decode_one(&code.bytes[3..], BASE + 3);
        assert_eq!(ins.memory_base(), iced_x86::Register::RIP, "{}", fmt(&ins));
        let want = near_symbol(SymbolId(2)).unwrap() as i64 + addend as i64;
        assert_eq!(ins.memory_displacement64(), want as u64, "{}", fmt(&ins));
    }
}

#[test]
fn absolute_relocations() {
    let mut a = Assembler::new();
    a.mov_symbol_addr(Reg::R11, SymbolId(5), 24);
    a.emit_abs64(SymbolId(1), -8);
    let code = patched(a);
    assert_eq!(code.relocs.len(), 2);
    assert!(code.relocs.iter().all(|r| r.kind == RelocKind::Abs64));
    let ins = decode_one(&code.bytes[..10], BASE);
    assert_eq!(ins.mnemonic(), Mnemonic::Mov);
    assert_eq!(ins.op_kind(1), OpKind::Immediate64);
    assert_eq!(ins.immediate(1), near_symbol(SymbolId(5)).unwrap() + 24);
    let data = u64::from_le_bytes(code.bytes[10..18].try_into().unwrap());
    assert_eq!(data, near_symbol(SymbolId(1)).unwrap() - 8);
}

#[test]
fn relocation_errors() {
    let mut a = Assembler::new();
    a.call_symbol(SymbolId(42));
    let mut code = a.finish().unwrap();
    assert_eq!(
        code.patch_in_place(BASE, near_symbol),
        Err(RelocError::Unresolved(SymbolId(42)))
    );
    assert_eq!(
        code.patch_in_place(BASE, |_| Some(BASE + (1 << 33))),
        Err(RelocError::OutOfRange {
            offset: 1,
            target: SymbolId(42)
        })
    );
    // Backwards by just under 2 GiB still reaches.
    assert_eq!(
        code.patch_in_place(BASE, |_| Some(BASE + 5 - (1 << 31))),
        Ok(())
    );
    assert_eq!(&code.bytes[1..5], &i32::MIN.to_le_bytes());
}
