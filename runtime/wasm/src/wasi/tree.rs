//! The read-only file tree a WASI program sees: an in-memory directory tree built from
//! `(guest path, bytes)` pairs. It knows nothing of where the bytes come from: on bare
//! metal they are the image bundle's `File` entries ([`Tree::from_bundle`], borrowed,
//! not copied); hosted, the files of a host directory (`kiln-hosted wasm --dir`).
//!
//! Guest paths are absolute or relative to the root, `/` separated; the tree is the
//! root directory `/`, which WASI programs see as their one preopened directory.

use super::errno;
use super::mem::Res;
use alloc::borrow::Cow;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use kiln_abi::bundle::{Bundle, EntryKind};

/// Index of a node; the root directory is [`ROOT`].
pub type NodeId = usize;

/// The root directory.
pub const ROOT: NodeId = 0;

/// What a node holds.
#[derive(Debug)]
pub enum Node {
    /// A regular file and its bytes.
    File(Cow<'static, [u8]>),
    /// A directory: its entries by name (sorted, so listings are stable) and its parent
    /// (the root is its own parent).
    Dir {
        entries: BTreeMap<String, NodeId>,
        parent: NodeId,
    },
}

/// Why a path could not be added to a tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TreeError {
    /// The path is empty, names `.`/`..`, or names the root as a file.
    BadPath(String),
    /// The path (or one of its directories) is already there as the other kind.
    Conflict(String),
}

impl core::fmt::Display for TreeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadPath(p) => write!(f, "`{p}` is not a valid guest file path"),
            Self::Conflict(p) => write!(f, "`{p}` is both a file and a directory"),
        }
    }
}

/// A read-only directory tree.
#[derive(Debug)]
pub struct Tree {
    nodes: Vec<Node>,
}

impl Default for Tree {
    #[inline]
    fn default() -> Self {
        Self {
            nodes: alloc::vec![Node::Dir {
                entries: BTreeMap::new(),
                parent: ROOT,
            }],
        }
    }
}

/// The components of a guest path being added (`.` and empty ones dropped).
fn components(path: &str) -> Result<Vec<&str>, TreeError> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(TreeError::BadPath(path.to_string()));
    }
    Ok(parts)
}

impl Tree {
    /// The tree of the `File` entries of an image bundle (names are guest paths). Most
    /// images carry no files: then the entries are not walked at all, and the test for
    /// that may be inlined (where the bundle is a constant, the kernel's, the compiler
    /// settles it at build time).
    #[inline]
    pub fn from_bundle(bundle: &Bundle<'static>) -> Result<Self, TreeError> {
        if bundle.count_of(EntryKind::File) == 0 {
            return Ok(Self::default());
        }
        Self::with_files_of(bundle)
    }

    /// The tree of a bundle's `File` entries, which it has.
    fn with_files_of(bundle: &Bundle<'static>) -> Result<Self, TreeError> {
        let mut tree = Self::default();
        for entry in bundle.of_kind(EntryKind::File) {
            tree.add_file(entry.name, entry.data)?;
        }
        Ok(tree)
    }

    /// The node `id`.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// Adds the directory `path` (and its parents); returns it.
    pub fn add_dir(&mut self, path: &str) -> Result<NodeId, TreeError> {
        let mut dir = ROOT;
        for name in components(path)? {
            dir = self.child_dir(dir, name, path)?;
        }
        Ok(dir)
    }

    /// Adds the file `path` with `bytes` (and its directories); a file already there is
    /// replaced.
    pub fn add_file(
        &mut self,
        path: &str,
        bytes: impl Into<Cow<'static, [u8]>>,
    ) -> Result<(), TreeError> {
        let parts = components(path)?;
        let Some((name, dirs)) = parts.split_last() else {
            return Err(TreeError::BadPath(path.to_string()));
        };
        let mut dir = ROOT;
        for d in dirs {
            dir = self.child_dir(dir, d, path)?;
        }
        let node = Node::File(bytes.into());
        match self.lookup_child(dir, name) {
            Some(id) if matches!(self.nodes[id], Node::File(_)) => self.nodes[id] = node,
            Some(_) => return Err(TreeError::Conflict(path.to_string())),
            None => {
                let id = self.push(node);
                self.entries_mut(dir).insert(name.to_string(), id);
            }
        }
        Ok(())
    }

    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn entries_mut(&mut self, dir: NodeId) -> &mut BTreeMap<String, NodeId> {
        match &mut self.nodes[dir] {
            Node::Dir { entries, .. } => entries,
            Node::File(_) => unreachable!("callers pass directories"),
        }
    }

    fn lookup_child(&self, dir: NodeId, name: &str) -> Option<NodeId> {
        match &self.nodes[dir] {
            Node::Dir { entries, .. } => entries.get(name).copied(),
            Node::File(_) => None,
        }
    }

    /// The directory `name` in `dir`, created if missing.
    fn child_dir(&mut self, dir: NodeId, name: &str, path: &str) -> Result<NodeId, TreeError> {
        match self.lookup_child(dir, name) {
            Some(id) if matches!(self.nodes[id], Node::Dir { .. }) => Ok(id),
            Some(_) => Err(TreeError::Conflict(path.to_string())),
            None => {
                let id = self.push(Node::Dir {
                    entries: BTreeMap::new(),
                    parent: dir,
                });
                self.entries_mut(dir).insert(name.to_string(), id);
                Ok(id)
            }
        }
    }

    /// Resolves `path` relative to the directory `from`, as WASI's `path_*` functions
    /// do: no absolute paths, and `..` never leaves `from`.
    pub fn resolve(&self, from: NodeId, path: &str) -> Res<NodeId> {
        if path.is_empty() {
            return Err(errno::NOENT);
        }
        if path.starts_with('/') {
            return Err(errno::NOTCAPABLE);
        }
        // The directories walked through below `from`, to undo with `..`. A component
        // after a file (`file/` included) finds no directory: `ENOTDIR`.
        let mut stack = Vec::new();
        let mut at = from;
        for name in path.split('/') {
            let Node::Dir { entries, .. } = &self.nodes[at] else {
                return Err(errno::NOTDIR);
            };
            match name {
                "" | "." => {}
                ".." => at = stack.pop().ok_or(errno::NOTCAPABLE)?,
                _ => {
                    let next = *entries.get(name).ok_or(errno::NOENT)?;
                    stack.push(at);
                    at = next;
                }
            }
        }
        Ok(at)
    }
}
