//! A progress bar for long load-generator runs, on stderr: redrawn in place on a
//! terminal, one line every 10 s otherwise (logs stay readable). Started by
//! `loadgen push` as a task that is aborted when the run ends.

use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::push::Shared;

/// Runs until aborted; draws nothing for runs shorter than five seconds.
pub(super) async fn show(shared: Arc<Shared>, started: Instant, duration: Duration, requests: u64, batch: usize) {
    let tty = std::io::stderr().is_terminal();
    let every = if tty { Duration::from_millis(500) } else { Duration::from_secs(10) };
    tokio::time::sleep(Duration::from_secs(5)).await;
    loop {
        let elapsed = started.elapsed();
        let lines = shared.lines.load(Ordering::Relaxed);
        let sent = shared.next_request.load(Ordering::Relaxed);
        // done by time, or by requests when a count was given
        let frac = if requests != u64::MAX {
            sent as f64 / requests as f64
        } else {
            elapsed.as_secs_f64() / duration.as_secs_f64().max(1e-9)
        }
        .clamp(0.0, 1.0);
        let bar: String = (0..30).map(|i| if (i as f64) < frac * 30.0 { '#' } else { '.' }).collect();
        let rate = lines as f64 / elapsed.as_secs_f64().max(1e-9);
        let text = format!(
            "[{bar}] {:>3.0}% {lines} lines, {rate:.0} lines/s, {:.1} MB ({} per request)",
            frac * 100.0,
            shared.bytes.load(Ordering::Relaxed) as f64 / 1e6,
            batch
        );
        let mut err = std::io::stderr();
        let _ = if tty { write!(err, "\r{text}") } else { writeln!(err, "{text}") };
        let _ = err.flush();
        tokio::time::sleep(every).await;
    }
}
