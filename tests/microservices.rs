//! Microservices mode with real processes: three ingesters (replication factor
//! 3), a distributor and a querier, each its own `skald -target=...` process,
//! joined by gossip, sharing one filesystem object store. Pushes go through the
//! distributor, queries and tails through the querier; neither has an ingester
//! of its own, so everything crosses gRPC. One ingester is SIGKILLed under
//! continuous pushes and restarted.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{client, free_port, now_ns, Skald, TempDir};
use serde_json::{json, Value};
use skald::loadgen::tail_client::{Event, TailClient};

const STREAMS: usize = 4;

struct Cluster {
    ingesters: Vec<Skald>,
    distributor: Skald,
    querier: Skald,
    store: TempDir,
    seed: u16,
}

fn role(target: &str, id: &str, seed: u16, port: u16, store: &TempDir) -> Skald {
    role_with(target, id, seed, port, store, "", "")
}

/// A process of the cluster with `storage` added to `storage_config` and
/// `extra` YAML appended to the shared config.
fn role_with(target: &str, id: &str, seed: u16, port: u16, store: &TempDir, storage: &str, extra: &str) -> Skald {
    let yaml = format!(
        "auth_enabled: false\n\
         memberlist:\n  join_members: [127.0.0.1:{seed}]\n  bind_addr: [127.0.0.1]\n  bind_port: {port}\n  gossip_interval: 100ms\n\
         ingester:\n  lifecycler:\n    id: {id}\n    ring:\n      replication_factor: 3\n      heartbeat_timeout: 3s\n\
         storage_config:\n  filesystem:\n    directory: {}\n{storage}\
         limits_config:\n  per_stream_rate_limit: 1GB\n  per_stream_rate_limit_burst: 1GB\n  ingestion_rate_mb: 1000\n  ingestion_burst_size_mb: 1000\n  max_entries_limit_per_query: 1000000\n{extra}",
        store.0.display()
    );
    Skald::start_with(&yaml, &[&format!("-target={target}")], &[])
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Ring members as `node` sees them: id -> (state, healthy).
fn ring(node: &Skald) -> HashMap<String, (String, bool)> {
    let v: Value = client().get(node.url("/ring")).header("Accept", "application/json").send().unwrap().json().unwrap();
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

fn all_active(node: &Skald) -> bool {
    let r = ring(node);
    r.len() == 3 && r.values().all(|(s, h)| s == "ACTIVE" && *h)
}

fn start() -> Cluster {
    let store = TempDir::new("ms-store");
    let ports: Vec<u16> = (0..5).map(|_| free_port()).collect();
    let ingesters: Vec<Skald> =
        (0..3).map(|i| role("ingester", &format!("ingester-{i}"), ports[0], ports[i], &store)).collect();
    let distributor = role("distributor", "distributor-0", ports[0], ports[3], &store);
    let querier = role("querier", "querier-0", ports[0], ports[4], &store);
    for n in [&distributor, &querier] {
        wait_for("three ACTIVE ingesters in the ring", Duration::from_secs(30), || all_active(n));
    }
    Cluster { ingesters, distributor, querier, store, seed: ports[0] }
}

/// Pushes one line to each of the test's streams; the lines when acknowledged (204).
fn push_round(base: &str, round: usize) -> Result<Vec<(usize, String)>, String> {
    let ts = now_ns();
    let lines: Vec<(usize, String)> = (0..STREAMS).map(|s| (s, format!("round {round:06} stream {s}"))).collect();
    let streams: Vec<Value> = lines
        .iter()
        .map(|(s, l)| json!({"stream": {"app": "ms", "s": s.to_string()}, "values": [[ts.to_string(), l]]}))
        .collect();
    let r = client()
        .post(format!("{base}/loki/api/v1/push"))
        .header("Content-Type", "application/json")
        .body(json!({ "streams": streams }).to_string())
        .send()
        .map_err(|e| e.to_string())?;
    match r.status().as_u16() {
        204 => Ok(lines),
        c => Err(format!("{c}: {}", r.text().unwrap_or_default())),
    }
}

/// Every line of `{app="ms"}` the querier answers, with its count.
fn queried(q: &Skald) -> HashMap<String, usize> {
    let params = [("query", r#"{app="ms"}"#), ("limit", "100000"), ("since", "1h"), ("direction", "forward")];
    let r = client().get(q.url("/loki/api/v1/query_range")).query(&params).send().unwrap();
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

fn count_over_time(q: &Skald) -> f64 {
    let params = [("query", r#"sum(count_over_time({app="ms"}[1h]))"#)];
    let v: Value = client().get(q.url("/loki/api/v1/query")).query(&params).send().unwrap().json().unwrap();
    v["data"]["result"][0]["value"][1].as_str().unwrap_or("0").parse().unwrap()
}

fn assert_exactly_once(q: &Skald, acked: &[String]) {
    let got = queried(q);
    let dups: Vec<_> = got.iter().filter(|(_, n)| **n > 1).take(3).collect();
    assert!(dups.is_empty(), "lines answered more than once: {dups:?}");
    let missing: Vec<_> = acked.iter().filter(|l| !got.contains_key(*l)).take(3).collect();
    assert!(missing.is_empty(), "acknowledged lines missing ({} of {}): {missing:?}", missing.len(), acked.len());
    assert_eq!(got.len(), acked.len(), "no line that was never acknowledged");
    assert_eq!(count_over_time(q) as usize, acked.len(), "samples of replicas count once");
}

#[test]
fn an_ingester_killed_under_pushes_loses_nothing_and_rejoins() {
    let mut c = start();
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let rounds = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let pusher = {
        let (stop, acked, failures, rounds) = (stop.clone(), acked.clone(), failures.clone(), rounds.clone());
        let base = c.distributor.url("");
        std::thread::spawn(move || {
            let mut round = 0;
            while !stop.load(Ordering::Relaxed) {
                match push_round(&base, round) {
                    Ok(lines) => acked.lock().unwrap().extend(lines.into_iter().map(|(_, l)| l)),
                    Err(e) => failures.lock().unwrap().push(e),
                }
                round += 1;
                rounds.store(round, Ordering::Relaxed);
            }
        })
    };
    let pushed = |n: usize| {
        let target = rounds.load(Ordering::Relaxed) + n;
        wait_for("pushes to go on", Duration::from_secs(60), || rounds.load(Ordering::Relaxed) >= target);
    };
    pushed(100);
    c.ingesters[1].kill();
    pushed(100);
    wait_for("the killed ingester to turn unhealthy", Duration::from_secs(30), || {
        ring(&c.querier).get("ingester-1").is_some_and(|(_, h)| !h)
    });
    pushed(100);
    stop.store(true, Ordering::Relaxed);
    pusher.join().unwrap();
    let fails = failures.lock().unwrap().clone();
    assert!(fails.is_empty(), "with two of three replicas up every push succeeds: {:?}", &fails[..fails.len().min(3)]);
    let acked_now = acked.lock().unwrap().clone();
    assert!(acked_now.len() >= 300 * STREAMS);
    assert_exactly_once(&c.querier, &acked_now);

    // back: it replays its WAL, rejoins and turns ACTIVE; answers stay exact
    c.ingesters[1].start_again();
    wait_for("the restarted ingester ACTIVE again", Duration::from_secs(30), || all_active(&c.querier));
    let held = common::metric(&c.ingesters[1], r#"loki_ingester_memory_streams{tenant="fake"}"#);
    assert_eq!(held as usize, STREAMS, "the restarted ingester got its streams back from its WAL");
    let more: Vec<String> =
        (0..20).flat_map(|r| push_round(&c.distributor.url(""), 1_000_000 + r).unwrap()).map(|(_, l)| l).collect();
    let all: Vec<String> = acked_now.into_iter().chain(more).collect();
    assert_exactly_once(&c.querier, &all);
}

/// Lines of live-tail frames until `n` arrived.
fn tail_lines(t: &mut TailClient, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut got = Vec::new();
    while got.len() < n {
        let left = deadline.checked_duration_since(Instant::now()).unwrap_or_else(|| panic!("{} of {n}", got.len()));
        if let Event::Frame(f) = t.next(left).unwrap() {
            for s in f["streams"].as_array().unwrap() {
                got.extend(s["values"].as_array().unwrap().iter().map(|v| v[1].as_str().unwrap().to_string()));
            }
        }
    }
    got
}

#[test]
fn a_tail_on_the_querier_gets_every_line_once_from_three_replicas() {
    let mut c = start();
    let q = [("query", r#"{app="ms", s="0"} |= "round""#), ("delay_for", "1")];
    let mut t = TailClient::connect(&c.querier.url(""), "/loki/api/v1/tail", &q, &[]).expect("tail opens");
    // the tail subscribes on every ingester before it answers: pushed lines all arrive
    let base = c.distributor.url("");
    let first: Vec<String> = (0..50).map(|r| push_round(&base, r).unwrap()[0].1.clone()).collect();
    assert_eq!(tail_lines(&mut t, 50), first, "every line once, in order, though three ingesters sent it");
    c.ingesters[2].kill();
    let second: Vec<String> = (50..100).map(|r| push_round(&base, r).unwrap()[0].1.clone()).collect();
    assert_eq!(tail_lines(&mut t, 50), second, "an ingester lost: the replicas still deliver");
    // nothing more (no late duplicate)
    let extra = push_round(&base, 100).unwrap()[0].1.clone();
    assert_eq!(tail_lines(&mut t, 1), vec![extra]);
}

#[test]
fn a_store_only_querier_finds_flushed_chunks_through_the_index_gateway() {
    let c = start();
    let gateway = role("index-gateway", "index-gateway-0", c.seed, free_port(), &c.store);
    let storage =
        format!("  tsdb_shipper:\n    index_gateway_client:\n      server_address: 127.0.0.1:{}\n", gateway.grpc_port);
    let extra = "querier:\n  query_store_only: true\n";
    let q = role_with("querier", "querier-store", c.seed, free_port(), &c.store, &storage, extra);
    let base = c.distributor.url("");
    let acked: Vec<String> = (0..30).flat_map(|r| push_round(&base, r).unwrap()).map(|(_, l)| l).collect();
    assert!(queried(&q).is_empty(), "nothing is stored before the flush");
    for i in &c.ingesters {
        let r = client().post(i.url("/flush")).send().unwrap();
        assert_eq!(r.status().as_u16(), 204);
    }
    wait_for("every ingester to flush", Duration::from_secs(30), || {
        c.ingesters.iter().all(|i| common::metric(i, "loki_ingester_chunks_flushed_total") >= STREAMS as f64)
    });
    let got = queried(&q);
    assert_eq!(got.len(), acked.len(), "every line, from the store alone");
    assert!(got.values().all(|n| *n == 1), "three ingesters flushed the same stream: each line still counts once");
    assert!(common::metric(&gateway, "skald_index_gateway_lookups_total") >= 1.0, "the lookup went to the gateway");
}

#[test]
fn a_tail_client_that_stops_reading_gets_dropped_entries_while_pushes_go_on() {
    let c = start();
    let q = [("query", r#"{app="slowms"}"#)];
    let mut t = TailClient::connect(&c.querier.url(""), "/loki/api/v1/tail", &q, &[]).expect("tail opens");
    let push = |values: Vec<Value>| -> Duration {
        let t0 = Instant::now();
        let body = json!({"streams": [{"stream": {"app": "slowms"}, "values": values}]});
        let r = client()
            .post(c.distributor.url("/loki/api/v1/push"))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 204);
        t0.elapsed()
    };
    push(vec![json!([now_ns().to_string(), "first"])]);
    assert_eq!(tail_lines(&mut t, 1), vec!["first"]);
    // the client reads nothing now: 40 MB go past it, through three ingesters' streams
    let big = "x".repeat(16 << 10);
    let base = now_ns();
    let mut slowest = Duration::ZERO;
    for i in 0..640 {
        slowest = slowest.max(push((0..4).map(|j| json!([(base + i * 10 + j).to_string(), big])).collect()));
    }
    assert!(slowest < Duration::from_secs(5), "a push waited {slowest:?} on the stalled tail");
    let (mut delivered, mut dropped) = (0usize, Vec::<Value>::new());
    let deadline = Instant::now() + Duration::from_secs(60);
    while dropped.is_empty() {
        assert!(Instant::now() < deadline, "no dropped_entries reported ({delivered} entries delivered)");
        if let Event::Frame(f) = t.next(Duration::from_secs(30)).unwrap() {
            for s in f["streams"].as_array().unwrap() {
                delivered += s["values"].as_array().unwrap().len();
            }
            dropped.extend(f["dropped_entries"].as_array().cloned().unwrap_or_default());
        }
    }
    assert!(delivered < 2560, "some entries were dropped, {delivered} delivered");
    assert_eq!(dropped[0]["labels"]["app"], "slowms");
    // the tail goes on
    push(vec![json!([now_ns().to_string(), "after the stall"])]);
    let deadline = Instant::now() + Duration::from_secs(30);
    'found: loop {
        assert!(Instant::now() < deadline, "the tail stopped after the stall");
        if let Event::Frame(f) = t.next(Duration::from_secs(30)).unwrap() {
            for s in f["streams"].as_array().unwrap() {
                if s["values"].as_array().unwrap().iter().any(|v| v[1] == "after the stall") {
                    break 'found;
                }
            }
        }
    }
}

fn signal(s: &Skald, sig: &str) {
    let st = std::process::Command::new("kill").args([sig, &s.pid().to_string()]).status().unwrap();
    assert!(st.success());
}

#[test]
fn a_hung_ingester_holds_up_neither_pushes_nor_queries() {
    let c = start();
    // frozen, not dead: its connections stay open and its heartbeat is still fresh for a while
    signal(&c.ingesters[0], "-STOP");
    let base = c.distributor.url("");
    // each call must answer within the test client's timeout (30 s), far below the 60 s a call to the frozen
    // ingester may take: pushes return at quorum, queries once all but rf/2 ingesters answered
    let acked: Vec<String> = (0..20).flat_map(|r| push_round(&base, r).unwrap()).map(|(_, l)| l).collect();
    let got = queried(&c.querier);
    assert_eq!(got.len(), acked.len(), "every acknowledged line from the two live replicas");
    signal(&c.ingesters[0], "-CONT");
    // back: it got the copies the distributor kept sending in the background
    wait_for("the thawed ingester to hold every stream", Duration::from_secs(30), || {
        common::metric(&c.ingesters[0], r#"loki_ingester_memory_streams{tenant="fake"}"#) as usize == STREAMS
    });
}
