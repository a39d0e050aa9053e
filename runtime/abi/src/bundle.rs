//! The program bundle: what an image carries besides its code.
//!
//! xtask writes a bundle at build time (the Smalltalk class sources of a program, the
//! files of an embedded directory tree, the list of programs to run in order) and the
//! kernel embeds it as bytes; [`Bundle::parse`] reads it without allocating. The
//! format is little-endian and unaligned:
//!
//! ```text
//! magic "KILNBNDL"  version: u32  count: u32
//! count × { kind: u8  name_len: u32  name: [u8]  data_len: u32  data: [u8] }
//! ```
//!
//! Entries keep their order: the kernel runs the [`EntryKind::SomRun`] and
//! [`EntryKind::WasmRun`] entries one after another, in bundle order.

/// First bytes of every bundle.
pub const MAGIC: &[u8; 8] = b"KILNBNDL";
/// Format version this crate reads and writes.
pub const VERSION: u32 = 1;

/// What an entry holds.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A Smalltalk class file: `name` is its file name (`Hello.som`), `data` its source.
    SomClass = 1,
    /// Run a Smalltalk program: `name` is the main class, `data` its default arguments
    /// (NUL-separated; the kernel command line's arguments replace them).
    SomRun = 2,
    /// Run a WASM module compiled into the image: `name` is the module's name, `data`
    /// its default arguments (NUL-separated, as for `SomRun`).
    WasmRun = 3,
    /// A file of the embedded read-only tree: `name` is its guest path, `data` its bytes.
    File = 4,
    /// A spec-suite script (`cargo xtask spec --qemu`): `name` is the `.wast` file it
    /// came from (`wasm-v1/i32.wast`), `data` its directives in the text format of
    /// `kiln-hosted spec-plan`. Only images built with the kernel's `spectest` feature
    /// run them.
    SpecScript = 5,
}

impl EntryKind {
    /// Whether the entry is a program to run ([`EntryKind::SomRun`], [`EntryKind::WasmRun`]).
    pub fn is_run(self) -> bool {
        matches!(self, Self::SomRun | Self::WasmRun)
    }

    fn from_u8(kind: u8) -> Option<Self> {
        Some(match kind {
            1 => Self::SomClass,
            2 => Self::SomRun,
            3 => Self::WasmRun,
            4 => Self::File,
            5 => Self::SpecScript,
            _ => return None,
        })
    }
}

/// One entry of a bundle, borrowed from the bundle's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    pub kind: EntryKind,
    pub name: &'a str,
    pub data: &'a [u8],
}

impl<'a> Entry<'a> {
    /// The NUL-separated words of `data` (the default arguments of a run entry).
    pub fn words(&self) -> impl Iterator<Item = &'a str> {
        let data = self.data;
        data.split(|&b| b == 0)
            .filter(|w| !w.is_empty())
            .map(|w| core::str::from_utf8(w).unwrap_or(""))
    }
}

/// Why a bundle could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BundleError {
    BadMagic,
    UnsupportedVersion(u32),
    /// The bundle ends inside the entry with this index.
    Truncated(u32),
    /// Entry `index` has an unknown kind byte.
    UnknownKind {
        index: u32,
        kind: u8,
    },
    /// Entry `index` has a name that is not UTF-8.
    BadName(u32),
}

impl core::fmt::Display for BundleError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadMagic => write!(f, "not a kiln bundle (bad magic)"),
            Self::UnsupportedVersion(v) => {
                write!(
                    f,
                    "bundle version {v} is not supported (this runtime reads {VERSION})"
                )
            }
            Self::Truncated(i) => write!(f, "bundle is truncated in entry {i}"),
            Self::UnknownKind { index, kind } => {
                write!(f, "bundle entry {index} has unknown kind {kind}")
            }
            Self::BadName(i) => write!(f, "bundle entry {i} has a name that is not UTF-8"),
        }
    }
}

/// Entry kinds, for counting entries by kind: the largest kind number (kinds count from 1).
const KINDS: usize = EntryKind::SpecScript as usize;

/// A validated bundle.
#[derive(Clone, Copy, Debug)]
pub struct Bundle<'a> {
    count: u32,
    entries: &'a [u8],
    /// Index of the last [`EntryKind::SomRun`] or [`EntryKind::WasmRun`] entry.
    last_run: Option<u32>,
    /// Entries of each kind (`EntryKind as usize - 1`).
    kind_counts: [u32; KINDS],
}

/// `bytes` as text if it is UTF-8. ASCII (every name xtask writes for programs) is
/// recognised by one short loop before the general check: the kernel reads these names at
/// boot, where an emulator pays for each distinct block of code it runs (a loop that
/// stops at the first non-ASCII byte is not vectorised: fewer blocks than one that ORs
/// every byte). May be inlined, with `next_entry`, so that the compiler checks the names
/// of a constant bundle.
#[inline]
fn utf8(bytes: &[u8]) -> Option<&str> {
    if bytes.iter().all(|&b| b < 0x80) {
        // SAFETY: every byte is ASCII, so the bytes are UTF-8.
        return Some(unsafe { core::str::from_utf8_unchecked(bytes) });
    }
    core::str::from_utf8(bytes).ok()
}

/// Reads the entry at the front of `bytes`. Each length is tested once (the kind and the
/// name's length are read together). May be inlined: the kernel's bundle is a constant of
/// its image, so where the kernel parses it and walks its entries the compiler reads them
/// at build time, and a boot under emulation translates none of this code.
#[inline]
fn next_entry<'a>(bytes: &mut &'a [u8], index: u32) -> Result<Entry<'a>, BundleError> {
    let truncated = BundleError::Truncated(index);
    let (&[kind_byte, l0, l1, l2, l3], rest) = bytes.split_first_chunk().ok_or(truncated)?;
    let kind = EntryKind::from_u8(kind_byte).ok_or(BundleError::UnknownKind {
        index,
        kind: kind_byte,
    })?;
    let name_len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
    let (name, rest) = rest.split_at_checked(name_len).ok_or(truncated)?;
    let name = utf8(name).ok_or(BundleError::BadName(index))?;
    let (&data_len, rest) = rest.split_first_chunk::<4>().ok_or(truncated)?;
    let data_len = u32::from_le_bytes(data_len) as usize;
    let (data, rest) = rest.split_at_checked(data_len).ok_or(truncated)?;
    *bytes = rest;
    Ok(Entry { kind, name, data })
}

impl<'a> Bundle<'a> {
    /// Reads and checks a whole bundle. May be inlined (see `next_entry`: the kernel's
    /// bundle is a constant of its image).
    #[inline]
    pub fn parse(bytes: &'a [u8]) -> Result<Self, BundleError> {
        // The header in one piece: one length test, the magic compared as one word.
        let (header, entries) = bytes
            .split_first_chunk::<16>()
            .ok_or(BundleError::BadMagic)?;
        let [magic, version, count] = [&header[..8], &header[8..12], &header[12..]];
        if u64::from_le_bytes(magic.try_into().unwrap()) != u64::from_le_bytes(*MAGIC) {
            return Err(BundleError::BadMagic);
        }
        let version = u32::from_le_bytes(version.try_into().unwrap());
        if version != VERSION {
            return Err(BundleError::UnsupportedVersion(version));
        }
        let count = u32::from_le_bytes(count.try_into().unwrap());
        let mut rest = entries;
        let mut last_run = None;
        let mut kind_counts = [0; KINDS];
        for index in 0..count {
            let kind = next_entry(&mut rest, index)?.kind;
            kind_counts[kind as usize - 1] += 1;
            if kind.is_run() {
                last_run = Some(index);
            }
        }
        Ok(Bundle {
            count,
            entries,
            last_run,
            kind_counts,
        })
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether the bundle has no entries.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The entries, in order.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'a>> {
        let mut rest = self.entries;
        (0..self.count).map(move |i| next_entry(&mut rest, i).expect("checked by parse"))
    }

    /// The index (in [`Bundle::entries`]) of the last program to run, if any: the image
    /// powers off after it.
    pub fn last_run(&self) -> Option<usize> {
        self.last_run.map(|i| i as usize)
    }

    /// How many entries are of kind `kind` (known without walking the entries).
    pub fn count_of(&self, kind: EntryKind) -> usize {
        self.kind_counts[kind as usize - 1] as usize
    }

    /// The entries of one kind, in order.
    pub fn of_kind(&self, kind: EntryKind) -> impl Iterator<Item = Entry<'a>> {
        self.entries().filter(move |e| e.kind == kind)
    }
}

/// Header of a bundle with `count` entries; the entries follow it as the module docs show.
pub fn header(count: u32) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[12..].copy_from_slice(&count.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(buf: &mut [u8], at: &mut usize, bytes: &[u8]) {
        buf[*at..*at + bytes.len()].copy_from_slice(bytes);
        *at += bytes.len();
    }

    fn entry(buf: &mut [u8], at: &mut usize, kind: u8, name: &str, data: &[u8]) {
        push(buf, at, &[kind]);
        push(buf, at, &(name.len() as u32).to_le_bytes());
        push(buf, at, name.as_bytes());
        push(buf, at, &(data.len() as u32).to_le_bytes());
        push(buf, at, data);
    }

    #[test]
    fn reads_entries_in_order() {
        let mut buf = [0u8; 128];
        let mut at = 0;
        push(&mut buf, &mut at, &header(2));
        entry(&mut buf, &mut at, 1, "Hello.som", b"Hello = ()");
        entry(&mut buf, &mut at, 2, "Hello", b"a\0b c\0");
        let bundle = Bundle::parse(&buf[..at]).unwrap();
        assert_eq!(bundle.len(), 2);
        let all: [Entry; 2] = {
            let mut it = bundle.entries();
            [it.next().unwrap(), it.next().unwrap()]
        };
        assert_eq!(all[0].kind, EntryKind::SomClass);
        assert_eq!(all[0].data, b"Hello = ()");
        assert_eq!(all[1].name, "Hello");
        let mut words = all[1].words();
        assert_eq!(words.next(), Some("a"));
        assert_eq!(words.next(), Some("b c"));
        assert_eq!(words.next(), None);
        assert_eq!(bundle.of_kind(EntryKind::SomRun).count(), 1);
        assert_eq!(bundle.count_of(EntryKind::SomRun), 1);
        assert_eq!(bundle.count_of(EntryKind::SomClass), 1);
        assert_eq!(bundle.count_of(EntryKind::File), 0);
        assert_eq!(bundle.last_run(), Some(1));
        assert_eq!(Bundle::parse(&header(0)).unwrap().last_run(), None);
    }

    #[test]
    fn every_kind_has_a_count_slot() {
        for byte in 0..=u8::MAX {
            if let Some(kind) = EntryKind::from_u8(byte) {
                assert!((1..=KINDS).contains(&(kind as usize)), "{kind:?}");
            }
        }
    }

    #[test]
    fn names_are_utf8_ascii_or_not() {
        let mut buf = [0u8; 64];
        let mut at = 0;
        push(&mut buf, &mut at, &header(1));
        entry(&mut buf, &mut at, 4, "/grüße", b"");
        let bundle = Bundle::parse(&buf[..at]).unwrap();
        assert_eq!(bundle.entries().next().unwrap().name, "/grüße");
        // The second byte of "ü" made invalid.
        buf[16 + 1 + 4 + 4] = b'x';
        assert_eq!(
            Bundle::parse(&buf[..at]).unwrap_err(),
            BundleError::BadName(0)
        );
    }

    #[test]
    fn rejects_damaged_bundles() {
        let mut buf = [0u8; 64];
        let mut at = 0;
        push(&mut buf, &mut at, &header(1));
        entry(&mut buf, &mut at, 1, "A.som", b"xyz");
        assert_eq!(
            Bundle::parse(&buf[..at - 1]).unwrap_err(),
            BundleError::Truncated(0)
        );
        assert_eq!(
            Bundle::parse(b"NOTABNDL").unwrap_err(),
            BundleError::BadMagic
        );
        buf[16] = 9;
        assert_eq!(
            Bundle::parse(&buf[..at]).unwrap_err(),
            BundleError::UnknownKind { index: 0, kind: 9 }
        );
        let mut v2 = header(0);
        v2[8] = 2;
        assert_eq!(
            Bundle::parse(&v2).unwrap_err(),
            BundleError::UnsupportedVersion(2)
        );
        assert!(Bundle::parse(&header(0)).unwrap().is_empty());
    }

    #[test]
    fn every_cut_of_a_bundle_is_refused() {
        let mut buf = [0u8; 64];
        let mut at = 0;
        push(&mut buf, &mut at, &header(2));
        entry(&mut buf, &mut at, 1, "A.som", b"xyz");
        entry(&mut buf, &mut at, 4, "/f", b"");
        assert_eq!(Bundle::parse(&buf[..at]).unwrap().len(), 2);
        for len in 0..at {
            let err = Bundle::parse(&buf[..len]).unwrap_err();
            let want = match len {
                0..16 => BundleError::BadMagic,
                16..33 => BundleError::Truncated(0),
                _ => BundleError::Truncated(1),
            };
            assert_eq!(err, want, "cut at {len}");
        }
    }
}
