//! Links [`crate::wasi`] into a module: its `wasi_snapshot_preview1` imports are the
//! runtime's own functions ([`crate::compile::symbols::runtime_import`]), which compiled
//! code calls directly. Their entries (`trampoline`) land in `dispatch`, which finds
//! the program's WASI world and memory through the caller's VM context. `proc_exit` ends
//! the program through `Platform::exit`.

use super::data::InstanceData;
use super::store::{Extern, Store};
use crate::compile::symbols::runtime_import;
use crate::module::ImportKind;
use crate::wasi::{errno, Func, Outcome, Wasi, MODULE};
use crate::CompiledModule;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

/// Gives the store's instances the WASI world `wasi` and answers one import per module
/// import: [`Extern::Runtime`] for each. Fails on the first import that is not a
/// function of `wasi_snapshot_preview1`.
pub fn imports(
    store: &mut Store,
    module: &CompiledModule,
    wasi: Rc<Wasi>,
) -> Result<Vec<Extern>, String> {
    store.set_wasi(wasi);
    module
        .info
        .imports
        .iter()
        .map(|i| match i.kind {
            ImportKind::Func(_) if runtime_import(&i.module, &i.name).is_some() => {
                Ok(Extern::Runtime)
            }
            _ if i.module == MODULE => Err(format!(
                "unknown import {}::{} (not a function of WASI preview 1)",
                i.module, i.name
            )),
            _ => Err(format!(
                "unknown import {}::{} (only {MODULE} is provided)",
                i.module, i.name
            )),
        })
        .collect()
}

/// Runs WASI function number `index` ([`Func::ALL`]) for the instance whose VM context is
/// `vmctx`, with the argument and result slots at `slots` (the WASM calling convention).
/// The runtime's WASI entries call it.
pub(crate) extern "sysv64" fn dispatch(vmctx: *const u64, index: u32, slots: *mut u64) {
    let func = Func::ALL[index as usize];
    let (params, results) = (func.params().len(), func.results().len());
    // SAFETY: the entries are only called by generated code, with its own VM context, of
    // an instance alive while its code runs and not otherwise borrowed meanwhile, and with at least max(params, results) slots, as the import's type (checked at
    // compile time against `func`'s) says.
    let (inst, slots) = unsafe {
        let inst = &*InstanceData::from_vmctx(vmctx);
        (
            inst,
            core::slice::from_raw_parts_mut(slots, params.max(results)),
        )
    };
    let memory: &mut [u8] = match inst.memory {
        // SAFETY: the memory lives in the store, which outlives the call.
        Some(m) => unsafe { (*m).bytes() },
        None => &mut [],
    };
    let outcome = match &inst.wasi {
        Some(wasi) => wasi.call(inst.platform, memory, func, &slots[..params]),
        None => Outcome::Errno(errno::NOSYS),
    };
    match outcome {
        Outcome::Errno(e) if results > 0 => slots[0] = e as u64,
        Outcome::Errno(_) => {}
        Outcome::Exit(code) => inst.platform.exit(code as i32),
    }
}
