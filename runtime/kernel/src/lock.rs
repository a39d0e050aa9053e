//! Taking a spin lock in the shape an emulator translates best.
//!
//! `spin::Mutex::lock` compiles to a compare-exchange whose success path the compiler
//! places behind a jump: under an emulator, one more block to translate at every place
//! a lock is taken. kiln runs on one CPU with interrupts off, so a lock is free whenever
//! it is taken; trying once and waiting only if that fails keeps the wait, and puts the
//! success path straight after the compare-exchange.

use spin::{Mutex, MutexGuard};

/// Locks `mutex`, waiting as `Mutex::lock` does if it is held.
#[inline(always)]
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.try_lock().unwrap_or_else(|| mutex.lock())
}
