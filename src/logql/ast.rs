//! The parsed form of log queries: a selector and pipeline stages.
//!
//! Built by `parser`, printed back by the `Display` impls (so that
//! `parse(print(ast)) == ast`), compiled into a runnable pipeline by `pipeline`.

use std::fmt;
use std::sync::Arc;

use super::filter::CompiledFilter;
use super::matcher::Matcher;
use super::pipeline::Pipeline;
use crate::model::labels::write_go_quoted;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineFilterOp {
    Contains,
    NotContains,
    Match,
    NotMatch,
    Pattern,
    NotPattern,
}

impl LineFilterOp {
    pub fn as_str(self) -> &'static str {
        match self {
            LineFilterOp::Contains => "|=",
            LineFilterOp::NotContains => "!=",
            LineFilterOp::Match => "|~",
            LineFilterOp::NotMatch => "!~",
            LineFilterOp::Pattern => "|>",
            LineFilterOp::NotPattern => "!>",
        }
    }

    pub fn is_negative(self) -> bool {
        matches!(self, LineFilterOp::NotContains | LineFilterOp::NotMatch | LineFilterOp::NotPattern)
    }
}

/// One line filter stage: an operator and its alternatives (`|= "a" or "b"`).
/// `ip` marks `|= ip("...")`.
#[derive(Clone, Debug)]
pub struct LineFilter {
    pub op: LineFilterOp,
    pub values: Vec<String>,
    pub ip: bool,
    pub compiled: CompiledFilter,
}

impl PartialEq for LineFilter {
    fn eq(&self, o: &Self) -> bool {
        self.op == o.op && self.values == o.values && self.ip == o.ip
    }
}

/// Comparison operators of numeric, duration and bytes label filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    /// `==`, printed as written.
    EqEq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::EqEq => "==",
            CmpOp::Neq => "!=",
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
        }
    }

    pub fn test<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            CmpOp::Eq | CmpOp::EqEq => a == b,
            CmpOp::Neq => a != b,
            CmpOp::Gt => a > b,
            CmpOp::Gte => a >= b,
            CmpOp::Lt => a < b,
            CmpOp::Lte => a <= b,
        }
    }
}

/// The typed right-hand side of a comparison label filter; `text` is the literal as written.
#[derive(Clone, Debug, PartialEq)]
pub enum CmpValue {
    Number(f64),
    /// Nanoseconds.
    Duration(i64),
    Bytes(u64),
}

/// A label filter expression (`| a="x" and (b>1 or c=~"y")`).
#[derive(Clone, Debug, PartialEq)]
pub enum LabelFilterExpr {
    And(Box<LabelFilterExpr>, Box<LabelFilterExpr>),
    Or(Box<LabelFilterExpr>, Box<LabelFilterExpr>),
    String(Matcher),
    Cmp { name: String, op: CmpOp, value: CmpValue, text: String },
    Ip { name: String, negate: bool, value: String },
}

/// One `label_format` item: `dst=src` (rename) or `dst="{{template}}"`.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelFmt {
    pub dst: String,
    pub value: String,
    pub template: bool,
}

/// A `drop` / `keep` item: a bare name or a name with a matcher.
#[derive(Clone, Debug, PartialEq)]
pub enum NamedMatcher {
    Name(String),
    Matcher(Matcher),
}

impl NamedMatcher {
    pub fn name(&self) -> &str {
        match self {
            NamedMatcher::Name(n) => n,
            NamedMatcher::Matcher(m) => &m.name,
        }
    }
}

/// One pipeline stage after the selector.
#[derive(Clone, Debug, PartialEq)]
pub enum Stage {
    Line(LineFilter),
    /// `| json` with `(label, expression)` parameters (empty = extract everything).
    Json(Vec<(String, String)>),
    Logfmt {
        strict: bool,
        keep_empty: bool,
        params: Vec<(String, String)>,
    },
    Regexp(String),
    Pattern(String),
    Unpack,
    LabelFilter(LabelFilterExpr),
    LineFormat(String),
    LabelFormat(Vec<LabelFmt>),
    Drop(Vec<NamedMatcher>),
    Keep(Vec<NamedMatcher>),
    Decolorize,
}

/// A log query: a stream selector and its pipeline, with the pipeline compiled.
#[derive(Clone, Debug)]
pub struct LogExpr {
    pub matchers: Vec<Matcher>,
    pub stages: Vec<Stage>,
    pub pipeline: Arc<Pipeline>,
}

impl PartialEq for LogExpr {
    fn eq(&self, o: &Self) -> bool {
        self.matchers == o.matchers && self.stages == o.stages
    }
}

impl LogExpr {
    /// True when every line filter accepts the line (other stages ignored).
    pub fn keep_line(&self, line: &[u8]) -> bool {
        self.stages.iter().all(|s| match s {
            Stage::Line(f) => f.compiled.matches(line),
            _ => true,
        })
    }
}

fn quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    write_go_quoted(f, s)
}

fn params(f: &mut fmt::Formatter<'_>, ps: &[(String, String)]) -> fmt::Result {
    for (i, (k, v)) in ps.iter().enumerate() {
        f.write_str(if i == 0 { " " } else { ", " })?;
        write!(f, "{k}=")?;
        quoted(f, v)?;
    }
    Ok(())
}

fn named(f: &mut fmt::Formatter<'_>, ms: &[NamedMatcher]) -> fmt::Result {
    for (i, m) in ms.iter().enumerate() {
        f.write_str(if i == 0 { " " } else { ", " })?;
        match m {
            NamedMatcher::Name(n) => f.write_str(n)?,
            NamedMatcher::Matcher(m) => write!(f, "{m}")?,
        }
    }
    Ok(())
}

impl fmt::Display for LabelFilterExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelFilterExpr::And(a, b) => {
                // `and` is left-associative: a right operand that is itself an `and` needs parentheses
                if matches!(**a, LabelFilterExpr::Or(..)) {
                    write!(f, "({a})")?;
                } else {
                    write!(f, "{a}")?;
                }
                if matches!(**b, LabelFilterExpr::Or(..) | LabelFilterExpr::And(..)) {
                    write!(f, " and ({b})")
                } else {
                    write!(f, " and {b}")
                }
            }
            LabelFilterExpr::Or(a, b) => {
                if matches!(**b, LabelFilterExpr::Or(..)) {
                    write!(f, "{a} or ({b})")
                } else {
                    write!(f, "{a} or {b}")
                }
            }
            LabelFilterExpr::String(m) => write!(f, "{m}"),
            LabelFilterExpr::Cmp { name, op, text, .. } => write!(f, "{name} {} {text}", op.as_str()),
            LabelFilterExpr::Ip { name, negate, value } => {
                write!(f, "{name} {} ip(", if *negate { "!=" } else { "=" })?;
                quoted(f, value)?;
                f.write_str(")")
            }
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Line(lf) => {
                write!(f, "{} ", lf.op.as_str())?;
                for (i, v) in lf.values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" or ")?;
                    }
                    if lf.ip {
                        f.write_str("ip(")?;
                    }
                    quoted(f, v)?;
                    if lf.ip {
                        f.write_str(")")?;
                    }
                }
                Ok(())
            }
            Stage::Json(ps) => {
                f.write_str("| json")?;
                params(f, ps)
            }
            Stage::Logfmt { strict, keep_empty, params: ps } => {
                f.write_str("| logfmt")?;
                if *strict {
                    f.write_str(" --strict")?;
                }
                if *keep_empty {
                    f.write_str(" --keep-empty")?;
                }
                params(f, ps)
            }
            Stage::Regexp(r) => {
                f.write_str("| regexp ")?;
                quoted(f, r)
            }
            Stage::Pattern(p) => {
                f.write_str("| pattern ")?;
                quoted(f, p)
            }
            Stage::Unpack => f.write_str("| unpack"),
            Stage::LabelFilter(e) => write!(f, "| {e}"),
            Stage::LineFormat(t) => {
                f.write_str("| line_format ")?;
                quoted(f, t)
            }
            Stage::LabelFormat(items) => {
                f.write_str("| label_format")?;
                for (i, it) in items.iter().enumerate() {
                    write!(f, "{}{}=", if i == 0 { " " } else { ", " }, it.dst)?;
                    if it.template {
                        quoted(f, &it.value)?;
                    } else {
                        f.write_str(&it.value)?;
                    }
                }
                Ok(())
            }
            Stage::Drop(ms) => {
                f.write_str("| drop")?;
                named(f, ms)
            }
            Stage::Keep(ms) => {
                f.write_str("| keep")?;
                named(f, ms)
            }
            Stage::Decolorize => f.write_str("| decolorize"),
        }
    }
}

impl fmt::Display for LogExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        let mut out = String::from("{");
        for (i, m) in self.matchers.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            write!(out, "{m}")?;
        }
        out.push('}');
        for (i, s) in self.stages.iter().enumerate() {
            // `| drop a != "x"` reads `a != "x"` as a drop matcher: a negative line
            // filter right after drop/keep needs the expression before it in parentheses.
            let absorbed = i > 0
                && matches!(self.stages[i - 1], Stage::Drop(_) | Stage::Keep(_))
                && matches!(s, Stage::Line(lf) if matches!(lf.op, LineFilterOp::NotContains | LineFilterOp::NotMatch));
            if absorbed {
                out = format!("({out})");
            }
            write!(out, " {s}")?;
        }
        f.write_str(&out)
    }
}
