//! `IngesterPool`: the ingester ring as this process sees it (rebuilt only when
//! the gossip view changes) and one [`Peer`] per ring member: this process's
//! own `IngesterSupervisor`, or an `IngesterBridge` (gRPC) created on first use
//! and dropped when its member leaves the view.
//!
//! Bridges are per thread: each arbiter (an HTTP worker, say) that reaches a
//! remote ingester gets its own bridge, started on that arbiter with its own
//! connection, so a push is encoded, sent and answered on the thread that
//! decoded it, with no wake-up of another thread (docs/benchmarks.md). Threads
//! without an arbiter (tonic's own runtime, in a process without an ingester)
//! share one bridge per ingester on the system's arbiter (`home`).
//!
//! Shared by the distributor's `RingRouter` (pushes) and the querier's
//! `IngesterFanout` (reads and tails): one client per ingester and calling arbiter.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use actix::dev::ToEnvelope;
use actix::{Actor, Addr, Arbiter, ArbiterHandle, Handler, MailboxError, Message};

use super::ingester::IngesterBridge;
use crate::actors::ingester::IngesterSupervisor;
use crate::cluster::membership::SharedView;
use crate::cluster::pages::ring_of;
use crate::cluster::ring::{Instance, Ring};

/// One ingester, in this process or behind gRPC.
#[derive(Clone)]
pub enum Peer {
    Local(Addr<IngesterSupervisor>),
    Remote(Addr<IngesterBridge>),
}

type Reply<M> = Pin<Box<dyn Future<Output = Result<<M as Message>::Result, MailboxError>> + Send>>;

impl Peer {
    /// Sends a message the supervisor and the bridge both handle.
    pub fn send<M>(&self, m: M) -> Reply<M>
    where
        M: Message + Send + 'static,
        M::Result: Send,
        IngesterSupervisor: Handler<M>,
        IngesterBridge: Handler<M>,
        <IngesterSupervisor as Actor>::Context: ToEnvelope<IngesterSupervisor, M>,
        <IngesterBridge as Actor>::Context: ToEnvelope<IngesterBridge, M>,
    {
        match self {
            Peer::Local(a) => Box::pin(a.send(m)),
            Peer::Remote(a) => Box::pin(a.send(m)),
        }
    }
}

/// A bridge's calling arbiter thread (`None`: threads without an arbiter) and gRPC address.
type BridgeKey = (Option<ThreadId>, String);

pub struct IngesterPool {
    view: SharedView,
    self_id: String,
    local: Option<Addr<IngesterSupervisor>>,
    /// One bridge per calling arbiter and remote ingester.
    bridges: Mutex<HashMap<BridgeKey, Addr<IngesterBridge>>>,
    /// Where the shared bridges run: the system's arbiter.
    home: ArbiterHandle,
    heartbeat_timeout_ms: i64,
    /// `ingester_client.remote_timeout` for the bridges' pushes.
    push_timeout: std::time::Duration,
    /// The ring built from the view at `.0` (the view's version).
    ring: Mutex<(u64, Arc<Ring>)>,
}

impl IngesterPool {
    pub fn new(
        view: SharedView,
        self_id: String,
        local: Option<Addr<IngesterSupervisor>>,
        heartbeat_timeout_ms: i64,
        push_timeout: std::time::Duration,
        home: ArbiterHandle,
    ) -> Self {
        let ring = Mutex::new((u64::MAX, Arc::new(Ring::new(Vec::new(), heartbeat_timeout_ms))));
        let bridges = Mutex::new(HashMap::new());
        IngesterPool { view, self_id, local, bridges, home, heartbeat_timeout_ms, push_timeout, ring }
    }

    pub fn view(&self) -> &SharedView {
        &self.view
    }

    pub fn heartbeat_timeout_ms(&self) -> i64 {
        self.heartbeat_timeout_ms
    }

    /// The current ring; bridges of members gone from it are dropped.
    pub fn ring(&self) -> Arc<Ring> {
        let v = self.view.read().unwrap_or_else(|e| e.into_inner());
        let mut cached = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        if cached.0 != v.version {
            let ring = Arc::new(ring_of(&v, self.heartbeat_timeout_ms));
            let mut b = self.bridges.lock().unwrap_or_else(|e| e.into_inner());
            // a bridge whose arbiter stopped is gone too (a restarted HTTP worker)
            b.retain(|(_, addr), bridge| bridge.connected() && ring.instances().iter().any(|i| &i.addr == addr));
            *cached = (v.version, ring);
        }
        cached.1.clone()
    }

    /// How to reach one ring member.
    pub fn peer(&self, inst: &Instance) -> Peer {
        if let (true, Some(l)) = (inst.id == self.self_id, &self.local) {
            return Peer::Local(l.clone());
        }
        let here = Arbiter::try_current();
        let key = (here.as_ref().map(|_| std::thread::current().id()), inst.addr.clone());
        let mut b = self.bridges.lock().unwrap_or_else(|e| e.into_inner());
        let addr = b.entry(key).or_insert_with(|| {
            let bridge = IngesterBridge::new(inst.addr.clone(), self.push_timeout);
            // start_in_arbiter, not start: tonic's tasks run on an arbiter's thread but outside its LocalSet
            IngesterBridge::start_in_arbiter(&here.unwrap_or_else(|| self.home.clone()), move |_| bridge)
        });
        Peer::Remote(addr.clone())
    }
}
