//! The per-line label set a pipeline works on: stream labels, structured
//! metadata and extracted labels, each tagged with its category.
//!
//! Created by `Pipeline::process` for every line; stages read and change it;
//! the result is sorted and handed back to the caller (the ingester's stream query).

use std::borrow::Cow;

pub const ERROR_LABEL: &str = "__error__";
pub const ERROR_DETAILS_LABEL: &str = "__error_details__";

/// Where a result label came from (drives the categorize-labels encoding).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    Stream,
    Metadata,
    Parsed,
}

/// One label of the working set; borrowed from the stream or entry when possible.
pub type Label<'l> = (Cow<'l, str>, Cow<'l, str>, Category);

pub struct LabelsBuilder<'l> {
    pub stream: &'l [(String, String)],
    pub labels: Vec<Label<'l>>,
    /// Index where the labels added by the running parser stage start.
    mark: usize,
}

impl<'l> LabelsBuilder<'l> {
    pub fn new(stream: &'l [(String, String)], meta: &'l [(String, String)]) -> Self {
        let mut labels: Vec<Label<'l>> = Vec::with_capacity(stream.len() + meta.len() + 8);
        labels.extend(
            stream.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str()), Category::Stream)),
        );
        let mut b = LabelsBuilder { stream, labels, mark: 0 };
        for (k, v) in meta {
            let key = b.clash_free(Cow::Borrowed(k.as_str()));
            b.set(key, Cow::Borrowed(v.as_str()), Category::Metadata);
        }
        b
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _, _)| k == name).map(|(_, v, _)| v.as_ref())
    }

    pub fn has_err(&self) -> bool {
        self.get(ERROR_LABEL).is_some_and(|v| !v.is_empty())
    }

    /// Sets a pipeline error (the first one wins) and its details.
    pub fn set_err(&mut self, err: &'static str, details: String) {
        if self.has_err() {
            return;
        }
        self.set(Cow::Borrowed(ERROR_LABEL), Cow::Borrowed(err), Category::Parsed);
        self.set(Cow::Borrowed(ERROR_DETAILS_LABEL), Cow::Owned(details), Category::Parsed);
    }

    /// Sets a label, replacing the value of an existing one (keeping its category).
    pub fn set(&mut self, name: Cow<'l, str>, value: Cow<'l, str>, cat: Category) {
        match self.labels.iter_mut().find(|(k, _, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.labels.push((name, value, cat)),
        }
    }

    pub fn del(&mut self, name: &str) {
        self.labels.retain(|(k, _, _)| k != name);
    }

    /// `key_extracted` when the key names a stream label.
    pub fn clash_free(&self, key: Cow<'l, str>) -> Cow<'l, str> {
        if self.stream.iter().any(|(k, _)| *k == key) {
            Cow::Owned(format!("{key}_extracted"))
        } else {
            key
        }
    }

    /// Starts a parser stage: within it the first occurrence of a key wins.
    pub fn begin_parse(&mut self) {
        self.mark = self.labels.len();
    }

    /// Adds a label extracted by the running parser stage (clash rule applied).
    pub fn add_parsed(&mut self, key: Cow<'l, str>, value: Cow<'l, str>) {
        if key.is_empty() {
            return;
        }
        let key = self.clash_free(key);
        match self.labels.iter().position(|(k, _, _)| *k == key) {
            Some(i) if i >= self.mark => {}
            Some(i) => self.labels[i].1 = value,
            None => self.labels.push((key, value, Category::Parsed)),
        }
    }

    /// Whether a key is already present from the running parser stage.
    pub fn parsed_in_stage(&self, key: &str) -> bool {
        self.labels[self.mark.min(self.labels.len())..].iter().any(|(k, _, _)| k == key)
    }

    /// The final label set, sorted by name.
    pub fn finish(mut self) -> Vec<Label<'l>> {
        self.labels.sort_by(|a, b| a.0.cmp(&b.0));
        self.labels
    }
}

/// Loki's key sanitising for extracted labels: surrounding spaces trimmed,
/// every rune outside `[a-zA-Z0-9_]` replaced by `_`, and a leading digit
/// prefixed with `_` when the key starts a label name (`is_prefix`).
pub fn sanitize_key(key: &str, is_prefix: bool) -> Cow<'_, str> {
    let key = key.trim();
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let digit_first = is_prefix && key.starts_with(|c: char| c.is_ascii_digit());
    if !digit_first && key.chars().all(ok) {
        return Cow::Borrowed(key);
    }
    let mut out = String::with_capacity(key.len() + 1);
    if digit_first {
        out.push('_');
    }
    out.extend(key.chars().map(|c| if ok(c) { c } else { '_' }));
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clash_and_first_wins() {
        let stream = vec![("app".to_string(), "a".to_string())];
        let meta = vec![("app".to_string(), "m".to_string()), ("t".to_string(), "1".to_string())];
        let mut b = LabelsBuilder::new(&stream, &meta);
        assert_eq!(b.get("app_extracted"), Some("m"));
        b.begin_parse();
        b.add_parsed("x".into(), "1".into());
        b.add_parsed("x".into(), "2".into());
        b.add_parsed("t".into(), "3".into());
        assert_eq!(b.get("x"), Some("1"));
        assert_eq!(b.get("t"), Some("3"));
        b.set_err("JSONParserErr", "d".into());
        b.set_err("LogfmtParserErr", "e".into());
        assert_eq!(b.get(ERROR_LABEL), Some("JSONParserErr"));
        assert_eq!(sanitize_key("user-agent.ü", true), "user_agent__");
        assert_eq!(sanitize_key(" 1a:b ", true), "_1a_b");
        assert_eq!(sanitize_key("1a", false), "1a");
    }
}
