//! Links `kiln_wasm::wasi` into a module's imports as host functions on the Linux
//! platform. `proc_exit` ends the process through `Platform::exit`.

use super::store::{Extern, Memory, Store};
use crate::platform::LinuxPlatform;
use kiln_abi::Platform;
use kiln_wasm::module::ImportKind;
use kiln_wasm::wasi::{Outcome, Wasi, MODULE};
use kiln_wasm::CompiledModule;
use std::cell::Cell;
use std::rc::Rc;

/// The instance's memory, known only once instantiation has created or imported it.
pub type MemoryCell = Rc<Cell<*mut Memory>>;

/// One import per module import: WASI functions as host functions (with the types the
/// module declares). Fails on the first import that is not WASI.
pub fn imports(
    store: &mut Store,
    module: &CompiledModule,
    wasi: Rc<Wasi>,
    memory: &MemoryCell,
) -> Result<Vec<Extern>, String> {
    module
        .info
        .imports
        .iter()
        .map(|i| {
            let ImportKind::Func(t) = i.kind else {
                return Err(format!("unknown import {}::{}", i.module, i.name));
            };
            if i.module != MODULE {
                return Err(format!(
                    "unknown import {}::{} (only {MODULE} is provided)",
                    i.module, i.name
                ));
            }
            let ty = module.info.types[t as usize].clone();
            let (name, wasi, memory) = (i.name.clone(), wasi.clone(), memory.clone());
            let (params, returns) = (ty.params.len(), !ty.results.is_empty());
            Ok(store.host_func(
                &ty,
                Box::new(move |slots: &mut [u64]| {
                    let m = memory.get();
                    let bytes: &mut [u8] = if m.is_null() {
                        &mut []
                    } else {
                        // SAFETY: the memory lives in the store, which outlives the call.
                        unsafe { (*m).bytes() }
                    };
                    match wasi.call(&LinuxPlatform, bytes, &name, &slots[..params]) {
                        Outcome::Errno(e) if returns => slots[0] = e as u64,
                        Outcome::Errno(_) => {}
                        Outcome::Exit(code) => LinuxPlatform.exit(code as i32),
                    }
                }),
            ))
        })
        .collect()
}
