//! End-to-end tests of the index stats and volume endpoints against the real
//! binary: POST forms, tenant isolation, `aggregateBy=labels`, `limit`, and the
//! error texts. (The conformance suite covers Loki's answers on its data set.)

mod common;

use common::{client, now_ns, Skald};
use serde_json::{json, Value};

const CONFIG: &str = "auth_enabled: true\nlimits_config:\n  discover_service_name: []\n";

fn push(s: &Skald, tenant: &str, streams: Value) {
    let r = client()
        .post(s.url("/loki/api/v1/push"))
        .header("X-Scope-OrgID", tenant)
        .header("Content-Type", "application/json")
        .body(json!({ "streams": streams }).to_string())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
}

fn get(s: &Skald, tenant: &str, path: &str, params: &[(&str, &str)]) -> (u16, String) {
    let r = client().get(s.url(path)).header("X-Scope-OrgID", tenant).query(params).send().unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

#[test]
fn index_stats_and_volume_end_to_end() {
    let s = Skald::start(CONFIG);
    let t = now_ns() - 60_000_000_000;
    let ts = |i: i64| (t + i * 1_000_000_000).to_string();
    push(
        &s,
        "a",
        json!([
            {"stream": {"app": "x", "pod": "1"}, "values": [[ts(0), "abcd"], [ts(1), "efgh"]]},
            {"stream": {"app": "x", "pod": "2"}, "values": [[ts(2), "ij"]]},
            {"stream": {"app": "y"}, "values": [[ts(3), "klmnopqrst"]]},
        ]),
    );
    push(&s, "b", json!([{"stream": {"app": "x"}, "values": [[ts(0), "other tenant"]]}]));
    let (start, end) = ((t - 1).to_string(), (t + 10_000_000_000).to_string());
    let range = [("start", start.as_str()), ("end", end.as_str())];

    // POST form, tenant a only
    let r = client()
        .post(s.url("/loki/api/v1/index/stats"))
        .header("X-Scope-OrgID", "a")
        .form(&[("query", r#"{app="x"}"#), range[0], range[1]])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().unwrap();
    assert_eq!(v, json!({"streams": 2, "chunks": 2, "bytes": 10, "entries": 3}));

    let mut p = vec![("query", r#"{app=~"x|y"}"#), ("aggregateBy", "labels")];
    p.extend(range);
    let (code, body) = get(&s, "a", "/loki/api/v1/index/volume", &p);
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let result = &v["data"]["result"];
    assert_eq!(result[0]["metric"], json!({"app": ""}));
    assert_eq!(result[0]["value"][1], "20");
    assert_eq!(result[1]["metric"], json!({"pod": ""}));
    assert_eq!(result[1]["value"][1], "10");

    let mut p = vec![("query", r#"{app=~"x|y"}"#), ("limit", "1")];
    p.extend(range);
    let (_, body) = get(&s, "a", "/loki/api/v1/index/volume", &p);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["data"]["result"].as_array().unwrap().len(), 1);
    assert_eq!(v["data"]["result"][0]["metric"], json!({"app": "x"}), "largest first");

    let mut p = vec![("query", r#"{app="y"}"#), ("step", "1s")];
    p.extend(range);
    let (_, body) = get(&s, "a", "/loki/api/v1/index/volume_range", &p);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["data"]["resultType"], "matrix");
    assert_eq!(v["data"]["result"][0]["values"].as_array().unwrap().len(), 1);

    let mut p = vec![("query", r#"{app="x"} |= "a""#)];
    p.extend(range);
    assert_eq!(get(&s, "a", "/loki/api/v1/index/stats", &p), (400, "only label matchers are supported".into()));
    let mut p = vec![("query", r#"{app="x"}"#), ("aggregateBy", "pods")];
    p.extend(range);
    assert_eq!(get(&s, "a", "/loki/api/v1/index/volume", &p), (400, "invalid aggregation option".into()));
}
