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

    /// `(i, n)` of a shard matcher `__stream_shard__="i_of_n"`.
    pub fn shard(&self) -> Option<(u64, u64)> {
        if self.op != MatchOp::Eq || self.name != SHARD_LABEL {
            return None;
        }
        let (i, n) = self.value.split_once("_of_")?;
        let (i, n) = (i.parse().ok()?, n.parse().ok()?);
        (i < n).then_some((i, n))
    }

    /// Whether an index's postings can answer the matcher: `name="value"` on a real label.
    pub fn uses_postings(&self) -> bool {
        self.op == MatchOp::Eq && !self.value.is_empty() && self.shard().is_none()
    }
}

/// The pseudo-label of a stream shard: `__stream_shard__="i_of_n"` selects the
/// streams whose fingerprint falls in shard `i` of `n`. The query-frontend adds
/// it to the selectors of the sub-queries it shards (`frontend::shard`). A
/// matcher `__stream_shard__="i_of_n"` is always taken as a shard, never
/// matched against a stream label of that name.
pub const SHARD_LABEL: &str = "__stream_shard__";

/// Which of `n` shards a stream of this fingerprint belongs to (the same in
/// every process: the fingerprint is a hash of the label pairs).
pub fn shard_of(fingerprint: u64, n: u64) -> u64 {
    // mixed first: the fingerprint's low bits alone are not spread evenly enough
    (fingerprint.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) % n.max(1)
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.name, self.op.as_str())?;
        crate::model::labels::write_go_quoted(f, &self.value)
    }
}

/// True when a label set satisfies every matcher.
pub fn matches_all(matchers: &[Matcher], labels: &crate::model::Labels) -> bool {
    matchers.iter().all(|m| match m.shard() {
        Some((i, n)) => shard_of(labels.fingerprint(), n) == i,
        None => m.matches(labels.get(&m.name).unwrap_or("")),
    })
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

    #[test]
    fn shard_matchers_partition_the_streams() {
        let shard = |v: &str| Matcher::new(SHARD_LABEL, MatchOp::Eq, v).unwrap();
        assert_eq!(shard("3_of_8").shard(), Some((3, 8)));
        for bad in ["8_of_8", "x_of_2", "1of2", ""] {
            assert_eq!(shard(bad).shard(), None, "{bad}");
        }
        assert!(!shard("0_of_2").uses_postings());
        assert!(Matcher::new("app", MatchOp::Eq, "a").unwrap().uses_postings());
        let app = Matcher::new("app", MatchOp::Eq, "a").unwrap();
        let mut per_shard = [0usize; 4];
        for k in 0..400 {
            let l = crate::model::Labels::parse(&format!(r#"{{app="a", pod="p{k}"}}"#)).unwrap();
            let hits: Vec<usize> =
                (0..4).filter(|i| matches_all(&[app.clone(), shard(&format!("{i}_of_4"))], &l)).collect();
            assert_eq!(hits.len(), 1, "a stream is in exactly one shard");
            per_shard[hits[0]] += 1;
        }
        assert!(per_shard.iter().all(|&c| c > 60), "shards are roughly even: {per_shard:?}");
    }
}
