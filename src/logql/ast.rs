//! The parsed form of log queries.

use std::fmt;

use super::filter::CompiledFilter;
use super::matcher::Matcher;

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

/// A log query: a stream selector and line filters.
#[derive(Clone, Debug, PartialEq)]
pub struct LogExpr {
    pub matchers: Vec<Matcher>,
    pub filters: Vec<LineFilter>,
}

impl LogExpr {
    /// True when every line filter accepts the line.
    pub fn keep_line(&self, line: &[u8]) -> bool {
        self.filters.iter().all(|f| f.compiled.matches(line))
    }
}

impl fmt::Display for LogExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, m) in self.matchers.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{m}")?;
        }
        f.write_str("}")?;
        for lf in &self.filters {
            write!(f, " {} ", lf.op.as_str())?;
            for (i, v) in lf.values.iter().enumerate() {
                if i > 0 {
                    f.write_str(" or ")?;
                }
                if lf.ip {
                    f.write_str("ip(")?;
                }
                crate::model::labels::write_go_quoted(f, v)?;
                if lf.ip {
                    f.write_str(")")?;
                }
            }
        }
        Ok(())
    }
}
