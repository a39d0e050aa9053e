//! Interned symbols: each distinct selector or symbol text gets an index; its Symbol
//! object is created on first use and kept as a collector root.

use crate::value::Value;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// The interned symbols.
#[derive(Default)]
pub struct Symbols {
    names: Vec<String>,
    map: BTreeMap<String, u32>,
    pub(crate) objects: Vec<Value>,
}

impl Symbols {
    /// Interns `name`.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.map.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_string());
        self.map.insert(name.to_string(), i);
        self.objects.push(Value::NIL);
        i
    }

    /// An interned symbol's text.
    pub fn name(&self, i: u32) -> &str {
        &self.names[i as usize]
    }

    /// The index of an already interned symbol.
    pub fn find(&self, name: &str) -> Option<u32> {
        self.map.get(name).copied()
    }
}
