//! Runs generated code on the host (Linux x86-64): the code is copied into an mmap'd
//! page, relocated for that address, flipped from RW to RX (W^X, as the JIT does), and
//! called through the System V ABI.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use kiln_x64::{
    AluOp, Assembler, Code, Cond, FSize, FloatOp, Mem, Reg, RoundMode, Scale, ShiftOp, Size,
    SymbolId, Xmm,
};

/// An executable copy of some code; unmapped on drop.
struct Exec {
    ptr: *mut u8,
    len: usize,
}

impl Exec {
    fn new(code: Code, resolve: impl FnMut(SymbolId) -> Option<u64>) -> Exec {
        let len = code.bytes.len().next_multiple_of(4096).max(4096);
        // SAFETY: an anonymous private mapping with no address hint has no
        // preconditions; the result is checked against MAP_FAILED.
        let ptr = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED, "mmap failed");
        let ptr = ptr as *mut u8;
        // SAFETY: the mapping is `len >= bytes.len()` bytes, writable, and ours alone.
        let mem = unsafe { core::slice::from_raw_parts_mut(ptr, len) };
        mem[..code.bytes.len()].copy_from_slice(&code.bytes);
        kiln_x64::apply_relocs(mem, &code.relocs, ptr as u64, resolve).expect("relocate");
        // SAFETY: `ptr`/`len` are exactly the mapping created above.
        let rc = unsafe { libc::mprotect(ptr.cast(), len, libc::PROT_READ | libc::PROT_EXEC) };
        assert_eq!(rc, 0, "mprotect failed");
        Exec { ptr, len }
    }

    /// The code as a function pointer of type `F`.
    ///
    /// # Safety
    /// `F` must be an `extern "C" fn` type matching what the code implements.
    unsafe fn func<F: Copy>(&self) -> F {
        assert_eq!(core::mem::size_of::<F>(), core::mem::size_of::<usize>());
        // SAFETY: the caller vouches for the signature; the pointer is to RX memory.
        unsafe { core::mem::transmute_copy(&self.ptr) }
    }
}

impl Drop for Exec {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping this value owns.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

fn build(emit: impl FnOnce(&mut Assembler)) -> Code {
    let mut a = Assembler::new();
    emit(&mut a);
    a.finish().expect("finish")
}

#[test]
fn adds_two_arguments() {
    let code = build(|a| {
        a.mov(Size::S64, Reg::Rax, Reg::Rdi);
        a.alu(Size::S64, AluOp::Add, Reg::Rax, Reg::Rsi);
        a.ret();
    });
    let exec = Exec::new(code, |_| None);
    // SAFETY: the code implements `fn(u64, u64) -> u64`.
    let add: extern "C" fn(u64, u64) -> u64 = unsafe { exec.func() };
    for (x, y) in [(0, 0), (2, 3), (u64::MAX, 1), (1 << 40, 77)] {
        assert_eq!(add(x, y), x.wrapping_add(y));
    }
}

#[test]
fn loops_with_labels_and_extended_registers() {
    // sum of 1..=n in r13 / r9, counting down with a backward jmp and a forward exit,
    // laid out as assembled and relaxed.
    let emit = |a: &mut Assembler| {
        let (top, done) = (a.new_label(), a.new_label());
        a.push(Reg::R13);
        a.alu(Size::S32, AluOp::Xor, Reg::R13, Reg::R13);
        a.mov(Size::S64, Reg::R9, Reg::Rdi);
        a.bind(top);
        a.test(Size::S64, Reg::R9, Reg::R9);
        a.jcc(Cond::E, done);
        a.alu(Size::S64, AluOp::Add, Reg::R13, Reg::R9);
        a.dec(Size::S64, Reg::R9);
        a.jmp(top);
        a.bind(done);
        a.mov(Size::S64, Reg::Rax, Reg::R13);
        a.pop(Reg::R13);
        a.ret();
    };
    let plain = build(emit);
    let mut a = Assembler::new();
    emit(&mut a);
    let (relaxed, _) = a.finish_relaxed().expect("finish");
    assert!(relaxed.bytes.len() < plain.bytes.len());
    for code in [plain, relaxed] {
        let exec = Exec::new(code, |_| None);
        // SAFETY: the code implements `fn(u64) -> u64` and preserves callee-saved r13.
        let sum: extern "C" fn(u64) -> u64 = unsafe { exec.func() };
        for n in [0u64, 1, 10, 1000] {
            assert_eq!(sum(n), n * (n + 1) / 2);
        }
    }
}

#[test]
fn memory_operands_with_index_and_scale() {
    // fn(ptr: *const i32, i: usize) -> i64: sign-extends ptr[i] + ptr[i+1] via r12 base.
    let code = build(|a| {
        a.push(Reg::R12);
        a.mov(Size::S64, Reg::R12, Reg::Rdi);
        a.movsx(
            Size::S64,
            Reg::Rax,
            Size::S32,
            Mem::base_index(Reg::R12, Reg::Rsi, Scale::S4, 0),
        );
        a.movsx(
            Size::S64,
            Reg::Rcx,
            Size::S32,
            Mem::base_index(Reg::R12, Reg::Rsi, Scale::S4, 4),
        );
        a.alu(Size::S64, AluOp::Add, Reg::Rax, Reg::Rcx);
        a.pop(Reg::R12);
        a.ret();
    });
    let exec = Exec::new(code, |_| None);
    // SAFETY: the code implements `fn(*const i32, usize) -> i64`, reading ptr[i..=i+1].
    let f: extern "C" fn(*const i32, usize) -> i64 = unsafe { exec.func() };
    let data = [5, -7, 1 << 30, 1 << 30, -1];
    for k in 0..4 {
        assert_eq!(f(data.as_ptr(), k), data[k] as i64 + data[k + 1] as i64);
    }
}

#[test]
fn division_shifts_and_bit_counts() {
    // fn(a: i64, b: i64) -> i64 = (a / b) + ((a % b) << 8) + popcnt(a).
    let code = build(|a| {
        a.mov(Size::S64, Reg::Rax, Reg::Rdi);
        a.cqo();
        a.idiv(Size::S64, Reg::Rsi);
        a.shift(Size::S64, ShiftOp::Shl, Reg::Rdx, 8);
        a.alu(Size::S64, AluOp::Add, Reg::Rax, Reg::Rdx);
        a.popcnt(Size::S64, Reg::R10, Reg::Rdi);
        a.alu(Size::S64, AluOp::Add, Reg::Rax, Reg::R10);
        a.ret();
    });
    let exec = Exec::new(code, |_| None);
    // SAFETY: the code implements `fn(i64, i64) -> i64` (b != 0 in every call below).
    let f: extern "C" fn(i64, i64) -> i64 = unsafe { exec.func() };
    for (x, y) in [(100i64, 7i64), (-100, 7), (1 << 50, -3), (12345, 1)] {
        let want = x / y + ((x % y) << 8) + x.count_ones() as i64;
        assert_eq!(f(x, y), want, "{x} {y}");
    }
}

#[test]
fn scalar_float_math() {
    // fn(x: f64, y: f64) -> f64 = floor(sqrt(x) * y) as f32 as f64.
    let code = build(|a| {
        a.float_op(FSize::F64, FloatOp::Sqrt, Xmm::Xmm9, Xmm::Xmm0);
        a.float_op(FSize::F64, FloatOp::Mul, Xmm::Xmm9, Xmm::Xmm1);
        a.round(FSize::F64, Xmm::Xmm0, Xmm::Xmm9, RoundMode::Floor);
        a.cvtf2f(FSize::F32, Xmm::Xmm0, Xmm::Xmm0);
        a.cvtf2f(FSize::F64, Xmm::Xmm0, Xmm::Xmm0);
        a.ret();
    });
    let exec = Exec::new(code, |_| None);
    // SAFETY: the code implements `fn(f64, f64) -> f64` and needs SSE4.1 (`roundsd`),
    // which every x86-64 host that runs these tests has.
    let f: extern "C" fn(f64, f64) -> f64 = unsafe { exec.func() };
    for (x, y) in [(2.0f64, 10.0f64), (16.0, -1.5), (1e10, 3.3)] {
        assert_eq!(f(x, y), (x.sqrt() * y).floor() as f32 as f64);
    }
}

extern "C" fn host_triple(v: u64) -> u64 {
    v * 3
}

#[test]
fn calls_a_relocated_host_function() {
    // fn(v) -> host_triple(v) + 1, calling through an Abs64-relocated `movabs` (the host
    // function may be further than 2 GiB from the mapping, out of rel32 reach).
    let code = build(|a| {
        a.push(Reg::Rbx); // keeps the stack 16-byte aligned at the call
        a.mov_symbol_addr(Reg::R11, SymbolId(0), 0);
        a.call_ind(Reg::R11);
        a.alu(Size::S64, AluOp::Add, Reg::Rax, 1);
        a.pop(Reg::Rbx);
        a.ret();
    });
    let exec = Exec::new(code, |s| {
        (s == SymbolId(0)).then_some(host_triple as *const () as u64)
    });
    // SAFETY: the code implements `fn(u64) -> u64` and calls a matching host function.
    let f: extern "C" fn(u64) -> u64 = unsafe { exec.func() };
    assert_eq!(f(14), 43);
}
