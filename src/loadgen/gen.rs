//! Deterministic log lines from a seed: logfmt application logs, nginx access
//! lines and JSON with nested fields, padded to a target size.

/// xorshift64*: small, fast and reproducible.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545F4914F6CDD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const LEVELS: &[&str] = &["info", "info", "info", "info", "warn", "error", "debug"];
const PATHS: &[&str] = &["/api/v1/users", "/api/v1/orders", "/healthz", "/login", "/api/v2/search", "/static/app.js"];
const METHODS: &[&str] = &["GET", "GET", "GET", "POST", "PUT", "DELETE"];
const MSGS: &[&str] = &["request served", "cache miss", "upstream timeout", "user logged in", "payment accepted"];
const WORDS: &[&str] = &["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Logfmt,
    Nginx,
    Json,
}

impl Kind {
    pub fn parse(s: &str) -> Result<Kind, String> {
        match s {
            "logfmt" => Ok(Kind::Logfmt),
            "nginx" => Ok(Kind::Nginx),
            "json" => Ok(Kind::Json),
            o => Err(format!("unknown line kind {o:?} (logfmt, nginx, json)")),
        }
    }
}

/// Appends one line of about `size` bytes to `out`.
pub fn line(rng: &mut Rng, kind: Kind, size: usize, out: &mut String) {
    use std::fmt::Write;
    let start = out.len();
    let status = [200, 200, 200, 201, 301, 404, 500][rng.below(7) as usize];
    let _ = match kind {
        Kind::Logfmt => write!(
            out,
            "level={} msg=\"{}\" method={} path={} status={} duration={}ms bytes={} user=u{} trace_id={:016x}",
            rng.pick(LEVELS),
            rng.pick(MSGS),
            rng.pick(METHODS),
            rng.pick(PATHS),
            status,
            rng.below(2000),
            rng.below(100_000),
            rng.below(5000),
            rng.next_u64()
        ),
        Kind::Nginx => write!(
            out,
            "10.{}.{}.{} - - [12/Mar/2024:08:09:42 +0000] \"{} {}?id={} HTTP/1.1\" {} {} \"-\" \"curl/8.5.0\" 0.{:03}",
            rng.below(256),
            rng.below(256),
            rng.below(256),
            rng.pick(METHODS),
            rng.pick(PATHS),
            rng.below(10_000),
            status,
            rng.below(50_000),
            rng.below(1000)
        ),
        Kind::Json => write!(
            out,
            "{{\"level\":\"{}\",\"msg\":\"{}\",\"http\":{{\"method\":\"{}\",\"path\":\"{}\",\"status\":{}}},\"trace_id\":\"{:016x}{:016x}\",\"user\":{{\"id\":{}}}}}",
            rng.pick(LEVELS),
            rng.pick(MSGS),
            rng.pick(METHODS),
            rng.pick(PATHS),
            status,
            rng.next_u64(),
            rng.next_u64(),
            rng.below(100_000)
        ),
    };
    while out.len() - start < size {
        out.push(' ');
        out.push_str(rng.pick(WORDS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_sized() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let (mut la, mut lb) = (String::new(), String::new());
        for kind in [Kind::Logfmt, Kind::Nginx, Kind::Json] {
            la.clear();
            lb.clear();
            line(&mut a, kind, 200, &mut la);
            line(&mut b, kind, 200, &mut lb);
            assert_eq!(la, lb);
            assert!(la.len() >= 200 && la.len() < 220, "{}", la.len());
        }
    }
}
