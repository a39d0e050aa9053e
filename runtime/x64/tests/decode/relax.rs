//! Branch relaxation: random programs assembled twice, once laid out as assembled and
//! once relaxed, must decode to the same instructions with the same branch targets,
//! and the relaxed one must use rel8 wherever a jump was provably in reach.

use super::common;

use common::decode_all;
use iced_x86::{FlowControl, Instruction, Mnemonic};
use kiln_x64::{AluOp, Assembler, Cond, FSize, FloatOp, Label, Mem, Reg, Size, SymbolId, Xmm};

/// xorshift64*: deterministic test randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Emits a random program into `a` and returns the offset before each step. Branch
/// targets are mostly near (the next few labels to bind, or the last few bound).
fn random_program(seed: u64, aligns: bool, a: &mut Assembler) -> Vec<u32> {
    let mut rng = Rng(seed);
    let labels: Vec<Label> = (0..40).map(|_| a.new_label()).collect();
    let mut next_bind = 0;
    let mut starts = Vec::new();
    for _ in 0..600 {
        starts.push(a.offset());
        let near = (next_bind + rng.below(6) as usize).saturating_sub(3);
        let pick = match rng.below(4) {
            0 => rng.below(labels.len() as u64) as usize,
            _ => near.min(labels.len() - 1),
        };
        let target = labels[pick];
        match rng.below(100) {
            0..=19 => a.jmp(target),
            20..=39 => a.jcc(Cond::ALL[rng.below(16) as usize], target),
            40..=44 => a.call(target),
            45..=49 => a.lea(
                Size::S64,
                Reg::ALL[rng.below(16) as usize],
                Mem::label(target),
            ),
            50..=52 => a.alu(Size::S32, AluOp::Cmp, Mem::label(target), 7),
            53..=55 => a.call_symbol(SymbolId(rng.below(5) as u32)),
            56..=57 => a.mov(Size::S64, Reg::Rax, Mem::symbol(SymbolId(9), 8)),
            58..=61 if aligns => a.align(1 << rng.below(6)),
            62..=64 if next_bind < labels.len() => {
                a.bind(labels[next_bind]);
                next_bind += 1;
            }
            65..=79 => {
                let (d, s) = (
                    Reg::ALL[rng.below(16) as usize],
                    Reg::ALL[rng.below(16) as usize],
                );
                a.alu(Size::S64, AluOp::ALL[rng.below(8) as usize], d, s);
            }
            80..=89 => a.mov(
                Size::S32,
                Reg::ALL[rng.below(16) as usize],
                rng.next() as i32,
            ),
            _ => a.float_op(
                FSize::F64,
                FloatOp::Add,
                Xmm::ALL[rng.below(16) as usize],
                Xmm::Xmm3,
            ),
        }
    }
    while next_bind < labels.len() {
        a.bind(labels[next_bind]);
        next_bind += 1;
        a.ret();
    }
    starts
}

/// Which instruction, counting NOPs out, is the first at or after `offset` (NOP
/// paddings differ between the two layouts; jumping to a NOP is jumping past it).
fn landing(ins: &[Instruction], offset: u64) -> usize {
    let first = ins.partition_point(|i| i.ip() < offset);
    ins[..first]
        .iter()
        .filter(|i| i.mnemonic() != Mnemonic::Nop)
        .count()
}

/// Instructions without NOPs, each with the landing index of its label target.
fn shape(ins: &[Instruction]) -> Vec<(Mnemonic, Option<usize>)> {
    ins.iter()
        .filter(|i| i.mnemonic() != Mnemonic::Nop)
        .map(|i| {
            let target = match i.flow_control() {
                FlowControl::UnconditionalBranch
                | FlowControl::ConditionalBranch
                | FlowControl::Call => Some(i.near_branch_target()),
                _ if i.is_ip_rel_memory_operand() => Some(i.ip_rel_memory_address()),
                _ => None,
            };
            (i.mnemonic(), target.map(|t| landing(ins, t)))
        })
        .collect()
}

#[test]
fn relaxed_random_programs_keep_their_meaning() {
    let mut total = (0usize, 0usize);
    let mut shorts = (0usize, 0usize);
    let short_jumps = |ins: &[Instruction]| {
        ins.iter()
            .filter(|i| {
                matches!(
                    i.flow_control(),
                    FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch
                ) && i.len() == 2
            })
            .count()
    };
    for seed in 1..=80u64 {
        let aligns = seed % 2 == 0;
        let mut plain = Assembler::new();
        random_program(seed, aligns, &mut plain);
        let mut relaxed = Assembler::new();
        let starts = random_program(seed, aligns, &mut relaxed);
        let before = plain.clone().finish().unwrap();
        let plain_ins = decode_all(&before.bytes);
        let (after, map) = relaxed.finish_relaxed().unwrap();
        let relaxed_ins = decode_all(&after.bytes);
        assert!(after.bytes.len() <= before.bytes.len());
        total.0 += before.bytes.len();
        total.1 += after.bytes.len();
        shorts.0 += short_jumps(&plain_ins);
        shorts.1 += short_jumps(&relaxed_ins);

        // Relocations target symbols, so they are excluded from `shape`: compare them.
        let shape_plain = shape(&plain_ins);
        let shape_relaxed = shape(&relaxed_ins);
        assert_eq!(shape_plain.len(), shape_relaxed.len(), "seed {seed}");
        for (n, (p, r)) in shape_plain.iter().zip(&shape_relaxed).enumerate() {
            // Symbol references resolve to 0 (unrelocated) in both, so they agree too.
            assert_eq!(p.0, r.0, "seed {seed} instruction {n}");
            if p.1.is_some() && !matches!(p.0, Mnemonic::Call) {
                assert_eq!(p.1, r.1, "seed {seed} instruction {n} ({:?}) target", p.0);
            }
        }
        // Every label lands on the same instruction.
        for (l, r) in before.labels.iter().zip(&after.labels) {
            let (l, r) = (l.unwrap() as u64, r.unwrap() as u64);
            assert_eq!(
                landing(&plain_ins, l),
                landing(&relaxed_ins, r),
                "seed {seed}"
            );
        }
        // Offsets taken during assembly map onto the same instructions.
        for &s in &starts {
            let (p, r) = (s as u64, map.map(s) as u64);
            let pi = plain_ins.iter().find(|i| i.ip() >= p).map(|i| i.mnemonic());
            let ri = relaxed_ins
                .iter()
                .find(|i| i.ip() >= r)
                .map(|i| i.mnemonic());
            if pi != Some(Mnemonic::Nop) {
                assert_eq!(pi, ri, "seed {seed} offset {s:#x}");
            }
        }
        // Relocations follow their instructions.
        assert_eq!(before.relocs.len(), after.relocs.len());
        for (p, r) in before.relocs.iter().zip(&after.relocs) {
            assert_eq!(map.map(p.offset), r.offset, "seed {seed}");
            assert_eq!((p.kind, p.target, p.addend), (r.kind, r.target, r.addend));
        }
        // Without alignment paddings the choice is exact: no rel32 jump is left that
        // would reach in its rel8 form.
        for i in relaxed_ins.iter().filter(|_| !aligns) {
            let jump = matches!(
                i.flow_control(),
                FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch
            );
            if jump && i.len() > 2 {
                let (target, ip) = (i.near_branch_target() as i64, i.ip() as i64);
                // Shrinking a forward jump also pulls its target closer.
                let rel = if target > ip {
                    target - ip - i.len() as i64
                } else {
                    target - ip - 2
                };
                assert!(
                    !(-128..=127).contains(&rel),
                    "seed {seed}: {}",
                    common::fmt(i)
                );
            }
        }
    }
    let (before, after) = total;
    assert!(
        after < before,
        "relaxation saved nothing: {before} -> {after}"
    );
    assert!(
        shorts.1 > shorts.0 * 2,
        "short jumps: {} as assembled, {} relaxed",
        shorts.0,
        shorts.1
    );
}

#[test]
fn relaxation_shrinks_forward_jumps_and_keeps_jump_tables() {
    let mut a = Assembler::new();
    let (skip, table, case) = (a.new_label(), a.new_label(), a.new_label());
    a.jcc(Cond::Ne, skip);
    a.jmp(skip);
    a.nop(100);
    a.bind(skip);
    a.align(16);
    a.bind(table);
    a.emit_label_diff32(case, table);
    a.bind(case);
    a.ret();
    let plain = a.clone().finish().unwrap();
    let (code, map) = a.finish_relaxed().unwrap();
    assert_eq!(plain.bytes.len(), 6 + 5 + 100 + 1 + 4 + 1); // 1 byte of padding
    assert_eq!(code.bytes[0], 0x75);
    assert_eq!(code.bytes[2], 0xEB);
    let t = code.label_offset(table).unwrap();
    assert_eq!(t % 16, 0);
    assert_eq!(map.map(plain.label_offset(table).unwrap()), t);
    let entry = i32::from_le_bytes(code.bytes[t as usize..t as usize + 4].try_into().unwrap());
    assert_eq!(entry, 4);
    assert_eq!(code.bytes[(t + 4) as usize], 0xC3);
    let skip_at = code.label_offset(skip).unwrap() as u64;
    let ins = decode_all(&code.bytes[..4]);
    assert_eq!(ins[0].near_branch_target(), skip_at);
    assert_eq!(ins[1].near_branch_target(), skip_at);
}

#[test]
fn backward_rel8_survives_growing_padding() {
    // A backward jump across an alignment point stays rel8 only if it would still reach
    // when the padding grows to its maximum, so relaxation can never break it.
    for pad_before in 0..40 {
        let mut a = Assembler::new();
        let skip = a.new_label();
        a.jmp(skip); // shrinks by 3 under relaxation, shifting the code below
        a.bind(skip);
        a.nop(pad_before);
        let top = a.new_label();
        a.bind(top);
        a.nop(50);
        a.align(32);
        a.nop(50);
        a.jmp(top);
        a.ret();
        let (code, _) = a.finish_relaxed().unwrap();
        let ins = decode_all(&code.bytes);
        let back = ins.iter().rev().nth(1).unwrap();
        assert_eq!(
            back.near_branch_target(),
            code.label_offset(top).unwrap() as u64
        );
    }
}
