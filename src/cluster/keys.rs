//! Every gossip key a node publishes, in one place. Values stay small: one node's
//! whole state must fit a UDP datagram or it never propagates.
//!
//! Written by `membership` (this node's keys), read by the status pages and the ring.

use super::membership::NodeInfo;

pub const TARGETS: &str = "targets";
pub const HTTP: &str = "http";
pub const GRPC: &str = "grpc";
pub const READY: &str = "ready";
pub const INGESTER_STATE: &str = "ingester.state";
/// Number of ring tokens; the tokens themselves derive from the id (`ring::tokens_for`).
pub const TOKENS: &str = "ingester.tokens";
pub const VERSION: &str = "version";
/// `forget:<id>` = the generation of a member forgotten (`POST /ring`,
/// `forget=<id>`, or `ingester.autoforget_unhealthy`), published by the node that
/// did it. While that generation is not alive every node leaves it out of its
/// view; the member's own return (a new generation) is not affected. See `forget`.
pub const FORGET_PREFIX: &str = "forget:";

pub fn forget_key(id: &str) -> String {
    format!("{FORGET_PREFIX}{id}")
}

/// True when a member's `targets` value includes a distributor.
pub fn runs_distributor(targets: &str) -> bool {
    targets.split(',').any(|t| matches!(t, "all" | "distributor" | "write"))
}

/// True when these targets include an ingester.
pub fn runs_ingester(targets: &[String]) -> bool {
    targets.iter().any(|t| matches!(t.as_str(), "ingester" | "all" | "write"))
}

/// This node's keys at start.
pub fn initial(me: &NodeInfo) -> Vec<(String, String)> {
    let mut kv = vec![
        (TARGETS.to_string(), me.targets.join(",")),
        (HTTP.to_string(), me.http_addr.clone()),
        (GRPC.to_string(), me.grpc_addr.clone()),
        (READY.to_string(), "false".to_string()),
        (VERSION.to_string(), crate::VERSION.to_string()),
    ];
    if runs_ingester(&me.targets) {
        kv.push((INGESTER_STATE.to_string(), "JOINING".to_string()));
        kv.push((TOKENS.to_string(), me.num_tokens.to_string()));
    }
    kv
}
