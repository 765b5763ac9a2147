//! Label sets: parsing Loki's label strings, canonical rendering and fingerprints.
//!
//! A stream's identity is its sorted label set. The distributor parses the
//! `{a="1", b="2"}` strings of push requests here; the ingester keys streams by the
//! [`Fingerprint`] computed here; the query API renders label maps from here.

use std::fmt;
use std::sync::{Arc, OnceLock};

/// A sorted set of label pairs with its fingerprint computed once. Cheap to clone;
/// equality first compares pointers, so clones of one set compare in O(1).
#[derive(Clone, Default)]
pub struct Labels(Arc<Inner>);

#[derive(Default)]
struct Inner {
    pairs: Box<[(String, String)]>,
    fingerprint: Fingerprint,
    /// The canonical string, rendered on first use by [`Labels::rendered`].
    rendered: OnceLock<Box<str>>,
}

impl PartialEq for Labels {
    fn eq(&self, o: &Self) -> bool {
        Arc::ptr_eq(&self.0, &o.0) || (self.0.fingerprint == o.0.fingerprint && self.0.pairs == o.0.pairs)
    }
}

impl Eq for Labels {}

impl std::hash::Hash for Labels {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u64(self.0.fingerprint);
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Labels {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.pairs.cmp(&o.0.pairs)
    }
}

/// 64-bit hash of a sorted label set (FNV-1a over name/value bytes with separators).
pub type Fingerprint = u64;

/// Why a label string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("{0}")]
    Syntax(String),
}

impl Labels {
    /// Builds a label set from pairs: sorts by name, drops empty values.
    /// Duplicate names are kept so validation can report them.
    pub fn from_pairs(mut pairs: Vec<(String, String)>) -> Labels {
        pairs.retain(|(_, v)| !v.is_empty());
        pairs.sort();
        let fingerprint = fingerprint_of(&pairs);
        Labels(Arc::new(Inner { pairs: pairs.into_boxed_slice(), fingerprint, rendered: OnceLock::new() }))
    }

    /// A result label set of a query pipeline: sorted, empty values kept
    /// (Loki answers `n=""` for an extracted empty value).
    pub fn from_pairs_keep_empty(mut pairs: Vec<(String, String)>) -> Labels {
        pairs.sort();
        let fingerprint = fingerprint_of(&pairs);
        Labels(Arc::new(Inner { pairs: pairs.into_boxed_slice(), fingerprint, rendered: OnceLock::new() }))
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0.pairs
    }

    pub fn len(&self) -> usize {
        self.0.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.pairs.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        let p = &self.0.pairs;
        p.binary_search_by(|(n, _)| n.as_str().cmp(name)).ok().map(|i| p[i].1.as_str())
    }

    /// The first name that appears twice, if any (pairs are sorted by name).
    pub fn duplicate_name(&self) -> Option<&str> {
        self.0.pairs.windows(2).find(|w| w[0].0 == w[1].0).map(|w| w[0].0.as_str())
    }

    /// FNV-1a over names and values with separators, computed at construction.
    pub fn fingerprint(&self) -> Fingerprint {
        self.0.fingerprint
    }

    /// The canonical string (what `Display` writes), rendered once per label set: the
    /// distributor sends it with every push of a stream to remote ingesters.
    pub fn rendered(&self) -> &str {
        self.0.rendered.get_or_init(|| self.to_string().into_boxed_str())
    }

    /// Parses a Prometheus-style label string such as `{a="1", b="2"}`.
    pub fn parse(s: &str) -> Result<Labels, LabelError> {
        LabelParser { s: s.as_bytes(), src: s, pos: 0 }.parse()
    }
}

fn fingerprint_of(pairs: &[(String, String)]) -> Fingerprint {
    const OFFSET: u64 = 0xcbf29ce484222325;
    const PRIME: u64 = 0x100000001b3;
    let mut h = OFFSET;
    for (n, v) in pairs {
        for b in n.bytes().chain([0xff]).chain(v.bytes()).chain([0xfe]) {
            h ^= b as u64;
            h = h.wrapping_mul(PRIME);
        }
    }
    h
}

/// Renders the canonical form `{a="1", b="2"}` with Go-style quoting.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (n, v)) in self.0.pairs.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{n}=")?;
            write_go_quoted(f, v)?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Writes `s` as a Go `strconv.Quote` string.
pub fn write_go_quoted(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if (c as u32) < 0x20 || c == '\u{7f}' => write!(f, "\\x{:02x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

pub fn is_valid_label_name(n: &str) -> bool {
    let mut b = n.bytes();
    matches!(b.next(), Some(c) if c == b'_' || c.is_ascii_alphabetic())
        && b.all(|c| c == b'_' || c.is_ascii_alphanumeric())
}

struct LabelParser<'a> {
    s: &'a [u8],
    src: &'a str,
    pos: usize,
}

impl LabelParser<'_> {
    fn err<T>(&self, msg: impl fmt::Display) -> Result<T, LabelError> {
        Err(LabelError::Syntax(format!("1:{}: parse error: {msg}", self.pos + 1)))
    }

    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn parse(mut self) -> Result<Labels, LabelError> {
        self.skip_ws();
        if self.s.get(self.pos) != Some(&b'{') {
            return self.err("unexpected input, expected \"{\"");
        }
        self.pos += 1;
        let mut pairs = Vec::new();
        loop {
            self.skip_ws();
            match self.s.get(self.pos) {
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                None => return self.err("unexpected end of input inside braces"),
                _ => {}
            }
            let name = self.name()?;
            self.skip_ws();
            if self.s.get(self.pos) != Some(&b'=') {
                return self.err(format!("unexpected character after label name {name:?}, expected \"=\""));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.quoted()?;
            pairs.push((name, value));
            self.skip_ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                None => return self.err("unexpected end of input inside braces"),
                Some(_) => return self.err("unexpected character inside braces, expected \",\" or \"}\""),
            }
        }
        self.skip_ws();
        if self.pos != self.s.len() {
            return self.err("unexpected input after label set");
        }
        Ok(Labels::from_pairs(pairs))
    }

    fn name(&mut self) -> Result<String, LabelError> {
        let start = self.pos;
        if self.s.get(self.pos) == Some(&b'"') {
            return self.quoted();
        }
        while self.pos < self.s.len() && (self.s[self.pos] == b'_' || self.s[self.pos].is_ascii_alphanumeric()) {
            self.pos += 1;
        }
        let n = &self.src[start..self.pos];
        if !is_valid_label_name(n) {
            return self.err("unexpected character inside braces, expected a label name");
        }
        Ok(n.to_string())
    }

    fn quoted(&mut self) -> Result<String, LabelError> {
        if !matches!(self.s.get(self.pos), Some(b'"' | b'\'' | b'`')) {
            return self.err("unexpected character, expected a quoted string");
        }
        match super::quote::read_quoted(self.src, self.pos) {
            Ok((v, end)) => {
                self.pos = end;
                Ok(v)
            }
            Err(super::quote::QuoteError::Unterminated(_)) => self.err("unterminated quoted string"),
            Err(super::quote::QuoteError::BadEscape(p)) => {
                self.pos = p;
                self.err("invalid escape sequence")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sorts_and_renders() {
        let l = Labels::parse(r#"{job="x", app="a\"b", empty=""}"#).unwrap();
        assert_eq!(l.to_string(), r#"{app="a\"b", job="x"}"#);
        assert_eq!(l.get("job"), Some("x"));
        assert_eq!(l.get("empty"), None);
        // the cached rendering is the Display form, and a clone shares it
        assert_eq!(l.rendered(), l.to_string());
        assert!(std::ptr::eq(l.clone().rendered(), l.rendered()));
    }

    #[test]
    fn fingerprint_ignores_order() {
        let a = Labels::parse(r#"{a="1",b="2"}"#).unwrap();
        let b = Labels::parse(r#"{ b = "2" , a = "1" }"#).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), Labels::parse(r#"{a="1"}"#).unwrap().fingerprint());
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "a=1", "{a=1}", "{a=\"1\"", "{1a=\"x\"}", "{a=\"x\"} junk", "{a \"x\"}"] {
            assert!(Labels::parse(bad).is_err(), "{bad}");
        }
        assert!(Labels::parse("{}").unwrap().is_empty());
    }

    #[test]
    fn reports_duplicates() {
        let l = Labels::parse(r#"{a="1", a="2"}"#).unwrap();
        assert_eq!(l.duplicate_name(), Some("a"));
    }
}
