//! The query-frontend's stream sharding across real processes (a querier with
//! its ingester, a query-frontend): shardable metric queries, range and instant,
//! run as 4 shards (forced by a 1 KB `tsdb_max_bytes_per_shard`) and answer
//! exactly as the querier does, reading the same lines; unshardable ones run
//! whole; `max_query_series` holds for the combined answer.

mod common;

use common::fe::{frontend, get, get_json, wait_served, LIMITS, MIN};
use common::{free_port, now_ns, Skald};
use serde_json::{json, Value};

#[test]
fn sharded_metric_queries_answer_like_the_querier() {
    // 1 KB per shard and at most 4 shards: every shardable query below runs as 4 stream shards; two
    // matchers allowed (a shard's own matcher is not counted)
    let limits = "  tsdb_max_bytes_per_shard: 1KB\n  tsdb_max_query_parallelism: 4\n  max_query_series: 9\n  \
                  max_streams_matchers_per_query: 2\n";
    let fe_grpc = free_port();
    let q = Skald::start_with(
        &format!(
            "limits_config:\n{LIMITS}{limits}querier:\n  max_concurrent: 2\nfrontend_worker:\n  frontend_address: 127.0.0.1:{fe_grpc}\n"
        ),
        &["-target=querier,ingester,distributor"],
        &[],
    );
    // tenant "whole" has time splitting off: its metric queries are sharded all the same
    let dir = common::TempDir::new("sharding-overrides");
    let file = dir.0.join("overrides.yaml");
    std::fs::write(&file, "overrides:\n  whole:\n    split_queries_by_interval: 0s\n").unwrap();
    let f = frontend(fe_grpc, &format!("{limits}runtime_config:\n  file: {}\n", file.display()));
    let end = now_ns() / (10 * MIN) * (10 * MIN);
    // 12 streams (pods p0..p11 of apps a, b, c), a line a minute each over the last hour
    let streams: Vec<Value> = (0..12)
        .map(|i| {
            let values: Vec<Value> = (0..60)
                .map(|k| {
                    json!([(end - 60 * MIN + k * MIN + i * 1_000_000_000).to_string(), format!("n={k} d={}", k % 7)])
                })
                .collect();
            let app = ["a", "b", "c"][i as usize % 3];
            json!({"stream": {"job": "sh", "app": app, "pod": format!("p{i}")}, "values": values})
        })
        .collect();
    for tenant in ["t", "whole"] {
        let (status, body) = common::push_streams(&q, tenant, Value::Array(streams.clone()));
        assert_eq!(status, 204, "{body}");
    }
    wait_served(&f, "t");

    let params = |query: &str| {
        vec![
            ("query", query.to_string()),
            ("start", (end - 70 * MIN).to_string()),
            ("end", end.to_string()),
            ("step", "120".to_string()),
        ]
    };
    for (query, shards) in [
        (r#"sum by (app) (count_over_time({job="sh"}[5m]))"#, 4),
        (r#"count(rate({job="sh"} | logfmt [3m]))"#, 4),
        (r#"max by (app) (max_over_time({job="sh"} | logfmt | unwrap n [10m]))"#, 4),
        (r#"min(min_over_time({job="sh"} | logfmt | unwrap n [10m]))"#, 4),
        (r#"sum by (d) (count_over_time({job="sh"} | logfmt | drop pod [5m]))"#, 4),
        (r#"sum by (app) (bytes_over_time({job="sh", app=~"a|b"}[5m]))"#, 4),
        // not shardable: the frontend splits them by time only
        (r#"max(count_over_time({job="sh"} | drop pod [5m]))"#, 0),
        (r#"topk(2, sum by (pod) (count_over_time({job="sh"}[5m])))"#, 0),
    ] {
        let direct = get_json(&q, "t", "/loki/api/v1/query_range", &params(query));
        let via = get_json(&f, "t", "/loki/api/v1/query_range", &params(query));
        assert!(!direct["data"]["result"].as_array().unwrap().is_empty(), "{query}");
        assert_eq!(via["data"]["result"], direct["data"]["result"], "{query}");
        let summary = &via["data"]["stats"]["summary"];
        assert_eq!(summary["shards"], shards, "{query}");
        let splits = summary["splits"].as_u64().unwrap();
        assert_eq!(summary["subqueries"].as_u64(), Some(splits * shards.max(1)), "{query}");
    }
    // each shard reads only its own streams: as many lines as the same query unsharded (`* 1` is not shardable)
    let lines = |query: &str| {
        let v = get_json(&f, "t", "/loki/api/v1/query_range", &params(query));
        (
            v["data"]["stats"]["summary"]["shards"].as_u64(),
            v["data"]["stats"]["summary"]["totalLinesProcessed"].as_u64(),
        )
    };
    let sharded = lines(r#"sum by (app) (count_over_time({job="sh"}[5m]))"#);
    let whole = lines(r#"sum by (app) (count_over_time({job="sh"}[5m])) * 1"#);
    assert_eq!((sharded.0, whole.0), (Some(4), Some(0)));
    assert!(whole.1.unwrap() >= 720, "{whole:?}");
    assert_eq!(sharded.1, whole.1);
    // 12 series: over the limit of 9 as a whole although each shard holds fewer
    let over = params(r#"sum by (pod) (count_over_time({job="sh"}[5m]))"#);
    let (direct, via) =
        (get(&q, "t", "/loki/api/v1/query_range", &over), get(&f, "t", "/loki/api/v1/query_range", &over));
    assert_eq!(direct, (400, "maximum of series (9) reached for a single query".to_string()));
    assert_eq!(via, direct);

    // splitting off: one time piece, still 4 shards
    let whole = params(r#"sum by (app) (count_over_time({job="sh"}[5m]))"#);
    let via = get_json(&f, "whole", "/loki/api/v1/query_range", &whole);
    assert_eq!(via["data"]["result"], get_json(&q, "whole", "/loki/api/v1/query_range", &whole)["data"]["result"]);
    let summary = &via["data"]["stats"]["summary"];
    assert_eq!((summary["splits"].as_u64(), summary["shards"].as_u64()), (Some(1), Some(4)));
    let logs =
        [("query", r#"{job="sh"}"#.to_string()), ("start", (end - 70 * MIN).to_string()), ("end", end.to_string())];
    let via = get_json(&f, "whole", "/loki/api/v1/query_range", &logs);
    assert_eq!(via["data"]["stats"]["summary"]["splits"], 0, "a log query is neither split nor sharded");

    // instant queries: one job per shard at the query's time, the vectors combined
    let instant = |query: &str| vec![("query", query.to_string()), ("time", (end - 5 * MIN).to_string())];
    for (query, shards) in [
        (r#"sum by (app) (count_over_time({job="sh"}[40m]))"#, 4),
        (r#"max(max_over_time({job="sh"} | logfmt | unwrap n [30m]))"#, 4),
        (r#"count(count_over_time({job="sh"} | logfmt [40m]))"#, 4),
        (r#"topk(1, sum by (app) (count_over_time({job="sh"}[40m])))"#, 0),
    ] {
        let direct = get_json(&q, "t", "/loki/api/v1/query", &instant(query));
        let via = get_json(&f, "t", "/loki/api/v1/query", &instant(query));
        assert!(!direct["data"]["result"].as_array().unwrap().is_empty(), "{query}");
        assert_eq!(via["data"]["resultType"], "vector", "{query}");
        assert_eq!(via["data"]["result"], direct["data"]["result"], "{query}");
        assert_eq!(via["data"]["stats"]["summary"]["shards"], shards, "{query}");
    }
    // a POST form with the time in float seconds: the shards are evaluated at that one time too
    let form = [
        ("query", r#"sum by (app) (count_over_time({job="sh"}[40m]))"#.to_string()),
        ("time", format!("{}.5", (end - 5 * MIN) / 1_000_000_000)),
    ];
    let posted: Value = common::client()
        .post(f.url("/loki/api/v1/query"))
        .header("X-Scope-OrgID", "t")
        .form(&form)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(posted["data"]["stats"]["summary"]["shards"], 4);
    assert_eq!(posted["data"]["result"], get_json(&q, "t", "/loki/api/v1/query", &form)["data"]["result"]);
    let over = instant(r#"sum by (pod) (count_over_time({job="sh"}[40m]))"#);
    let (direct, via) = (get(&q, "t", "/loki/api/v1/query", &over), get(&f, "t", "/loki/api/v1/query", &over));
    assert_eq!(direct.0, 400, "{direct:?}");
    assert_eq!(via, direct);
}
