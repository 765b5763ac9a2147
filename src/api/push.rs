//! Push endpoints: `POST /loki/api/v1/push` and the legacy `POST /api/prom/push`.

use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use super::error::ApiError;
use super::state::AppState;
use super::tenant::tenant_of;
use crate::distributor::{decode_push, PushBody};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/loki/api/v1/push", web::post().to(push_v1)).route("/api/prom/push", web::post().to(push_legacy));
}

async fn push_v1(req: HttpRequest, body: web::Payload, st: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    push(req, body, st, false).await
}

async fn push_legacy(req: HttpRequest, body: web::Payload, st: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    push(req, body, st, true).await
}

async fn push(
    req: HttpRequest,
    payload: web::Payload,
    st: web::Data<AppState>,
    legacy: bool,
) -> Result<HttpResponse, ApiError> {
    let tenant = tenant_of(&req, &st.config)?;
    let Some(d) = &st.distributor else {
        return Err(ApiError::new(404, "this process runs no distributor"));
    };
    let cfg = d.config();
    let body = read_body(&req, payload, cfg.max_recv_msg_size.0).await?;
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let streams = decode_push(
        PushBody { content_type: header("content-type"), content_encoding: header("content-encoding"), body, legacy },
        cfg.max_recv_msg_size.0,
        cfg.max_decompressed_size.0,
        d.label_cache(),
    )
    .map_err(|e| {
        tracing::debug!(tenant, error = %e, "push rejected");
        ApiError::from(e)
    })?;
    d.push(&tenant, streams).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Reads the body, refusing (413) more than `max` bytes without buffering them.
pub async fn read_body(req: &HttpRequest, mut payload: web::Payload, max: u64) -> Result<Bytes, ApiError> {
    let too_large = |n: u64| {
        ApiError::new(413, format!("request body too large: message size too large than max ({n} vs {max})"))
            .with_newline()
    };
    let declared =
        req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > max) {
        return Err(too_large(n));
    }
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(8192).min(max) as usize);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("reading request body: {e}")))?;
        if (buf.len() + chunk.len()) as u64 > max {
            return Err(too_large((buf.len() + chunk.len()) as u64));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}
