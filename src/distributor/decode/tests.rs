use std::io::Write;

use super::*;

fn cache() -> LabelCache {
    LabelCache::new(vec![])
}

fn body<'a>(ct: &'a str, ce: Option<&'a str>, b: Vec<u8>) -> PushBody<'a> {
    PushBody { content_type: Some(ct), content_encoding: ce, body: Bytes::from(b), legacy: false }
}

fn proto_body(lines: &[&str]) -> Vec<u8> {
    let req = logproto::PushRequest {
        streams: vec![logproto::StreamAdapter {
            labels: r#"{app="a", env="x"}"#.into(),
            entries: lines
                .iter()
                .enumerate()
                .map(|(i, l)| logproto::EntryAdapter {
                    timestamp: Some(prost_types::Timestamp { seconds: 10, nanos: i as i32 }),
                    line: Bytes::from(l.to_string()),
                    structured_metadata: vec![logproto::LabelPairAdapter { name: "k".into(), value: "v".into() }],
                    parsed: vec![],
                })
                .collect(),
            hash: 0,
        }],
        format: String::new(),
    };
    snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()).unwrap()
}

#[test]
fn json_with_metadata() {
    let j = br#"{"streams":[{"stream":{"app":"a"},"values":[["1","one"],["2","two",{"trace_id":"t1"}]]}]}"#;
    let s = decode_push(body("application/json; charset=utf-8", None, j.to_vec()), 1 << 20, 1 << 20, &cache()).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].labels.to_string(), r#"{app="a"}"#);
    assert_eq!(s[0].entries[1].metadata, vec![("trace_id".to_string(), "t1".to_string())]);
    assert_eq!(s[0].entries[1].ts, 2);
}

#[test]
fn json_errors_are_bad_requests() {
    for bad in [
        &br#"{"streams":[{"stream":{"app":"a"},"values":[[1,"one"]]}]}"#[..],
        br#"{"streams":[{"stream":{"app":"a"},"values":[["x","one"]]}]}"#,
        br#"{"streams":[{"stream":{"1app":"a"},"values":[["1","one"]]}]}"#,
        b"not json",
    ] {
        let e = decode_push(body("application/json", None, bad.to_vec()), 1 << 20, 1 << 20, &cache()).unwrap_err();
        assert_eq!(e.status(), 400, "{e}");
    }
}

#[test]
fn snappy_protobuf_and_gzip_wrapping() {
    let p = proto_body(&["a", "b"]);
    let s = decode_push(body("application/x-protobuf", None, p.clone()), 1 << 20, 1 << 20, &cache()).unwrap();
    assert_eq!(s[0].entries.len(), 2);
    assert_eq!(s[0].entries[1].ts, 10_000_000_001);
    assert_eq!(s[0].entries[0].metadata.len(), 1);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&p).unwrap();
    let s = decode_push(body("application/x-protobuf", Some("gzip"), gz.finish().unwrap()), 1 << 20, 1 << 20, &cache())
        .unwrap();
    assert_eq!(s[0].entries.len(), 2);
    let e = decode_push(
        body("application/x-protobuf", None, b"\xff\xff\xff\xffgarbage".to_vec()),
        1 << 20,
        1 << 20,
        &cache(),
    )
    .unwrap_err();
    assert_eq!(e.status(), 400);
}

#[test]
fn limits_before_and_after_decompression() {
    let e = decode_push(body("application/json", None, vec![b' '; 2000]), 1000, 1 << 20, &cache()).unwrap_err();
    assert_eq!(e.to_string(), "request body too large: message size too large than max (2000 vs 1000)");
    // a gzip bomb: 10 MB of zeros, compressed to a few KB
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![0u8; 10 << 20]).unwrap();
    let e = decode_push(body("application/json", Some("gzip"), gz.finish().unwrap()), 1 << 20, 1 << 20, &cache())
        .unwrap_err();
    assert_eq!(e.status(), 413);
    // snappy declaring a huge length is refused before allocating
    let p = snap::raw::Encoder::new().compress_vec(&vec![0u8; 2 << 20]).unwrap();
    let e = decode_push(body("application/x-protobuf", None, p), 1 << 20, 1 << 20, &cache()).unwrap_err();
    assert_eq!(e.status(), 413);
}

#[test]
fn content_headers() {
    let e = decode_push(body("application/json", Some("br"), b"{}".to_vec()), 1 << 20, 1 << 20, &cache()).unwrap_err();
    assert_eq!(e.to_string(), "Content-Encoding \"br\" not supported");
    let e = decode_push(body("", None, b"{}".to_vec()), 1 << 20, 1 << 20, &cache()).unwrap_err();
    assert_eq!(e.to_string(), "mime: no media type");
}

#[test]
fn legacy_json() {
    let j = br#"{"streams":[{"labels":"{foo=\"bar\"}","entries":[{"ts":"2024-01-01T00:00:00.5Z","line":"hi"}]}]}"#;
    let p = PushBody {
        content_type: Some("application/json"),
        content_encoding: None,
        body: Bytes::from(&j[..]),
        legacy: true,
    };
    let s = decode_push(p, 1 << 20, 1 << 20, &cache()).unwrap();
    assert_eq!(s[0].entries[0].ts, 1_704_067_200_500_000_000);
}
