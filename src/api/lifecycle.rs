//! Ingester lifecycle endpoints with Loki's semantics:
//! `/ingester/shutdown` (flush, then stop the process) and
//! `/ingester/prepare_shutdown` (a marker file: the next SIGTERM flushes
//! everything, as a scale-down needs).
//!
//! Mounted when the process runs an ingester; they reach the ingester through
//! `AppState` and stop the node through its shutdown signal.

use std::path::PathBuf;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::params::Params;
use super::state::AppState;
use crate::config::Config;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/ingester/shutdown", web::get().to(shutdown))
        .route("/ingester/shutdown", web::post().to(shutdown))
        .route("/ingester/prepare_shutdown", web::get().to(marker_state))
        .route("/ingester/prepare_shutdown", web::post().to(marker_set))
        .route("/ingester/prepare_shutdown", web::delete().to(marker_clear));
}

/// Where `/ingester/prepare_shutdown` keeps its marker.
pub fn marker_path(cfg: &Config) -> PathBuf {
    let dir = &cfg.ingester.shutdown_marker_path;
    let dir = if dir.is_empty() { cfg.data_dir() } else { PathBuf::from(dir) };
    dir.join("shutdown_marker")
}

fn text(status: StatusCode, body: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status).content_type("text/plain; charset=utf-8").body(body.into())
}

/// A boolean parameter; the error is the text of a 400 answer.
fn flag(p: &Params, name: &str, default: bool) -> Result<bool, String> {
    match p.get(name) {
        None | Some("") => Ok(default),
        Some(v) => v.parse::<bool>().map_err(|_| format!("invalid value {v:?} for parameter {name}\n")),
    }
}

/// Flushes (unless `flush=false`) and stops the process (unless `terminate=false`).
async fn shutdown(st: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let Ok(p) = Params::parse(req.query_string(), None) else {
        return text(StatusCode::BAD_REQUEST, "invalid query string\n");
    };
    let Some(ing) = &st.ingester else {
        return text(StatusCode::NOT_FOUND, "this process runs no ingester\n");
    };
    let (flush, terminate) = match (flag(&p, "flush", true), flag(&p, "terminate", true)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return text(StatusCode::BAD_REQUEST, e),
    };
    if flush && ing.send(crate::actors::ingester::FlushAll).await.is_err() {
        return text(StatusCode::SERVICE_UNAVAILABLE, "the ingester stopped before the flush finished\n");
    }
    if terminate {
        tracing::info!(flush, "shutdown requested through /ingester/shutdown");
        // flushed and leaving: the shutdown marker makes the stop flush what came since and leave the ring
        if flush {
            if let Err(e) = write_marker(&st) {
                tracing::warn!(error = %e, "cannot write the shutdown marker; the ingester keeps its ring place");
            }
        }
        st.shutdown.notify_one();
    }
    HttpResponse::NoContent().finish()
}

async fn marker_state(st: web::Data<AppState>) -> HttpResponse {
    let set = marker_path(&st.config).exists();
    text(StatusCode::OK, if set { "set" } else { "unset" })
}

fn write_marker(st: &AppState) -> std::io::Result<()> {
    let path = marker_path(&st.config);
    path.parent()
        .map(std::fs::create_dir_all)
        .unwrap_or(Ok(()))
        .and_then(|_| std::fs::write(&path, crate::model::time::now_ns().to_string()))
}

async fn marker_set(st: web::Data<AppState>) -> HttpResponse {
    let path = marker_path(&st.config);
    match write_marker(&st) {
        Ok(()) => {
            tracing::info!(path = %path.display(), "shutdown marker set: the next shutdown flushes everything");
            HttpResponse::NoContent().finish()
        }
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("writing the shutdown marker: {e}\n")),
    }
}

async fn marker_clear(st: web::Data<AppState>) -> HttpResponse {
    match std::fs::remove_file(marker_path(&st.config)) {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => HttpResponse::NoContent().finish(),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("removing the shutdown marker: {e}\n")),
    }
}
