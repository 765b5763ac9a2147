//! Shared by the multi-process tests (`microservices.rs`, `gateway.rs`):
//! numbered pushes to a few streams, reading every line back with its count,
//! the exactly-once check, the ring as a node sees it, and live-tail entries.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use skald::loadgen::tail_client::{Event, TailClient};

use super::{client, now_ns, wait_for};

/// Pushes one line to each of `streams` streams of `{app=<app>, s=<i>}` through
/// `base`; the lines (stream `i` at index `i`) when acknowledged (204).
pub fn push_round(base: &str, app: &str, streams: usize, round: usize) -> Result<Vec<String>, String> {
    let ts = now_ns();
    let lines: Vec<String> = (0..streams).map(|s| format!("{app} round {round:06} stream {s}")).collect();
    let body: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(s, l)| json!({"stream": {"app": app, "s": s.to_string()}, "values": [[ts.to_string(), l]]}))
        .collect();
    let r = client()
        .post(format!("{base}/loki/api/v1/push"))
        .header("Content-Type", "application/json")
        .body(json!({ "streams": body }).to_string())
        .send()
        .map_err(|e| e.to_string())?;
    match r.status().as_u16() {
        204 => Ok(lines),
        c => Err(format!("{c}: {}", r.text().unwrap_or_default())),
    }
}

/// Every line of `{app=<app>}` over the last hour through `base`'s query_range, with its count.
pub fn queried(base: &str, app: &str) -> HashMap<String, usize> {
    let q = format!(r#"{{app="{app}"}}"#);
    let params = [("query", q.as_str()), ("limit", "100000"), ("since", "1h"), ("direction", "forward")];
    let r = client().get(format!("{base}/loki/api/v1/query_range")).query(&params).send().unwrap();
    let status = r.status().as_u16();
    let body = r.text().unwrap();
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let mut out = HashMap::new();
    for s in v["data"]["result"].as_array().unwrap() {
        for e in s["values"].as_array().unwrap() {
            *out.entry(e[1].as_str().unwrap().to_string()).or_default() += 1;
        }
    }
    out
}

/// Every acknowledged line answered once, and nothing else.
pub fn assert_exactly_once(base: &str, app: &str, acked: &[String]) {
    let got = queried(base, app);
    let dups: Vec<_> = got.iter().filter(|(_, n)| **n > 1).take(3).collect();
    assert!(dups.is_empty(), "lines answered more than once: {dups:?}");
    let missing: Vec<_> = acked.iter().filter(|l| !got.contains_key(*l)).take(3).collect();
    assert!(missing.is_empty(), "acknowledged lines missing: {missing:?} of {}", acked.len());
    assert_eq!(got.len(), acked.len(), "no line that was never acknowledged");
}

/// Ring members as the node at `base` sees them: id -> (state, healthy).
pub fn ring(base: &str) -> HashMap<String, (String, bool)> {
    let r = client().get(format!("{base}/ring")).header("Accept", "application/json").send().unwrap();
    let v: Value = r.json().unwrap();
    v["shards"]
        .as_array()
        .map(|s| {
            s.iter()
                .map(|x| {
                    let id = x["id"].as_str().unwrap_or_default().to_string();
                    (id, (x["state"].as_str().unwrap_or_default().to_string(), x["healthy"] == true))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Entries `(ts, line)` of tail frames until `n` arrived (30 s at most).
pub fn tail_entries(t: &mut TailClient, n: usize) -> Vec<(i64, String)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut got = Vec::new();
    while got.len() < n {
        let left = deadline.checked_duration_since(Instant::now()).unwrap_or_else(|| panic!("{} of {n}", got.len()));
        match t.next(left).unwrap() {
            Event::Frame(f) => {
                for s in f["streams"].as_array().unwrap() {
                    for v in s["values"].as_array().unwrap() {
                        got.push((v[0].as_str().unwrap().parse().unwrap(), v[1].as_str().unwrap().to_string()));
                    }
                }
            }
            Event::Closed(code, why) => panic!("closed {code}: {why}"),
            _ => {}
        }
    }
    got
}

/// Numbered pushes (`push_round`) in a loop on a thread until `stop`: what the
/// kill-under-load tests push while they take ingesters away.
pub struct Pusher {
    stop: Arc<AtomicBool>,
    rounds: Arc<AtomicUsize>,
    acked: Arc<Mutex<Vec<String>>>,
    failures: Arc<Mutex<Vec<String>>>,
    thread: JoinHandle<()>,
}

impl Pusher {
    pub fn start(base: &str, app: &'static str, streams: usize) -> Pusher {
        let stop = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(AtomicUsize::new(0));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, rounds, acked, failures) = (stop.clone(), rounds.clone(), acked.clone(), failures.clone());
            let base = base.to_string();
            std::thread::spawn(move || {
                let mut round = 0;
                while !stop.load(Ordering::Relaxed) {
                    match push_round(&base, app, streams, round) {
                        Ok(lines) => acked.lock().unwrap().extend(lines),
                        Err(e) => failures.lock().unwrap().push(e),
                    }
                    round += 1;
                    rounds.store(round, Ordering::Relaxed);
                }
            })
        };
        Pusher { stop, rounds, acked, failures, thread }
    }

    /// Waits until `n` more rounds have been pushed (answered, either way).
    pub fn rounds(&self, n: usize) {
        let target = self.rounds.load(Ordering::Relaxed) + n;
        wait_for("pushes to go on", Duration::from_secs(60), || self.rounds.load(Ordering::Relaxed) >= target);
    }

    /// Stops pushing: (acknowledged lines, failed pushes' errors).
    pub fn stop(self) -> (Vec<String>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        let acked = std::mem::take(&mut *self.acked.lock().unwrap());
        let failures = std::mem::take(&mut *self.failures.lock().unwrap());
        (acked, failures)
    }
}
