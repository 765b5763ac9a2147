//! Live tail end-to-end against the real binary with a real WebSocket client
//! (tungstenite): exactly-once ordered delivery, history replay, resume after a
//! forced disconnect, a client that stops reading, Loki's frames (plain and
//! categorize-labels), Loki's parameter errors, the tail limit, pings and the
//! configurable maximum duration.

mod common;

use std::time::{Duration, Instant};

use common::{client, now_ns, Skald};
use serde_json::{json, Value};
use skald::loadgen::tail_client::{Event, TailClient, TailClientError};

const CONFIG: &str = "auth_enabled: true\nlimits_config:\n  discover_service_name: []\n  per_stream_rate_limit: 1GB\n  per_stream_rate_limit_burst: 1GB\n";
const TAIL: &str = "/loki/api/v1/tail";

fn push(s: &Skald, streams: Value) -> Duration {
    let t0 = Instant::now();
    let r = client()
        .post(s.url("/loki/api/v1/push"))
        .header("X-Scope-OrgID", "t")
        .header("Content-Type", "application/json")
        .body(json!({ "streams": streams }).to_string())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204, "{}", r.text().unwrap_or_default());
    t0.elapsed()
}

/// Pushes `lines` to `{app=<app>}` with the given timestamps.
fn push_lines(s: &Skald, app: &str, lines: &[(i64, String)]) {
    let values: Vec<Value> = lines.iter().map(|(t, l)| json!([t.to_string(), l])).collect();
    push(s, json!([{"stream": {"app": app}, "values": values}, {"stream": {"app": "noise"}, "values": values}]));
}

fn open(s: &Skald, params: &[(&str, &str)]) -> TailClient {
    TailClient::connect(&s.url(""), TAIL, params, &[("X-Scope-OrgID", "t")]).expect("tail opens")
}

/// Entries `(ts, line)` and dropped-entry reports read until `n` entries arrived.
fn read(c: &mut TailClient, n: usize, within: Duration) -> (Vec<(i64, String)>, Vec<Value>) {
    let deadline = Instant::now() + within;
    let (mut got, mut dropped) = (Vec::new(), Vec::new());
    while got.len() < n {
        let left = deadline.checked_duration_since(Instant::now()).unwrap_or_else(|| {
            panic!("only {} of {n} entries within {within:?}", got.len());
        });
        match c.next(left).unwrap() {
            Event::Frame(f) => {
                for s in f["streams"].as_array().unwrap() {
                    for v in s["values"].as_array().unwrap() {
                        got.push((v[0].as_str().unwrap().parse().unwrap(), v[1].as_str().unwrap().to_string()));
                    }
                }
                dropped.extend(f["dropped_entries"].as_array().cloned().unwrap_or_default());
            }
            Event::Closed(code, reason) => panic!("closed {code}: {reason}"),
            Event::Ping | Event::Timeout => {}
        }
    }
    (got, dropped)
}

/// Nothing but pings for `d`.
fn quiet(c: &mut TailClient, d: Duration) {
    let deadline = Instant::now() + d;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match c.next(left).unwrap() {
            Event::Frame(f) => panic!("unexpected frame {f}"),
            Event::Closed(code, reason) => panic!("closed {code}: {reason}"),
            _ => {}
        }
    }
}

fn lines(prefix: &str, base: i64, n: usize) -> Vec<(i64, String)> {
    (0..n).map(|i| (base + i as i64 * 1000, format!("{prefix} line {i:05}"))).collect()
}

#[test]
fn every_pushed_line_arrives_once_and_in_order_after_the_history() {
    let s = Skald::start(CONFIG);
    let history = lines("old", now_ns() - 60_000_000_000, 3);
    push_lines(&s, "order", &history);
    let mut c = open(&s, &[("query", r#"{app="order"} != "skip""#)]);
    let (got, _) = read(&mut c, 3, Duration::from_secs(10));
    assert_eq!(got, history, "the history is replayed first, oldest first");

    let live = lines("new", now_ns(), 300);
    for chunk in live.chunks(10) {
        push_lines(&s, "order", chunk);
    }
    push_lines(&s, "order", &[(now_ns(), "skip me".to_string())]);
    let (got, _) = read(&mut c, 300, Duration::from_secs(20));
    assert_eq!(got, live, "every line once, in order, nothing from other streams");
    quiet(&mut c, Duration::from_millis(300));
    c.close();
}

#[test]
fn a_forced_disconnect_then_resume_has_no_gap_and_no_duplicate() {
    let s = Skald::start(CONFIG);
    // 100 lines, then 1350 in groups of 7 sharing a timestamp (the replay is read in
    // pages of 1000, which then end inside a timestamp), then 50 more
    let base = now_ns();
    let all: Vec<(i64, String)> = (0..1500i64)
        .map(|i| {
            let ts = match i {
                0..100 => base + i * 1000,
                100..1450 => base + 100_000 + (i - 100) / 7 * 1000,
                _ => base + 400_000 + i * 1000,
            };
            (ts, format!("r line {i:05}"))
        })
        .collect();
    let mut c = open(&s, &[("query", r#"{app="resume"}"#)]);
    // the first push proves the subscription: wait for it before pushing more
    push_lines(&s, "resume", &all[..1]);
    let (mut seen, _) = read(&mut c, 1, Duration::from_secs(10));
    for chunk in all[1..100].chunks(7) {
        push_lines(&s, "resume", chunk);
    }
    seen.extend(read(&mut c, 40, Duration::from_secs(10)).0);
    c.kill();
    // far more than the default limit of 100 while nobody listens
    for chunk in all[100..1450].chunks(25) {
        push_lines(&s, "resume", chunk);
    }
    let last = seen.last().unwrap().0.to_string();
    let mut c = open(&s, &[("query", r#"{app="resume"}"#), ("start", &last), ("resume", "true")]);
    let (replayed, _) = read(&mut c, 1450 - seen.len(), Duration::from_secs(20));
    for chunk in all[1450..].chunks(10) {
        push_lines(&s, "resume", chunk);
    }
    let (live, _) = read(&mut c, 50, Duration::from_secs(20));
    seen.extend(replayed);
    seen.extend(live);
    let first_diff = seen.iter().zip(&all).position(|(a, b)| a != b);
    assert_eq!((seen.len(), first_diff), (all.len(), None), "every line exactly once across the reconnect");
    quiet(&mut c, Duration::from_millis(300));
}

#[test]
fn a_client_that_stops_reading_gets_dropped_entries_while_pushes_succeed() {
    let s = Skald::start(&format!("{CONFIG}  ingestion_rate_mb: 1000\n  ingestion_burst_size_mb: 1000\n"));
    let mut c = open(&s, &[("query", r#"{app="slow"}"#)]);
    push_lines(&s, "slow", &[(now_ns(), "first".into())]);
    read(&mut c, 1, Duration::from_secs(10));
    // the client reads nothing now: 40 MB go past it
    let big = "x".repeat(16 << 10);
    let base = now_ns();
    let mut slowest = Duration::ZERO;
    for i in 0..640 {
        let values: Vec<Value> = (0..4).map(|j| json!([(base + i * 10 + j).to_string(), big])).collect();
        slowest = slowest.max(push(&s, json!([{"stream": {"app": "slow"}, "values": values}])));
    }
    assert!(slowest < Duration::from_secs(5), "a push waited {slowest:?} on the stalled tail");
    let (mut delivered, mut dropped) = (0usize, Vec::new());
    let deadline = Instant::now() + Duration::from_secs(60);
    while dropped.is_empty() {
        assert!(Instant::now() < deadline, "no dropped_entries reported ({delivered} entries delivered)");
        let (got, d) = read(&mut c, 1, Duration::from_secs(30));
        delivered += got.len();
        dropped.extend(d);
    }
    assert!(delivered < 2560, "some entries were dropped, {delivered} delivered");
    assert_eq!(dropped[0]["labels"], json!({"app": "slow"}));
    let ts: i64 = dropped[0]["timestamp"].as_str().unwrap().parse().unwrap();
    assert!((base..base + 6400).contains(&ts), "a pushed timestamp: {ts}");
    // the tail goes on: a line pushed now still arrives
    push_lines(&s, "slow", &[(now_ns(), "after the stall".into())]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "the tail stopped after the stall");
        if read(&mut c, 1, Duration::from_secs(30)).0.iter().any(|(_, l)| l == "after the stall") {
            break;
        }
    }
    let m = client().get(s.url("/metrics")).send().unwrap().text().unwrap();
    let value = |name: &str| -> f64 {
        let line = m.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} missing"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(value("loki_querier_tail_active "), 1.0);
    assert!(value("skald_tail_dropped_entries_total ") >= dropped.len() as f64);
    assert!(value("loki_querier_tail_bytes_total ") > 0.0);
}

#[test]
fn frames_are_lokis_plain_and_with_categorize_labels() {
    let s = Skald::start(CONFIG);
    let t = now_ns() - 1_000_000_000;
    push(
        &s,
        json!([{"stream": {"app": "cat"}, "values": [[t.to_string(), "level=warn msg=hi", {"trace_id": "abc"}]]}]),
    );
    let q = [("query", r#"{app="cat"} | logfmt"#)];
    let headers = [("X-Scope-OrgID", "t"), ("X-Loki-Response-Encoding-Flags", "categorize-labels")];
    let mut cat = TailClient::connect(&s.url(""), TAIL, &q, &headers).unwrap();
    let mut legacy = TailClient::connect(&s.url(""), "/api/prom/tail", &q, &headers[..1]).unwrap();
    let first = |c: &mut TailClient| loop {
        match c.next(Duration::from_secs(10)).unwrap() {
            Event::Frame(f) => return f,
            Event::Ping => {}
            e => panic!("{e:?}"),
        }
    };
    assert_eq!(
        first(&mut cat),
        json!({"streams": [{"stream": {"app": "cat"}, "values": [[t.to_string(), "level=warn msg=hi",
            {"structuredMetadata": {"trace_id": "abc"}, "parsed": {"level": "warn", "msg": "hi"}}]]}],
            "encodingFlags": ["categorize-labels"]})
    );
    assert_eq!(
        first(&mut legacy),
        json!({"streams": [{"stream": {"app": "cat", "level": "warn", "msg": "hi", "trace_id": "abc"},
            "values": [[t.to_string(), "level=warn msg=hi"]]}]})
    );
    push(&s, json!([{"stream": {"app": "cat"}, "values": [[(t + 1).to_string(), "level=info"]]}]));
    assert_eq!(
        first(&mut cat),
        json!({"streams": [{"stream": {"app": "cat"}, "values": [[(t + 1).to_string(), "level=info",
            {"parsed": {"level": "info"}}]]}], "encodingFlags": ["categorize-labels"]})
    );
}

#[test]
fn bad_parameters_get_lokis_status_and_text() {
    let s = Skald::start(CONFIG);
    let refused = |params: &[(&str, &str)], headers: &[(&str, &str)]| match TailClient::connect(
        &s.url(""),
        TAIL,
        params,
        headers,
    ) {
        Err(TailClientError::Refused(code, body)) => (code, body),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("{params:?} was accepted"),
    };
    let org = [("X-Scope-OrgID", "t")];
    let sel = ("query", r#"{app="x"}"#);
    assert_eq!(refused(&[sel, ("delay_for", "6")], &org), (400, "delay_for can't be greater than 5".into()));
    assert_eq!(refused(&[sel, ("limit", "0")], &org), (400, "limit must be a positive value".into()));
    assert_eq!(refused(&[sel, ("delay_for", "x")], &org), (400, r#"strconv.Atoi: parsing "x": invalid syntax"#.into()));
    assert_eq!(
        refused(&[("query", r#"rate({app="x"}[1m])"#)], &org),
        (400, "unsupported query expression: want (LogSelectorExpr), got (*syntax.RangeAggregationExpr)".into())
    );
    let (code, body) = refused(&[("query", "{app=")], &org);
    assert_eq!(code, 400);
    assert!(body.starts_with("parse error"), "{body}");
    assert_eq!(refused(&[sel], &[]), (401, "no org id\n".into()));
}

#[test]
fn max_concurrent_tail_requests_closes_the_extra_tail_with_lokis_error() {
    let s = Skald::start(&format!("{CONFIG}  max_concurrent_tail_requests: 2\n"));
    let mut a = open(&s, &[("query", r#"{app="lim"}"#)]);
    let mut b = open(&s, &[("query", r#"{app="lim"}"#)]);
    push_lines(&s, "lim", &[(now_ns(), "both subscribed".into())]);
    read(&mut a, 1, Duration::from_secs(10));
    read(&mut b, 1, Duration::from_secs(10));
    let mut c = open(&s, &[("query", r#"{app="lim"}"#)]);
    let closed = loop {
        match c.next(Duration::from_secs(10)).unwrap() {
            Event::Closed(code, reason) => break (code, reason),
            Event::Ping => {}
            e => panic!("{e:?}"),
        }
    };
    assert_eq!(
        closed,
        (
            1011,
            "rpc error: code = Code(400) desc = max concurrent tail requests limit exceeded, count > limit (3 > 2)"
                .into()
        )
    );
    a.close();
    // a closed tail frees its place: the next one gets its history
    let deadline = Instant::now() + Duration::from_secs(10);
    'retry: loop {
        let mut d = open(&s, &[("query", r#"{app="lim"}"#)]);
        loop {
            match d.next(Duration::from_secs(5)).unwrap() {
                Event::Frame(_) => break 'retry,
                Event::Closed(1011, r) => {
                    assert!(Instant::now() < deadline, "the closed tail still counts: {r}");
                    continue 'retry;
                }
                Event::Ping => {}
                e => panic!("{e:?}"),
            }
        }
    }
}

#[test]
fn pings_every_second_and_closes_at_tail_max_duration() {
    let s = Skald::start(&format!("{CONFIG}querier:\n  tail_max_duration: 3500ms\n"));
    let mut c = open(&s, &[("query", r#"{app="idle"}"#)]);
    let started = Instant::now();
    let mut pings = 0;
    let closed = loop {
        match c.next(Duration::from_secs(10)).unwrap() {
            Event::Ping => pings += 1,
            Event::Closed(code, reason) => break (code, reason),
            e => panic!("{e:?}"),
        }
    };
    assert_eq!(closed, (1011, "reached tail max duration limit".to_string()));
    assert!(pings >= 2, "{pings} pings in {:?}", started.elapsed());
    assert!(started.elapsed() >= Duration::from_secs(3), "closed after {:?}", started.elapsed());
}

#[test]
fn open_tails_close_when_the_node_stops() {
    let mut s = Skald::start(CONFIG);
    let mut c = open(&s, &[("query", r#"{app="stop"}"#)]);
    push_lines(&s, "stop", &[(now_ns(), "subscribed".into())]);
    read(&mut c, 1, Duration::from_secs(10));
    let started = Instant::now();
    let node = std::thread::spawn(move || {
        let st = s.terminate(Duration::from_secs(60));
        (st, s)
    });
    let closed = loop {
        match c.next(Duration::from_secs(20)).unwrap() {
            Event::Closed(code, reason) => break (code, reason),
            Event::Ping => {}
            e => panic!("{e:?}"),
        }
    };
    assert_eq!(closed, (1011, "all ingesters closed the connection".to_string()));
    let (st, _s) = node.join().unwrap();
    assert!(st.success(), "{st}");
    assert!(started.elapsed() < Duration::from_secs(10), "stopping took {:?}", started.elapsed());
}

#[test]
fn a_tenant_never_tails_another_tenants_lines() {
    let s = Skald::start(CONFIG);
    let base = common::now_ns() - 1_000_000_000;
    let push_as = |tenant: &str, app: &str, line: &str, ts: i64| {
        let body = json!({"streams": [{"stream": {"app": app}, "values": [[ts.to_string(), line]]}]});
        let r = client()
            .post(s.url("/loki/api/v1/push"))
            .header("X-Scope-OrgID", tenant)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 204);
    };
    // tenant b's history and live lines are pushed before and after a's tail opens, same stream labels
    push_as("b", "shared", "b history", base);
    let params = [("query", r#"{app="shared"}"#), ("start", &(base - 1).to_string()), ("delay_for", "0")];
    let mut a = TailClient::connect(&s.url(""), TAIL, &params, &[("X-Scope-OrgID", "a")]).expect("tail opens");
    for i in 0..20 {
        push_as("b", "shared", &format!("b live {i}"), base + 10 + i);
    }
    push_as("a", "shared", "a marker", base + 100);
    let (got, _) = read(&mut a, 1, Duration::from_secs(10));
    assert_eq!(got, vec![(base + 100, "a marker".to_string())], "only tenant a's line");
    quiet(&mut a, Duration::from_millis(500));
}
