//! End-to-end tests of metric queries against the real binary: Loki's JSON
//! shapes for `matrix`, `vector` and `scalar`, float formatting, parameter
//! rules and the `max_query_series` limit.

mod common;

use common::{client, Skald};
use serde_json::{json, Value};

const CONFIG: &str = "auth_enabled: false\nlimits_config:\n  max_query_series: 2\n";
const S: i64 = 1_000_000_000;

fn get(s: &Skald, path: &str, params: &[(&str, &str)]) -> (u16, Value, String) {
    let r = client().get(s.url(path)).query(params).send().unwrap();
    let code = r.status().as_u16();
    let text = r.text().unwrap();
    (code, serde_json::from_str(&text).unwrap_or(Value::Null), text)
}

#[test]
fn metric_results_have_loki_shapes() {
    let s = Skald::start(CONFIG);
    // whole minutes, one entry every 10 s over 2 minutes, on three pods
    let base = (common::now_ns() / (60 * S) - 10) * 60 * S;
    let mut streams = Vec::new();
    for pod in ["a", "b", "c"] {
        let values: Vec<Value> =
            (0..12).map(|i| json!([(base + i * 10 * S).to_string(), format!("pod={pod} took={i}ms")])).collect();
        streams.push(json!({"stream": {"app": "w", "pod": pod}, "values": values}));
    }
    let r = client()
        .post(s.url("/loki/api/v1/push"))
        .header("Content-Type", "application/json")
        .body(json!({ "streams": streams }).to_string())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (start, end) = ((base / S).to_string(), ((base + 120 * S) / S).to_string());
    let (start_ms, step) = (base / 1_000_000, "60");

    let q = r#"sum(count_over_time({app="w"}[1m]))"#;
    let (code, v, t) =
        get(&s, "/loki/api/v1/query_range", &[("query", q), ("start", &start), ("end", &end), ("step", step)]);
    assert_eq!(code, 200, "{t}");
    assert_eq!(v["data"]["resultType"], "matrix");
    let values = &v["data"]["result"][0]["values"];
    assert_eq!(values, &json!([[start_ms / 1000, "3"], [start_ms / 1000 + 60, "18"], [start_ms / 1000 + 120, "15"]]));
    assert!(v["data"]["stats"]["summary"].is_object());

    let q = r#"sum by (pod) (count_over_time({app="w"}[1m])) / 0"#;
    let (code, v, t) = get(&s, "/loki/api/v1/query", &[("query", q), ("time", &end)]);
    assert_eq!(code, 400, "three series exceed max_query_series=2: {t}");
    assert!(t.contains("maximum of series (2) reached for a single query"), "{t}");
    let _ = v;

    let q = r#"sum(max_over_time({app="w"} | logfmt | unwrap duration(took) [1m])) / 0"#;
    let (code, v, t) = get(&s, "/loki/api/v1/query", &[("query", q), ("time", &end)]);
    assert_eq!(code, 200, "{t}");
    assert_eq!(v["data"]["resultType"], "vector");
    assert_eq!(v["data"]["result"][0]["value"], json!([start_ms / 1000 + 120, "NaN"]));

    let (code, v, t) = get(&s, "/loki/api/v1/query", &[("query", "1 + 1.5"), ("time", &start)]);
    assert_eq!(code, 200, "{t}");
    assert_eq!(v["data"]["resultType"], "scalar");
    assert_eq!(v["data"]["result"], json!([start_ms, "2.5"]));

    let (code, _, t) = get(&s, "/loki/api/v1/query", &[("query", r#"{app="w"}"#)]);
    assert_eq!(code, 400);
    assert!(t.contains("log queries are not supported as an instant query type"), "{t}");
    let (code, _, t) = get(&s, "/loki/api/v1/query_range", &[("query", q), ("limit", "0")]);
    assert_eq!((code, t.trim()), (400, "limit must be a positive value"));
}
