//! What every read handler starts from: the request's tenants, its parameters
//! (query string and POST form), this process's querier (a 404 where none runs)
//! and the tenants' limits; and how it answers: the work under the tenants'
//! `query_timeout`, rendered as JSON. Also the GET-and-POST routing and the
//! range check they share.
//!
//! Used by the query, volume and detected-fields handlers.

use std::future::Future;
use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::error::ApiError;
use super::params::Params;
use super::state::AppState;
use super::tenant::tenants_of;
use crate::config::Limits;
use crate::querier::Querier;

/// Mounts `handler` for GET and POST on each path, with the path's `kind`.
pub fn get_and_post<K, F, Fut>(cfg: &mut web::ServiceConfig, routes: &[(&str, K)], handler: F)
where
    K: Copy + 'static,
    F: Fn(K, HttpRequest, web::Bytes, web::Data<AppState>) -> Fut + Copy + 'static,
    Fut: Future<Output = Result<HttpResponse, ApiError>> + 'static,
{
    for &(path, kind) in routes {
        let h = move |req: HttpRequest, body: web::Bytes, st: web::Data<AppState>| handler(kind, req, body, st);
        cfg.route(path, web::get().to(h)).route(path, web::post().to(h));
    }
}

/// `(start, end)` from the parameters, ordered, with the start moved up to the
/// tenants' `max_query_lookback`.
pub fn lookback_range(p: &Params, limits: &Limits) -> Result<(i64, i64), ApiError> {
    let (start, end) = p.ordered_bounds()?;
    Ok((super::limits::clamp_lookback(limits, start, end)?, end))
}

pub struct ReadRequest<'a> {
    pub tenants: Vec<String>,
    pub params: Params,
    pub querier: &'a Querier,
    pub limits: Arc<Limits>,
}

impl<'a> ReadRequest<'a> {
    pub fn new(req: &HttpRequest, body: &[u8], st: &'a AppState) -> Result<ReadRequest<'a>, ApiError> {
        let tenants = tenants_of(req, &st.config)?;
        let params = Params::from_request(req, body)?;
        let querier = st.querier.as_ref().ok_or_else(|| ApiError::new(404, "this process runs no querier"))?;
        let limits = super::limits::for_tenants(&st.limits, &tenants);
        Ok(ReadRequest { tenants, params, querier, limits })
    }

    /// Runs `work` under the tenants' query timeout and renders its answer.
    pub async fn answer(&self, work: impl Future<Output = Result<Value, ApiError>>) -> Result<HttpResponse, ApiError> {
        let value = super::limits::with_timeout(&self.limits, &self.tenants.join("|"), work).await?;
        Ok(HttpResponse::Ok().content_type("application/json; charset=UTF-8").body(value.to_string()))
    }
}
