//! `skald loadgen tail`: opens N live tails over WebSocket, pushes lines at a
//! steady rate (stamped with the time of the push) and reports push-to-client
//! latency percentiles over every entry every tail received, plus what arrived,
//! what is missing and what the server reported as dropped.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::flags::Flags;
use super::tail_client::{Event, TailClient};
use crate::model::time::now_ns;

const USAGE: &str = "skald loadgen tail [flags]
  --url <base>          server base URL (default http://127.0.0.1:3100)
  --tenant <id>         X-Scope-OrgID (default loadgen)
  --rate <n>            lines pushed per second (default 100)
  --tails <n>           concurrent tails of the pushed stream (default 1)
  --duration <d>        push time, e.g. 10s (default 10s)
  --line-size <bytes>   approximate line size (default 100)
";

const FLAGS: &[(&str, bool)] = &[
    ("url", true),
    ("tenant", true),
    ("rate", true),
    ("tails", true),
    ("duration", true),
    ("line-size", true),
    ("help", false),
];

/// What one tail saw: latencies in microseconds, entries, dropped entries reported.
#[derive(Default)]
struct TailReport {
    latencies_us: Vec<u32>,
    received: u64,
    dropped: u64,
    error: Option<String>,
}

pub fn main(args: &[String]) -> ExitCode {
    super::run_mode(args, USAGE, FLAGS, run)
}

fn run(f: &Flags) -> Result<(), String> {
    let base = f.str("url").unwrap_or("http://127.0.0.1:3100").trim_end_matches('/').to_string();
    let tenant = f.str("tenant").unwrap_or("loadgen").to_string();
    let rate: u64 = f.get("rate", 100)?;
    let tails: usize = f.get("tails", 1)?;
    let (duration, _) = super::budget(f)?;
    let line_size: usize = f.get("line-size", 100)?;
    if rate == 0 || tails == 0 {
        return Err("-rate and -tails must be positive".into());
    }
    let run_id = now_ns().to_string();
    let query = format!(r#"{{app="loadgen-tail", run="{run_id}"}}"#);
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(AtomicU64::new(0));
    let ready = Arc::new(Barrier::new(tails + 1));
    let readers: Vec<_> = (0..tails)
        .map(|_| {
            let (base, tenant, query) = (base.clone(), tenant.clone(), query.clone());
            let (stop, seen, ready) = (stop.clone(), seen.clone(), ready.clone());
            thread::spawn(move || read_tail(&base, &tenant, &query, &stop, &seen, &ready))
        })
        .collect();
    ready.wait();
    // the server subscribes right after the upgrade: give it a moment
    thread::sleep(Duration::from_millis(500));
    let (pushed, push_errors) = push_at_rate(&base, &tenant, &run_id, rate, duration, line_size)?;
    // wait for the last entries (at most 5 s)
    let drain_until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < drain_until && seen.load(Ordering::Relaxed) < pushed * tails as u64 {
        thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    let reports: Vec<TailReport> = readers.into_iter().map(|r| r.join().unwrap_or_default()).collect();
    report(&reports, pushed, push_errors, rate, tails, duration);
    Ok(())
}

fn read_tail(
    base: &str,
    tenant: &str,
    query: &str,
    stop: &AtomicBool,
    seen: &AtomicU64,
    ready: &Barrier,
) -> TailReport {
    let mut rep = TailReport::default();
    let client = TailClient::connect(base, "/loki/api/v1/tail", &[("query", query)], &[("X-Scope-OrgID", tenant)]);
    ready.wait();
    let mut c = match client {
        Ok(c) => c,
        Err(e) => {
            rep.error = Some(e.to_string());
            return rep;
        }
    };
    while !stop.load(Ordering::Relaxed) {
        match c.next(Duration::from_millis(100)) {
            Ok(Event::Frame(v)) => {
                let now = now_ns();
                for s in v["streams"].as_array().into_iter().flatten() {
                    for e in s["values"].as_array().into_iter().flatten() {
                        let ts: i64 = e[0].as_str().and_then(|t| t.parse().ok()).unwrap_or(now);
                        rep.latencies_us.push(((now - ts).max(0) / 1000).min(u32::MAX as i64) as u32);
                        rep.received += 1;
                        seen.fetch_add(1, Ordering::Relaxed);
                    }
                }
                rep.dropped += v["dropped_entries"].as_array().map_or(0, |d| d.len() as u64);
            }
            Ok(Event::Closed(code, reason)) => {
                rep.error = Some(format!("closed {code}: {reason}"));
                break;
            }
            Ok(_) => {}
            Err(e) => {
                rep.error = Some(e.to_string());
                break;
            }
        }
    }
    c.close();
    rep
}

/// Pushes `rate` lines per second for `duration` in JSON requests every 10 ms
/// (or one line per request below 100 lines/s); returns lines pushed and failed requests.
fn push_at_rate(
    base: &str,
    tenant: &str,
    run_id: &str,
    rate: u64,
    duration: Duration,
    line_size: usize,
) -> Result<(u64, u64), String> {
    let client = reqwest::blocking::Client::builder().build().map_err(|e| e.to_string())?;
    let (interval, per_req) = if rate >= 100 {
        (Duration::from_millis(10), rate / 100)
    } else {
        (Duration::from_secs_f64(1.0 / rate as f64), 1)
    };
    let pad = "x".repeat(line_size.saturating_sub(24));
    let (mut pushed, mut errors, mut seq) = (0u64, 0u64, 0u64);
    let started = Instant::now();
    let mut next = started;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let bar = super::progress::Bar::start("lines pushed", duration, None, done.clone());
    while started.elapsed() < duration {
        let now = now_ns();
        let values: Vec<Value> = (0..per_req)
            .map(|i| {
                seq += 1;
                json!([(now + i as i64).to_string(), format!("seq={seq} {pad}")])
            })
            .collect();
        let body = json!({"streams": [{"stream": {"app": "loadgen-tail", "run": run_id}, "values": values}]});
        let r = client
            .post(format!("{base}/loki/api/v1/push"))
            .header("X-Scope-OrgID", tenant)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send();
        match r {
            Ok(r) if r.status().is_success() => {
                pushed += per_req;
                done.store(pushed, std::sync::atomic::Ordering::Relaxed);
            }
            _ => errors += 1,
        }
        next += interval;
        if let Some(d) = next.checked_duration_since(Instant::now()) {
            thread::sleep(d);
        }
    }
    bar.finish();
    Ok((pushed, errors))
}

fn percentile_ms(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0
}

fn report(reps: &[TailReport], pushed: u64, push_errors: u64, rate: u64, tails: usize, duration: Duration) {
    let mut lat: Vec<u32> = reps.iter().flat_map(|r| r.latencies_us.iter().copied()).collect();
    lat.sort_unstable();
    let received: u64 = reps.iter().map(|r| r.received).sum();
    let dropped: u64 = reps.iter().map(|r| r.dropped).sum();
    let errors: Vec<&str> = reps.iter().filter_map(|r| r.error.as_deref()).collect();
    let out = json!({
        "rate": rate, "tails": tails, "seconds": duration.as_secs_f64(),
        "pushed": pushed, "push_errors": push_errors,
        "received": received, "expected": pushed * tails as u64,
        "dropped_reported": dropped,
        "p50_ms": percentile_ms(&lat, 0.50), "p99_ms": percentile_ms(&lat, 0.99),
        "max_ms": lat.last().map_or(0.0, |m| *m as f64 / 1000.0),
        "tail_errors": errors,
    });
    eprintln!(
        "{rate} lines/s to {tails} tails for {:.0}s: received {received} of {}, dropped {dropped}, latency p50 {:.1} ms, p99 {:.1} ms",
        duration.as_secs_f64(),
        pushed * tails as u64,
        percentile_ms(&lat, 0.5),
        percentile_ms(&lat, 0.99)
    );
    println!("{out}");
}
