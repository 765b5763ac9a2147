//! Microservices mode with real processes: three ingesters (replication factor
//! 3), a distributor and a querier, each its own `skald -target=...` process,
//! joined by gossip, sharing one filesystem object store. Pushes go through the
//! distributor, queries and tails through the querier; neither has an ingester
//! of its own, so everything crosses gRPC. One ingester is SIGKILLed under
//! continuous pushes and restarted; all three are restarted in turn (SIGTERM).

mod common;

use std::time::{Duration, Instant};

use common::lines::{assert_exactly_once, push_round, queried, ring, tail_entries, Pusher};
use common::{client, free_port, now_ns, wait_for, Skald, TempDir};
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
         ingester:\n  lifecycler:\n    id: {id}\n    ring:\n      replication_factor: 3\n      heartbeat_timeout: 10s\n\
         storage_config:\n  filesystem:\n    directory: {}\n{storage}\
         limits_config:\n  per_stream_rate_limit: 1GB\n  per_stream_rate_limit_burst: 1GB\n  ingestion_rate_mb: 1000\n  ingestion_burst_size_mb: 1000\n  max_entries_limit_per_query: 1000000\n{extra}",
        store.0.display()
    );
    Skald::start_with(&yaml, &[&format!("-target={target}")], &[])
}

fn all_active(node: &Skald) -> bool {
    let r = ring(&node.url(""));
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

/// Logs answered once each, and `count_over_time` counts each once too (samples of replicas collapse).
fn exactly_once_with_samples(q: &Skald, acked: &[String]) {
    assert_exactly_once(&q.url(""), "ms", acked);
    assert_eq!(count_over_time(q) as usize, acked.len(), "samples of replicas count once");
}

fn count_over_time(q: &Skald) -> f64 {
    let params = [("query", r#"sum(count_over_time({app="ms"}[1h]))"#)];
    let v: Value = client().get(q.url("/loki/api/v1/query")).query(&params).send().unwrap().json().unwrap();
    v["data"]["result"][0]["value"][1].as_str().unwrap_or("0").parse().unwrap()
}

#[test]
fn an_ingester_killed_under_pushes_loses_nothing_and_rejoins() {
    let mut c = start();
    let pusher = Pusher::start(&c.distributor.url(""), "ms", STREAMS);
    pusher.rounds(100);
    c.ingesters[1].kill();
    pusher.rounds(100);
    wait_for("the killed ingester to turn unhealthy", Duration::from_secs(30), || {
        ring(&c.querier.url("")).get("ingester-1").is_some_and(|(_, h)| !h)
    });
    pusher.rounds(100);
    let (acked_now, fails) = pusher.stop();
    assert!(fails.is_empty(), "with two of three replicas up every push succeeds: {:?}", &fails[..fails.len().min(3)]);
    assert!(acked_now.len() >= 300 * STREAMS);
    exactly_once_with_samples(&c.querier, &acked_now);

    // back: it replays its WAL, rejoins and turns ACTIVE; answers stay exact
    c.ingesters[1].start_again();
    wait_for("the restarted ingester ACTIVE again", Duration::from_secs(30), || all_active(&c.querier));
    let held = common::metric(&c.ingesters[1], r#"loki_ingester_memory_streams{tenant="fake"}"#);
    assert_eq!(held as usize, STREAMS, "the restarted ingester got its streams back from its WAL");
    let more: Vec<String> =
        (0..20).flat_map(|r| push_round(&c.distributor.url(""), "ms", STREAMS, 1_000_000 + r).unwrap()).collect();
    let all: Vec<String> = acked_now.into_iter().chain(more).collect();
    exactly_once_with_samples(&c.querier, &all);
}

/// A Kubernetes rolling restart: each ingester in turn gets SIGTERM under continuous
/// pushes (it goes LEAVING, keeps its ring place, its WAL keeps the data), comes
/// back, replays, turns ACTIVE, and only then is the next one taken down.
#[test]
fn a_rolling_restart_of_every_ingester_loses_nothing() {
    let mut c = start();
    let pusher = Pusher::start(&c.distributor.url(""), "ms", STREAMS);
    pusher.rounds(50);
    for i in 0..3 {
        let id = format!("ingester-{i}");
        let st = c.ingesters[i].terminate(Duration::from_secs(30));
        assert!(st.success(), "{id} exits cleanly on SIGTERM: {st}");
        wait_for("the stopped ingester LEAVING in the distributor's ring", Duration::from_secs(30), || {
            ring(&c.distributor.url("")).get(&id).is_some_and(|(s, _)| s == "LEAVING")
        });
        pusher.rounds(50);
        // a query meanwhile answers from the two replicas left
        let got = queried(&c.querier.url(""), "ms");
        assert!(!got.is_empty() && got.values().all(|&n| n == 1), "{id} down: each line once");
        c.ingesters[i].start_again();
        for n in [&c.distributor, &c.querier] {
            wait_for("the restarted ingester ACTIVE again", Duration::from_secs(30), || all_active(n));
        }
        pusher.rounds(20);
    }
    let (acked, fails) = pusher.stop();
    assert!(fails.is_empty(), "two of three replicas stay up throughout: {:?}", &fails[..fails.len().min(3)]);
    exactly_once_with_samples(&c.querier, &acked);
    for (i, ing) in c.ingesters.iter().enumerate() {
        let held = common::metric(ing, r#"loki_ingester_memory_streams{tenant="fake"}"#);
        assert_eq!(held as usize, STREAMS, "ingester-{i} holds every stream after its restart");
    }
}

#[test]
fn a_tail_on_the_querier_gets_every_line_once_from_three_replicas() {
    let mut c = start();
    let q = [("query", r#"{app="ms", s="0"} |= "round""#), ("delay_for", "1")];
    let mut t = TailClient::connect(&c.querier.url(""), "/loki/api/v1/tail", &q, &[]).expect("tail opens");
    // the tail subscribes on every ingester before it answers: pushed lines all arrive
    let base = c.distributor.url("");
    let first: Vec<String> = (0..50).map(|r| push_round(&base, "ms", STREAMS, r).unwrap()[0].clone()).collect();
    assert_eq!(
        tail_entries(&mut t, 50).into_iter().map(|(_, l)| l).collect::<Vec<_>>(),
        first,
        "every line once, in order, though three ingesters sent it"
    );
    c.ingesters[2].kill();
    let second: Vec<String> = (50..100).map(|r| push_round(&base, "ms", STREAMS, r).unwrap()[0].clone()).collect();
    assert_eq!(
        tail_entries(&mut t, 50).into_iter().map(|(_, l)| l).collect::<Vec<_>>(),
        second,
        "an ingester lost: the replicas still deliver"
    );
    // nothing more (no late duplicate)
    let extra = push_round(&base, "ms", STREAMS, 100).unwrap()[0].clone();
    assert_eq!(tail_entries(&mut t, 1).into_iter().map(|(_, l)| l).collect::<Vec<_>>(), vec![extra]);
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
    let acked: Vec<String> = (0..30).flat_map(|r| push_round(&base, "ms", STREAMS, r).unwrap()).collect();
    assert!(queried(&q.url(""), "ms").is_empty(), "nothing is stored before the flush");
    for i in &c.ingesters {
        let r = client().post(i.url("/flush")).send().unwrap();
        assert_eq!(r.status().as_u16(), 204);
    }
    wait_for("every ingester to flush", Duration::from_secs(30), || {
        c.ingesters.iter().all(|i| common::metric(i, "loki_ingester_chunks_flushed_total") >= STREAMS as f64)
    });
    let got = queried(&q.url(""), "ms");
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
    assert_eq!(tail_entries(&mut t, 1).into_iter().map(|(_, l)| l).collect::<Vec<_>>(), vec!["first"]);
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
    let acked: Vec<String> = (0..20).flat_map(|r| push_round(&base, "ms", STREAMS, r).unwrap()).collect();
    let got = queried(&c.querier.url(""), "ms");
    assert_eq!(got.len(), acked.len(), "every acknowledged line from the two live replicas");
    signal(&c.ingesters[0], "-CONT");
    // back: it got the copies the distributor kept sending in the background
    wait_for("the thawed ingester to hold every stream", Duration::from_secs(30), || {
        common::metric(&c.ingesters[0], r#"loki_ingester_memory_streams{tenant="fake"}"#) as usize == STREAMS
    });
}
