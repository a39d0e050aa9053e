//! Reads every file under a directory (the first argument, `/data` by default), in
//! sorted order, and prints each one's path, size and FNV-1a checksum, then the totals.
//! It also reads one file in pieces through `seek`, and with `--try-write` tries to
//! create a file (which kiln's read-only tree must refuse).

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Every file under `dir`, sorted by path.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if fs::metadata(&path)?.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = PathBuf::from(
        args.iter()
            .find(|a| !a.starts_with("--"))
            .map_or("/data", |s| s.as_str()),
    );
    let mut files = Vec::new();
    walk(&root, &mut files)?;
    let (mut total, mut combined) = (0u64, 0u64);
    for path in &files {
        let bytes = fs::read(path)?;
        let sum = fnv1a(&bytes);
        let rel = path.strip_prefix(&root).unwrap_or(path);
        println!("{:<24} {:>6} {sum:016x}", rel.display(), bytes.len());
        total += bytes.len() as u64;
        combined = combined.rotate_left(5) ^ sum;
    }
    println!("{} files, {total} bytes, checksum {combined:016x}", files.len());

    // The largest file again, from its middle, through seek and a small buffer.
    if let Some(biggest) = files.iter().max_by_key(|p| fs::metadata(p).map_or(0, |m| m.len())) {
        let mut f = fs::File::open(biggest)?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len / 2))?;
        let mut tail = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            tail.extend_from_slice(&buf[..n]);
        }
        let pos = f.stream_position()?;
        println!(
            "second half of the largest file: {} bytes, checksum {:016x}, position {pos}",
            tail.len(),
            fnv1a(&tail)
        );
    }
    match fs::read(root.join("no-such-file")) {
        Ok(_) => println!("no-such-file: unexpectedly found"),
        Err(e) => println!("no-such-file: {:?}", e.kind()),
    }
    if args.iter().any(|a| a == "--try-write") {
        match fs::write(root.join("new.txt"), b"x") {
            Ok(()) => println!("write: unexpectedly allowed"),
            Err(e) => println!("write refused: {:?}", e.kind()),
        }
    }
    Ok(())
}
