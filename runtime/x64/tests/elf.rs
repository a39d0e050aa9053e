//! The AOT path end to end: code with relocations becomes an ELF object (written with
//! the `object` crate, one `Elf64_Rela` per [`Reloc`](kiln_x64::Reloc)), the system C
//! compiler links it with a C program, and the program's output proves the linker
//! computed the same values `apply_relocs` would. Skipped when there is no `cc`.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use std::path::PathBuf;
use std::process::Command;

use kiln_x64::{AluOp, Assembler, Code, Mem, Reg, Scale, Size, SymbolId};
use object::write::{Object, Relocation, StandardSection, Symbol, SymbolSection};
use object::{elf, Architecture, BinaryFormat, Endianness, RelocationFlags, SectionKind};
use object::{SymbolFlags, SymbolKind, SymbolScope};

const HOST_TRIPLE: SymbolId = SymbolId(0);
const TABLE: SymbolId = SymbolId(1);
const EXTERNS: [&str; 2] = ["host_triple", "kiln_table"];

/// `uint64_t kiln_entry(uint64_t x)`:
/// `host_triple(x) + kiln_table[1] + kiln_table[2] * 2 + (kiln_table[0] == 7)`.
fn entry() -> Code {
    let mut a = Assembler::new();
    a.push(Reg::Rbx); // aligns the stack for the call, keeps a callee-saved register
    a.call_symbol(HOST_TRIPLE);
    a.mov(Size::S64, Reg::Rbx, Reg::Rax);
    a.alu(Size::S64, AluOp::Add, Reg::Rbx, Mem::symbol(TABLE, 8));
    a.mov_symbol_addr(Reg::R10, TABLE, 16);
    a.mov(Size::S64, Reg::R11, Mem::base(Reg::R10, 0));
    a.lea(
        Size::S64,
        Reg::Rbx,
        Mem::base_index(Reg::Rbx, Reg::R11, Scale::S2, 0),
    );
    a.alu(Size::S64, AluOp::Cmp, Mem::symbol(TABLE, 0), 7); // imm8 after the disp32
    a.setcc(kiln_x64::Cond::E, Reg::Rax);
    a.movzx(Size::S32, Reg::Rax, Size::S8, Reg::Rax);
    a.alu(Size::S64, AluOp::Add, Reg::Rax, Reg::Rbx);
    a.pop(Reg::Rbx);
    a.ret();
    a.finish().expect("finish")
}

fn elf_object(code: &Code) -> Vec<u8> {
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
    let text = obj.section_id(StandardSection::Text);
    let at = obj.append_section_data(text, &code.bytes, 16);
    obj.add_symbol(Symbol {
        name: b"kiln_entry".to_vec(),
        value: at,
        size: code.bytes.len() as u64,
        kind: SymbolKind::Text,
        scope: SymbolScope::Linkage,
        weak: false,
        section: SymbolSection::Section(text),
        flags: SymbolFlags::None,
    });
    let externs: Vec<_> = EXTERNS
        .iter()
        .map(|name| {
            obj.add_symbol(Symbol {
                name: name.as_bytes().to_vec(),
                value: 0,
                size: 0,
                kind: SymbolKind::Unknown,
                scope: SymbolScope::Unknown,
                weak: false,
                section: SymbolSection::Undefined,
                flags: SymbolFlags::None,
            })
        })
        .collect();
    for r in &code.relocs {
        let relocation = Relocation {
            offset: at + r.offset as u64,
            symbol: externs[r.target.0 as usize],
            addend: r.addend,
            flags: RelocationFlags::Elf {
                r_type: elf::RelocationType(r.kind.elf_type()),
            },
        };
        obj.add_relocation(text, relocation).expect("relocation");
    }
    // Say the stack need not be executable (the linker warns otherwise).
    obj.add_section(Vec::new(), b".note.GNU-stack".to_vec(), SectionKind::Note);
    obj.write().expect("write ELF")
}

const MAIN_C: &str = r#"
#include <stdint.h>
#include <stdio.h>
uint64_t kiln_table[3] = {7, 1000, 50};
uint64_t host_triple(uint64_t x) { return 3 * x; }
uint64_t kiln_entry(uint64_t x);
int main(void) {
    printf("%llu %llu\n", (unsigned long long)kiln_entry(5), (unsigned long long)kiln_entry(1u << 20));
    kiln_table[0] = 8;
    printf("%llu\n", (unsigned long long)kiln_entry(0));
    return 0;
}
"#;

#[test]
fn links_with_the_system_linker_and_runs() {
    if Command::new("cc").arg("--version").output().is_err() {
        eprintln!("skipped: no `cc` on this machine");
        return;
    }
    let dir: PathBuf = std::env::temp_dir().join(format!("kiln-x64-elf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let code = entry();
    assert!(code.relocs.len() >= 4);
    std::fs::write(dir.join("entry.o"), elf_object(&code)).unwrap();
    std::fs::write(dir.join("main.c"), MAIN_C).unwrap();
    let out = Command::new("cc")
        .current_dir(&dir)
        .args(["-no-pie", "-o", "prog", "main.c", "entry.o"])
        .output()
        .expect("run cc");
    assert!(
        out.status.success(),
        "cc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(dir.join("prog")).output().expect("run prog");
    std::fs::remove_dir_all(&dir).unwrap();
    let expect = |x: u64, t0: u64| 3 * x + 1000 + 50 * 2 + (t0 == 7) as u64;
    let want = format!(
        "{} {}\n{}\n",
        expect(5, 7),
        expect(1 << 20, 7),
        expect(0, 8)
    );
    assert_eq!(String::from_utf8_lossy(&run.stdout), want);
}
