//! Measures how fast the assembler emits code: a mix of the forms a baseline compiler
//! produces (ALU, moves with memory operands, SSE, branches to labels), assembled
//! repeatedly, then finished plainly and with relaxation.
//!
//! `cargo run --release -p kiln-x64 --example throughput`

use std::time::Instant;

use kiln_x64::{AluOp, Assembler, Cond, FSize, FloatOp, Mem, Reg, Scale, Size, Xmm};

/// Instructions emitted per block below.
const PER_BLOCK: usize = 12;

fn emit_blocks(a: &mut Assembler, blocks: usize) {
    for n in 0..blocks {
        let r = Reg::ALL[n % 16];
        let s = Reg::ALL[[0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15][n % 15]]; // not rsp: used as an index
        let skip = a.new_label();
        let top = a.new_label();
        a.bind(top);
        a.mov(Size::S64, r, Mem::base(Reg::Rbp, -8 * (n as i32 % 32)));
        a.alu(Size::S32, AluOp::Add, r, s);
        a.alu(Size::S64, AluOp::Cmp, r, 100);
        a.jcc(Cond::Ge, skip);
        a.mov(Size::S32, Mem::base_index(Reg::R12, s, Scale::S4, 16), r);
        a.movs(FSize::F64, Xmm::Xmm1, Mem::base(Reg::R13, 8));
        a.float_op(FSize::F64, FloatOp::Add, Xmm::Xmm1, Xmm::ALL[n % 16]);
        a.movs(FSize::F64, Mem::base(Reg::Rsp, 24), Xmm::Xmm1);
        a.lea(Size::S64, Reg::Rax, Mem::base_index(r, s, Scale::S8, 40));
        a.imul_imm(Size::S32, r, s, 1000);
        a.bind(skip);
        a.test(Size::S8, r, 1);
        a.jcc(Cond::Ne, top);
    }
}

fn main() {
    let blocks = 200_000;
    let rounds = 5;
    let mut best = (f64::MAX, f64::MAX, 0usize, 0usize);
    for _ in 0..rounds {
        let t0 = Instant::now();
        let mut a = Assembler::with_capacity(blocks * 64);
        emit_blocks(&mut a, blocks);
        let plain = a.finish().expect("finish");
        let t_plain = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let mut a = Assembler::with_capacity(blocks * 64);
        emit_blocks(&mut a, blocks);
        let (relaxed, _) = a.finish_relaxed().expect("finish");
        let t_relax = t1.elapsed().as_secs_f64();
        best = (
            best.0.min(t_plain),
            best.1.min(t_relax),
            plain.bytes.len(),
            relaxed.bytes.len(),
        );
    }
    let insts = (blocks * PER_BLOCK) as f64;
    println!(
        "emit+finish: {insts} instructions, {} bytes in {:.1} ms: {:.1} M instructions/s, {:.0} MB/s",
        best.2,
        best.0 * 1e3,
        insts / best.0 / 1e6,
        best.2 as f64 / best.0 / 1e6
    );
    println!(
        "emit+finish_relaxed: {:.1} ms, code {} -> {} bytes ({:.1}% smaller)",
        best.1 * 1e3,
        best.2,
        best.3,
        100.0 * (best.2 - best.3) as f64 / best.2 as f64
    );
}
