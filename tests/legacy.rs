//! The legacy `/api/prom/` read endpoints against the real binary (all roles, so
//! each request also passes the query-frontend and its querier worker): stream
//! queries in the v0 shape with the `regexp` filter, metric queries refused with
//! Loki's text, label names and values as `{"values": [...]}`, series as v1.

mod common;

use common::{get_value, now_ns, push_streams, Skald};
use serde_json::{json, Value};

fn get(s: &Skald, path: &str, params: &[(&str, &str)]) -> (u16, Value) {
    get_value(s, "old", path, params)
}

#[test]
fn legacy_reads_answer_in_the_v0_shapes() {
    let s = Skald::start("auth_enabled: true\n");
    let t = now_ns() - 60_000_000_000;
    let values: Vec<Value> = ["GET /a 200", "GET /b 500", "POST /c error"]
        .iter()
        .enumerate()
        .map(|(i, l)| json!([(t + i as i64).to_string(), l]))
        .collect();
    let (code, body) = push_streams(&s, "old", json!([{"stream": {"app": "legacy", "env": "prod"}, "values": values}]));
    assert_eq!(code, 204, "{body}");
    let (start, end) = ((t - 1).to_string(), (t + 1_000).to_string());
    let range = [("start", start.as_str()), ("end", end.as_str())];

    let mut p = vec![("query", r#"{app="legacy"}"#), ("regexp", "(5..|error)"), ("direction", "forward")];
    p.extend_from_slice(&range);
    let (code, v) = get(&s, "/api/prom/query", &p);
    assert_eq!(code, 200, "{v}");
    let streams = v["streams"].as_array().expect("a streams list");
    assert_eq!(streams.len(), 1, "{v}");
    // service_name: discovered from `app`, as Loki 3 does
    assert_eq!(streams[0]["labels"], r#"{app="legacy", env="prod", service_name="legacy"}"#);
    let lines: Vec<&str> =
        streams[0]["entries"].as_array().unwrap().iter().map(|e| e["line"].as_str().unwrap()).collect();
    assert_eq!(lines, ["GET /b 500", "POST /c error"], "regexp keeps the matching lines: {v}");
    let ts = streams[0]["entries"][0]["ts"].as_str().unwrap();
    assert!(ts.ends_with('Z') && ts.contains('T'), "RFC 3339 timestamps: {ts}");
    assert!(v["stats"].is_object(), "{v}");

    let (code, v) = get(&s, "/api/prom/query", &[("query", r#"count_over_time({app="legacy"}[1m])"#)]);
    assert_eq!(code, 400, "{v}");
    assert!(v.to_string().contains("legacy endpoints only support streams result type"), "{v}");

    let (code, v) = get(&s, "/api/prom/label", &range);
    assert_eq!((code, v), (200, json!({"values": ["app", "env", "service_name"]})));
    let (code, v) = get(&s, "/api/prom/label/env/values", &range);
    assert_eq!((code, v), (200, json!({"values": ["prod"]})));
    let mut p = vec![("match[]", r#"{app="legacy"}"#)];
    p.extend_from_slice(&range);
    let (code, v) = get(&s, "/api/prom/series", &p);
    assert_eq!(
        (code, v),
        (200, json!({"status": "success", "data": [{"app": "legacy", "env": "prod", "service_name": "legacy"}]}))
    );
}
