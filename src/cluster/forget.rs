//! Forgetting a ring member by hand (Loki's "Forget" button on `/ring`): for an
//! ingester that died and will not come back, which would otherwise stay in the
//! ring, unhealthy, until gossip drops its state (`dead_node_grace_period`, an
//! hour), each replication set counting it as a failure meanwhile.
//!
//! Gossip only lets a node change its own state, so forgetting is a tombstone:
//! the node that takes the request publishes `forget:<id>` = the member's newest
//! generation. Every node reads the tombstones of every state it holds (a dead
//! requester's too, which outlives what it forgot) and leaves that generation out
//! of its view while the failure detector does not see it alive. A member that
//! comes back does so under a new generation, untouched; a tombstone whose member
//! gossip has dropped altogether is deleted by its publisher.
//!
//! Used by `membership` (the `Forget` message and every view refresh).

use std::collections::{BTreeMap, HashSet};

use chitchat::{Chitchat, ChitchatId, NodeState};

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

/// Publishes a tombstone for `id`'s newest generation; the generation, or `None`
/// when gossip holds no member of that id (nothing to forget).
pub fn forget(c: &mut Chitchat, id: &str) -> Option<u64> {
    let generation = c.node_states().keys().filter(|n| &*n.node_id == id).map(|n| n.generation_id).max()?;
    c.self_node_state().set(keys::forget_key(id), generation);
    Some(generation)
}

/// Deletes this node's tombstones whose member gossip no longer holds.
pub fn prune_own(c: &mut Chitchat) {
    let present: Forgotten = c.node_states().keys().map(|n| (n.node_id.to_string(), n.generation_id)).collect();
    let done: Vec<String> = c
        .self_node_state()
        .iter_prefix(keys::FORGET_PREFIX)
        .filter(|(k, v)| parse(k, &v.value).is_none_or(|t| !present.contains(&t)))
        .map(|(k, _)| k.to_string())
        .collect();
    for k in done {
        c.self_node_state().delete(&k);
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
