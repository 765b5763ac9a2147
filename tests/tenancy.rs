//! Tenant isolation against the real binary: tenant `a` never sees tenant `b`'s
//! streams, labels, values, series, stats, volume or samples, neither from
//! ingester memory nor from the store after a flush; every object key the store
//! holds is under its tenant's prefix; tenant ids that could escape a prefix
//! (or name two tenants) are refused.

mod common;

use std::path::Path;

use common::{client, now_ns, Skald};
use serde_json::{json, Value};

fn push(s: &Skald, tenant: &str, streams: Value) {
    let r = client()
        .post(s.url("/loki/api/v1/push"))
        .header("X-Scope-OrgID", tenant)
        .header("Content-Type", "application/json")
        .body(json!({ "streams": streams }).to_string())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204, "{}", r.text().unwrap());
}

fn get(s: &Skald, tenant: &str, path: &str, params: &[(&str, &str)]) -> (u16, String) {
    let r = client().get(s.url(path)).header("X-Scope-OrgID", tenant).query(params).send().unwrap();
    (r.status().as_u16(), r.text().unwrap())
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
    let s = Skald::start("");
    let t = now_ns() - 10_000_000_000;
    let v = |i: i64, line: &str| json!([(t + i).to_string(), line]);
    push(&s, "a", json!([{"stream": {"app": "shared"}, "values": [v(0, "a line")]}]));
    push(
        &s,
        "b",
        json!([
            {"stream": {"app": "shared"}, "values": [v(1, "b line one"), v(2, "b line two")]},
            {"stream": {"app": "b-only", "secret": "b-secret"}, "values": [v(3, "b private")]}
        ]),
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
