//! The tenant of a request: `X-Scope-OrgID` when `auth_enabled`, else
//! `no_auth_tenant`. Tenant ids are checked with Loki's rules so a tenant can
//! never name a path outside its own storage prefix.

use actix_web::HttpRequest;

use super::error::ApiError;
use crate::config::Config;

pub const ORG_ID_HEADER: &str = "X-Scope-OrgID";
const MAX_TENANT_LEN: usize = 150;

pub fn tenant_of(req: &HttpRequest, cfg: &Config) -> Result<String, ApiError> {
    if !cfg.auth_enabled {
        return Ok(cfg.no_auth_tenant.clone());
    }
    let id = org_id(req)?;
    if id.contains('|') {
        return Err(ApiError::bad_request("multiple org IDs present").with_newline());
    }
    validate_tenant_id(id).map_err(|m| ApiError::bad_request(m).with_newline())?;
    Ok(id.to_string())
}

/// The tenants of a read: `a|b|c` (sorted, each checked) when
/// `querier.multi_tenant_queries_enabled`, else the one tenant of [`tenant_of`].
pub fn tenants_of(req: &HttpRequest, cfg: &Config) -> Result<Vec<String>, ApiError> {
    if !cfg.auth_enabled || !cfg.querier.multi_tenant_queries_enabled {
        return tenant_of(req, cfg).map(|t| vec![t]);
    }
    let mut ids: Vec<String> = org_id(req)?.split('|').map(|t| t.trim().to_string()).collect();
    for id in &ids {
        validate_tenant_id(id).map_err(|m| ApiError::bad_request(m).with_newline())?;
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

fn org_id(req: &HttpRequest) -> Result<&str, ApiError> {
    req.headers()
        .get(ORG_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::new(401, "no org id").with_newline())
}

/// Loki's tenant id rules: 1-150 characters from `a-zA-Z0-9!-_.*'()`, not `.` or `..`.
pub fn validate_tenant_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("tenant ID is empty".into());
    }
    if id.len() > MAX_TENANT_LEN {
        return Err(format!("tenant ID is too long: max {MAX_TENANT_LEN} characters"));
    }
    if id == "." || id == ".." {
        return Err("tenant ID is '.' or '..'".into());
    }
    if let Some(c) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || "!-_.*'()".contains(*c))) {
        return Err(format!("tenant ID '{id}' contains unsupported character '{c}'"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_rules() {
        assert!(validate_tenant_id("team-a_1.prod").is_ok());
        assert!(validate_tenant_id("..").is_err());
        assert!(validate_tenant_id("a/b").is_err());
        assert!(validate_tenant_id(&"x".repeat(151)).is_err());
    }
}
