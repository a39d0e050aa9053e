//! WASI preview 1 (`wasi_snapshot_preview1`) on top of `kiln_abi::Platform`, enough for
//! programs built by standard toolchains (Rust's `wasm32-wasip1`, wasi-libc):
//!
//! - arguments and environment (`args_*`, `environ_*`);
//! - the console: stdout and stderr on `fd_write`, stdin on `fd_read` (EOF when nothing
//!   is attached);
//! - a read-only file tree ([`tree::Tree`]) preopened as `/`: `path_open`,
//!   `path_filestat_get`, `path_readlink`, `fd_read`/`fd_pread`/`fd_seek`/`fd_tell`/
//!   `fd_readdir`/`fd_close`/`fd_renumber`/`fd_fdstat_get`/`fd_filestat_get`/
//!   `fd_prestat_*` ([`files`]); anything that would change it answers `EROFS`;
//! - clocks (realtime, monotonic; the CPU-time clocks read the monotonic one), randomness,
//!   `poll_oneoff` on clocks (sleep, [`poll`]), `sched_yield`, `proc_exit`.
//!
//! Every other function of preview 1 ([`Func`], listed once by `preview1_functions`)
//! answers `ENOSYS`; no call panics on what a program passes. The functions work on the
//! instance's linear memory as a byte slice, so the same code serves the hosted runtime
//! and the kernel. Calls are dispatched by [`Func`], never by name.

pub mod errno;
pub mod files;
mod mem;
mod poll;
#[cfg(test)]
mod tests;
pub mod tree;

use crate::Type;
use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use files::Files;
use kiln_abi::bundle::Bundle;
use kiln_abi::Platform;
use mem::{Mem, Res};
use tree::{Tree, TreeError};

/// The import module name.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// Calls macro `$m` with every function of `wasi_snapshot_preview1` and its core WASM
/// signature, `name(params) -> results;` (every function but `proc_exit` returns an
/// errno). The one list the [`Func`] enum and the runtime's entry stubs
/// (`instance::trampoline`) are made from.
macro_rules! preview1_functions {
    ($m:ident) => {
        $m! {
            args_get(I32, I32) -> (I32);
            args_sizes_get(I32, I32) -> (I32);
            environ_get(I32, I32) -> (I32);
            environ_sizes_get(I32, I32) -> (I32);
            clock_res_get(I32, I32) -> (I32);
            clock_time_get(I32, I64, I32) -> (I32);
            fd_advise(I32, I64, I64, I32) -> (I32);
            fd_allocate(I32, I64, I64) -> (I32);
            fd_close(I32) -> (I32);
            fd_datasync(I32) -> (I32);
            fd_fdstat_get(I32, I32) -> (I32);
            fd_fdstat_set_flags(I32, I32) -> (I32);
            fd_fdstat_set_rights(I32, I64, I64) -> (I32);
            fd_filestat_get(I32, I32) -> (I32);
            fd_filestat_set_size(I32, I64) -> (I32);
            fd_filestat_set_times(I32, I64, I64, I32) -> (I32);
            fd_pread(I32, I32, I32, I64, I32) -> (I32);
            fd_prestat_get(I32, I32) -> (I32);
            fd_prestat_dir_name(I32, I32, I32) -> (I32);
            fd_pwrite(I32, I32, I32, I64, I32) -> (I32);
            fd_read(I32, I32, I32, I32) -> (I32);
            fd_readdir(I32, I32, I32, I64, I32) -> (I32);
            fd_renumber(I32, I32) -> (I32);
            fd_seek(I32, I64, I32, I32) -> (I32);
            fd_sync(I32) -> (I32);
            fd_tell(I32, I32) -> (I32);
            fd_write(I32, I32, I32, I32) -> (I32);
            path_create_directory(I32, I32, I32) -> (I32);
            path_filestat_get(I32, I32, I32, I32, I32) -> (I32);
            path_filestat_set_times(I32, I32, I32, I32, I64, I64, I32) -> (I32);
            path_link(I32, I32, I32, I32, I32, I32, I32) -> (I32);
            path_open(I32, I32, I32, I32, I32, I64, I64, I32, I32) -> (I32);
            path_readlink(I32, I32, I32, I32, I32, I32) -> (I32);
            path_remove_directory(I32, I32, I32) -> (I32);
            path_rename(I32, I32, I32, I32, I32, I32) -> (I32);
            path_symlink(I32, I32, I32, I32, I32) -> (I32);
            path_unlink_file(I32, I32, I32) -> (I32);
            poll_oneoff(I32, I32, I32, I32) -> (I32);
            proc_exit(I32) -> ();
            proc_raise(I32) -> (I32);
            sched_yield() -> (I32);
            random_get(I32, I32) -> (I32);
            sock_accept(I32, I32, I32) -> (I32);
            sock_recv(I32, I32, I32, I32, I32, I32) -> (I32);
            sock_send(I32, I32, I32, I32, I32) -> (I32);
            sock_shutdown(I32, I32) -> (I32);
        }
    };
}
pub(crate) use preview1_functions;

/// Defines [`Func`] from the list.
macro_rules! define_funcs {
    ($($name:ident($($p:ident),*) -> ($($r:ident),*);)*) => {
        /// A function of `wasi_snapshot_preview1`, named as the module imports it.
        #[allow(non_camel_case_types, reason = "the WASI names, as programs import them")]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Func {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                $name,
            )*
        }

        impl Func {
            /// Every function, in index order.
            pub const ALL: &[Func] = &[$(Func::$name),*];

            /// The import name.
            pub fn name(self) -> &'static str {
                match self {
                    $(Func::$name => stringify!($name),)*
                }
            }

            /// The runtime symbol of its entry (`kiln_abi::wasm::WASI_PREVIEW1_PREFIX`
            /// and the name).
            pub fn symbol(self) -> &'static str {
                match self {
                    $(Func::$name => concat!("kiln_wasi_preview1_", stringify!($name)),)*
                }
            }

            /// Parameter types.
            pub fn params(self) -> &'static [Type] {
                match self {
                    $(Func::$name => &[$(Type::$p),*],)*
                }
            }

            /// Result types.
            pub fn results(self) -> &'static [Type] {
                match self {
                    $(Func::$name => &[$(Type::$r),*],)*
                }
            }
        }
    };
}
preview1_functions!(define_funcs);

impl Func {
    /// The function called `name`, if preview 1 has one.
    pub fn from_name(name: &str) -> Option<Func> {
        Func::ALL.iter().copied().find(|f| f.name() == name)
    }
}

/// The most parameters a function of preview 1 takes (`path_open`).
const MAX_PARAMS: usize = 9;

/// What a WASI call asks of its caller besides its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Return this errno to the program.
    Errno(u32),
    /// `proc_exit` with this status: the runtime ends the program.
    Exit(u32),
}

/// WASI clock ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Clock {
    Realtime,
    Monotonic,
    /// Process and thread CPU time: the one program owns the CPU, so the monotonic clock.
    CpuTime,
}

impl Clock {
    fn from_id(id: u32) -> Option<Self> {
        Some(match id {
            0 => Self::Realtime,
            1 => Self::Monotonic,
            2 | 3 => Self::CpuTime,
            _ => return None,
        })
    }

    fn now(self, p: &dyn Platform) -> u64 {
        match self {
            Self::Realtime => p.wall_clock_ns(),
            Self::Monotonic | Self::CpuTime => p.monotonic_ns(),
        }
    }
}

/// A program argument: text of the image (a program's name, its default arguments)
/// borrowed, so starting a program copies none of it, or text of its own.
pub type Arg = Cow<'static, str>;

/// The state of a WASI program: its arguments, environment and open files.
#[derive(Debug, Default)]
pub struct Wasi {
    /// `argv`, program name first.
    args: Vec<Arg>,
    /// `environ`, as `KEY=VALUE` strings.
    env: Vec<String>,
    files: RefCell<Files>,
}

impl Wasi {
    /// A program with arguments `args` (its name first), no environment and an empty tree.
    pub fn new(args: Vec<String>) -> Self {
        Self {
            args: args.into_iter().map(Cow::Owned).collect(),
            ..Self::default()
        }
    }

    /// Sets the environment (`KEY=VALUE` strings).
    pub fn with_env(mut self, env: Vec<String>) -> Self {
        self.env = env;
        self
    }

    /// Sets the read-only file tree the program sees under `/`.
    pub fn with_tree(mut self, tree: Tree) -> Self {
        self.files = RefCell::new(Files::new(tree));
        self
    }

    /// The WASI world of a program in a kiln image: its arguments `args` (name first),
    /// the environment from the kernel command line's `env=KEY=VALUE` options
    /// (`cmdline_options` as `(key, value)` pairs: `("env", "KEY=VALUE")`; other keys are
    /// not the program's), and the bundle's `File` entries as its read-only tree.
    // Called once per program by the kernel: inlined there (fewer blocks for an emulator
    // to translate).
    #[inline(always)]
    pub fn for_image<'a>(
        args: Vec<Arg>,
        cmdline_options: impl Iterator<Item = (&'a str, &'a str)>,
        bundle: &Bundle<'static>,
    ) -> Result<Self, TreeError> {
        // A plain loop: a boot under emulation translates each distinct block it runs,
        // and `collect`'s specialised paths are several for one empty list.
        let mut env = Vec::new();
        for (key, value) in cmdline_options {
            if key == "env" && value.contains('=') {
                env.push(String::from(value));
            }
        }
        // Built directly rather than through `new` and `with_tree`: a default tree made
        // and dropped at once would cost a boot under emulation its first-run translation.
        Ok(Self {
            args,
            env,
            files: RefCell::new(Files::new(Tree::from_bundle(bundle)?)),
        })
    }

    /// Runs WASI function `func` with `args` (the WASM arguments, zero-extended) on
    /// linear memory `memory`.
    pub fn call(
        &self,
        platform: &dyn Platform,
        memory: &mut [u8],
        func: Func,
        args: &[u64],
    ) -> Outcome {
        use Func::*;
        // The arguments padded with zeros to the most any function takes, copied once:
        // reading each through a bounds check is a branch (an emulator's block) apiece.
        let mut padded = [0u64; MAX_PARAMS];
        let n = args.len().min(MAX_PARAMS);
        padded[..n].copy_from_slice(&args[..n]);
        let a = |i: usize| padded[i];
        if func == proc_exit {
            return Outcome::Exit(a(0) as u32);
        }
        let mut mem = Mem(memory);
        let Ok(mut files) = self.files.try_borrow_mut() else {
            // Only reachable if a WASI call re-entered WASI, which none does.
            return Outcome::Errno(errno::INVAL);
        };
        let m = &mut mem;
        let r = match func {
            args_sizes_get => sizes(m, &self.args, a(0), a(1)),
            args_get => strings(m, &self.args, a(0), a(1)),
            environ_sizes_get => sizes(m, &self.env, a(0), a(1)),
            environ_get => strings(m, &self.env, a(0), a(1)),
            clock_res_get => Clock::from_id(a(0) as u32)
                .ok_or(errno::INVAL)
                .and_then(|_| m.put_u64(a(1), 1)),
            clock_time_get => Clock::from_id(a(0) as u32)
                .ok_or(errno::INVAL)
                .and_then(|c| m.put_u64(a(2), c.now(platform))),
            random_get => m.slice(a(0), a(1)).map(|b| platform.random_fill(b)),
            poll_oneoff => poll::poll_oneoff(platform, &files, m, a(0), a(1), a(2), a(3)),
            sched_yield => Ok(()),
            fd_write => files.fd_write(platform, m, a(0), a(1), a(2), a(3)),
            fd_read => files.fd_read(platform, m, a(0), a(1), a(2), a(3)),
            fd_pread => files.fd_pread(m, a(0), a(1), a(2), a(3), a(4)),
            fd_seek => files.fd_seek(m, a(0), a(1) as i64, a(2), a(3)),
            fd_tell => files.fd_seek(m, a(0), 0, 1, a(1)),
            fd_close => files.fd_close(a(0)),
            fd_renumber => files.fd_renumber(a(0), a(1)),
            fd_fdstat_get => files.fd_fdstat_get(m, a(0), a(1)),
            fd_filestat_get => files.fd_filestat_get(m, a(0), a(1)),
            fd_prestat_get => files.fd_prestat_get(m, a(0), a(1)),
            fd_prestat_dir_name => files.fd_prestat_dir_name(m, a(0), a(1), a(2)),
            fd_readdir => files.fd_readdir(m, a(0), a(1), a(2), a(3), a(4)),
            path_open => files.path_open(m, a(0), (a(2), a(3)), a(4), a(5), a(7), a(8)),
            path_filestat_get => files.path_filestat_get(m, a(0), (a(2), a(3)), a(4)),
            path_readlink => files.path_readlink(m, a(0), (a(1), a(2))),
            fd_sync | fd_datasync => files.check(a(0)),
            fd_filestat_set_size | fd_filestat_set_times | fd_allocate => files.fd_change(a(0)),
            path_create_directory
            | path_remove_directory
            | path_unlink_file
            | path_rename
            | path_symlink
            | path_link
            | path_filestat_set_times => files.path_change(a(0)),
            fd_advise | fd_fdstat_set_flags | fd_fdstat_set_rights | fd_pwrite | proc_exit
            | proc_raise | sock_accept | sock_recv | sock_send | sock_shutdown => Err(errno::NOSYS),
        };
        Outcome::Errno(r.err().unwrap_or(errno::SUCCESS))
    }
}

/// `*_sizes_get`: the count and the total size with NUL terminators.
fn sizes(mem: &mut Mem<'_>, list: &[impl AsRef<str>], count: u64, size: u64) -> Res {
    mem.put_u32(count, list.len() as u32)?;
    mem.put_u32(size, list.iter().map(|s| s.as_ref().len() as u32 + 1).sum())
}

/// `*_get`: pointers into a buffer of NUL-terminated strings.
fn strings(mem: &mut Mem<'_>, list: &[impl AsRef<str>], ptrs: u64, buf: u64) -> Res {
    let mut at = buf;
    for (i, s) in list.iter().enumerate() {
        let s = s.as_ref();
        mem.put_u32(ptrs + 4 * i as u64, at as u32)?;
        let dst = mem.slice(at, s.len() as u64 + 1)?;
        dst[..s.len()].copy_from_slice(s.as_bytes());
        dst[s.len()] = 0;
        at += s.len() as u64 + 1;
    }
    Ok(())
}
