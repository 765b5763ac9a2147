//! `cargo bench --bench wal`: WAL record encode (the cost on every push) and
//! decode (the cost of replay) per zstd level, on the load generator's corpora:
//! bytes written per raw byte, encode and decode MB/s of raw lines.
//! A plain timing harness (no criterion); one table row and one JSON line per row.

use std::time::Instant;

use skald::actors::ingester::wal::record::{decode_batch, encode_batch, TenantBatch};
use skald::loadgen::gen::{stream_pushes, Kind, Rng};
use skald::model::Labels;

/// Records as the ingest benchmark makes them: 4 pushes of 1000 lines over 100 streams.
fn records(kind: Kind, total: usize) -> Vec<Vec<TenantBatch>> {
    let mut rng = Rng::new(7);
    let mut ts = 1_700_000_000_000_000_000i64;
    let labels: Vec<Labels> =
        (0..100).map(|i| Labels::parse(&format!("{{app=\"app-{}\", pod=\"pod-{i}\"}}", i % 10)).unwrap()).collect();
    let (mut out, mut done) = (Vec::new(), 0);
    while done < total {
        let mut rec = Vec::new();
        for _ in 0..4 {
            let streams = stream_pushes(&mut rng, kind, &labels, 10, &mut ts);
            done += streams.iter().flat_map(|s| &s.entries).map(|e| e.line.len()).sum::<usize>();
            rec.push(TenantBatch { tenant: "bench".into(), streams });
        }
        out.push(rec);
    }
    out
}

fn main() {
    println!("{:<8} {:>5} {:>9} {:>11} {:>11}", "corpus", "level", "wal/raw", "enc MB/s", "dec MB/s");
    for (name, kind) in [("logfmt", Kind::Logfmt), ("nginx", Kind::Nginx), ("json", Kind::Json)] {
        let recs = records(kind, 64 << 20);
        let raw: usize =
            recs.iter().flatten().flat_map(|b| &b.streams).flat_map(|s| &s.entries).map(|e| e.line.len()).sum();
        for level in [-5, -1, 1, 3] {
            let t = Instant::now();
            let encoded: Vec<Vec<u8>> = recs.iter().map(|r| encode_batch(r, level)).collect();
            let enc_s = t.elapsed().as_secs_f64();
            let written: usize = encoded.iter().map(|e| e.len() + 20).sum();
            let t = Instant::now();
            let mut n = 0;
            for e in &encoded {
                n += decode_batch(e).expect("round trip").len();
            }
            let dec_s = t.elapsed().as_secs_f64();
            assert_eq!(n, recs.len() * 4);
            let (ratio, e, d) = (written as f64 / raw as f64, raw as f64 / enc_s / 1e6, raw as f64 / dec_s / 1e6);
            println!("{name:<8} {level:>5} {ratio:>9.3} {e:>11.0} {d:>11.0}");
            println!(
                "{{\"bench\":\"wal\",\"corpus\":\"{name}\",\"zstd_level\":{level},\"wal_per_raw\":{ratio:.3},\"encode_mb_s\":{e:.1},\"decode_mb_s\":{d:.1}}}"
            );
        }
    }
}
