//! Hostile push input against the real binary: decompression bombs (gzip and
//! snappy) refused without expanding them, deep and huge JSON, enormous label
//! sets, invalid UTF-8, extreme timestamps. Every answer is Loki's status and
//! text, the process stays up, and peak memory stays far below the bomb's size.

mod common;

use std::io::Write;
use std::time::Duration;

use common::{client, now_ns, Skald};
use prost::Message;
use serde_json::{json, Value};
use skald::proto::logproto;

fn post(s: &Skald, ct: &str, ce: Option<&str>, body: Vec<u8>) -> (u16, String) {
    let mut r = client().post(s.url("/loki/api/v1/push")).header("X-Scope-OrgID", "h").header("Content-Type", ct);
    if let Some(ce) = ce {
        r = r.header("Content-Encoding", ce);
    }
    let resp = r.body(body).timeout(Duration::from_secs(60)).send().unwrap();
    (resp.status().as_u16(), resp.text().unwrap())
}

fn get(s: &Skald, path: &str, params: &[(&str, &str)]) -> (u16, String) {
    let r = client().get(s.url(path)).header("X-Scope-OrgID", "h").query(params).send().unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

/// `n` bytes of zeros, gzipped (about 1000:1).
fn gzip_zeros(n: usize) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..n >> 20 {
        gz.write_all(&chunk).unwrap();
    }
    gz.finish().unwrap()
}

/// A raw-snappy preamble declaring `len` bytes, followed by a few literal bytes.
fn snappy_declaring(len: u64) -> Vec<u8> {
    let (mut out, mut n) = (Vec::new(), len);
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend([0x0c, b'h', b'e', b'l', b'l']);
    out
}

#[test]
fn decompression_bombs_are_refused_without_expanding() {
    let s = Skald::start("distributor:\n  max_decompressed_size: 8MB\n");
    let before = s.proc_status_bytes("VmHWM");
    let bomb = gzip_zeros(1 << 30);
    assert!(bomb.len() < 8 << 20, "1 GiB of zeros compresses to {} bytes", bomb.len());
    for ct in ["application/json", "application/x-protobuf"] {
        let (code, text) = post(&s, ct, Some("gzip"), bomb.clone());
        assert_eq!(code, 413, "{ct}: {text}");
        assert_eq!(
            text, "request body too large: decompressed message size too large than max (8000001 vs 8000000)\n",
            "{ct}"
        );
    }
    // snappy's declared length is checked before anything is allocated
    let (code, text) = post(&s, "application/x-protobuf", None, snappy_declaring(3 << 30));
    assert_eq!(code, 413, "{text}");
    assert!(text.contains("decompressed message size too large than max (3221225472 vs 8000000)"), "{text}");
    // past 4 GiB Go's snappy (and so Loki) calls the body corrupt: 400
    let (code, text) = post(&s, "application/x-protobuf", None, snappy_declaring(1 << 40));
    assert_eq!(code, 400, "{text}");
    // ... also inside gzip
    let (code, _) = post(&s, "application/x-protobuf", Some("gzip"), {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&snappy_declaring(2 << 30)).unwrap();
        gz.finish().unwrap()
    });
    assert_eq!(code, 413);

    let peak = s.proc_status_bytes("VmHWM");
    eprintln!("peak RSS {} MiB before the bombs, {} MiB after", before >> 20, peak >> 20);
    assert!(
        peak < before + (128 << 20),
        "peak RSS grew by {} MiB for a 1 GiB bomb (limit 8 MB)",
        (peak - before) >> 20
    );
    let t = now_ns().to_string();
    let ok = json!({"streams": [{"stream": {"app": "after"}, "values": [[t, "still here"]]}]});
    assert_eq!(post(&s, "application/json", None, ok.to_string().into_bytes()).0, 204);
}

#[test]
fn hostile_bodies_get_loki_answers() {
    let s = Skald::start(
        "limits_config:\n  reject_old_samples: false\n  max_query_length: 0\nquerier:\n  query_ingesters_within: 0\n",
    );
    let json_ct = "application/json";

    // nesting far past any parser's recursion budget: a 400, not a stack overflow
    for open in ["[", "{\"streams\":[{\"stream\":{\"a\":", "{\"a\":"] {
        let (code, text) = post(&s, json_ct, None, open.repeat(200_000).into_bytes());
        assert_eq!(code, 400, "{open}: {text}");
        assert!(text.starts_with("error unmarshaling push request: "), "{text}");
    }

    // a stream with 100,000 labels: rejected by max_label_names_per_series
    let t = now_ns();
    let labels: serde_json::Map<String, Value> = (0..100_000).map(|i| (format!("l{i}"), json!("v"))).collect();
    let body = json!({"streams": [{"stream": labels, "values": [[t.to_string(), "x"]]}]});
    let (code, text) = post(&s, json_ct, None, body.to_string().into_bytes());
    assert_eq!(code, 400);
    assert!(text.ends_with("has 100000 label names; limit 15\n"), "{}", &text[text.len().saturating_sub(200)..]);

    // timestamps: overflowing digits, the extremes of int64
    let body = json!({"streams": [{"stream": {"app": "ts"}, "values": [["99999999999999999999", "x"]]}]});
    let (code, text) = post(&s, json_ct, None, body.to_string().into_bytes());
    assert_eq!(code, 400);
    assert!(text.contains(r#"strconv.ParseInt: parsing "99999999999999999999": value out of range"#), "{text}");
    let body = json!({"streams": [{"stream": {"app": "ts"}, "values": [[i64::MAX.to_string(), "x"]]}]});
    let (code, text) = post(&s, json_ct, None, body.to_string().into_bytes());
    assert_eq!(code, 400);
    assert!(text.contains("has timestamp too new: 2262-04-11T23:47:16Z"), "{text}");
    // with reject_old_samples off, the oldest int64 instants are stored and read back
    for (ts, line) in [(i64::MIN, "oldest"), (-1, "before epoch"), (0, "epoch")] {
        let body = json!({"streams": [{"stream": {"app": "neg"}, "values": [[ts.to_string(), line]]}]});
        let (code, text) = post(&s, json_ct, None, body.to_string().into_bytes());
        assert_eq!(code, 204, "{ts}: {text}");
    }
    let (code, text) = get(
        &s,
        "/loki/api/v1/query_range",
        &[("query", r#"{app="neg"}"#), ("start", &i64::MIN.to_string()), ("end", "1"), ("direction", "forward")],
    );
    assert_eq!(code, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let lines: Vec<&str> = v["data"]["result"][0]["values"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e[1].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(lines, ["oldest", "before epoch", "epoch"]);
    for (path, extra) in [
        ("/loki/api/v1/labels", vec![]),
        ("/loki/api/v1/series", vec![("match[]", r#"{app="neg"}"#)]),
        ("/loki/api/v1/query_range", vec![("query", r#"count_over_time({app="neg"}[1h])"#), ("step", "3600")]),
        ("/loki/api/v1/index/volume", vec![("query", r#"{app="neg"}"#)]),
    ] {
        let mut params = vec![("start", "-9223372036"), ("end", "3600")];
        params.extend(extra);
        let (code, text) = get(&s, path, &params);
        assert!(code == 200 || code == 400, "{path}: {code} {text}");
    }

    // invalid UTF-8: in a protobuf line it becomes U+FFFD; in a label string (a protobuf string) a 400
    let line = logproto_push("{app=\"utf\"}", "bad XX line");
    assert_eq!(post(&s, "application/x-protobuf", None, line).0, 204);
    let (code, text) = post(&s, "application/x-protobuf", None, logproto_push("{app=\"X\"}", "x"));
    assert_eq!(code, 400, "{text}");
    assert!(text.starts_with("unexpected error decoding protobuf"), "{text}");
    // ... and in a JSON body (which must be UTF-8) a U+FFFD as well
    let mut raw = format!(r#"{{"streams":[{{"stream":{{"app":"utf"}},"values":[["{}","json "#, t + 1).into_bytes();
    raw.extend(b"\xff\"]]}]}");
    let (code, text) = post(&s, json_ct, None, raw);
    assert_eq!(code, 204, "{text}");
    let (_, text) = get(&s, "/loki/api/v1/query_range", &[("query", r#"{app="utf"}"#), ("direction", "forward")]);
    assert!(text.contains("bad \u{fffd}\u{fffd} line") && text.contains("json \u{fffd}"), "{text}");

    // a stored line nested 50,000 deep: `| json` and field detection give a
    // parser error for it, the process keeps serving
    let deep = "{\"a\":".repeat(50_000);
    let body = json!({"streams": [{"stream": {"app": "deep"}, "values": [[(t + 2).to_string(), deep]]}]});
    assert_eq!(post(&s, json_ct, None, body.to_string().into_bytes()).0, 204);
    let (code, text) = get(&s, "/loki/api/v1/query_range", &[("query", r#"{app="deep"} | json"#)]);
    assert_eq!(code, 200, "{}", &text[..text.len().min(300)]);
    assert!(text.contains("JSONParserErr"), "{}", &text[..text.len().min(300)]);
    let (code, text) = get(&s, "/loki/api/v1/detected_fields", &[("query", r#"{app="deep"}"#)]);
    assert_eq!(code, 200, "{}", &text[..text.len().min(300)]);

    assert_eq!(get(&s, "/ready", &[]).0, 200, "still serving: {}", s.stderr());
    assert!(!s.stderr().contains("panicked"), "{}", s.stderr());
}

/// A snappy protobuf push of one entry at now; every `X` in the encoded label
/// string and line becomes the byte 0xff (invalid UTF-8, same length).
fn logproto_push(labels: &str, line: &str) -> Vec<u8> {
    let now = now_ns();
    let req = logproto::PushRequest {
        streams: vec![logproto::StreamAdapter {
            labels: labels.into(),
            entries: vec![logproto::EntryAdapter {
                timestamp: Some(prost_types::Timestamp { seconds: now / 1_000_000_000, nanos: 0 }),
                line: line.to_string().into(),
                structured_metadata: vec![],
                parsed: vec![],
            }],
            hash: 0,
        }],
        format: String::new(),
    };
    let mut raw = req.encode_to_vec();
    for text in [labels, line] {
        let at = raw.windows(text.len()).position(|w| w == text.as_bytes()).expect("encoded text");
        for b in &mut raw[at..at + text.len()] {
            if *b == b'X' {
                *b = 0xff;
            }
        }
    }
    snap::raw::Encoder::new().compress_vec(&raw).unwrap()
}
