//! API errors rendered as Loki does: plain text bodies with Loki's status codes.
//! Push errors end with a newline (Go's `http.Error`); query errors do not.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::distributor::PushError;
use crate::logql::ParseError;
use crate::querier::QueryError;

#[derive(Debug, thiserror::Error)]
#[error("{msg}")]
pub struct ApiError {
    pub status: StatusCode,
    pub msg: String,
    /// Append a newline, as Go's `http.Error` does on push and auth errors.
    pub newline: bool,
}

impl ApiError {
    pub fn new(status: u16, msg: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            msg: msg.into(),
            newline: false,
        }
    }

    pub fn bad_request(msg: impl Into<String>) -> ApiError {
        ApiError::new(400, msg)
    }

    pub fn with_newline(mut self) -> ApiError {
        self.newline = true;
        self
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let body = if self.newline { format!("{}\n", self.msg) } else { self.msg.clone() };
        HttpResponse::build(self.status)
            .content_type("text/plain; charset=utf-8")
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .body(body)
    }
}

impl From<PushError> for ApiError {
    fn from(e: PushError) -> ApiError {
        ApiError::new(e.status(), e.to_string()).with_newline()
    }
}

impl From<ParseError> for ApiError {
    fn from(e: ParseError) -> ApiError {
        ApiError::bad_request(e.to_string())
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> ApiError {
        let status = if matches!(e, QueryError::Invalid(_)) { 400 } else { 500 };
        ApiError::new(status, e.to_string())
    }
}
