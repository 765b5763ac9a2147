//! `skald canary`: in the spirit of loki-canary. Writes a timestamped line at a
//! steady interval, reads every line back through a live tail, and checks that
//! none is missing, duplicated or out of order; spot-check queries confirm what
//! the tail missed and re-read whole windows from the query path. Counts are
//! exposed as Prometheus metrics (`--listen`) and printed as one JSON line at the
//! end. Works against any Loki-compatible server.

mod metrics;
pub mod state;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::loadgen::flags::Flags;
use crate::loadgen::tail_client::{Event, TailClient};
use crate::model::time::{now_ns, parse_duration};
use state::{ts_of, Ledger};

const USAGE: &str = "skald canary [flags]
  --url <base>               server base URL (default http://127.0.0.1:3100)
  --tenant <id>              X-Scope-OrgID (default canary)
  --labels <selector>        the canary's stream (default {name=\"skald-canary\",stream=\"stdout\"})
  --interval <d>             one entry per interval (default 100ms)
  --size <bytes>             line size (default 100)
  --wait <d>                 how long an entry may take to arrive through the tail (default 5s)
  --spot-check-every <d>     re-read a window of entries through query_range (default 10s)
  --duration <d>             stop after this long (default: run until interrupted)
  --listen <addr:port>       serve the counts as Prometheus metrics on /metrics
  --inject-drop <n>          testing aid: record the n-th entry as written without sending it
";

const FLAGS: &[(&str, bool)] = &[
    ("url", true),
    ("tenant", true),
    ("labels", true),
    ("interval", true),
    ("size", true),
    ("wait", true),
    ("spot-check-every", true),
    ("duration", true),
    ("listen", true),
    ("inject-drop", true),
    ("help", false),
];

struct Plan {
    url: String,
    tenant: String,
    labels: String,
    interval: Duration,
    size: usize,
    wait: Duration,
    spot_every: Duration,
    duration: Option<Duration>,
    inject_drop: Option<u64>,
}

pub fn main(args: &[String]) -> ExitCode {
    let f = match Flags::parse(args, FLAGS) {
        Ok(f) if f.has("help") => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match plan(&f).and_then(|p| run(&p, f.str("listen"))) {
        Ok(clean) if clean => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("canary: {e}");
            ExitCode::from(2)
        }
    }
}

fn plan(f: &Flags) -> Result<Plan, String> {
    let dur = |name: &str, default: &str| parse_duration(f.str(name).unwrap_or(default));
    Ok(Plan {
        url: f.str("url").unwrap_or("http://127.0.0.1:3100").trim_end_matches('/').to_string(),
        tenant: f.str("tenant").unwrap_or("canary").to_string(),
        labels: f.str("labels").unwrap_or(r#"{name="skald-canary",stream="stdout"}"#).to_string(),
        interval: dur("interval", "100ms")?.max(Duration::from_millis(1)),
        size: f.get("size", 100)?,
        wait: dur("wait", "5s")?,
        spot_every: dur("spot-check-every", "10s")?,
        duration: f.str("duration").map(parse_duration).transpose()?,
        inject_drop: f
            .str("inject-drop")
            .map(|v| v.parse().map_err(|_| format!("invalid -inject-drop {v}")))
            .transpose()?,
    })
}

fn client() -> reqwest::blocking::Client {
    crate::tls::ensure_crypto_provider();
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().expect("HTTP client")
}

/// Runs until the duration is over; true when nothing was lost, duplicated or reordered.
fn run(p: &Plan, listen: Option<&str>) -> Result<bool, String> {
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let m = metrics::Metrics::new();
    if let Some(addr) = listen {
        metrics::serve(addr, m.registry.clone())?;
    }
    let started = now_ns();
    let tail = {
        let (l, s, url, tenant, sel) =
            (ledger.clone(), stop.clone(), p.url.clone(), p.tenant.clone(), p.labels.clone());
        std::thread::spawn(move || tail_loop(&url, &tenant, &sel, started, &l, &s))
    };
    let writer = {
        let (l, s) = (ledger.clone(), stop.clone());
        let (url, tenant, labels, interval, size, drop) =
            (p.url.clone(), p.tenant.clone(), p.labels.clone(), p.interval, p.size, p.inject_drop);
        std::thread::spawn(move || write_loop(&url, &tenant, &labels, interval, size, drop, &l, &s))
    };
    let deadline = p.duration.map(|d| Instant::now() + d);
    let mut spot_from = started;
    let mut last_spot = Instant::now();
    while deadline.is_none_or(|d| Instant::now() < d) {
        std::thread::sleep(Duration::from_millis(250));
        settle_overdue(p, &ledger, now_ns() - p.wait.as_nanos() as i64);
        if last_spot.elapsed() >= p.spot_every {
            let to = now_ns() - p.wait.as_nanos() as i64;
            spot_check(p, &ledger, spot_from, to);
            spot_from = to;
            last_spot = Instant::now();
            ledger.lock().unwrap_or_else(|e| e.into_inner()).forget(spot_from);
        }
        m.update(&ledger.lock().unwrap_or_else(|e| e.into_inner()).counts);
    }
    stop.store(true, Ordering::Relaxed);
    let _ = writer.join();
    // let the last entries arrive, then judge everything
    let end = now_ns();
    let settle_by = Instant::now() + p.wait;
    while Instant::now() < settle_by && !ledger.lock().unwrap_or_else(|e| e.into_inner()).overdue(end + 1).is_empty() {
        std::thread::sleep(Duration::from_millis(50));
    }
    settle_overdue(p, &ledger, end + 1);
    spot_check(p, &ledger, spot_from, end + 1);
    let _ = tail.join();
    let c = ledger.lock().unwrap_or_else(|e| e.into_inner()).counts;
    m.update(&c);
    println!("{}", serde_json::to_string(&c).unwrap_or_default());
    Ok(c.missing + c.duplicates + c.out_of_order + c.unexpected + c.spot_check_missing + c.spot_check_duplicates == 0)
}

#[allow(clippy::too_many_arguments)]
fn write_loop(
    url: &str,
    tenant: &str,
    labels: &str,
    interval: Duration,
    size: usize,
    drop: Option<u64>,
    ledger: &Mutex<Ledger>,
    stop: &AtomicBool,
) {
    let http = client();
    let stream: serde_json::Map<String, Value> = crate::model::Labels::parse(labels)
        .map(|l| l.pairs().iter().map(|(k, v)| (k.clone(), json!(v))).collect())
        .unwrap_or_default();
    let mut next = Instant::now();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        next += interval;
        n += 1;
        let ts = now_ns();
        let mut line = format!("{ts} ");
        while line.len() < size {
            line.push('p');
        }
        ledger.lock().unwrap_or_else(|e| e.into_inner()).sent(ts);
        if drop != Some(n) {
            let body = json!({"streams": [{"stream": stream, "values": [[ts.to_string(), line]]}]});
            let ok = http
                .post(format!("{url}/loki/api/v1/push"))
                .header("X-Scope-OrgID", tenant)
                .header("Content-Type", "application/json")
                .body(body.to_string())
                .send()
                .is_ok_and(|r| r.status().is_success());
            if !ok {
                let mut l = ledger.lock().unwrap_or_else(|e| e.into_inner());
                l.unsend(ts);
            }
        }
        if let Some(d) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
    }
}

fn tail_loop(url: &str, tenant: &str, selector: &str, started: i64, ledger: &Mutex<Ledger>, stop: &AtomicBool) {
    let mut last = started - 1;
    while !stop.load(Ordering::Relaxed) {
        let start = (last + 1).to_string();
        let params = [("query", selector), ("start", start.as_str()), ("limit", "5000"), ("resume", "true")];
        let mut c = match TailClient::connect(url, "/loki/api/v1/tail", &params, &[("X-Scope-OrgID", tenant)]) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "canary tail: connect failed; retrying");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        loop {
            if stop.load(Ordering::Relaxed) {
                c.close();
                return;
            }
            match c.next(Duration::from_millis(200)) {
                Ok(Event::Frame(f)) => {
                    let mut l = ledger.lock().unwrap_or_else(|e| e.into_inner());
                    for s in f["streams"].as_array().into_iter().flatten() {
                        for v in s["values"].as_array().into_iter().flatten() {
                            if let Some(ts) = v[1].as_str().and_then(ts_of) {
                                l.received(ts);
                                last = last.max(ts);
                            }
                        }
                    }
                }
                Ok(Event::Ping | Event::Timeout) => {}
                Ok(Event::Closed(code, reason)) => {
                    tracing::warn!(code, reason, "canary tail closed; reconnecting");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "canary tail failed; reconnecting");
                    break;
                }
            }
        }
    }
}

/// Timestamps the query path holds for the canary's stream in `[from, to)`.
fn query(p: &Plan, from: i64, to: i64) -> Option<Vec<i64>> {
    let (s, e) = (from.to_string(), to.to_string());
    let q = [("query", p.labels.as_str()), ("start", &s), ("end", &e), ("limit", "5000"), ("direction", "forward")];
    let r = client()
        .get(format!("{}/loki/api/v1/query_range", p.url))
        .header("X-Scope-OrgID", &p.tenant)
        .query(&q)
        .send()
        .ok()?;
    let v: Value = r.json().ok()?;
    let mut out = Vec::new();
    for s in v["data"]["result"].as_array()? {
        for e in s["values"].as_array()? {
            out.extend(e[1].as_str().and_then(ts_of));
        }
    }
    Some(out)
}

/// Entries the tail has not delivered by `cutoff`: missing, or only missed by the tail.
fn settle_overdue(p: &Plan, ledger: &Mutex<Ledger>, cutoff: i64) {
    let overdue = ledger.lock().unwrap_or_else(|e| e.into_inner()).overdue(cutoff);
    let (Some(first), Some(last)) = (overdue.first(), overdue.last()) else { return };
    let Some(found) = query(p, *first, last + 1) else {
        ledger.lock().unwrap_or_else(|e| e.into_inner()).counts.query_errors += 1;
        return;
    };
    let mut l = ledger.lock().unwrap_or_else(|e| e.into_inner());
    for t in overdue {
        l.settle(t, found.contains(&t));
    }
}

fn spot_check(p: &Plan, ledger: &Mutex<Ledger>, from: i64, to: i64) {
    if to <= from {
        return;
    }
    let found = query(p, from, to);
    let mut l = ledger.lock().unwrap_or_else(|e| e.into_inner());
    match found {
        Some(found) => l.spot_check(from, to, &found),
        None => l.counts.query_errors += 1,
    }
}
