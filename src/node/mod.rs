//! A running Skald node: starts the modules of its targets in dependency order,
//! serves HTTP (actix-web) and gRPC (tonic), and on SIGTERM/SIGINT stops
//! everything in reverse order.
//!
//! Called by `cli` with a loaded config; owns the actix `System`.

mod cluster;
mod frontend;
pub mod grpc;
pub mod http;
pub mod modules;

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr, Arbiter, ArbiterHandle};
use anyhow::Context as _;

use crate::actors::ingester::flush::FlushActor;
use crate::actors::ingester::wal::replay::ReplayStatus;
use crate::actors::ingester::wal::{driver, WalSettings};
use crate::actors::ingester::{IngesterSupervisor, ShutdownWal, StreamSettings, SupervisorCounters};
use crate::actors::Observe;
use crate::api::{AppState, ServiceState, ServiceStates};
use crate::config::{Config, Overrides};
use crate::distributor::memory::MemoryBudget;
use crate::distributor::Distributor;
use crate::querier::fanout::IngesterFanout;
use crate::querier::store::StoreReader;
use crate::querier::Querier;
use crate::rpc::index_gateway::IndexGatewayBridge;
use crate::rpc::pool::IngesterPool;
use crate::storage::object::ObjectClient;
pub use modules::{start_order, Module};

/// What module inits produce and later modules use.
#[derive(Default)]
struct Built {
    ingester: Option<Addr<IngesterSupervisor>>,
    arbiters: Vec<Arbiter>,
    /// The ingester's front arbiter: its supervisor, tenant actors and the gRPC server.
    front: Option<ArbiterHandle>,
    distributor: Option<Distributor>,
    querier: Option<Querier>,
    store: Option<ObjectClient>,
    wal: Option<WalSettings>,
    /// This node's id and cluster view (ring routing).
    view: Option<(String, crate::cluster::membership::SharedView)>,
    /// Per-tenant limits (runtime config over `limits_config`), shared by every module.
    limits: Option<Arc<Overrides>>,
    read: frontend::ReadPath,
    /// The ingester ring and clients, shared by distributor and querier (gossip on).
    pool: Option<Arc<IngesterPool>>,
    /// The index gateway's reader of the index files (served over gRPC).
    index_gateway: Option<Arc<StoreReader>>,
}

/// A reader of the object store with the configured chunk cache.
fn store_reader(cfg: &Config, store: ObjectClient) -> StoreReader {
    let cache = crate::storage::cache::ChunkCache::from_config(&cfg.chunk_store_config.chunk_cache_config);
    StoreReader::new(store, cfg.schema_config.index_prefix(), cache)
}

/// The ingester pool when gossip membership is on (built once, on first use).
fn pool(cfg: &Config, b: &mut Built) -> Option<Arc<IngesterPool>> {
    if cfg.memberlist.join_members.is_empty() {
        return None;
    }
    if b.pool.is_none() {
        let (id, view) = b.view.clone()?;
        let timeout = cfg.ingester.lifecycler.ring.heartbeat_timeout.0.as_millis() as i64;
        let push_timeout = cfg.ingester_client.remote_timeout.0;
        b.pool =
            Some(Arc::new(IngesterPool::new(view, id, b.ingester.clone(), timeout, push_timeout, Arbiter::current())));
    }
    b.pool.clone()
}

/// This process's name in object keys it writes (index segments): host and pid.
fn node_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
    let host = if host.is_empty() { "skald".to_string() } else { host };
    format!("{host}-{}", std::process::id())
}

/// Parses the configured target list.
pub fn targets(cfg: &Config) -> Result<Vec<Module>, String> {
    let names: Vec<&str> =
        cfg.target.iter().flat_map(|t| t.split(',')).map(str::trim).filter(|t| !t.is_empty()).collect();
    if names.is_empty() {
        return Ok(vec![Module::All]);
    }
    names.into_iter().map(Module::parse).collect()
}

fn init(m: Module, cfg: &Arc<Config>, b: &mut Built) -> anyhow::Result<()> {
    match m {
        Module::Server => {}
        Module::Overrides => {
            let o = Arc::new(Overrides::from_config(&cfg.limits_config, &cfg.runtime_config)?);
            o.spawn_reloader(cfg.runtime_config.period.0);
            b.limits = Some(o);
        }
        Module::Store => {
            let store = ObjectClient::from_config(cfg)?;
            tracing::info!(backend = store.kind(), "object store ready");
            b.store = Some(store);
        }
        Module::Ingester => {
            // one arbiter per core for the stream shards, one more (the front) for the supervisor, the
            // tenant actors and the gRPC server: a push from a remote distributor is decoded, logged and
            // routed on one thread, without a wake-up between gRPC worker, supervisor and tenant
            let n = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2) + 1;
            b.arbiters = (0..n).map(|_| Arbiter::new()).collect();
            let handles: Vec<_> = b.arbiters.iter().map(|a| a.handle()).collect();
            // the last arbiter hosts the tenant actors (IngesterSupervisor::new); flushers go with the shards
            let flushers = match &b.store {
                Some(store) => handles[..handles.len() - 1]
                    .iter()
                    .map(|h| {
                        let (s, p, node) = (store.clone(), cfg.schema_config.index_prefix(), node_name());
                        FlushActor::start_in_arbiter(h, move |_| FlushActor::new(s, p, node, Duration::from_secs(30)))
                            .recipient()
                    })
                    .collect(),
                None => Vec::new(),
            };
            let settings = StreamSettings::from_config(&cfg.ingester);
            let period = cfg.ingester.flush_check_period.0.max(Duration::from_millis(100));
            let mut sup = IngesterSupervisor::new(settings, period, handles.clone(), flushers).with_limits(limits(b));
            if let Some(w) = WalSettings::from_config(cfg) {
                std::fs::create_dir_all(&w.dir)
                    .with_context(|| format!("creating the WAL directory {}", w.dir.display()))?;
                tracing::info!(dir = %w.dir.display(), "write-ahead log enabled");
                sup = sup.with_wal(w.clone()).context("starting the WAL writer")?;
                b.wal = Some(w);
            }
            let front = handles.last().expect("two or more arbiters").clone();
            b.ingester = Some(IngesterSupervisor::start_in_arbiter(&front, move |_| sup));
            b.front = Some(front);
        }
        Module::Distributor => {
            let local = b.ingester.clone();
            let mut d = Distributor::new(local.clone().map(|i| i.recipient()), limits(b), cfg.distributor.clone());
            match (pool(cfg, b), &local) {
                (Some(pool), _) => {
                    let rf = cluster::replication_factor(cfg);
                    tracing::info!(replication_factor = rf, "distributor routes pushes over the ingester ring");
                    d = d.with_router(Arc::new(crate::distributor::router::RingRouter::new(pool, rf)));
                }
                (None, None) => anyhow::bail!(
                    "a distributor without an ingester in its process needs the ring: set memberlist.join_members"
                ),
                (None, Some(_)) => {}
            }
            if let Some(ing) = &local {
                d = d.with_memory_budget(memory_budget(ing, cfg.ingester.head_memory_budget.0));
            }
            b.distributor = Some(d);
        }
        Module::Querier => {
            let store = b.store.clone().map(|s| {
                let reader = store_reader(cfg, s);
                Arc::new(match cfg.storage_config.index_gateway_address() {
                    Some(addr) => {
                        tracing::info!(addr, "index lookups go to the index gateway");
                        reader.with_gateway(IndexGatewayBridge::new(addr.to_string()).start().recipient())
                    }
                    None => reader,
                })
            });
            b.querier = Some(match (pool(cfg, b), &b.ingester) {
                (Some(pool), _) => {
                    let rf = cluster::replication_factor(cfg);
                    tracing::info!(replication_factor = rf, "querier reads every ingester of the ring");
                    querier_over(IngesterFanout::new(pool, rf).start(), store, cfg)
                }
                (None, Some(ing)) => querier_over(ing.clone(), store, cfg),
                (None, None) => anyhow::bail!(
                    "a querier without an ingester in its process needs the ring: set memberlist.join_members"
                ),
            });
        }
        Module::IndexGateway => {
            let store = b.store.clone().context("the index gateway needs the object store")?;
            b.index_gateway = Some(Arc::new(store_reader(cfg, store)));
            tracing::info!("index gateway serves index lookups on the gRPC port");
        }
        Module::QueryScheduler => frontend::init_scheduler(cfg, &mut b.read),
        Module::QueryFrontend => {
            let querier = targets(cfg).is_ok_and(|t| start_order(&t).contains(&Module::Querier));
            frontend::init_frontend(cfg, querier, &mut b.read)?;
        }
        Module::MemberlistKv | Module::Ring | Module::Ruler | Module::Compactor => {
            tracing::debug!(module = m.name(), "module has no function in this version yet");
        }
        Module::All | Module::Read | Module::Write | Module::Backend => {}
    }
    Ok(())
}

/// A querier whose ingester reads go to `ing` (the local supervisor or the ring fan-out).
fn querier_over<A>(ing: Addr<A>, store: Option<Arc<crate::querier::store::StoreReader>>, cfg: &Config) -> Querier
where
    A: actix::Handler<crate::actors::ingester::LogQuery>
        + actix::Handler<crate::actors::ingester::SampleQuery>
        + actix::Handler<crate::actors::ingester::LabelQuery>
        + actix::Handler<crate::actors::ingester::SeriesQuery>
        + actix::Handler<crate::actors::ingester::VolumeQuery>
        + actix::Handler<crate::actors::ingester::Tail>
        + actix::Handler<crate::actors::ingester::TailersCount>,
    A::Context: actix::dev::ToEnvelope<A, crate::actors::ingester::LogQuery>
        + actix::dev::ToEnvelope<A, crate::actors::ingester::SampleQuery>
        + actix::dev::ToEnvelope<A, crate::actors::ingester::LabelQuery>
        + actix::dev::ToEnvelope<A, crate::actors::ingester::SeriesQuery>
        + actix::dev::ToEnvelope<A, crate::actors::ingester::VolumeQuery>
        + actix::dev::ToEnvelope<A, crate::actors::ingester::Tail>
        + actix::dev::ToEnvelope<A, crate::actors::ingester::TailersCount>,
{
    let q = Querier::new(
        ing.clone().recipient(),
        ing.clone().recipient(),
        ing.clone().recipient(),
        ing.clone().recipient(),
        ing.clone().recipient(),
        store,
        cfg.querier.clone(),
    );
    q.with_tail(crate::querier::tail::TailPorts { tail: ing.clone().recipient(), count: ing.recipient() })
}

/// The overrides module's limits (every target that uses limits depends on it).
fn limits(b: &Built) -> Arc<Overrides> {
    b.limits.clone().unwrap_or_else(|| Arc::new(Overrides::new(Default::default())))
}

/// The ingester memory budget, kept current by polling the ingester's counters.
fn memory_budget(ing: &Addr<IngesterSupervisor>, limit: u64) -> Arc<MemoryBudget> {
    let budget = Arc::new(MemoryBudget::new(limit));
    if limit > 0 {
        let (ing, b) = (ing.clone(), budget.clone());
        actix::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                match ing.send(Observe::<SupervisorCounters>::new()).await {
                    Ok(c) => b.observed(c.memory_bytes as u64),
                    Err(_) => return,
                }
            }
        });
    }
    budget
}

/// Runs a node until SIGTERM or SIGINT.
pub fn run(cfg: Config) -> anyhow::Result<()> {
    let cfg = Arc::new(cfg);
    let targets = targets(&cfg).map_err(anyhow::Error::msg)?;
    let order = start_order(&targets);
    let services = ServiceStates::default();
    for m in &order {
        services.set(m.name(), ServiceState::New);
    }
    tracing::info!(targets = ?targets.iter().map(|t| t.name()).collect::<Vec<_>>(), version = crate::VERSION, "starting Skald");
    let system = actix::System::new();
    system.block_on(async move {
        let names = targets.iter().map(|t| t.name().to_string()).collect();
        let (me, view) = cluster::prepare(&cfg, names);
        let mut built = Built { view: Some((me.id.clone(), view.clone())), ..Built::default() };
        for m in &order {
            services.set(m.name(), ServiceState::Starting);
            init(*m, &cfg, &mut built).with_context(|| format!("starting module {}", m.name()))?;
            if *m != Module::Server {
                services.set(m.name(), ServiceState::Running);
            }
        }
        let replay = built.wal.as_ref().map(|_| Arc::new(ReplayStatus::default()));
        let shutdown = Arc::new(tokio::sync::Notify::new());
        let cluster = Arc::new(cluster::start(&cfg, me, view).await.context("starting cluster membership")?);
        let state = Arc::new(AppState {
            config: cfg.clone(),
            limits: limits(&built),
            distributor: built.distributor.clone(),
            querier: built.querier.clone(),
            frontend: built.read.frontend.clone(),
            ingester: built.ingester.clone().map(|i| i.recipient()),
            services: services.clone(),
            wal_replay: replay.clone(),
            shutdown: shutdown.clone(),
            cluster: cluster.view.clone(),
            membership: cluster.forgetter(),
        });
        let server = http::start(state)?;
        let stop_replay = Arc::new(std::sync::atomic::AtomicBool::new(false));
        if let (Some(ing), Some(w), Some(status)) = (&built.ingester, &built.wal, &replay) {
            let f = driver::replay(ing.clone(), w.clone(), status.clone(), built.store.is_some(), stop_replay.clone());
            actix::spawn(f);
        }
        cluster.announce_ready(replay.clone());
        let (ing, gateway, queue) = (built.ingester.clone(), built.index_gateway.clone(), built.read.queue.clone());
        let grpc = grpc::start(&cfg, built.distributor.clone(), ing, gateway, queue, built.front.clone())?;
        let _workers = frontend::start_workers(&cfg, built.querier.is_some(), node_name());
        services.set(Module::Server.name(), ServiceState::Running);
        tracing::info!(http = cfg.server.http_listen_port, grpc = cfg.server.grpc_listen_port, "Skald is ready");

        let handle = server.handle();
        let server_task = actix::spawn(server);
        tokio::select! {
            _ = wait_for_signal() => {}
            _ = shutdown.notified() => {}
        }
        stop_replay.store(true, std::sync::atomic::Ordering::Relaxed);
        tracing::info!("shutting down");
        services.set_all(ServiceState::Stopping);
        crate::api::tail::close_all();
        handle.stop(true).await;
        let _ = server_task.await;
        cluster.set(crate::cluster::keys::READY, "false");
        if let Some(ing) = &built.ingester {
            cluster.set(crate::cluster::keys::INGESTER_STATE, "LEAVING");
            // flushed: nothing is left here, so the ring can forget this ingester now; otherwise
            // its WAL holds the data and it keeps its place (LEAVING, then stale) until it returns
            let flushed = stop_ingester(&cfg, ing, built.wal.is_some(), built.store.is_some()).await;
            cluster.say_goodbye(flushed, cfg.memberlist.gossip_interval.0).await;
        }
        grpc.stop().await;
        for m in order.iter().rev() {
            services.set(m.name(), ServiceState::Terminated);
            tracing::debug!(module = m.name(), "stopped");
        }
        for a in built.arbiters.drain(..) {
            a.stop();
            let _ = a.join();
        }
        actix::System::current().stop();
        tracing::info!("Skald stopped");
        Ok::<(), anyhow::Error>(())
    })
}

/// The ingester's part of shutdown: with a WAL, flush only when
/// `flush_on_shutdown` or the prepare_shutdown marker asks for it, then write a
/// last checkpoint; without one, flush everything (memory is all there is).
/// True when everything in memory reached the store.
async fn stop_ingester(cfg: &Config, ing: &Addr<IngesterSupervisor>, wal: bool, store: bool) -> bool {
    let marker = crate::api::lifecycle::marker_path(cfg);
    let marked = marker.exists();
    let flush = store && (!wal || cfg.ingester.wal.flush_on_shutdown || marked);
    let limit = cfg.server.graceful_shutdown_timeout.0.max(Duration::from_secs(1));
    tracing::info!(flush, wal, timeout = ?limit, "stopping the ingester");
    let done = if wal {
        tokio::time::timeout(limit, ing.send(ShutdownWal { flush })).await.is_ok()
    } else if flush {
        tokio::time::timeout(limit, ing.send(crate::actors::ingester::FlushAll)).await.is_ok()
    } else {
        true
    };
    match (done, wal) {
        (true, _) => tracing::info!("ingester stopped"),
        (false, true) => tracing::warn!("ingester shutdown did not finish in time; the WAL still holds the data"),
        (false, false) => tracing::error!("flush on shutdown did not finish in time; unflushed data is lost"),
    }
    if marked && done {
        let _ = std::fs::remove_file(&marker);
    }
    done && flush
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
