//! `skald loadgen push`: pushes generated lines as snappy protobuf (or JSON) with
//! N concurrent clients and reports lines/s, MB/s, latency percentiles, status
//! counts and, with `--pid`, the server's CPU-seconds and RSS from /proc.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use serde_json::json;

use super::flags::Flags;
use super::gen::{line, Kind, Rng};
use super::procstat::Procs;
use crate::model::time::now_ns;
use crate::proto::logproto;

const USAGE: &str = "skald loadgen push [flags]
  --url <base>                 server base URL (default http://127.0.0.1:3100)
  --tenant <id>                X-Scope-OrgID (default loadgen)
  --streams <n>                active streams (default 100)
  --total-streams <n>          streams over the whole run (churn): the active window slides by one
                               stream per request until every one was used (default: --streams)
  --cardinality <n>            values of the `shard` label (default 16)
  --metadata <n>               structured metadata pairs per line (default 0)
  --rate <lines/s>             target rate over all clients (default 0: as fast as possible)
  --streams-per-request <n>    streams in each request (default: all, at most --batch)
  --batch <n>                  lines per request (default 1000)
  --line-size <bytes>          approximate line size (default 200)
  --kind <k>                   line shape: logfmt (default), nginx, json, apache, plain
  --concurrency <n>            concurrent clients (default 4)
  --duration <d>               run time, e.g. 10s (default 10s unless --requests)
  --requests <n>               stop after this many requests
  --lines <n>                  stop after this many lines (rounded up to whole requests)
  --format <proto|json>        body format (default proto: snappy protobuf)
  --seed <n>                   generator seed (default 1)
  --pid <pid>                  server pid(s), comma-separated: report their summed CPU-seconds and RSS
";

const FLAGS: &[(&str, bool)] = &[
    ("url", true),
    ("tenant", true),
    ("streams", true),
    ("total-streams", true),
    ("cardinality", true),
    ("metadata", true),
    ("rate", true),
    ("streams-per-request", true),
    ("batch", true),
    ("line-size", true),
    ("kind", true),
    ("concurrency", true),
    ("duration", true),
    ("requests", true),
    ("lines", true),
    ("format", true),
    ("seed", true),
    ("pid", true),
    ("help", false),
];

#[derive(Clone)]
struct Plan {
    url: String,
    tenant: String,
    streams: usize,
    total_streams: usize,
    cardinality: usize,
    metadata: usize,
    /// Lines per second over all clients; 0: as fast as possible.
    rate: f64,
    streams_per_request: usize,
    lines_per_stream: usize,
    line_size: usize,
    kind: Kind,
    json: bool,
    seed: u64,
}

#[derive(Default)]
struct WorkerReport {
    latencies: Vec<Duration>,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
}

struct Shared {
    next_request: AtomicU64,
    lines: Arc<AtomicU64>,
    bytes: AtomicU64,
    started: std::sync::OnceLock<Instant>,
}

pub fn main(args: &[String]) -> ExitCode {
    super::run_mode(args, USAGE, FLAGS, run)
}

fn run(f: &Flags) -> Result<(), String> {
    let streams: usize = f.get("streams", 100)?;
    let batch: usize = f.get("batch", 1000)?;
    let spr: usize = f.get("streams-per-request", streams.min(batch))?.clamp(1, streams.max(1));
    let (mut duration, mut requests) = super::budget(f)?;
    if let Some(lines) = f.str("lines") {
        let lines: u64 = lines.parse().map_err(|_| format!("invalid -lines {lines}"))?;
        requests = requests.min(lines.div_ceil(batch.max(1) as u64));
        if f.str("duration").is_none() {
            duration = Duration::from_secs(86_400);
        }
    }
    let plan = Plan {
        url: format!("{}/loki/api/v1/push", f.str("url").unwrap_or("http://127.0.0.1:3100").trim_end_matches('/')),
        tenant: f.str("tenant").unwrap_or("loadgen").to_string(),
        streams,
        total_streams: f.get("total-streams", streams)?.max(streams),
        cardinality: f.get("cardinality", 16)?.max(1),
        metadata: f.get("metadata", 0)?,
        rate: f.get("rate", 0.0)?,
        streams_per_request: spr,
        lines_per_stream: (batch / spr).max(1),
        line_size: f.get("line-size", 200)?,
        kind: Kind::parse(f.str("kind").unwrap_or("logfmt"))?,
        json: match f.str("format").unwrap_or("proto") {
            "proto" => false,
            "json" => true,
            o => return Err(format!("unknown format {o:?}")),
        },
        seed: f.get("seed", 1)?,
    };
    let concurrency: usize = f.get("concurrency", 4)?;
    let pid = super::pid(f)?;

    let rt = super::runtime()?;
    let shared = Arc::new(Shared {
        next_request: AtomicU64::new(0),
        lines: Arc::new(AtomicU64::new(0)),
        bytes: AtomicU64::new(0),
        started: std::sync::OnceLock::new(),
    });
    let (cpu0, rss0) = (pid.as_ref().and_then(Procs::cpu_seconds), pid.as_ref().and_then(Procs::rss_bytes));
    let started = started_at(&shared);
    let deadline = started + duration;
    let total = (requests != u64::MAX).then(|| requests.saturating_mul(batch as u64));
    let bar = super::progress::Bar::start("lines", duration, total, shared.clone_lines());
    let reports: Vec<WorkerReport> = rt.block_on(async {
        let client = reqwest::Client::new();
        let tasks: Vec<_> = (0..concurrency)
            .map(|w| tokio::spawn(worker(w, plan.clone(), client.clone(), shared.clone(), requests, deadline)))
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap_or_default());
        }
        out
    });
    bar.finish();
    let secs = started.elapsed().as_secs_f64();
    let (cpu1, rss1) = (pid.as_ref().and_then(Procs::cpu_seconds), pid.as_ref().and_then(Procs::rss_bytes));
    report(&shared, reports, secs, cpu0.zip(cpu1).map(|(a, b)| b - a), rss0, rss1, streams);
    Ok(())
}

async fn worker(
    w: usize,
    plan: Plan,
    client: reqwest::Client,
    shared: Arc<Shared>,
    max_requests: u64,
    deadline: Instant,
) -> WorkerReport {
    let mut rep = WorkerReport::default();
    let mut rng = Rng::new(plan.seed.wrapping_add(w as u64 * 7919));
    let mut text = String::new();
    loop {
        let k = shared.next_request.fetch_add(1, Ordering::Relaxed);
        if k >= max_requests || Instant::now() >= deadline {
            return rep;
        }
        if plan.rate > 0.0 {
            // request k is due when the target rate has sent k requests' lines
            let due = started_at(&shared) + Duration::from_secs_f64(k as f64 * lines_per_request(&plan) / plan.rate);
            tokio::time::sleep_until(due.into()).await;
        }
        let (body, lines, bytes) = build(&plan, k, &mut rng, &mut text);
        let t0 = Instant::now();
        let ct = if plan.json { "application/json" } else { "application/x-protobuf" };
        let res = client
            .post(&plan.url)
            .header("Content-Type", ct)
            .header("X-Scope-OrgID", &plan.tenant)
            .body(body)
            .send()
            .await;
        rep.latencies.push(t0.elapsed());
        match res {
            Ok(r) => {
                *rep.statuses.entry(r.status().as_u16()).or_default() += 1;
                if r.status().is_success() {
                    shared.lines.fetch_add(lines, Ordering::Relaxed);
                    shared.bytes.fetch_add(bytes, Ordering::Relaxed);
                }
                let _ = r.bytes().await;
            }
            Err(_) => rep.errors += 1,
        }
    }
}

impl Shared {
    fn clone_lines(&self) -> Arc<AtomicU64> {
        self.lines.clone()
    }
}

fn lines_per_request(plan: &Plan) -> f64 {
    (plan.streams_per_request * plan.lines_per_stream) as f64
}

fn started_at(shared: &Shared) -> Instant {
    *shared.started.get_or_init(Instant::now)
}

/// The labels of stream `i` of the run.
fn stream_labels(plan: &Plan, i: usize) -> String {
    format!("{{app=\"loadgen\", stream=\"s{i}\", shard=\"{}\"}}", i % plan.cardinality)
}

/// One request body: `streams_per_request` consecutive streams of the active
/// window where request `k` falls, `lines_per_stream` lines each, stamped now.
/// With churn the window slides one stream per request over `total_streams`.
fn build(plan: &Plan, k: u64, rng: &mut Rng, text: &mut String) -> (Vec<u8>, u64, u64) {
    let n = plan.streams;
    let first = (k as usize * plan.streams_per_request) % n;
    let shift = k as usize % (plan.total_streams - n + 1);
    let now = now_ns();
    let (mut lines, mut bytes) = (0u64, 0u64);
    let mut streams = Vec::with_capacity(plan.streams_per_request);
    for s in 0..plan.streams_per_request {
        let labels = stream_labels(plan, (first + s) % n + shift);
        let mut entries = Vec::with_capacity(plan.lines_per_stream);
        for i in 0..plan.lines_per_stream {
            text.clear();
            line(rng, plan.kind, plan.line_size, text);
            lines += 1;
            bytes += text.len() as u64;
            let ts = now + i as i64;
            let meta: Vec<(String, String)> =
                (0..plan.metadata).map(|m| (format!("meta_{m}"), format!("{:016x}", rng.next_u64()))).collect();
            bytes += meta.iter().map(|(a, b)| (a.len() + b.len()) as u64).sum::<u64>();
            entries.push((ts, text.clone(), meta));
        }
        streams.push((labels, entries));
    }
    let body = if plan.json {
        let streams: Vec<_> = streams
            .into_iter()
            .map(|(l, es)| {
                let stream: serde_json::Map<String, serde_json::Value> = crate::model::Labels::parse(&l)
                    .map(|l| l.pairs().iter().map(|(k, v)| (k.clone(), json!(v))).collect())
                    .unwrap_or_default();
                let values: Vec<_> = es
                    .into_iter()
                    .map(|(t, l, m)| {
                        if m.is_empty() {
                            json!([t.to_string(), l])
                        } else {
                            let meta: serde_json::Map<String, serde_json::Value> =
                                m.into_iter().map(|(k, v)| (k, json!(v))).collect();
                            json!([t.to_string(), l, meta])
                        }
                    })
                    .collect();
                json!({"stream": stream, "values": values})
            })
            .collect();
        json!({ "streams": streams }).to_string().into_bytes()
    } else {
        let req = logproto::PushRequest {
            streams: streams
                .into_iter()
                .map(|(labels, es)| logproto::StreamAdapter {
                    labels,
                    entries: es
                        .into_iter()
                        .map(|(ts, l, m)| logproto::EntryAdapter {
                            timestamp: Some(prost_types::Timestamp {
                                seconds: ts / 1_000_000_000,
                                nanos: (ts % 1_000_000_000) as i32,
                            }),
                            line: l.into_bytes().into(),
                            structured_metadata: m
                                .into_iter()
                                .map(|(name, value)| logproto::LabelPairAdapter { name, value })
                                .collect(),
                            parsed: vec![],
                        })
                        .collect(),
                    hash: 0,
                })
                .collect(),
            format: String::new(),
        };
        snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()).unwrap_or_default()
    };
    (body, lines, bytes)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn report(
    shared: &Shared,
    reps: Vec<WorkerReport>,
    secs: f64,
    cpu: Option<f64>,
    rss0: Option<u64>,
    rss1: Option<u64>,
    streams: usize,
) {
    let mut lat: Vec<Duration> = reps.iter().flat_map(|r| r.latencies.iter().copied()).collect();
    lat.sort();
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    for r in &reps {
        for (s, n) in &r.statuses {
            *statuses.entry(s.to_string()).or_default() += n;
        }
    }
    let errors: u64 = reps.iter().map(|r| r.errors).sum();
    let lines = shared.lines.load(Ordering::Relaxed);
    let bytes = shared.bytes.load(Ordering::Relaxed);
    let mut out = json!({
        "lines": lines,
        "bytes": bytes,
        "seconds": secs,
        "lines_per_sec": lines as f64 / secs,
        "mb_per_sec": bytes as f64 / secs / 1e6,
        "requests": lat.len(),
        "p50_ms": percentile(&lat, 0.50),
        "p99_ms": percentile(&lat, 0.99),
        "status": statuses,
        "errors": errors,
        "streams": streams,
    });
    if let Some(c) = cpu {
        out["server_cpu_seconds"] = json!(c);
        out["lines_per_server_cpu_sec"] = json!(if c > 0.0 { lines as f64 / c } else { 0.0 });
        out["mb_per_server_cpu_sec"] = json!(if c > 0.0 { bytes as f64 / c / 1e6 } else { 0.0 });
    }
    if let (Some(a), Some(b)) = (rss0, rss1) {
        out["server_rss_before"] = json!(a);
        out["server_rss_after"] = json!(b);
        out["server_rss_delta_per_stream"] = json!((b as f64 - a as f64) / streams.max(1) as f64);
    }
    eprintln!(
        "pushed {lines} lines ({:.1} MB) in {secs:.1}s: {:.0} lines/s, {:.1} MB/s, p50 {:.1} ms, p99 {:.1} ms, status {statuses:?}, errors {errors}",
        bytes as f64 / 1e6,
        lines as f64 / secs,
        bytes as f64 / secs / 1e6,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );
    if let Some(c) = cpu {
        eprintln!(
            "server: {c:.2} CPU-seconds, {:.0} lines per CPU-second",
            if c > 0.0 { lines as f64 / c } else { 0.0 }
        );
    }
    println!("{out}");
}
