//! Per-tenant limits against the real binary: the runtime overrides file (applied
//! per tenant, reloaded on change), the ingester's stream and per-stream rate
//! limits (429, Loki's texts, discard reasons), and the query limits
//! (`max_query_lookback`, `query_timeout`, regexes too large, 11,000 points).

mod common;

use std::time::{Duration, Instant};

use common::{client, now_ns, push_streams, Skald};
use serde_json::{json, Value};

fn push(s: &Skald, tenant: &str, app: &str, lines: &[String]) -> (u16, String) {
    let t = now_ns() - 1_000_000_000;
    let values: Vec<Value> = lines.iter().enumerate().map(|(i, l)| json!([(t + i as i64).to_string(), l])).collect();
    push_streams(s, tenant, json!([{"stream": {"app": app}, "values": values}]))
}

fn get(s: &Skald, tenant: &str, path: &str, params: &[(&str, &str)]) -> (u16, String) {
    let r = client().get(s.url(path)).header("X-Scope-OrgID", tenant).query(params).send().unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

fn metrics(s: &Skald) -> String {
    client().get(s.url("/metrics")).send().unwrap().text().unwrap()
}

/// Starts skald with `limits` (indented `limits_config` lines) and a runtime config
/// file holding `overrides`; the directory holding the file must outlive the test.
fn start_with_overrides(limits: &str, overrides: &str) -> (Skald, common::TempDir) {
    let dir = common::TempDir::new("runtime");
    let file = dir.0.join("overrides.yaml");
    std::fs::write(&file, overrides).unwrap();
    let s = Skald::start(&format!("limits_config:\n{limits}runtime_config:\n  file: {}\n", file.display()));
    (s, dir)
}

#[test]
fn runtime_overrides_apply_per_tenant_and_reload() {
    let dir = common::TempDir::new("runtime");
    let file = dir.0.join("overrides.yaml");
    std::fs::write(&file, "overrides:\n  small:\n    max_line_size: 10\n    max_query_series: 3\n").unwrap();
    let s = Skald::start(&format!("runtime_config:\n  file: {}\n  period: 200ms\n", file.display()));
    let line = vec!["x".repeat(20)];
    let (code, text) = push(&s, "small", "a", &line);
    assert_eq!(code, 400);
    assert!(text.starts_with("Max entry size '10' bytes exceeded for stream"), "{text}");
    assert_eq!(push(&s, "other", "a", &line).0, 204, "other tenants keep limits_config");
    let (_, lim) = get(&s, "small", "/config/tenant/v1/limits", &[]);
    assert!(lim.contains("max_line_size: 10\n") && lim.contains("max_query_series: 3\n"), "{lim}");
    let (_, lim) = get(&s, "other", "/config/tenant/v1/limits", &[]);
    assert!(lim.contains("max_line_size: 256000\n"), "{lim}");

    std::fs::write(&file, "overrides:\n  small:\n    max_line_size: 100\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while push(&s, "small", "a", &line).0 != 204 {
        assert!(Instant::now() < deadline, "the changed file was not applied within 10 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    // a broken file keeps the last good overrides
    std::fs::write(&file, "overrides:\n  small:\n    max_line_sise: 1\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.stderr().contains("runtime config not reloaded") {
        assert!(Instant::now() < deadline, "no warning for the broken file: {}", s.stderr());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(push(&s, "small", "a", &line).0, 204);
}

#[test]
fn stream_and_per_stream_rate_limits_answer_429() {
    let (s, _dir) = start_with_overrides(
        "  max_global_streams_per_user: 2\n  per_stream_rate_limit: 1000\n  per_stream_rate_limit_burst: 2000\n",
        "overrides:\n  local:\n    max_streams_per_user: 1\n",
    );
    assert_eq!(push(&s, "t", "one", &["a".into()]).0, 204);
    assert_eq!(push(&s, "t", "two", &["a".into()]).0, 204);
    let (code, text) = push(&s, "t", "three", &["a".into()]);
    assert_eq!(code, 429);
    assert_eq!(
        text,
        "Maximum active stream limit exceeded when trying to create stream {app=\"three\", service_name=\"three\"}, reduce the number of active streams (reduce labels or reduce label values), or contact your Loki administrator to see if the limit can be increased, user: 't'\n"
    );
    assert_eq!(push(&s, "t", "two", &["b".into()]).0, 204, "existing streams still take entries");
    assert_eq!(push(&s, "local", "one", &["a".into()]).0, 204);
    assert_eq!(push(&s, "local", "two", &["a".into()]).0, 429, "the smaller local limit wins");

    // 2000 bytes of burst: the second 1500-byte line of a stream is refused
    let (code, text) = push(&s, "r", "rate", &["x".repeat(1500), "y".repeat(1500)]);
    assert_eq!(code, 429);
    assert!(text.contains(" ignored, reason: 'Per stream rate limit exceeded (limit: 1000B/sec) while attempting to ingest for stream '{app=\"rate\", service_name=\"rate\"}' totaling 1KiB476B, consider splitting a stream via additional labels or contact your Loki administrator to see if the limit can be increased',\n"), "{text}");
    assert!(
        text.ends_with("user 'r', total ignored: 1 out of 2 for stream: {app=\"rate\", service_name=\"rate\"}\n"),
        "{text}"
    );
    let (_, body) = get(&s, "r", "/loki/api/v1/query_range", &[("query", r#"{app="rate"}"#)]);
    assert!(body.contains(&"x".repeat(1500)) && !body.contains(&"y".repeat(1500)), "the first line was written");

    let m = metrics(&s);
    assert!(m.contains(r#"loki_discarded_samples_total{reason="stream_limit",tenant="t"} 1"#), "{m}");
    assert!(m.contains(r#"loki_discarded_samples_total{reason="stream_limit",tenant="local"} 1"#), "{m}");
    assert!(m.contains(r#"loki_discarded_samples_total{reason="per_stream_rate_limit",tenant="r"} 1"#), "{m}");
    assert!(m.contains(r#"loki_discarded_bytes_total{reason="per_stream_rate_limit",tenant="r"} 1500"#), "{m}");
}

#[test]
fn query_limits_use_loki_texts() {
    let (s, _dir) = start_with_overrides(
        "  max_query_lookback: 1h\n",
        "overrides:\n  len:\n    max_query_lookback: 0\n    max_query_length: 1h\n",
    );
    let now = now_ns() / 1_000_000_000;
    let (h3, h2) = ((now - 3 * 3600).to_string(), (now - 2 * 3600).to_string());
    /// tenant, path, parameters, expected status, expected text
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "q",
            "/loki/api/v1/query_range",
            vec![("query", r#"{app="a"}"#), ("start", &h3), ("end", &h2)],
            400,
            "this data is no longer available, it is past now - max_query_lookback (1h0m0s)",
        ),
        (
            "q",
            "/loki/api/v1/index/volume",
            vec![("query", r#"{app="a"}"#), ("start", &h3), ("end", &h2)],
            400,
            "this data is no longer available, it is past now - max_query_lookback (1h0m0s)",
        ),
        (
            "q",
            "/loki/api/v1/labels",
            vec![("start", &h3), ("end", &h2)],
            400,
            "this data is no longer available, it is past now - max_query_lookback (1h0m0s)",
        ),
        (
            "q",
            "/loki/api/v1/query_range",
            vec![("query", r#"{app="a"}"#), ("start", "0"), ("end", "11001"), ("step", "1")],
            400,
            "exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter",
        ),
        ("q", "/loki/api/v1/query_range", vec![("query", r#"{app=~"((a{100}){100}){100}"}"#)], 400, "parse error"),
        ("q", "/loki/api/v1/query_range", vec![("query", r#"{app="a"} |~ "((a{100}){100}){100}""#)], 400, "parse error"),
        (
            "q",
            "/loki/api/v1/query_range",
            vec![("query", r#"{app="a"} | regexp "((?P<x>a{100}){100}){100}""#)],
            400,
            "parse error",
        ),
        // tenant `len`: no lookback, a one-hour max_query_length
        (
            "len",
            "/loki/api/v1/query_range",
            vec![("query", r#"{app="a"}"#), ("start", &h3), ("end", &h2), ("limit", "10")],
            200,
            "success",
        ),
        (
            "len",
            "/loki/api/v1/query_range",
            vec![("query", r#"rate({app="a"}[5m])"#), ("start", &h3)],
            400,
            "the query time range exceeds the limit (query length: ",
        ),
    ];
    for (tenant, path, params, code, want) in cases {
        let (c, body) = get(&s, tenant, path, &params);
        assert_eq!(c, code, "{path} {params:?}: {body}");
        assert!(body.contains(want), "{path} {params:?}: {body:?} should contain {want:?}");
    }
    // a range reaching back past the lookback is clamped, not refused
    assert_eq!(push(&s, "q", "a", &["recent".into()]).0, 204);
    let (c, body) = get(&s, "q", "/loki/api/v1/query_range", &[("query", r#"{app="a"}"#), ("start", &h3)]);
    assert_eq!(c, 200, "{body}");
    assert!(body.contains("recent"), "{body}");
}

#[test]
fn query_timeout_answers_504() {
    let s = Skald::start("limits_config:\n  query_timeout: 1ms\n");
    let lines: Vec<String> = (0..20_000).map(|i| format!("level=info n={i} msg=\"line {i}\"")).collect();
    for chunk in lines.chunks(5000) {
        assert_eq!(push(&s, "slow", "t", chunk).0, 204);
    }
    let q = r#"sum by (n) (count_over_time({app="t"} | logfmt | n=~".*0.*" [1m]))"#;
    let (code, body) = get(&s, "slow", "/loki/api/v1/query_range", &[("query", q), ("step", "1")]);
    assert_eq!(code, 504, "{body}");
    assert_eq!(
        body,
        "request timed out, decrease the duration of the request or add more label matchers (prefer exact match over regex match) to reduce the amount of data processed"
    );
}

/// Pushes one stream with `labels` and one line at `ts`; the status and text.
fn push_one(s: &Skald, tenant: &str, labels: Value, ts: i64, line: &str) -> (u16, String) {
    push_streams(s, tenant, json!([{"stream": labels, "values": [[ts.to_string(), line]]}]))
}

#[test]
fn validation_limits_answer_with_status_text_and_reason() {
    let (s, _dir) = start_with_overrides(
        "  max_line_size: 100\n  max_label_names_per_series: 3\n  max_label_name_length: 12\n  max_label_value_length: 20\n  reject_old_samples_max_age: 1h\n  creation_grace_period: 1m\n",
        "overrides:\n  trunc:\n    max_line_size_truncate: true\n",
    );
    let now = now_ns();
    let h = 3_600_000_000_000i64;
    let long_name = "abcdefghijklm";
    let cases: Vec<(Value, i64, String, &str, String)> = vec![
        (
            json!({"job": "j"}),
            now,
            "x".repeat(200),
            "line_too_long",
            "Max entry size '100' bytes exceeded for stream '{job=\"j\", service_name=\"j\"}' while adding an entry with length '200' bytes".into(),
        ),
        (
            json!({"a": "1", "b": "2", "c": "3", "d": "4"}),
            now,
            "x".into(),
            "max_label_names_per_series",
            "has 4 label names; limit 3".into(),
        ),
        (json!({long_name: "v"}), now, "x".into(), "label_name_too_long", format!("has label name too long: '{long_name}'")),
        (
            json!({"env": "v".repeat(21)}),
            now,
            "x".into(),
            "label_value_too_long",
            format!("has label value too long: '{}'", "v".repeat(21)),
        ),
        (json!({"job": "old"}), now - 2 * h, "x".into(), "greater_than_max_sample_age", "has timestamp too old: ".into()),
        (json!({"job": "new"}), now + h, "x".into(), "too_far_in_future", "has timestamp too new: ".into()),
    ];
    for (labels, ts, line, reason, want) in &cases {
        let (code, text) = push_one(&s, "v", labels.clone(), *ts, line);
        assert_eq!(code, 400, "{reason}: {text}");
        assert!(text.contains(want.as_str()), "{reason}: {text:?} should contain {want:?}");
    }
    let m = metrics(&s);
    for (_, _, _, reason, _) in &cases {
        let want = format!(r#"loki_discarded_samples_total{{reason="{reason}",tenant="v"}} 1"#);
        assert!(m.contains(&want), "{want} missing");
    }
    // a tenant with max_line_size_truncate keeps the first 100 bytes
    assert_eq!(push_one(&s, "trunc", json!({"job": "t"}), now, &"y".repeat(150)).0, 204);
    let (_, body) = get(&s, "trunc", "/loki/api/v1/query_range", &[("query", r#"{job="t"}"#)]);
    assert!(body.contains(&format!("\"{}\"", "y".repeat(100))), "{body}");
}
