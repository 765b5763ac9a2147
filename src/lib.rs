//! Skald: a log aggregation system that speaks Grafana Loki's API.
//!
//! Map of the crate, lowest layer first (a module imports only from layers below):
//! - [`model`]: labels, entries, time and unit parsing.
//! - [`config`]: Loki-compatible YAML config, env overrides, key checking.
//! - [`logql`]: LogQL lexer, parser, log pipeline and metric evaluation (no actors, no HTTP).
//! - [`storage`]: the chunk format (blocks, compression); object storage comes next.
//! - [`tls`]: the rustls crypto provider for HTTPS clients.
//! - [`proto`]: generated protobuf/gRPC code for Loki's push protocol.
//! - [`metrics`]: Prometheus metrics with Loki's names.
//! - [`actors`]: the stateful parts as actix actors (ingester supervisor, tenants, stream shards).
//! - [`distributor`], [`querier`]: stateless services over actor `Recipient`s.
//! - [`api`]: actix-web handlers for Loki's HTTP API.
//! - [`node`]: targets as modules, start order, HTTP and gRPC servers, shutdown.
//! - [`loadgen`]: `skald loadgen`, the load generator used by benchmarks.
//! - [`cli`]: flags and the process entry point.

pub mod actors;
pub mod api;
pub mod canary;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod distributor;
pub mod frontend;
pub mod loadgen;
pub mod logql;
pub mod metrics;
pub mod model;
pub mod node;
pub mod proto;
pub mod querier;
pub mod rpc;
pub mod storage;
pub mod tls;

/// The version reported by `/loki/api/v1/status/buildinfo` and `-version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
