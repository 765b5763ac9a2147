//! `skald loadgen query`: runs a set of LogQL queries against any Loki-compatible
//! server for a while with N concurrent clients and reports latency percentiles,
//! status counts and the bytes/lines the server says it processed, with the
//! server's CPU-seconds when `--pid` is given.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::flags::Flags;
use super::procstat::Procs;
use crate::model::time::{now_ns, parse_duration_ns};

const USAGE: &str = "skald loadgen query [flags]
  --url <base>            server base URL (default http://127.0.0.1:3100)
  --tenant <id>           X-Scope-OrgID (default loadgen)
  --query <logql>         a query to run (repeatable; default: a standard set over the loadgen streams)
  --since <d>             query range ending now (default 1h)
  --limit <n>             entries limit for log queries (default 100)
  --concurrency <n>       concurrent clients (default 2)
  --duration <d>          run time (default 10s unless --requests)
  --requests <n>          stop after this many queries
  --pid <pid>             server pid(s), comma-separated: report their summed CPU-seconds
";

const FLAGS: &[(&str, bool)] = &[
    ("url", true),
    ("tenant", true),
    ("query", true),
    ("since", true),
    ("limit", true),
    ("concurrency", true),
    ("duration", true),
    ("requests", true),
    ("pid", true),
    ("help", false),
];

const DEFAULT_QUERIES: &[&str] = &[
    r#"{app="loadgen"} |= "error""#,
    r#"{app="loadgen", shard="3"} |~ "(?i)timeout""#,
    r#"{app="loadgen"} | logfmt | status >= 500"#,
    r#"{app="loadgen"} != "GET""#,
];

#[derive(Default)]
struct Report {
    latencies: Vec<Duration>,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
}

pub fn main(args: &[String]) -> ExitCode {
    super::run_mode(args, USAGE, FLAGS, run)
}

fn run(f: &Flags) -> Result<(), String> {
    let queries: Vec<String> = match f.all("query") {
        q if q.is_empty() => DEFAULT_QUERIES.iter().map(|s| s.to_string()).collect(),
        q => q,
    };
    let since = parse_duration_ns(f.str("since").unwrap_or("1h"))?;
    let (duration, requests) = super::budget(f)?;
    let url =
        format!("{}/loki/api/v1/query_range", f.str("url").unwrap_or("http://127.0.0.1:3100").trim_end_matches('/'));
    let tenant = f.str("tenant").unwrap_or("loadgen").to_string();
    let limit: usize = f.get("limit", 100)?;
    let concurrency: usize = f.get("concurrency", 2)?;
    let pid = super::pid(f)?;

    let rt = super::runtime()?;
    let next = Arc::new(AtomicU64::new(0));
    let (bytes, lines) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let cpu0 = pid.as_ref().and_then(Procs::cpu_seconds);
    let started = Instant::now();
    let deadline = started + duration;
    let queries = Arc::new(queries);
    let done = Arc::new(AtomicU64::new(0));
    let total = (requests != u64::MAX).then_some(requests);
    let bar = super::progress::Bar::start("queries", duration, total, done.clone());
    let reports: Vec<Report> = rt.block_on(async {
        let client = reqwest::Client::new();
        let tasks: Vec<_> = (0..concurrency)
            .map(|_| {
                let (client, url, tenant) = (client.clone(), url.clone(), tenant.clone());
                let (next, bytes, lines, queries) = (next.clone(), bytes.clone(), lines.clone(), queries.clone());
                let done = done.clone();
                tokio::spawn(async move {
                    let mut rep = Report::default();
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        if k >= requests || Instant::now() >= deadline {
                            return rep;
                        }
                        let q = &queries[k as usize % queries.len()];
                        let end = now_ns();
                        let params = [
                            ("query", q.clone()),
                            ("start", (end - since).to_string()),
                            ("end", end.to_string()),
                            ("limit", limit.to_string()),
                        ];
                        let t0 = Instant::now();
                        let res = client.get(&url).header("X-Scope-OrgID", &tenant).query(&params).send().await;
                        match res {
                            Ok(r) => {
                                *rep.statuses.entry(r.status().as_u16()).or_default() += 1;
                                if let Ok(v) = r.json::<Value>().await {
                                    let s = &v["data"]["stats"]["summary"];
                                    bytes.fetch_add(s["totalBytesProcessed"].as_u64().unwrap_or(0), Ordering::Relaxed);
                                    lines.fetch_add(s["totalLinesProcessed"].as_u64().unwrap_or(0), Ordering::Relaxed);
                                }
                            }
                            Err(_) => rep.errors += 1,
                        }
                        rep.latencies.push(t0.elapsed());
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap_or_default());
        }
        out
    });
    bar.finish();
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu0.zip(pid.as_ref().and_then(Procs::cpu_seconds)).map(|(a, b)| b - a);
    let mut lat: Vec<Duration> = reports.iter().flat_map(|r| r.latencies.iter().copied()).collect();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p).round() as usize).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
    };
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    for r in &reports {
        for (s, n) in &r.statuses {
            *statuses.entry(s.to_string()).or_default() += n;
        }
    }
    let (b, l) = (bytes.load(Ordering::Relaxed), lines.load(Ordering::Relaxed));
    let mut out = json!({
        "queries": lat.len(), "seconds": secs, "qps": lat.len() as f64 / secs,
        "p50_ms": pct(0.5), "p99_ms": pct(0.99), "status": statuses,
        "errors": reports.iter().map(|r| r.errors).sum::<u64>(),
        "bytes_processed": b, "lines_processed": l,
    });
    if let Some(c) = cpu {
        out["server_cpu_seconds"] = json!(c);
        out["bytes_per_server_cpu_sec"] = json!(if c > 0.0 { b as f64 / c } else { 0.0 });
    }
    eprintln!(
        "ran {} queries in {secs:.1}s: p50 {:.1} ms, p99 {:.1} ms, {:.2} GB processed, status {statuses:?}",
        lat.len(),
        pct(0.5),
        pct(0.99),
        b as f64 / 1e9
    );
    println!("{out}");
    Ok(())
}
