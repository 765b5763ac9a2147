//! Log level discovery (`limits_config.discover_log_levels`): every accepted
//! entry gets a `detected_level` structured metadata pair, which Grafana's log
//! volume histogram and Logs Drilldown group and filter by.
//!
//! Called by `validate` for each entry that passed validation, when the
//! tenant's limits turn discovery on and allow structured metadata. Where the
//! level comes from, first match wins (Loki 3.x's rules, in our words):
//! 1. an entry that already has `detected_level` keeps it, normalised;
//! 2. a stream label named in `log_level_fields` (in that list's order), normalised;
//! 3. such a structured metadata pair, normalised;
//! 4. OpenTelemetry's `severity_number` metadata, by its ranges;
//! 5. the line: a string field of a JSON object line (`log_level_from_json_max_depth`
//!    objects deep) or a key of a logfmt line (any case; earlier names in the list
//!    win); a value that is no known level falls through to
//! 6. the first of trace, debug, fatal, critical, error, err, warning, warn, info
//!    found as a whole word in the line (case-insensitive), else `unknown`.
//!
//! Normalising maps the usual spellings (`WARNING`, `wrn`, `ERR`, `inf`, ...) to
//! debug, info, warn, error, fatal, critical or trace; other label and metadata
//! values are kept as they are.

use std::borrow::Cow;

use crate::config::Limits;
use crate::logql::pipeline::{json, logfmt};
use crate::model::{Entry, Labels};

pub const LEVEL_KEY: &str = "detected_level";
const OTLP_SEVERITY_NUMBER: &str = "severity_number";

/// Adds (or normalises) the entry's `detected_level`.
pub fn discover(e: &mut Entry, labels: &Labels, l: &Limits) {
    if let Some(slot) = e.metadata.iter_mut().find(|(k, _)| k == LEVEL_KEY) {
        if let Some(level) = known(&slot.1) {
            if slot.1 != level {
                slot.1 = level.to_string();
            }
        }
        return;
    }
    let level = level_of(e, labels, l);
    if !level.is_empty() {
        e.metadata.push((LEVEL_KEY.to_string(), level.into_owned()));
    }
}

/// `log_level_fields`, or Loki's list when it is empty.
fn level_fields(l: &Limits) -> &[String] {
    static DEFAULT: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    if l.log_level_fields.is_empty() {
        DEFAULT.get_or_init(|| Limits::default().log_level_fields)
    } else {
        &l.log_level_fields
    }
}

fn level_of<'e>(e: &'e Entry, labels: &'e Labels, l: &Limits) -> Cow<'e, str> {
    let fields = level_fields(l);
    let first_named = |pairs: &'e [(String, String)]| {
        fields.iter().find_map(|f| pairs.iter().find(|(k, _)| k == f).map(|(_, v)| v.as_str()))
    };
    if let Some(v) = first_named(labels.pairs()).or_else(|| first_named(&e.metadata)) {
        return known(v).map_or(Cow::Borrowed(v), Cow::Borrowed);
    }
    if let Some((_, n)) = e.metadata.iter().find(|(k, v)| k == OTLP_SEVERITY_NUMBER && !v.is_empty()) {
        return Cow::Borrowed(otlp_severity(n));
    }
    // decoding made the line valid UTF-8
    Cow::Borrowed(from_line(e.line_str(), l))
}

/// The normalised name of a level spelling, if it is one.
fn known(v: &str) -> Option<&'static str> {
    const SPELLINGS: [(&str, &str); 14] = [
        ("trace", "trace"),
        ("trc", "trace"),
        ("debug", "debug"),
        ("dbg", "debug"),
        ("info", "info"),
        ("inf", "info"),
        ("information", "info"),
        ("warn", "warn"),
        ("wrn", "warn"),
        ("warning", "warn"),
        ("error", "error"),
        ("err", "error"),
        ("critical", "critical"),
        ("fatal", "fatal"),
    ];
    SPELLINGS.iter().find(|(s, _)| s.eq_ignore_ascii_case(v)).map(|(_, n)| *n)
}

/// OpenTelemetry's severity number ranges (1–4 trace, 5–8 debug, ... 21–24 fatal).
fn otlp_severity(n: &str) -> &'static str {
    match n.parse::<i64>() {
        Err(_) => "info",
        Ok(0) => "unknown",
        Ok(n) if n <= 4 => "trace",
        Ok(n) if n <= 8 => "debug",
        Ok(n) if n <= 12 => "info",
        Ok(n) if n <= 16 => "warn",
        Ok(n) if n <= 20 => "error",
        Ok(n) if n <= 24 => "fatal",
        Ok(_) => "unknown",
    }
}

fn from_line(line: &str, l: &Limits) -> &'static str {
    let fields = level_fields(l);
    let value: Option<Cow<'_, str>> = if is_json_object(line) {
        let wanted = |k: &str| fields.iter().any(|f| f == k);
        json::find_string_field(line, &wanted, l.log_level_from_json_max_depth)
    } else if line.contains('=') {
        logfmt_level(line, fields)
    } else {
        return from_words(line);
    };
    value.as_deref().and_then(known).unwrap_or_else(|| from_words(line))
}

fn is_json_object(line: &str) -> bool {
    let t = line.trim();
    t.starts_with('{') && t.ends_with('}')
}

/// The value of the logfmt key matching the earliest of `fields` (any case).
fn logfmt_level<'l>(line: &'l str, fields: &[String]) -> Option<Cow<'l, str>> {
    let mut best: Option<(usize, Cow<'l, str>)> = None;
    for (k, v) in logfmt::pairs(line) {
        let rank = best.as_ref().map_or(fields.len(), |(r, _)| *r);
        if let Some(x) = fields[..rank].iter().position(|f| f.eq_ignore_ascii_case(k)) {
            best = Some((x, v.unwrap_or(Cow::Borrowed(""))));
            if x == 0 {
                break;
            }
        }
    }
    best.map(|(_, v)| v)
}

/// The first level word found standing alone in the line (only its first
/// occurrence is looked at, as Loki does), else `unknown`. The line is
/// lowercased (ASCII) into a buffer kept per thread.
fn from_words(line: &str) -> &'static str {
    use memchr::memmem::Finder;
    const WORDS: [(&str, &str); 9] = [
        ("trace", "trace"),
        ("debug", "debug"),
        ("fatal", "fatal"),
        ("critical", "critical"),
        ("error", "error"),
        ("err", "error"),
        ("warning", "warn"),
        ("warn", "warn"),
        ("info", "info"),
    ];
    static FINDERS: std::sync::OnceLock<Vec<Finder<'static>>> = std::sync::OnceLock::new();
    thread_local! {
        static LOWER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let finders = FINDERS.get_or_init(|| WORDS.iter().map(|(w, _)| Finder::new(w.as_bytes())).collect());
    LOWER.with_borrow_mut(|lower| {
        lower.clear();
        lower.extend(line.bytes().map(|b| b.to_ascii_lowercase()));
        // a neighbour that is a letter, a digit or `_` joins the word (bytes read as Latin-1, as Go does)
        let joins = |i: Option<usize>| {
            i.and_then(|i| lower.get(i))
                .is_some_and(|b| *b == b'_' || b.is_ascii_digit() || char::from(*b).is_alphabetic())
        };
        for (f, (word, level)) in finders.iter().zip(WORDS) {
            if let Some(at) = f.find(lower) {
                if !joins(at.checked_sub(1)) && !joins(Some(at + word.len())) {
                    return level;
                }
            }
        }
        "unknown"
    })
}

#[cfg(test)]
mod tests;
