//! The stages that rewrite lines and labels: `line_format`, `label_format`,
//! `drop`, `keep` and `decolorize`.
//!
//! Called by `Pipeline::process`; templates run on `logql::template`.

use std::borrow::Cow;

use crate::logql::ast::NamedMatcher;
use crate::logql::template::{Context, Template};

use super::labels::{Category, LabelsBuilder, ERROR_DETAILS_LABEL, ERROR_LABEL};

pub const TEMPLATE_ERR: &str = "TemplateFormatErr";

#[derive(Debug)]
pub enum LabelFmtOp {
    Rename(String),
    Template(Template),
}

struct Ctx<'a, 'l> {
    b: &'a LabelsBuilder<'l>,
    line: &'a str,
    ts: i64,
}

impl Context for Ctx<'_, '_> {
    fn label(&self, name: &str) -> Option<&str> {
        self.b.get(name)
    }
    fn line(&self) -> &str {
        self.line
    }
    fn timestamp_ns(&self) -> i64 {
        self.ts
    }
}

/// Renders the new line; on a template error the line stays and `__error__` is set.
pub fn line_format(t: &Template, ts: i64, line: &str, b: &mut LabelsBuilder<'_>) -> Option<String> {
    let mut out = String::with_capacity(line.len());
    let res = t.render(&Ctx { b, line, ts }, &mut out);
    match res {
        Ok(()) => Some(out),
        Err(e) => {
            b.set_err(TEMPLATE_ERR, e.to_string());
            None
        }
    }
}

/// Templates see the labels as they were before the stage; renames move values.
pub fn label_format<'l>(ops: &[(String, LabelFmtOp)], ts: i64, line: &str, b: &mut LabelsBuilder<'l>) {
    let mut results: Vec<(usize, Result<String, String>)> = Vec::new();
    for (i, (_, op)) in ops.iter().enumerate() {
        if let LabelFmtOp::Template(t) = op {
            let mut out = String::new();
            let r = t.render(&Ctx { b, line, ts }, &mut out).map(|_| out).map_err(|e| e.to_string());
            results.push((i, r));
        }
    }
    let before: Vec<(String, String, Category)> = ops
        .iter()
        .filter_map(|(_, op)| match op {
            LabelFmtOp::Rename(src) => {
                b.labels().iter().find(|(k, _, _)| k == src).map(|(_, v, c)| (src.clone(), v.to_string(), *c))
            }
            _ => None,
        })
        .collect();
    let mut err = None;
    for (i, (dst, op)) in ops.iter().enumerate() {
        match op {
            LabelFmtOp::Rename(src) => {
                let Some((_, v, cat)) = before.iter().find(|(s, _, _)| s == src) else { continue };
                let v = v.clone();
                if src != dst {
                    b.del(src);
                }
                // a renamed label keeps its category (a stream label stays one)
                b.set(Cow::Owned(dst.clone()), Cow::Owned(v), *cat);
            }
            LabelFmtOp::Template(_) => match results.iter().find(|(j, _)| *j == i).map(|(_, r)| r) {
                Some(Ok(v)) => b.set(Cow::Owned(dst.clone()), Cow::Owned(v.clone()), Category::Parsed),
                Some(Err(e)) => err = Some(e.clone()),
                None => {}
            },
        }
    }
    if let Some(e) = err {
        b.set_err(TEMPLATE_ERR, e);
    }
}

fn hit(m: &NamedMatcher, b: &LabelsBuilder<'_>) -> bool {
    match m {
        NamedMatcher::Name(n) => b.get(n).is_some(),
        NamedMatcher::Matcher(m) => b.get(&m.name).is_some_and(|v| m.matches(v)),
    }
}

pub fn drop(ms: &[NamedMatcher], b: &mut LabelsBuilder<'_>) {
    for m in ms {
        if hit(m, b) {
            b.del(m.name());
        }
    }
}

pub fn keep(ms: &[NamedMatcher], b: &mut LabelsBuilder<'_>) {
    let keep: Vec<bool> = b
        .labels()
        .iter()
        .map(|(k, v, _)| {
            k == ERROR_LABEL
                || k == ERROR_DETAILS_LABEL
                || ms.iter().any(|m| match m {
                    NamedMatcher::Name(n) => n == k,
                    NamedMatcher::Matcher(m) => m.name == *k && m.matches(v),
                })
        })
        .collect();
    let mut it = keep.into_iter();
    b.retain_labels(|_| it.next().unwrap_or(false));
}

/// Strips ANSI escape sequences (`ESC [ params final`); `None` when there are none.
pub fn decolorize(line: &str) -> Option<String> {
    if !line.contains('\x1b') {
        return None;
    }
    let b = line.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == 0x1b && b.get(i + 1) == Some(&b'[') {
            let mut j = i + 2;
            while j < b.len() && (0x30..=0x3f).contains(&b[j]) {
                j += 1;
            }
            while j < b.len() && (0x20..=0x2f).contains(&b[j]) {
                j += 1;
            }
            if j < b.len() && (0x40..=0x7e).contains(&b[j]) {
                i = j + 1;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_colors() {
        assert_eq!(decolorize("\x1b[1;31mERROR\x1b[0m x").as_deref(), Some("ERROR x"));
        assert_eq!(decolorize("plain"), None);
    }

    #[test]
    fn keep_and_drop() {
        let stream = vec![("app".to_string(), "a".to_string()), ("pod".to_string(), "p".to_string())];
        let mut b = LabelsBuilder::new(&stream, &[]);
        b.set_err("X", "d".into());
        keep(&[NamedMatcher::Name("app".into())], &mut b);
        assert_eq!(b.labels().len(), 3);
        drop(&[NamedMatcher::Name(ERROR_LABEL.into())], &mut b);
        assert_eq!(b.labels().len(), 2);
    }
}
