//! The configuration sections Skald acts on, in Loki's section and key names.
//!
//! Every field here changes Skald's behaviour; keys Loki has that Skald does not act
//! on yet are listed in `loki_keys.txt` and only warned about (see `schema.rs`).
//! Defaults are Loki's unless a comment says otherwise.

use serde::{Deserialize, Serialize};

use super::limits::Limits;
use super::overrides::RuntimeConfig;
use super::storage::{CommonStorage, SchemaConfig, StorageConfig};
use super::units::{comma_list, ByteSize, Dur};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    #[serde(deserialize_with = "comma_list")]
    pub target: Vec<String>,
    pub auth_enabled: bool,
    pub no_auth_tenant: String,
    pub server: ServerConfig,
    pub common: CommonConfig,
    pub distributor: DistributorConfig,
    pub ingester: IngesterConfig,
    pub limits_config: Limits,
    pub storage_config: StorageConfig,
    pub schema_config: SchemaConfig,
    pub querier: QuerierConfig,
    pub chunk_store_config: super::cache::ChunkStoreConfig,
    pub memberlist: super::cluster::MemberlistConfig,
    pub runtime_config: RuntimeConfig,
    pub frontend: super::frontend::FrontendConfig,
    pub frontend_worker: super::frontend::FrontendWorkerConfig,
    pub query_scheduler: super::frontend::QuerySchedulerConfig,
    pub query_range: super::frontend::QueryRangeConfig,
    pub ingester_client: super::cluster::IngesterClientConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            target: vec!["all".into()],
            auth_enabled: true,
            no_auth_tenant: "fake".into(),
            server: ServerConfig::default(),
            common: CommonConfig::default(),
            distributor: DistributorConfig::default(),
            ingester: IngesterConfig::default(),
            limits_config: Limits::default(),
            storage_config: StorageConfig::default(),
            schema_config: SchemaConfig::default(),
            querier: QuerierConfig::default(),
            chunk_store_config: Default::default(),
            memberlist: Default::default(),
            runtime_config: RuntimeConfig::default(),
            frontend: Default::default(),
            frontend_worker: Default::default(),
            query_scheduler: Default::default(),
            query_range: Default::default(),
            ingester_client: Default::default(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    pub http_listen_address: String,
    pub http_listen_port: u16,
    pub grpc_listen_address: String,
    pub grpc_listen_port: u16,
    pub log_level: String,
    pub grpc_server_max_recv_msg_size: ByteSize,
    pub grpc_server_max_send_msg_size: ByteSize,
    pub graceful_shutdown_timeout: Dur,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            http_listen_address: String::new(),
            http_listen_port: 3100,
            grpc_listen_address: String::new(),
            grpc_listen_port: 9095,
            log_level: "info".into(),
            grpc_server_max_recv_msg_size: ByteSize(4 << 20),
            grpc_server_max_send_msg_size: ByteSize(4 << 20),
            graceful_shutdown_timeout: Dur::secs(30),
        }
    }
}

/// Where queriers look: ingesters for recent data, the store for everything.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct QuerierConfig {
    /// Ingesters are asked only for the part of a query newer than now minus this (0: always).
    pub query_ingesters_within: Dur,
    pub query_store_only: bool,
    pub query_ingester_only: bool,
    /// Reads may name several tenants (`X-Scope-OrgID: a|b`).
    pub multi_tenant_queries_enabled: bool,
    /// A live tail is closed after this long (0: never; Skald's default, Loki's is 1h).
    pub tail_max_duration: Dur,
    /// Queries one querier runs at once: the number of its frontend workers.
    pub max_concurrent: usize,
}

impl Default for QuerierConfig {
    fn default() -> Self {
        QuerierConfig {
            query_ingesters_within: Dur::secs(3 * 3600),
            query_store_only: false,
            query_ingester_only: false,
            multi_tenant_queries_enabled: false,
            tail_max_duration: Dur::secs(0),
            max_concurrent: 4,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CommonConfig {
    /// Root of every local directory. Skald's default when unset is `./data`
    /// (Loki has no default); the embedded single binary keeps everything there.
    pub path_prefix: String,
    pub storage: CommonStorage,
    /// Overrides `ingester.lifecycler.ring.replication_factor` when set (0: unset).
    pub replication_factor: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct DistributorConfig {
    pub max_recv_msg_size: ByteSize,
    pub max_decompressed_size: ByteSize,
}

impl Default for DistributorConfig {
    fn default() -> Self {
        DistributorConfig { max_recv_msg_size: ByteSize(100 << 20), max_decompressed_size: ByteSize(5_242_880_000) }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct IngesterConfig {
    pub chunk_target_size: ByteSize,
    pub chunk_block_size: ByteSize,
    pub chunk_encoding: String,
    pub max_chunk_age: Dur,
    pub chunk_idle_period: Dur,
    pub flush_check_period: Dur,
    pub chunk_retain_period: Dur,
    pub wal: WalConfig,
    pub lifecycler: super::cluster::LifecyclerConfig,
    /// Directory of the `shutdown_marker` file set by `/ingester/prepare_shutdown`
    /// (Skald default when empty: the data directory).
    pub shutdown_marker_path: String,
    /// Skald only: pushes past this much in-memory chunk data get 429 (0: no budget).
    pub head_memory_budget: ByteSize,
    /// Forget ring members whose heartbeat is older than the ring's heartbeat timeout
    /// (as `/ring`'s Forget button would), done by every ingester.
    pub autoforget_unhealthy: bool,
}

/// `ingester.wal`: Loki's keys and defaults.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct WalConfig {
    pub enabled: bool,
    /// Skald default when empty: `<path_prefix>/wal` (Loki: `wal` in the working directory).
    pub dir: String,
    pub checkpoint_duration: Dur,
    pub flush_on_shutdown: bool,
    pub replay_memory_ceiling: ByteSize,
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            enabled: true,
            dir: String::new(),
            checkpoint_duration: Dur::secs(300),
            flush_on_shutdown: false,
            replay_memory_ceiling: ByteSize(4 << 30),
        }
    }
}

impl Default for IngesterConfig {
    fn default() -> Self {
        IngesterConfig {
            chunk_target_size: ByteSize(1_572_864),
            chunk_block_size: ByteSize(262_144),
            // Skald default (Loki: gzip): gzip costs most of the ingest CPU; see docs/benchmarks.md.
            chunk_encoding: "lz4".into(),
            max_chunk_age: Dur::secs(7200),
            chunk_idle_period: Dur::secs(1800),
            flush_check_period: Dur::secs(30),
            chunk_retain_period: Dur::secs(0),
            wal: WalConfig::default(),
            lifecycler: Default::default(),
            shutdown_marker_path: String::new(),
            head_memory_budget: ByteSize(0),
            autoforget_unhealthy: false,
        }
    }
}
