//! Tenant isolation against the real binary: tenant `a` never sees tenant `b`'s
//! streams, labels, values, series, stats, volume or samples, neither from
//! ingester memory nor from the store after a flush; every object key the store
//! holds is under its tenant's prefix; tenant ids that could escape a prefix
//! (or name two tenants) are refused.

mod common;

use std::path::Path;

use common::{client, now_ns, push_streams, result_label_values, Skald};
use serde_json::{json, Value};

fn push(s: &Skald, tenant: &str, streams: Value) {
    let (code, text) = push_streams(s, tenant, streams);
    assert_eq!(code, 204, "{text}");
}

fn get(s: &Skald, tenant: &str, path: &str, params: &[(&str, &str)]) -> (u16, String) {
    let r = client().get(s.url(path)).header("X-Scope-OrgID", tenant).query(params).send().unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

/// Starts skald with `config` and pushes one line per `(labels, line)` to tenants
/// `a` and `b`, a nanosecond apart from ten seconds ago (returned).
fn seed(config: &str, a: &[(Value, &str)], b: &[(Value, &str)]) -> (Skald, i64) {
    let s = Skald::start(config);
    let t = now_ns() - 10_000_000_000;
    for (i, (tenant, lines)) in [("a", a), ("b", b)].into_iter().enumerate() {
        let streams: Vec<Value> = lines
            .iter()
            .enumerate()
            .map(|(j, (labels, line))| {
                json!({"stream": labels, "values": [[(t + (i * 100 + j) as i64).to_string(), line]]})
            })
            .collect();
        push(&s, tenant, Value::Array(streams));
    }
    (s, t)
}

/// Everything tenant `a` can learn; none of it may mention `b`'s data.
fn views_of_a(s: &Skald, start: &str, end: &str) -> Vec<String> {
    let with_range = |extra: &[(&'static str, &'static str)]| {
        let mut p = vec![("start", start.to_string()), ("end", end.to_string())];
        p.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        p
    };
    let calls: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("/loki/api/v1/query_range", with_range(&[("query", r#"{app=~".+"}"#), ("limit", "1000")])),
        ("/loki/api/v1/query_range", with_range(&[("query", r#"sum by (app) (count_over_time({app=~".+"}[1h]))"#)])),
        ("/loki/api/v1/labels", with_range(&[])),
        ("/loki/api/v1/label/app/values", with_range(&[])),
        ("/loki/api/v1/label/secret/values", with_range(&[])),
        ("/loki/api/v1/series", with_range(&[("match[]", r#"{app=~".+"}"#)])),
        ("/loki/api/v1/index/stats", with_range(&[("query", r#"{app=~".+"}"#)])),
        ("/loki/api/v1/index/volume", with_range(&[("query", r#"{app=~".+"}"#)])),
    ];
    calls
        .into_iter()
        .map(|(path, params)| {
            let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (code, body) = get(s, "a", path, &params);
            assert_eq!(code, 200, "{path}: {body}");
            body
        })
        .collect()
}

fn object_keys(root: &Path, prefix: &str, out: &mut Vec<String>) {
    for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let name = format!("{prefix}{}", e.file_name().to_string_lossy());
        if e.path().is_dir() {
            object_keys(&e.path(), &format!("{name}/"), out);
        } else {
            out.push(name);
        }
    }
}

#[test]
fn tenants_are_isolated_in_memory_and_in_the_store() {
    let (s, t) = seed(
        "",
        &[(json!({"app": "shared"}), "a line")],
        &[
            (json!({"app": "shared"}), "b line one"),
            (json!({"app": "shared"}), "b line two"),
            (json!({"app": "b-only", "secret": "b-secret"}), "b private"),
        ],
    );
    let (start, end) = ((t - 3_600_000_000_000).to_string(), (t + 3_600_000_000_000).to_string());
    let check = |when: &str| {
        let views = views_of_a(&s, &start, &end);
        for (i, body) in views.iter().enumerate() {
            for leak in ["b line", "b private", "b-only", "b-secret", "secret"] {
                assert!(!body.contains(leak), "{when}: view {i} of tenant a shows {leak:?}: {body}");
            }
        }
        assert!(views[0].contains("a line"), "{when}: a sees its own line: {}", views[0]);
        let stats: Value = serde_json::from_str(&views[6]).unwrap();
        assert_eq!((stats["streams"].as_u64(), stats["entries"].as_u64()), (Some(1), Some(1)), "{when}");
        let metric: Value = serde_json::from_str(&views[1]).unwrap();
        let total: f64 = metric["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["values"].as_array().unwrap().last().unwrap()[1].as_str().unwrap().parse::<f64>().unwrap())
            .sum();
        assert_eq!(total, 1.0, "{when}: a counts only its own line");
    };
    check("in memory");

    assert_eq!(client().post(s.url("/flush")).send().unwrap().status().as_u16(), 204);
    check("after flush (from the store)");

    let mut keys = Vec::new();
    object_keys(&s.dir.0.join("data").join("chunks"), "", &mut keys);
    assert!(keys.iter().any(|k| k.starts_with("a/chunks/")), "{keys:?}");
    assert!(keys.iter().any(|k| k.starts_with("b/chunks/")), "{keys:?}");
    for k in &keys {
        let tenant = k.strip_prefix("index/").map(|r| r.split('/').nth(1)).unwrap_or_else(|| k.split('/').next());
        assert!(matches!(tenant, Some("a" | "b")), "object {k} is outside a tenant prefix");
    }

    // ids that could leave a prefix, or name several tenants, are refused
    for (id, want) in [
        ("..", "tenant ID is '.' or '..'"),
        ("../b", "contains unsupported character '/'"),
        ("a|b", "multiple org IDs present"),
        (&"x".repeat(151), "tenant ID is too long: max 150 characters"),
    ] {
        let (code, body) = get(&s, id, "/loki/api/v1/labels", &[]);
        assert_eq!(code, 400, "{id}: {body}");
        assert!(body.contains(want), "{id}: {body}");
    }
}

#[test]
fn multi_tenant_queries_tag_results_with_tenant_id() {
    let (s, t) = seed(
        "querier:\n  multi_tenant_queries_enabled: true\n",
        &[(json!({"app": "x"}), "from a")],
        &[(json!({"app": "x"}), "from b"), (json!({"app": "y"}), "b y")],
    );
    let both = |path: &str, params: &[(&str, &str)]| -> Value {
        let (code, body) = get(&s, "b|a", path, params);
        assert_eq!(code, 200, "{path} {params:?}: {body}");
        serde_json::from_str(&body).unwrap()
    };
    let streams = |v: &Value| -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| {
                let tenant = r["stream"]["__tenant_id__"].as_str().unwrap_or("-").to_string();
                r["values"].as_array().unwrap().iter().map(move |e| (tenant.clone(), e[1].as_str().unwrap().into()))
            })
            .collect();
        out.sort();
        out
    };
    let r = both("/loki/api/v1/query_range", &[("query", r#"{app="x"}"#)]);
    assert_eq!(streams(&r), [("a".into(), "from a".into()), ("b".into(), "from b".into())]);
    let r = both("/loki/api/v1/query_range", &[("query", r#"{app=~".+", __tenant_id__="b"}"#)]);
    assert_eq!(streams(&r), [("b".into(), "b y".into()), ("b".into(), "from b".into())]);
    let r = both("/loki/api/v1/query_range", &[("query", r#"{app=~".+"}"#), ("limit", "1"), ("direction", "forward")]);
    assert_eq!(streams(&r), [("a".into(), "from a".into())], "the limit spans tenants");

    let r = both("/loki/api/v1/query", &[("query", r#"sum by (__tenant_id__) (count_over_time({app=~".+"}[1h]))"#)]);
    let mut counts: Vec<(String, String)> = r["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["metric"]["__tenant_id__"].as_str().unwrap().into(), e["value"][1].as_str().unwrap().into()))
        .collect();
    counts.sort();
    assert_eq!(counts, [("a".into(), "1".into()), ("b".into(), "2".into())]);

    assert_eq!(both("/loki/api/v1/index/stats", &[("query", r#"{app=~".+"}"#)])["entries"], 3);
    let vol = both("/loki/api/v1/index/volume", &[("query", r#"{app=~".+"}"#), ("targetLabels", "__tenant_id__")]);
    assert_eq!(result_label_values(&vol, "__tenant_id__"), ["a", "b"]);
    assert_eq!(both("/loki/api/v1/label/__tenant_id__/values", &[])["data"], json!(["a", "b"]));
    assert_eq!(both("/loki/api/v1/label/app/values", &[])["data"], json!(["x", "y"]));
    let series = both("/loki/api/v1/series", &[("match[]", r#"{app="x"}"#)]);
    assert_eq!(
        series["data"],
        json!([
            {"__tenant_id__": "a", "app": "x", "service_name": "x"},
            {"__tenant_id__": "b", "app": "x", "service_name": "x"}
        ])
    );
    // writes stay single-tenant
    let streams = json!([{"stream": {"app": "x"}, "values": [[(t + 5).to_string(), "no"]]}]);
    assert_eq!(push_streams(&s, "a|b", streams), (400, "multiple org IDs present\n".to_string()));
}
