//! The parsed form of metric queries: range aggregations over a log range,
//! vector aggregations, binary operations, literals, `vector()` and
//! `label_replace()`. Built by `metric::parse`, printed back by the `Display`
//! impls (so that `parse(print(ast)) == ast`), evaluated by `metric::eval`.

use std::fmt;

use super::format::format_duration_literal;
use crate::logql::ast::{LabelFilterExpr, LogExpr};
use crate::model::labels::write_go_quoted;

/// Range aggregation functions (`count_over_time`, `rate`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeOp {
    Count,
    Rate,
    RateCounter,
    Bytes,
    BytesRate,
    Absent,
    Sum,
    Avg,
    Min,
    Max,
    Stddev,
    Stdvar,
    Quantile,
    First,
    Last,
}

const RANGE_OPS: &[(RangeOp, &str)] = &[
    (RangeOp::Count, "count_over_time"),
    (RangeOp::Rate, "rate"),
    (RangeOp::RateCounter, "rate_counter"),
    (RangeOp::Bytes, "bytes_over_time"),
    (RangeOp::BytesRate, "bytes_rate"),
    (RangeOp::Absent, "absent_over_time"),
    (RangeOp::Sum, "sum_over_time"),
    (RangeOp::Avg, "avg_over_time"),
    (RangeOp::Min, "min_over_time"),
    (RangeOp::Max, "max_over_time"),
    (RangeOp::Stddev, "stddev_over_time"),
    (RangeOp::Stdvar, "stdvar_over_time"),
    (RangeOp::Quantile, "quantile_over_time"),
    (RangeOp::First, "first_over_time"),
    (RangeOp::Last, "last_over_time"),
];

impl RangeOp {
    pub fn from_name(s: &str) -> Option<RangeOp> {
        RANGE_OPS.iter().find(|(_, n)| n.eq_ignore_ascii_case(s)).map(|(o, _)| *o)
    }
    pub fn as_str(self) -> &'static str {
        RANGE_OPS.iter().find(|(o, _)| *o == self).map(|(_, n)| *n).unwrap_or("")
    }
    /// Functions that read an unwrapped value (the others count lines or bytes).
    pub fn needs_unwrap(self) -> bool {
        !matches!(self, RangeOp::Count | RangeOp::Rate | RangeOp::Bytes | RangeOp::BytesRate | RangeOp::Absent)
    }
    pub fn allows_unwrap(self) -> bool {
        !matches!(self, RangeOp::Count | RangeOp::Bytes | RangeOp::BytesRate)
    }
    /// Loki: every unwrapped aggregation except `sum_over_time`, `absent_over_time`,
    /// `rate` and `rate_counter` takes `by` / `without`.
    pub fn allows_grouping(self) -> bool {
        matches!(
            self,
            RangeOp::Avg
                | RangeOp::Stddev
                | RangeOp::Stdvar
                | RangeOp::Quantile
                | RangeOp::Min
                | RangeOp::Max
                | RangeOp::First
                | RangeOp::Last
        )
    }
}

/// Vector aggregation operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VecOp {
    Sum,
    Avg,
    Min,
    Max,
    Count,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    Sort,
    SortDesc,
}

const VEC_OPS: &[(VecOp, &str)] = &[
    (VecOp::Sum, "sum"),
    (VecOp::Avg, "avg"),
    (VecOp::Min, "min"),
    (VecOp::Max, "max"),
    (VecOp::Count, "count"),
    (VecOp::Stddev, "stddev"),
    (VecOp::Stdvar, "stdvar"),
    (VecOp::Topk, "topk"),
    (VecOp::Bottomk, "bottomk"),
    (VecOp::Sort, "sort"),
    (VecOp::SortDesc, "sort_desc"),
];

impl VecOp {
    pub fn from_name(s: &str) -> Option<VecOp> {
        VEC_OPS.iter().find(|(_, n)| n.eq_ignore_ascii_case(s)).map(|(o, _)| *o)
    }
    pub fn as_str(self) -> &'static str {
        VEC_OPS.iter().find(|(o, _)| *o == self).map(|(_, n)| *n).unwrap_or("")
    }
}

/// `by (a, b)` or `without (a)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grouping {
    pub without: bool,
    pub labels: Vec<String>,
}

/// How `| unwrap` turns a label value into a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnwrapConv {
    Float,
    /// `duration(x)` and `duration_seconds(x)`: seconds.
    Duration,
    DurationSeconds,
    Bytes,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Unwrap {
    pub label: String,
    pub conv: UnwrapConv,
    /// Label filters after the unwrap (they see the extraction error).
    pub post_filters: Vec<LabelFilterExpr>,
}

/// A log range: selector and pipeline, optional unwrap, range and offset.
#[derive(Clone, Debug, PartialEq)]
pub struct LogRange {
    pub log: LogExpr,
    pub unwrap: Option<Unwrap>,
    pub range_ns: i64,
    pub offset_ns: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RangeAgg {
    pub op: RangeOp,
    /// The quantile of `quantile_over_time`.
    pub param: Option<f64>,
    pub range: LogRange,
    pub grouping: Option<Grouping>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Unless,
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
}

impl BinOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Unless => "unless",
            BinOp::Eq => "==",
            BinOp::Neq => "!=",
            BinOp::Gt => ">",
            BinOp::Gte => ">=",
            BinOp::Lt => "<",
            BinOp::Lte => "<=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "^",
        }
    }
    /// Binding strength, Prometheus order (higher binds tighter).
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And | BinOp::Unless => 2,
            BinOp::Eq | BinOp::Neq | BinOp::Gt | BinOp::Gte | BinOp::Lt | BinOp::Lte => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Mod => 5,
            BinOp::Pow => 6,
        }
    }
    pub fn is_comparison(self) -> bool {
        self.precedence() == 3
    }
    pub fn is_set(self) -> bool {
        self.precedence() <= 2
    }
}

/// `on (..)` / `ignoring (..)` and `group_left (..)` / `group_right (..)`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct VectorMatching {
    /// `Some(true)` = on, `Some(false)` = ignoring.
    pub on: Option<bool>,
    pub labels: Vec<String>,
    /// `Some(true)` = group_left, `Some(false)` = group_right.
    pub group_left: Option<bool>,
    pub include: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SampleExpr {
    Range(RangeAgg),
    Vector { op: VecOp, grouping: Option<Grouping>, param: Option<f64>, inner: Box<SampleExpr> },
    Binary { op: BinOp, bool_mod: bool, matching: VectorMatching, lhs: Box<SampleExpr>, rhs: Box<SampleExpr> },
    Literal(f64),
    VectorLit(f64),
    LabelReplace { inner: Box<SampleExpr>, dst: String, replacement: String, src: String, regex: String },
}

impl SampleExpr {
    /// Every range aggregation of the tree, depth first (the order `eval` reads them in).
    pub fn ranges<'a>(&'a self, out: &mut Vec<&'a RangeAgg>) {
        match self {
            SampleExpr::Range(r) => out.push(r),
            SampleExpr::Vector { inner, .. } | SampleExpr::LabelReplace { inner, .. } => inner.ranges(out),
            SampleExpr::Binary { lhs, rhs, .. } => {
                lhs.ranges(out);
                rhs.ranges(out);
            }
            SampleExpr::Literal(_) | SampleExpr::VectorLit(_) => {}
        }
    }
}

/// A number as a query literal; infinities as `1e999` (`+Inf` does not parse back).
pub fn fmt_num(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "1e999".into() } else { "-1e999".into() };
    }
    super::format::prom_float(v)
}

impl fmt::Display for Grouping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", if self.without { "without" } else { "by" }, self.labels.join(", "))
    }
}

impl fmt::Display for LogRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.log)?;
        if let Some(u) = &self.unwrap {
            f.write_str(" | unwrap ")?;
            match u.conv {
                UnwrapConv::Float => f.write_str(&u.label)?,
                UnwrapConv::Duration => write!(f, "duration({})", u.label)?,
                UnwrapConv::DurationSeconds => write!(f, "duration_seconds({})", u.label)?,
                UnwrapConv::Bytes => write!(f, "bytes({})", u.label)?,
            }
            for p in &u.post_filters {
                write!(f, " | {p}")?;
            }
        }
        write!(f, " [{}]", format_duration_literal(self.range_ns))?;
        if self.offset_ns != 0 {
            write!(f, " offset {}", format_duration_literal(self.offset_ns))?;
        }
        Ok(())
    }
}

impl fmt::Display for SampleExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SampleExpr::Range(r) => {
                write!(f, "{}(", r.op.as_str())?;
                if let Some(p) = r.param {
                    write!(f, "{}, ", fmt_num(p))?;
                }
                write!(f, "{})", r.range)?;
                if let Some(g) = &r.grouping {
                    write!(f, " {g}")?;
                }
                Ok(())
            }
            SampleExpr::Vector { op, grouping, param, inner } => {
                f.write_str(op.as_str())?;
                if let Some(g) = grouping {
                    write!(f, " {g} ")?;
                }
                f.write_str("(")?;
                if let Some(p) = param {
                    write!(f, "{}, ", fmt_num(*p))?;
                }
                write!(f, "{inner})")
            }
            SampleExpr::Binary { op, bool_mod, matching, lhs, rhs } => {
                // only the parentheses the precedence needs: the printed tree is no deeper
                // than the parsed one (the parser bounds depth, parentheses included)
                let prec = |e: &SampleExpr| match e {
                    SampleExpr::Binary { op, .. } => Some(op.precedence()),
                    _ => None,
                };
                let (p, right_assoc) = (op.precedence(), *op == BinOp::Pow);
                let wrap_l = prec(lhs).is_some_and(|q| q < p || (q == p && right_assoc));
                let wrap_r = prec(rhs).is_some_and(|q| q < p || (q == p && !right_assoc));
                if wrap_l {
                    write!(f, "({lhs}) {}", op.as_str())?;
                } else {
                    write!(f, "{lhs} {}", op.as_str())?;
                }
                if *bool_mod {
                    f.write_str(" bool")?;
                }
                if let Some(on) = matching.on {
                    write!(f, " {} ({})", if on { "on" } else { "ignoring" }, matching.labels.join(", "))?;
                }
                if let Some(left) = matching.group_left {
                    write!(
                        f,
                        " {} ({})",
                        if left { "group_left" } else { "group_right" },
                        matching.include.join(", ")
                    )?;
                }
                if wrap_r {
                    write!(f, " ({rhs})")
                } else {
                    write!(f, " {rhs}")
                }
            }
            SampleExpr::Literal(v) => f.write_str(&fmt_num(*v)),
            SampleExpr::VectorLit(v) => write!(f, "vector({})", fmt_num(*v)),
            SampleExpr::LabelReplace { inner, dst, replacement, src, regex } => {
                write!(f, "label_replace({inner}")?;
                for s in [dst, replacement, src, regex] {
                    f.write_str(", ")?;
                    write_go_quoted(f, s)?;
                }
                f.write_str(")")
            }
        }
    }
}
