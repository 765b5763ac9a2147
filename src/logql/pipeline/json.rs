//! The `| json` and `| unpack` parsers: a small JSON reader over the line that
//! flattens nested objects (`a_b_c`), skips arrays, keeps what it extracted
//! before a syntax error, and evaluates `| json a="x.y[0][\"k\"]"` paths.
//!
//! Called by `pipeline::Pipeline::process` through [`flatten`], [`extract`] and [`unpack`].

use std::borrow::Cow;

use super::labels::{sanitize_key, LabelsBuilder};

pub const JSON_ERR: &str = "JSONParserErr";

pub use super::json_path::{parse_path, PathElem};

struct Reader<'l> {
    s: &'l str,
    i: usize,
    /// Objects and arrays open around the position: the walk recurses per level,
    /// so a line nested deeper than [`MAX_DEPTH`] is refused, not a stack overflow.
    depth: usize,
}

/// Nesting a line may have (Loki's parser has no limit but a goroutine's growable stack).
const MAX_DEPTH: usize = 1000;

type R<T> = Result<T, String>;

impl<'l> Reader<'l> {
    fn ws(&mut self) {
        let b = self.s.as_bytes();
        while self.i < b.len() && matches!(b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.as_bytes().get(self.i).copied()
    }

    fn err<T>(&self, what: &str) -> R<T> {
        Err(format!("{what} at offset {}", self.i))
    }

    fn eat(&mut self, c: u8) -> R<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            self.err(&format!("expected '{}'", c as char))
        }
    }

    fn string(&mut self) -> R<Cow<'l, str>> {
        self.eat(b'"')?;
        let b = self.s.as_bytes();
        let start = self.i;
        while self.i < b.len() && b[self.i] != b'"' && b[self.i] != b'\\' {
            self.i += 1;
        }
        if self.i >= b.len() {
            return self.err("unterminated string");
        }
        if b[self.i] == b'"' {
            self.i += 1;
            return Ok(Cow::Borrowed(&self.s[start..self.i - 1]));
        }
        let mut out = String::from(&self.s[start..self.i]);
        while self.i < b.len() {
            match b[self.i] {
                b'"' => {
                    self.i += 1;
                    return Ok(Cow::Owned(out));
                }
                b'\\' => {
                    let e = *b.get(self.i + 1).ok_or_else(|| "unterminated escape".to_string())?;
                    self.i += 2;
                    match e {
                        b'n' => out.push('\n'),
                        b't' => out.push('\t'),
                        b'r' => out.push('\r'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp) && self.s[self.i..].starts_with("\\u") {
                                self.i += 2;
                                let lo = self.hex4()?;
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF);
                            }
                            out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                        }
                        c if c.is_ascii() => out.push(c as char),
                        _ => {
                            // a backslash before a non-ASCII character: keep the character whole
                            let ch = self.s[self.i - 1..].chars().next().unwrap_or('\u{FFFD}');
                            out.push(ch);
                            self.i += ch.len_utf8() - 1;
                        }
                    }
                }
                _ => {
                    let ch = self.s[self.i..].chars().next().unwrap_or(' ');
                    out.push(ch);
                    self.i += ch.len_utf8();
                }
            }
        }
        self.err("unterminated string")
    }

    fn hex4(&mut self) -> R<u32> {
        let h = self.s.get(self.i..self.i + 4).ok_or_else(|| "bad escape".to_string())?;
        self.i += 4;
        u32::from_str_radix(h, 16).map_err(|_| "bad escape".to_string())
    }

    /// A number or literal (`true`, `false`, `null`) as written.
    fn scalar(&mut self) -> R<&'l str> {
        self.ws();
        let b = self.s.as_bytes();
        let start = self.i;
        while self.i < b.len() && (b[self.i].is_ascii_alphanumeric() || matches!(b[self.i], b'-' | b'+' | b'.')) {
            self.i += 1;
        }
        let t = &self.s[start..self.i];
        let ok = matches!(t, "true" | "false" | "null") || (!t.is_empty() && t.parse::<f64>().is_ok());
        if ok {
            Ok(t)
        } else {
            self.i = start;
            self.err("invalid value")
        }
    }

    /// Skips any value, returning its raw text.
    fn skip(&mut self) -> R<&'l str> {
        self.ws();
        let start = self.i;
        match self.peek() {
            Some(b'"') => {
                self.string()?;
            }
            Some(b'{') => {
                self.enter()?;
                self.i += 1;
                if self.peek() == Some(b'}') {
                    self.i += 1;
                } else {
                    loop {
                        self.string()?;
                        self.eat(b':')?;
                        self.skip()?;
                        if self.peek() == Some(b',') {
                            self.i += 1;
                            continue;
                        }
                        self.eat(b'}')?;
                        break;
                    }
                }
                self.depth -= 1;
            }
            Some(b'[') => {
                self.enter()?;
                self.i += 1;
                if self.peek() == Some(b']') {
                    self.i += 1;
                } else {
                    loop {
                        self.skip()?;
                        if self.peek() == Some(b',') {
                            self.i += 1;
                            continue;
                        }
                        self.eat(b']')?;
                        break;
                    }
                }
                self.depth -= 1;
            }
            _ => {
                self.scalar()?;
            }
        }
        Ok(&self.s[start..self.i])
    }

    /// Walks an object, emitting flattened leaves as it goes. Top-level keys
    /// that need no sanitising are borrowed from the line; nested ones are built
    /// once, at their exact size. (Its own member loop rather than [`object`]:
    /// `| json` recurses here once per nesting level, and a closure frame per
    /// level would halve the depth a thread's stack allows in debug builds.)
    ///
    /// [`object`]: Self::object
    fn flatten(&mut self, prefix: &str, out: &mut dyn FnMut(Cow<'l, str>, Cow<'l, str>)) -> R<()> {
        self.enter()?;
        self.eat(b'{')?;
        if self.peek() == Some(b'}') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            let k = self.string()?;
            self.eat(b':')?;
            let key: Cow<'l, str> = if prefix.is_empty() {
                match k {
                    Cow::Borrowed(b) => sanitize_key(b, true),
                    Cow::Owned(o) => Cow::Owned(sanitize_key(&o, true).into_owned()),
                }
            } else {
                let part = sanitize_key(&k, false);
                let mut key = String::with_capacity(prefix.len() + 1 + part.len());
                key.push_str(prefix);
                key.push('_');
                key.push_str(&part);
                Cow::Owned(key)
            };
            match self.peek() {
                Some(b'"') => {
                    let v = self.string()?;
                    out(key, v);
                }
                Some(b'{') => self.flatten(&key, out)?,
                Some(b'[') => {
                    self.skip()?;
                }
                _ => {
                    let v = self.scalar()?;
                    if v != "null" {
                        out(key, Cow::Borrowed(v));
                    }
                }
            }
            if self.peek() == Some(b',') {
                self.i += 1;
                continue;
            }
            self.eat(b'}')?;
            self.depth -= 1;
            return Ok(());
        }
    }

    /// Depth-first through an object's members: the first string value whose key
    /// `wanted` accepts; objects nested fewer than `levels` deep are entered too.
    fn find_string_member(&mut self, wanted: &dyn Fn(&str) -> bool, levels: usize) -> R<Option<Cow<'l, str>>> {
        self.object(|r, k| match r.peek() {
            Some(b'"') => {
                let v = r.string()?;
                Ok(wanted(&k).then_some(v))
            }
            Some(b'{') if levels > 1 => r.find_string_member(wanted, levels - 1),
            _ => r.skip().map(|_| None),
        })
    }

    /// Walks the object at the position one member at a time: `member` reads the
    /// value after each key and may stop the walk with an answer. One nesting
    /// level, counted against [`MAX_DEPTH`] (an error leaves the count as it is:
    /// every caller drops the reader after an error).
    fn object<T>(&mut self, mut member: impl FnMut(&mut Self, Cow<'l, str>) -> R<Option<T>>) -> R<Option<T>> {
        self.enter()?;
        self.eat(b'{')?;
        let found = if self.peek() == Some(b'}') {
            self.i += 1;
            None
        } else {
            loop {
                let k = self.string()?;
                self.eat(b':')?;
                if let Some(t) = member(self, k)? {
                    break Some(t);
                }
                if self.peek() == Some(b',') {
                    self.i += 1;
                    continue;
                }
                self.eat(b'}')?;
                break None;
            }
        };
        self.depth -= 1;
        Ok(found)
    }

    /// One more level open; refused past [`MAX_DEPTH`].
    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err("nested too deeply");
        }
        Ok(())
    }

    /// Follows a path from the current value; returns the value's text (strings unquoted).
    fn find(&mut self, path: &[PathElem]) -> R<Option<Cow<'l, str>>> {
        let Some((first, rest)) = path.split_first() else {
            return match self.peek() {
                Some(b'"') => self.string().map(Some),
                Some(b'{') | Some(b'[') => self.skip().map(|s| Some(Cow::Borrowed(s))),
                _ => self.scalar().map(|s| Some(Cow::Borrowed(if s == "null" { "" } else { s }))),
            };
        };
        match (first, self.peek()) {
            (PathElem::Key(want), Some(b'{')) => self
                .object(|r, k| if k == want.as_str() { r.find(rest).map(Some) } else { r.skip().map(|_| None) })
                .map(Option::flatten),
            (PathElem::Index(n), Some(b'[')) => {
                self.i += 1;
                if self.peek() == Some(b']') {
                    return Ok(None);
                }
                let mut idx = 0;
                loop {
                    if idx == *n {
                        return self.find(rest);
                    }
                    self.skip()?;
                    idx += 1;
                    if self.peek() == Some(b',') {
                        self.i += 1;
                        continue;
                    }
                    self.eat(b']')?;
                    return Ok(None);
                }
            }
            _ => Ok(None),
        }
    }
}

/// `| json`: every leaf of the object as a label; `JSONParserErr` on bad JSON
/// (labels found before the error stay).
pub fn flatten<'l>(line: &'l str, b: &mut LabelsBuilder<'l>) {
    b.begin_parse();
    let mut r = Reader { s: line, i: 0, depth: 0 };
    let res = if r.peek() == Some(b'{') {
        r.flatten("", &mut |k, v| b.add_parsed(k, v)).and_then(|_| match r.peek() {
            None => Ok(()),
            Some(_) => r.err("trailing data"),
        })
    } else {
        r.err("Value looks like object, but can't find closing '}' symbol")
    };
    if let Err(e) = res {
        b.set_err(JSON_ERR, e);
    }
}

/// `| json a="path", ...`: only the listed paths (missing ones give "").
pub fn extract<'l>(line: &'l str, params: &[(String, Vec<PathElem>)], b: &mut LabelsBuilder<'l>) {
    b.begin_parse();
    if let Err(e) = (Reader { s: line, i: 0, depth: 0 }).skip() {
        b.set_err(JSON_ERR, e);
        return;
    }
    for (name, path) in params {
        let mut r = Reader { s: line, i: 0, depth: 0 };
        let v = r.find(path).ok().flatten().unwrap_or(Cow::Borrowed(""));
        b.add_parsed(Cow::Owned(name.clone()), v);
    }
}

/// The first string member (depth first, in document order) of a JSON object
/// line whose key `wanted` accepts, looking `levels` objects deep (0: as deep as
/// the parser goes). `None` when there is none or the line is not a JSON object.
/// Used by the distributor's level detection.
pub fn find_string_field<'l>(line: &'l str, wanted: &dyn Fn(&str) -> bool, levels: usize) -> Option<Cow<'l, str>> {
    let levels = if levels == 0 { MAX_DEPTH } else { levels };
    (Reader { s: line, i: 0, depth: 0 }).find_string_member(wanted, levels).ok().flatten()
}

/// `| unpack`: top-level string members become labels; `_entry` replaces the line.
/// Returns the new line when there was an `_entry`.
pub fn unpack<'l>(line: &'l str, b: &mut LabelsBuilder<'l>) -> Option<Cow<'l, str>> {
    b.begin_parse();
    let mut r = Reader { s: line, i: 0, depth: 0 };
    let mut entry = None;
    let mut pairs: Vec<(Cow<'l, str>, Cow<'l, str>)> = Vec::new();
    let res = r.object(|r, k| {
        if r.peek() == Some(b'"') {
            let v = r.string()?;
            if k == "_entry" {
                entry = Some(v);
            } else {
                pairs.push((k, v));
            }
        } else {
            r.skip()?;
        }
        Ok(None::<()>)
    });
    if let Err(e) = res {
        b.set_err(JSON_ERR, e);
        return None;
    }
    for (k, v) in pairs {
        let key = match sanitize_key(&k, true) {
            Cow::Borrowed(_) => k,
            Cow::Owned(s) => Cow::Owned(s),
        };
        b.add_parsed(key, v);
    }
    entry
}

#[cfg(test)]
mod tests;
