//! What every read handler starts from: the request's tenants, its parameters
//! (query string and POST form), this process's querier (a 404 where none runs)
//! and the tenants' limits; and how it answers: the work under the tenants'
//! `query_timeout`, rendered as JSON.
//!
//! Used by the query, volume and detected-fields handlers.

use std::future::Future;
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse};
use serde_json::Value;

use super::error::ApiError;
use super::params::Params;
use super::state::AppState;
use super::tenant::tenants_of;
use crate::config::Limits;
use crate::querier::Querier;

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
