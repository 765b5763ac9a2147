//! The compiled log pipeline: runs the stages of a log query over one entry.
//!
//! [`Pipeline::compile`] is called by the parser (so bad regexes, patterns and
//! templates are 400s at parse time); [`Pipeline::process`] is called by the
//! ingester's stream query for every entry in range. It returns `None` when a
//! stage filters the line out, else the (possibly rewritten) line and the result
//! labels: stream labels + structured metadata + extracted labels.

pub mod format;
pub mod json;
pub mod json_path;
pub mod label_filter;
pub mod labels;
pub mod logfmt;
pub mod simplify;

use std::borrow::Cow;

use super::ast::{LabelFmt, NamedMatcher, Stage};
use super::error::ParseError;
use super::filter::CompiledFilter;
use super::pattern::{Node, Pattern};
use super::template::Template;
pub use labels::{Category, Label, LabelsBuilder};

/// A compiled stage.
#[derive(Debug)]
enum Step {
    Line(CompiledFilter),
    Json,
    JsonParams(Vec<(String, Vec<json::PathElem>)>),
    Logfmt(logfmt::LogfmtOpts),
    Regexp(regex::Regex, Vec<String>),
    Pattern(Pattern),
    Unpack,
    LabelFilter(label_filter::Compiled),
    LineFormat(Template),
    LabelFormat(Vec<(String, format::LabelFmtOp)>),
    Drop(Vec<NamedMatcher>),
    Keep(Vec<NamedMatcher>),
    Decolorize,
}

#[derive(Debug, Default)]
pub struct Pipeline {
    steps: Vec<Step>,
    /// True when only line filters run: result labels are stream labels + metadata.
    filters_only: bool,
}

/// What survived the pipeline: the rewritten line (if any stage changed it) and
/// the result labels sorted by name.
pub struct Processed<'l> {
    pub line: Option<String>,
    pub labels: Vec<Label<'l>>,
}

impl Pipeline {
    pub fn compile(stages: &[Stage]) -> Result<Pipeline, ParseError> {
        let mut steps = Vec::with_capacity(stages.len());
        for s in stages {
            steps.push(match s {
                Stage::Line(f) => Step::Line(f.compiled.clone()),
                Stage::Json(ps) if ps.is_empty() => Step::Json,
                Stage::Json(ps) => Step::JsonParams(
                    ps.iter()
                        .map(|(k, e)| json::parse_path(e).map(|p| (k.clone(), p)).map_err(ParseError::Invalid))
                        .collect::<Result<_, _>>()?,
                ),
                Stage::Logfmt { strict, keep_empty, params } => Step::Logfmt(logfmt::LogfmtOpts {
                    strict: *strict,
                    keep_empty: *keep_empty,
                    params: params.clone(),
                }),
                Stage::Regexp(r) => compile_regexp(r)?,
                Stage::Pattern(p) => {
                    let pat =
                        Pattern::parse(p).map_err(|e| ParseError::Invalid(format!("invalid pattern parser: {e}")))?;
                    if !pat.nodes.iter().any(|n| matches!(n, Node::Capture(c) if c != "_")) {
                        return Err(ParseError::Invalid(
                            "invalid pattern parser: at least one capture is required".into(),
                        ));
                    }
                    Step::Pattern(pat)
                }
                Stage::Unpack => Step::Unpack,
                Stage::LabelFilter(e) => Step::LabelFilter(label_filter::Compiled::new(e)?),
                Stage::LineFormat(t) => Step::LineFormat(
                    Template::parse(t).map_err(|e| ParseError::Invalid(format!("invalid line template: {e}")))?,
                ),
                Stage::LabelFormat(items) => Step::LabelFormat(compile_label_fmt(items)?),
                Stage::Drop(ms) => Step::Drop(ms.clone()),
                Stage::Keep(ms) => Step::Keep(ms.clone()),
                Stage::Decolorize => Step::Decolorize,
            });
        }
        let filters_only = steps.iter().all(|s| matches!(s, Step::Line(_)));
        Ok(Pipeline { steps, filters_only })
    }

    /// True when the pipeline only has line filters (labels are never changed).
    pub fn filters_only(&self) -> bool {
        self.filters_only
    }

    /// Line filters only, for the fast path.
    pub fn keep_line(&self, line: &[u8]) -> bool {
        self.steps.iter().all(|s| match s {
            Step::Line(f) => f.matches(line),
            _ => true,
        })
    }

    /// Runs every stage over one entry.
    pub fn process<'l>(
        &self,
        ts: i64,
        line: &'l str,
        stream: &'l [(String, String)],
        meta: &'l [(String, String)],
    ) -> Option<Processed<'l>> {
        if self.filters_only {
            if !self.keep_line(line.as_bytes()) {
                return None;
            }
            return Some(Processed { line: None, labels: LabelsBuilder::new(stream, meta).finish() });
        }
        let mut b = LabelsBuilder::new(stream, meta);
        let mut cur: Cow<'l, str> = Cow::Borrowed(line);
        let mut changed = false;
        for step in &self.steps {
            match step {
                Step::Line(f) => {
                    if !f.matches(cur.as_bytes()) {
                        return None;
                    }
                }
                Step::Json => with_line(&cur, &mut b, json::flatten),
                Step::JsonParams(ps) => with_line(&cur, &mut b, |l, b| json::extract(l, ps, b)),
                Step::Logfmt(o) => with_line(&cur, &mut b, |l, b| logfmt::parse(l, o, b)),
                Step::Regexp(re, names) => with_line(&cur, &mut b, |l, b| {
                    b.begin_parse();
                    if let Some(c) = re.captures(l) {
                        for (i, name) in names.iter().enumerate() {
                            if name.is_empty() {
                                continue;
                            }
                            let v = c.get(i).map(|m| m.as_str()).unwrap_or("");
                            b.add_parsed(Cow::Owned(name.clone()), Cow::Owned(v.to_string()));
                        }
                    }
                }),
                Step::Pattern(p) => with_line(&cur, &mut b, |l, b| {
                    b.begin_parse();
                    for (name, v) in p.parse_captures(l.as_bytes()) {
                        let v = String::from_utf8_lossy(v).into_owned();
                        b.add_parsed(Cow::Owned(name.to_string()), Cow::Owned(v));
                    }
                }),
                Step::Unpack => {
                    if let Some(e) = with_line(&cur, &mut b, |l, b| json::unpack(l, b).map(Cow::into_owned)) {
                        cur = Cow::Owned(e);
                        changed = true;
                    }
                }
                Step::LabelFilter(f) => {
                    if !f.keep(&mut b) {
                        return None;
                    }
                }
                Step::LineFormat(t) => {
                    if let Some(s) = format::line_format(t, ts, &cur, &mut b) {
                        cur = Cow::Owned(s);
                        changed = true;
                    }
                }
                Step::LabelFormat(ops) => format::label_format(ops, ts, &cur, &mut b),
                Step::Drop(ms) => format::drop(ms, &mut b),
                Step::Keep(ms) => format::keep(ms, &mut b),
                Step::Decolorize => {
                    if let Some(s) = format::decolorize(&cur) {
                        cur = Cow::Owned(s);
                        changed = true;
                    }
                }
            }
        }
        let line = if changed { Some(cur.into_owned()) } else { None };
        Some(Processed { line, labels: b.finish() })
    }
}

/// Runs a parser over the current line. Parsers borrow from the line they read;
/// when the line was rewritten earlier, extracted values are made owned.
/// (Takes the `Cow` itself: only a borrowed line lives as long as `'l`.)
#[allow(clippy::ptr_arg)]
fn with_line<'l, T>(
    cur: &Cow<'l, str>,
    b: &mut LabelsBuilder<'l>,
    f: impl for<'x> FnOnce(&'x str, &mut LabelsBuilder<'x>) -> T,
) -> T {
    match cur {
        Cow::Borrowed(l) => f(l, b),
        Cow::Owned(s) => {
            let mut inner = LabelsBuilder::new(b.stream, &[]);
            inner.replace_labels(b.labels().to_vec());
            let out = f(s, &mut inner);
            b.replace_labels(
                inner
                    .into_labels()
                    .into_iter()
                    .map(|(k, v, c)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned()), c))
                    .collect(),
            );
            out
        }
    }
}

fn compile_regexp(src: &str) -> Result<Step, ParseError> {
    let re = super::regex::compile(src, false).map_err(|e| {
        let mut text = super::regex::error_text(src, &e);
        if text.contains("missing closing ]") {
            if let Some(at) = src.rfind('[') {
                text = format!("error parsing regexp: missing closing ]: `{}`", &src[at..]);
            }
        }
        ParseError::Invalid(format!("invalid regexp parser: {text}"))
    })?;
    let names: Vec<String> = re.capture_names().map(|n| n.unwrap_or("").to_string()).collect();
    if names.iter().all(String::is_empty) {
        return Err(ParseError::Invalid("invalid regexp parser: at least one named capture must be supplied".into()));
    }
    for n in names.iter().filter(|n| !n.is_empty()) {
        if !crate::model::labels::is_valid_label_name(n) {
            return Err(ParseError::Invalid(format!("invalid regexp parser: invalid extracted label name '{n}'")));
        }
    }
    Ok(Step::Regexp(re, names))
}

fn compile_label_fmt(items: &[LabelFmt]) -> Result<Vec<(String, format::LabelFmtOp)>, ParseError> {
    items
        .iter()
        .map(|i| {
            let op = if i.template {
                format::LabelFmtOp::Template(
                    Template::parse(&i.value)
                        .map_err(|e| ParseError::Invalid(format!("invalid template for label '{}': {e}", i.dst)))?,
                )
            } else {
                format::LabelFmtOp::Rename(i.value.clone())
            };
            Ok((i.dst.clone(), op))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::logql::{parse, Expr};

    fn run(q: &str, line: &str) -> Option<(String, Vec<(String, String)>)> {
        let Expr::Log(l) = parse(q).unwrap() else { panic!("log query expected") };
        let stream = vec![("app".to_string(), "a".to_string())];
        let p = l.pipeline.process(1_000_000_000, line, &stream, &[])?;
        let labels = p.labels.into_iter().map(|(k, v, _)| (k.into_owned(), v.into_owned())).collect();
        Some((p.line.unwrap_or_else(|| line.to_string()), labels))
    }

    #[test]
    fn lines_with_many_keys_take_the_indexed_path_with_the_same_answers() {
        // 40 keys is past the label set's index threshold; the answers must be what
        // the small-set path gives: parsed keys, `_extracted` clashes, first wins,
        // drop, rename, and a filter on the last key
        let mut line: String = (0..40).map(|i| format!("k{i}=v{i} ")).collect();
        line.push_str("app=x k0=again");
        let (_, labels) = run(r#"{app="a"} | logfmt | drop k3 | label_format n=k4 | k39="v39""#, &line).expect("kept");
        let mut want: Vec<(String, String)> =
            (0..40).filter(|i| *i != 3 && *i != 4).map(|i| (format!("k{i}"), format!("v{i}"))).collect();
        want.extend([("app".into(), "a".into()), ("app_extracted".into(), "x".into()), ("n".into(), "v4".into())]);
        want.sort();
        assert_eq!(labels, want);
        assert!(run(r#"{app="a"} | logfmt | k39="nope""#, &line).is_none());
    }

    #[test]
    fn end_to_end_stages() {
        let (line, labels) = run(
            r#"{app="a"} | logfmt | status >= 500 | line_format "{{.method}} {{.status}}""#,
            "method=GET status=503",
        )
        .unwrap();
        assert_eq!(line, "GET 503");
        assert_eq!(labels.len(), 3);
        assert!(run(r#"{app="a"} | logfmt | status >= 500"#, "method=GET status=200").is_none());
        let (line, _) = run(r#"{app="a"} | json | line_format "{{.a}}" | json x="b""#, r#"{"a":"{\"b\":7}"}"#).unwrap();
        assert_eq!(line, r#"{"b":7}"#);
        let (_, labels) =
            run(r#"{app="a"} | json | line_format "{{.a}}" | json x="b""#, r#"{"a":"{\"b\":7}"}"#).unwrap();
        assert!(labels.contains(&("x".into(), "7".into())));
        let (_, labels) = run(r#"{app="a"} | regexp "(?P<n>\\d+)" | drop app"#, "took 42").unwrap();
        assert_eq!(labels, vec![("n".to_string(), "42".to_string())]);
    }
}
