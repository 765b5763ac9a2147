//! The write-ahead log against the real binary: crashes (SIGKILL) under load
//! lose no acknowledged line and duplicate none; damaged segments are skipped
//! or cut, never a crash loop; a full disk refuses pushes without corrupting
//! the WAL; shutdown keeps data (checkpoint) or flushes it, as configured.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{client, metric, now_ns, Skald};
use serde_json::{json, Value};

const TENANT: &str = "wal";
const CONFIG: &str = "limits_config:\n  max_entries_limit_per_query: 1000000\n  ingestion_rate_mb: 1000\n  ingestion_burst_size_mb: 1000\n";

/// Pushes `lines` to stream {writer=<w>} at timestamps `ts`; true when acknowledged.
fn push(port: u16, writer: usize, lines: &[(i64, String)]) -> Result<u16, String> {
    let values: Vec<Value> = lines.iter().map(|(ts, l)| json!([ts.to_string(), l])).collect();
    let body = json!({"streams": [{"stream": {"writer": writer.to_string()}, "values": values}]});
    client()
        .post(format!("http://127.0.0.1:{port}/loki/api/v1/push"))
        .header("X-Scope-OrgID", TENANT)
        .header("Content-Type", "application/json")
        .timeout(Duration::from_secs(5))
        .body(body.to_string())
        .send()
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

/// Every line of the tenant with its count, read back in one query.
fn all_lines(s: &Skald, start: i64) -> HashMap<String, usize> {
    let (st, end) = (start.to_string(), (now_ns() + 60_000_000_000).to_string());
    let q =
        [("query", r#"{writer=~".+"}"#), ("limit", "1000000"), ("start", &st), ("end", &end), ("direction", "forward")];
    let r = client().get(s.url("/loki/api/v1/query_range")).header("X-Scope-OrgID", TENANT).query(&q).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().unwrap();
    let mut out = HashMap::new();
    for stream in v["data"]["result"].as_array().unwrap() {
        for e in stream["values"].as_array().unwrap() {
            *out.entry(e[1].as_str().unwrap().to_string()).or_insert(0) += 1;
        }
    }
    out
}

/// A small deterministic generator (no dependency): xorshift.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn sigkill_under_load_loses_and_duplicates_nothing() {
    // checkpoints every 200ms: crashes land before, during and after them
    let mut s = Skald::start(&format!("{CONFIG}ingester:\n  wal:\n    checkpoint_duration: 200ms\n"));
    let start = now_ns() - 1_000_000_000;
    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let sent: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut rng = Rng(0x5eed_2026_1125);
    let writers = 4;
    let mut counters = vec![0u64; writers];
    for round in 0..4 {
        let stop = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let (stop, acked, sent) = (stop.clone(), acked.clone(), sent.clone());
                let port = s.http_port;
                let mut n = counters[w];
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let batch: Vec<(i64, String)> = (0..20)
                            .map(|i| {
                                n += 1;
                                (start + (n as i64) * 1000 + i, format!("w{w} n{n} round{round} payload level=info"))
                            })
                            .collect();
                        sent.lock().unwrap().extend(batch.iter().map(|b| b.1.clone()));
                        if let Ok(204) = push(port, w, &batch) {
                            acked.lock().unwrap().extend(batch.into_iter().map(|b| b.1));
                        }
                    }
                    n
                })
            })
            .collect();
        // let the writers get going, then crash at a random moment
        let deadline = Instant::now() + Duration::from_secs(20);
        let target = acked.lock().unwrap().len() + 2000 + (rng.next() % 4000) as usize;
        while acked.lock().unwrap().len() < target {
            assert!(Instant::now() < deadline, "pushes are not being acknowledged");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(rng.next() % 200));
        s.kill();
        stop.store(true, Ordering::Relaxed);
        for (w, h) in handles.into_iter().enumerate() {
            counters[w] = h.join().unwrap();
        }
        s.start_again();
    }
    let acked = acked.lock().unwrap().clone();
    let sent = sent.lock().unwrap().clone();
    let got = all_lines(&s, start);
    eprintln!("acknowledged {}, sent {}, read back {}", acked.len(), sent.len(), got.len());
    assert!(acked.len() >= 8000, "four rounds of load");
    let log = s.stderr();
    assert!(log.matches("WAL replayed").count() >= 4, "every start replayed the WAL");
    assert!(log.contains("WAL checkpoint written"), "checkpoints were taken under load");
    let missing: Vec<_> = acked.iter().filter(|l| !got.contains_key(*l)).take(5).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged lines lost, e.g. {missing:?}",
        acked.iter().filter(|l| !got.contains_key(*l)).count(),
        acked.len()
    );
    let dup: Vec<_> = got.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(dup.is_empty(), "duplicated lines: {dup:?}");
    assert!(got.keys().all(|l| sent.contains(l)), "only lines that were sent");
    assert_eq!(
        metric(&s, "loki_ingester_wal_corruptions_total"),
        0.0,
        "a crash leaves a torn tail at most, never corruption"
    );
}

fn lines(prefix: &str, base: i64) -> Vec<(i64, String)> {
    (0..10).map(|i| (base + i, format!("{prefix}{i} some text for the record"))).collect()
}

/// (start, end) of every frame in a segment file (header: magic, len, crc, seq).
fn frames(buf: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 20 <= buf.len() && &buf[pos..pos + 4] == b"SKWR" {
        let len = u32::from_le_bytes(buf[pos + 4..pos + 8].try_into().unwrap()) as usize;
        out.push((pos, pos + 20 + len));
        pos += 20 + len;
    }
    out
}

fn segments(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("segment-"))
        .collect();
    v.sort();
    v
}

#[test]
fn torn_tail_and_corrupt_record_are_skipped_not_fatal() {
    let mut s = Skald::start(CONFIG);
    let base = now_ns() - 10_000_000_000;
    for (i, p) in ["a", "b", "c"].iter().enumerate() {
        assert_eq!(push(s.http_port, 0, &lines(p, base + i as i64 * 100)), Ok(204));
    }
    s.kill();
    let wal = s.dir.0.join("data/wal");
    let segs = segments(&wal);
    assert_eq!(segs.len(), 1, "one segment: {segs:?}");
    let mut buf = std::fs::read(&segs[0]).unwrap();
    let f = frames(&buf);
    assert_eq!(f.len(), 3, "one record per acknowledged push");
    // damage the middle record's payload, then leave half a record at the end (a crash mid-write)
    buf[f[1].0 + 25] ^= 0xff;
    let valid_len = buf.len();
    buf.extend_from_slice(b"SKWR\xe8\x03\x00\x00partial");
    std::fs::write(&segs[0], &buf).unwrap();

    s.start_again();
    let got = all_lines(&s, base - 1);
    for i in 0..10 {
        assert!(got.contains_key(&format!("a{i} some text for the record")), "record 1 survives");
        assert!(got.contains_key(&format!("c{i} some text for the record")), "record 3 survives");
        assert!(!got.contains_key(&format!("b{i} some text for the record")), "the damaged record is skipped");
    }
    assert_eq!(metric(&s, "loki_ingester_wal_corruptions_total"), 1.0, "one corruption counted");
    assert!(s.stderr().contains("WAL CORRUPTION"), "a loud log line");
    assert_eq!(std::fs::metadata(&segs[0]).unwrap().len() as usize, valid_len, "the torn tail is cut off");

    // new pushes work and survive the next crash; the damaged segment never blocks a start
    assert_eq!(push(s.http_port, 0, &lines("d", base + 1000)), Ok(204));
    s.kill();
    s.start_again();
    let got = all_lines(&s, base - 1);
    assert_eq!(got.len(), 30, "a, c and d: {got:?}");
}

/// A tmpfs mount (unmounted on drop); `None` where this machine cannot mount.
struct SmallDisk(std::path::PathBuf);
impl SmallDisk {
    fn mount(dir: std::path::PathBuf, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(&dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk(dir))
    }
}
impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn full_disk_refuses_pushes_with_5xx_and_keeps_the_wal_clean() {
    let dir = common::TempDir::new("fulldisk");
    let Some(disk) = SmallDisk::mount(dir.0.join("wal"), "128k") else {
        eprintln!("SKIPPED: this machine cannot mount a tmpfs (needs root); the full-disk case is not checked here");
        return;
    };
    let yaml = format!("{CONFIG}ingester:\n  wal:\n    dir: {}\n", disk.0.display());
    let mut s = Skald::start(&yaml);
    let base = now_ns() - 10_000_000_000;
    let mut rng = Rng(42);
    let mut acked = HashSet::new();
    let mut refused = 0;
    for n in 0..400 {
        // random hex: compresses to about half, fills the disk after some dozens of pushes
        let batch: Vec<(i64, String)> = (0..10)
            .map(|i| {
                (
                    base + n * 100 + i,
                    format!("p{n}-{i} {}", (0..8).map(|_| format!("{:016x}", rng.next())).collect::<String>()),
                )
            })
            .collect();
        match push(s.http_port, 0, &batch) {
            Ok(204) => acked.extend(batch.into_iter().map(|b| b.1)),
            Ok(code) => {
                assert!(code >= 500, "a full disk is a server error, got {code}");
                refused += 1;
            }
            Err(e) => panic!("push failed: {e}"),
        }
        if refused >= 5 {
            break;
        }
    }
    assert!(refused >= 5, "the disk filled up ({} acknowledged)", acked.len());
    assert!(!acked.is_empty());
    assert!(metric(&s, "loki_ingester_wal_disk_full_failures_total") >= 5.0);
    let got = all_lines(&s, base - 1);
    assert!(acked.iter().all(|l| got.contains_key(l)), "every acknowledged line is queryable");
    // the WAL on the full disk replays cleanly
    s.kill();
    s.start_again();
    let got = all_lines(&s, base - 1);
    let lost = acked.iter().filter(|l| !got.contains_key(*l)).count();
    assert_eq!(lost, 0, "acknowledged lines lost after the crash on a full disk");
    assert_eq!(metric(&s, "loki_ingester_wal_corruptions_total"), 0.0, "no corruption");
    drop(s);
}

fn stored_chunks(s: &Skald) -> usize {
    fn walk(d: &std::path::Path) -> usize {
        std::fs::read_dir(d)
            .map(|rd| {
                rd.flatten()
                    .map(|e| {
                        let p = e.path();
                        if p.is_dir() {
                            walk(&p)
                        } else {
                            usize::from(p.to_string_lossy().contains(&format!("/{TENANT}/chunks/")))
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(&s.dir.0.join("data/chunks"))
}

fn text(s: &Skald, method: reqwest::Method, path: &str) -> (u16, String) {
    let r = client().request(method, s.url(path)).send().unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

#[test]
fn shutdown_keeps_data_in_the_wal_or_flushes_when_asked() {
    let mut s = Skald::start(CONFIG);
    let base = now_ns() - 10_000_000_000;
    assert_eq!(push(s.http_port, 0, &lines("x", base)), Ok(204));
    // Loki's default: no flush on shutdown, the WAL (a last checkpoint) keeps the data
    s.restart();
    assert_eq!(stored_chunks(&s), 0, "nothing flushed");
    assert!(s.stderr().contains("WAL checkpoint written"), "a last checkpoint at shutdown");
    assert_eq!(all_lines(&s, base - 1).len(), 10, "replayed from the checkpoint");

    // prepare_shutdown: the next shutdown flushes everything, then the marker is gone
    assert_eq!(text(&s, reqwest::Method::GET, "/ingester/prepare_shutdown"), (200, "unset".into()));
    assert_eq!(text(&s, reqwest::Method::POST, "/ingester/prepare_shutdown").0, 204);
    assert_eq!(text(&s, reqwest::Method::GET, "/ingester/prepare_shutdown"), (200, "set".into()));
    s.restart();
    assert!(stored_chunks(&s) >= 1, "flushed on shutdown");
    assert_eq!(text(&s, reqwest::Method::GET, "/ingester/prepare_shutdown"), (200, "unset".into()));
    assert_eq!(all_lines(&s, base - 1).len(), 10, "served from the store, once");
    assert_eq!(text(&s, reqwest::Method::POST, "/ingester/prepare_shutdown").0, 204);
    assert_eq!(text(&s, reqwest::Method::DELETE, "/ingester/prepare_shutdown").0, 204);
    assert_eq!(text(&s, reqwest::Method::GET, "/ingester/prepare_shutdown"), (200, "unset".into()));

    // /ingester/shutdown: flush, then the process exits cleanly by itself
    assert_eq!(push(s.http_port, 1, &lines("y", base + 100)), Ok(204));
    let before = stored_chunks(&s);
    assert_eq!(text(&s, reqwest::Method::POST, "/ingester/shutdown?flush=maybe").0, 400);
    assert_eq!(text(&s, reqwest::Method::POST, "/ingester/shutdown").0, 204);
    assert!(stored_chunks(&s) > before, "the new stream was flushed");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = s.exited() {
            break st;
        }
        assert!(Instant::now() < deadline, "the process did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    s.start_again();
    assert_eq!(all_lines(&s, base - 1).len(), 20);
}

#[test]
fn flush_on_shutdown_flushes_and_wal_can_be_disabled() {
    let mut s = Skald::start(&format!("{CONFIG}ingester:\n  wal:\n    flush_on_shutdown: true\n"));
    let base = now_ns() - 10_000_000_000;
    assert_eq!(push(s.http_port, 0, &lines("x", base)), Ok(204));
    s.restart();
    assert!(stored_chunks(&s) >= 1, "flush_on_shutdown flushed");
    assert_eq!(all_lines(&s, base - 1).len(), 10);

    let mut s = Skald::start(&format!("{CONFIG}ingester:\n  wal:\n    enabled: false\n"));
    assert_eq!(push(s.http_port, 0, &lines("x", base)), Ok(204));
    assert!(!s.dir.0.join("data/wal").exists(), "no WAL directory when disabled");
    s.restart();
    assert!(stored_chunks(&s) >= 1, "without a WAL, shutdown flushes");
    assert_eq!(all_lines(&s, base - 1).len(), 10);
}

#[test]
fn replay_memory_ceiling_flushes_during_replay() {
    let mut s = Skald::start(&format!("{CONFIG}ingester:\n  wal:\n    replay_memory_ceiling: 1KB\n"));
    let base = now_ns() - 10_000_000_000;
    for i in 0..100 {
        assert_eq!(push(s.http_port, i % 3, &lines(&format!("r{i}-"), base + i as i64 * 100)), Ok(204));
    }
    s.kill();
    assert_eq!(stored_chunks(&s), 0);
    s.start_again();
    assert!(s.stderr().contains("replay_memory_ceiling reached"), "the ceiling was hit");
    assert!(stored_chunks(&s) >= 1, "replay flushed to stay under the ceiling");
    assert_eq!(all_lines(&s, base - 1).len(), 1000, "every line once, from memory and store");
}

#[test]
fn replay_is_not_rate_limited_again() {
    // 16 KB/s per stream: the pushes below (~8 KB/s) stay under it, a replay at full speed would not
    let limits = "  per_stream_rate_limit: 16KB\n  per_stream_rate_limit_burst: 16KB\n";
    let mut s = Skald::start(&format!("{CONFIG}{limits}"));
    let base = now_ns() - 10_000_000_000;
    let started = Instant::now();
    let mut pushed = 0;
    while pushed < 100 {
        // ~320 bytes a push, 25 pushes a second
        if started.elapsed() >= Duration::from_millis(40 * pushed as u64) {
            assert_eq!(push(s.http_port, 0, &lines(&format!("p{pushed}-"), base + pushed * 100)), Ok(204));
            pushed += 1;
        } else {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    s.kill();
    s.start_again();
    assert_eq!(all_lines(&s, base - 1).len(), 1000, "every acknowledged line replayed (32 KB in one go)");
}
