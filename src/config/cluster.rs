//! Cluster configuration in Loki's keys: `memberlist` (gossip membership),
//! `ingester.lifecycler` (instance id, tokens) and `ingester_client` (push
//! timeout). Read by `cluster::membership` and the node's ingester pool.

use serde::{Deserialize, Serialize};

use super::units::{comma_list, Dur};

/// `memberlist`: gossip is on when `join_members` is set (Loki otherwise keeps the
/// ring in memory, one member).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct MemberlistConfig {
    /// Seeds (`host:port`, DNS names resolve to every address, e.g. a headless service).
    #[serde(deserialize_with = "comma_list")]
    pub join_members: Vec<String>,
    #[serde(deserialize_with = "comma_list")]
    pub bind_addr: Vec<String>,
    pub bind_port: u16,
    pub advertise_addr: String,
    pub advertise_port: u16,
    pub node_name: String,
    pub gossip_interval: Dur,
    /// Nodes with another label do not join this cluster (chitchat's cluster id).
    pub cluster_label: String,
}

impl Default for MemberlistConfig {
    fn default() -> Self {
        MemberlistConfig {
            join_members: Vec::new(),
            bind_addr: Vec::new(),
            bind_port: 7946,
            advertise_addr: String::new(),
            advertise_port: 0,
            node_name: String::new(),
            gossip_interval: Dur::millis(200),
            cluster_label: String::new(),
        }
    }
}

/// `ingester_client`: how distributors reach ingesters.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct IngesterClientConfig {
    /// A push to one ingester that takes longer counts as failed for that replica (Loki: 5s).
    pub remote_timeout: Dur,
}

impl Default for IngesterClientConfig {
    fn default() -> Self {
        IngesterClientConfig { remote_timeout: Dur::secs(5) }
    }
}

/// `ingester.lifecycler`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct LifecyclerConfig {
    /// Instance id in the ring (default: `memberlist.node_name`, then the hostname).
    pub id: String,
    pub num_tokens: usize,
    pub ring: LifecyclerRing,
}

impl Default for LifecyclerConfig {
    fn default() -> Self {
        LifecyclerConfig { id: String::new(), num_tokens: 128, ring: LifecyclerRing::default() }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct LifecyclerRing {
    /// A member whose heartbeat is older than this leaves replication sets (Loki: 1m).
    pub heartbeat_timeout: Dur,
    /// Copies of every stream (`common.replication_factor` overrides it when set).
    pub replication_factor: usize,
}

impl Default for LifecyclerRing {
    fn default() -> Self {
        LifecyclerRing { heartbeat_timeout: Dur::secs(60), replication_factor: 3 }
    }
}
