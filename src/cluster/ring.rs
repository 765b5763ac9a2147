//! The ring: every ingester owns `num_tokens` points on a 32-bit circle; a stream
//! (tenant + labels, hashed to a token) belongs to the first `replication_factor`
//! distinct instances clockwise from its token.
//!
//! Pure data and functions: the distributor and the querier build a [`Ring`] from
//! the membership view (an immutable snapshot) and ask it for replication sets.
//! As in Loki, an instance that is only suspected dead stays in the ring; it is
//! left out of replication sets only once its heartbeat is older than the timeout,
//! so ownership does not flap while gossip settles.

use std::fmt;

/// Loki's instance states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InstanceState {
    Pending,
    Joining,
    Active,
    Leaving,
}

impl InstanceState {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Pending => "PENDING",
            InstanceState::Joining => "JOINING",
            InstanceState::Active => "ACTIVE",
            InstanceState::Leaving => "LEAVING",
        }
    }

    pub fn parse(s: &str) -> Option<InstanceState> {
        Some(match s {
            "PENDING" => InstanceState::Pending,
            "JOINING" => InstanceState::Joining,
            "ACTIVE" => InstanceState::Active,
            "LEAVING" => InstanceState::Leaving,
            _ => return None,
        })
    }
}

/// One ring member as the membership view describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    pub id: String,
    /// gRPC address the distributor and querier call.
    pub addr: String,
    pub state: InstanceState,
    pub tokens: Vec<u32>,
    /// Last heartbeat, Unix milliseconds.
    pub heartbeat_ms: i64,
}

/// What a replication set is for: writes need ACTIVE instances; reads also ask
/// LEAVING ones (they still hold data until their flush ends).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Write,
    Read,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    #[error("empty ring")]
    Empty,
    #[error("at least {need} live replicas required, could only find {found} - unhealthy instances: {unhealthy}")]
    TooFewHealthy { need: usize, found: usize, unhealthy: String },
}

/// The instances to send to and how many of them may fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationSet<'a> {
    pub instances: Vec<&'a Instance>,
    /// Calls that may fail while the operation still succeeds (quorum).
    pub max_errors: usize,
}

impl ReplicationSet<'_> {
    /// Successful calls needed.
    pub fn quorum(&self) -> usize {
        self.instances.len() - self.max_errors
    }
}

pub struct Ring {
    instances: Vec<Instance>,
    /// (token, index into `instances`), sorted by token.
    tokens: Vec<(u32, usize)>,
    heartbeat_timeout_ms: i64,
}

/// FNV-1a, 32 bits: the token of a stream is the hash of its tenant and labels.
pub fn token_for(tenant: &str, labels: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in tenant.bytes().chain(labels.bytes()) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// `n` distinct tokens derived from an instance id: the same id gets the same
/// tokens after a restart, so ownership does not move when an ingester returns.
pub fn tokens_for(id: &str, n: usize) -> Vec<u32> {
    let mut out = Vec::with_capacity(n);
    let mut x = u64::from(token_for("ring-tokens/", id)) | 1;
    while out.len() < n {
        // splitmix64 steps: well spread, deterministic
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let t = (z ^ (z >> 31)) as u32;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out.sort_unstable();
    out
}

impl Ring {
    pub fn new(instances: Vec<Instance>, heartbeat_timeout_ms: i64) -> Ring {
        let mut tokens: Vec<(u32, usize)> =
            instances.iter().enumerate().flat_map(|(i, inst)| inst.tokens.iter().map(move |t| (*t, i))).collect();
        tokens.sort_unstable();
        Ring { instances, tokens, heartbeat_timeout_ms }
    }

    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    /// Heartbeat fresh and a state that serves `op`.
    pub fn healthy(&self, inst: &Instance, op: Op, now_ms: i64) -> bool {
        let fresh = self.heartbeat_timeout_ms <= 0 || now_ms - inst.heartbeat_ms <= self.heartbeat_timeout_ms;
        let state_ok = match op {
            Op::Write => inst.state == InstanceState::Active,
            Op::Read => matches!(inst.state, InstanceState::Active | InstanceState::Leaving),
        };
        fresh && state_ok
    }

    /// The first `rf` distinct instances clockwise from `key`, minus unhealthy
    /// ones; an error when fewer than a quorum are healthy.
    pub fn replication_set(&self, key: u32, rf: usize, op: Op, now_ms: i64) -> Result<ReplicationSet<'_>, RingError> {
        if self.tokens.is_empty() {
            return Err(RingError::Empty);
        }
        let rf = rf.clamp(1, self.instances.len());
        let start = self.tokens.partition_point(|(t, _)| *t < key);
        let mut picked: Vec<usize> = Vec::with_capacity(rf);
        for i in 0..self.tokens.len() {
            let idx = self.tokens[(start + i) % self.tokens.len()].1;
            if !picked.contains(&idx) {
                picked.push(idx);
                if picked.len() == rf {
                    break;
                }
            }
        }
        let quorum = rf / 2 + 1;
        let (healthy, unhealthy): (Vec<usize>, Vec<usize>) =
            picked.into_iter().partition(|&i| self.healthy(&self.instances[i], op, now_ms));
        if healthy.len() < quorum {
            let names: Vec<&str> = unhealthy.iter().map(|&i| self.instances[i].id.as_str()).collect();
            return Err(RingError::TooFewHealthy { need: quorum, found: healthy.len(), unhealthy: names.join(",") });
        }
        let max_errors = healthy.len() - quorum;
        Ok(ReplicationSet { instances: healthy.into_iter().map(|i| &self.instances[i]).collect(), max_errors })
    }

    /// Every instance a read must ask (any of them may hold any stream's replica)
    /// and how many may fail: `rf/2` minus those already unhealthy, so that
    /// every stream still has a replica answering.
    pub fn read_set(&self, rf: usize, now_ms: i64) -> Result<ReplicationSet<'_>, RingError> {
        if self.instances.is_empty() {
            return Err(RingError::Empty);
        }
        let max_unavailable = rf.clamp(1, self.instances.len()) / 2;
        let (healthy, unhealthy): (Vec<&Instance>, Vec<&Instance>) =
            self.instances.iter().partition(|i| self.healthy(i, Op::Read, now_ms));
        if unhealthy.len() > max_unavailable {
            let names: Vec<&str> = unhealthy.iter().map(|i| i.id.as_str()).collect();
            return Err(RingError::TooFewHealthy {
                need: self.instances.len() - max_unavailable,
                found: healthy.len(),
                unhealthy: names.join(","),
            });
        }
        Ok(ReplicationSet { instances: healthy, max_errors: max_unavailable - unhealthy.len() })
    }

    /// Share of the token space each instance owns (as its first replica), in instance order.
    pub fn ownership(&self) -> Vec<f64> {
        let mut owned = vec![0u64; self.instances.len()];
        for (i, (t, idx)) in self.tokens.iter().enumerate() {
            let prev = if i == 0 { self.tokens.last().map(|x| x.0).unwrap_or(0) } else { self.tokens[i - 1].0 };
            owned[*idx] += u64::from(t.wrapping_sub(prev));
        }
        if self.tokens.len() == 1 {
            owned[self.tokens[0].1] = 1 << 32;
        }
        owned.into_iter().map(|o| o as f64 / (1u64 << 32) as f64).collect()
    }
}

impl fmt::Debug for Ring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring").field("instances", &self.instances.len()).field("tokens", &self.tokens.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(id: &str, state: InstanceState, hb: i64) -> Instance {
        Instance { id: id.into(), addr: format!("{id}:9095"), state, tokens: tokens_for(id, 128), heartbeat_ms: hb }
    }

    fn ring(states: &[InstanceState]) -> Ring {
        let insts = states.iter().enumerate().map(|(i, s)| inst(&format!("ingester-{i}"), *s, 1000)).collect();
        Ring::new(insts, 60_000)
    }

    #[test]
    fn tokens_are_deterministic_distinct_and_spread() {
        assert_eq!(tokens_for("a", 128), tokens_for("a", 128));
        assert_ne!(tokens_for("a", 128), tokens_for("b", 128));
        let t = tokens_for("a", 128);
        assert_eq!(t.len(), 128);
        assert!(t.windows(2).all(|w| w[0] < w[1]));
        let r = ring(&[InstanceState::Active; 3]);
        let own = r.ownership();
        assert!((own.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(own.iter().all(|o| (0.2..0.47).contains(o)), "each of three owns about a third: {own:?}");
    }

    #[test]
    fn replication_set_has_distinct_instances_and_quorum() {
        let r = ring(&[InstanceState::Active; 5]);
        for key in [0u32, 1, u32::MAX, token_for("tenant", r#"{app="x"}"#)] {
            let set = r.replication_set(key, 3, Op::Write, 2000).unwrap();
            let mut ids: Vec<_> = set.instances.iter().map(|i| &i.id).collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), 3, "three distinct instances");
            assert_eq!((set.max_errors, set.quorum()), (1, 2));
        }
        // the first replica is the owner of the first token at or after the key
        let key = r.tokens[10].0;
        assert_eq!(r.replication_set(key, 1, Op::Write, 2000).unwrap().instances[0].id, r.instances[r.tokens[10].1].id);
        // rf larger than the ring: every instance once
        let small = ring(&[InstanceState::Active]);
        let set = small.replication_set(42, 3, Op::Write, 2000).unwrap();
        assert_eq!((set.instances.len(), set.max_errors), (1, 0));
    }

    #[test]
    fn unhealthy_instances_reduce_the_set_until_quorum_fails() {
        let mut insts: Vec<Instance> = (0..3).map(|i| inst(&format!("i{i}"), InstanceState::Active, 1000)).collect();
        // i1's heartbeat is stale past the timeout; i2 is leaving
        insts[1].heartbeat_ms = -100_000;
        insts[2].state = InstanceState::Leaving;
        let r = Ring::new(insts, 60_000);
        let err = r.replication_set(7, 3, Op::Write, 2000).unwrap_err().to_string();
        assert!(
            err.starts_with("at least 2 live replicas required, could only find 1 - unhealthy instances: "),
            "{err}"
        );
        assert!(err.contains("i1") && err.contains("i2") && !err.contains("i0"), "{err}");
        // reads also use LEAVING instances: quorum of 2 holds (i0 and i2)
        let read = r.replication_set(7, 3, Op::Read, 2000).unwrap();
        assert_eq!((read.instances.len(), read.max_errors), (2, 0));
        // a fresh heartbeat brings i1 back: suspicion alone never removes it
        let mut insts = r.instances().to_vec();
        insts[1].heartbeat_ms = 1990;
        let r = Ring::new(insts, 60_000);
        assert_eq!(r.replication_set(7, 3, Op::Write, 2000).unwrap().instances.len(), 2);
        assert_eq!(Ring::new(vec![], 1).replication_set(1, 1, Op::Read, 0).unwrap_err(), RingError::Empty);
    }

    #[test]
    fn reads_ask_every_healthy_instance_and_tolerate_rf_over_two() {
        let all = |s: InstanceState| {
            Ring::new(
                vec![
                    inst("a", InstanceState::Active, 1000),
                    inst("b", s, 1000),
                    inst("c", InstanceState::Active, 1000),
                ],
                5000,
            )
        };
        let r = all(InstanceState::Active);
        let set = r.read_set(3, 2000).unwrap();
        assert_eq!((set.instances.len(), set.max_errors), (3, 1));
        let r = all(InstanceState::Joining);
        let set = r.read_set(3, 2000).unwrap();
        assert_eq!((set.instances.len(), set.max_errors), (2, 0), "a joining ingester is left out and uses the slack");
        assert!(r.read_set(1, 2000).is_err(), "with one replica every ingester is needed");
        let stale = Ring::new(vec![inst("a", InstanceState::Active, 0), inst("b", InstanceState::Active, 0)], 5000);
        assert!(stale.read_set(3, 10_000).is_err());
    }
}
