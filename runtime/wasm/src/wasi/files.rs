//! File descriptors and the `fd_*` / `path_*` calls: the console on 0, 1 and 2, the
//! read-only [`Tree`] preopened as `/` on 3, and whatever the program opens in it.
//! Nothing is ever written: writes to files and changes to the tree answer `EROFS`,
//! writes to descriptors that are not the console `EBADF`.

use super::errno;
use super::mem::{iovec, Mem, Res};
use super::tree::{Node, NodeId, Tree, ROOT};
use alloc::vec::Vec;
use kiln_abi::Platform;

/// The name programs see for the preopened root of the tree.
pub const PREOPEN_NAME: &str = "/";

/// WASI file types.
mod filetype {
    pub const CHARACTER_DEVICE: u8 = 2;
    pub const DIRECTORY: u8 = 3;
    pub const REGULAR_FILE: u8 = 4;
}

/// WASI rights (bit masks) this WASI reports.
pub mod rights {
    pub const FD_READ: u64 = 1 << 1;
    pub const FD_SEEK: u64 = 1 << 2;
    pub const FD_TELL: u64 = 1 << 5;
    pub const FD_WRITE: u64 = 1 << 6;
    pub const PATH_OPEN: u64 = 1 << 13;
    pub const FD_READDIR: u64 = 1 << 14;
    pub const PATH_FILESTAT_GET: u64 = 1 << 18;
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    pub const POLL_FD_READWRITE: u64 = 1 << 27;

    pub const FILE: u64 = FD_READ | FD_SEEK | FD_TELL | FD_FILESTAT_GET | POLL_FD_READWRITE;
    pub const DIR: u64 = PATH_OPEN | FD_READDIR | PATH_FILESTAT_GET | FD_FILESTAT_GET;
    pub const CONSOLE_IN: u64 = FD_READ | FD_FILESTAT_GET | POLL_FD_READWRITE;
    pub const CONSOLE_OUT: u64 = FD_WRITE | FD_FILESTAT_GET | POLL_FD_READWRITE;
}

/// `path_open`'s `oflags`.
mod oflags {
    pub const CREAT: u64 = 1;
    pub const DIRECTORY: u64 = 2;
    pub const EXCL: u64 = 4;
    pub const TRUNC: u64 = 8;
}

/// `fdflags` bit asking for appending writes.
const FDFLAG_APPEND: u64 = 1;

/// What a descriptor refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fd {
    Stdin,
    Stdout,
    Stderr,
    Dir { node: NodeId, preopen: bool },
    File { node: NodeId, pos: u64 },
}

/// The descriptor table over a tree.
#[derive(Debug)]
pub struct Files {
    tree: Tree,
    fds: Vec<Option<Fd>>,
}

impl Default for Files {
    fn default() -> Self {
        Self::new(Tree::default())
    }
}

fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

impl Files {
    /// The console on 0–2 and `tree` preopened on 3.
    #[inline]
    pub fn new(tree: Tree) -> Self {
        let root = Fd::Dir {
            node: ROOT,
            preopen: true,
        };
        Self {
            tree,
            fds: alloc::vec![
                Some(Fd::Stdin),
                Some(Fd::Stdout),
                Some(Fd::Stderr),
                Some(root),
            ],
        }
    }

    fn get(&self, fd: u64) -> Res<Fd> {
        self.fds
            .get(to_usize(fd))
            .copied()
            .flatten()
            .ok_or(errno::BADF)
    }

    fn dir(&self, fd: u64) -> Res<NodeId> {
        match self.get(fd)? {
            Fd::Dir { node, .. } => Ok(node),
            Fd::File { .. } => Err(errno::NOTDIR),
            _ => Err(errno::BADF),
        }
    }

    fn file_bytes(&self, node: NodeId) -> &[u8] {
        match self.tree.node(node) {
            Node::File(bytes) => bytes,
            Node::Dir { .. } => &[],
        }
    }

    fn node_type(&self, node: NodeId) -> u8 {
        match self.tree.node(node) {
            Node::File(_) => filetype::REGULAR_FILE,
            Node::Dir { .. } => filetype::DIRECTORY,
        }
    }

    /// Puts `fd` in the lowest free slot and returns its number.
    fn insert(&mut self, fd: Fd) -> u32 {
        let slot = match self.fds.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.fds.push(None);
                self.fds.len() - 1
            }
        };
        self.fds[slot] = Some(fd);
        slot as u32
    }

    /// Copies bytes of file `node` from `pos` into the iovecs; returns the count.
    fn read_file(&self, mem: &mut Mem<'_>, node: NodeId, pos: u64, iovs: u64, n: u64) -> Res<u64> {
        let data = self.file_bytes(node);
        let mut at = to_usize(pos).min(data.len());
        let start = at;
        for (ptr, len) in mem.iovec_list(iovs, n)? {
            let take = to_usize(len).min(data.len() - at);
            mem.slice(ptr, take as u64)?
                .copy_from_slice(&data[at..at + take]);
            at += take;
        }
        Ok((at - start) as u64)
    }

    pub fn fd_read(
        &mut self,
        p: &dyn Platform,
        mem: &mut Mem<'_>,
        fd: u64,
        iovs: u64,
        n: u64,
        nread: u64,
    ) -> Res {
        let total = match self.get(fd)? {
            Fd::Stdin => {
                let mut total = 0u64;
                for (ptr, len) in mem.iovec_list(iovs, n)? {
                    let got = p.console_read(mem.slice(ptr, len)?) as u64;
                    total += got;
                    if got < len {
                        break;
                    }
                }
                total
            }
            Fd::File { node, pos } => {
                let got = self.read_file(mem, node, pos, iovs, n)?;
                self.fds[to_usize(fd)] = Some(Fd::File {
                    node,
                    pos: pos + got,
                });
                got
            }
            Fd::Dir { .. } => return Err(errno::ISDIR),
            Fd::Stdout | Fd::Stderr => return Err(errno::BADF),
        };
        mem.put_u32(nread, total as u32)
    }

    pub fn fd_pread(
        &mut self,
        mem: &mut Mem<'_>,
        fd: u64,
        iovs: u64,
        n: u64,
        offset: u64,
        nread: u64,
    ) -> Res {
        let got = match self.get(fd)? {
            Fd::File { node, .. } => self.read_file(mem, node, offset, iovs, n)?,
            Fd::Dir { .. } => return Err(errno::ISDIR),
            Fd::Stdin | Fd::Stdout | Fd::Stderr => return Err(errno::SPIPE),
        };
        mem.put_u32(nread, got as u32)
    }

    /// `fd_write` to the console. Never inlined: `cargo xtask bench boot` starts its
    /// output phase (from a program's first write) at this function.
    #[inline(never)]
    pub fn fd_write(
        &mut self,
        p: &dyn Platform,
        mem: &mut Mem<'_>,
        fd: u64,
        iovs: u64,
        n: u64,
        written: u64,
    ) -> Res {
        let err = match self.get(fd)? {
            Fd::Stdout => false,
            Fd::Stderr => true,
            _ => return Err(errno::BADF),
        };
        let mut total = 0u32;
        for entry in mem.iovecs(iovs, n)? {
            let (ptr, len) = iovec(entry);
            let bytes = mem.bytes(ptr, len)?;
            if err {
                p.console_write_err(bytes);
            } else {
                p.console_write(bytes);
            }
            total = total.saturating_add(len as u32);
        }
        mem.put_u32(written, total)
    }

    /// `fd_seek` (and `fd_tell`, a seek by 0 from the current position).
    pub fn fd_seek(
        &mut self,
        mem: &mut Mem<'_>,
        fd: u64,
        offset: i64,
        whence: u64,
        newoffset: u64,
    ) -> Res {
        let (node, pos) = match self.get(fd)? {
            Fd::File { node, pos } => (node, pos),
            Fd::Dir { .. } => return Err(errno::BADF),
            Fd::Stdin | Fd::Stdout | Fd::Stderr => return Err(errno::SPIPE),
        };
        let base = match whence {
            0 => 0,
            1 => pos,
            2 => self.file_bytes(node).len() as u64,
            _ => return Err(errno::INVAL),
        };
        let base = i64::try_from(base).map_err(|_| errno::OVERFLOW)?;
        let new = base.checked_add(offset).ok_or(errno::OVERFLOW)?;
        let new = u64::try_from(new).map_err(|_| errno::INVAL)?;
        self.fds[to_usize(fd)] = Some(Fd::File { node, pos: new });
        mem.put_u64(newoffset, new)
    }

    /// `Ok` for an open descriptor (`fd_sync`: nothing is ever buffered).
    pub fn check(&self, fd: u64) -> Res {
        self.get(fd).map(|_| ())
    }

    pub fn fd_close(&mut self, fd: u64) -> Res {
        self.get(fd)?;
        self.fds[to_usize(fd)] = None;
        Ok(())
    }

    pub fn fd_fdstat_get(&self, mem: &mut Mem<'_>, fd: u64, at: u64) -> Res {
        let (ty, base, inheriting) = match self.get(fd)? {
            Fd::Stdin => (filetype::CHARACTER_DEVICE, rights::CONSOLE_IN, 0),
            Fd::Stdout | Fd::Stderr => (filetype::CHARACTER_DEVICE, rights::CONSOLE_OUT, 0),
            Fd::Dir { .. } => (filetype::DIRECTORY, rights::DIR, rights::DIR | rights::FILE),
            Fd::File { .. } => (filetype::REGULAR_FILE, rights::FILE, 0),
        };
        mem.slice(at, 24)?.fill(0);
        mem.put_u8(at, ty)?;
        mem.put_u64(at + 8, base)?;
        mem.put_u64(at + 16, inheriting)
    }

    /// Writes a `filestat` (all timestamps 0: the tree has no times).
    fn put_filestat(mem: &mut Mem<'_>, at: u64, ino: u64, ty: u8, size: u64) -> Res {
        mem.slice(at, 64)?.fill(0);
        mem.put_u64(at + 8, ino)?;
        mem.put_u8(at + 16, ty)?;
        mem.put_u64(at + 24, 1)?;
        mem.put_u64(at + 32, size)
    }

    fn node_filestat(&self, mem: &mut Mem<'_>, node: NodeId, at: u64) -> Res {
        let size = self.file_bytes(node).len() as u64;
        Self::put_filestat(mem, at, node as u64 + 1, self.node_type(node), size)
    }

    pub fn fd_filestat_get(&self, mem: &mut Mem<'_>, fd: u64, at: u64) -> Res {
        match self.get(fd)? {
            Fd::Dir { node, .. } | Fd::File { node, .. } => self.node_filestat(mem, node, at),
            _ => Self::put_filestat(mem, at, 0, filetype::CHARACTER_DEVICE, 0),
        }
    }

    pub fn fd_prestat_get(&self, mem: &mut Mem<'_>, fd: u64, at: u64) -> Res {
        let Fd::Dir { preopen: true, .. } = self.get(fd)? else {
            return Err(errno::BADF);
        };
        mem.put_u32(at, 0)?; // tag 0: a directory
        mem.put_u32(at + 4, PREOPEN_NAME.len() as u32)
    }

    pub fn fd_prestat_dir_name(&self, mem: &mut Mem<'_>, fd: u64, at: u64, len: u64) -> Res {
        let Fd::Dir { preopen: true, .. } = self.get(fd)? else {
            return Err(errno::BADF);
        };
        if len < PREOPEN_NAME.len() as u64 {
            return Err(errno::NAMETOOLONG);
        }
        mem.slice(at, PREOPEN_NAME.len() as u64)?
            .copy_from_slice(PREOPEN_NAME.as_bytes());
        Ok(())
    }

    /// `fd_readdir`: `dirent`s from entry number `cookie` on (`.` and `..` first), cut
    /// at `len` bytes as WASI asks (a full buffer tells the program to call again).
    pub fn fd_readdir(
        &self,
        mem: &mut Mem<'_>,
        fd: u64,
        buf: u64,
        len: u64,
        cookie: u64,
        bufused: u64,
    ) -> Res {
        let node = self.dir(fd)?;
        let Node::Dir { entries, parent } = self.tree.node(node) else {
            return Err(errno::NOTDIR);
        };
        let listing = [(".", node), ("..", *parent)]
            .into_iter()
            .chain(entries.iter().map(|(name, id)| (name.as_str(), *id)));
        let mut out = Vec::new();
        let len = to_usize(len);
        for (i, (name, id)) in listing.enumerate().skip(to_usize(cookie)) {
            if out.len() >= len {
                break;
            }
            out.extend((i as u64 + 1).to_le_bytes());
            out.extend((id as u64 + 1).to_le_bytes());
            out.extend((name.len() as u32).to_le_bytes());
            out.extend([self.node_type(id), 0, 0, 0]);
            out.extend(name.as_bytes());
        }
        out.truncate(len);
        mem.slice(buf, out.len() as u64)?.copy_from_slice(&out);
        mem.put_u32(bufused, out.len() as u32)
    }

    /// `path_open`: files open read-only at offset 0; anything that would create,
    /// truncate or write answers `EROFS`.
    #[allow(clippy::too_many_arguments)]
    pub fn path_open(
        &mut self,
        mem: &mut Mem<'_>,
        dirfd: u64,
        path: (u64, u64),
        oflags: u64,
        rights_base: u64,
        fdflags: u64,
        fd_out: u64,
    ) -> Res {
        let dir = self.dir(dirfd)?;
        let path = mem.path(path.0, path.1)?;
        let node = match self.tree.resolve(dir, &path) {
            Err(errno::NOENT) if oflags & oflags::CREAT != 0 => return Err(errno::ROFS),
            found => found?,
        };
        if oflags & (oflags::CREAT | oflags::EXCL) == oflags::CREAT | oflags::EXCL {
            return Err(errno::EXIST);
        }
        if oflags & oflags::TRUNC != 0 {
            return Err(errno::ROFS);
        }
        let fd = match self.tree.node(node) {
            Node::Dir { .. } => Fd::Dir {
                node,
                preopen: false,
            },
            Node::File(_) if oflags & oflags::DIRECTORY != 0 => return Err(errno::NOTDIR),
            Node::File(_) if rights_base & rights::FD_WRITE != 0 => return Err(errno::ROFS),
            Node::File(_) if fdflags & FDFLAG_APPEND != 0 => return Err(errno::ROFS),
            Node::File(_) => Fd::File { node, pos: 0 },
        };
        let fd = self.insert(fd);
        mem.put_u32(fd_out, fd)
    }

    pub fn path_filestat_get(
        &self,
        mem: &mut Mem<'_>,
        dirfd: u64,
        path: (u64, u64),
        at: u64,
    ) -> Res {
        let dir = self.dir(dirfd)?;
        let path = mem.path(path.0, path.1)?;
        let node = self.tree.resolve(dir, &path)?;
        self.node_filestat(mem, node, at)
    }

    /// `path_readlink`: the tree has no symbolic links, so an existing path is `EINVAL`.
    pub fn path_readlink(&self, mem: &mut Mem<'_>, dirfd: u64, path: (u64, u64)) -> Res {
        let dir = self.dir(dirfd)?;
        let path = mem.path(path.0, path.1)?;
        self.tree.resolve(dir, &path)?;
        Err(errno::INVAL)
    }

    /// `fd_renumber`: `from` takes the place of `to` (which is closed); both must be open.
    pub fn fd_renumber(&mut self, from: u64, to: u64) -> Res {
        let fd = self.get(from)?;
        self.get(to)?;
        self.fds[to_usize(from)] = None;
        self.fds[to_usize(to)] = Some(fd);
        Ok(())
    }

    /// Calls that would change the tree through directory `dirfd`.
    pub fn path_change(&self, dirfd: u64) -> Res {
        self.dir(dirfd)?;
        Err(errno::ROFS)
    }

    /// Calls that would change the file or directory `fd`.
    pub fn fd_change(&self, fd: u64) -> Res {
        match self.get(fd)? {
            Fd::Dir { .. } | Fd::File { .. } => Err(errno::ROFS),
            _ => Err(errno::INVAL),
        }
    }

    /// Whether `fd` is ready for `poll_oneoff`: the bytes left to read in a file, 0 for
    /// the console (always ready: reading stdin at its end answers EOF at once).
    pub fn poll_ready(&self, fd: u64, write: bool) -> Res<u64> {
        match (self.get(fd)?, write) {
            (Fd::File { node, pos }, false) => {
                Ok((self.file_bytes(node).len() as u64).saturating_sub(pos))
            }
            (Fd::Stdin, false) | (Fd::Stdout | Fd::Stderr, true) => Ok(0),
            _ => Err(errno::BADF),
        }
    }
}
