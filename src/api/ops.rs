//! Operational endpoints served by every target: /ready, /metrics, /services,
//! /config, build info and format_query.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::params::Params;
use super::state::{AppState, ServiceState};
use crate::config::Config;
use crate::logql::parse;
use crate::metrics::metrics;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/ready", web::get().to(ready))
        .route("/metrics", web::get().to(prom_metrics))
        .route("/services", web::get().to(services))
        .route("/config", web::get().to(config))
        .route("/loki/api/v1/status/buildinfo", web::get().to(buildinfo))
        .route("/loki/api/v1/format_query", web::get().to(format_query))
        .route("/loki/api/v1/format_query", web::post().to(format_query))
        .route("/config/tenant/v1/limits", web::get().to(tenant_limits))
        .route("/loki/api/v1/drilldown-limits", web::get().to(drilldown_limits))
        .route("/flush", web::get().to(flush))
        .route("/flush", web::post().to(flush));
}

fn text(status: actix_web::http::StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status).content_type("text/plain; charset=utf-8").body(body)
}

async fn ready(st: web::Data<AppState>) -> HttpResponse {
    let snap = st.services.snapshot();
    if snap.iter().any(|(_, s)| matches!(s, ServiceState::Stopping | ServiceState::Terminated)) {
        return text(actix_web::http::StatusCode::SERVICE_UNAVAILABLE, "Application is stopping\n".into());
    }
    if let Some(why) = st.wal_replay.as_ref().and_then(|r| r.blocker()) {
        return text(actix_web::http::StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n"));
    }
    if let Some(why) = ring_blocker(&st) {
        return text(actix_web::http::StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n"));
    }
    if let Some(why) = st.frontend.as_ref().and_then(|f| f.not_ready()) {
        return text(actix_web::http::StatusCode::SERVICE_UNAVAILABLE, format!("Query Frontend not ready: {why}\n"));
    }
    let not_running: Vec<_> = snap.iter().filter(|(_, s)| *s != ServiceState::Running).collect();
    if not_running.is_empty() && !snap.is_empty() {
        return text(actix_web::http::StatusCode::OK, "ready\n".into());
    }
    let mut body = String::from("Some services are not Running:\n");
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for (_, s) in &not_running {
        match counts.iter_mut().find(|(n, _)| *n == s.as_str()) {
            Some(c) => c.1 += 1,
            None => counts.push((s.as_str(), 1)),
        }
    }
    for (n, c) in counts {
        body.push_str(&format!("{n}: {c}\n"));
    }
    text(actix_web::http::StatusCode::SERVICE_UNAVAILABLE, body)
}

/// With gossip on, a distributor or querier is not ready before the ring it
/// sends to holds an ACTIVE ingester (it would answer "empty ring").
fn ring_blocker(st: &AppState) -> Option<&'static str> {
    if st.config.memberlist.join_members.is_empty() || (st.distributor.is_none() && st.querier.is_none()) {
        return None;
    }
    let timeout = st.config.ingester.lifecycler.ring.heartbeat_timeout.0.as_millis() as i64;
    let view = st.cluster.read().ok()?;
    let ring = crate::cluster::pages::ring_of(&view, timeout);
    let now_ms = crate::model::time::now_ns() / 1_000_000;
    let active = ring.instances().iter().any(|i| ring.healthy(i, crate::cluster::ring::Op::Write, now_ms));
    (!active).then_some("waiting for an ACTIVE ingester in the ring")
}

/// Closes and flushes every in-memory chunk; answers 204 once the store has them.
async fn flush(st: web::Data<AppState>) -> HttpResponse {
    let Some(i) = &st.ingester else {
        return text(actix_web::http::StatusCode::NOT_FOUND, "this process runs no ingester\n".into());
    };
    match i.send(crate::actors::ingester::FlushAll).await {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(e) => text(actix_web::http::StatusCode::SERVICE_UNAVAILABLE, format!("flush failed: {e}\n")),
    }
}

/// The calling tenant's limits as YAML (its runtime overrides over `limits_config`).
async fn tenant_limits(req: HttpRequest, st: web::Data<AppState>) -> Result<HttpResponse, super::ApiError> {
    let tenant = super::tenant::tenant_of(&req, &st.config)?;
    let yaml = serde_yaml::to_string(&*st.limits.get(&tenant)).unwrap_or_default();
    Ok(HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(yaml))
}

/// What Grafana's Logs Drilldown asks for: the published subset of the tenant's limits.
async fn drilldown_limits(req: HttpRequest, st: web::Data<AppState>) -> Result<HttpResponse, super::ApiError> {
    let tenant = super::tenant::tenant_of(&req, &st.config)?;
    let l = st.limits.get(&tenant);
    Ok(HttpResponse::Ok().json(json!({
        "limits": {
            "discover_log_levels": l.discover_log_levels,
            "discover_service_name": l.discover_service_name,
            "max_entries_limit_per_query": l.max_entries_limit_per_query,
            "max_line_size_truncate": l.max_line_size_truncate,
            "max_query_length": l.max_query_length.to_string(),
            "max_query_lookback": l.max_query_lookback.to_string(),
            "max_query_series": l.max_query_series,
            "query_timeout": l.query_timeout.to_string(),
            "volume_enabled": l.volume_enabled,
        },
        "pattern_ingester_enabled": false,
        "version": crate::VERSION,
    })))
}

async fn prom_metrics() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(metrics().render())
}

async fn services(st: web::Data<AppState>) -> HttpResponse {
    let body: String = st.services.snapshot().iter().map(|(n, s)| format!("{n} => {}\n", s.as_str())).collect();
    text(actix_web::http::StatusCode::OK, body)
}

async fn config(req: HttpRequest, st: web::Data<AppState>) -> HttpResponse {
    let mode = Params::parse(req.query_string(), None).ok().and_then(|p| p.get("mode").map(str::to_string));
    let body = match mode.as_deref() {
        Some("defaults") => Config::default().to_yaml(),
        _ => st.config.to_yaml(),
    };
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(body)
}

async fn buildinfo() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "version": crate::VERSION,
        "revision": option_env!("SKALD_REVISION").unwrap_or(""),
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
    }))
}

async fn format_query(req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let p = match Params::parse(req.query_string(), Some(&body[..])) {
        Ok(p) => p,
        Err(e) => return HttpResponse::BadRequest().json(json!({"status": "invalid-query", "error": e.msg})),
    };
    match parse(p.get("query").unwrap_or("")) {
        Ok(e) => HttpResponse::Ok().json(json!({"status": "success", "data": e.to_string()})),
        Err(e) => HttpResponse::BadRequest().json(json!({"status": "invalid-query", "error": e.to_string()})),
    }
}
