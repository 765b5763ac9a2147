//! Label matchers of stream selectors (`=`, `!=`, `=~`, `!~`), regexes anchored.

use std::fmt;

use super::error::ParseError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOp {
    Eq,
    Neq,
    Re,
    Nre,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Eq => "=",
            MatchOp::Neq => "!=",
            MatchOp::Re => "=~",
            MatchOp::Nre => "!~",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    re: Option<regex::Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name && self.op == o.op && self.value == o.value
    }
}

impl Matcher {
    pub fn new(name: impl Into<String>, op: MatchOp, value: impl Into<String>) -> Result<Matcher, ParseError> {
        let value = value.into();
        let re = match op {
            MatchOp::Re | MatchOp::Nre => Some(
                super::regex::compile(&value, true)
                    .map_err(|e| ParseError::Invalid(super::regex::error_text(&value, &e)))?,
            ),
            _ => None,
        };
        Ok(Matcher { name: name.into(), op, value, re })
    }

    /// Whether a label value (`""` when the label is absent) satisfies the matcher.
    pub fn matches(&self, v: &str) -> bool {
        match self.op {
            MatchOp::Eq => v == self.value,
            MatchOp::Neq => v != self.value,
            MatchOp::Re => self.re.as_ref().is_some_and(|r| r.is_match(v)),
            MatchOp::Nre => !self.re.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }

    /// True when the empty string satisfies the matcher (`=~".*"`, `!="x"`, ...).
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.name, self.op.as_str())?;
        crate::model::labels::write_go_quoted(f, &self.value)
    }
}

/// True when a label set satisfies every matcher.
pub fn matches_all(matchers: &[Matcher], labels: &crate::model::Labels) -> bool {
    matchers.iter().all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchored_regex() {
        let m = Matcher::new("pod", MatchOp::Re, "api-gateway").unwrap();
        assert!(m.matches("api-gateway"));
        assert!(!m.matches("api-gateway-1"));
        let m = Matcher::new("pod", MatchOp::Nre, "a.*").unwrap();
        assert!(m.matches(""));
        assert!(!m.matches("abc"));
        assert!(Matcher::new("x", MatchOp::Re, "(").is_err());
    }
}
