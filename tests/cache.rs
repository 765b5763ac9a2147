//! The chunk cache against a real memcached: the client round-trips binary values,
//! and a querier configured with Loki's memcached_client keys serves repeated
//! queries from memcached; a missing memcached only costs cache misses.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use common::{client, now_ns, MemcachedServer, Skald};
use serde_json::{json, Value};
use skald::storage::memcached::Memcached;

/// The two tests take turns: each owns its memcached, and neither's restarts or
/// kills overlap the other's connections.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn client_round_trips_binary_values() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let m = MemcachedServer::start();
    let c = Memcached::new(&format!("127.0.0.1:{}", m.port), Duration::from_secs(10), Duration::ZERO, 1 << 20).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let v: Bytes = (0..=255u8).cycle().take(100_000).collect::<Vec<_>>().into();
        assert_eq!(c.get("t/chunks/a").await, None);
        c.set("t/chunks/a", &v).await;
        assert_eq!(m.stat("total_items"), 1, "the set reached this memcached and was stored");
        assert_eq!(c.get("t/chunks/a").await, Some(v));
        c.set("too big", &Bytes::from(vec![1u8; 2 << 20])).await;
        assert_eq!(c.get("too big").await, None, "items over max_item_size are not stored");
    });
    assert!(m.stat("get_hits") >= 1);
    drop(m);
    rt.block_on(async { assert_eq!(c.get("t/chunks/a").await, None, "a dead server is a miss, not an error") });
}

fn push_flush_restart(s: &mut Skald) -> (String, String) {
    let t = now_ns() - 30_000_000_000;
    let values: Vec<Value> = (0..500).map(|i| json!([(t + i).to_string(), format!("line {i}")])).collect();
    let body = json!({"streams": [{"stream": {"app": "cached"}, "values": values}]});
    let r = client()
        .post(s.url("/loki/api/v1/push"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(client().post(s.url("/flush")).send().unwrap().status().as_u16(), 204);
    s.restart();
    ((t - 1).to_string(), (t + 1_000).to_string())
}

fn lines(s: &Skald, start: &str, end: &str) -> usize {
    let v: Value = client()
        .get(s.url("/loki/api/v1/query_range"))
        .query(&[("query", r#"{app="cached"}"#), ("limit", "1000"), ("start", start), ("end", end)])
        .send()
        .unwrap()
        .json()
        .unwrap();
    v["data"]["result"].as_array().unwrap().iter().map(|s| s["values"].as_array().unwrap().len()).sum()
}

#[test]
fn querier_uses_memcached_for_chunks() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let m = MemcachedServer::start();
    let yaml = format!(
        "auth_enabled: false\nchunk_store_config:\n  chunk_cache_config:\n    embedded_cache:\n      enabled: false\n    memcached:\n      expiration: 1h\n    memcached_client:\n      addresses: 127.0.0.1:{}\n      timeout: 10s\n",
        m.port
    );
    let mut s = Skald::start(&yaml);
    let (start, end) = push_flush_restart(&mut s);
    assert_eq!(lines(&s, &start, &end), 500, "first query: from the store, fills memcached");
    assert!(m.stat("curr_items") >= 1, "the chunk was stored in memcached");
    let hits = m.stat("get_hits");
    assert_eq!(lines(&s, &start, &end), 500, "second query: same answer");
    assert!(m.stat("get_hits") > hits, "the second query read the chunk from memcached");
    drop(m);
    assert_eq!(lines(&s, &start, &end), 500, "without memcached the store still answers");
}
