//! Tests of the WASI calls on a fake platform and a byte-slice memory.

use super::*;
use alloc::vec;
use core::cell::{Cell, RefCell};
use kiln_abi::{MemoryError, Protection};

/// Console capture, canned stdin, and a monotonic clock that advances 1 µs per reading.
#[derive(Default)]
struct FakePlatform {
    out: RefCell<Vec<u8>>,
    err: RefCell<Vec<u8>>,
    stdin: RefCell<Vec<u8>>,
    now: Cell<u64>,
}

impl Platform for FakePlatform {
    fn console_write(&self, bytes: &[u8]) {
        self.out.borrow_mut().extend_from_slice(bytes);
    }
    fn console_write_err(&self, bytes: &[u8]) {
        self.err.borrow_mut().extend_from_slice(bytes);
    }
    fn console_read(&self, buf: &mut [u8]) -> usize {
        let mut input = self.stdin.borrow_mut();
        let n = buf.len().min(input.len());
        buf[..n].copy_from_slice(&input[..n]);
        input.drain(..n);
        n
    }
    fn monotonic_ns(&self) -> u64 {
        self.now.set(self.now.get() + 1000);
        self.now.get()
    }
    fn wall_clock_ns(&self) -> u64 {
        1_700_000_000_000_000_000
    }
    fn random_fill(&self, buf: &mut [u8]) {
        buf.fill(0xab);
    }
    fn reserve(&self, _: usize) -> Result<*mut u8, MemoryError> {
        Err(MemoryError::OutOfMemory)
    }
    fn protect(&self, _: *mut u8, _: usize, _: Protection) -> Result<(), MemoryError> {
        Err(MemoryError::BadRange)
    }
    fn release(&self, _: *mut u8, _: usize) {}
    fn exit(&self, _: i32) -> ! {
        panic!("exit")
    }
}

/// A program, its platform and 64 KiB of memory.
struct Fixture {
    wasi: Wasi,
    p: FakePlatform,
    mem: Vec<u8>,
}

impl Fixture {
    fn new(wasi: Wasi) -> Self {
        Self {
            wasi,
            p: FakePlatform::default(),
            mem: vec![0; 65536],
        }
    }

    /// The errno of calling `name`.
    fn call(&mut self, name: &str, args: &[u64]) -> u32 {
        let func = Func::from_name(name).unwrap_or_else(|| panic!("no WASI function {name}"));
        match self.wasi.call(&self.p, &mut self.mem, func, args) {
            Outcome::Errno(e) => e,
            Outcome::Exit(code) => panic!("{name} exited with {code}"),
        }
    }

    fn put(&mut self, at: usize, bytes: &[u8]) {
        self.mem[at..at + bytes.len()].copy_from_slice(bytes);
    }

    fn u32(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.mem[at..at + 4].try_into().unwrap())
    }

    fn u64(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.mem[at..at + 8].try_into().unwrap())
    }

    /// One iovec at 0 for `len` bytes at 1000.
    fn iovec(&mut self, len: u32) {
        self.put(0, &1000u32.to_le_bytes());
        self.put(4, &len.to_le_bytes());
    }

    /// Opens `path` under the preopen with `oflags` and `rights`; the errno and the fd.
    fn open(&mut self, path: &str, oflags: u64, rights: u64) -> (u32, u32) {
        self.put(2000, path.as_bytes());
        let e = self.call(
            "path_open",
            &[3, 0, 2000, path.len() as u64, oflags, rights, 0, 0, 16],
        );
        (e, self.u32(16))
    }

    /// Reads up to `len` bytes from `fd`.
    fn read(&mut self, fd: u32, len: u32) -> Vec<u8> {
        self.iovec(len);
        assert_eq!(self.call("fd_read", &[fd as u64, 0, 1, 8]), 0);
        let n = self.u32(8) as usize;
        self.mem[1000..1000 + n].to_vec()
    }
}

fn tree() -> Tree {
    let mut t = Tree::default();
    t.add_file("/data/a.txt", b"alpha".as_slice()).unwrap();
    t.add_file("data/sub/b.bin", vec![1u8, 2, 3]).unwrap();
    t.add_file("top", b"t".as_slice()).unwrap();
    t
}

#[test]
fn writes_reads_arguments_and_reports_errors() {
    let mut f = Fixture::new(Wasi::new(vec!["prog".into(), "x".into()]));
    f.put(100, b"hello");
    f.put(0, &100u32.to_le_bytes());
    f.put(4, &5u32.to_le_bytes());
    assert_eq!(f.call("fd_write", &[1, 0, 1, 16]), 0);
    assert_eq!(&*f.p.out.borrow(), b"hello");
    assert_eq!(f.u32(16), 5);
    assert_eq!(f.call("fd_write", &[2, 0, 1, 16]), 0);
    assert_eq!(&*f.p.err.borrow(), b"hello");
    assert_eq!(f.call("fd_write", &[7, 0, 1, 16]), errno::BADF);
    assert_eq!(f.call("fd_write", &[0, 0, 1, 16]), errno::BADF);
    assert_eq!(f.call("fd_write", &[1, 65530, 1, 16]), errno::FAULT);
    assert_eq!(f.call("args_sizes_get", &[20, 24]), 0);
    assert_eq!((f.u32(20), f.u32(24)), (2, 7));
    assert_eq!(f.call("args_get", &[32, 40]), 0);
    assert_eq!(&f.mem[40..47], b"prog\0x\0");
    assert_eq!(f.u32(36), 45);
    assert_eq!(f.call("random_get", &[60, 4]), 0);
    assert_eq!(&f.mem[60..64], &[0xab; 4]);
    assert_eq!(f.call("sock_accept", &[]), errno::NOSYS);
    assert_eq!(f.call("proc_raise", &[9]), errno::NOSYS);
    assert_eq!(
        f.wasi.call(&f.p, &mut f.mem, Func::proc_exit, &[3]),
        Outcome::Exit(3)
    );
}

#[test]
fn an_iovec_array_is_checked_whole_before_anything_is_written() {
    let mut f = Fixture::new(Wasi::new(vec!["prog".into()]));
    f.put(100, b"hello");
    // Two entries at 65528: the first fits, the second runs past memory.
    f.put(65528, &100u32.to_le_bytes());
    f.put(65532, &5u32.to_le_bytes());
    assert_eq!(f.call("fd_write", &[1, 65528, 2, 16]), errno::FAULT);
    assert_eq!(f.call("fd_write", &[1, 65528, u64::MAX, 16]), errno::FAULT);
    assert!(f.p.out.borrow().is_empty());
    // No entries: nothing to check, wherever the array would be.
    assert_eq!(f.call("fd_write", &[1, 1 << 40, 0, 16]), 0);
    assert_eq!(f.u32(16), 0);
    // Two entries, both inside memory: both written, in order.
    f.put(0, &100u32.to_le_bytes());
    f.put(4, &3u32.to_le_bytes());
    f.put(8, &103u32.to_le_bytes());
    f.put(12, &2u32.to_le_bytes());
    assert_eq!(f.call("fd_write", &[1, 0, 2, 16]), 0);
    assert_eq!(&*f.p.out.borrow(), b"hello");
    assert_eq!(f.u32(16), 5);
}

#[test]
fn a_read_into_its_own_iovec_array_uses_the_entries_as_they_were() {
    // Like `readv`: the entries are read before any data is written, so a buffer that
    // overlaps the array does not redirect the entries after it.
    let mut f = Fixture::new(Wasi::default().with_tree(tree()));
    let (_, fd) = f.open("data/a.txt", 0, files::rights::FD_READ);
    // Entry 0: 2 bytes at 8, over entry 1's pointer; entry 1: 3 bytes at 1000.
    f.put(0, &8u32.to_le_bytes());
    f.put(4, &2u32.to_le_bytes());
    f.put(8, &1000u32.to_le_bytes());
    f.put(12, &3u32.to_le_bytes());
    assert_eq!(f.call("fd_read", &[fd as u64, 0, 2, 16]), 0);
    assert_eq!(f.u32(16), 5);
    assert_eq!(
        (&f.mem[8..10], &f.mem[1000..1003]),
        (&b"al"[..], &b"pha"[..])
    );
    // The same from stdin.
    f.p.stdin.borrow_mut().extend_from_slice(b"omega");
    f.put(8, &1000u32.to_le_bytes());
    assert_eq!(f.call("fd_read", &[0, 0, 2, 16]), 0);
    assert_eq!(f.u32(16), 5);
    assert_eq!(
        (&f.mem[8..10], &f.mem[1000..1003]),
        (&b"om"[..], &b"ega"[..])
    );
}

#[test]
fn environment_is_listed_like_arguments() {
    let wasi = Wasi::new(vec!["p".into()]).with_env(vec!["A=1".into(), "HOME=/".into()]);
    let mut f = Fixture::new(wasi);
    assert_eq!(f.call("environ_sizes_get", &[0, 4]), 0);
    assert_eq!((f.u32(0), f.u32(4)), (2, 11));
    assert_eq!(f.call("environ_get", &[8, 100]), 0);
    assert_eq!(&f.mem[100..111], b"A=1\0HOME=/\0");
    assert_eq!((f.u32(8), f.u32(12)), (100, 104));
    assert_eq!(f.call("environ_get", &[8, 65534]), errno::FAULT);
}

#[test]
fn stdin_reads_until_end_of_input() {
    let mut f = Fixture::new(Wasi::default());
    f.p.stdin.borrow_mut().extend_from_slice(b"abc");
    assert_eq!(f.read(0, 2), b"ab");
    assert_eq!(f.read(0, 10), b"c");
    assert_eq!(f.read(0, 10), b"");
    f.iovec(1);
    assert_eq!(f.call("fd_read", &[1, 0, 1, 8]), errno::BADF);
}

#[test]
fn clocks_resolution_and_bad_ids() {
    let mut f = Fixture::new(Wasi::default());
    assert_eq!(f.call("clock_time_get", &[0, 0, 8]), 0);
    assert_eq!(f.u64(8), 1_700_000_000_000_000_000);
    assert_eq!(f.call("clock_time_get", &[1, 0, 8]), 0);
    let first = f.u64(8);
    assert_eq!(f.call("clock_time_get", &[1, 0, 8]), 0);
    assert!(f.u64(8) > first);
    assert_eq!(f.call("clock_time_get", &[2, 0, 8]), 0);
    assert_eq!(f.call("clock_time_get", &[9, 0, 8]), errno::INVAL);
    assert_eq!(f.call("clock_res_get", &[1, 16]), 0);
    assert_eq!(f.u64(16), 1);
    assert_eq!(f.call("clock_res_get", &[7, 16]), errno::INVAL);
    assert_eq!(f.call("sched_yield", &[]), 0);
}

#[test]
fn tree_paths_resolve_inside_their_directory() {
    let t = tree();
    let data = t.resolve(tree::ROOT, "data").unwrap();
    assert!(matches!(t.node(data), tree::Node::Dir { .. }));
    let b = t.resolve(tree::ROOT, "./data/sub/../sub/b.bin").unwrap();
    assert!(matches!(t.node(b), tree::Node::File(bytes) if **bytes == [1, 2, 3]));
    assert_eq!(
        t.resolve(data, "a.txt"),
        t.resolve(tree::ROOT, "data/a.txt")
    );
    assert_eq!(t.resolve(data, "../top"), Err(errno::NOTCAPABLE));
    assert_eq!(t.resolve(tree::ROOT, "/top"), Err(errno::NOTCAPABLE));
    assert_eq!(t.resolve(tree::ROOT, "nope"), Err(errno::NOENT));
    assert_eq!(t.resolve(tree::ROOT, "top/x"), Err(errno::NOTDIR));
    assert_eq!(t.resolve(tree::ROOT, "top/"), Err(errno::NOTDIR));
    assert_eq!(t.resolve(tree::ROOT, ""), Err(errno::NOENT));
}

#[test]
fn tree_rejects_bad_and_conflicting_paths() {
    let mut t = tree();
    assert!(matches!(
        t.add_file("top/inner", b"".as_slice()),
        Err(tree::TreeError::Conflict(_))
    ));
    assert!(matches!(
        t.add_file("data", b"".as_slice()),
        Err(tree::TreeError::Conflict(_))
    ));
    assert!(matches!(
        t.add_file("/", b"".as_slice()),
        Err(tree::TreeError::BadPath(_))
    ));
    assert!(matches!(
        t.add_file("a/../b", b"".as_slice()),
        Err(tree::TreeError::BadPath(_))
    ));
    t.add_file("top", b"new".as_slice()).unwrap();
    let top = t.resolve(tree::ROOT, "top").unwrap();
    assert!(matches!(t.node(top), tree::Node::File(b) if **b == *b"new"));
    let empty = t.add_dir("/empty/dir").unwrap();
    assert_eq!(t.resolve(tree::ROOT, "empty/dir"), Ok(empty));
}

/// A bundle with a file `/etc/motd` and a run entry `app`.
fn bundle() -> kiln_abi::bundle::Bundle<'static> {
    use kiln_abi::bundle::{header, Bundle, EntryKind};
    let mut bytes = header(2).to_vec();
    for (kind, name, data) in [
        (EntryKind::File, "/etc/motd", &b"hi"[..]),
        (EntryKind::WasmRun, "app", &b""[..]),
    ] {
        bytes.push(kind as u8);
        bytes.extend((name.len() as u32).to_le_bytes());
        bytes.extend(name.as_bytes());
        bytes.extend((data.len() as u32).to_le_bytes());
        bytes.extend(data);
    }
    let bytes: &'static [u8] = alloc::boxed::Box::leak(bytes.into_boxed_slice());
    Bundle::parse(bytes).unwrap()
}

#[test]
fn tree_from_bundle_takes_the_file_entries() {
    let t = Tree::from_bundle(&bundle()).unwrap();
    let motd = t.resolve(tree::ROOT, "etc/motd").unwrap();
    assert!(matches!(t.node(motd), tree::Node::File(b) if **b == *b"hi"));
    assert_eq!(t.resolve(tree::ROOT, "app"), Err(errno::NOENT));
}

#[test]
fn image_programs_take_env_options_and_bundle_files() {
    let options = [
        ("log", "info"),
        ("env", "A=1"),
        ("env", "bad"),
        ("env", "B=x=y"),
    ];
    let wasi = Wasi::for_image(vec!["app".into()], options.into_iter(), &bundle()).unwrap();
    let mut f = Fixture::new(wasi);
    assert_eq!(f.call("environ_sizes_get", &[0, 4]), 0);
    assert_eq!((f.u32(0), f.u32(4)), (2, 10));
    assert_eq!(f.open("etc/motd", 0, 0), (0, 4));
    assert_eq!(f.read(4, 10), b"hi");
}

#[test]
fn the_tree_is_preopened_as_root() {
    let mut f = Fixture::new(Wasi::default().with_tree(tree()));
    assert_eq!(f.call("fd_prestat_get", &[3, 8]), 0);
    assert_eq!((f.mem[8], f.u32(12)), (0, 1));
    assert_eq!(f.call("fd_prestat_dir_name", &[3, 100, 1]), 0);
    assert_eq!(f.mem[100], b'/');
    assert_eq!(
        f.call("fd_prestat_dir_name", &[3, 100, 0]),
        errno::NAMETOOLONG
    );
    assert_eq!(f.call("fd_prestat_get", &[4, 8]), errno::BADF);
    assert_eq!(f.call("fd_prestat_get", &[1, 8]), errno::BADF);
    assert_eq!(f.call("fd_fdstat_get", &[3, 8]), 0);
    assert_eq!(f.mem[8], 3);
    assert_eq!(f.call("fd_fdstat_get", &[1, 8]), 0);
    assert_eq!(f.mem[8], 2);
}

#[test]
fn files_open_read_seek_and_close() {
    let mut f = Fixture::new(Wasi::default().with_tree(tree()));
    let (e, fd) = f.open("data/a.txt", 0, files::rights::FD_READ);
    assert_eq!((e, fd), (0, 4));
    assert_eq!(f.read(fd, 3), b"alp");
    assert_eq!(f.call("fd_tell", &[fd as u64, 8]), 0);
    assert_eq!(f.u64(8), 3);
    assert_eq!(f.read(fd, 100), b"ha");
    assert_eq!(f.read(fd, 100), b"");
    assert_eq!(f.call("fd_seek", &[fd as u64, (-4i64) as u64, 2, 8]), 0);
    assert_eq!(f.u64(8), 1);
    assert_eq!(f.read(fd, 2), b"lp");
    assert_eq!(
        f.call("fd_seek", &[fd as u64, (-9i64) as u64, 1, 8]),
        errno::INVAL
    );
    assert_eq!(f.call("fd_seek", &[fd as u64, 0, 3, 8]), errno::INVAL);
    assert_eq!(f.call("fd_seek", &[1, 0, 0, 8]), errno::SPIPE);
    f.iovec(2);
    assert_eq!(f.call("fd_pread", &[fd as u64, 0, 1, 3, 8]), 0);
    assert_eq!((&f.mem[1000..1002], f.u32(8)), (&b"ha"[..], 2));
    assert_eq!(f.call("fd_filestat_get", &[fd as u64, 100]), 0);
    assert_eq!((f.mem[116], f.u64(132)), (4, 5));
    assert_eq!(f.call("fd_fdstat_get", &[fd as u64, 8]), 0);
    assert_eq!(f.mem[8], 4);
    assert_eq!(f.call("fd_write", &[fd as u64, 0, 1, 8]), errno::BADF);
    assert_eq!(f.call("fd_close", &[fd as u64]), 0);
    assert_eq!(f.call("fd_close", &[fd as u64]), errno::BADF);
    assert_eq!(f.call("fd_read", &[fd as u64, 0, 1, 8]), errno::BADF);
    // The freed slot is reused.
    assert_eq!(f.open("top", 0, 0), (0, 4));
}

#[test]
fn writes_to_the_tree_are_refused() {
    let mut f = Fixture::new(Wasi::default().with_tree(tree()));
    let write = files::rights::FD_WRITE;
    assert_eq!(f.open("data/a.txt", 0, write).0, errno::ROFS);
    assert_eq!(f.open("new.txt", 1, write).0, errno::ROFS);
    assert_eq!(f.open("top", 8, 0).0, errno::ROFS);
    assert_eq!(f.open("top", 1 | 4, 0).0, errno::EXIST);
    assert_eq!(f.open("top", 2, 0).0, errno::NOTDIR);
    assert_eq!(f.open("missing", 0, 0).0, errno::NOENT);
    assert_eq!(f.open("/top", 0, 0).0, errno::NOTCAPABLE);
    assert_eq!(f.open("../top", 0, 0).0, errno::NOTCAPABLE);
    f.put(2000, b"d");
    assert_eq!(f.call("path_create_directory", &[3, 2000, 1]), errno::ROFS);
    assert_eq!(f.call("path_unlink_file", &[3, 2000, 1]), errno::ROFS);
    assert_eq!(f.call("path_unlink_file", &[1, 2000, 1]), errno::BADF);
    assert_eq!(f.call("fd_filestat_set_size", &[3, 0]), errno::ROFS);
    f.put(2000, &[0xff]);
    assert_eq!(
        f.call("path_open", &[3, 0, 2000, 1, 0, 0, 0, 0, 16]),
        errno::ILSEQ
    );
}

#[test]
fn directories_open_stat_and_list() {
    let mut f = Fixture::new(Wasi::default().with_tree(tree()));
    f.put(2000, b"data/sub");
    assert_eq!(f.call("path_filestat_get", &[3, 1, 2000, 8, 100]), 0);
    assert_eq!(f.mem[116], 3);
    assert_eq!(f.call("path_filestat_get", &[3, 1, 2000, 4, 100]), 0);
    assert_eq!(
        f.call("path_filestat_get", &[3, 1, 2000, 3, 100]),
        errno::NOENT
    );
    let (e, fd) = f.open("data", 2, 0);
    assert_eq!(e, 0);
    let (e, sub) = f.open("data/sub/b.bin", 0, 0);
    assert_eq!(e, 0);
    assert_eq!(
        f.call("fd_readdir", &[sub as u64, 100, 500, 0, 8]),
        errno::NOTDIR
    );
    assert_eq!(f.call("fd_readdir", &[fd as u64, 100, 500, 0, 8]), 0);
    let used = f.u32(8) as usize;
    let mut names = Vec::new();
    let mut at = 100;
    while at < 100 + used {
        let len = f.u32(at + 16) as usize;
        names.push((
            f.u64(at),
            f.mem[at + 20],
            String::from_utf8(f.mem[at + 24..at + 24 + len].to_vec()).unwrap(),
        ));
        at += 24 + len;
    }
    let expected = [(1, 3, "."), (2, 3, ".."), (3, 4, "a.txt"), (4, 3, "sub")];
    assert_eq!(names.len(), expected.len());
    for (got, want) in names.iter().zip(expected) {
        assert_eq!((got.0, got.1, got.2.as_str()), want);
    }
    // From cookie 3 on, in a buffer too small for the whole entry.
    assert_eq!(f.call("fd_readdir", &[fd as u64, 100, 10, 3, 8]), 0);
    assert_eq!((f.u32(8), f.u64(100)), (10, 4));
    // Reading a directory as a file.
    f.iovec(4);
    assert_eq!(f.call("fd_read", &[fd as u64, 0, 1, 8]), errno::ISDIR);
}

/// Writes a clock subscription (relative `timeout`) at `at`.
fn clock_sub(f: &mut Fixture, at: usize, userdata: u64, clock: u32, timeout: u64) {
    f.mem[at..at + 48].fill(0);
    f.put(at, &userdata.to_le_bytes());
    f.put(at + 16, &clock.to_le_bytes());
    f.put(at + 24, &timeout.to_le_bytes());
}

#[test]
fn poll_sleeps_on_clocks() {
    let mut f = Fixture::new(Wasi::default());
    clock_sub(&mut f, 0, 7, 1, 50_000);
    clock_sub(&mut f, 48, 8, 1, 10_000_000_000);
    let before = f.p.now.get();
    assert_eq!(f.call("poll_oneoff", &[0, 200, 2, 400]), 0);
    assert!(f.p.now.get() - before >= 50_000, "slept");
    assert!(
        f.p.now.get() - before < 1_000_000,
        "not for the longer timer"
    );
    assert_eq!(f.u32(400), 1);
    assert_eq!((f.u64(200), f.mem[210]), (7, 0));
    // An absolute realtime deadline in the past fires at once.
    clock_sub(&mut f, 0, 9, 0, 5);
    f.put(40, &1u16.to_le_bytes());
    assert_eq!(f.call("poll_oneoff", &[0, 200, 1, 400]), 0);
    assert_eq!((f.u32(400), f.u64(200)), (1, 9));
    // Bad clock ids are reported in the event.
    clock_sub(&mut f, 0, 5, 42, 1);
    assert_eq!(f.call("poll_oneoff", &[0, 200, 1, 400]), 0);
    assert_eq!(f.mem[208], errno::INVAL as u8);
    assert_eq!(f.call("poll_oneoff", &[0, 200, 0, 400]), errno::INVAL);
    assert_eq!(f.call("poll_oneoff", &[65530, 200, 1, 400]), errno::FAULT);
    assert_eq!(f.call("poll_oneoff", &[0, 65530, 1, 400]), errno::FAULT);
    assert_eq!(f.call("poll_oneoff", &[0, 200, 1, 1 << 40]), errno::FAULT);
}

#[test]
fn poll_reports_descriptors_ready_at_once() {
    let mut f = Fixture::new(Wasi::default());
    clock_sub(&mut f, 0, 1, 1, 10_000_000_000);
    // fd_write subscription on stdout, fd_read on a bad descriptor.
    f.mem[48..144].fill(0);
    f.put(48, &2u64.to_le_bytes());
    f.mem[56] = 2;
    f.put(64, &1u32.to_le_bytes());
    f.put(96, &3u64.to_le_bytes());
    f.mem[104] = 1;
    f.put(112, &99u32.to_le_bytes());
    assert_eq!(f.call("poll_oneoff", &[0, 200, 3, 400]), 0);
    assert_eq!(f.u32(400), 2);
    assert_eq!((f.u64(200), f.mem[208], f.mem[210]), (2, 0, 2));
    assert_eq!((f.u64(232), f.mem[240]), (3, errno::BADF as u8));
}

/// Every `wasi_snapshot_preview1` function.
const PREVIEW1: &[&str] = &[
    "args_get",
    "args_sizes_get",
    "environ_get",
    "environ_sizes_get",
    "clock_res_get",
    "clock_time_get",
    "fd_advise",
    "fd_allocate",
    "fd_close",
    "fd_datasync",
    "fd_fdstat_get",
    "fd_fdstat_set_flags",
    "fd_fdstat_set_rights",
    "fd_filestat_get",
    "fd_filestat_set_size",
    "fd_filestat_set_times",
    "fd_pread",
    "fd_prestat_get",
    "fd_prestat_dir_name",
    "fd_pwrite",
    "fd_read",
    "fd_readdir",
    "fd_renumber",
    "fd_seek",
    "fd_sync",
    "fd_tell",
    "fd_write",
    "path_create_directory",
    "path_filestat_get",
    "path_filestat_set_times",
    "path_link",
    "path_open",
    "path_readlink",
    "path_remove_directory",
    "path_rename",
    "path_symlink",
    "path_unlink_file",
    "poll_oneoff",
    "proc_raise",
    "sched_yield",
    "random_get",
    "sock_accept",
    "sock_recv",
    "sock_send",
    "sock_shutdown",
];

#[test]
fn no_call_panics_whatever_it_is_passed() {
    let mut f = Fixture::new(Wasi::new(vec!["p".into()]).with_tree(tree()));
    f.mem.truncate(4096);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // Small values, descriptors, addresses near the end of memory, and extremes.
        match seed % 4 {
            0 => seed % 8,
            1 => 4096 - seed % 64,
            2 => seed % 4096,
            _ => [u32::MAX as u64, u64::MAX, 1 << 40][(seed / 4 % 3) as usize],
        }
    };
    let mut answered = 0;
    for _ in 0..200 {
        for name in PREVIEW1 {
            let args: Vec<u64> = (0..9).map(|_| next()).collect();
            // A clock subscription read from random memory may ask to sleep for ever:
            // poll_oneoff has its own tests, bad addresses included.
            if *name == "poll_oneoff" {
                continue;
            }
            let e = f.call(name, &args);
            assert!(e <= errno::NOTCAPABLE, "{name}: errno {e}");
            answered += 1;
        }
    }
    assert_eq!(answered, 200 * (PREVIEW1.len() - 1));
    assert_eq!(f.call("sock_recv", &[1, 2]), errno::NOSYS);
}

#[test]
fn links_are_absent_and_descriptors_renumber() {
    let mut f = Fixture::new(Wasi::default().with_tree(tree()));
    f.put(2000, b"topmissing");
    assert_eq!(
        f.call("path_readlink", &[3, 2000, 3, 100, 10, 8]),
        errno::INVAL
    );
    assert_eq!(
        f.call("path_readlink", &[3, 2000, 10, 100, 10, 8]),
        errno::NOENT
    );
    let (_, fd) = f.open("top", 0, 0);
    assert_eq!(f.call("fd_renumber", &[fd as u64, 9]), errno::BADF);
    assert_eq!(f.call("fd_renumber", &[fd as u64, 0]), 0);
    assert_eq!(f.read(0, 5), b"t");
    assert_eq!(f.call("fd_close", &[fd as u64]), errno::BADF);
}

#[test]
fn every_function_takes_at_most_the_padded_argument_count() {
    let most = Func::ALL.iter().map(|f| f.params().len()).max();
    assert_eq!(most, Some(MAX_PARAMS));
}
