//! A progress bar for long load-generator runs, on stderr: redrawn in place on a
//! terminal, one line every 10 s otherwise (logs stay readable), nothing for runs
//! under five seconds. Each mode starts a [`Bar`] over a counter it increments
//! and finishes it when the run ends.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub struct Bar {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Bar {
    /// `done` counts `what` (e.g. "lines"); the run ends after `duration` or at `total`.
    pub fn start(what: &'static str, duration: Duration, total: Option<u64>, done: Arc<AtomicU64>) -> Bar {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let started = Instant::now();
            let tty = std::io::stderr().is_terminal();
            let every = if tty { Duration::from_millis(500) } else { Duration::from_secs(10) };
            let mut next = started + Duration::from_secs(5);
            let mut drawn = false;
            while !s.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                if Instant::now() < next {
                    continue;
                }
                next += every;
                let (n, elapsed) = (done.load(Ordering::Relaxed), started.elapsed().as_secs_f64());
                let frac = match total {
                    Some(t) if t > 0 => n as f64 / t as f64,
                    _ => elapsed / duration.as_secs_f64().max(1e-9),
                }
                .clamp(0.0, 1.0);
                let bar: String = (0..30).map(|i| if (i as f64) < frac * 30.0 { '#' } else { '.' }).collect();
                let text = format!("[{bar}] {:>3.0}% {n} {what}, {:.0} {what}/s", frac * 100.0, n as f64 / elapsed);
                let mut err = std::io::stderr();
                let _ = if tty { write!(err, "\r{text}") } else { writeln!(err, "{text}") };
                let _ = err.flush();
                drawn = true;
            }
            if drawn && tty {
                let _ = writeln!(std::io::stderr());
            }
        });
        Bar { stop, handle: Some(handle) }
    }

    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
