//! The per-line label set a pipeline works on: stream labels, structured
//! metadata and extracted labels, each tagged with its category.
//!
//! Created by `Pipeline::process` for every line; stages read and change it;
//! the result is sorted and handed back to the caller (the ingester's stream query).

use std::borrow::Cow;
use std::collections::HashMap;

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
    labels: Vec<Label<'l>>,
    /// Index where the labels added by the running parser stage start.
    mark: usize,
    /// Name to position in `labels`, built once the set is large: a line with
    /// thousands of keys would otherwise cost a scan of the set per key. Names are
    /// unique in `labels`; anything that removes or reorders labels drops it.
    by_name: Option<HashMap<String, usize>>,
}

/// Label sets at least this large are looked up through `by_name`.
const INDEX_FROM: usize = 32;

impl<'l> LabelsBuilder<'l> {
    pub fn new(stream: &'l [(String, String)], meta: &'l [(String, String)]) -> Self {
        let mut labels: Vec<Label<'l>> = Vec::with_capacity(stream.len() + meta.len() + 8);
        labels.extend(
            stream.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str()), Category::Stream)),
        );
        let mut b = LabelsBuilder { stream, labels, mark: 0, by_name: None };
        for (k, v) in meta {
            let key = b.clash_free(Cow::Borrowed(k.as_str()));
            b.set(key, Cow::Borrowed(v.as_str()), Category::Metadata);
        }
        b
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        let i = match &self.by_name {
            Some(ix) => ix.get(name).copied(),
            None => self.labels.iter().position(|(k, _, _)| k == name),
        };
        i.map(|i| self.labels[i].1.as_ref())
    }

    /// The working set, in the order labels were added.
    pub fn labels(&self) -> &[Label<'l>] {
        &self.labels
    }

    /// Keeps the labels `keep` accepts.
    pub fn retain_labels(&mut self, keep: impl FnMut(&Label<'l>) -> bool) {
        self.labels.retain(keep);
        self.by_name = None;
        self.mark = self.mark.min(self.labels.len());
    }

    /// Replaces the working set (names must be unique).
    pub fn replace_labels(&mut self, labels: Vec<Label<'l>>) {
        self.labels = labels;
        self.by_name = None;
        self.mark = self.mark.min(self.labels.len());
    }

    /// The working set, unsorted.
    pub fn into_labels(self) -> Vec<Label<'l>> {
        self.labels
    }

    /// Where `name` is in the set.
    fn position(&mut self, name: &str) -> Option<usize> {
        if self.by_name.is_none() && self.labels.len() < INDEX_FROM {
            return self.labels.iter().position(|(k, _, _)| k == name);
        }
        let labels = &self.labels;
        let ix = self.by_name.get_or_insert_with(|| {
            // the first of equal names, as the scan finds it
            let mut ix = HashMap::with_capacity(labels.len() * 2);
            for (i, (k, _, _)) in labels.iter().enumerate() {
                ix.entry(k.to_string()).or_insert(i);
            }
            ix
        });
        ix.get(name).copied()
    }

    fn push(&mut self, label: Label<'l>) {
        if let Some(ix) = &mut self.by_name {
            ix.entry(label.0.to_string()).or_insert(self.labels.len());
        }
        self.labels.push(label);
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
        match self.position(&name) {
            Some(i) => self.labels[i].1 = value,
            None => self.push((name, value, cat)),
        }
    }

    pub fn del(&mut self, name: &str) {
        if self.get(name).is_some() {
            self.retain_labels(|(k, _, _)| k != name);
        }
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
        match self.position(&key) {
            Some(i) if i >= self.mark => {}
            Some(i) => self.labels[i].1 = value,
            None => self.push((key, value, Category::Parsed)),
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

    #[test]
    fn large_sets_behave_like_small_ones() {
        // the same operations on a set below and above INDEX_FROM give the same answers
        for n in [5usize, 500] {
            let stream = vec![("app".to_string(), "a".to_string())];
            let mut b = LabelsBuilder::new(&stream, &[]);
            b.begin_parse();
            let keys: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
            for k in &keys {
                b.add_parsed(Cow::Owned(k.clone()), "first".into());
            }
            b.add_parsed("k0".into(), "again".into());
            b.add_parsed("app".into(), "clash".into());
            assert_eq!(b.get("k0"), Some("first"), "n={n}: first wins in a stage");
            assert_eq!(b.get("app_extracted"), Some("clash"));
            b.begin_parse();
            b.add_parsed("k1".into(), "next stage".into());
            assert_eq!(b.get("k1"), Some("next stage"), "n={n}: a later stage overwrites");
            b.del("k1");
            assert_eq!(b.get("k1"), None);
            b.set("k1".into(), "set".into(), Category::Parsed);
            b.set(format!("k{}", n - 1).into(), "reset".into(), Category::Parsed);
            assert_eq!(b.get("k1"), Some("set"));
            assert_eq!(b.get(&format!("k{}", n - 1)), Some("reset"));
            b.retain_labels(|(k, _, _)| k != "k2");
            assert_eq!((b.get("k2"), b.get("k3")), (None, Some("first")));
            let names: std::collections::HashSet<String> = b.labels().iter().map(|l| l.0.to_string()).collect();
            assert_eq!(names.len(), b.labels().len(), "n={n}: names stay unique");
            assert_eq!(b.labels().len(), n + 1 + 1 - 1, "n={n}: app, app_extracted, k0..k(n-1) less k2");
        }
    }
}
