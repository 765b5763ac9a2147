//! Data survives flushes and restarts: push, flush (through /flush and through
//! chunk_idle_period), restart the process, and every answer stays the same,
//! on the local filesystem and on a real S3 server (s3s-fs).

mod common;

use std::time::{Duration, Instant};

use common::{client, metric, now_ns, S3Server, Skald, S3_KEY, S3_SECRET};
use serde_json::{json, Value};

const TENANT: &str = "store";

fn push(s: &Skald, base: i64) {
    let mut streams = Vec::new();
    for app in ["api", "db", "web"] {
        let values: Vec<Value> = (0..200)
            .map(|i| {
                let ts = (base + i * 1_000_000 + (app.len() as i64)).to_string();
                if i % 10 == 0 {
                    json!([ts, format!("{app} line {i} level=error"), {"trace_id": format!("t{i}")}])
                } else {
                    json!([ts, format!("{app} line {i} level=info")])
                }
            })
            .collect();
        streams.push(json!({"stream": {"app": app, "env": "prod"}, "values": values}));
    }
    let r = client()
        .post(s.url("/loki/api/v1/push"))
        .header("X-Scope-OrgID", TENANT)
        .header("Content-Type", "application/json")
        .body(json!({ "streams": streams }).to_string())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204, "{}", r.text().unwrap());
}

/// The answers that must not change: log queries, labels, values, series,
/// index stats and volume.
fn answers(s: &Skald, base: i64) -> Vec<Value> {
    let (start, end) = ((base - 1_000_000_000).to_string(), (base + 10_000_000_000).to_string());
    let get = |path: &str, q: &[(&str, &str)]| -> Value {
        let mut params = vec![("start", start.as_str()), ("end", end.as_str())];
        params.extend_from_slice(q);
        let r = client().get(s.url(path)).header("X-Scope-OrgID", TENANT).query(&params).send().unwrap();
        let mut v: Value = r.json().unwrap();
        if let Some(d) = v.get_mut("data") {
            d.as_object_mut().map(|o| o.remove("stats"));
        }
        v.as_object_mut().map(|o| o.remove("warnings"));
        v
    };
    vec![
        get("/loki/api/v1/query_range", &[("query", r#"{env="prod"}"#), ("limit", "1000"), ("direction", "forward")]),
        get("/loki/api/v1/query_range", &[("query", r#"{app=~"api|db"} |= "error""#), ("limit", "1000")]),
        get("/loki/api/v1/query_range", &[("query", r#"{env="prod"}"#), ("limit", "7")]),
        get("/loki/api/v1/labels", &[]),
        get("/loki/api/v1/label/app/values", &[]),
        get("/loki/api/v1/series", &[("match[]", r#"{app="db"}"#)]),
        get("/loki/api/v1/index/stats", &[("query", r#"{env="prod"}"#)]),
        get("/loki/api/v1/index/volume", &[("query", r#"{env="prod"}"#), ("targetLabels", "app")]),
        get("/loki/api/v1/index/volume_range", &[("query", r#"{app="db"}"#), ("step", "1s")]),
    ]
}

fn raw_query(s: &Skald, base: i64) -> Value {
    let (start, end) = ((base - 1_000_000_000).to_string(), (base + 10_000_000_000).to_string());
    let q = [("query", r#"{env="prod"}"#), ("limit", "1000"), ("start", &start), ("end", &end)];
    client()
        .get(s.url("/loki/api/v1/query_range"))
        .header("X-Scope-OrgID", TENANT)
        .query(&q)
        .send()
        .unwrap()
        .json()
        .unwrap()
}

fn count_lines(v: &Value) -> usize {
    v["data"]["result"].as_array().unwrap().iter().map(|s| s["values"].as_array().unwrap().len()).sum()
}

fn flushed_total(s: &Skald) -> u64 {
    let m = client().get(s.url("/metrics")).send().unwrap().text().unwrap();
    m.lines()
        .find(|l| l.starts_with("loki_ingester_chunks_flushed_total "))
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn survives_flush_and_restart(yaml: &str) {
    let mut s = Skald::start(yaml);
    let base = now_ns() - 60_000_000_000;
    push(&s, base);
    let before = answers(&s, base);
    assert_eq!(count_lines(&before[0]), 600);
    assert_eq!((&before[6]["streams"], &before[6]["entries"]), (&json!(3), &json!(600)), "index stats");
    let r = client().post(s.url("/flush")).send().unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert!(flushed_total(&s) >= 3, "one chunk per stream flushed");
    assert_eq!(answers(&s, base), before, "answers after /flush (served from the store)");
    s.restart();
    assert_eq!(answers(&s, base), before, "answers after a restart");
}

#[test]
fn filesystem_flush_and_restart() {
    survives_flush_and_restart("auth_enabled: true\n");
}

#[test]
fn s3_flush_and_restart() {
    let s3 = S3Server::start("loki-data");
    let yaml = format!(
        "storage_config:\n  aws:\n    endpoint: {}\n    bucketnames: loki-data\n    access_key_id: {S3_KEY}\n    secret_access_key: {S3_SECRET}\n    s3forcepathstyle: true\n    insecure: true\nschema_config:\n  configs:\n    - from: 2020-10-24\n      store: tsdb\n      object_store: s3\n      schema: v13\n      index:\n        prefix: index_\n        period: 24h\n",
        s3.endpoint()
    );
    survives_flush_and_restart(&yaml);
    let stored = walk(&s3.dir.0.join("loki-data"));
    assert!(stored.iter().any(|p| p.contains("/store/chunks/")), "chunks in the bucket: {stored:?}");
    assert!(stored.iter().any(|p| p.contains("index/index_")), "index segments in the bucket");
}

#[test]
fn idle_chunks_are_flushed_by_the_check_loop() {
    let mut s = Skald::start("ingester:\n  chunk_idle_period: 1s\n  flush_check_period: 200ms\n");
    let base = now_ns() - 60_000_000_000;
    push(&s, base);
    let before = answers(&s, base);
    let deadline = Instant::now() + Duration::from_secs(20);
    while flushed_total(&s) < 3 {
        assert!(Instant::now() < deadline, "idle chunks were not flushed");
        std::thread::sleep(Duration::from_millis(100));
    }
    s.restart();
    assert_eq!(answers(&s, base), before);
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

#[test]
fn corrupt_objects_are_detected_counted_and_reported() {
    let mut s = Skald::start("auth_enabled: true\n");
    let base = now_ns() - 60_000_000_000;
    push(&s, base);
    assert_eq!(client().post(s.url("/flush")).send().unwrap().status().as_u16(), 204);
    s.restart();
    let files = walk(&s.dir.0.join("data/chunks"));
    let chunk = files.iter().find(|p| p.contains("/store/chunks/")).expect("a chunk file").clone();
    let mut bytes = std::fs::read(&chunk).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0xff; // inside the last block's compressed data
    std::fs::write(&chunk, bytes).unwrap();
    let seg = files.iter().find(|p| p.ends_with(".skidx")).expect("an index segment").clone();

    let v = raw_query(&s, base);
    assert_eq!(v["status"], "success", "a corrupt chunk is skipped, the query answers");
    assert_eq!(count_lines(&v), 400, "the two intact streams are all there");
    let warnings = v["warnings"].as_array().expect("the answer says what it left out");
    assert!(warnings[0].as_str().unwrap().contains("checksum mismatch"), "{warnings:?}");
    assert!(metric(&s, "skald_storage_corrupt_objects_total{kind=\"chunk\"}") >= 1.0);

    // a truncated index segment: reported the same way, never a panic
    let len = std::fs::metadata(&seg).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&seg).unwrap().set_len(len / 2).unwrap();
    s.restart();
    let v = raw_query(&s, base);
    assert_eq!(v["status"], "success");
    assert!(v["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("index segment")), "{v}");
    assert!(metric(&s, "skald_storage_corrupt_objects_total{kind=\"index\"}") >= 1.0);
}

#[test]
fn s3_outage_during_flush_loses_nothing() {
    let mut s3 = S3Server::start("loki-data");
    let yaml = format!(
        "storage_config:\n  aws:\n    s3: s3://{S3_KEY}:{S3_SECRET}@{}/loki-data\n    s3forcepathstyle: true\n    insecure: true\ningester:\n  chunk_idle_period: 1s\n  flush_check_period: 200ms\n",
        s3.endpoint()
    );
    let mut s = Skald::start(&yaml);
    s3.stop();
    let base = now_ns() - 60_000_000_000;
    push(&s, base);
    let before = answers(&s, base);
    // flushes fail and are retried; the data stays queryable from memory
    let deadline = Instant::now() + Duration::from_secs(30);
    while metric(&s, "loki_ingester_chunks_flush_failures_total") < 3.0 {
        assert!(Instant::now() < deadline, "flush failures were not counted");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(flushed_total(&s), 0);
    assert_eq!(answers(&s, base), before, "nothing lost while the store is down");
    // the store comes back: the retries land everything
    s3.resume();
    let deadline = Instant::now() + Duration::from_secs(60);
    while flushed_total(&s) < 3 {
        assert!(Instant::now() < deadline, "retries did not flush after the store came back");
        std::thread::sleep(Duration::from_millis(100));
    }
    s.restart();
    let raw = raw_query(&s, base);
    assert!(raw.get("warnings").is_none(), "{}", raw["warnings"]);
    assert_eq!(answers(&s, base), before, "everything is in the store after the outage");
}
