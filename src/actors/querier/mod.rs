//! The querier's side of the query queue: [`worker::QuerierWorker`] actors, one
//! per concurrency slot, each holding a `Process` stream to a query-scheduler or
//! query-frontend and running the jobs it receives against this node's own HTTP
//! API; [`manager::WorkerManager`] resolves the queue's address and keeps
//! workers connected to every address it resolves to.

pub mod manager;
pub mod worker;

/// Header a worker puts on its loopback requests so that a node running both a
/// query-frontend and a querier answers them with the querier.
pub const WORKER_HEADER: &str = "X-Skald-Querier-Worker";
