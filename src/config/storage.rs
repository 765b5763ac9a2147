//! Storage sections: `storage_config` (aws, filesystem, object_store), the
//! `common.storage` shorthand and `schema_config` periods, in Loki's keys.
//!
//! `storage::object` turns these into an object store client.

use serde::{Deserialize, Serialize};

/// Loki's S3 keys (`storage_config.aws` and `common.storage.s3`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct S3Config {
    /// URL form: `s3://key:secret@endpoint-or-region/bucket`.
    pub s3: String,
    pub endpoint: String,
    pub region: String,
    /// Comma-separated; Skald uses the first bucket.
    pub bucketnames: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub s3forcepathstyle: bool,
    pub insecure: bool,
}

impl S3Config {
    pub fn is_set(&self) -> bool {
        !self.s3.is_empty() || !self.endpoint.is_empty() || !self.bucketnames.is_empty()
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FilesystemConfig {
    pub directory: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ThanosFilesystem {
    pub dir: String,
}

/// Loki 3's `storage_config.object_store` (Thanos-style) block; Skald reads its filesystem dir.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ThanosStoreConfig {
    pub filesystem: ThanosFilesystem,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageConfig {
    pub aws: S3Config,
    pub filesystem: FilesystemConfig,
    pub object_store: ThanosStoreConfig,
    pub tsdb_shipper: ShipperConfig,
    /// Loki 2's index shipper; only its index-gateway address is read.
    pub boltdb_shipper: ShipperConfig,
}

impl StorageConfig {
    /// Where queriers ask for index lookups (`tsdb_shipper` first, then `boltdb_shipper`).
    pub fn index_gateway_address(&self) -> Option<&str> {
        [&self.tsdb_shipper, &self.boltdb_shipper]
            .into_iter()
            .map(|s| s.index_gateway_client.server_address.as_str())
            .find(|a| !a.is_empty())
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ShipperConfig {
    pub index_gateway_client: IndexGatewayClientConfig,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct IndexGatewayClientConfig {
    /// `host:port` of the index gateway's gRPC server (a DNS name resolving to several works too).
    pub server_address: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CommonFilesystem {
    pub chunks_directory: String,
}

/// `common.storage`: one backend for chunks, index and rules.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CommonStorage {
    pub filesystem: CommonFilesystem,
    pub s3: S3Config,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct IndexPeriod {
    pub prefix: String,
}

impl Default for IndexPeriod {
    fn default() -> Self {
        IndexPeriod { prefix: "index_".into() }
    }
}

/// One `schema_config.configs` entry; Skald reads which object store it names and
/// the index table prefix (tables are always 24h periods).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PeriodConfig {
    pub from: String,
    /// `tsdb`, `boltdb-shipper` (2.x) or `boltdb`: all served by Skald's own index.
    pub store: String,
    pub object_store: String,
    pub index: IndexPeriod,
}

impl SchemaConfig {
    /// Index table prefix of the newest period (Loki's default `index_`).
    pub fn index_prefix(&self) -> String {
        self.configs
            .iter()
            .max_by(|a, b| a.from.cmp(&b.from))
            .map(|p| p.index.prefix.clone())
            .unwrap_or_else(|| "index_".into())
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SchemaConfig {
    pub configs: Vec<PeriodConfig>,
}
