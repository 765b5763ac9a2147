//! A running Skald node: starts the modules of its targets in dependency order,
//! serves HTTP (actix-web) and gRPC (tonic), and on SIGTERM/SIGINT stops
//! everything in reverse order.
//!
//! Called by `cli` with a loaded config; owns the actix `System`.

pub mod grpc;
pub mod http;
pub mod modules;

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr, Arbiter};
use anyhow::Context as _;

use crate::actors::ingester::flush::FlushActor;
use crate::actors::ingester::{IngesterSupervisor, StreamSettings};
use crate::api::{AppState, ServiceState, ServiceStates};
use crate::config::Config;
use crate::distributor::Distributor;
use crate::querier::Querier;
use crate::storage::object::ObjectClient;
pub use modules::{start_order, Module};

/// What module inits produce and later modules use.
#[derive(Default)]
struct Built {
    ingester: Option<Addr<IngesterSupervisor>>,
    arbiters: Vec<Arbiter>,
    distributor: Option<Distributor>,
    querier: Option<Querier>,
    store: Option<ObjectClient>,
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
        Module::Server | Module::Overrides => {}
        Module::Store => {
            let store = ObjectClient::from_config(cfg)?;
            tracing::info!(backend = store.kind(), "object store ready");
            b.store = Some(store);
        }
        Module::Ingester => {
            let n = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
            b.arbiters = (0..n).map(|_| Arbiter::new()).collect();
            let handles: Vec<_> = b.arbiters.iter().map(|a| a.handle()).collect();
            let flushers = match &b.store {
                Some(store) => handles
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
            b.ingester = Some(IngesterSupervisor::new(settings, period, handles, flushers).start());
        }
        Module::Distributor => {
            let ing = b.ingester.as_ref().context(
                "the distributor needs an ingester in the same process in this version (run -target=distributor,ingester or all)",
            )?;
            b.distributor = Some(Distributor::new(
                ing.clone().recipient(),
                Arc::new(cfg.limits_config.clone()),
                cfg.distributor.clone(),
            ));
        }
        Module::Querier => {
            let ing = b.ingester.as_ref().context(
                "the querier needs an ingester in the same process in this version (run -target=querier,ingester or all)",
            )?;
            let store = b.store.clone().map(|s| {
                let cache = crate::storage::cache::ChunkCache::from_config(&cfg.chunk_store_config.chunk_cache_config);
                Arc::new(crate::querier::store::StoreReader::new(s, cfg.schema_config.index_prefix(), cache))
            });
            let q = Querier::new(
                ing.clone().recipient(),
                ing.clone().recipient(),
                ing.clone().recipient(),
                ing.clone().recipient(),
                ing.clone().recipient(),
                store,
                cfg.querier.clone(),
            )
            .with_tail(crate::querier::tail::TailPorts {
                tail: ing.clone().recipient(),
                count: ing.clone().recipient(),
            });
            b.querier = Some(q);
        }
        Module::MemberlistKv
        | Module::Ring
        | Module::QueryFrontend
        | Module::QueryScheduler
        | Module::IndexGateway
        | Module::Ruler
        | Module::Compactor => {
            tracing::debug!(module = m.name(), "module has no function in this version yet");
        }
        Module::All | Module::Read | Module::Write | Module::Backend => {}
    }
    Ok(())
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
        let mut built = Built::default();
        for m in &order {
            services.set(m.name(), ServiceState::Starting);
            init(*m, &cfg, &mut built).with_context(|| format!("starting module {}", m.name()))?;
            if *m != Module::Server {
                services.set(m.name(), ServiceState::Running);
            }
        }
        let state = Arc::new(AppState {
            config: cfg.clone(),
            distributor: built.distributor.clone(),
            querier: built.querier.clone(),
            ingester: built.ingester.clone().map(|i| i.recipient()),
            services: services.clone(),
        });
        let server = http::start(state)?;
        let grpc = grpc::start(&cfg, built.distributor.clone())?;
        services.set(Module::Server.name(), ServiceState::Running);
        tracing::info!(http = cfg.server.http_listen_port, grpc = cfg.server.grpc_listen_port, "Skald is ready");

        let handle = server.handle();
        let server_task = actix::spawn(server);
        wait_for_signal().await;
        tracing::info!("shutting down");
        services.set_all(ServiceState::Stopping);
        crate::api::tail::close_all();
        handle.stop(true).await;
        let _ = server_task.await;
        // No write-ahead log yet: whatever is only in memory is flushed before exit.
        if let (Some(ing), Some(_)) = (&built.ingester, &built.store) {
            let limit = cfg.server.graceful_shutdown_timeout.0.max(Duration::from_secs(1));
            tracing::info!(timeout = ?limit, "flushing in-memory chunks before exit");
            match tokio::time::timeout(limit, ing.send(crate::actors::ingester::FlushAll)).await {
                Ok(_) => tracing::info!("flushed"),
                Err(_) => tracing::error!("flush on shutdown did not finish in time; unflushed data is lost"),
            }
        }
        grpc.stop();
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
