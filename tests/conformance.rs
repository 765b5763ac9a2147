//! Runs the shared Loki conformance cases (answers recorded from Grafana Loki 3.x)
//! against a real Skald started with the reference config, unchanged.
//!
//! The cases of the features Skald implements must all pass, answered from
//! ingester memory, from the store only, and from both at once.

mod common;

use std::process::Command;

use common::{free_port, shared, Skald};

/// Tags of implemented features. A case runs when it has one of these tags and
/// none of `LATER_TAGS`, and its id is not in `LATER_IDS`.
const FOUNDATION_TAGS: &[&str] = &[
    "selector",
    "matcher_eq",
    "matcher_neq",
    "matcher_re",
    "matcher_nre",
    "line_filter_contains",
    "line_filter_not_contains",
    "line_filter_regex",
    "line_filter_not_regex",
    "line_filter_ci_regex",
    "line_filter_ip",
    "line_filter_chained",
    "api_labels",
    "api_label_values",
    "api_series",
    "direction",
    "limit",
    "same_timestamp",
    "duplicates",
    "out_of_order",
    "interval",
    "time_formats",
    "post",
    "defaults",
    "boundaries",
    "utf8",
    "structured_metadata",
    "error_params",
    "error_regex",
    "error_validation",
    "error_parse",
    "error_limits",
    "version_specific",
    "syntax",
    "ansi",
    // the log pipeline
    "parser_json",
    "parser_json_params",
    "parser_logfmt",
    "parser_logfmt_flags",
    "parser_logfmt_params",
    "parser_pattern",
    "parser_regexp",
    "parser_unpack",
    "line_format",
    "label_format",
    "label_filter_string",
    "label_filter_number",
    "label_filter_duration",
    "label_filter_ip",
    "label_filter_bool",
    "label_filter_bytes",
    "keep",
    "drop",
    "decolorize",
    "error_filter",
    "template_functions",
    "extracted_label_clash",
    // metric queries
    "metric_query",
    "instant_query",
    "unwrap",
    "error_pipeline",
    // index statistics and volume
    "api_index_stats",
    "api_volume",
    "api_volume_range",
];

/// Features not implemented yet (none today).
const LATER_TAGS: &[&str] = &[];

/// Single cases left out (none today).
const LATER_IDS: &[&str] = &[];

/// Where the answers come from.
#[derive(Clone, Copy, PartialEq)]
enum Source {
    /// Ingester memory only (nothing flushed).
    Memory,
    /// The object store only: flushed, nothing retained in memory, process restarted.
    Storage,
    /// Both at once: flushed and still retained in memory, so every entry is
    /// answered twice and the querier's duplicate removal is exercised.
    Overlap,
}

#[test]
fn conformance_foundation_cases_pass() {
    run_conformance(Source::Memory);
}

#[test]
fn conformance_foundation_cases_pass_from_storage() {
    run_conformance(Source::Storage);
}

#[test]
fn conformance_foundation_cases_pass_from_memory_and_storage() {
    run_conformance(Source::Overlap);
}

fn run_conformance(source: Source) {
    let from_storage = source == Source::Storage;
    let conf = shared().join("conformance");
    let yaml = std::fs::read_to_string(conf.join("loki-reference-3x.yaml")).unwrap();
    let (http, grpc) = (free_port(), free_port());
    let dir = common::TempDir::new("conf");
    let data = dir.0.join("data");
    let retain = if from_storage { "0s" } else { "2h" };
    let mut s = Skald::start_with(
        &yaml,
        &["-config.expand-env=true"],
        &[
            ("HTTP_PORT", &http.to_string()),
            ("GRPC_PORT", &grpc.to_string()),
            ("DATA_DIR", data.to_str().unwrap()),
            ("SKALD_INGESTER__CHUNK_RETAIN_PERIOD", retain),
        ],
    );
    let url = s.url("");
    let state = dir.0.join("state.json");
    let out = Command::new("python3")
        .arg(conf.join("push.py"))
        .args(["--url", &url, "--state", state.to_str().unwrap(), "--wait-ready", "30"])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "push.py: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if source != Source::Memory {
        let r = common::client().post(s.url("/flush")).send().unwrap();
        assert_eq!(r.status().as_u16(), 204);
    }
    if from_storage {
        s.restart();
    }

    let mut cmd = Command::new("python3");
    cmd.arg(conf.join("run.py"))
        .args(["--state", state.to_str().unwrap()])
        .args(["--expect", conf.join("expected/loki-3x.json").to_str().unwrap()])
        .args(["--out", dir.0.join("results.json").to_str().unwrap()])
        .arg("--quiet");
    for t in FOUNDATION_TAGS {
        cmd.args(["--tag", t]);
    }
    for t in LATER_TAGS {
        cmd.args(["--skip-tag", t]);
    }
    if !LATER_IDS.is_empty() {
        cmd.args(["--only", &format!("^(?!({})$)", LATER_IDS.join("|"))]);
    }
    let out = cmd.output().expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    let last = stdout.lines().last().unwrap_or("");
    assert!(out.status.success(), "conformance failures:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let passed: usize =
        last.strip_prefix("conformance: ").and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(passed >= 100, "expected at least 100 cases to run, got: {last}");
}
