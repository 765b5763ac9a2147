//! The legacy read endpoints under `/api/prom/` (deprecated in Loki, still served
//! for old clients): `query` answers stream queries in the v0 JSON shape
//! (`{"streams":[{"labels","entries":[{"ts","line"}]}],"stats"}`), takes a
//! `regexp` parameter that appends a `|~` filter and refuses metric queries;
//! `label` and `label/{name}/values` answer `{"values":[...]}`; `series` answers
//! as v1. Routed and run by `query`, which computes the v1 answer this reshapes
//! (a second pass over the answer, accepted on these rarely used paths).

use serde_json::{json, Value};

use super::error::ApiError;
use super::params::Params;
use crate::logql::{parse, Expr};
use crate::model::time::rfc3339_nano;
use crate::model::Labels;

/// The v1 query for a legacy `query` request: `regexp` becomes a `|~` filter.
/// Metric queries are refused, as Loki's legacy endpoint only returns streams.
pub(super) fn query_params(p: &Params) -> Result<Params, ApiError> {
    let mut query = p.query()?.to_string();
    if let Some(re) = p.get("regexp") {
        // a raw string needs no escaping unless the pattern holds a backtick
        let quoted = if re.contains('`') {
            format!("\"{}\"", re.replace('\\', "\\\\").replace('"', "\\\""))
        } else {
            format!("`{re}`")
        };
        query = format!("{query} |~ {quoted}");
    }
    if let Expr::Sample(_) = parse(&query)? {
        return Err(ApiError::bad_request("legacy endpoints only support streams result type"));
    }
    let mut out = p.clone();
    out.set("query", &query);
    Ok(out)
}

/// A v1 `streams` answer in the v0 shape.
pub(super) fn streams(v1: Value) -> Value {
    let data = &v1["data"];
    let streams: Vec<Value> = data["result"].as_array().map(|r| r.iter().map(stream).collect()).unwrap_or_default();
    let mut out = json!({"streams": streams, "stats": data["stats"].clone()});
    if let Some(w) = v1.get("warnings") {
        out["warnings"] = w.clone();
    }
    out
}

fn stream(s: &Value) -> Value {
    let pairs: Vec<(String, String)> = s["stream"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default();
    let entries: Vec<Value> = s["values"]
        .as_array()
        .map(|vs| {
            vs.iter()
                .map(|v| {
                    let ts = v[0].as_str().and_then(|t| t.parse::<i64>().ok()).unwrap_or_default();
                    json!({"ts": rfc3339_nano(ts), "line": v[1].clone()})
                })
                .collect()
        })
        .unwrap_or_default();
    json!({"labels": Labels::from_pairs_keep_empty(pairs).to_string(), "entries": entries})
}

/// A v1 labels or label-values answer as `{"values": [...]}`.
pub(super) fn values(v1: Value) -> Value {
    json!({"values": v1.get("data").cloned().unwrap_or_else(|| json!([]))})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexp_becomes_a_filter_and_metric_queries_are_refused() {
        let p = Params::parse("query=%7Bapp%3D%22a%22%7D&regexp=err%5Bo%5Dr", None).unwrap();
        assert_eq!(query_params(&p).unwrap().get("query"), Some(r#"{app="a"} |~ `err[o]r`"#));
        let p = Params::parse("query=%7Bapp%3D%22a%22%7D&regexp=a%60%22b", None).unwrap();
        assert_eq!(query_params(&p).unwrap().get("query"), Some(r#"{app="a"} |~ "a`\"b""#));
        let p = Params::parse("query=count_over_time(%7Bapp%3D%22a%22%7D%5B1m%5D)", None).unwrap();
        let e = query_params(&p).unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
        assert!(e.to_string().contains("legacy endpoints only support streams result type"), "{e}");
    }

    #[test]
    fn v1_answers_are_reshaped() {
        let v1 = json!({"status": "success", "data": {"resultType": "streams", "stats": {"x": 1},
            "result": [{"stream": {"b": "2", "a": "x\"y"}, "values": [["1500000000", "line"]]}]}});
        assert_eq!(
            streams(v1),
            json!({"streams": [{"labels": r#"{a="x\"y", b="2"}"#, "entries": [{"ts": "1970-01-01T00:00:01.5Z", "line": "line"}]}], "stats": {"x": 1}})
        );
        assert_eq!(values(json!({"status": "success", "data": ["a", "b"]})), json!({"values": ["a", "b"]}));
        assert_eq!(values(json!({"status": "success"})), json!({"values": []}));
    }
}
