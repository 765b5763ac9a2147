//! Pattern expressions (`<ip> - <_> "<method> <uri>"`): literals and captures.
//! Used by the `|>` / `!>` line filters ([`Pattern::matches`]) and by the
//! `| pattern` parser ([`Pattern::parse_captures`]).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Literal(Vec<u8>),
    /// A named capture; `_` is the anonymous one.
    Capture(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub nodes: Vec<Node>,
}

impl Pattern {
    pub fn parse(src: &str) -> Result<Pattern, String> {
        let mut nodes = Vec::new();
        let mut lit = Vec::new();
        let mut rest = src;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('<') {
                if let Some(end) = after.find('>') {
                    let name = &after[..end];
                    if !name.is_empty() && crate::model::labels::is_valid_label_name(name) {
                        if !lit.is_empty() {
                            nodes.push(Node::Literal(std::mem::take(&mut lit)));
                        }
                        if matches!(nodes.last(), Some(Node::Capture(_))) {
                            return Err("found consecutive capture: invalid expression".into());
                        }
                        nodes.push(Node::Capture(name.to_string()));
                        rest = &after[end + 1..];
                        continue;
                    }
                }
            }
            let ch = rest.chars().next().unwrap_or(' ');
            lit.extend_from_slice(&rest.as_bytes()[..ch.len_utf8()]);
            rest = &rest[ch.len_utf8()..];
        }
        if !lit.is_empty() {
            nodes.push(Node::Literal(lit));
        }
        if nodes.is_empty() {
            return Err("syntax error: empty pattern".into());
        }
        Ok(Pattern { nodes })
    }

    /// Matches a line: a leading literal must start the line, each capture takes
    /// text up to the next literal, a trailing capture takes the rest.
    /// Returns the captured (name, value) spans on success.
    pub fn captures<'l>(&self, line: &'l [u8]) -> Option<Vec<(&str, &'l [u8])>> {
        let mut out = Vec::new();
        let mut pos = 0;
        let mut i = 0;
        while i < self.nodes.len() {
            match &self.nodes[i] {
                Node::Literal(l) => {
                    if !line[pos..].starts_with(l) {
                        return None;
                    }
                    pos += l.len();
                }
                Node::Capture(name) => match self.nodes.get(i + 1) {
                    Some(Node::Literal(l)) => {
                        let at = memchr::memmem::find(&line[pos..], l)?;
                        out.push((name.as_str(), &line[pos..pos + at]));
                        pos += at + l.len();
                        i += 1;
                    }
                    _ => {
                        out.push((name.as_str(), &line[pos..]));
                        pos = line.len();
                    }
                },
            }
            i += 1;
        }
        Some(out)
    }

    /// The `| pattern` parser's reading (Loki's matcher): a leading literal must
    /// start the line (else nothing is captured); each capture runs to the next
    /// literal, and when that literal is missing the capture takes the rest of
    /// the line and matching stops. Returns the named captures found.
    pub fn parse_captures<'l>(&self, line: &'l [u8]) -> Vec<(&str, &'l [u8])> {
        let mut out = Vec::new();
        let mut rest = line;
        let mut nodes = &self.nodes[..];
        if let Some(Node::Literal(l)) = nodes.first() {
            if !rest.starts_with(l) {
                return out;
            }
            rest = &rest[l.len()..];
            nodes = &nodes[1..];
        }
        while let Some(Node::Capture(name)) = nodes.first() {
            let named = name != "_";
            let Some(Node::Literal(l)) = nodes.get(1) else {
                if named {
                    out.push((name.as_str(), rest));
                }
                return out;
            };
            nodes = &nodes[2..];
            match memchr::memmem::find(rest, l) {
                Some(at) => {
                    if named {
                        out.push((name.as_str(), &rest[..at]));
                    }
                    rest = &rest[at + l.len()..];
                }
                None => {
                    if named {
                        out.push((name.as_str(), rest));
                    }
                    return out;
                }
            }
        }
        out
    }

    pub fn matches(&self, line: &[u8]) -> bool {
        self.captures(line).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_and_captures() {
        let p = Pattern::parse(r#"<ip> - <_> "<method> <uri> <_>" <status>"#).unwrap();
        let line = br#"1.2.3.4 - - [x] "GET /a HTTP/1.1" 200 5"#;
        let caps = p.captures(line).unwrap();
        assert_eq!(caps[0], ("ip", &b"1.2.3.4"[..]));
        assert_eq!(caps[2], ("method", &b"GET"[..]));
        assert_eq!(caps[5], ("status", &b"200 5"[..]));
        let f = Pattern::parse("<_> level=error <_>").unwrap();
        assert!(f.matches(b"ts=1 level=error msg=x"));
        assert!(!f.matches(b"ts=1 level=info msg=x"));
        assert!(Pattern::parse("<a><b>").is_err());
        let p = Pattern::parse("<a> - <b> [<c>]").unwrap();
        assert_eq!(p.parse_captures(b"x - y z"), vec![("a", &b"x"[..]), ("b", &b"y z"[..])]);
        assert!(Pattern::parse("[<a>]").unwrap().parse_captures(b"x]").is_empty());
    }
}
