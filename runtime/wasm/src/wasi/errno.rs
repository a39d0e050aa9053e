//! WASI error numbers (`errno` of `wasi_snapshot_preview1`), the ones this WASI returns.

/// No error.
pub const SUCCESS: u32 = 0;
/// Bad file descriptor.
pub const BADF: u32 = 8;
/// File exists.
pub const EXIST: u32 = 20;
/// Memory access out of bounds.
pub const FAULT: u32 = 21;
/// Invalid argument.
pub const INVAL: u32 = 28;
/// Is a directory.
pub const ISDIR: u32 = 31;
/// Illegal byte sequence (a path that is not UTF-8).
pub const ILSEQ: u32 = 25;
/// Name (or buffer for it) too long.
pub const NAMETOOLONG: u32 = 37;
/// No such file or directory.
pub const NOENT: u32 = 44;
/// Function not supported.
pub const NOSYS: u32 = 52;
/// Not a directory.
pub const NOTDIR: u32 = 54;
/// Value too large (a seek past `i64::MAX`).
pub const OVERFLOW: u32 = 61;
/// Read-only file system.
pub const ROFS: u32 = 69;
/// Invalid seek (on a console).
pub const SPIPE: u32 = 70;
/// Outside the capabilities of the descriptor (absolute paths, `..` above it).
pub const NOTCAPABLE: u32 = 76;
