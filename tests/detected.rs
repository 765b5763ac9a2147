//! Grafana's filter helpers against the real binary (all roles, so each request
//! also passes the query-frontend and its querier worker): `detected_labels`
//! leaves out labels whose values are all identifiers, `detected_fields` finds
//! fields in structured metadata, JSON and logfmt lines with their types and
//! parsers, `detected_field/{name}/values` lists one field's values, and bad
//! parameters get Loki's 400s; with `discover_log_levels` on, every line gets a
//! `detected_level` that Grafana's log volume query groups by.

mod common;

use common::{client, get_value, now_ns, push_streams, result_label_values, Skald};
use serde_json::{json, Value};

fn get(s: &Skald, path: &str, params: &[(&str, &str)]) -> (u16, Value) {
    get_value(s, "dt", path, params)
}

#[test]
fn labels_fields_and_values_for_grafana() {
    let s = Skald::start("auth_enabled: true\n");
    let t = now_ns() - 60_000_000_000;
    let ids = ["0b7e5d5c-3c1a-4a8e-9d55-1f0f5e1b2c3d", "7d444840-9dc0-11d1-b245-5ffdce74fad2", "123"];
    let mut streams = Vec::new();
    for (i, app) in ["api", "web", "db"].iter().enumerate() {
        let values = vec![
            json!([(t + 1).to_string(), format!("level=info took={}ms size=10KB ok=true", i + 1), {"trace_id": format!("tr{i}")}]),
            json!([(t + 2).to_string(), format!(r#"{{"status":{},"user":{{"id":"u{i}"}}}}"#, 200 + i)]),
            json!([(t + 3).to_string(), "level=error msg=\"disk full\""]),
        ];
        let labels = json!({"app": app, "env": if i == 0 { "prod" } else { "dev" }, "req": ids[i], "shard": i.to_string(), "pod": format!("{}", 7 + i)});
        streams.push(json!({"stream": labels, "values": values}));
    }
    let (code, body) = push_streams(&s, "dt", Value::Array(streams));
    assert_eq!(code, 204, "{body}");
    let (start, end) = ((t - 1).to_string(), (t + 1_000).to_string());
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut p: Vec<(&str, &str)> = vec![("start", start.as_str()), ("end", end.as_str())];
        p.extend_from_slice(extra);
        p
    };

    // labels: an empty query means every stream; req (UUIDs and a number) and
    // shard (numbers) are identifiers; pod is numeric too but always offered
    let (code, v) = get(&s, "/loki/api/v1/detected_labels", &with(&[("query", "")]));
    assert_eq!(code, 200, "{v}");
    let got: Vec<(String, u64)> = v["detectedLabels"]
        .as_array()
        .expect("a detectedLabels list")
        .iter()
        .map(|l| (l["label"].as_str().unwrap().to_string(), l["cardinality"].as_u64().unwrap()))
        .collect();
    let want = [("app", 3), ("env", 2), ("pod", 3), ("service_name", 3)];
    assert_eq!(got, want.iter().map(|(k, n)| (k.to_string(), *n)).collect::<Vec<_>>(), "{v}");
    let (_, v) = get(&s, "/loki/api/v1/detected_labels", &with(&[("query", r#"{env="dev"}"#)]));
    let env = v["detectedLabels"].as_array().unwrap().iter().find(|l| l["label"] == "app").cloned();
    assert_eq!(env, Some(json!({"label": "app", "cardinality": 2})), "{v}");

    // fields: types, parsers (none for structured metadata), cardinality
    let (code, v) = get(&s, "/loki/api/v1/detected_fields", &with(&[("query", r#"{env=~".+"}"#)]));
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["limit"], 1000);
    let fields = v["fields"].as_array().expect("a fields list");
    let field = |name: &str| fields.iter().find(|f| f["label"] == name).cloned().unwrap_or(Value::Null);
    assert_eq!(field("took"), json!({"label": "took", "type": "duration", "cardinality": 3, "parsers": ["logfmt"]}));
    assert_eq!(field("size"), json!({"label": "size", "type": "bytes", "cardinality": 1, "parsers": ["logfmt"]}));
    assert_eq!(field("ok")["type"], "boolean");
    assert_eq!(field("level"), json!({"label": "level", "type": "string", "cardinality": 2, "parsers": ["logfmt"]}));
    assert_eq!(field("status"), json!({"label": "status", "type": "int", "cardinality": 3, "parsers": ["json"]}));
    assert_eq!(field("user_id")["parsers"], json!(["json"]));
    assert_eq!(field("trace_id"), json!({"label": "trace_id", "type": "string", "cardinality": 3}));
    assert_eq!(fields.len(), 8, "took size ok level msg status user_id trace_id: {v}");

    // line_limit samples the newest lines only (the msg lines); limit caps fields
    let (_, v) = get(&s, "/loki/api/v1/detected_fields", &with(&[("query", r#"{env=~".+"}"#), ("line_limit", "3")]));
    let names: Vec<&str> = v["fields"].as_array().unwrap().iter().map(|f| f["label"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["level", "msg"], "{v}");
    let (_, v) = get(&s, "/loki/api/v1/detected_fields", &with(&[("query", r#"{env=~".+"}"#), ("limit", "2")]));
    assert_eq!((v["fields"].as_array().unwrap().len(), &v["limit"]), (2, &json!(2)), "{v}");

    // one field's values
    let (code, v) = get(&s, "/loki/api/v1/detected_field/level/values", &with(&[("query", r#"{app="api"}"#)]));
    assert_eq!(code, 200, "{v}");
    assert_eq!(v, json!({"values": ["error", "info"], "limit": 1000}));

    // bad input: Loki's 400s
    for (path, extra, text) in [
        (
            "/loki/api/v1/detected_fields",
            vec![("query", r#"{app="api"}"#), ("line_limit", "0")],
            "limit must be a positive value",
        ),
        ("/loki/api/v1/detected_fields", vec![("query", r#"{app="api"}"#), ("limit", "x")], "invalid syntax"),
        (
            "/loki/api/v1/detected_fields",
            vec![("query", r#"{app="api"}"#), ("line_limit", "5001")],
            "max entries limit per query exceeded",
        ),
        (
            "/loki/api/v1/detected_fields",
            vec![("query", r#"count_over_time({app="api"}[1m])"#)],
            "only log selector is supported",
        ),
        ("/loki/api/v1/detected_fields", vec![], "parse error"),
        (
            "/loki/api/v1/detected_labels",
            vec![("query", "{}")],
            "queries require at least one regexp or equality matcher",
        ),
    ] {
        let (code, v) = get(&s, path, &with(&extra));
        assert_eq!(code, 400, "{path} {extra:?}: {v}");
        assert!(v.as_str().unwrap_or_default().contains(text), "{path} {extra:?}: {v}");
    }
}

#[test]
fn discovered_levels_group_grafana_log_volume() {
    let s = Skald::start("auth_enabled: true\nlimits_config:\n  discover_log_levels: true\n");
    let t = now_ns() - 60_000_000_000;
    let lines = [
        json!([(t + 1).to_string(), "ts=1 level=WARNING msg=\"disk at 91%\""]),
        json!([(t + 2).to_string(), r#"{"log":{"severity":"ERR"},"msg":"write failed"}"#]),
        json!([(t + 3).to_string(), "GET /health 200 took 3ms"]),
        json!([(t + 4).to_string(), "panic: fatal error in worker"]),
        json!([(t + 5).to_string(), "given level normalised", {"detected_level": "Dbg"}]),
    ];
    let (code, body) = push_streams(&s, "lv", json!([{"stream": {"app": "lv"}, "values": lines}]));
    assert_eq!(code, 204, "{body}");
    let (start, end) = ((t - 1).to_string(), (t + 1_000).to_string());

    // each line's level, as categorize-labels answers show structured metadata
    let r = client()
        .get(s.url("/loki/api/v1/query_range"))
        .header("X-Scope-OrgID", "lv")
        .header("X-Loki-Response-Encoding-Flags", "categorize-labels")
        .query(&[("query", r#"{app="lv"}"#), ("start", &start), ("end", &end), ("direction", "forward")])
        .send()
        .unwrap();
    let v: Value = r.json().unwrap();
    let mut got: Vec<(String, String)> = Vec::new();
    for stream in v["data"]["result"].as_array().expect("streams") {
        for value in stream["values"].as_array().unwrap() {
            let level = value[2]["structuredMetadata"]["detected_level"].as_str().unwrap_or("none");
            got.push((value[1].as_str().unwrap().to_string(), level.to_string()));
        }
    }
    got.sort();
    let want = [
        ("GET /health 200 took 3ms", "unknown"),
        ("given level normalised", "debug"),
        ("panic: fatal error in worker", "fatal"),
        ("ts=1 level=WARNING msg=\"disk at 91%\"", "warn"),
        (r#"{"log":{"severity":"ERR"},"msg":"write failed"}"#, "error"),
    ];
    assert_eq!(got, want.iter().map(|(l, v)| (l.to_string(), v.to_string())).collect::<Vec<_>>(), "{v}");

    // Grafana's log volume query groups by it
    let (code, v) = get_value(
        &s,
        "lv",
        "/loki/api/v1/query",
        &[("query", r#"sum by (detected_level) (count_over_time({app="lv"}[1h]))"#), ("time", &end)],
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(result_label_values(&v, "detected_level"), ["debug", "error", "fatal", "unknown", "warn"], "{v}");
    // and the drilldown limits say discovery is on
    let (_, v) = get_value(&s, "lv", "/loki/api/v1/drilldown-limits", &[]);
    assert_eq!(v["limits"]["discover_log_levels"], true, "{v}");
}
