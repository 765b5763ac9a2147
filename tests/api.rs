//! End-to-end tests of the foundation against the real binary: push in every
//! wire format, read back through every query endpoint, and bad input.

mod common;

use std::io::Write;
use std::time::Duration;

use common::{client, now_ns, Skald};
use prost::Message;
use serde_json::{json, Value};
use skald::proto::logproto;

const CONFIG: &str = "auth_enabled: true\nlimits_config:\n  max_line_size: 1000\n";

fn push_json(s: &Skald, tenant: &str, body: &Value) -> reqwest::blocking::Response {
    client()
        .post(s.url("/loki/api/v1/push"))
        .header("X-Scope-OrgID", tenant)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap()
}

fn query_range(s: &Skald, tenant: &str, q: &str, extra: &[(&str, &str)]) -> (u16, String) {
    let mut params = vec![("query", q)];
    params.extend_from_slice(extra);
    let r =
        client().get(s.url("/loki/api/v1/query_range")).header("X-Scope-OrgID", tenant).query(&params).send().unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

fn lines_of(body: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let mut out: Vec<(i64, String)> = Vec::new();
    for s in v["data"]["result"].as_array().unwrap() {
        for e in s["values"].as_array().unwrap() {
            out.push((e[0].as_str().unwrap().parse().unwrap(), e[1].as_str().unwrap().to_string()));
        }
    }
    out.sort();
    out.into_iter().map(|(_, l)| l).collect()
}

fn proto_push(labels: &str, base: i64, lines: &[&str]) -> Vec<u8> {
    let req = logproto::PushRequest {
        streams: vec![logproto::StreamAdapter {
            labels: labels.into(),
            entries: lines
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let ts = base + i as i64;
                    logproto::EntryAdapter {
                        timestamp: Some(prost_types::Timestamp {
                            seconds: ts / 1_000_000_000,
                            nanos: (ts % 1_000_000_000) as i32,
                        }),
                        line: l.to_string().into_bytes().into(),
                        structured_metadata: vec![],
                        parsed: vec![],
                    }
                })
                .collect(),
            hash: 0,
        }],
        format: String::new(),
    };
    snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()).unwrap()
}

#[test]
fn push_json_and_read_back_everywhere() {
    let s = Skald::start(CONFIG);
    let t = now_ns() - 60_000_000_000;
    let body = json!({"streams": [
        {"stream": {"app": "web", "env": "prod"}, "values": [[t.to_string(), "GET /a 200"], [(t + 1).to_string(), "GET /b 500", {"trace_id": "abc"}]]},
        {"stream": {"app": "db", "env": "prod"}, "values": [[(t + 2).to_string(), "slow query 1200ms"]]}
    ]});
    assert_eq!(push_json(&s, "acme", &body).status().as_u16(), 204);

    let (code, b) = query_range(&s, "acme", r#"{env="prod"}"#, &[("direction", "forward")]);
    assert_eq!(code, 200, "{b}");
    assert_eq!(lines_of(&b), vec!["GET /a 200", "GET /b 500", "slow query 1200ms"]);
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["resultType"], "streams");
    assert_eq!(v["data"]["stats"]["summary"]["totalEntriesReturned"], 3);
    // structured metadata joins the labels of its entry
    assert!(v["data"]["result"].as_array().unwrap().iter().any(|r| r["stream"]["trace_id"] == "abc"));

    let (_, b) = query_range(&s, "acme", r#"{app="web"} |= "GET" != "200""#, &[]);
    assert_eq!(lines_of(&b), vec!["GET /b 500"]);
    let (_, b) = query_range(&s, "acme", r#"{app=~"w.*|d.*"} |~ "\\d{4}ms""#, &[]);
    assert_eq!(lines_of(&b), vec!["slow query 1200ms"]);
    let (_, b) = query_range(&s, "acme", r#"{env="prod"}"#, &[("limit", "1")]);
    assert_eq!(lines_of(&b), vec!["slow query 1200ms"], "backward by default, global limit");

    // categorize-labels keeps stream labels apart from metadata
    let r = client()
        .get(s.url("/loki/api/v1/query_range"))
        .header("X-Scope-OrgID", "acme")
        .header("X-Loki-Response-Encoding-Flags", "categorize-labels")
        .query(&[("query", r#"{app="web"}"#)])
        .send()
        .unwrap();
    let v: Value = r.json().unwrap();
    assert_eq!(v["data"]["encodingFlags"], json!(["categorize-labels"]));
    let res = v["data"]["result"].as_array().unwrap();
    assert_eq!(res.len(), 1);
    assert_eq!(res[0]["values"][0][2]["structuredMetadata"]["trace_id"], "abc");

    // with a parser: plain answers split streams by extracted labels, categorized ones put them under "parsed"
    let q = r#"{app="web"} | pattern "<method> <path> <status>" | line_format "{{.status}} {{.path}}""#;
    let (code, b) = query_range(&s, "acme", q, &[("direction", "forward")]);
    assert_eq!(code, 200, "{b}");
    assert_eq!(lines_of(&b), vec!["200 /a", "500 /b"]);
    let v: Value = serde_json::from_str(&b).unwrap();
    let res = v["data"]["result"].as_array().unwrap();
    assert_eq!(res.len(), 2);
    assert!(res.iter().any(|r| r["stream"]["status"] == "500" && r["stream"]["trace_id"] == "abc"));
    let r = client()
        .get(s.url("/loki/api/v1/query_range"))
        .header("X-Scope-OrgID", "acme")
        .header("X-Loki-Response-Encoding-Flags", "categorize-labels")
        .query(&[("query", q), ("direction", "forward")])
        .send()
        .unwrap();
    let v: Value = r.json().unwrap();
    let res = v["data"]["result"].as_array().unwrap();
    assert_eq!(res.len(), 1, "{v}");
    assert_eq!(res[0]["stream"], json!({"app": "web", "env": "prod", "service_name": "web"}));
    assert_eq!(res[0]["values"][0][2], json!({"parsed": {"method": "GET", "path": "/a", "status": "200"}}));
    assert_eq!(res[0]["values"][1][2]["structuredMetadata"], json!({"trace_id": "abc"}));
    assert_eq!(res[0]["values"][1][2]["parsed"]["status"], "500");

    let labels: Value =
        client().get(s.url("/loki/api/v1/labels")).header("X-Scope-OrgID", "acme").send().unwrap().json().unwrap();
    assert_eq!(labels["data"], json!(["app", "env", "service_name"]));
    let vals: Value = client()
        .post(s.url("/loki/api/v1/label/app/values"))
        .header("X-Scope-OrgID", "acme")
        .form(&[("query", r#"{env="prod"}"#)])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(vals["data"], json!(["db", "web"]));
    let series: Value = client()
        .get(s.url("/loki/api/v1/series"))
        .header("X-Scope-OrgID", "acme")
        .query(&[("match[]", r#"{app="db"}"#)])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(series["data"], json!([{"app": "db", "env": "prod", "service_name": "db"}]));

    // tenants are isolated
    let (_, b) = query_range(&s, "other", r#"{env="prod"}"#, &[]);
    assert!(lines_of(&b).is_empty());
    let labels: Value =
        client().get(s.url("/loki/api/v1/labels")).header("X-Scope-OrgID", "other").send().unwrap().json().unwrap();
    assert!(labels.get("data").is_none(), "Loki omits empty data: {labels}");

    // an instant query cannot be a log query
    let r = client()
        .get(s.url("/loki/api/v1/query"))
        .header("X-Scope-OrgID", "acme")
        .query(&[("query", r#"{app="web"}"#)])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(
        r.text().unwrap(),
        "log queries are not supported as an instant query type, please change your query to a range query type"
    );
}

#[test]
fn push_snappy_protobuf_gzip_and_grpc() {
    let s = Skald::start(CONFIG);
    let t = now_ns() - 10_000_000_000;
    let r = client()
        .post(s.url("/loki/api/v1/push"))
        .header("X-Scope-OrgID", "p")
        .header("Content-Type", "application/x-protobuf")
        .body(proto_push(r#"{job="proto"}"#, t, &["one", "two"]))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204, "{}", r.text().unwrap());

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let body = json!({"streams": [{"stream": {"job": "gz"}, "values": [[(t + 5).to_string(), "zipped"]]}]});
    gz.write_all(body.to_string().as_bytes()).unwrap();
    let r = client()
        .post(s.url("/loki/api/v1/push"))
        .header("X-Scope-OrgID", "p")
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);

    let legacy =
        json!({"streams": [{"labels": "{job=\"legacy\"}", "entries": [{"ts": "2099-01-01T00:00:00Z", "line": "x"}]}]});
    let r = client()
        .post(s.url("/api/prom/push"))
        .header("X-Scope-OrgID", "p")
        .header("Content-Type", "application/json")
        .body(legacy.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400, "too new is rejected with Loki's text");
    assert!(r.text().unwrap().contains("has timestamp too new: 2099-01-01T00:00:00Z"));

    // gRPC Pusher, as a distributor client would use it
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut c =
            logproto::pusher_client::PusherClient::connect(format!("http://127.0.0.1:{}", s.grpc_port)).await.unwrap();
        let raw =
            snap::raw::Decoder::new().decompress_vec(&proto_push(r#"{job="grpc"}"#, t + 10, &["via grpc"])).unwrap();
        let mut req = tonic::Request::new(logproto::PushRequest::decode(&raw[..]).unwrap());
        req.metadata_mut().insert("x-scope-orgid", "p".parse().unwrap());
        c.push(req).await.unwrap();
    });

    let (_, b) = query_range(&s, "p", r#"{job=~".+"}"#, &[("direction", "forward")]);
    assert_eq!(lines_of(&b), vec!["one", "two", "zipped", "via grpc"]);
}

fn post_raw(s: &Skald, ct: Option<&str>, ce: Option<&str>, body: Vec<u8>) -> (u16, String) {
    let mut r = client().post(s.url("/loki/api/v1/push")).header("X-Scope-OrgID", "bad");
    if let Some(ct) = ct {
        r = r.header("Content-Type", ct);
    }
    if let Some(ce) = ce {
        r = r.header("Content-Encoding", ce);
    }
    let resp = r.body(body).send().unwrap();
    (resp.status().as_u16(), resp.text().unwrap())
}

#[test]
fn bad_input_gets_4xx_and_keeps_data() {
    let s = Skald::start(CONFIG);
    let t = now_ns() - 5_000_000_000;
    let good = json!({"streams": [{"stream": {"app": "keep"}, "values": [[t.to_string(), "precious"]]}]});
    assert_eq!(push_json(&s, "bad", &good).status().as_u16(), 204);

    /// content type, content encoding, body, expected status, expected text
    type Case<'a> = (Option<&'a str>, Option<&'a str>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (Some("application/json"), None, b"{not json".to_vec(), 400, "error unmarshaling push request"),
        (Some("application/x-protobuf"), None, b"\x05garbage".to_vec(), 400, "snappy"),
        (
            Some("application/x-protobuf"),
            None,
            snap::raw::Encoder::new().compress_vec(b"\xff\xff\xff").unwrap(),
            400,
            "protobuf",
        ),
        (None, None, b"{}".to_vec(), 400, "mime: no media type"),
        (Some("application/json"), Some("br"), b"{}".to_vec(), 400, "Content-Encoding \"br\" not supported"),
        (Some("application/json"), None, br#"{"streams":[]}"#.to_vec(), 422, "at least one valid stream"),
        (
            Some("application/json"),
            None,
            br#"{"streams":[{"stream":{"1bad":"x"},"values":[["1","a"]]}]}"#.to_vec(),
            400,
            "couldn't parse labels",
        ),
        (Some("application/json"), None, vec![b' '; 101 << 20], 413, "request body too large"),
    ];
    for (ct, ce, body, code, text) in cases {
        let (c, b) = post_raw(&s, ct, ce, body);
        assert_eq!(c, code, "{ct:?} {ce:?}: {b}");
        assert!(b.contains(text), "{b:?} should contain {text:?}");
        assert!(b.ends_with('\n'), "push errors end with a newline like Go's http.Error");
    }
    let labels_bad = "{app=\"x\"";
    let (c, b) = post_raw(&s, Some("application/x-protobuf"), None, proto_push(labels_bad, t, &["x"]));
    assert_eq!(c, 400);
    assert!(b.starts_with("couldn't parse labels: "), "{b}");

    // partial acceptance: the valid stream is written, the 400 lists the problem
    let mixed = json!({"streams": [
        {"stream": {"app": "ok"}, "values": [[(t + 1).to_string(), "fine"]]},
        {"stream": {"app": "long"}, "values": [[(t + 2).to_string(), "x".repeat(2000)]]}
    ]});
    let r = push_json(&s, "bad", &mixed);
    assert_eq!(r.status().as_u16(), 400);
    let text = r.text().unwrap();
    assert!(text.contains("Max entry size '1000' bytes exceeded for stream '{app=\"long\", service_name=\"long\"}' while adding an entry with length '2000' bytes"), "{text}");

    // out of order beyond the window: Loki's ingester text
    let old = json!({"streams": [{"stream": {"app": "ok"}, "values": [[(t - 2 * 3_600_000_000_000i64).to_string(), "late"]]}]});
    let r = push_json(&s, "bad", &old);
    assert_eq!(r.status().as_u16(), 400);
    let text = r.text().unwrap();
    assert!(text.contains("ignored, reason: 'entry too far behind, entry timestamp is: "), "{text}");
    assert!(
        text.contains("user 'bad', total ignored: 1 out of 1 for stream: {app=\"ok\", service_name=\"ok\"}"),
        "{text}"
    );

    // no tenant
    let r =
        client().post(s.url("/loki/api/v1/push")).header("Content-Type", "application/json").body("{}").send().unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(r.text().unwrap(), "no org id\n");

    let (_, b) = query_range(&s, "bad", r#"{app=~"keep|ok|long"}"#, &[("direction", "forward")]);
    assert_eq!(lines_of(&b), vec!["precious", "fine"], "earlier data intact, valid stream written");

    let m = client().get(s.url("/metrics")).send().unwrap().text().unwrap();
    assert!(m.contains(r#"loki_discarded_samples_total{reason="line_too_long",tenant="bad"} 1"#), "{m}");
    assert!(m.contains(r#"loki_discarded_samples_total{reason="too_far_behind",tenant="bad"} 1"#));
    assert!(m.contains(r#"loki_distributor_lines_received_total{tenant="bad"}"#));
    assert!(m.contains(r#"loki_ingester_memory_streams{tenant="bad"} 2"#), "{m}");
}

#[test]
fn query_errors_use_loki_texts() {
    let s = Skald::start(CONFIG);
    /// query, extra parameters, expected text
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (r#"{app=~".*"}"#, &[], "parse error : queries require at least one regexp or equality matcher"),
        (r#"{app="a"}"#, &[("limit", "0")], "limit must be a positive value"),
        (
            r#"{app="a"}"#,
            &[("limit", "6000")],
            "max entries limit per query exceeded, limit > max_entries_limit_per_query (6000 > 5000)",
        ),
        (r#"{app="a"}"#, &[("direction", "up")], "invalid direction 'up'"),
        (r#"{app="a"}"#, &[("start", "yesterday")], "could not parse 'start' parameter"),
        (
            r#"{app="a"}"#,
            &[("start", "1700000100"), ("end", "1700000000")],
            "end timestamp must not be before or equal to start time",
        ),
        (r#"{app="a""#, &[], "parse error at line 1, col 9"),
        (
            r#"sum_over_time({app="a"} | json [5m])"#,
            &[],
            "parse error : invalid aggregation sum_over_time without unwrap",
        ),
        (
            r#"{app="a"} | pattern "<_> x""#,
            &[],
            "parse error : invalid pattern parser: at least one capture is required",
        ),
    ];
    for (q, extra, want) in cases {
        let (code, body) = query_range(&s, "x", q, extra);
        assert_eq!(code, 400, "{q} {extra:?}: {body}");
        assert!(body.contains(want), "{q} {extra:?}: {body:?} should contain {want:?}");
    }
}

#[test]
fn ops_endpoints_and_graceful_shutdown() {
    let mut s = Skald::start(CONFIG);
    let c = client();
    assert_eq!(c.get(s.url("/ready")).send().unwrap().text().unwrap(), "ready\n");
    let services = c.get(s.url("/services")).send().unwrap().text().unwrap();
    assert!(services.contains("ingester => Running") && services.contains("distributor => Running"), "{services}");
    let cfg = c.get(s.url("/config")).send().unwrap().text().unwrap();
    assert!(cfg.contains("max_line_size: 1000"), "{cfg}");
    let bi: Value = c.get(s.url("/loki/api/v1/status/buildinfo")).send().unwrap().json().unwrap();
    assert!(bi["version"].is_string() && bi.get("goVersion").is_some());
    let m = c.get(s.url("/metrics")).send().unwrap().text().unwrap();
    assert!(m.contains("loki_request_duration_seconds_bucket{method=\"GET\",route=\"ready\""), "{m}");
    let f: Value = c
        .get(s.url("/loki/api/v1/format_query"))
        .query(&[("query", r#"{ b="1",a =~ "x" }|="y""#)])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(f["data"], r#"{b="1", a=~"x"} |= "y""#);
    let lim = c.get(s.url("/config/tenant/v1/limits")).header("X-Scope-OrgID", "t").send().unwrap().text().unwrap();
    assert!(lim.contains("max_line_size: 1000"), "{lim}");
    assert_eq!(c.get(s.url("/config/tenant/v1/limits")).send().unwrap().status().as_u16(), 401);
    let dd: Value =
        c.get(s.url("/loki/api/v1/drilldown-limits")).header("X-Scope-OrgID", "t").send().unwrap().json().unwrap();
    assert_eq!(dd["limits"]["max_entries_limit_per_query"], 5000);
    let st = s.terminate(Duration::from_secs(20));
    assert!(st.success(), "SIGTERM exits cleanly: {st}");
}

#[test]
fn verify_config_flag() {
    let seed = common::shared().join("reference/seed/loki-config.yaml");
    let out = std::process::Command::new(common::BIN)
        .args([format!("-config.file={}", seed.display()), "-verify-config".into()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not act on yet") && stderr.contains("table_manager.retention_period"), "{stderr}");

    let dir = common::TempDir::new("verify");
    let bad = dir.0.join("bad.yaml");
    std::fs::write(&bad, "ingester:\n  chunk_idle_perod: 1h\n").unwrap();
    let out = std::process::Command::new(common::BIN)
        .args([format!("--config.file={}", bad.display()), "--verify-config".into()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ingester.chunk_idle_perod") && stderr.contains("chunk_idle_period"), "{stderr}");
}

#[test]
fn ingestion_rate_limit_answers_429() {
    // 104 bytes/s refills the 597 bytes left after the first push to 1500 in over 8 s: the second push is refused
    let s = Skald::start("limits_config:\n  ingestion_rate_mb: 0.0001\n  ingestion_burst_size_mb: 0.002\n");
    let t = now_ns() - 1_000_000_000;
    let push = |i: i64| {
        let body = json!({"streams": [{"stream": {"app": "rl"}, "values": [[(t + i).to_string(), "x".repeat(1500)]]}]});
        push_json(&s, "rl", &body)
    };
    assert_eq!(push(0).status().as_u16(), 204, "the first 1500 bytes fit the 2 KiB burst");
    let r = push(1);
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(
        r.text().unwrap(),
        "Ingestion rate limit exceeded for user rl (limit: 104 bytes/sec) while attempting to ingest '1' lines totaling '1500' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased\n"
    );
    let m = client().get(s.url("/metrics")).send().unwrap().text().unwrap();
    assert!(m.contains(r#"loki_discarded_samples_total{reason="rate_limited",tenant="rl"} 1"#), "{m}");
    let (_, b) = query_range(&s, "rl", r#"{app="rl"}"#, &[]);
    assert_eq!(lines_of(&b).len(), 1, "the rejected request wrote nothing");
}
