//! The write-ahead log against the real binary: crashes (SIGKILL) under load
//! lose no acknowledged line and duplicate none; damaged segments are skipped
//! or cut, never a crash loop; a full disk refuses pushes without corrupting
//! the WAL; shutdown keeps data (checkpoint) or flushes it, as configured.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{client, metric, now_ns, Skald};
use serde_json::{json, Value};

const TENANT: &str = "wal";
const CONFIG: &str = "limits_config:\n  max_entries_limit_per_query: 1000000\n  ingestion_rate_mb: 1000\n  ingestion_burst_size_mb: 1000\n";

/// Pushes `lines` to stream {writer=<w>} at timestamps `ts`; true when acknowledged.
fn push(port: u16, writer: usize, lines: &[(i64, String)]) -> Result<u16, String> {
    let values: Vec<Value> = lines.iter().map(|(ts, l)| json!([ts.to_string(), l])).collect();
    let body = json!({"streams": [{"stream": {"writer": writer.to_string()}, "values": values}]});
    client()
        .post(format!("http://127.0.0.1:{port}/loki/api/v1/push"))
        .header("X-Scope-OrgID", TENANT)
        .header("Content-Type", "application/json")
        .timeout(Duration::from_secs(5))
        .body(body.to_string())
        .send()
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

/// Every line of the tenant with its count, read back in one query.
fn all_lines(s: &Skald, start: i64) -> HashMap<String, usize> {
    let (st, end) = (start.to_string(), (now_ns() + 60_000_000_000).to_string());
    let q =
        [("query", r#"{writer=~".+"}"#), ("limit", "1000000"), ("start", &st), ("end", &end), ("direction", "forward")];
    let r = client().get(s.url("/loki/api/v1/query_range")).header("X-Scope-OrgID", TENANT).query(&q).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().unwrap();
    let mut out = HashMap::new();
    for stream in v["data"]["result"].as_array().unwrap() {
        for e in stream["values"].as_array().unwrap() {
            *out.entry(e[1].as_str().unwrap().to_string()).or_insert(0) += 1;
        }
    }
    out
}

/// A small deterministic generator (no dependency): xorshift.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn sigkill_under_load_loses_and_duplicates_nothing() {
    // checkpoints every 200ms: crashes land before, during and after them
    let mut s = Skald::start(&format!("{CONFIG}ingester:\n  wal:\n    checkpoint_duration: 200ms\n"));
    let start = now_ns() - 1_000_000_000;
    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let sent: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut rng = Rng(0x5eed_2026_1125);
    let writers = 4;
    let mut counters = vec![0u64; writers];
    for round in 0..4 {
        let stop = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let (stop, acked, sent) = (stop.clone(), acked.clone(), sent.clone());
                let port = s.http_port;
                let mut n = counters[w];
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let batch: Vec<(i64, String)> = (0..20)
                            .map(|i| {
                                n += 1;
                                (start + (n as i64) * 1000 + i, format!("w{w} n{n} round{round} payload level=info"))
                            })
                            .collect();
                        sent.lock().unwrap().extend(batch.iter().map(|b| b.1.clone()));
                        if let Ok(204) = push(port, w, &batch) {
                            acked.lock().unwrap().extend(batch.into_iter().map(|b| b.1));
                        }
                    }
                    n
                })
            })
            .collect();
        // let the writers get going, then crash at a random moment
        let deadline = Instant::now() + Duration::from_secs(20);
        let target = acked.lock().unwrap().len() + 2000 + (rng.next() % 4000) as usize;
        while acked.lock().unwrap().len() < target {
            assert!(Instant::now() < deadline, "pushes are not being acknowledged");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(rng.next() % 200));
        s.kill();
        stop.store(true, Ordering::Relaxed);
        for (w, h) in handles.into_iter().enumerate() {
            counters[w] = h.join().unwrap();
        }
        s.start_again();
    }
    let acked = acked.lock().unwrap().clone();
    let sent = sent.lock().unwrap().clone();
    let got = all_lines(&s, start);
    eprintln!("acknowledged {}, sent {}, read back {}", acked.len(), sent.len(), got.len());
    assert!(acked.len() >= 8000, "four rounds of load");
    let log = s.stderr();
    assert!(log.matches("WAL replayed").count() >= 4, "every start replayed the WAL");
    assert!(log.contains("WAL checkpoint written"), "checkpoints were taken under load");
    let missing: Vec<_> = acked.iter().filter(|l| !got.contains_key(*l)).take(5).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged lines lost, e.g. {missing:?}",
        acked.iter().filter(|l| !got.contains_key(*l)).count(),
        acked.len()
    );
    let dup: Vec<_> = got.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(dup.is_empty(), "duplicated lines: {dup:?}");
    assert!(got.keys().all(|l| sent.contains(l)), "only lines that were sent");
    assert_eq!(
        metric(&s, "loki_ingester_wal_corruptions_total"),
        0.0,
        "a crash leaves a torn tail at most, never corruption"
    );
}
