//! Merging the Loki JSON answers of a split query's pieces (pure functions).
//!
//! Streams: entries of the same stream are joined, the query's `limit` is
//! applied across all streams in the query's direction, streams come out in
//! label order and entries in time order, as a querier answers. Matrix: series
//! are joined by their labels with values concatenated in time order; the
//! values that stream shards (`super::shard`) answered for one series at one
//! step are combined into one. Vector (a sharded instant query): one sample per
//! series, the shards' combined. Stats are summed, warnings joined.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::shard::Combine;
use crate::logql::metric::format::prom_float;
use crate::model::Labels;

/// How a split query's pieces are put back together.
#[derive(Clone, Copy, Debug)]
pub enum MergeKind {
    Streams {
        backward: bool,
        limit: usize,
    },
    /// `shards` answers per time piece (1: not sharded), combined by `combine`.
    Matrix {
        shards: usize,
        combine: Combine,
    },
    /// An instant query's `shards` answers, combined by `combine`.
    Vector {
        shards: usize,
        combine: Combine,
    },
}

impl MergeKind {
    /// A split metric query without shards.
    pub const MATRIX: MergeKind = MergeKind::Matrix { shards: 1, combine: Combine::Sum };

    /// Stream shards per time piece (1 when not sharded).
    pub fn shards(self) -> usize {
        match self {
            MergeKind::Matrix { shards, .. } | MergeKind::Vector { shards, .. } => shards.max(1),
            MergeKind::Streams { .. } => 1,
        }
    }
}

/// Entries (in the pieces' direction) of complete answers so far: lets a
/// limited query stop early.
pub fn entries(answer: &Value) -> usize {
    count_values(&answer["data"]["result"])
}

/// Entries of a `streams` result.
fn count_values(result: &Value) -> usize {
    result.as_array().map_or(0, |r| r.iter().map(|s| s["values"].as_array().map_or(0, Vec::len)).sum())
}

fn pairs(obj: &Value) -> Vec<(String, String)> {
    obj.as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default()
}

fn ts(v: &Value) -> i64 {
    v[0].as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Joins `parts` (in the order they were planned) into one answer.
pub fn merge(parts: &[Value], kind: MergeKind) -> Value {
    let result = match kind {
        MergeKind::Streams { backward, limit } => streams(parts, backward, limit),
        MergeKind::Matrix { shards, combine } => matrix(parts, (shards > 1).then_some(combine)),
        MergeKind::Vector { combine, .. } => vector(parts, combine),
    };
    let result_type = match kind {
        MergeKind::Streams { .. } => "streams",
        MergeKind::Matrix { .. } => "matrix",
        MergeKind::Vector { .. } => "vector",
    };
    let mut stats = stats(parts, kind.shards());
    if let (MergeKind::Vector { .. }, Some(s)) = (kind, stats.get_mut("summary").and_then(Value::as_object_mut)) {
        s.insert("splits".into(), json!(0)); // an instant query is not split by time
    }
    // what the answer holds: entries after the limit, values after the shards' were combined
    if let Some(s) = stats.get_mut("summary").and_then(Value::as_object_mut) {
        let returned = match kind {
            MergeKind::Vector { .. } => result.as_array().map_or(0, Vec::len),
            _ => count_values(&result),
        };
        s.insert("totalEntriesReturned".into(), json!(returned));
    }
    let mut data = json!({"resultType": result_type, "result": result, "stats": stats});
    if let Some(f) = parts.iter().find_map(|p| p["data"].get("encodingFlags")) {
        data["encodingFlags"] = f.clone();
    }
    let mut out = json!({"status": "success", "data": data});
    let mut warnings: Vec<Value> = Vec::new();
    for w in parts.iter().filter_map(|p| p["warnings"].as_array()).flatten() {
        if !warnings.contains(w) {
            warnings.push(w.clone());
        }
    }
    if !warnings.is_empty() {
        out["warnings"] = Value::Array(warnings);
    }
    out
}

fn streams(parts: &[Value], backward: bool, limit: usize) -> Value {
    // every entry with its stream, in the pieces' order
    let mut all: Vec<(i64, String, &Value, &Value)> = Vec::new();
    for s in parts.iter().filter_map(|p| p["data"]["result"].as_array()).flatten() {
        let key = Labels::from_pairs_keep_empty(pairs(&s["stream"])).to_string();
        for v in s["values"].as_array().into_iter().flatten() {
            all.push((ts(v), key.clone(), &s["stream"], v));
        }
    }
    if backward {
        all.sort_by_key(|e| std::cmp::Reverse(e.0));
    } else {
        all.sort_by_key(|e| e.0);
    }
    if limit > 0 {
        all.truncate(limit);
    }
    let mut out: BTreeMap<String, (&Value, Vec<Value>)> = BTreeMap::new();
    for (_, key, stream, v) in all {
        out.entry(key).or_insert_with(|| (stream, Vec::new())).1.push(v.clone());
    }
    Value::Array(out.into_values().map(|(stream, values)| json!({"stream": stream, "values": values})).collect())
}

/// Series being joined, by their label pairs: the `metric` object and values.
type Series<'a> = BTreeMap<Vec<(String, String)>, (&'a Value, Vec<Value>)>;

fn matrix(parts: &[Value], combine: Option<Combine>) -> Value {
    let mut out: Series = BTreeMap::new();
    for s in parts.iter().filter_map(|p| p["data"]["result"].as_array()).flatten() {
        let slot = out.entry(pairs(&s["metric"])).or_insert_with(|| (&s["metric"], Vec::new()));
        slot.1.extend(s["values"].as_array().into_iter().flatten().cloned());
    }
    let series = out.into_values().map(|(metric, values)| {
        let values = match combine {
            Some(c) => combine_steps(values, c),
            None => values,
        };
        json!({"metric": metric, "values": values})
    });
    Value::Array(series.collect())
}

/// An instant query's shards joined: one sample per series, the shards' combined.
fn vector(parts: &[Value], c: Combine) -> Value {
    let mut out: BTreeMap<Vec<(String, String)>, Value> = BTreeMap::new();
    for s in parts.iter().filter_map(|p| p["data"]["result"].as_array()).flatten() {
        match out.entry(pairs(&s["metric"])) {
            Entry::Vacant(e) => {
                e.insert(s.clone());
            }
            Entry::Occupied(mut e) => {
                if let Some(v) = e.get_mut().get_mut("value") {
                    combine_into(v, &s["value"], c);
                }
            }
        }
    }
    Value::Array(out.into_values().collect())
}

/// One value per step: the shards' values at the same step combined.
fn combine_steps(mut values: Vec<Value>, c: Combine) -> Vec<Value> {
    let step = |v: &Value| v[0].as_f64().unwrap_or(0.0);
    values.sort_by(|a, b| step(a).total_cmp(&step(b)));
    let mut out: Vec<Value> = Vec::with_capacity(values.len());
    for v in values {
        match out.last_mut() {
            Some(last) if step(last) == step(&v) => combine_into(last, &v, c),
            _ => out.push(v),
        }
    }
    out
}

/// `into`'s value (a `[time, "value"]` sample) combined with `other`'s, written back as Prometheus prints it.
fn combine_into(into: &mut Value, other: &Value, c: Combine) {
    let num = |v: &Value| v[1].as_str().and_then(|s| s.parse::<f64>().ok()).unwrap_or(f64::NAN);
    let x = c.apply(num(into), num(other));
    if let Some(v) = into.get_mut(1) {
        *v = Value::String(prom_float(x));
    }
}

/// Sums the pieces' stats field by field (flags are or-ed); `subqueries`
/// counts the pieces, `splits` the time pieces, `shards` the stream shards of
/// each (left as the pieces say, 0, when not sharded).
fn stats(parts: &[Value], shards: usize) -> Value {
    let mut acc = Value::Null;
    for p in parts {
        add(&mut acc, &p["data"]["stats"]);
    }
    if let Some(s) = acc.get_mut("summary").and_then(Value::as_object_mut) {
        s.insert("splits".into(), json!(parts.len().div_ceil(shards)));
        s.insert("subqueries".into(), json!(parts.len()));
        if shards > 1 {
            s.insert("shards".into(), json!(shards));
        }
    }
    acc
}

fn add(acc: &mut Value, v: &Value) {
    match (acc, v) {
        (a @ Value::Null, v) => *a = v.clone(),
        (Value::Object(a), Value::Object(b)) => {
            for (k, bv) in b {
                add(a.entry(k.clone()).or_insert(Value::Null), bv);
            }
        }
        (a @ Value::Number(_), Value::Number(b)) => {
            *a = match (a.as_u64(), b.as_u64()) {
                (Some(x), Some(y)) => json!(x.saturating_add(y)),
                _ => json!(a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0)),
            }
        }
        (Value::Bool(a), Value::Bool(b)) => *a |= *b,
        _ => {}
    }
}

/// A result stream of an answer (tests).
#[cfg(test)]
fn stream(labels: &str, values: &[(i64, &str)]) -> Value {
    let l = Labels::parse(labels).unwrap();
    let m: serde_json::Map<String, Value> = l.pairs().iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    json!({"stream": m, "values": values.iter().map(|(t, l)| json!([t.to_string(), l])).collect::<Vec<_>>()})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(result: Vec<Value>, lines: u64) -> Value {
        json!({"status": "success", "data": {"resultType": "streams", "result": result,
               "stats": {"summary": {"totalLinesProcessed": lines, "execTime": 0.5, "splits": 0}, "querier": {"flag": false}}}})
    }

    #[test]
    fn streams_are_joined_limited_and_ordered() {
        // backward: newest piece first
        let newer = answer(vec![stream(r#"{app="b"}"#, &[(40, "b40")]), stream(r#"{app="a"}"#, &[(35, "a35")])], 2);
        let older = answer(vec![stream(r#"{app="a"}"#, &[(20, "a20"), (10, "a10")])], 3);
        let m = merge(&[newer, older], MergeKind::Streams { backward: true, limit: 3 });
        let r = &m["data"]["result"];
        assert_eq!(r.as_array().unwrap().len(), 2);
        assert_eq!(r[0]["stream"]["app"], "a");
        assert_eq!(r[0]["values"], json!([["35", "a35"], ["20", "a20"]]));
        assert_eq!(r[1]["values"], json!([["40", "b40"]]));
        assert_eq!(m["data"]["stats"]["summary"]["totalLinesProcessed"], 5);
        assert_eq!(m["data"]["stats"]["summary"]["execTime"], 1.0);
        assert_eq!(m["data"]["stats"]["summary"]["splits"], 2);
        assert_eq!(entries(&m), 3);
        assert_eq!(m["data"]["stats"]["summary"]["totalEntriesReturned"], 3);
    }

    #[test]
    fn matrix_series_are_joined_in_time_order() {
        let part = |t: i64, v: &str| {
            json!({"status": "success", "data": {"resultType": "matrix", "result": [
                {"metric": {"app": "a"}, "values": [[t, v]]}], "stats": {}}, "warnings": ["w"]})
        };
        let extra = json!({"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {}, "values": [[3, "9"]]}], "stats": {}}, "warnings": ["w"]});
        let m = merge(&[part(1, "1"), part(2, "2"), extra], MergeKind::MATRIX);
        assert_eq!(m["data"]["result"][0]["metric"], json!({}));
        assert_eq!(m["data"]["result"][1]["values"], json!([[1, "1"], [2, "2"]]));
        assert_eq!(m["warnings"], json!(["w"]));
    }

    #[test]
    fn shards_values_at_one_step_are_combined() {
        let part = |values: Value| {
            json!({"status": "success", "data": {"resultType": "matrix", "result": [
                {"metric": {"app": "a"}, "values": values}], "stats": {"summary": {"totalLinesProcessed": 2}}}})
        };
        // two time pieces, two shards each
        let parts = [
            part(json!([[60, "1"], [120, "2.5"]])),
            part(json!([[120, "4"], [60.5, "3"]])),
            part(json!([[180, "7"]])),
            part(json!([])),
        ];
        let sum = merge(&parts, MergeKind::Matrix { shards: 2, combine: Combine::Sum });
        assert_eq!(sum["data"]["result"][0]["values"], json!([[60, "1"], [60.5, "3"], [120, "6.5"], [180, "7"]]));
        let summary = &sum["data"]["stats"]["summary"];
        assert_eq!((summary["splits"].as_u64(), summary["subqueries"].as_u64()), (Some(2), Some(4)));
        assert_eq!(summary["shards"], 2);
        assert_eq!(summary["totalEntriesReturned"], 4, "values after combining");
        let max = merge(&parts, MergeKind::Matrix { shards: 2, combine: Combine::Max });
        assert_eq!(max["data"]["result"][0]["values"][2], json!([120, "4"]));
        let min = merge(&parts, MergeKind::Matrix { shards: 2, combine: Combine::Min });
        assert_eq!(min["data"]["result"][0]["values"][2], json!([120, "2.5"]));
    }

    #[test]
    fn an_instant_querys_shards_are_combined_per_series() {
        let part = |result: Value| json!({"status": "success", "data": {"resultType": "vector", "result": result, "stats": {}}});
        let s = |app: &str, v: &str| json!({"metric": {"app": app}, "value": [60, v]});
        let parts = [part(json!([s("b", "2"), s("a", "1.5")])), part(json!([s("a", "3")])), part(json!([]))];
        let m = merge(&parts, MergeKind::Vector { shards: 3, combine: Combine::Sum });
        assert_eq!(m["data"]["resultType"], "vector");
        assert_eq!(m["data"]["result"], json!([s("a", "4.5"), s("b", "2")]));
        let m = merge(&parts, MergeKind::Vector { shards: 3, combine: Combine::Max });
        assert_eq!(m["data"]["result"][0], s("a", "3"));
        // a malformed answer is no panic
        merge(
            &[part(json!([s("a", "1"), {"metric": {"app": "a"}}]))],
            MergeKind::Vector { shards: 2, combine: Combine::Sum },
        );
    }
}
