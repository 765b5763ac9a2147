//! What Grafana's query builder and Logs Drilldown ask for beside the logs:
//! the labels worth offering as filters (`detected_labels`) and the fields found
//! in a sample of log lines (`detected_fields`, `detected_field/{name}/values`).
//!
//! Pure functions over label sets and query results; `api::detected` parses the
//! requests, runs the series lookup or the log query and renders what these
//! functions return. Loki's rules, in our words:
//! - a label is offered when it has values and they are not all identifiers
//!   (numbers or UUIDs; a label whose only values are `0`/`1` is a flag, kept),
//!   and always when it is one of `cluster`, `namespace`, `instance`, `pod`;
//! - a line's fields come from its structured metadata (no parser), the labels
//!   the query itself extracted, and a parse of the line as JSON or, failing
//!   that, as logfmt (the parser that worked is reported); error labels never count;
//! - a field's type is read off its values: int, float, boolean, duration,
//!   bytes, else string.

use std::collections::{BTreeMap, BTreeSet};

use crate::actors::ingester::StreamEntries;
use crate::logql::pipeline::json;
use crate::logql::pipeline::labels::{Category, LabelsBuilder, ERROR_DETAILS_LABEL, ERROR_LABEL};
use crate::logql::pipeline::logfmt::{self, LogfmtOpts};
use crate::model::Labels;

/// Labels offered whatever their values look like.
const STATIC_LABELS: [&str; 4] = ["cluster", "namespace", "instance", "pod"];
/// The label that keeps a pipeline error across `| drop` (never a field).
const PRESERVE_ERROR_LABEL: &str = "__preserve_error__";

/// A label offered as a filter, with its number of distinct values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectedLabel {
    pub label: String,
    pub cardinality: usize,
}

/// The labels of `series` worth offering, by name.
pub fn detected_labels(series: &[Labels]) -> Vec<DetectedLabel> {
    let mut values: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for s in series {
        for (k, v) in s.pairs() {
            values.entry(k.as_str()).or_default().insert(v.as_str());
        }
    }
    values
        .into_iter()
        .filter(|(k, vals)| !vals.is_empty() && (STATIC_LABELS.contains(k) || !only_identifiers(vals)))
        .map(|(k, vals)| DetectedLabel { label: k.to_string(), cardinality: vals.len() })
        .collect()
}

/// True when every value is a number or a UUID; two or fewer values that are
/// all `0` or `1` are a flag, not identifiers.
fn only_identifiers(vals: &BTreeSet<&str>) -> bool {
    if vals.len() <= 2 && vals.iter().all(|v| *v == "0" || *v == "1") {
        return false;
    }
    vals.iter().all(|v| go_float(v) || is_uuid(v))
}

/// What Go's `strconv.ParseFloat` accepts, near enough: decimal and exponent
/// forms, `inf`/`infinity`/`nan` in any case, a sign; a finite spelling that
/// overflows (`1e400`) is Go's range error, not a float. (Hex floats are not read.)
fn go_float(v: &str) -> bool {
    match v.parse::<f64>() {
        Ok(f) if f.is_infinite() => v.to_ascii_lowercase().contains("inf"),
        Ok(_) => true,
        Err(_) => false,
    }
}

/// A UUID as Go's `uuid.Parse` reads one: 8-4-4-4-12 hex digits, alone, as
/// `urn:uuid:...` or in braces; or 32 hex digits without dashes, alone.
fn is_uuid(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    let dashed = |s: &str| {
        let parts: Vec<&str> = s.split('-').collect();
        parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12]) && parts.iter().all(|p| hex(p))
    };
    if let Some(rest) = lower.strip_prefix("urn:uuid:") {
        return dashed(rest);
    }
    if let Some(inner) = lower.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        return dashed(inner);
    }
    (lower.len() == 32 && hex(&lower)) || dashed(&lower)
}

fn hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The type Loki reports for a field, read off one of its values.
pub fn field_type(v: &str) -> &'static str {
    if v.parse::<i64>().is_ok() {
        "int"
    } else if go_float(v) {
        "float"
    } else if ["1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"].contains(&v) {
        "boolean"
    } else if go_duration(v) {
        "duration"
    } else if crate::model::time::parse_bytes(v).is_ok() {
        "bytes"
    } else {
        "string"
    }
}

/// What Go's `time.ParseDuration` accepts: a sign, then numbers each with a
/// unit of ns, us, µs, ms, s, m or h (no spaces, days or weeks).
fn go_duration(v: &str) -> bool {
    let allowed = |c: char| c.is_ascii_digit() || "+-.nuµμmsh".contains(c);
    !v.is_empty() && v.chars().all(allowed) && crate::model::time::parse_duration_ns(v).is_ok()
}

/// One field found in the sampled lines.
#[derive(Debug, Clone, Default)]
pub struct DetectedField {
    pub kind: &'static str,
    pub values: BTreeSet<String>,
    /// `json` or `logfmt`; empty for structured metadata.
    pub parsers: Vec<&'static str>,
}

/// The fields of the lines in `streams`, by name; at most `limit` names (the
/// first found). With `only`, just that field is collected (its values asked for).
pub fn detected_fields(streams: &[StreamEntries], limit: usize, only: Option<&str>) -> BTreeMap<String, DetectedField> {
    let mut fields: BTreeMap<String, DetectedField> = BTreeMap::new();
    let mut add = |name: &str, value: &str, parser: Option<&'static str>| {
        if only.is_some_and(|o| o != name) || is_error_label(name) {
            return;
        }
        if !fields.contains_key(name) && fields.len() >= limit {
            return;
        }
        let f = fields.entry(name.to_string()).or_default();
        f.kind = field_type(value);
        if !f.values.contains(value) {
            f.values.insert(value.to_string());
        }
        if let Some(p) = parser.filter(|p| !f.parsers.contains(p)) {
            f.parsers.push(p);
        }
    };
    for s in streams {
        for e in &s.entries {
            // the group's metadata is what survived the query's pipeline (`| drop`, `| keep`)
            for (k, v) in &s.structured {
                add(k, v, None);
            }
            let line = String::from_utf8_lossy(&e.line);
            let (parsed, parser) = parse_line(&line, s.stream.pairs());
            for (k, v) in s.parsed.iter().map(|(k, v)| (k.as_str(), v.as_str())) {
                add(k, v, parser);
            }
            for (k, v) in &parsed {
                add(k, v, parser);
            }
        }
    }
    fields
}

fn is_error_label(name: &str) -> bool {
    name == ERROR_LABEL || name == ERROR_DETAILS_LABEL || name == PRESERVE_ERROR_LABEL
}

/// The line's fields as JSON or else logfmt, with the parser that read them.
/// Keys that name a stream label get the
/// `_extracted` suffix, as the query parsers give them.
fn parse_line<'l>(line: &'l str, stream: &'l [(String, String)]) -> (Vec<(String, String)>, Option<&'static str>) {
    let collect = |b: LabelsBuilder<'l>| -> Vec<(String, String)> {
        b.into_labels()
            .into_iter()
            .filter(|(_, _, c)| *c == Category::Parsed)
            .map(|(k, v, _)| (k.into_owned(), v.into_owned()))
            .collect()
    };
    if line.trim_start().starts_with('{') {
        let mut b = LabelsBuilder::new(stream, &[]);
        json::flatten(line, &mut b);
        if !b.has_err() {
            return (collect(b), Some("json"));
        }
    }
    // not strict, so it reads every line (malformed pairs skipped), and the line
    // counts as logfmt even when it yields nothing, as in Loki's detection
    let mut b = LabelsBuilder::new(stream, &[]);
    logfmt::parse(line, &LogfmtOpts { strict: false, keep_empty: false, params: Vec::new() }, &mut b);
    (collect(b), Some("logfmt"))
}

#[cfg(test)]
mod tests;
