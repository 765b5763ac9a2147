//! The query-frontend's results cache (`query_range.cache_results`) across real
//! processes: pieces of a metric query older than `max_cache_freshness_per_query`
//! are answered from the cache the second time (hits counted, same answer);
//! data pushed later into a cached window does not show there (the cache is
//! what answered), while recent pieces are never cached and show it at once.

mod common;

use common::fe::{frontend, get_json, push_data, querier, wait_served, MIN};
use common::{free_port, metric, now_ns, Skald};
use serde_json::{json, Value};

const HITS: &str = "skald_frontend_results_cache_hits_total";
const MISSES: &str = "skald_frontend_results_cache_misses_total";

/// `app="d"`'s values (step second → count) in a matrix answer.
fn values_of_d(v: &Value) -> Vec<(i64, String)> {
    v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["metric"]["app"] == "d")
        .flat_map(|s| s["values"].as_array().unwrap().clone())
        .map(|p| (p[0].as_i64().unwrap(), p[1].as_str().unwrap().to_string()))
        .collect()
}

fn push_d(q: &Skald, at: &[i64]) {
    let values: Vec<Value> = at.iter().map(|ts| json!([ts.to_string(), "app=d late"])).collect();
    let (status, body) = common::push_streams(q, "t", json!([{"stream": {"job": "fe", "app": "d"}, "values": values}]));
    assert_eq!(status, 204, "{body}");
}

#[test]
fn old_pieces_come_from_the_cache_and_recent_ones_never_do() {
    let fe_grpc = free_port();
    let q = querier("frontend_address", fe_grpc, "");
    let f = frontend(fe_grpc, "  max_cache_freshness_per_query: 30m\nquery_range:\n  cache_results: true\n");
    let end = now_ns() / (10 * MIN) * (10 * MIN);
    let start = end - 100 * MIN;
    push_data(&q, "t", end);
    wait_served(&f, "t");
    let params = vec![
        ("query", r#"sum by (app) (count_over_time({job="fe"}[5m]))"#.to_string()),
        ("start", start.to_string()),
        ("end", end.to_string()),
        ("step", "60".to_string()),
    ];
    let query = || get_json(&f, "t", "/loki/api/v1/query_range", &params);

    let first = query();
    let (hits, misses) = (metric(&f, HITS), metric(&f, MISSES));
    // pieces of 10 minutes; those whose last step is 30 minutes old or more are cacheable
    assert!(misses >= 6.0 && hits == 0.0, "first run: {misses} misses, {hits} hits");
    let second = query();
    assert_eq!(second["data"]["result"], first["data"]["result"]);
    // (a piece may turn cacheable between the runs as the clock passes its freshness limit: one more miss)
    assert!(metric(&f, HITS) >= misses, "every piece cached by the first run was found");
    assert!(metric(&f, MISSES) - misses <= 1.0, "and none missed again");

    // a stream pushed into an old (cached) window and a recent one
    let (old_ts, recent_ts) = (end - 90 * MIN + 1, end - 2 * MIN + 1);
    push_d(&q, &[old_ts, recent_ts]);
    let direct = get_json(&q, "t", "/loki/api/v1/query_range", &params);
    let cached = query();
    let old_s = old_ts / 1_000_000_000;
    let recent_s = recent_ts / 1_000_000_000;
    let in_window = |v: &[(i64, String)], ts: i64| v.iter().any(|(t, _)| *t >= ts && *t < ts + 5 * 60);
    assert!(in_window(&values_of_d(&direct), old_s), "the querier itself sees the late old line");
    assert!(!in_window(&values_of_d(&cached), old_s), "the cached old piece answers as before");
    assert!(in_window(&values_of_d(&cached), recent_s), "the recent piece is never cached: {:?}", values_of_d(&cached));
}

/// A dashboard refreshed later asks for a moved, unaligned range: with
/// `align_queries_with_step` its inner pieces are the cached ones; without, none is.
#[test]
fn aligned_steps_let_a_moved_range_reuse_its_inner_pieces() {
    let fe_grpc = free_port();
    let q = querier("frontend_address", fe_grpc, "");
    let cache = "  max_cache_freshness_per_query: 30m\nquery_range:\n  cache_results: true\n";
    let aligned = frontend(fe_grpc, &format!("{cache}  align_queries_with_step: true\n"));
    let end = now_ns() / (10 * MIN) * (10 * MIN);
    push_data(&q, "t", end);
    wait_served(&aligned, "t");
    let run = |f: &Skald, shift_s: i64| {
        let shift = shift_s * 1_000_000_000;
        let params = vec![
            ("query", r#"sum by (app) (count_over_time({job="fe"}[5m]))"#.to_string()),
            ("start", (end - 100 * MIN + shift).to_string()),
            ("end", (end - 40 * MIN + shift).to_string()),
            ("step", "60".to_string()),
        ];
        get_json(f, "t", "/loki/api/v1/query_range", &params)
    };

    let first = run(&aligned, 17);
    let steps: Vec<i64> =
        first["data"]["result"][0]["values"].as_array().unwrap().iter().map(|p| p[0].as_i64().unwrap()).collect();
    assert!(!steps.is_empty() && steps.iter().all(|t| t % 60 == 0), "steps on multiples of 60 s: {steps:?}");
    let misses = metric(&aligned, MISSES);
    run(&aligned, 60 + 29); // one step later, still unaligned
    let hits = metric(&aligned, HITS);
    assert!(hits >= misses - 2.0 && hits > 0.0, "inner pieces reused: {hits} hits after {misses} misses");
    drop(aligned);

    // the same without alignment: each piece starts on the query's own grid, so nothing matches
    let plain = frontend(fe_grpc, cache);
    wait_served(&plain, "t");
    run(&plain, 17);
    run(&plain, 60 + 29);
    assert_eq!(metric(&plain, HITS), 0.0);
    assert!(metric(&plain, MISSES) > 0.0);
}
