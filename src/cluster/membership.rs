//! `MembershipActor`: this node's membership in the cluster over chitchat
//! gossip (UDP). It publishes the node's own keys (roles, addresses, readiness,
//! ingester state) and, every second (every gossip round while it knows no
//! other member yet), turns the gossiped state into a
//! [`ClusterView`] that the status pages and the ring users (router, fan-out, readiness) read.
//!
//! Started by the node when `memberlist.join_members` is set; without it the
//! view holds this node alone, as Loki's in-memory ring does.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix::{Actor, ActorFutureExt, AsyncContext, Context, Handler, Message, ResponseFuture, WrapFuture};
use chitchat::transport::UdpTransport;
use chitchat::{spawn_chitchat, ChitchatConfig, ChitchatHandle, ChitchatId, FailureDetectorConfig};
use serde::Serialize;

use super::{addr, forget, keys};

/// One member as this node sees it.
#[derive(Clone, Debug, Serialize)]
pub struct Member {
    pub id: String,
    pub gossip_addr: String,
    pub generation: u64,
    /// Alive according to the failure detector.
    pub live: bool,
    /// Milliseconds since this node last saw the member's heartbeat advance.
    pub heartbeat_age_ms: u64,
    pub keys: BTreeMap<String, String>,
}

/// The cluster as of the last refresh (shared, read by HTTP handlers).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ClusterView {
    pub self_id: String,
    pub cluster_label: String,
    pub members: Vec<Member>,
    /// Bumped whenever `members` changes, so readers can cache what they derive (the ring).
    #[serde(skip)]
    pub version: u64,
}

pub type SharedView = Arc<RwLock<ClusterView>>;

#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    #[error("memberlist address {0:?}: {1}")]
    Address(String, String),
    #[error("starting gossip: {0}")]
    Gossip(String),
}

/// What this node announces.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub id: String,
    pub targets: Vec<String>,
    pub http_addr: String,
    pub grpc_addr: String,
    pub num_tokens: usize,
}

/// Set one of this node's keys (readiness, ingester state), or delete it with
/// `None` (the ring tokens when an ingester leaves).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetKey(pub &'static str, pub Option<String>);

/// Forget a member (`POST /ring`, `forget=<id>`, or autoforget; see
/// [`super::forget`]): its given generation, else its newest.
#[derive(Message)]
#[rtype(result = "forget::Outcome")]
pub struct Forget {
    pub id: String,
    pub generation: Option<u64>,
}

pub struct MembershipActor {
    handle: Option<ChitchatHandle>,
    view: SharedView,
    /// Heartbeat counter per member and when it last advanced.
    seen: BTreeMap<String, (u64, Instant)>,
    /// The gossip round (`memberlist.gossip_interval`, held between 50 ms and 1 s):
    /// how often the view is rebuilt while this node knows no other member, so that
    /// a node that just started learns the ring within a round or two instead of a
    /// second (meanwhile its distributor answers "empty ring"). Afterwards every
    /// second: a rebuild copies every member's keys, ~13 processes x 5 a second
    /// cost 1.5-2% of a core in the local cluster.
    round: Duration,
    /// When the view was last rebuilt.
    last: Instant,
    /// `ingester.autoforget_unhealthy` on an ingester: ring members not alive whose
    /// heartbeat is older than this (the ring's heartbeat timeout) are forgotten.
    autoforget: Option<Duration>,
}

/// How often a node that knows its cluster rebuilds the view.
const REFRESH: Duration = Duration::from_secs(1);

fn resolve(addr: &str, port: u16) -> Result<SocketAddr, MembershipError> {
    let with_port = addr::with_default_port(addr, port);
    with_port
        .to_socket_addrs()
        .map_err(|e| MembershipError::Address(with_port.clone(), e.to_string()))?
        .next()
        .ok_or_else(|| MembershipError::Address(with_port, "no address".into()))
}

/// Starts gossip for this node; the returned actor keeps the view fresh.
pub async fn start(
    cfg: &crate::config::Config,
    me: NodeInfo,
    view: SharedView,
) -> Result<actix::Addr<MembershipActor>, MembershipError> {
    let m = &cfg.memberlist;
    let bind = m.bind_addr.first().map(String::as_str).unwrap_or("0.0.0.0");
    let listen = resolve(bind, m.bind_port)?;
    // the configured address, the bind address, else the host `prepare` picked for the HTTP and gRPC addresses
    let picked =
        me.grpc_addr.rsplit_once(':').map_or("127.0.0.1", |(h, _)| h.trim_start_matches('[').trim_end_matches(']'));
    let adv_host = addr::pick_host([m.advertise_addr.as_str(), &listen.ip().to_string(), picked], || false, || None);
    let loopback = adv_host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if loopback && !addr::seeds_on_loopback(&m.join_members) {
        tracing::warn!(advertise = %adv_host, "gossip advertises a loopback address but its seeds are elsewhere: set memberlist.advertise_addr");
    }
    let advertise = resolve(&adv_host, if m.advertise_port != 0 { m.advertise_port } else { listen.port() })?;
    let generation =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let label = if m.cluster_label.is_empty() { "skald".to_string() } else { m.cluster_label.clone() };
    let config = ChitchatConfig {
        chitchat_id: ChitchatId::new(me.id.clone(), generation, advertise),
        cluster_id: label.clone(),
        gossip_interval: m.gossip_interval.0.max(Duration::from_millis(20)),
        listen_addr: listen,
        seed_nodes: m
            .join_members
            .iter()
            .map(|s| if s.contains(':') { s.clone() } else { format!("{s}:7946") })
            .collect(),
        failure_detector_config: FailureDetectorConfig {
            initial_interval: m.gossip_interval.0.max(Duration::from_millis(20)),
            dead_node_grace_period: Duration::from_secs(3600),
            ..FailureDetectorConfig::default()
        },
        marked_for_deletion_grace_period: Duration::from_secs(3600),
        catchup_callback: None,
        extra_liveness_predicate: None,
        // V0 sends the digest uncompressed: V1 compresses every digest with a fresh zstd
        // context, which doubled each idle process's gossip CPU (13 local processes: 8.9% ->
        // 5.1% of a core at the default 200 ms interval). A digest entry is ~60 bytes, so even
        // 100 nodes fit one datagram; both versions decode either format.
        protocol_version: chitchat::ProtocolVersion::V0,
    };
    let kv = keys::initial(&me);
    let handle = spawn_chitchat(config, kv, &UdpTransport).await.map_err(|e| MembershipError::Gossip(e.to_string()))?;
    tracing::info!(id = %me.id, listen = %listen, advertise = %advertise, seeds = ?m.join_members, "gossip membership started");
    if let Ok(mut v) = view.write() {
        v.self_id = me.id.clone();
        v.cluster_label = label;
    }
    let round = m.gossip_interval.0.clamp(Duration::from_millis(50), REFRESH);
    // (a zero heartbeat timeout means heartbeats never go stale, as in the ring)
    let timeout = cfg.ingester.lifecycler.ring.heartbeat_timeout.0;
    let autoforget = (cfg.ingester.autoforget_unhealthy && keys::runs_ingester(&me.targets) && !timeout.is_zero())
        .then_some(timeout);
    let actor =
        MembershipActor { handle: Some(handle), view, seen: BTreeMap::new(), round, last: Instant::now(), autoforget };
    Ok(actor.start())
}

/// The view of a node without gossip: itself only.
pub fn local_view(me: &NodeInfo) -> SharedView {
    let member = Member {
        id: me.id.clone(),
        gossip_addr: String::new(),
        generation: 0,
        live: true,
        heartbeat_age_ms: 0,
        keys: keys::initial(me).into_iter().collect(),
    };
    Arc::new(RwLock::new(ClusterView {
        self_id: me.id.clone(),
        cluster_label: String::new(),
        members: vec![member],
        version: 0,
    }))
}

impl MembershipActor {
    fn refresh(&mut self, ctx: &mut Context<Self>) {
        self.last = Instant::now();
        let Some(h) = &self.handle else { return };
        let chitchat = h.chitchat();
        let fut = async move {
            let mut c = chitchat.lock().await;
            forget::prune_own(&mut c);
            let live: std::collections::HashSet<_> = c.live_nodes().cloned().collect();
            let states = c
                .node_states()
                .iter()
                .map(|(id, st)| {
                    let kv: BTreeMap<String, String> =
                        st.key_values().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                    (id.clone(), live.contains(id), u64::from(st.heartbeat()), kv)
                })
                .collect::<Vec<_>>();
            (states, forget::tombstones(c.node_states()))
        };
        ctx.spawn(fut.into_actor(self).map(|(states, forgotten), act, ctx| {
            let now = Instant::now();
            // a restarted node comes back under a new generation: its newest one speaks for it
            let mut newest: BTreeMap<String, u64> = BTreeMap::new();
            for (id, ..) in &states {
                let g = newest.entry(id.node_id.to_string()).or_insert(id.generation_id);
                *g = (*g).max(id.generation_id);
            }
            let members: Vec<Member> = states
                .into_iter()
                .filter(|(id, ..)| newest.get(&id.node_id.to_string()) == Some(&id.generation_id))
                // a forgotten generation is left out unless it turns out alive after all
                .filter(|(id, live, ..)| *live || !forgotten.contains(&(id.node_id.to_string(), id.generation_id)))
                .map(|(id, live, hb, kv)| {
                    let node = id.node_id.to_string();
                    let e = act.seen.entry(node.clone()).or_insert((hb, now));
                    if hb != e.0 {
                        *e = (hb, now);
                    }
                    Member {
                        id: node,
                        gossip_addr: id.gossip_advertise_addr.to_string(),
                        generation: id.generation_id,
                        live,
                        heartbeat_age_ms: now.duration_since(e.1).as_millis() as u64,
                        keys: kv,
                    }
                })
                .collect();
            if let Some(after) = act.autoforget {
                // (members already forgotten are out of `members`: each is forgotten once)
                for m in members.iter().filter(|m| !m.live && m.keys.contains_key(keys::TOKENS)) {
                    if Duration::from_millis(m.heartbeat_age_ms) > after {
                        tracing::warn!(member = %m.id, age_ms = m.heartbeat_age_ms, "autoforget_unhealthy: forgetting an unhealthy ring member");
                        let asked = ctx.address().send(Forget { id: m.id.clone(), generation: Some(m.generation) });
                        // counted once done: the member may have turned out alive meanwhile
                        actix::spawn(async move {
                            if let Ok(forget::Outcome::Forgotten(_)) = asked.await {
                                crate::metrics::metrics().autoforgotten.inc();
                            }
                        });
                    }
                }
            }
            if let Ok(mut v) = act.view.write() {
                v.members = members;
                v.version += 1;
            }
        }));
    }
}

impl Actor for MembershipActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.refresh(ctx);
        ctx.run_interval(self.round, |a, ctx| {
            let alone = a.view.read().map(|v| v.members.len() <= 1).unwrap_or(true);
            if alone || a.last.elapsed() + a.round / 2 >= REFRESH {
                a.refresh(ctx);
            }
        });
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        if let Some(h) = self.handle.take() {
            let _ = h.initiate_shutdown();
        }
    }
}

impl Handler<Forget> for MembershipActor {
    type Result = ResponseFuture<forget::Outcome>;
    fn handle(&mut self, msg: Forget, _: &mut Context<Self>) -> Self::Result {
        let Some(h) = &self.handle else { return Box::pin(async { forget::Outcome::Unknown }) };
        let chitchat = h.chitchat();
        Box::pin(async move {
            let outcome = forget::forget(&mut *chitchat.lock().await, &msg.id, msg.generation);
            tracing::info!(member = %msg.id, ?outcome, "forgetting a ring member");
            outcome
        })
    }
}

impl Handler<SetKey> for MembershipActor {
    type Result = ();
    fn handle(&mut self, msg: SetKey, ctx: &mut Context<Self>) {
        let Some(h) = &self.handle else { return };
        let chitchat = h.chitchat();
        ctx.spawn(
            async move {
                let mut c = chitchat.lock().await;
                match msg.1 {
                    Some(v) => c.self_node_state().set(msg.0, v),
                    None => c.self_node_state().delete(msg.0),
                }
            }
            .into_actor(self),
        );
    }
}
