//! Query-frontend test helpers: a querier (with ingester and distributor) whose
//! workers pull from a queue, a query-frontend, data over the last 100 minutes,
//! and JSON GETs with a tenant. Used by tests/frontend.rs and tests/results_cache.rs.

use std::time::Duration;

use serde_json::{json, Value};

use super::{client, wait_for, Skald};

pub const MIN: i64 = 60_000_000_000;
pub const LIMITS: &str = "  discover_service_name: []\n  split_queries_by_interval: 10m\n";

/// A querier (with its ingester and distributor) whose workers pull from `queue`.
pub fn querier(queue_key: &str, queue_port: u16, extra: &str) -> Skald {
    Skald::start_with(
        &format!(
            "limits_config:\n{LIMITS}querier:\n  max_concurrent: 2\n{extra}frontend_worker:\n  {queue_key}: 127.0.0.1:{queue_port}\n"
        ),
        &["-target=querier,ingester,distributor"],
        &[],
    )
}

/// A query-frontend listening for gRPC on `grpc_port`.
pub fn frontend(grpc_port: u16, extra: &str) -> Skald {
    Skald::start_with(
        &format!("limits_config:\n{LIMITS}{extra}"),
        &["-target=query-frontend", &format!("-server.grpc-listen-port={grpc_port}")],
        &[],
    )
}

pub fn get(s: &Skald, tenant: &str, path: &str, params: &[(&str, String)]) -> (u16, String) {
    let r = client().get(s.url(path)).header("X-Scope-OrgID", tenant).query(params).send().unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

pub fn get_json(s: &Skald, tenant: &str, path: &str, params: &[(&str, String)]) -> Value {
    let (status, body) = get(s, tenant, path, params);
    assert_eq!(status, 200, "{path} {params:?}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// 300 lines over the last 100 minutes in three streams, distinct timestamps.
pub fn push_data(s: &Skald, tenant: &str, end: i64) {
    let streams: Vec<Value> = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, app)| {
            let values: Vec<Value> = (0..100)
                .map(|k| {
                    let ts = end - 100 * MIN + k * MIN + i as i64 * 7_000_000_000 + 1;
                    json!([
                        ts.to_string(),
                        format!("app={app} n={k} level={}", if k % 3 == 0 { "error" } else { "info" })
                    ])
                })
                .collect();
            json!({"stream": {"job": "fe", "app": app}, "values": values})
        })
        .collect();
    let (status, body) = super::push_streams(s, tenant, Value::Array(streams));
    assert_eq!(status, 204, "{body}");
}

/// Waits until the frontend answers through a connected worker.
pub fn wait_served(f: &Skald, tenant: &str) {
    wait_for("a worker to serve the frontend", Duration::from_secs(30), || {
        get(f, tenant, "/loki/api/v1/labels", &[]).0 == 200
    });
}
