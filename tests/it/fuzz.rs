//! A mutation fuzzer for the configuration loader and the duration and number parsers (issue
//! 13): every `.tf` file in `examples/` and `tests/fixtures/` is a seed; each input is a seed
//! with random byte flips, insertions (smart quotes, huge numbers, template and brace tokens),
//! deletions, duplications and splices. Nothing may panic: a panicking input is saved under
//! `target/fuzz-crashes/`.
//!
//! `RUNFORM_FUZZ_INPUTS=10000000 cargo test --release --test it fuzz_ -- --ignored --nocapture`
//! (cargo test: nextest's slow-test timeout would stop it). The count defaults to 100,000; one
//! worker per core; it prints inputs, panics and inputs per second as it goes.

use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};

const TOKENS: &[&str] = &[
    "\u{201c}",
    "\u{201d}",
    "\u{e9}",
    "\u{1F600}",
    "${",
    "%{",
    "}",
    "{",
    "]",
    "[",
    "\"",
    "\\",
    "\n",
    "=",
    "18446744073709551616s",
    "1e300s",
    "-1",
    "99999999999999999999",
    "0.000001ms",
    "var.",
    "local.",
    "resource ",
    "for ",
    " : ",
    "=>",
    "...",
    "?",
    "null",
    "<<EOT\n",
    "\nEOT\n",
    "#",
    "//",
    "/*",
    "*/",
    "\u{0}",
    "\u{1}",
    "\r",
];

fn seeds() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = vec![root.join("examples"), root.join("tests/fixtures")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "tf") {
                out.push(std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn mutate(seeds: &[Vec<u8>], rng: &mut impl Rng) -> Vec<u8> {
    let mut v = seeds[rng.random_range(0..seeds.len())].clone();
    for _ in 0..rng.random_range(1..6) {
        let at = rng.random_range(0..=v.len());
        match rng.random_range(0..6) {
            0 if !v.is_empty() => {
                let i = rng.random_range(0..v.len());
                v[i] ^= 1 << rng.random_range(0..8);
            }
            1 => {
                let t = TOKENS[rng.random_range(0..TOKENS.len())];
                v.splice(at..at, t.bytes());
            }
            2 if at < v.len() => {
                let end = (at + rng.random_range(1..64)).min(v.len());
                v.drain(at..end);
            }
            3 if at < v.len() => {
                let end = (at + rng.random_range(1..128)).min(v.len());
                let piece: Vec<u8> = v[at..end].to_vec();
                let to = rng.random_range(0..=v.len());
                v.splice(to..to, piece);
            }
            4 => {
                let other = &seeds[rng.random_range(0..seeds.len())];
                if !other.is_empty() {
                    let from = rng.random_range(0..other.len());
                    let end = (from + rng.random_range(1..256)).min(other.len());
                    v.splice(at..at, other[from..end].iter().copied());
                }
            }
            _ => {
                let b: u8 = rng.random();
                v.insert(at, b);
            }
        }
    }
    v
}

/// Random short strings for the parsers: pieces of the input and crafted numbers.
fn parser_inputs(input: &[u8], rng: &mut impl Rng) -> Vec<String> {
    let text = String::from_utf8_lossy(input);
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    for _ in 0..4 {
        if chars.is_empty() {
            break;
        }
        let from = rng.random_range(0..chars.len());
        let end = (from + rng.random_range(0..24)).min(chars.len());
        out.push(chars[from..end].iter().collect());
    }
    let units = [
        "ns", "us", "µs", "ms", "s", "m", "h", "Mi", "Gi", "m", "", "e308", ".", "d",
    ];
    let mut s = String::new();
    for _ in 0..rng.random_range(1..4) {
        let n: f64 = match rng.random_range(0..4) {
            0 => rng.random_range(0.0..10.0),
            1 => rng.random::<f64>() * 1e20,
            2 => f64::from_bits(rng.random()),
            _ => rng.random_range(0..100_000) as f64,
        };
        s.push_str(&format!("{n}{}", units[rng.random_range(0..units.len())]));
    }
    out.push(s);
    out
}

#[test]
#[ignore = "a fuzzer: run by hand with RUNFORM_FUZZ_INPUTS"]
fn fuzz_loader_and_parsers() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let n: u64 = std::env::var("RUNFORM_FUZZ_INPUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let seed: u64 = std::env::var("RUNFORM_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(13);
    let seeds = seeds();
    assert!(seeds.len() > 10, "seeds from examples/ and tests/fixtures/");
    let crashes = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-crashes");
    let started = std::time::Instant::now();
    let next = AtomicU64::new(0);
    let panics = AtomicU64::new(0);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        for w in 0..workers {
            let (seeds, crashes, next, panics) = (&seeds, &crashes, &next, &panics);
            scope.spawn(move || {
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed.wrapping_add(w as u64));
                let work = tempfile::tempdir().unwrap();
                let args = runform::config::LoadArgs::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return;
                    }
                    let input = mutate(seeds, &mut rng);
                    std::fs::write(work.path().join("main.tf"), &input).unwrap();
                    let parsers = parser_inputs(&input, &mut rng);
                    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let _ = runform::ops::load_stack(work.path(), &args, None, None);
                        let _ = runform::fmt::format(&String::from_utf8_lossy(&input));
                        for p in &parsers {
                            let _ = runform::api::common::parse_go_duration(p);
                            let _ = runform::api::run::parse_quantity(p);
                            if let Some(secs) = runform::api::run::parse_duration_secs(p) {
                                let _ = runform::api::common::clamp_secs(secs);
                            }
                        }
                    }))
                    .is_ok();
                    if !ok {
                        panics.fetch_add(1, Ordering::Relaxed);
                        std::fs::create_dir_all(crashes).unwrap();
                        std::fs::write(crashes.join(format!("crash-{i}.tf")), &input).unwrap();
                        std::fs::write(
                            crashes.join(format!("crash-{i}.parsers")),
                            parsers.join("\n"),
                        )
                        .unwrap();
                    }
                    if (i + 1) % 100_000 == 0 {
                        eprintln!(
                            "{} inputs, {} panics, {:.0} inputs/s",
                            i + 1,
                            panics.load(Ordering::Relaxed),
                            (i + 1) as f64 / started.elapsed().as_secs_f64()
                        );
                    }
                }
            });
        }
    });
    let panics = panics.load(Ordering::Relaxed);
    eprintln!(
        "fuzzed {n} inputs in {:.0} s on {workers} workers: {panics} panics ({} seeds)",
        started.elapsed().as_secs_f64(),
        seeds.len()
    );
    assert_eq!(panics, 0, "panicking inputs are in {}", crashes.display());
}
