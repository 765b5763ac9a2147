//! Object storage: one client over the `object_store` crate for every backend
//! Loki users configure: the local filesystem (Skald's embedded default), S3 and
//! S3-compatible servers (MinIO, s3s-fs), and memory for unit tests.
//!
//! Built from the config by [`ObjectClient::from_config`]; the flush actors and
//! the store reader call `put`/`get`/`list`. Keys are `/`-separated paths.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::config::storage::S3Config;
use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("object not found: {0}")]
    NotFound(String),
    #[error("object store {op} {key}: {source}")]
    Backend { op: &'static str, key: String, source: object_store::Error },
    #[error("invalid storage config: {0}")]
    Config(String),
    /// A remote index service (the index gateway) did not answer.
    #[error("{0}")]
    Unavailable(String),
}

impl StorageError {
    fn from_backend(op: &'static str, key: &str, e: object_store::Error) -> StorageError {
        match e {
            object_store::Error::NotFound { .. } => StorageError::NotFound(key.to_string()),
            source => StorageError::Backend { op, key: key.to_string(), source },
        }
    }
}

/// One stored object's key and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
}

#[derive(Clone, Debug)]
pub struct ObjectClient {
    store: Arc<dyn ObjectStore>,
    kind: &'static str,
}

impl ObjectClient {
    pub fn memory() -> ObjectClient {
        ObjectClient { store: Arc::new(object_store::memory::InMemory::new()), kind: "inmemory" }
    }

    pub fn filesystem(dir: &std::path::Path) -> Result<ObjectClient, StorageError> {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::Config(format!("creating {}: {e}", dir.display())))?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| StorageError::Config(format!("filesystem store at {}: {e}", dir.display())))?;
        Ok(ObjectClient { store: Arc::new(fs), kind: "filesystem" })
    }

    pub fn s3(c: &S3Config) -> Result<ObjectClient, StorageError> {
        crate::tls::ensure_crypto_provider();
        let r = resolve_s3(c)?;
        let mut b = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(&r.bucket)
            .with_region(if r.region.is_empty() { "us-east-1" } else { &r.region })
            .with_allow_http(c.insecure)
            .with_virtual_hosted_style_request(!c.s3forcepathstyle && r.endpoint.is_empty())
            // Few quick retries inside a request: flushes retry on their own (forever,
            // with backoff), and a query should fail over to memory fast.
            .with_retry(object_store::RetryConfig {
                max_retries: 3,
                retry_timeout: std::time::Duration::from_secs(15),
                ..Default::default()
            });
        if !r.endpoint.is_empty() {
            b = b.with_endpoint(&r.endpoint);
        }
        if r.access_key.is_empty() {
            b = b.with_skip_signature(true);
        } else {
            b = b.with_access_key_id(&r.access_key).with_secret_access_key(&r.secret_key);
        }
        let s3 = b.build().map_err(|e| StorageError::Config(format!("s3: {e}")))?;
        Ok(ObjectClient { store: Arc::new(s3), kind: "s3" })
    }

    /// The backend named by the newest `schema_config` period (or found configured):
    /// `s3`/`aws` use `storage_config.aws` or `common.storage.s3`; `filesystem` uses
    /// `storage_config.filesystem.directory`, the 3.x `object_store.filesystem.dir`,
    /// `common.storage.filesystem.chunks_directory`, or `<path_prefix>/chunks`.
    pub fn from_config(cfg: &Config) -> Result<ObjectClient, StorageError> {
        let named =
            cfg.schema_config.configs.iter().max_by(|a, b| a.from.cmp(&b.from)).map(|p| p.object_store.as_str());
        let s3 = if cfg.storage_config.aws.is_set() { &cfg.storage_config.aws } else { &cfg.common.storage.s3 };
        match named.unwrap_or(if s3.is_set() { "s3" } else { "filesystem" }) {
            "s3" | "aws" => Self::s3(s3),
            "inmemory" | "memory" => Ok(Self::memory()),
            "filesystem" | "" => {
                let dirs = [
                    &cfg.storage_config.filesystem.directory,
                    &cfg.storage_config.object_store.filesystem.dir,
                    &cfg.common.storage.filesystem.chunks_directory,
                ];
                let dir = dirs
                    .into_iter()
                    .find(|d| !d.is_empty())
                    .map(std::path::PathBuf::from)
                    .unwrap_or_else(|| cfg.data_dir().join("chunks"));
                Self::filesystem(&dir)
            }
            other => Err(StorageError::Config(format!(
                "object store {other:?} is not supported (supported: filesystem, s3, aws, inmemory)"
            ))),
        }
    }

    pub fn kind(&self) -> &'static str {
        self.kind
    }

    pub async fn put(&self, key: &str, data: Bytes) -> Result<(), StorageError> {
        self.store
            .put(&Path::from(key), PutPayload::from(data))
            .await
            .map_err(|e| StorageError::from_backend("put", key, e))?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        let r = self.store.get(&Path::from(key)).await.map_err(|e| StorageError::from_backend("get", key, e))?;
        r.bytes().await.map_err(|e| StorageError::from_backend("get", key, e))
    }

    pub async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StorageError> {
        self.store.get_range(&Path::from(key), range).await.map_err(|e| StorageError::from_backend("get_range", key, e))
    }

    /// Every object under `prefix` (a directory-like prefix, `""` for all), sorted by key.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        let p = (!prefix.is_empty()).then(|| Path::from(prefix));
        let mut out: Vec<ObjectInfo> = self
            .store
            .list(p.as_ref())
            .map_ok(|m| ObjectInfo { key: m.location.to_string(), size: m.size })
            .try_collect()
            .await
            .map_err(|e| StorageError::from_backend("list", prefix, e))?;
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.store.delete(&Path::from(key)).await.map_err(|e| StorageError::from_backend("delete", key, e))
    }
}

/// S3 settings after reading the `s3://key:secret@host/bucket` URL form.
#[derive(Debug, PartialEq, Eq)]
struct ResolvedS3 {
    endpoint: String,
    region: String,
    bucket: String,
    access_key: String,
    secret_key: String,
}

fn resolve_s3(c: &S3Config) -> Result<ResolvedS3, StorageError> {
    let mut r = ResolvedS3 {
        endpoint: c.endpoint.clone(),
        region: c.region.clone(),
        bucket: c.bucketnames.split(',').next().unwrap_or("").trim().to_string(),
        access_key: c.access_key_id.clone(),
        secret_key: c.secret_access_key.clone(),
    };
    if !c.s3.is_empty() {
        let rest = c.s3.split_once("://").map(|(_, r)| r).unwrap_or(&c.s3);
        let (auth, rest) = match rest.rsplit_once('@') {
            Some((a, r)) => (Some(a), r),
            None => (None, rest),
        };
        if let Some(a) = auth {
            let (k, s) = a.split_once(':').unwrap_or((a, ""));
            r.access_key = pct_decode(k);
            r.secret_key = pct_decode(s);
        }
        let (host, bucket) = rest.split_once('/').unwrap_or((rest, ""));
        if !bucket.trim_matches('/').is_empty() && r.bucket.is_empty() {
            r.bucket = bucket.trim_matches('/').to_string();
        }
        // a host with a dot or a port is an endpoint; a bare word is a region
        if host.contains('.') || host.contains(':') || host == "localhost" {
            r.endpoint = host.to_string();
        } else if !host.is_empty() && host != "inmemory" {
            r.region = host.to_string();
        }
    }
    if !r.endpoint.is_empty() && !r.endpoint.contains("://") {
        let scheme = if c.insecure { "http" } else { "https" };
        r.endpoint = format!("{scheme}://{}", r.endpoint);
    }
    if r.bucket.is_empty() {
        return Err(StorageError::Config("s3 needs a bucket (storage_config.aws.bucketnames or the s3 URL)".into()));
    }
    Ok(r)
}

fn pct_decode(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let Some(v) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_url_forms() {
        let c =
            S3Config { s3: "s3://AK:S%2Fk@minio.local:9000/loki-data".into(), insecure: true, ..Default::default() };
        let r = resolve_s3(&c).unwrap();
        assert_eq!(r.endpoint, "http://minio.local:9000");
        assert_eq!((r.access_key.as_str(), r.secret_key.as_str(), r.bucket.as_str()), ("AK", "S/k", "loki-data"));
        let c = S3Config { s3: "s3://eu-west-1/bucket".into(), ..Default::default() };
        let r = resolve_s3(&c).unwrap();
        assert_eq!((r.region.as_str(), r.endpoint.as_str()), ("eu-west-1", ""));
        let c = S3Config { endpoint: "minio:9000".into(), bucketnames: "a,b".into(), ..Default::default() };
        assert_eq!(resolve_s3(&c).unwrap().endpoint, "https://minio:9000");
        assert_eq!(resolve_s3(&c).unwrap().bucket, "a");
        assert!(resolve_s3(&S3Config::default()).is_err());
    }
}
