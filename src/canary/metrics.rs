//! The canary's counts as Prometheus metrics with loki-canary's names, served by a
//! tiny HTTP responder on `--listen` (any path answers with the metrics).

use std::io::{Read, Write};
use std::net::TcpListener;

use prometheus::{Encoder, IntCounter, Registry, TextEncoder};

use super::state::Counts;

/// Reads one count out of the ledger's counts.
type Get = fn(&Counts) -> u64;

pub struct Metrics {
    pub registry: Registry,
    counters: Vec<(IntCounter, Get)>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let defs: [(&str, &str, Get); 10] = [
            ("loki_canary_entries_total", "Entries written.", |c| c.entries),
            ("loki_canary_write_errors_total", "Pushes that failed.", |c| c.write_errors),
            ("loki_canary_received_entries_total", "Entries received through the tail.", |c| c.received),
            ("loki_canary_missing_entries_total", "Entries neither the tail nor a query returned.", |c| c.missing),
            ("loki_canary_websocket_missing_entries_total", "Entries the tail missed but a query found.", |c| {
                c.websocket_missing
            }),
            ("loki_canary_duplicate_entries_total", "Entries received more than once.", |c| c.duplicates),
            ("loki_canary_out_of_order_entries_total", "Entries received after a newer one.", |c| c.out_of_order),
            ("loki_canary_unexpected_entries_total", "Lines the canary never wrote.", |c| c.unexpected),
            ("loki_canary_spot_check_missing_entries_total", "Entries a spot-check query lacked.", |c| {
                c.spot_check_missing
            }),
            ("loki_canary_spot_check_duplicate_entries_total", "Entries a spot-check query returned twice.", |c| {
                c.spot_check_duplicates
            }),
        ];
        let counters = defs
            .into_iter()
            .map(|(name, help, get)| {
                let c = IntCounter::new(name, help).expect("valid metric");
                registry.register(Box::new(c.clone())).expect("unique metric");
                (c, get)
            })
            .collect();
        Metrics { registry, counters }
    }

    /// Brings every counter up to the ledger's count.
    pub fn update(&self, c: &Counts) {
        for (counter, get) in &self.counters {
            let (now, was) = (get(c), counter.get());
            if now > was {
                counter.inc_by(now - was);
            }
        }
    }
}

pub fn serve(addr: &str, registry: Registry) -> Result<(), String> {
    let listener = TcpListener::bind(addr).map_err(|e| format!("listening on {addr}: {e}"))?;
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 2048];
            let _ = conn.read(&mut buf);
            let mut body = Vec::new();
            let _ = TextEncoder::new().encode(&registry.gather(), &mut body);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes()).and_then(|_| conn.write_all(&body));
        }
    });
    Ok(())
}
