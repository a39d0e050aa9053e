//! Locals: each lives in its frame slot or, for the most used ones, in a register
//! reserved for it for the whole function.
//!
//! A register home is the same on every path, so joins need nothing; only calls, which
//! clobber every register, save register homes to the frame first and reload them after.

use super::stack::{fsize, size, Val};
use super::FuncCompiler;
use crate::module::Type;
use alloc::vec::Vec;
use kiln_x64::{Mem, PackedOp, Reg, Size, Xmm};

/// Registers that can hold locals (taken out of the operand pool when used). Four of
/// the eight operand registers stay for operands: no operator holds more than three.
const GPR_HOMES: [Reg; 4] = [Reg::Rbx, Reg::R12, Reg::R13, Reg::R10];
const XMM_HOMES: [Xmm; 6] = [
    Xmm::Xmm8,
    Xmm::Xmm9,
    Xmm::Xmm10,
    Xmm::Xmm11,
    Xmm::Xmm12,
    Xmm::Xmm13,
];

/// Where a local lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Home {
    /// Its frame slot only.
    Frame,
    /// A general-purpose register.
    Gpr(Reg),
    /// An SSE register.
    Xmm(Xmm),
}

/// Picks register homes for the most used locals (ties: lower index first).
pub(crate) fn choose_homes(locals: &[Type], uses: &[u32]) -> Vec<Home> {
    let mut homes = alloc::vec![Home::Frame; locals.len()];
    let mut order: Vec<usize> = (0..uses.len().min(locals.len()))
        .filter(|&i| uses[i] > 0)
        .collect();
    order.sort_by_key(|&i| core::cmp::Reverse(uses[i]));
    let (mut gprs, mut xmms) = (GPR_HOMES.iter(), XMM_HOMES.iter());
    for i in order {
        let reg = if locals[i].is_float() {
            xmms.next().map(|x| Home::Xmm(*x))
        } else {
            gprs.next().map(|r| Home::Gpr(*r))
        };
        if let Some(h) = reg {
            homes[i] = h;
        }
    }
    homes
}

impl FuncCompiler<'_> {
    /// rbp-relative frame slot of local `index` (for register homes: their save area).
    pub(crate) fn local_mem(&self, index: u32) -> Mem {
        if index < self.params {
            Mem::base(Reg::Rbp, 16 + 8 * index as i32)
        } else {
            Mem::base(Reg::Rbp, -16 - 8 * (index - self.params) as i32)
        }
    }

    /// Takes the home registers out of the operand pool and gives every local its
    /// initial value: parameters from the caller's slots, the others zero.
    pub(crate) fn init_locals(&mut self) {
        // Parameters start saved (their slot is the caller's argument), others not.
        self.home_saved = (0..self.locals.len() as u32)
            .map(|i| i < self.params)
            .collect();
        let mut zeroed_rax = false;
        for i in 0..self.locals.len() as u32 {
            let ty = self.locals[i as usize];
            let is_param = i < self.params;
            let mem = self.local_mem(i);
            match self.homes[i as usize] {
                Home::Frame if is_param => {}
                Home::Frame => {
                    if !zeroed_rax {
                        self.asm.mov(Size::S32, Reg::Rax, 0);
                        zeroed_rax = true;
                    }
                    self.asm.mov(Size::S64, mem, Reg::Rax);
                }
                Home::Gpr(r) => {
                    self.take_gpr(r);
                    if is_param {
                        self.asm.mov(size(ty), r, mem);
                    } else {
                        self.asm.mov(Size::S32, r, 0);
                    }
                }
                Home::Xmm(x) => {
                    self.take_xmm(x);
                    if is_param {
                        self.asm.movs(fsize(ty), x, mem);
                    } else {
                        self.asm.packed(PackedOp::Xorps, x, x);
                    }
                }
            }
        }
    }

    /// Saves register homes to their frame slots (before a call). A home whose slot
    /// still holds its value (not written since the last save or reload on this path)
    /// is skipped.
    pub(crate) fn save_homes(&mut self) {
        for i in 0..self.homes.len() {
            if self.home_saved[i] {
                continue;
            }
            let (mem, ty) = (self.local_mem(i as u32), self.locals[i]);
            match self.homes[i] {
                Home::Frame => {}
                Home::Gpr(r) => self.asm.mov(Size::S64, mem, r),
                Home::Xmm(x) => self.asm.movs(fsize(ty), mem, x),
            }
            self.home_saved[i] = true;
        }
    }

    /// Reloads register homes from their frame slots (after a call).
    pub(crate) fn reload_homes(&mut self) {
        for i in 0..self.homes.len() {
            let (mem, ty) = (self.local_mem(i as u32), self.locals[i]);
            match self.homes[i] {
                Home::Frame => {}
                Home::Gpr(r) => self.asm.mov(size(ty), r, mem),
                Home::Xmm(x) => self.asm.movs(fsize(ty), x, mem),
            }
        }
    }

    /// At a label several paths reach, no home is known to be saved.
    pub(crate) fn forget_saved_homes(&mut self) {
        self.home_saved.fill(false);
    }

    /// `(x, home)` when the next operator is `local.set x` of an integer local kept in
    /// a register: the current operator may compute straight into `home` (after
    /// `detach_local(x)`) and push `Val::Local(_, x)`, which makes that `local.set` free.
    pub(crate) fn set_target(&self) -> Option<(u32, Reg)> {
        let x = self.next_local_set?;
        match self.homes[x as usize] {
            Home::Gpr(home) => Some((x, home)),
            _ => None,
        }
    }

    pub(crate) fn local_get(&mut self, index: u32) {
        let ty = self.locals[index as usize];
        match self.homes[index as usize] {
            Home::Frame => {
                let mem = self.local_mem(index);
                self.push_load(ty, mem);
            }
            Home::Gpr(_) | Home::Xmm(_) => self.push(Val::Local(ty, index)),
        }
    }

    /// `local.set` (`keep == false`) or `local.tee`.
    pub(crate) fn local_set(&mut self, index: u32, keep: bool) {
        let v = self.pop_unspilled();
        if v == Val::Local(self.locals[index as usize], index) {
            if keep {
                self.push(v);
            }
            return;
        }
        self.detach_local(index);
        self.home_saved[index as usize] = false;
        match self.homes[index as usize] {
            Home::Frame => {
                let mem = self.local_mem(index);
                match v {
                    Val::Const(_, bits) => self.store_const(bits, mem),
                    Val::Gpr(_, r) => self.asm.mov(Size::S64, mem, r),
                    Val::Xmm(ty, x) => self.asm.movs(fsize(ty), mem, x),
                    Val::Local(..) => self.store_val(v, mem),
                    _ => unreachable!("pop_unspilled returns registers, constants and locals"),
                }
                if keep {
                    self.push(v);
                } else {
                    self.free(v);
                }
                return;
            }
            Home::Gpr(home) => match v {
                Val::Const(_, bits) => self.asm.mov_imm64(home, bits as i64),
                Val::Gpr(_, r) => self.asm.mov(Size::S64, home, r),
                Val::Local(ty, j) => {
                    let Home::Gpr(r) = self.homes[j as usize] else {
                        unreachable!("same type")
                    };
                    self.asm.mov(size(ty), home, r);
                }
                _ => unreachable!("validated: local and value types agree"),
            },
            Home::Xmm(home) => match v {
                Val::Const(_, bits) => self.load_const_xmm(home, bits),
                Val::Xmm(_, x) => self.asm.packed(PackedOp::Movaps, home, x),
                Val::Local(_, j) => {
                    let Home::Xmm(x) = self.homes[j as usize] else {
                        unreachable!("same type")
                    };
                    self.asm.packed(PackedOp::Movaps, home, x);
                }
                _ => unreachable!("validated: local and value types agree"),
            },
        }
        self.free(v);
        if keep {
            self.push(Val::Local(self.locals[index as usize], index));
        }
    }
}
