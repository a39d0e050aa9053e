//! Computes and prints: SHA-256 and FNV-1a hashes, sorting of integers, strings and
//! floats, floating-point arithmetic and formatting, 128-bit integers and a word count.
//! Everything is deterministic and uses no libm function whose last bit may differ
//! between platforms, so the output of the wasm32-wasip1 build must equal the host
//! build's byte for byte (`cargo xtask test` compares them).

use std::collections::BTreeMap;

mod sha256;

/// xorshift64*: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn hashes() {
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 + i / 255) as u8).collect();
    let inputs: [(&str, &[u8]); 4] = [
        ("empty", b""),
        ("abc", b"abc"),
        ("sentence", b"The quick brown fox jumps over the lazy dog"),
        ("1e6 bytes", &big),
    ];
    for (name, data) in inputs {
        println!(
            "sha256({name}) = {}  fnv1a = {:016x}",
            sha256::hex(&sha256::digest(data)),
            fnv1a(data)
        );
    }
}

fn sorting() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut ints: Vec<u64> = (0..200_000).map(|_| rng.next() % 1_000_000_007).collect();
    ints.sort_unstable();
    let sum = ints.iter().fold(0u64, |a, &x| a.wrapping_mul(31).wrapping_add(x));
    println!(
        "ints: first {:?} last {:?} median {} fold {sum:016x}",
        &ints[..3],
        &ints[ints.len() - 3..],
        ints[ints.len() / 2]
    );
    ints.dedup();
    println!("ints: {} distinct", ints.len());

    let mut words: Vec<String> = (0..5000)
        .map(|_| {
            let n = 3 + rng.next() % 6;
            (0..n).map(|_| (b'a' + (rng.next() % 26) as u8) as char).collect()
        })
        .collect();
    words.sort();
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    println!("words: {:?} .. {:?}", &words[..3], &words[words.len() - 3..]);

    let mut floats: Vec<f64> = (0..10_000)
        .map(|_| (rng.next() as i64 as f64) / 1e15)
        .collect();
    floats.sort_by(f64::total_cmp);
    println!(
        "floats: min {} max {} sum {:e}",
        floats[0],
        floats[floats.len() - 1],
        floats.iter().sum::<f64>()
    );
}

fn floating_point() {
    let harmonic: f64 = (1..=100_000).map(|k| 1.0 / k as f64).sum();
    let harmonic32: f32 = (1..=10_000).map(|k| 1.0 / k as f32).sum();
    println!("harmonic(1e5) = {harmonic} = {harmonic:.6} = {harmonic:e}");
    println!("harmonic32(1e4) = {harmonic32} = {harmonic32:?}");
    // Newton's method for sqrt(2), next to the hardware square root.
    let mut x = 1.0f64;
    for _ in 0..6 {
        x = 0.5 * (x + 2.0 / x);
    }
    println!("sqrt(2): newton {x} hw {} diff {:e}", 2f64.sqrt(), x - 2f64.sqrt());
    let values = [
        0.1 + 0.2,
        1.0 / 3.0,
        -0.0,
        f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
        1e21,
        123_456_789.125,
        f64::INFINITY,
        f64::NAN,
    ];
    for v in values {
        println!("{v} | {v:?} | {v:.3} | {v:e} | {:>12.4e} | {}", v, v.to_bits());
    }
    let parsed: Vec<f64> = ["3.14159", "-2.5e-3", "1e300", "0x1p3", "inf", "7"]
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    println!("parsed {parsed:?}");
    let fused = 0.1f64.mul_add(10.0, -1.0);
    println!(
        "fma {fused:e}, floor {} ceil {} round {} trunc {} as i32 {} sat {}",
        (-2.5f64).floor(),
        (-2.5f64).ceil(),
        (-2.5f64).round(),
        (-2.5f64).trunc(),
        (-2.5f64) as i32,
        1e20f64 as i32
    );
}

fn integers() {
    let a: u128 = 0xdead_beef_cafe_babe_1234_5678_9abc_def0;
    let b: u128 = 0x0123_4567_89ab_cdef;
    println!(
        "u128: {} {} {} {:x}",
        a.wrapping_mul(b),
        a / b,
        a % b,
        a.rotate_left(17)
    );
    let mut fact = 1u128;
    for k in 1..=34u128 {
        fact *= k;
    }
    println!("34! = {fact}");
    let c = -9_876_543_210_i64;
    println!(
        "i64: {} {} {} {} {} {}",
        c / 7,
        c % 7,
        c.rem_euclid(7),
        c >> 3,
        (c as u64) >> 3,
        c.wrapping_mul(c)
    );
    let d = 0x00f0_0000_1000_0000u64;
    println!(
        "bits: {} {} {} {}",
        d.leading_zeros(),
        d.trailing_zeros(),
        d.count_ones(),
        d.swap_bytes()
    );
}

fn word_count() {
    let text = "the cat sat on the mat and the dog sat on the log while the bird sang";
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for w in text.split_whitespace() {
        *counts.entry(w).or_default() += 1;
    }
    let mut by_count: Vec<_> = counts.into_iter().collect();
    by_count.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(y.0)));
    println!("words by count: {by_count:?}");
}

fn main() {
    hashes();
    sorting();
    floating_point();
    integers();
    word_count();
    println!("compute done");
}
