//! `cargo bench --bench chunk`: block compression per `chunk_encoding` on the
//! load generator's corpora: compression ratio, encode and decode MB/s.
//! A plain timing harness (no criterion) to keep build times low; it prints one
//! table row per (corpus, encoding) and a JSON line per row.

use std::time::Instant;

use skald::loadgen::gen::{line, Kind, Rng};
use skald::storage::chunk::{Encoding, HeadBlock};

const BLOCK: usize = 256 * 1024;
const TOTAL: usize = 64 << 20;

fn corpus(kind: Kind) -> Vec<Vec<u8>> {
    // raw blocks of ~256 KiB, as the head block cuts them
    let mut rng = Rng::new(42);
    let mut blocks = Vec::new();
    let mut text = String::new();
    let mut done = 0;
    let mut ts = 1_700_000_000_000_000_000i64;
    while done < TOTAL {
        let mut h = HeadBlock::default();
        while h.raw.len() < BLOCK {
            text.clear();
            line(&mut rng, kind, 200, &mut text);
            ts += 1_000_000;
            h.append(ts, text.as_bytes(), &[]);
        }
        done += h.raw.len();
        blocks.push(h.raw.clone());
    }
    blocks
}

fn main() {
    println!("{:<8} {:<7} {:>7} {:>11} {:>11}", "corpus", "enc", "ratio", "enc MB/s", "dec MB/s");
    for (name, kind) in [
        ("logfmt", Kind::Logfmt),
        ("nginx", Kind::Nginx),
        ("json", Kind::Json),
        ("apache", Kind::Apache),
        ("plain", Kind::Plain),
    ] {
        let blocks = corpus(kind);
        let raw: usize = blocks.iter().map(Vec::len).sum();
        for enc in [Encoding::Snappy, Encoding::Lz4, Encoding::Zstd, Encoding::Gzip] {
            let t = Instant::now();
            let packed: Vec<Vec<u8>> = blocks.iter().map(|b| enc.compress(b)).collect();
            let enc_s = t.elapsed().as_secs_f64();
            let stored: usize = packed.iter().map(Vec::len).sum();
            let t = Instant::now();
            let mut check = 0usize;
            for (p, b) in packed.iter().zip(&blocks) {
                check += enc.decompress(p, b.len()).map(|d| d.len()).unwrap_or(0);
            }
            let dec_s = t.elapsed().as_secs_f64();
            assert_eq!(check, raw, "round trip");
            let (ratio, e, d) = (raw as f64 / stored as f64, raw as f64 / enc_s / 1e6, raw as f64 / dec_s / 1e6);
            println!("{name:<8} {:<7} {ratio:>7.2} {e:>11.0} {d:>11.0}", enc.name());
            println!(
                "{{\"bench\":\"chunk\",\"corpus\":\"{name}\",\"encoding\":\"{}\",\"ratio\":{ratio:.3},\"encode_mb_s\":{e:.1},\"decode_mb_s\":{d:.1}}}",
                enc.name()
            );
        }
    }
}
