//! `cargo bench --bench push`: push body decoding, the distributor's first step:
//! snappy protobuf (what Promtail sends), JSON, and gzip-wrapped JSON, in MB of
//! lines per second and requests per second. A plain timing harness; one table
//! row and one JSON line per format.

use std::time::Instant;

use bytes::Bytes;
use prost::Message;
use skald::distributor::decode::{decode_push, PushBody};
use skald::distributor::labels::LabelCache;
use skald::loadgen::gen::{line, Kind, Rng};
use skald::proto::logproto;

const REQUESTS: usize = 200;

/// Streams of one request: labels and (timestamp, line) entries.
type Streams = Vec<(String, Vec<(i64, String)>)>;

/// One request: 100 streams x 10 lines of ~200-byte logfmt (the ingest benchmark's shape).
fn request(rng: &mut Rng) -> (Streams, usize) {
    let mut text = String::new();
    let mut raw = 0;
    let streams = (0..100)
        .map(|s| {
            let entries = (0..10)
                .map(|i| {
                    text.clear();
                    line(rng, Kind::Logfmt, 200, &mut text);
                    raw += text.len();
                    (1_700_000_000_000_000_000 + i, text.clone())
                })
                .collect();
            (format!("{{app=\"bench\", stream=\"s{s}\"}}"), entries)
        })
        .collect();
    (streams, raw)
}

fn proto(streams: &Streams) -> Vec<u8> {
    let req = logproto::PushRequest {
        streams: streams
            .iter()
            .map(|(labels, es)| logproto::StreamAdapter {
                labels: labels.clone(),
                entries: es
                    .iter()
                    .map(|(ts, l)| logproto::EntryAdapter {
                        timestamp: Some(prost_types::Timestamp {
                            seconds: ts / 1_000_000_000,
                            nanos: (ts % 1_000_000_000) as i32,
                        }),
                        line: Bytes::from(l.clone()),
                        structured_metadata: vec![],
                        parsed: vec![],
                    })
                    .collect(),
                hash: 0,
            })
            .collect(),
        format: String::new(),
    };
    snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()).expect("snappy")
}

fn json(streams: &Streams) -> Vec<u8> {
    let streams: Vec<_> = streams
        .iter()
        .map(|(labels, es)| {
            let stream: serde_json::Map<String, serde_json::Value> = skald::model::Labels::parse(labels)
                .expect("labels")
                .pairs()
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::json!(v)))
                .collect();
            let values: Vec<_> = es.iter().map(|(t, l)| serde_json::json!([t.to_string(), l])).collect();
            serde_json::json!({"stream": stream, "values": values})
        })
        .collect();
    serde_json::json!({ "streams": streams }).to_string().into_bytes()
}

fn gzip(b: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).expect("gzip");
    e.finish().expect("gzip")
}

fn main() {
    let mut rng = Rng::new(3);
    let reqs: Vec<_> = (0..REQUESTS).map(|_| request(&mut rng)).collect();
    let raw: usize = reqs.iter().map(|r| r.1).sum();
    let cache = LabelCache::new(vec![]);
    println!("{:<14} {:>12} {:>12}", "format", "MB/s", "requests/s");
    type Encode = fn(&Streams) -> Vec<u8>;
    let formats: [(&str, &str, Option<&str>, Encode); 3] = [
        ("snappy-proto", "application/x-protobuf", None, proto),
        ("json", "application/json", None, json),
        ("gzip-json", "application/json", Some("gzip"), |s| gzip(&json(s))),
    ];
    for (name, ct, ce, enc) in formats {
        let bodies: Vec<Bytes> = reqs.iter().map(|(s, _)| Bytes::from(enc(s))).collect();
        let t = Instant::now();
        let mut lines = 0;
        for b in &bodies {
            let body = PushBody { content_type: Some(ct), content_encoding: ce, body: b.clone(), legacy: false };
            let streams = decode_push(body, u64::MAX, u64::MAX, &cache).expect("decodes");
            lines += streams.iter().map(|s| s.entries.len()).sum::<usize>();
        }
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(lines, REQUESTS * 1000);
        let (mbs, rps) = (raw as f64 / secs / 1e6, REQUESTS as f64 / secs);
        println!("{name:<14} {mbs:>12.0} {rps:>12.0}");
        println!(
            "{{\"bench\":\"push_decode\",\"format\":\"{name}\",\"mb_per_s\":{mbs:.1},\"requests_per_s\":{rps:.1}}}"
        );
    }
}
