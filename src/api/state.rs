//! Shared state of the HTTP handlers: the config, the services this process runs,
//! and the module states behind `/ready` and `/services`.

use std::sync::{Arc, RwLock};

use crate::config::Config;
use crate::distributor::Distributor;
use crate::querier::Querier;

/// Lifecycle of one module, as Loki names the states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceState {
    New,
    Starting,
    Running,
    Stopping,
    Terminated,
    Failed,
}

impl ServiceState {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::New => "New",
            ServiceState::Starting => "Starting",
            ServiceState::Running => "Running",
            ServiceState::Stopping => "Stopping",
            ServiceState::Terminated => "Terminated",
            ServiceState::Failed => "Failed",
        }
    }
}

/// Module name -> state, in start order. Written by the module manager.
#[derive(Clone, Default)]
pub struct ServiceStates(Arc<RwLock<Vec<(&'static str, ServiceState)>>>);

impl ServiceStates {
    pub fn set(&self, name: &'static str, st: ServiceState) {
        let mut v = self.0.write().unwrap_or_else(|e| e.into_inner());
        match v.iter_mut().find(|(n, _)| *n == name) {
            Some(e) => e.1 = st,
            None => v.push((name, st)),
        }
    }

    pub fn snapshot(&self) -> Vec<(&'static str, ServiceState)> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_all(&self, st: ServiceState) {
        let mut v = self.0.write().unwrap_or_else(|e| e.into_inner());
        for e in v.iter_mut() {
            e.1 = st;
        }
    }
}

pub struct AppState {
    pub config: Arc<Config>,
    /// Per-tenant limits (runtime overrides over `limits_config`).
    pub limits: Arc<crate::config::Overrides>,
    pub distributor: Option<Distributor>,
    pub querier: Option<Querier>,
    /// The query-frontend: when set, query endpoints go through its queue.
    pub frontend: Option<crate::frontend::Frontend>,
    /// The local ingester's flush entry point (`/flush`), when this process runs one.
    pub ingester: Option<actix::Recipient<crate::actors::ingester::FlushAll>>,
    pub services: ServiceStates,
    /// WAL replay progress while the ingester replays (`/ready` waits for it).
    pub wal_replay: Option<Arc<crate::actors::ingester::wal::replay::ReplayStatus>>,
    /// Notified to stop the process (`/ingester/shutdown`).
    pub shutdown: Arc<tokio::sync::Notify>,
    /// The cluster as this node sees it (`/memberlist`, `/ring`).
    pub cluster: crate::cluster::membership::SharedView,
    /// Where `/ring`'s "Forget" goes (gossip membership; `None` without it).
    pub membership: Option<actix::Recipient<crate::cluster::membership::Forget>>,
}
