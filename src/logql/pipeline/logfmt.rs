//! The `| logfmt` parser (go-logfmt rules): `key=value`, `key="quoted \"value\""`,
//! bare keys; `--strict` stops at the first malformed pair with `LogfmtParserErr`,
//! otherwise malformed pairs are skipped; `--keep-empty` keeps empty values.
//!
//! Called by `pipeline::Pipeline::process` through [`parse`].

use std::borrow::Cow;

use super::labels::{sanitize_key, LabelsBuilder};

pub const LOGFMT_ERR: &str = "LogfmtParserErr";

/// Options of one `| logfmt` stage. `params` maps logfmt keys to label names
/// (empty = extract every key).
#[derive(Clone, Debug, Default)]
pub struct LogfmtOpts {
    pub strict: bool,
    pub keep_empty: bool,
    pub params: Vec<(String, String)>,
}

/// A key and its value (`None` for a bare key).
type Pair<'l> = (&'l str, Option<Cow<'l, str>>);

/// One decoded pair, or a syntax error with its offset.
fn next_pair<'l>(s: &'l str, i: &mut usize) -> Option<Result<Pair<'l>, String>> {
    let b = s.as_bytes();
    while *i < b.len() && b[*i] <= b' ' {
        *i += 1;
    }
    if *i >= b.len() {
        return None;
    }
    let start = *i;
    while *i < b.len() && b[*i] > b' ' && b[*i] != b'=' && b[*i] != b'"' {
        *i += 1;
    }
    let key = &s[start..*i];
    if *i < b.len() && b[*i] == b'"' {
        return Some(Err(format!("logfmt syntax error at pos {}: unexpected '\"'", *i + 1)));
    }
    if key.is_empty() {
        return Some(Err(format!("logfmt syntax error at pos {}: unexpected '='", *i + 1)));
    }
    if *i >= b.len() || b[*i] != b'=' {
        return Some(Ok((key, None)));
    }
    *i += 1;
    if *i < b.len() && b[*i] == b'"' {
        *i += 1;
        let vstart = *i;
        let mut escaped = false;
        while *i < b.len() {
            match b[*i] {
                b'\\' => {
                    escaped = true;
                    *i += 2;
                }
                b'"' => {
                    let raw = &s[vstart..(*i).min(s.len())];
                    *i += 1;
                    let v = if escaped { Cow::Owned(unescape(raw)) } else { Cow::Borrowed(raw) };
                    return Some(Ok((key, Some(v))));
                }
                _ => *i += 1,
            }
        }
        return Some(Err(format!("logfmt syntax error at pos {}: unterminated quoted value", s.len() + 1)));
    }
    let vstart = *i;
    while *i < b.len() && b[*i] > b' ' {
        if b[*i] == b'"' || b[*i] == b'=' {
            return Some(Err(format!("logfmt syntax error at pos {}: unexpected '{}'", *i + 1, b[*i] as char)));
        }
        *i += 1;
    }
    Some(Ok((key, Some(Cow::Borrowed(&s[vstart..*i])))))
}

/// The line's pairs in order, up to the first malformed one (go-logfmt's
/// decoder stops there too). Used by the distributor's level detection.
pub fn pairs(line: &str) -> impl Iterator<Item = (&str, Option<Cow<'_, str>>)> {
    let mut i = 0;
    std::iter::from_fn(move || next_pair(line, &mut i)?.ok())
}

fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut it = raw.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('u') => {
                let h: String = it.by_ref().take(4).collect();
                out.push(u32::from_str_radix(&h, 16).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}'));
            }
            Some(o) => out.push(o),
            None => {}
        }
    }
    out
}

/// Skips the rest of a malformed token (non-strict mode).
fn skip_token(s: &str, i: &mut usize) {
    let b = s.as_bytes();
    while *i < b.len() && b[*i] > b' ' {
        *i += 1;
    }
}

pub fn parse<'l>(line: &'l str, o: &LogfmtOpts, b: &mut LabelsBuilder<'l>) {
    b.begin_parse();
    let mut i = 0;
    while let Some(r) = next_pair(line, &mut i) {
        let (key, val) = match r {
            Ok(kv) => kv,
            Err(e) => {
                if o.strict {
                    b.set_err(LOGFMT_ERR, e);
                    return;
                }
                skip_token(line, &mut i);
                continue;
            }
        };
        let val = val.unwrap_or(Cow::Borrowed(""));
        if val.is_empty() && !o.keep_empty {
            continue;
        }
        if o.params.is_empty() {
            b.add_parsed(sanitize_key(key, true), val);
        } else {
            for (name, k) in &o.params {
                if k == key {
                    b.add_parsed(Cow::Owned(name.clone()), val.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(line: &str, o: &LogfmtOpts) -> Vec<(String, String)> {
        let stream = vec![("app".to_string(), "x".to_string())];
        let mut b = LabelsBuilder::new(&stream, &[]);
        parse(line, o, &mut b);
        b.finish().into_iter().map(|(k, v, _)| (k.into_owned(), v.into_owned())).collect()
    }

    #[test]
    fn pairs_flags_and_errors() {
        let line = r#"a=1 msg="say \"hi\"" bare e= app=y сумма=2 a=3 bad"tok z=9"#;
        let got = run(line, &LogfmtOpts::default());
        assert!(got.contains(&("a".into(), "1".into())));
        assert!(got.contains(&("msg".into(), "say \"hi\"".into())));
        assert!(got.contains(&("app_extracted".into(), "y".into())));
        assert!(got.contains(&("_____".into(), "2".into())));
        assert!(got.contains(&("z".into(), "9".into())));
        assert!(!got.iter().any(|(k, _)| k == "bare" || k == "e"));
        let got = run(line, &LogfmtOpts { keep_empty: true, ..Default::default() });
        assert!(got.contains(&("bare".into(), "".into())));
        let got = run(line, &LogfmtOpts { strict: true, ..Default::default() });
        assert!(got.contains(&("__error__".into(), LOGFMT_ERR.into())));
        assert!(!got.iter().any(|(k, _)| k == "z"));
        let got = run(line, &LogfmtOpts { params: vec![("who".into(), "msg".into())], ..Default::default() });
        assert_eq!(got.len(), 2);
    }
}
