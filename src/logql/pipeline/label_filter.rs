//! Label filter evaluation (`| status >= 500 and level=~"err.*"`): string
//! matchers, numeric / duration / bytes comparisons and `ip()` filters.
//!
//! Compiled from `ast::LabelFilterExpr` by `Pipeline::compile`; [`Compiled::keep`]
//! runs per line. Rules (Loki 3.x): a comparison on a missing label drops the
//! line (so a line whose parser failed before extracting it is dropped), and
//! on an unparsable value keeps it with `__error__="LabelFilterErr"` unless an
//! earlier error is already set.

use crate::logql::ast::{CmpValue, LabelFilterExpr};
use crate::logql::error::ParseError;
use crate::logql::filter::IpRange;
use crate::model::time::{parse_bytes, parse_duration_ns};

use crate::logql::matcher::MatchOp;

use super::labels::LabelsBuilder;
use super::simplify::{simplify, Leg};

pub const LABEL_FILTER_ERR: &str = "LabelFilterErr";

#[derive(Debug)]
pub struct Compiled {
    expr: LabelFilterExpr,
    ips: Vec<IpRange>,
    /// Simplified forms of the regex string filters, in tree order (`None` = plain matcher).
    simple: Vec<Option<Vec<Leg>>>,
}

impl Compiled {
    pub fn new(e: &LabelFilterExpr) -> Result<Compiled, ParseError> {
        let mut ips = Vec::new();
        collect_ips(e, &mut ips)?;
        let mut simple = Vec::new();
        collect_simple(e, &mut simple);
        Ok(Compiled { expr: e.clone(), ips, simple })
    }

    pub fn keep(&self, b: &mut LabelsBuilder<'_>) -> bool {
        let mut idx = Idx::default();
        eval(&self.expr, b, self, &mut idx)
    }
}

/// Positions of the next `ip()` leaf and the next string leaf during evaluation.
#[derive(Default)]
struct Idx {
    ip: usize,
    string: usize,
}

fn collect_simple(e: &LabelFilterExpr, out: &mut Vec<Option<Vec<Leg>>>) {
    match e {
        LabelFilterExpr::And(a, b) | LabelFilterExpr::Or(a, b) => {
            collect_simple(a, out);
            collect_simple(b, out);
        }
        LabelFilterExpr::String(m) => out.push(match m.op {
            MatchOp::Re | MatchOp::Nre => simplify(&m.value),
            _ => None,
        }),
        _ => {}
    }
}

fn collect_ips(e: &LabelFilterExpr, out: &mut Vec<IpRange>) -> Result<(), ParseError> {
    match e {
        LabelFilterExpr::And(a, b) | LabelFilterExpr::Or(a, b) => {
            collect_ips(a, out)?;
            collect_ips(b, out)
        }
        LabelFilterExpr::Ip { value, .. } => {
            out.push(IpRange::parse(value)?);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Advances the leaf positions past a subtree that is not evaluated.
fn skip(e: &LabelFilterExpr, idx: &mut Idx) {
    match e {
        LabelFilterExpr::And(a, b) | LabelFilterExpr::Or(a, b) => {
            skip(a, idx);
            skip(b, idx);
        }
        LabelFilterExpr::String(_) => idx.string += 1,
        LabelFilterExpr::Ip { .. } => idx.ip += 1,
        LabelFilterExpr::Cmp { .. } => {}
    }
}

/// `and` evaluates both sides (a comparison can set `__error__`); `or` stops at
/// the first side that keeps the line, as Loki does.
fn eval(e: &LabelFilterExpr, b: &mut LabelsBuilder<'_>, c: &Compiled, idx: &mut Idx) -> bool {
    match e {
        LabelFilterExpr::And(l, r) => {
            let lok = eval(l, b, c, idx);
            let rok = eval(r, b, c, idx);
            lok && rok
        }
        LabelFilterExpr::Or(l, r) => {
            if eval(l, b, c, idx) {
                skip(r, idx);
                return true;
            }
            eval(r, b, c, idx)
        }
        LabelFilterExpr::String(m) => {
            let simple = c.simple.get(idx.string).and_then(Option::as_ref);
            idx.string += 1;
            let v = b.get(&m.name).unwrap_or("");
            match simple {
                Some(legs) => legs.iter().any(|l| l.matches(v)) == (m.op == MatchOp::Re),
                None => m.matches(v),
            }
        }
        LabelFilterExpr::Cmp { name, op, value, .. } => {
            let Some(v) = b.get(name) else { return false };
            let res = match value {
                CmpValue::Number(want) => v
                    .parse::<f64>()
                    .map(|x| op.test(x, *want))
                    .map_err(|_| format!("strconv.ParseFloat: parsing {v:?}: invalid syntax")),
                CmpValue::Duration(want) => parse_go_duration(v).map(|x| op.test(x, *want)),
                CmpValue::Bytes(want) => parse_bytes(v).map(|x| op.test(x, loki_bytes(*want))),
            };
            match res {
                Ok(keep) => keep,
                Err(details) => {
                    b.set_err(LABEL_FILTER_ERR, details);
                    true
                }
            }
        }
        LabelFilterExpr::Ip { name, negate, .. } => {
            let Some(range) = c.ips.get(idx.ip) else { return false };
            idx.ip += 1;
            if b.has_err() {
                return true;
            }
            let Some(v) = b.get(name) else { return false };
            let hit = v.trim().parse::<std::net::IpAddr>().is_ok_and(|ip| range.contains(ip));
            hit != *negate
        }
    }
}

/// The byte threshold Loki 3.x effectively compares with: its query frontend
/// prints the filter with go-humanize's `Bytes` (SI units, one decimal under 10,
/// e.g. 1MiB prints as `1.0MB`) and the querier parses that text again, so
/// `size >= 1MiB` keeps `1.0MB` (the conformance case `lbl-bytes-mib`).
pub fn loki_bytes(v: u64) -> u64 {
    if v < 10 {
        return v;
    }
    let e = ((v as f64).ln() / 1000f64.ln()).floor();
    let unit = 1000f64.powf(e);
    let val = ((v as f64) / unit * 10.0 + 0.5).floor() / 10.0;
    let text = if val < 10.0 { format!("{val:.1}") } else { format!("{val:.0}") };
    text.parse::<f64>().map(|f| (f * unit) as u64).unwrap_or(v)
}

/// Go's `time.ParseDuration` units only (no days, weeks or years).
fn parse_go_duration(v: &str) -> Result<i64, String> {
    let bad = || format!("time: invalid duration {v:?}");
    if v.ends_with('d') || v.ends_with('w') || v.ends_with('y') {
        return Err(bad());
    }
    parse_duration_ns(v).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use crate::logql::{parse, Expr};

    fn keep(q: &str, labels: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        let Expr::Log(l) = parse(&format!(r#"{{app="a"}} | {q}"#)).unwrap() else { panic!("log query expected") };
        let stream = vec![("app".to_string(), "a".to_string())];
        let meta: Vec<(String, String)> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let p = l.pipeline.process(0, "", &stream, &meta)?;
        Some(p.labels.into_iter().map(|(k, v, _)| (k.into_owned(), v.into_owned())).collect())
    }

    #[test]
    fn comparisons_and_errors() {
        assert!(keep("s >= 500", &[("s", "503")]).is_some());
        assert!(keep("s >= 500", &[("s", "200")]).is_none());
        assert!(keep("s >= 500", &[]).is_none());
        let got = keep("s > 5", &[("s", "abc")]).unwrap();
        assert!(got.iter().any(|(k, v)| k == "__error__" && v == "LabelFilterErr"));
        assert!(keep("d > 250ms", &[("d", "1.5s")]).is_some());
        assert!(keep("d > 250ms", &[("d", "20ms")]).is_none());
        assert!(keep("b >= 1MiB and b < 2MB", &[("b", "1.2MiB")]).is_some());
        assert!(keep("b >= 1MiB", &[("b", "1.0MB")]).is_some(), "Loki's round trip through 1.0MB");
        assert!(keep("b >= 1MiB", &[("b", "990.3KB")]).is_none());
        assert_eq!(
            (super::loki_bytes(5), super::loki_bytes(1_048_576), super::loki_bytes(20_480_000)),
            (5, 1_000_000, 20_000_000)
        );
        assert!(keep(r#"ip = ip("10.0.0.0/8")"#, &[("ip", "10.1.2.3")]).is_some());
        assert!(keep(r#"ip != ip("10.0.0.0/8")"#, &[("ip", "10.1.2.3")]).is_none());
        assert!(keep(r#"a="x" or b="y" and c="z""#, &[("a", "x")]).is_some());
        assert!(keep(r#"(a="x" or b="y") and c="z""#, &[("a", "x")]).is_none());
        assert!(keep(r#"a="x", c="z""#, &[("a", "x"), ("c", "z")]).is_some());
    }
}
