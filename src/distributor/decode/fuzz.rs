//! Property tests over push decoding (test-only): every body the push endpoints
//! can receive (v1 JSON, legacy JSON, snappy protobuf, each raw, gzip- or
//! deflate-wrapped) is decoded and validated without a panic, and answers
//! either `Ok` or a 400/413 whose decoded size stayed within the limit.
//!
//! Inputs: arbitrary bytes under every content type and encoding; valid bodies
//! mutated (byte flips, truncation, inserted junk) before or after compression;
//! hostile shapes (deep JSON nesting, huge label counts, invalid UTF-8, extreme
//! timestamps); decompression bombs (gzip of zeros, snappy declaring a huge
//! length). `cargo test` runs a seeded few hundred; the ignored `long_run` runs
//! `SKALD_FUZZ_CASES` (default 1,000,000) fresh ones, see docs/testing.md.

use std::io::Write;

use bytes::Bytes;
use proptest::prelude::*;
use prost::Message;

use super::{decode_push, PushBody};
use crate::config::Limits;
use crate::distributor::validate::{validate, GroupedErrors};
use crate::distributor::LabelCache;
use crate::proto::logproto;

/// Small limits keep a million cases fast and make bombs cheap to refuse.
const MAX_RECV: u64 = 64 << 10;
const MAX_DECOMPRESSED: u64 = 256 << 10;

/// One push request as it arrives.
#[derive(Debug, Clone)]
pub struct Input {
    content_type: &'static str,
    encoding: &'static str,
    legacy: bool,
    body: Vec<u8>,
}

const TYPES: &[&str] = &["application/json", "application/x-protobuf", "text/plain", "application/json; charset=utf-8"];
const ENCODINGS: &[&str] = &["", "gzip", "deflate", "snappy", "br", " gzip "];
const TIMESTAMPS: &[&str] =
    &["0", "-1", "1", "9223372036854775807", "-9223372036854775808", "99999999999999999999", "1e9", "", " 1", "0x10"];

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = gz.write_all(b);
    gz.finish().unwrap_or_default()
}

fn deflate(b: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = z.write_all(b);
    z.finish().unwrap_or_default()
}

fn snappy(b: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(b).unwrap_or_default()
}

fn wrap(encoding: &str, b: Vec<u8>) -> Vec<u8> {
    match encoding.trim() {
        "gzip" => gzip(&b),
        "deflate" => deflate(&b),
        _ => b,
    }
}

/// A v1 JSON body with the given labels, timestamps and lines (lines may be any text).
fn json_body(labels: &[(String, String)], entries: &[(String, String)]) -> Vec<u8> {
    let stream: serde_json::Map<_, _> =
        labels.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
    let values: Vec<_> = entries.iter().map(|(t, l)| serde_json::json!([t, l])).collect();
    serde_json::json!({"streams": [{"stream": stream, "values": values}]}).to_string().into_bytes()
}

/// A snappy protobuf body; `line` bytes and label strings are taken as given.
fn proto_body(labels: String, entries: &[(i64, i32, Vec<u8>)]) -> Vec<u8> {
    let req = logproto::PushRequest {
        streams: vec![logproto::StreamAdapter {
            labels,
            entries: entries
                .iter()
                .map(|(s, n, l)| logproto::EntryAdapter {
                    timestamp: Some(prost_types::Timestamp { seconds: *s, nanos: *n }),
                    line: Bytes::from(l.clone()),
                    structured_metadata: vec![],
                    parsed: vec![],
                })
                .collect(),
            hash: 0,
        }],
        format: String::new(),
    };
    snappy(&req.encode_to_vec())
}

/// One length-delimited protobuf field (`tag` < 16).
fn field(tag: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(tag << 3) | 2];
    let mut n = payload.len();
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(payload);
    out
}

fn label_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("[a-z_][a-z0-9_]{0,6}|[^\"]{0,4}", ".{0,8}"), 0..6)
}

/// Valid (or nearly valid) bodies of every format, compressed as their encoding says.
fn valid() -> impl Strategy<Value = Input> {
    let json = (label_pairs(), prop::collection::vec((prop::sample::select(TIMESTAMPS), ".{0,20}"), 0..4))
        .prop_map(|(l, e)| json_body(&l, &e.into_iter().map(|(t, s)| (t.to_string(), s)).collect::<Vec<_>>()));
    let proto = (
        "\\{[a-z]{1,4}=\"[a-z]{0,4}\"(, [a-z]{1,4}=\"[^\"]{0,4}\"){0,3}\\}|.{0,12}",
        prop::collection::vec((any::<i64>(), any::<i32>(), prop::collection::vec(any::<u8>(), 0..16)), 0..4),
    )
        .prop_map(|(l, e)| proto_body(l, &e));
    let legacy = (".{0,12}", ".{0,30}", ".{0,10}").prop_map(|(l, t, line)| {
        serde_json::json!({"streams": [{"labels": l, "entries": [{"ts": t, "line": line}]}]}).to_string().into_bytes()
    });
    (
        prop_oneof![json.prop_map(|b| (b, false)), proto.prop_map(|b| (b, false)), legacy.prop_map(|b| (b, true))],
        0..3usize,
    )
        .prop_map(|((body, legacy), enc)| {
            let content_type = if body.first() == Some(&b'{') { TYPES[0] } else { TYPES[1] };
            let encoding = ["", "gzip", "deflate"][enc];
            Input { content_type, encoding, legacy, body: wrap(encoding, body) }
        })
}

/// Valid bodies with bytes flipped, cut or inserted (before or after compression).
fn mutated() -> impl Strategy<Value = Input> {
    (valid(), prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..6)).prop_map(
        |(mut input, edits)| {
            for (at, byte, kind) in edits {
                if input.body.is_empty() {
                    input.body.push(byte);
                    continue;
                }
                let i = at.index(input.body.len());
                match kind {
                    0 => input.body[i] = byte,
                    1 => input.body.truncate(i),
                    _ => input.body.insert(i, byte),
                }
            }
            input
        },
    )
}

/// Random bytes under every content type and encoding.
fn arbitrary() -> impl Strategy<Value = Input> {
    (
        prop::sample::select(TYPES),
        prop::sample::select(ENCODINGS),
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..256),
    )
        .prop_map(|(content_type, encoding, legacy, body)| Input { content_type, encoding, legacy, body })
}

/// Deep nesting, enormous label sets, invalid UTF-8 and bombs.
fn hostile() -> impl Strategy<Value = Input> {
    let deep = (1usize..50_000, prop::sample::select(&["[", "{\"a\":", "{\"streams\":["][..])).prop_map(|(n, open)| {
        Input { content_type: TYPES[0], encoding: "", legacy: false, body: open.repeat(n).into_bytes() }
    });
    let many_labels = (1usize..3_000).prop_map(|n| {
        let labels: Vec<_> = (0..n).map(|i| (format!("l{i}"), "v".to_string())).collect();
        Input {
            content_type: TYPES[0],
            encoding: "gzip",
            legacy: false,
            body: gzip(&json_body(&labels, &[("1".into(), "x".into())])),
        }
    });
    let bad_utf8 = (prop::collection::vec(any::<u8>(), 1..32), prop::collection::vec(any::<u8>(), 1..8)).prop_map(
        |(line, value)| {
            // raw bytes in the line (a bytes field) and in a label value (a string field)
            let mut labels = b"{a=\"".to_vec();
            labels.extend(value);
            labels.extend(b"\"}");
            let entry = field(2, &field(2, &line));
            let stream = [field(1, &labels), entry].concat();
            Input { content_type: TYPES[1], encoding: "", legacy: false, body: snappy(&field(1, &stream)) }
        },
    );
    let bomb = (0..3u8, 1u64..64).prop_map(|(kind, mb)| {
        let body = match kind {
            0 => gzip(&vec![b'{'; (mb as usize) << 16]),
            // a snappy preamble declaring `mb` GiB followed by little
            1 => {
                let mut b = Vec::new();
                let mut n = mb << 30;
                while n >= 0x80 {
                    b.push((n as u8) | 0x80);
                    n >>= 7;
                }
                b.push(n as u8);
                b.extend([0u8; 8]);
                b
            }
            _ => gzip(&snappy(&vec![0u8; (mb as usize) << 14])),
        };
        let encoding = if kind == 1 { "" } else { "gzip" };
        Input { content_type: TYPES[1], encoding, legacy: false, body }
    });
    prop_oneof![deep, many_labels, bad_utf8, bomb]
}

/// Decoding and validation never panic; errors are 400 or 413; nothing decoded exceeds the limit.
fn never_panics(input: Input) -> Result<(), String> {
    let cache = LabelCache::new(Limits::default().discover_service_name);
    let body = PushBody {
        content_type: Some(input.content_type),
        content_encoding: Some(input.encoding),
        body: Bytes::from(input.body.clone()),
        legacy: input.legacy,
    };
    match decode_push(body, MAX_RECV, MAX_DECOMPRESSED, &cache) {
        Ok(streams) => {
            let size: usize = streams.iter().flat_map(|s| &s.entries).map(|e| e.line.len()).sum();
            if size as u64 > MAX_DECOMPRESSED {
                return Err(format!("decoded {size} bytes past the limit"));
            }
            let now = crate::model::time::now_ns();
            let mut errors = GroupedErrors::default();
            for limits in [Limits::default(), Limits { reject_old_samples: false, ..Limits::default() }] {
                validate("fuzz", streams.clone(), &limits, now, &mut errors);
            }
            let _ = errors.render();
            Ok(())
        }
        Err(e) if matches!(e.status(), 400 | 413) => Ok(()),
        Err(e) => Err(format!("unexpected status {} for {input:?}: {e}", e.status())),
    }
}

fn run(cases: u32, strategy: impl Strategy<Value = Input>) {
    crate::logql::fuzz::run(cases, strategy, never_panics);
}

#[test]
fn push_decoding_never_panics() {
    run(256, valid());
    run(256, mutated());
    run(256, arbitrary());
    run(32, hostile());
}

/// The long run: `SKALD_FUZZ_CASES=1000000 cargo test --release --lib distributor::decode::fuzz -- --ignored`.
#[test]
#[ignore]
fn long_run() {
    let total: u32 = std::env::var("SKALD_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let share = total / 10;
    run(share * 3, valid());
    run(share * 3, mutated());
    run(share * 3, arbitrary());
    run(share, hostile());
}
