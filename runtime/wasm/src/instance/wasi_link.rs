//! Links [`crate::wasi`] into a module's imports as host functions. `proc_exit` ends
//! the program through `Platform::exit`.

use super::store::{Extern, Memory, Store};
use crate::module::ImportKind;
use crate::wasi::{Outcome, Wasi, MODULE};
use crate::CompiledModule;
use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;

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
            let platform = store.platform();
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
                    match wasi.call(platform, bytes, &name, &slots[..params]) {
                        Outcome::Errno(e) if returns => slots[0] = e as u64,
                        Outcome::Errno(_) => {}
                        Outcome::Exit(code) => platform.exit(code as i32),
                    }
                }),
            ))
        })
        .collect()
}
