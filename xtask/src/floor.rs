//! The floor of boot time: an empty PVH kernel that prints one byte and exits the moment
//! it runs.
//!
//! `bench boot` boots it beside kiln's images, interleaved, so kiln's own share of the
//! boot time is visible on a machine whose speed drifts: to the first output (its byte
//! arrives when kiln's first line could at the earliest) and to the exit. The image is a
//! hand-built 64-bit ELF: one loadable segment at 1 MiB holding the Xen PVH note and a
//! few bytes of 32-bit code that write a newline to COM1 and 0 to `isa-debug-exit`
//! (port 0xf4).

use anyhow::{Context, Result};
use std::path::Path;

/// Physical (and virtual) address the image is loaded at.
const BASE: u64 = 0x10_0000;
const EHDR: usize = 64;
const PHDR: usize = 56;

/// The whole ELF file.
pub fn image() -> Vec<u8> {
    let note_off = EHDR + 2 * PHDR;
    // Xen note: namesz 4, descsz 4, type 18 (XEN_ELFNOTE_PHYS32_ENTRY), "Xen\0", entry.
    let code_off = note_off + 20;
    let entry = BASE + code_off as u64;
    let mut note = Vec::new();
    for word in [4u32, 4, 18] {
        note.extend(word.to_le_bytes());
    }
    note.extend(b"Xen\0");
    note.extend((entry as u32).to_le_bytes());
    // 32-bit protected mode: mov dx, 0x3f8 ; mov al, 10 ; out dx, al ;
    // mov dx, 0xf4 ; xor eax, eax ; out dx, eax ; hlt
    let code: &[u8] = &[
        0x66, 0xba, 0xf8, 0x03, 0xb0, 0x0a, 0xee, 0x66, 0xba, 0xf4, 0x00, 0x31, 0xc0, 0xef, 0xf4,
    ];
    let size = (code_off + code.len()) as u64;

    let mut elf = Vec::with_capacity(size as usize);
    elf.extend(b"\x7fELF\x02\x01\x01\x00");
    elf.extend([0u8; 8]);
    elf.extend(2u16.to_le_bytes()); // ET_EXEC
    elf.extend(0x3eu16.to_le_bytes()); // EM_X86_64
    elf.extend(1u32.to_le_bytes());
    elf.extend(entry.to_le_bytes());
    elf.extend((EHDR as u64).to_le_bytes()); // e_phoff
    elf.extend(0u64.to_le_bytes()); // e_shoff
    elf.extend(0u32.to_le_bytes()); // e_flags
    for half in [EHDR as u16, PHDR as u16, 2, 64, 0, 0] {
        elf.extend(half.to_le_bytes());
    }
    let mut phdr = |kind: u32, flags: u32, offset: u64, len: u64, align: u64| {
        elf.extend(kind.to_le_bytes());
        elf.extend(flags.to_le_bytes());
        elf.extend(offset.to_le_bytes());
        elf.extend((BASE + offset).to_le_bytes());
        elf.extend((BASE + offset).to_le_bytes());
        elf.extend(len.to_le_bytes());
        elf.extend(len.to_le_bytes());
        elf.extend(align.to_le_bytes());
    };
    phdr(1, 5, 0, size, 0x1000); // PT_LOAD, R+X, the whole file
    phdr(4, 4, note_off as u64, 20, 4); // PT_NOTE
    elf.extend(note);
    elf.extend(code);
    elf
}

/// Writes the empty kernel to `path`.
pub fn write(path: &Path) -> Result<()> {
    std::fs::write(path, image()).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::{Object, ObjectSegment};

    #[test]
    fn the_floor_kernel_is_a_loadable_elf_whose_entry_is_its_code() {
        let bytes = image();
        let elf = object::File::parse(&*bytes).unwrap();
        assert_eq!(elf.architecture(), object::Architecture::X86_64);
        let entry = elf.entry();
        let load = elf.segments().next().unwrap();
        assert_eq!(load.address(), BASE);
        let code = &bytes[(entry - BASE) as usize..];
        assert_eq!(
            code[..4],
            [0x66, 0xba, 0xf8, 0x03],
            "entry starts at `mov dx, 0x3f8`"
        );
        // The note's descriptor (the last 4 bytes before the code) is the entry point.
        let desc = &bytes[(entry - BASE) as usize - 4..(entry - BASE) as usize];
        assert_eq!(u32::from_le_bytes(desc.try_into().unwrap()) as u64, entry);
    }
}
