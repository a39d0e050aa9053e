//! Symbolizing addresses the guest prints.
//!
//! The kernel prints fault reports and backtraces with raw addresses written as `0x`
//! and exactly 16 hex digits. xtask reads the image's symbol table and appends
//! ` <function+0xoffset>` after every such address that falls inside a function, so
//! the user sees names without running addr2line by hand.

use anyhow::{Context, Result};
use object::{Object, ObjectSymbol, SymbolKind};
use regex::Regex;
use std::path::Path;

/// Function symbols of an image, sorted by address.
pub struct Symbols {
    functions: Vec<(u64, u64, String)>,
    address: Regex,
}

impl Symbols {
    /// Reads the function symbols of the ELF file at `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let elf = object::File::parse(&*data)
            .with_context(|| format!("{} is not an ELF file", path.display()))?;
        let functions = elf
            .symbols()
            .filter(|s| s.kind() == SymbolKind::Text && s.address() != 0)
            .filter_map(|s| {
                let name = s.name().ok()?;
                Some((
                    s.address(),
                    s.size(),
                    format!("{:#}", rustc_demangle::demangle(name)),
                ))
            })
            .collect();
        Ok(Self::from_functions(functions))
    }

    fn from_functions(mut functions: Vec<(u64, u64, String)>) -> Self {
        functions.sort();
        Symbols {
            functions,
            address: Regex::new(r"0x[0-9a-f]{16}\b").expect("valid regex"),
        }
    }

    /// The function containing `addr` and the offset into it.
    pub fn lookup(&self, addr: u64) -> Option<(&str, u64)> {
        let i = self
            .functions
            .partition_point(|(start, _, _)| *start <= addr);
        let (start, size, name) = self.functions.get(i.checked_sub(1)?)?;
        // Symbols without a size (hand-written assembly) cover up to the next symbol.
        let end = if *size > 0 {
            start + size
        } else {
            self.functions.get(i).map_or(u64::MAX, |next| next.0)
        };
        (addr < end).then(|| (name.as_str(), addr - start))
    }

    /// `line` with ` <function+0xoff>` after every address that names a function.
    pub fn annotate(&self, line: &str) -> String {
        let mut out = String::with_capacity(line.len());
        let mut last = 0;
        for m in self.address.find_iter(line) {
            out.push_str(&line[last..m.end()]);
            last = m.end();
            let addr = u64::from_str_radix(&m.as_str()[2..], 16).expect("16 hex digits");
            if let Some((name, off)) = self.lookup(addr) {
                out.push_str(&format!(" <{name}+{off:#x}>"));
            }
        }
        out.push_str(&line[last..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Symbols {
        Symbols::from_functions(vec![
            (0x1000, 0x20, "kiln_kernel::main".into()),
            (0x1040, 0, "boot32".into()),
            (0x1100, 0x10, "kiln_kernel::selftest::page_fault".into()),
        ])
    }

    #[test]
    fn lookup_respects_symbol_bounds() {
        let s = sample();
        assert_eq!(s.lookup(0x1000), Some(("kiln_kernel::main", 0)));
        assert_eq!(s.lookup(0x101f), Some(("kiln_kernel::main", 0x1f)));
        assert_eq!(s.lookup(0x1020), None, "past the end of a sized symbol");
        assert_eq!(
            s.lookup(0x10ff),
            Some(("boot32", 0xbf)),
            "unsized runs to the next"
        );
        assert_eq!(s.lookup(0xfff), None);
        assert_eq!(s.lookup(0x1110), None);
    }

    #[test]
    fn annotate_only_touches_full_width_addresses() {
        let s = sample();
        assert_eq!(
            s.annotate("  #0 0x0000000000001104 rax=0x1104"),
            "  #0 0x0000000000001104 <kiln_kernel::selftest::page_fault+0x4> rax=0x1104"
        );
        assert_eq!(
            s.annotate("cr2: 0x00000000deadb000"),
            "cr2: 0x00000000deadb000"
        );
    }
}
