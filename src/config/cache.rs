//! `chunk_store_config.chunk_cache_config`: the chunk cache, in Loki's keys. An
//! embedded (in-memory) cache by default; memcached when `memcached_client` names
//! servers.

use serde::{Deserialize, Serialize};

use super::units::{ByteSize, Dur};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct EmbeddedCache {
    pub enabled: bool,
    pub max_size_mb: u64,
    /// How long an entry may be used (Loki: 1h). Chunks never change, so only
    /// the results cache reads it.
    pub ttl: Dur,
}

impl Default for EmbeddedCache {
    fn default() -> Self {
        // Skald keeps an embedded chunk cache on by default (Loki: off unless configured).
        EmbeddedCache { enabled: true, max_size_mb: 256, ttl: Dur::secs(3600) }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MemcachedConfig {
    /// How long memcached keeps an entry (0: until evicted).
    pub expiration: Dur,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct MemcachedClientConfig {
    /// Comma-separated `host:port` list.
    pub addresses: String,
    /// Older form: one host, with `service` naming its port (`memcached` = 11211).
    pub host: String,
    pub service: String,
    pub timeout: Dur,
    pub max_item_size: ByteSize,
}

impl Default for MemcachedClientConfig {
    fn default() -> Self {
        MemcachedClientConfig {
            addresses: String::new(),
            host: String::new(),
            service: "memcached".into(),
            timeout: Dur(std::time::Duration::from_millis(100)),
            max_item_size: ByteSize(0),
        }
    }
}

impl MemcachedClientConfig {
    /// The server list, from `addresses` or `host` (+ a numeric `service`).
    pub fn servers(&self) -> String {
        if !self.addresses.is_empty() {
            return self.addresses.clone();
        }
        if self.host.is_empty() {
            return String::new();
        }
        let port = self.service.parse::<u16>().unwrap_or(11211);
        format!("{}:{port}", self.host)
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheConfig {
    pub embedded_cache: EmbeddedCache,
    pub memcached: MemcachedConfig,
    pub memcached_client: MemcachedClientConfig,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChunkStoreConfig {
    pub chunk_cache_config: CacheConfig,
}
