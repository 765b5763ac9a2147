//! `cargo bench --bench chunk`: block compression per `chunk_encoding` on the
//! load generator's corpora: compression ratio (row and columnar block layout),
//! encode and decode MB/s.
//! A plain timing harness (no criterion) to keep build times low; it prints one
//! table row per (corpus, encoding) and a JSON line per row.

use std::time::Instant;

use skald::loadgen::gen::{line, Kind, Rng};
use skald::storage::chunk::block::RawIter;
use skald::storage::chunk::{columnar, Encoding, HeadBlock};

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
        while h.raw_len() < BLOCK {
            text.clear();
            line(&mut rng, kind, 200, &mut text);
            ts += 1_000_000;
            h.append(ts, text.as_bytes(), &[]);
        }
        done += h.raw_len();
        blocks.push(h.rows());
    }
    blocks
}

fn main() {
    // ratio: raw (row-layout) bytes per stored byte, for blocks compressed as rows
    // and as the columnar blocks a cut writes; speeds are the columnar path's
    // (decode: decompress and walk every entry)
    println!("{:<8} {:<7} {:>9} {:>7} {:>11} {:>11}", "corpus", "enc", "row ratio", "ratio", "enc MB/s", "dec MB/s");
    for (name, kind) in [
        ("logfmt", Kind::Logfmt),
        ("nginx", Kind::Nginx),
        ("json", Kind::Json),
        ("apache", Kind::Apache),
        ("plain", Kind::Plain),
    ] {
        let blocks = corpus(kind);
        let counts: Vec<u32> = blocks.iter().map(|b| RawIter::new(b).count() as u32).collect();
        let raw: usize = blocks.iter().map(Vec::len).sum();
        for enc in [Encoding::Snappy, Encoding::Lz4, Encoding::Zstd, Encoding::Gzip] {
            let row_stored: usize = blocks.iter().map(|b| enc.compress(b).len()).sum();
            // what a cut does: rows rewritten in the columnar layout, then compressed
            let t = Instant::now();
            let packed: Vec<(Vec<u8>, u32, bool)> =
                blocks.iter().zip(&counts).map(|(b, n)| columnar::compress_rows(b, *n, enc)).collect();
            let enc_s = t.elapsed().as_secs_f64();
            let stored: usize = packed.iter().map(|p| p.0.len()).sum();
            let t = Instant::now();
            let mut check = 0usize;
            for (p, raw_len, col) in &packed {
                let walk = |d: Vec<u8>| if *col { columnar::iter(&d).count() } else { RawIter::new(&d).count() };
                check += enc.decompress(p, *raw_len as usize).map(walk).unwrap_or(0);
            }
            let dec_s = t.elapsed().as_secs_f64();
            assert_eq!(check, counts.iter().sum::<u32>() as usize, "round trip");
            let (ratio, e, d) = (raw as f64 / stored as f64, raw as f64 / enc_s / 1e6, raw as f64 / dec_s / 1e6);
            let row_ratio = raw as f64 / row_stored as f64;
            println!("{name:<8} {:<7} {row_ratio:>9.2} {ratio:>7.2} {e:>11.0} {d:>11.0}", enc.name());
            println!(
                "{{\"bench\":\"chunk\",\"corpus\":\"{name}\",\"encoding\":\"{}\",\"row_ratio\":{row_ratio:.3},\"ratio\":{ratio:.3},\"encode_mb_s\":{e:.1},\"decode_mb_s\":{d:.1}}}",
                enc.name()
            );
        }
    }
}
