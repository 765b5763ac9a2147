//! Overload against the real binary: with `ingester.head_memory_budget` set, a
//! burst of ten times the budget in incompressible lines gets 429s once the
//! in-memory chunks reach the budget, and the process's peak RSS stays under
//! its starting RSS plus the budget plus a fixed margin (docs/testing.md).

mod common;

use common::{now_ns, push_streams, Skald};
use serde_json::json;

const BUDGET: u64 = 32 << 20;
/// Request buffers, decoded copies, index and allocator slack above the budget.
const MARGIN: u64 = 96 << 20;

/// Incompressible text: hex of a xorshift sequence.
fn noise(state: &mut u64, len: usize) -> String {
    let mut out = String::with_capacity(len + 16);
    while out.len() < len {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        out.push_str(&format!("{:016x}", *state));
    }
    out.truncate(len);
    out
}

#[test]
fn a_burst_of_ten_times_the_budget_gets_429_and_memory_stays_bounded() {
    let s = Skald::start(&format!(
        "ingester:\n  head_memory_budget: {BUDGET}\n  chunk_target_size: 1GB\nlimits_config:\n  ingestion_rate_mb: 100000\n  ingestion_burst_size_mb: 100000\n  per_stream_rate_limit: 0\n"
    ));
    let start_rss = s.proc_status_bytes("VmRSS");
    let (mut state, mut sent, mut accepted, mut refused) = (0x9e37_79b9_7f4a_7c15u64, 0u64, 0u64, 0u64);
    let t = now_ns() - 60_000_000_000;
    let mut text = String::new();
    let mut i = 0i64;
    while sent < 10 * BUDGET {
        // 1 MB per request: 256 lines of 4 KB over 8 streams
        let streams: Vec<_> = (0..8)
            .map(|st| {
                let values: Vec<_> = (0..32)
                    .map(|_| {
                        i += 1;
                        json!([(t + i).to_string(), noise(&mut state, 4096)])
                    })
                    .collect();
                json!({"stream": {"app": "burst", "n": st.to_string()}, "values": values})
            })
            .collect();
        let (code, body) = push_streams(&s, "load", json!(streams));
        sent += 1 << 20;
        match code {
            204 => accepted += 1 << 20,
            429 => {
                refused += 1;
                text = body;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let peak = s.proc_status_bytes("VmHWM");
    eprintln!(
        "sent {} MiB, accepted {} MiB, {refused} pushes refused; RSS at start {} MiB, peak {} MiB (budget {} MiB)",
        sent >> 20,
        accepted >> 20,
        start_rss >> 20,
        peak >> 20,
        BUDGET >> 20
    );
    assert!(refused > 0, "ten times the budget must meet 429s");
    assert!(text.starts_with("ingester memory budget exceeded: in-memory chunks hold "), "{text}");
    assert!(accepted <= BUDGET + (2 << 20), "accepted {accepted} bytes past the budget");
    assert!(peak < start_rss + BUDGET + MARGIN, "peak RSS {peak} over start {start_rss} + budget + margin");
    // still serving
    let r = common::client()
        .get(s.url("/loki/api/v1/query_range"))
        .header("X-Scope-OrgID", "load")
        .query(&[("query", r#"count_over_time({app="burst"}[1h])"#), ("step", "60")])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}
