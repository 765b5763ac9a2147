//! The HTTP API (actix-web): Loki's push, query, label and series endpoints plus
//! the operational ones. Handlers parse, call a service, render; no business logic.
//!
//! `node` builds an [`AppState`] holding whichever services the running targets
//! provide and mounts [`configure`]; endpoints of absent services are not routed.

pub mod detected;
pub mod error;
pub mod frontend;
pub mod frontend_shard;
pub mod frontend_tail;
pub mod legacy;
pub mod lifecycle;
pub mod limits;
pub mod metric;
pub mod ops;
pub mod params;
pub mod push;
pub mod query;
pub mod read;
pub mod render;
pub mod state;
pub mod tail;
pub mod tenant;
pub mod volume;

use actix_web::web;

pub use error::ApiError;
pub use state::{AppState, ServiceState, ServiceStates};

/// Mounts every route the state's services support.
pub fn configure(cfg: &mut web::ServiceConfig, state: &AppState) {
    ops::configure(cfg);
    crate::cluster::pages::configure(cfg);
    if state.ingester.is_some() {
        lifecycle::configure(cfg);
    }
    if state.distributor.is_some() {
        push::configure(cfg);
    }
    if state.frontend.is_some() {
        frontend::configure(cfg, state);
    }
    if state.querier.is_some() {
        query::configure(cfg);
        tail::configure(cfg);
        volume::configure(cfg);
        detected::configure(cfg);
    }
}
