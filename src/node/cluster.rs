//! The node's place in the cluster: starts gossip membership when
//! `memberlist.join_members` is set (otherwise a one-member view), announces
//! readiness and the ingester's state (JOINING until the WAL is replayed, then
//! ACTIVE; LEAVING on shutdown, then out of the ring once it has stopped).
//!
//! Used by `node::run`; the view goes to the HTTP status pages.

use std::sync::Arc;
use std::time::Duration;

use actix::Addr;

use crate::actors::ingester::wal::replay::ReplayStatus;
use crate::cluster::membership::{self, MembershipActor, NodeInfo, SetKey, SharedView};
use crate::cluster::{addr, keys};
use crate::config::Config;

pub struct ClusterHandle {
    pub view: SharedView,
    actor: Option<Addr<MembershipActor>>,
}

/// This node's ring id: `ingester.lifecycler.id`, `memberlist.node_name`, then the hostname.
fn node_id(cfg: &Config) -> String {
    [&cfg.ingester.lifecycler.id, &cfg.memberlist.node_name]
        .into_iter()
        .find(|s| !s.is_empty())
        .cloned()
        .unwrap_or_else(|| {
            let h = std::fs::read_to_string("/etc/hostname").unwrap_or_default().trim().to_string();
            if h.is_empty() {
                "skald".to_string()
            } else {
                h
            }
        })
}

/// This node's announcement and its view, before anything starts (modules need the view).
pub fn prepare(cfg: &Config, targets: Vec<String>) -> (NodeInfo, SharedView) {
    let m = &cfg.memberlist;
    let host = addr::pick_host(
        [
            m.advertise_addr.as_str(),
            &cfg.server.http_listen_address,
            &cfg.server.grpc_listen_address,
            m.bind_addr.first().map(String::as_str).unwrap_or(""),
        ],
        || addr::seeds_on_loopback(&m.join_members),
        addr::outbound_ip,
    );
    let me = NodeInfo {
        id: node_id(cfg),
        targets,
        http_addr: addr::with_default_port(&host, cfg.server.http_listen_port),
        grpc_addr: addr::with_default_port(&host, cfg.server.grpc_listen_port),
        num_tokens: cfg.ingester.lifecycler.num_tokens,
    };
    let view = membership::local_view(&me);
    (me, view)
}

/// Gossip on when `memberlist.join_members` is set; otherwise the one-member view stays.
pub async fn start(cfg: &Config, me: NodeInfo, view: SharedView) -> anyhow::Result<ClusterHandle> {
    if cfg.memberlist.join_members.is_empty() {
        return Ok(ClusterHandle { view, actor: None });
    }
    let actor = membership::start(cfg, me, view.clone()).await?;
    Ok(ClusterHandle { view, actor: Some(actor) })
}

/// Stream copies: `common.replication_factor`, else the lifecycler's ring setting.
pub fn replication_factor(cfg: &Config) -> usize {
    match cfg.common.replication_factor {
        0 => cfg.ingester.lifecycler.ring.replication_factor.max(1),
        n => n,
    }
}

impl ClusterHandle {
    /// Where a ring member is forgotten (gossip only: a one-member view has nobody else).
    pub fn forgetter(&self) -> Option<actix::Recipient<membership::Forget>> {
        self.actor.as_ref().map(|a| a.clone().recipient())
    }

    pub fn set(&self, key: &'static str, value: &str) {
        self.set_or_delete(key, Some(value.to_string()));
    }

    /// Gossips one of this node's keys (`None` deletes it); without gossip, edits the one-member view.
    fn set_or_delete(&self, key: &'static str, value: Option<String>) {
        match &self.actor {
            Some(a) => a.do_send(SetKey(key, value)),
            None => {
                if let Ok(mut v) = self.view.write() {
                    if let Some(m) = v.members.first_mut() {
                        match value {
                            Some(val) => m.keys.insert(key.to_string(), val),
                            None => m.keys.remove(key),
                        };
                    }
                    v.version += 1;
                }
            }
        }
    }

    /// The last word of a stopping ingester: with `leave`, its tokens go, so
    /// replication sets stop naming it; either way it waits a few gossip rounds
    /// so the news (and its LEAVING state) spreads before the exit.
    pub async fn say_goodbye(&self, leave: bool, gossip_interval: Duration) {
        if leave {
            self.set_or_delete(keys::TOKENS, None);
        }
        if self.actor.is_some() {
            // (no acknowledgement to wait for: gossip spreads within a few rounds)
            tokio::time::sleep((gossip_interval * 5).clamp(Duration::from_millis(200), Duration::from_secs(2))).await;
        }
    }

    /// Announces readiness (and an ACTIVE ingester) once the WAL replay is over.
    pub fn announce_ready(self: &Arc<Self>, replay: Option<Arc<ReplayStatus>>) {
        let me = self.clone();
        actix::spawn(async move {
            if let Some(r) = replay {
                while !r.is_finished() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            me.set(keys::READY, "true");
            if me.view.read().map(|v| v.members.iter().any(|m| m.keys.contains_key(keys::TOKENS))).unwrap_or(false) {
                me.set(keys::INGESTER_STATE, "ACTIVE");
            }
        });
    }
}
