//! The HTTP server: actix-web with the API routes and Loki's request-duration
//! metric (`loki_request_duration_seconds{method,route,status_code,ws}`).

use std::sync::Arc;
use std::time::Instant;

use actix_web::dev::{Server, Service};
use actix_web::{web, App, HttpServer};
use anyhow::Context as _;

use crate::api::{self, AppState};
use crate::metrics::metrics;

/// Loki's route label: the path template with non-alphanumerics as `_`.
fn route_label(pattern: Option<String>) -> String {
    match pattern {
        None => "notfound".into(),
        Some(p) => {
            let s: String =
                p.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
            let s = s.trim_matches('_').to_string();
            if s.is_empty() {
                "root".into()
            } else {
                s
            }
        }
    }
}

pub fn start(state: Arc<AppState>) -> anyhow::Result<Server> {
    let cfg = state.config.clone();
    let addr = if cfg.server.http_listen_address.is_empty() { "0.0.0.0" } else { &cfg.server.http_listen_address };
    let data = web::Data::from(state);
    let server = HttpServer::new(move || {
        let st = data.clone();
        App::new()
            .app_data(data.clone())
            .wrap_fn(|req, srv| {
                let started = Instant::now();
                let method = req.method().to_string();
                let ws = req
                    .headers()
                    .get("upgrade")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
                let fut = srv.call(req);
                async move {
                    let res = fut.await?;
                    let route = route_label(res.request().match_pattern());
                    let status = res.status().as_u16().to_string();
                    metrics()
                        .request_duration
                        .with_label_values(&[method.as_str(), &route, &status, if ws { "true" } else { "false" }])
                        .observe(started.elapsed().as_secs_f64());
                    Ok(res)
                }
            })
            .configure(|c| api::configure(c, &st))
    })
    // no Nagle delay: live tail frames and small answers go out at once
    .on_connect(|conn, _| {
        if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
            let _ = tcp.set_nodelay(true);
        }
    })
    .workers(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2))
    .disable_signals()
    .shutdown_timeout(cfg.server.graceful_shutdown_timeout.0.as_secs().max(1))
    .bind((addr, cfg.server.http_listen_port))
    .with_context(|| format!("binding HTTP to {addr}:{}", cfg.server.http_listen_port))?
    .run();
    Ok(server)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_labels() {
        assert_eq!(route_label(Some("/loki/api/v1/push".into())), "loki_api_v1_push");
        assert_eq!(route_label(Some("/".into())), "root");
        assert_eq!(route_label(None), "notfound");
    }
}
