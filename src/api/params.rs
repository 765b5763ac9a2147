//! Request parameters with Loki's parsing rules: GET query strings and POST
//! form bodies, timestamps, `since`, `limit`, `direction`, `step`.

use crate::actors::ingester::Direction;
use crate::model::time::{now_ns, parse_duration_ns, parse_timestamp};

use super::error::ApiError;

pub const DEFAULT_SINCE_NS: i64 = 3600 * 1_000_000_000;

/// Parameters from the query string and, for POST forms, the body.
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: &str, form_body: Option<&[u8]>) -> Result<Params, ApiError> {
        let mut v: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))?;
        if let Some(b) = form_body {
            let form: Vec<(String, String)> = serde_urlencoded::from_bytes(b)
                .map_err(|e| ApiError::bad_request(format!("invalid form body: {e}")))?;
            v.extend(form);
        }
        Ok(Params(v))
    }

    /// The query string plus, for an `application/x-www-form-urlencoded` POST, the body.
    pub fn from_request(req: &actix_web::HttpRequest, body: &[u8]) -> Result<Params, ApiError> {
        let is_form = req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        Params::parse(req.query_string(), is_form.then_some(body))
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    /// Replaces every value of `k` with `v`.
    pub fn set(&mut self, k: &str, v: &str) {
        self.0.retain(|(n, _)| n != k);
        self.0.push((k.to_string(), v.to_string()));
    }

    /// Every parameter in order (query string first, then the form body).
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    pub fn all(&self, k: &str) -> Vec<&str> {
        self.0.iter().filter(|(n, _)| n == k).map(|(_, v)| v.as_str()).collect()
    }

    fn time(&self, k: &str) -> Result<Option<i64>, ApiError> {
        self.get(k)
            .map(|v| {
                parse_timestamp(v).map_err(|e| ApiError::bad_request(format!("could not parse '{k}' parameter: {e}")))
            })
            .transpose()
    }

    /// `(start, end)` with Loki's defaults: end = now, start = end - since (1h).
    pub fn bounds(&self) -> Result<(i64, i64), ApiError> {
        let now = now_ns();
        let end = self.time("end")?.unwrap_or(now);
        let since = match self.get("since") {
            Some(s) => parse_duration_ns(s)
                .map_err(|e| ApiError::bad_request(format!("could not parse 'since' parameter: {e}")))?,
            None => DEFAULT_SINCE_NS,
        };
        let start = match self.time("start")? {
            Some(s) => s,
            // a future end still counts the default window back from now
            None => end.min(now).saturating_sub(since),
        };
        Ok((start, end))
    }

    /// [`Params::bounds`], refused with Loki's 400 when `end` is before `start`.
    pub fn ordered_bounds(&self) -> Result<(i64, i64), ApiError> {
        let (start, end) = self.bounds()?;
        if end < start {
            return Err(ApiError::bad_request("end timestamp must not be before or equal to start time"));
        }
        Ok((start, end))
    }

    /// `time` of an instant query (default now).
    pub fn instant_time(&self) -> Result<i64, ApiError> {
        Ok(self.time("time")?.unwrap_or_else(now_ns))
    }

    /// `limit` (default 100) that must be a positive integer.
    pub fn limit(&self) -> Result<usize, ApiError> {
        self.positive(&["limit"], 100)
    }

    /// The first of `names` given, as a positive integer, or `default`.
    pub fn positive(&self, names: &[&str], default: usize) -> Result<usize, ApiError> {
        let Some(v) = names.iter().find_map(|n| self.get(n)) else { return Ok(default) };
        let n: i64 =
            v.parse().map_err(|_| ApiError::bad_request(format!("strconv.Atoi: parsing {v:?}: invalid syntax")))?;
        if n <= 0 {
            return Err(ApiError::bad_request("limit must be a positive value"));
        }
        Ok(n as usize)
    }

    pub fn direction(&self) -> Result<Direction, ApiError> {
        match self.get("direction").map(str::to_ascii_lowercase).as_deref() {
            None | Some("backward") => Ok(Direction::Backward),
            Some("forward") => Ok(Direction::Forward),
            Some(_) => {
                Err(ApiError::bad_request(format!("invalid direction '{}'", self.get("direction").unwrap_or(""))))
            }
        }
    }

    pub fn query(&self) -> Result<&str, ApiError> {
        self.get("query").ok_or_else(|| ApiError::bad_request("parse error : syntax error: unexpected $end"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        let p =
            Params::parse("query=%7Ba%3D%22b%22%7D&start=1700000000&end=1700003600&limit=5&direction=FORWARD", None)
                .unwrap();
        assert_eq!(p.query().unwrap(), r#"{a="b"}"#);
        assert_eq!(p.bounds().unwrap(), (1_700_000_000_000_000_000, 1_700_003_600_000_000_000));
        assert_eq!(p.limit().unwrap(), 5);
        assert_eq!(p.direction().unwrap(), Direction::Forward);
        let p = Params::parse("limit=0&direction=sideways&start=yesterday", None).unwrap();
        assert_eq!(p.limit().unwrap_err().msg, "limit must be a positive value");
        assert_eq!(p.direction().unwrap_err().msg, "invalid direction 'sideways'");
        assert!(p.bounds().unwrap_err().msg.starts_with("could not parse 'start' parameter"));
        let p = Params::parse("since=5m&end=1700000000", None).unwrap();
        assert_eq!(p.bounds().unwrap().0, 1_700_000_000_000_000_000 - 300_000_000_000);
        let p = Params::parse("match[]=a&match[]=b", Some(b"match[]=c")).unwrap();
        assert_eq!(p.all("match[]"), vec!["a", "b", "c"]);
    }
}
