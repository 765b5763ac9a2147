//! The template function library: Go builtins (`eq`, `printf`, `len`...),
//! the sprig subset Loki exposes and Loki's own functions.
//!
//! `parse` asks [`exists`] while parsing; `exec` calls [`call`].

use super::value::Value;
use super::{Context, TemplateError};
use crate::model::time::{parse_bytes, parse_duration_ns};

use super::gofmt::{b64dec, b64enc, printf, query_escape, query_unescape};
pub use super::gotime::go_time_string;
use super::gotime::{format_time, parse_time};

const NAMES: &[&str] = &[
    "and",
    "or",
    "not",
    "len",
    "index",
    "print",
    "printf",
    "println",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "urlquery",
    "__line__",
    "__timestamp__",
    "ToLower",
    "ToUpper",
    "Replace",
    "Trim",
    "TrimLeft",
    "TrimRight",
    "TrimPrefix",
    "TrimSuffix",
    "TrimSpace",
    "regexReplaceAll",
    "regexReplaceAllLiteral",
    "count",
    "urldecode",
    "urlencode",
    "bytes",
    "duration",
    "duration_seconds",
    "unixEpoch",
    "unixEpochMillis",
    "unixEpochNanos",
    "toDateInZone",
    "unixToTime",
    "alignLeft",
    "alignRight",
    "b64dec",
    "b64enc",
    "lower",
    "upper",
    "title",
    "trunc",
    "substr",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "indent",
    "nindent",
    "replace",
    "repeat",
    "trim",
    "trimAll",
    "trimSuffix",
    "trimPrefix",
    "int",
    "float64",
    "add",
    "sub",
    "mul",
    "div",
    "mod",
    "addf",
    "subf",
    "mulf",
    "divf",
    "max",
    "min",
    "maxf",
    "minf",
    "ceil",
    "floor",
    "round",
    "date",
    "toDate",
    "now",
    "default",
];

pub fn exists(name: &str) -> bool {
    NAMES.contains(&name)
}

pub(super) fn err(func: &str, msg: impl Into<String>) -> TemplateError {
    TemplateError::Call { func: func.to_string(), msg: msg.into() }
}

pub(super) struct Args<'a> {
    pub name: &'a str,
    pub v: Vec<Value>,
}

impl Args<'_> {
    pub(super) fn need(&self, n: usize) -> Result<(), TemplateError> {
        if self.v.len() < n {
            return Err(TemplateError::Exec(format!(
                "wrong number of args for {}: want {n} got {}",
                self.name,
                self.v.len()
            )));
        }
        Ok(())
    }
    pub(super) fn s(&self, i: usize) -> Result<String, TemplateError> {
        self.need(i + 1)?;
        Ok(self.v[i].to_text())
    }
    pub(super) fn int(&self, i: usize) -> Result<i64, TemplateError> {
        self.need(i + 1)?;
        self.v[i].to_int().map_err(|e| err(self.name, e))
    }
    pub(super) fn lenient_i(&self, i: usize) -> Result<i64, TemplateError> {
        self.need(i + 1)?;
        Ok(self.v[i].to_int().unwrap_or(0))
    }
    pub(super) fn lenient_f(&self, i: usize) -> Result<f64, TemplateError> {
        self.need(i + 1)?;
        Ok(self.v[i].to_float_lenient())
    }
    pub(super) fn time(&self, i: usize) -> Result<i64, TemplateError> {
        self.need(i + 1)?;
        match &self.v[i] {
            Value::Time(t) => Ok(*t),
            Value::Int(s) => Ok(*s * 1_000_000_000),
            v => Err(err(self.name, format!("wrong type for value; expected time.Time; got {}", kind(v)))),
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Str(_) => "string",
        Value::Int(_) => "int",
        Value::Float(_) => "float64",
        Value::Bool(_) => "bool",
        Value::Time(_) => "time.Time",
        Value::Nil => "nil",
    }
}

fn compare(name: &str, a: &Value, b: &Value) -> Result<std::cmp::Ordering, TemplateError> {
    use Value::*;
    let ord = match (a, b) {
        (Str(x), Str(y)) => x.cmp(y),
        (Int(x), Int(y)) => x.cmp(y),
        (Int(_) | Float(_), Int(_) | Float(_)) => {
            a.to_float_lenient().partial_cmp(&b.to_float_lenient()).unwrap_or(std::cmp::Ordering::Equal)
        }
        (Bool(x), Bool(y)) if name == "eq" || name == "ne" => x.cmp(y),
        (Time(x), Time(y)) => x.cmp(y),
        (Nil, Nil) => std::cmp::Ordering::Equal,
        _ => return Err(err(name, "incompatible types for comparison")),
    };
    Ok(ord)
}

thread_local! {
    /// Regexes of `regexReplaceAll`, `count`...: templates pass the same few
    /// patterns for every line, so compile each once per thread.
    static REGEXES: std::cell::RefCell<std::collections::HashMap<String, regex::Regex>> = Default::default();
}

fn regex(name: &str, re: &str) -> Result<regex::Regex, TemplateError> {
    if let Some(r) = REGEXES.with(|c| c.borrow().get(re).cloned()) {
        return Ok(r);
    }
    let r = crate::logql::regex::compile(re, false).map_err(|e| err(name, crate::logql::regex::error_text(re, &e)))?;
    REGEXES.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= 256 {
            c.clear();
        }
        c.insert(re.to_string(), r.clone());
    });
    Ok(r)
}

/// Byte-based slicing as Go does; cut runes come back as U+FFFD.
fn byte_slice(s: &str, a: usize, b: usize) -> String {
    String::from_utf8_lossy(&s.as_bytes()[a.min(s.len())..b.min(s.len()).max(a.min(s.len()))]).into_owned()
}

fn align(count: i64, s: String, left: bool) -> String {
    let runes: Vec<char> = s.chars().collect();
    let l = runes.len() as i64;
    if count < 0 || count == l {
        return s;
    }
    if count > l {
        let pad = " ".repeat((count - l) as usize);
        return if left { s + &pad } else { pad + &s };
    }
    let c = count as usize;
    if left {
        runes[..c].iter().collect()
    } else {
        runes[runes.len() - c..].iter().collect()
    }
}

fn go_duration_secs(name: &str, s: &str) -> Result<Value, TemplateError> {
    let bad = || err(name, format!("time: invalid duration {s:?}"));
    if s.is_empty() || s.ends_with(['d', 'w', 'y']) {
        return Err(bad());
    }
    parse_duration_ns(s).map(|ns| Value::Float(ns as f64 / 1e9)).map_err(|_| bad())
}

pub fn call(name: &str, v: Vec<Value>, ctx: &dyn Context) -> Result<Value, TemplateError> {
    let a = Args { name, v };
    let s = |t: String| Ok(Value::Str(t));
    match name {
        "__line__" => s(ctx.line().to_string()),
        "__timestamp__" => Ok(Value::Time(ctx.timestamp_ns())),
        "and" => {
            a.need(1)?;
            Ok(a.v.iter().find(|x| !x.truthy()).unwrap_or(&a.v[a.v.len() - 1]).clone())
        }
        "or" => {
            a.need(1)?;
            Ok(a.v.iter().find(|x| x.truthy()).unwrap_or(&a.v[a.v.len() - 1]).clone())
        }
        "not" => {
            a.need(1)?;
            Ok(Value::Bool(!a.v[0].truthy()))
        }
        "len" => Ok(Value::Int(a.s(0)?.len() as i64)),
        "index" => {
            let st = a.s(0)?;
            let i = a.int(1)?;
            st.as_bytes()
                .get(i as usize)
                .map(|b| Value::Int(i64::from(*b)))
                .ok_or_else(|| err(name, "index out of range"))
        }
        "print" => s(a.v.iter().map(Value::to_text).collect()),
        "println" => s(a.v.iter().map(Value::to_text).collect::<Vec<_>>().join(" ") + "\n"),
        "printf" => {
            let f = a.s(0)?;
            s(printf(&f, &a.v[1..]))
        }
        "eq" => {
            a.need(2)?;
            for o in &a.v[1..] {
                if compare(name, &a.v[0], o)? == std::cmp::Ordering::Equal {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            a.need(2)?;
            let o = compare(name, &a.v[0], &a.v[1])?;
            use std::cmp::Ordering::*;
            Ok(Value::Bool(match name {
                "ne" => o != Equal,
                "lt" => o == Less,
                "le" => o != Greater,
                "gt" => o == Greater,
                _ => o != Less,
            }))
        }
        "ToLower" | "lower" => s(a.s(0)?.to_lowercase()),
        "ToUpper" | "upper" => s(a.s(0)?.to_uppercase()),
        "title" => {
            let mut prev_letter = false;
            s(a.s(0)?
                .chars()
                .map(|c| {
                    let out = if prev_letter { c.to_string() } else { c.to_uppercase().to_string() };
                    prev_letter = c.is_alphanumeric() || c == '_' || c == '\'';
                    out
                })
                .collect())
        }
        "Replace" => {
            let (src, old, new, n) = (a.s(0)?, a.s(1)?, a.s(2)?, a.int(3)?);
            s(if n < 0 { src.replace(&old, &new) } else { src.replacen(&old, &new, n as usize) })
        }
        "replace" => s(a.s(2)?.replace(&a.s(0)?, &a.s(1)?)),
        "Trim" => {
            let cut = a.s(1)?;
            s(a.s(0)?.trim_matches(|c| cut.contains(c)).to_string())
        }
        "TrimLeft" => {
            let cut = a.s(1)?;
            s(a.s(0)?.trim_start_matches(|c| cut.contains(c)).to_string())
        }
        "TrimRight" => {
            let cut = a.s(1)?;
            s(a.s(0)?.trim_end_matches(|c| cut.contains(c)).to_string())
        }
        "trimAll" => {
            let cut = a.s(0)?;
            s(a.s(1)?.trim_matches(|c| cut.contains(c)).to_string())
        }
        "TrimPrefix" => s(a.s(0)?.strip_prefix(a.s(1)?.as_str()).map(str::to_string).unwrap_or(a.s(0)?)),
        "TrimSuffix" => s(a.s(0)?.strip_suffix(a.s(1)?.as_str()).map(str::to_string).unwrap_or(a.s(0)?)),
        "trimPrefix" => s(a.s(1)?.strip_prefix(a.s(0)?.as_str()).map(str::to_string).unwrap_or(a.s(1)?)),
        "trimSuffix" => s(a.s(1)?.strip_suffix(a.s(0)?.as_str()).map(str::to_string).unwrap_or(a.s(1)?)),
        "TrimSpace" | "trim" => s(a.s(0)?.trim().to_string()),
        "contains" => Ok(Value::Bool(a.s(1)?.contains(a.s(0)?.as_str()))),
        "hasPrefix" => Ok(Value::Bool(a.s(1)?.starts_with(a.s(0)?.as_str()))),
        "hasSuffix" => Ok(Value::Bool(a.s(1)?.ends_with(a.s(0)?.as_str()))),
        "repeat" => s(a.s(1)?.repeat(a.lenient_i(0)?.max(0) as usize)),
        "indent" | "nindent" => {
            let pad = " ".repeat(a.lenient_i(0)?.max(0) as usize);
            let body = a.s(1)?.lines().map(|l| format!("{pad}{l}")).collect::<Vec<_>>().join("\n");
            s(if name == "nindent" { format!("\n{body}") } else { body })
        }
        "trunc" => {
            let (c, st) = (a.lenient_i(0)?, a.s(1)?);
            let n = st.len() as i64;
            s(if c < 0 && n + c > 0 {
                byte_slice(&st, (n + c) as usize, st.len())
            } else if c >= 0 && n > c {
                byte_slice(&st, 0, c as usize)
            } else {
                st
            })
        }
        "substr" => {
            let (start, end, st) = (a.lenient_i(0)?, a.lenient_i(1)?, a.s(2)?);
            s(if start < 0 {
                byte_slice(&st, 0, end.max(0) as usize)
            } else if end < 0 || end as usize > st.len() {
                byte_slice(&st, start as usize, st.len())
            } else {
                byte_slice(&st, start as usize, end as usize)
            })
        }
        "default" => {
            a.need(1)?;
            Ok(match a.v.get(1) {
                Some(g) if g.truthy() => g.clone(),
                _ => a.v[0].clone(),
            })
        }
        "regexReplaceAll" => {
            let re = regex(name, &a.s(0)?)?;
            s(re.replace_all(&a.s(1)?, a.s(2)?.as_str()).into_owned())
        }
        "regexReplaceAllLiteral" => {
            let re = regex(name, &a.s(0)?)?;
            s(re.replace_all(&a.s(1)?, regex::NoExpand(&a.s(2)?)).into_owned())
        }
        "count" => Ok(Value::Int(regex(name, &a.s(0)?)?.find_iter(&a.s(1)?).count() as i64)),
        "urlencode" | "urlquery" => s(query_escape(&a.s(0)?)),
        "urldecode" => query_unescape(&a.s(0)?).map(Value::Str).map_err(|e| err(name, e)),
        "b64enc" => s(b64enc(a.s(0)?.as_bytes())),
        "b64dec" => s(b64dec(&a.s(0)?).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_else(|e| e)),
        "bytes" => parse_bytes(&a.s(0)?).map(|b| Value::Float(b as f64)).map_err(|e| err(name, e)),
        "duration" | "duration_seconds" => go_duration_secs(name, &a.s(0)?),
        "int" | "float64" | "add" | "mul" | "sub" | "div" | "mod" | "max" | "min" | "addf" | "subf" | "mulf"
        | "divf" | "maxf" | "minf" | "ceil" | "floor" | "round" => super::funcs_math::call(&a),
        "unixEpoch" => Ok(Value::Int(a.time(0)?.div_euclid(1_000_000_000))),
        "unixEpochMillis" => Ok(Value::Int(a.time(0)?.div_euclid(1_000_000))),
        "unixEpochNanos" => Ok(Value::Int(a.time(0)?)),
        "now" => Ok(Value::Time(crate::model::time::now_ns())),
        "date" => {
            let layout = a.s(0)?;
            s(format_time(&layout, a.time(1)?))
        }
        "toDate" | "toDateInZone" => {
            let (layout, text) = if name == "toDate" { (a.s(0)?, a.s(1)?) } else { (a.s(0)?, a.s(2)?) };
            Ok(Value::Time(parse_time(&layout, &text).unwrap_or(i64::MIN / 4)))
        }
        "unixToTime" => {
            let t = a.s(0)?;
            let n: i64 = t.parse().map_err(|_| err(name, format!("unable to parse {t:?} as epoch")))?;
            let ns = match t.len() {
                0..=10 => n * 1_000_000_000,
                11..=13 => n * 1_000_000,
                14..=16 => n * 1_000,
                _ => n,
            };
            Ok(Value::Time(ns))
        }
        "alignLeft" | "alignRight" => s(align(a.int(0)?, a.s(1)?, name == "alignLeft")),
        _ => Err(TemplateError::Exec(format!("function {name:?} not defined"))),
    }
}
