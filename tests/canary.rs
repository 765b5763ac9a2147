//! `skald canary` against a running Skald: a clean run finds nothing missing or
//! duplicated and serves its counts as metrics; an entry the canary records but
//! never sends (its fault-injection flag) is reported missing, with exit code 1.
//! `CANARY_SECONDS` sets the clean run's length (default 15; the issue's
//! 5-minute run: 300).

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{client, free_port, Skald, BIN};
use serde_json::Value;

fn canary(s: &Skald, secs: u64, extra: &[&str]) -> (Option<i32>, Value) {
    let out = Command::new(BIN)
        .args(["canary", "--url", &s.url(""), "--interval", "50ms", "--wait", "5s", "--spot-check-every", "3s"])
        .args(["--duration", &format!("{secs}s")])
        .args(extra)
        .stderr(Stdio::null())
        .output()
        .expect("run the canary");
    let last = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or("{}").to_string();
    (out.status.code(), serde_json::from_str(&last).expect("a JSON summary line"))
}

#[test]
fn a_clean_run_finds_nothing_missing_and_serves_metrics() {
    let s = Skald::start("auth_enabled: true\n");
    let secs: u64 = std::env::var("CANARY_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(15);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let scrape = std::thread::spawn(move || {
        // the metrics endpoint answers while the canary runs
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = client().get(format!("http://127.0.0.1:{port}/metrics")).send() {
                let body = r.text().unwrap_or_default();
                if body.contains("loki_canary_entries_total") && !body.contains("loki_canary_entries_total 0") {
                    return body;
                }
            }
            assert!(Instant::now() < deadline, "no canary metrics");
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let (code, c) = canary(&s, secs, &["--listen", &listen]);
    eprintln!("canary summary after {secs} s: {c}");
    assert!(scrape.join().unwrap().contains("loki_canary_missing_entries_total 0"));
    assert_eq!(code, Some(0), "{c}");
    assert!(c["entries"].as_u64().unwrap() >= secs * 10, "entries written: {c}");
    assert_eq!(c["received"], c["entries"], "every entry through the tail: {c}");
    for k in [
        "missing",
        "websocket_missing",
        "duplicates",
        "out_of_order",
        "unexpected",
        "spot_check_missing",
        "spot_check_duplicates",
    ] {
        assert_eq!(c[k], 0, "{k}: {c}");
    }
    assert!(c["spot_checks"].as_u64().unwrap() >= 2, "{c}");
}

#[test]
fn a_dropped_entry_is_reported_missing() {
    let s = Skald::start("auth_enabled: true\n");
    let (code, c) = canary(&s, 5, &["--inject-drop", "20"]);
    assert_eq!(code, Some(1), "a lost entry fails the run: {c}");
    assert_eq!(c["missing"], 1, "{c}");
    assert_eq!(c["spot_check_missing"], 1, "the query path lacks it too: {c}");
    assert_eq!(c["duplicates"], 0, "{c}");
}
