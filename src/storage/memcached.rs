//! A small memcached client (text protocol over tokio TCP) for the chunk cache:
//! `get` and `set` of binary values, a few pooled connections per server, keys
//! spread over servers by hash, every call bounded by a timeout.
//!
//! Configured from Loki's `memcached_client` keys (`addresses` or `host`+`service`).
//! A cache never fails a query: errors and timeouts count as misses.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const POOL_PER_SERVER: usize = 4;

pub struct Memcached {
    servers: Vec<String>,
    pools: Vec<Mutex<Vec<BufReader<TcpStream>>>>,
    timeout: Duration,
    expiration: u32,
    max_item_size: usize,
}

impl Memcached {
    /// `addresses`: comma-separated `host:port` (a `dns+` prefix is accepted and dropped).
    pub fn new(addresses: &str, timeout: Duration, expiration: Duration, max_item_size: usize) -> Option<Memcached> {
        let servers: Vec<String> = addresses
            .split(',')
            .map(|a| a.trim().trim_start_matches("dns+").trim_start_matches("dnssrvnoa+").to_string())
            .filter(|a| !a.is_empty())
            .map(|a| if a.contains(':') { a } else { format!("{a}:11211") })
            .collect();
        if servers.is_empty() {
            return None;
        }
        let pools = servers.iter().map(|_| Mutex::new(Vec::new())).collect();
        Some(Memcached {
            servers,
            pools,
            timeout: if timeout.is_zero() { Duration::from_millis(500) } else { timeout },
            expiration: expiration.as_secs().min(30 * 86_400) as u32,
            max_item_size,
        })
    }

    /// A valid memcached key: printable, no spaces, at most 250 bytes.
    fn key(k: &str) -> String {
        let mut s: String = k.chars().map(|c| if c.is_ascii_graphic() { c } else { '_' }).collect();
        if s.len() > 240 {
            let crc = crc32fast::hash(k.as_bytes());
            s.truncate(230);
            s.push_str(&format!("~{crc:08x}"));
        }
        s
    }

    fn server(&self, key: &str) -> usize {
        crc32fast::hash(key.as_bytes()) as usize % self.servers.len()
    }

    async fn conn(&self, i: usize) -> std::io::Result<BufReader<TcpStream>> {
        if let Some(c) = self.pools[i].lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(c);
        }
        Ok(BufReader::new(TcpStream::connect(&self.servers[i]).await?))
    }

    fn release(&self, i: usize, c: BufReader<TcpStream>) {
        let mut p = self.pools[i].lock().unwrap_or_else(|e| e.into_inner());
        if p.len() < POOL_PER_SERVER {
            p.push(c);
        }
    }

    pub async fn get(&self, key: &str) -> Option<Bytes> {
        let key = Self::key(key);
        let i = self.server(&key);
        let r = tokio::time::timeout(self.timeout, async {
            let mut c = self.conn(i).await?;
            c.get_mut().write_all(format!("get {key}\r\n").as_bytes()).await?;
            let mut line = String::new();
            c.read_line(&mut line).await?;
            let value = if let Some(rest) = line.strip_prefix("VALUE ") {
                let len: usize = rest.split_whitespace().nth(2).and_then(|n| n.parse().ok()).ok_or_else(bad)?;
                let mut buf = vec![0u8; len + 2];
                c.read_exact(&mut buf).await?;
                buf.truncate(len);
                line.clear();
                c.read_line(&mut line).await?;
                if line.trim_end() != "END" {
                    return Err(bad());
                }
                Some(Bytes::from(buf))
            } else if line.trim_end() == "END" {
                None
            } else {
                return Err(bad());
            };
            self.release(i, c);
            Ok::<_, std::io::Error>(value)
        })
        .await;
        match r {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "memcached get failed");
                None
            }
            Err(_) => None,
        }
    }

    pub async fn set(&self, key: &str, value: &Bytes) {
        if value.len() > self.max_item_size {
            return;
        }
        let key = Self::key(key);
        let i = self.server(&key);
        let r = tokio::time::timeout(self.timeout, async {
            let mut c = self.conn(i).await?;
            let head = format!("set {key} 0 {} {}\r\n", self.expiration, value.len());
            c.get_mut().write_all(head.as_bytes()).await?;
            c.get_mut().write_all(value).await?;
            c.get_mut().write_all(b"\r\n").await?;
            let mut line = String::new();
            c.read_line(&mut line).await?;
            if line.starts_with("STORED") || line.starts_with("SERVER_ERROR") || line.starts_with("NOT_STORED") {
                self.release(i, c);
            }
            Ok::<_, std::io::Error>(())
        })
        .await;
        if !matches!(r, Ok(Ok(()))) {
            tracing::debug!(key, "memcached set failed");
        }
    }
}

fn bad() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, "unexpected memcached reply")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_valid() {
        assert_eq!(Memcached::key("t/chunks/ab 1"), "t/chunks/ab_1");
        assert!(Memcached::key(&"x".repeat(400)).len() <= 250);
        let m = Memcached::new("dns+cache:11211, other", Duration::ZERO, Duration::ZERO, 1 << 20).unwrap();
        assert_eq!(m.servers, vec!["cache:11211", "other:11211"]);
        assert!(Memcached::new("", Duration::ZERO, Duration::ZERO, 1).is_none());
    }
}
