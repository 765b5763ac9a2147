//! Forgetting a ring member by hand (Loki's "Forget" button on `/ring`): for an
//! ingester that died and will not come back, which would otherwise stay in the
//! ring, unhealthy, until gossip drops its state (`dead_node_grace_period`, an
//! hour), each replication set counting it as a failure meanwhile.
//!
//! Gossip only lets a node change its own state, so forgetting is a tombstone:
//! the node that takes the request (or, with `ingester.autoforget_unhealthy`, an
//! ingester that saw the member's heartbeat go stale) publishes `forget:<id>` =
//! the member's generation. Every node reads the tombstones of every state it
//! holds (a dead requester's too) and leaves that generation out of its view
//! while the failure detector does not see it alive. A member seen alive is not
//! forgotten (Loki's would add itself back at its next heartbeat), and a tombstone
//! whose member turns out alive after all is withdrawn at once; a member that
//! restarts comes back under a new generation, untouched. Once gossip has dropped
//! the member's state the publisher lets its tombstone expire after gossip's own
//! grace period, so that nodes that still hold the state keep leaving it out.
//!
//! Used by `membership` (the `Forget` message and every view refresh).

use std::collections::{BTreeMap, HashSet};

use chitchat::{Chitchat, ChitchatId, DeletionStatus, NodeState};

use super::keys;

/// (member id, generation) pairs some node asked to forget.
pub type Forgotten = HashSet<(String, u64)>;

fn parse(key: &str, value: &str) -> Option<(String, u64)> {
    Some((key.strip_prefix(keys::FORGET_PREFIX)?.to_string(), value.parse().ok()?))
}

/// Every tombstone in the states gossip holds.
pub fn tombstones(states: &BTreeMap<ChitchatId, NodeState>) -> Forgotten {
    states.values().flat_map(|st| st.iter_prefix(keys::FORGET_PREFIX).filter_map(|(k, v)| parse(k, &v.value))).collect()
}

/// What a forget did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A tombstone for this generation is published.
    Forgotten(u64),
    /// Gossip holds no such member (or generation): nothing to forget.
    Unknown,
    /// The failure detector sees it alive: not forgotten.
    Alive,
}

/// Publishes a tombstone for `id`'s `generation` (its newest when `None`).
pub fn forget(c: &mut Chitchat, id: &str, generation: Option<u64>) -> Outcome {
    let target = c
        .node_states()
        .keys()
        .filter(|n| &*n.node_id == id && generation.is_none_or(|g| g == n.generation_id))
        .max_by_key(|n| n.generation_id)
        .cloned();
    let Some(target) = target else { return Outcome::Unknown };
    if c.live_nodes().any(|n| *n == target) {
        return Outcome::Alive;
    }
    c.self_node_state().set(keys::forget_key(id), target.generation_id);
    Outcome::Forgotten(target.generation_id)
}

fn ids<'a>(nodes: impl Iterator<Item = &'a ChitchatId>) -> Forgotten {
    nodes.map(|n| (n.node_id.to_string(), n.generation_id)).collect()
}

/// Withdraws this node's tombstones whose member is alive, and lets those whose
/// member gossip no longer holds expire (visible for gossip's grace period still).
pub fn prune_own(c: &mut Chitchat) {
    let present = ids(c.node_states().keys());
    let alive = ids(c.live_nodes());
    let (mut withdraw, mut expire) = (Vec::new(), Vec::new());
    for (k, v) in c.self_node_state().iter_prefix(keys::FORGET_PREFIX) {
        let target = parse(k, &v.value);
        if target.as_ref().is_some_and(|t| alive.contains(t)) {
            withdraw.push(k.to_string());
        } else if target.is_none_or(|t| !present.contains(&t)) && matches!(v.status, DeletionStatus::Set) {
            expire.push(k.to_string());
        }
    }
    for k in withdraw {
        c.self_node_state().delete(&k);
    }
    for k in expire {
        c.self_node_state().delete_after_ttl(&k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tombstone_keys_name_a_member_and_its_generation() {
        assert_eq!(parse(&keys::forget_key("ingester-2"), "17"), Some(("ingester-2".into(), 17)));
        assert_eq!(parse("forget:a:b", "1"), Some(("a:b".into(), 1)), "ids may hold colons");
        assert_eq!(parse("ready", "1"), None);
        assert_eq!(parse(&keys::forget_key("x"), "not a number"), None);
    }
}
