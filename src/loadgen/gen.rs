//! Deterministic log lines from a seed: logfmt application logs, nginx access
//! lines and JSON with nested fields (padded to a target size with random words:
//! harder to compress than real logs), and two realistic kinds: Apache combined
//! access lines drawn from bounded populations (clients, paths, agents, as real
//! traffic is) and plain-text application lines with durations and sizes.

/// xorshift64*: small, fast and reproducible.
#[derive(Clone, Debug)]
pub struct Rng(u64, u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1, 0)
    }

    /// The realistic kinds' clock: seconds since the start, 20 lines a second.
    fn tick(&mut self) -> u64 {
        self.1 += 1;
        (self.1 - 1) / 20
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

const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
    "curl/8.5.0",
];
const REFERERS: &[&str] =
    &["-", "-", "-", "https://www.example.com/", "https://www.google.com/", "https://shop.example.com/cart"];
/// (path, typical response size): static files have one size, pages vary a little.
const SITE: &[(&str, u64)] = &[
    ("/", 5120),
    ("/index.html", 5120),
    ("/static/css/main.css", 18234),
    ("/static/js/app.js", 94211),
    ("/static/img/logo.png", 7423),
    ("/favicon.ico", 1150),
    ("/api/v1/cart", 512),
    ("/api/v1/session", 230),
    ("/products", 24000),
    ("/product/", 12000),
    ("/search?q=", 16000),
    ("/login", 3100),
    ("/checkout", 8800),
];
const COMPONENTS: &[&str] = &["scheduler", "worker", "indexer", "uploader", "api"];
const ACTIONS: &[&str] = &["processed batch", "uploaded segment", "compacted table", "served request", "synced shard"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Logfmt,
    Nginx,
    Json,
    /// Apache combined log format, realistic populations.
    Apache,
    /// Plain-text application lines with durations and sizes.
    Plain,
}

/// A small value that favours low numbers, as real traffic favours a few clients and items.
fn skewed(rng: &mut Rng, n: u64) -> u64 {
    let k = rng.below(n) + 1;
    rng.below(k)
}

impl Kind {
    pub fn parse(s: &str) -> Result<Kind, String> {
        match s {
            "logfmt" => Ok(Kind::Logfmt),
            "nginx" => Ok(Kind::Nginx),
            "json" => Ok(Kind::Json),
            "apache" => Ok(Kind::Apache),
            "plain" => Ok(Kind::Plain),
            o => Err(format!("unknown line kind {o:?} (logfmt, nginx, json, apache, plain)")),
        }
    }
}

/// `n` label sets for the benchmarks: `{app="app-<i % 10>", pod="pod-<i>", stream="s<i>"}`.
pub fn bench_labels(n: usize) -> Vec<crate::model::Labels> {
    (0..n)
        .map(|i| {
            crate::model::Labels::parse(&format!("{{app=\"app-{}\", pod=\"pod-{i}\", stream=\"s{i}\"}}", i % 10))
                .expect("valid labels")
        })
        .collect()
}

/// One push for the benchmarks: `per_stream` lines of ~200 bytes for each label set,
/// in label order, each timestamp 1 µs after the previous (`ts` carries on).
pub fn stream_pushes(
    rng: &mut Rng,
    kind: Kind,
    labels: &[crate::model::Labels],
    per_stream: usize,
    ts: &mut i64,
) -> Vec<crate::model::StreamPush> {
    let mut text = String::new();
    labels
        .iter()
        .map(|l| {
            let entries = (0..per_stream)
                .map(|_| {
                    text.clear();
                    line(rng, kind, 200, &mut text);
                    *ts += 1_000;
                    crate::model::Entry::new(*ts, text.clone())
                })
                .collect();
            crate::model::StreamPush::new(l.clone(), entries)
        })
        .collect()
}

/// Appends one line of about `size` bytes to `out`.
pub fn line(rng: &mut Rng, kind: Kind, size: usize, out: &mut String) {
    use std::fmt::Write;
    let start = out.len();
    let status: u16 = [200, 200, 200, 201, 301, 404, 500][rng.below(7) as usize];
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
        Kind::Apache => apache(rng, status, out),
        Kind::Plain => {
            let t = rng.tick();
            let ms = rng.below(1000);
            write!(
                out,
                "2024-03-12 {:02}:{:02}:{:02}.{:03} {} [{}-{}] {} {} in {}.{}ms ({}.{}MB)",
                8 + t / 3600 % 12,
                t / 60 % 60,
                t % 60,
                ms,
                ["INFO", "INFO", "INFO", "WARN", "DEBUG"][rng.below(5) as usize],
                rng.pick(COMPONENTS),
                rng.below(8),
                rng.pick(ACTIONS),
                skewed(&mut *rng, 100_000),
                rng.below(500),
                rng.below(10),
                rng.below(64),
                rng.below(10)
            )
        }
    };
    match kind {
        // realistic kinds: the natural line, then a realistic tail if it is short
        Kind::Apache | Kind::Plain => {
            while out.len() - start < size {
                out.push_str(if kind == Kind::Apache { " \"-\"" } else { " retry=0" });
            }
        }
        _ => {
            while out.len() - start < size {
                out.push(' ');
                out.push_str(rng.pick(WORDS));
            }
        }
    }
}

fn apache(rng: &mut Rng, status: u16, out: &mut String) -> std::fmt::Result {
    use std::fmt::Write;
    let t = rng.tick();
    let client = skewed(rng, 300);
    let (path, size) = SITE[skewed(rng, SITE.len() as u64) as usize];
    let item = if path.ends_with('/') && path.len() > 1 || path.ends_with('=') {
        skewed(rng, 2000).to_string()
    } else {
        String::new()
    };
    let size =
        if path.starts_with("/static") || path == "/favicon.ico" { size } else { size + rng.below(size / 8 + 1) };
    write!(
        out,
        "192.168.{}.{} - {} [12/Mar/2024:{:02}:{:02}:{:02} +0000] \"{} {path}{item} HTTP/1.1\" {status} {size} \"{}\" \"{}\"",
        client / 250,
        client % 250 + 1,
        if client.is_multiple_of(17) { "alice" } else { "-" },
        8 + t / 3600 % 12,
        t / 60 % 60,
        t % 60,
        if path.starts_with("/api") && rng.below(4) == 0 { "POST" } else { "GET" },
        rng.pick(REFERERS),
        AGENTS[(client % AGENTS.len() as u64) as usize],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_sized() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let (mut la, mut lb) = (String::new(), String::new());
        for kind in [Kind::Logfmt, Kind::Nginx, Kind::Json, Kind::Apache, Kind::Plain] {
            la.clear();
            lb.clear();
            line(&mut a, kind, 200, &mut la);
            line(&mut b, kind, 200, &mut lb);
            assert_eq!(la, lb);
            assert!(la.len() >= 200 && la.len() < 320, "{kind:?} {}: {la}", la.len());
        }
    }
}
