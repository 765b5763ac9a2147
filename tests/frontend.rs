//! The query-frontend, query-scheduler and querier workers across real
//! processes: split `query_range` answers equal the querier's own (streams and
//! matrix, both directions, with limits), labels and series through the queue,
//! `max_query_parallelism` bounding a query's in-flight pieces, the
//! outstanding-requests limit (429), a querier killed while holding a job (the
//! job runs again on another querier) and live tail through `tail_proxy_url`.
//! Sharded metric queries are in tests/sharding.rs.

mod common;

use std::time::{Duration, Instant};

use common::fe::{frontend, get, get_json, push_data, querier, wait_served, LIMITS, MIN};
use common::{client, free_port, metric, now_ns, wait_for, Skald};
use serde_json::{json, Value};
use skald::loadgen::tail_client::{Event, TailClient, TailClientError};

#[test]
fn frontend_answers_like_the_querier_and_bounds_parallelism() {
    let fe_grpc = free_port();
    let q = querier("frontend_address", fe_grpc, "  tail_max_duration: 6s\n");
    let dir = common::TempDir::new("overrides");
    let file = dir.0.join("overrides.yaml");
    std::fs::write(&file, "overrides:\n  wide:\n    max_query_parallelism: 32\n").unwrap();
    let f = frontend(
        fe_grpc,
        &format!(
            "  max_query_parallelism: 2\nruntime_config:\n  file: {}\nfrontend:\n  tail_proxy_url: {}\n",
            file.display(),
            q.url("")
        ),
    );
    let end = now_ns() / (10 * MIN) * (10 * MIN);
    let start = end - 100 * MIN;
    for t in ["t", "wide"] {
        push_data(&q, t, end);
    }
    wait_served(&f, "t");

    let range = |query: &str, dir: &str, limit: usize, step: &str| {
        vec![
            ("query", query.to_string()),
            ("start", (start - 3 * MIN).to_string()),
            ("end", end.to_string()),
            ("direction", dir.to_string()),
            ("limit", limit.to_string()),
            ("step", step.to_string()),
        ]
    };
    let cases = [
        range(r#"{job="fe"}"#, "backward", 1000, "60"),
        range(r#"{job="fe"}"#, "forward", 1000, "60"),
        range(r#"{job="fe"}"#, "backward", 25, "60"),
        range(r#"{job="fe"}"#, "forward", 40, "60"),
        range(r#"{job="fe"} |= "level=error""#, "backward", 70, "60"),
        range(r#"sum by (app) (count_over_time({job="fe"}[5m]))"#, "backward", 100, "60"),
        range(r#"rate({job="fe", app="b"}[3m])"#, "backward", 100, "420"),
    ];
    for params in &cases {
        let direct = get_json(&q, "t", "/loki/api/v1/query_range", params);
        let via = get_json(&f, "t", "/loki/api/v1/query_range", params);
        assert!(!direct["data"]["result"].as_array().unwrap().is_empty(), "{params:?}");
        assert_eq!(via["data"]["result"], direct["data"]["result"], "{params:?}");
        assert_eq!(via["data"]["resultType"], direct["data"]["resultType"]);
        let splits = via["data"]["stats"]["summary"]["splits"].as_u64().unwrap();
        match (params[0].1.starts_with('{'), params[4].1.as_str()) {
            (true, "1000") => assert_eq!(splits, 11, "{params:?}: every piece answered"),
            (true, _) => assert!(splits < 11, "{params:?}: a limited query stops early ({splits})"),
            (false, _) => assert!(splits >= 2, "{params:?} was split"),
        }
    }

    // categorize-labels answers are split and merged alike
    let categorized = |s: &Skald| -> Value {
        client()
            .get(s.url("/loki/api/v1/query_range"))
            .header("X-Scope-OrgID", "t")
            .header("X-Loki-Response-Encoding-Flags", "categorize-labels")
            .query(&cases[0])
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let (via, direct) = (categorized(&f), categorized(&q));
    assert_eq!(via["data"]["encodingFlags"], json!(["categorize-labels"]));
    assert_eq!(via["data"]["result"], direct["data"]["result"]);
    assert_eq!(via["data"]["result"][0]["values"][0].as_array().unwrap().len(), 3);

    // a POST form is split alike
    let form = &cases[2];
    let posted: Value = client()
        .post(f.url("/loki/api/v1/query_range"))
        .header("X-Scope-OrgID", "t")
        .form(form)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(posted["data"]["result"], get_json(&q, "t", "/loki/api/v1/query_range", form)["data"]["result"]);
    assert_eq!(posted["data"]["stats"]["summary"]["totalEntriesReturned"], 25);

    // one-job endpoints
    for (path, params) in [
        ("/loki/api/v1/labels", vec![("start", start.to_string()), ("end", end.to_string())]),
        ("/loki/api/v1/label/app/values", vec![("start", start.to_string()), ("end", end.to_string())]),
        ("/loki/api/v1/series", vec![("match[]", r#"{job="fe"}"#.to_string()), ("start", start.to_string())]),
        (
            "/loki/api/v1/query",
            vec![
                ("query", r#"sum by (app) (count_over_time({job="fe"}[30m]))"#.to_string()),
                ("time", end.to_string()),
            ],
        ),
        (
            "/loki/api/v1/index/volume",
            vec![("query", r#"{job="fe"}"#.to_string()), ("start", start.to_string()), ("end", end.to_string())],
        ),
    ] {
        let direct = get_json(&q, "t", path, &params);
        assert!(!direct["data"].is_null(), "{path}: {direct}");
        let via = get_json(&f, "t", path, &params);
        let result =
            |v: &Value| if v["data"]["result"].is_null() { v["data"].clone() } else { v["data"]["result"].clone() };
        assert_eq!(result(&via), result(&direct), "{path}");
    }
    // Grafana's filter helpers (answers without `data`)
    for (path, params) in [
        ("/loki/api/v1/detected_labels", vec![("query", r#"{job="fe"}"#.to_string()), ("start", start.to_string())]),
        (
            "/loki/api/v1/detected_fields",
            vec![("query", r#"{job="fe"}"#.to_string()), ("start", start.to_string()), ("end", end.to_string())],
        ),
    ] {
        let direct = get_json(&q, "t", path, &params);
        assert!(
            direct.as_object().is_some_and(|o| o.values().any(|v| v.as_array().is_some_and(|a| !a.is_empty()))),
            "{path}: {direct}"
        );
        assert_eq!(get_json(&f, "t", path, &params), direct, "{path}");
    }
    // errors come back as the querier answered them
    let bad = [("query", "{job=".to_string())];
    assert_eq!(get(&f, "t", "/loki/api/v1/query_range", &bad), get(&q, "t", "/loki/api/v1/query_range", &bad));
    let (status, body) = get(&f, "", "/loki/api/v1/labels", &[]);
    assert_eq!((status, body.trim()), (401, "no org id"));

    // max_query_parallelism: 2 by default, 32 for tenant `wide` (ten pieces at once)
    let ten = vec![("query", r#"{job="fe"}"#.to_string()), ("start", start.to_string()), ("end", end.to_string())];
    get_json(&f, "t", "/loki/api/v1/query_range", &ten);
    get_json(&f, "wide", "/loki/api/v1/query_range", &ten);
    assert_eq!(metric(&f, r#"skald_frontend_query_parallelism_max{tenant="t"}"#), 2.0);
    assert_eq!(metric(&f, r#"skald_frontend_query_parallelism_max{tenant="wide"}"#), 10.0);
    assert!(metric(&f, "skald_frontend_subqueries_total") >= 20.0);

    // live tail through the frontend's tail_proxy_url
    let mut tail = TailClient::connect(
        &f.url(""),
        "/loki/api/v1/tail",
        &[("query", r#"{job="tail"}"#), ("limit", "10")],
        &[("X-Scope-OrgID", "t")],
    )
    .expect("tail through the frontend");
    let mut seen: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut pushed = 0;
    while seen.len() < 3 {
        assert!(Instant::now() < deadline, "tail frames through the proxy: {seen:?}");
        if pushed < 3 {
            let line = format!("tail line {pushed}");
            let v = json!([{"stream": {"job": "tail"}, "values": [[now_ns().to_string(), line]]}]);
            assert_eq!(common::push_streams(&q, "t", v).0, 204);
            pushed += 1;
        }
        if let Event::Frame(fr) = tail.next(Duration::from_millis(200)).unwrap() {
            for s in fr["streams"].as_array().unwrap() {
                seen.extend(s["values"].as_array().unwrap().iter().map(|v| v[1].as_str().unwrap().to_string()));
            }
        }
    }
    assert_eq!(seen, ["tail line 0", "tail line 1", "tail line 2"]);
    // the querier's close (querier.tail_max_duration) reaches the client with its code
    let closed = loop {
        assert!(Instant::now() < deadline, "the querier's close through the proxy");
        match tail.next(Duration::from_millis(200)).unwrap() {
            Event::Closed(code, reason) => break (code, reason),
            _ => continue,
        }
    };
    assert_eq!(closed, (1011, "reached tail max duration limit".to_string()));
    // a refused upgrade comes back as the querier refused it
    match TailClient::connect(&f.url(""), "/loki/api/v1/tail", &[("query", "sum(")], &[("X-Scope-OrgID", "t")]) {
        Err(TailClientError::Refused(400, body)) => assert!(body.contains("parse error"), "{body}"),
        other => panic!("expected a 400: {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_full_tenant_queue_answers_429_and_readiness_waits_for_a_querier() {
    // a frontend with its own queue is not ready until a querier connects
    let grpc = free_port();
    let alone = Skald::start_unready(&format!("limits_config:\n{LIMITS}"), &["-target=query-frontend"]);
    let mut why = String::new();
    wait_for("the frontend to answer /ready", Duration::from_secs(30), || {
        match client().get(alone.url("/ready")).send() {
            Ok(r) if r.status().as_u16() == 503 => why = r.text().unwrap(),
            _ => {}
        }
        !why.is_empty()
    });
    assert_eq!(why, "Query Frontend not ready: not ready: number of queriers connected to query-frontend is 0\n");
    drop(alone);

    let q = querier("frontend_address", grpc, "");
    let f = frontend(grpc, "  query_timeout: 3s\nfrontend:\n  max_outstanding_per_tenant: 1\n");
    // the frontend is ready with one worker; the second may still be in its connect backoff
    wait_for("both querier workers connected", Duration::from_secs(30), || {
        common::metric(&f, "skald_query_queue_connected_workers") as usize == 2
    });
    // the querier freezes: its two workers take two jobs, one more waits, the rest get 429
    let pid = q.pid().to_string();
    assert!(std::process::Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    let url = f.url("/loki/api/v1/labels");
    let threads: Vec<_> = (0..5)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let r = client().get(url).header("X-Scope-OrgID", "t").send().unwrap();
                (r.status().as_u16(), r.text().unwrap())
            })
        })
        .collect();
    let answers: Vec<(u16, String)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let rejected: Vec<_> = answers.iter().filter(|(s, _)| *s == 429).collect();
    assert_eq!(rejected.len(), 2, "{answers:?}");
    assert!(rejected.iter().all(|(_, b)| b == "too many outstanding requests"), "{answers:?}");
    assert_eq!(answers.iter().filter(|(s, _)| *s == 504).count(), 3, "held and queued ones time out: {answers:?}");
    assert_eq!(metric(&f, "skald_query_queue_rejected_total"), 2.0);
}

#[test]
fn scheduler_retries_a_job_whose_querier_died() {
    let s = Skald::start_with("", &["-target=query-scheduler"], &[]);
    let f = Skald::start_with(
        &format!("limits_config:\n{LIMITS}frontend:\n  scheduler_address: localhost:{}\n", s.grpc_port),
        &["-target=query-frontend"],
        &[],
    );
    let mut q1 = querier("scheduler_address", s.grpc_port, "");
    wait_for("two workers of the first querier", Duration::from_secs(30), || {
        metric(&s, "skald_query_queue_connected_workers") == 2.0
    });
    let q2 = querier("scheduler_address", s.grpc_port, "");
    wait_for("four workers", Duration::from_secs(30), || metric(&s, "skald_query_queue_connected_workers") == 4.0);
    let end = now_ns() / (10 * MIN) * (10 * MIN);
    push_data(&q1, "t", end);
    push_data(&q2, "t", end);
    let params = vec![
        ("query", r#"{job="fe"}"#.to_string()),
        ("start", (end - 100 * MIN).to_string()),
        ("end", end.to_string()),
        ("limit", "1000".to_string()),
    ];
    let want = get_json(&q2, "t", "/loki/api/v1/query_range", &params);

    // the first querier freezes: its two idle workers are first in line for jobs
    let pid = q1.pid().to_string();
    assert!(std::process::Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    let fe = f.url("/loki/api/v1/query_range");
    let p2 = params.clone();
    let asking = std::thread::spawn(move || {
        let r = client().get(fe).header("X-Scope-OrgID", "t").query(&p2).send().unwrap();
        (r.status().as_u16(), r.text().unwrap())
    });
    wait_for("the frozen querier to hold jobs", Duration::from_secs(20), || {
        metric(&s, "skald_query_queue_in_flight") >= 1.0 && metric(&s, "skald_query_queue_length") == 0.0
    });
    q1.kill();
    let (status, body) = asking.join().unwrap();
    assert_eq!(status, 200, "{body}");
    let got: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(got["data"]["result"], want["data"]["result"]);
    assert!(metric(&s, "skald_query_queue_requeued_total") >= 1.0, "jobs were queued again");
    wait_for("the dead querier's workers gone", Duration::from_secs(10), || {
        metric(&s, "skald_query_queue_connected_workers") == 2.0
    });
    // no tail_proxy_url: a clear refusal
    match TailClient::connect(&f.url(""), "/loki/api/v1/tail", &[("query", r#"{job="fe"}"#)], &[("X-Scope-OrgID", "t")])
    {
        Err(TailClientError::Refused(404, body)) => assert!(body.contains("tail_proxy_url"), "{body}"),
        other => panic!("expected a refusal: {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_single_binary_pulls_from_its_own_frontend() {
    let grpc = free_port();
    let s = Skald::start_with(
        &format!("limits_config:\n{LIMITS}frontend_worker:\n  frontend_address: 127.0.0.1:{grpc}\n"),
        &[&format!("-server.grpc-listen-port={grpc}")],
        &[],
    );
    let end = now_ns() / (10 * MIN) * (10 * MIN);
    push_data(&s, "t", end);
    wait_served(&s, "t");
    let params = [
        ("query", r#"{job="fe"}"#.to_string()),
        ("start", (end - 100 * MIN).to_string()),
        ("end", end.to_string()),
        ("limit", "1000".to_string()),
    ];
    let via = get_json(&s, "t", "/loki/api/v1/query_range", &params);
    assert_eq!(via["data"]["stats"]["summary"]["splits"], 10, "split by the frontend");
    // what the node's querier answers itself (a worker's request)
    let direct: Value = client()
        .get(s.url("/loki/api/v1/query_range"))
        .header("X-Scope-OrgID", "t")
        .header("X-Skald-Querier-Worker", "1")
        .query(&params)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(direct["data"]["stats"]["summary"]["splits"], 0);
    assert_eq!(via["data"]["result"], direct["data"]["result"]);
    assert_eq!(metric(&s, "skald_query_queue_connected_workers"), 4.0, "querier.max_concurrent workers");
    // without tail_proxy_url the node's own querier serves tail
    TailClient::connect(&s.url(""), "/loki/api/v1/tail", &[("query", r#"{job="fe"}"#)], &[("X-Scope-OrgID", "t")])
        .expect("the local querier tails");
}
