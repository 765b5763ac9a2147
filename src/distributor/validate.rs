//! Push validation with Loki's limits, texts and discard reasons.
//!
//! Label checks reject a whole stream; entry checks reject single entries. Every
//! rejection is counted in `loki_discarded_samples_total{reason}` and its text
//! collected into [`GroupedErrors`], which renders Loki's combined 400 body.

use std::collections::BTreeMap;

use crate::config::Limits;
use crate::metrics::metrics;
use crate::model::time::rfc3339_secs;
use crate::model::{Entry, Labels, StreamPush};

use super::RawStream;

/// Validation errors grouped as Loki does: one error alone is sent bare; otherwise
/// each distinct text is prefixed `N errors like: ` and the groups joined by `; `.
#[derive(Default, Debug)]
pub struct GroupedErrors {
    counts: BTreeMap<String, usize>,
    order: Vec<String>,
}

impl GroupedErrors {
    pub fn add(&mut self, msg: String) {
        let n = self.counts.entry(msg.clone()).or_insert(0);
        if *n == 0 {
            self.order.push(msg);
        }
        *n += 1;
    }

    pub fn render(&self) -> Option<String> {
        match self.order.len() {
            0 => None,
            1 if self.counts[&self.order[0]] == 1 => Some(self.order[0].clone()),
            _ => Some(
                self.order
                    .iter()
                    .map(|m| format!("{} errors like: {m}", self.counts[m]))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        }
    }
}

fn stream_bytes(entries: &[Entry]) -> u64 {
    entries.iter().map(|e| (e.line.len() + e.metadata_size()) as u64).sum()
}

/// The reason and text for a label set that breaks a limit, if any.
fn check_labels(labels: &Labels, l: &Limits) -> Option<(&'static str, String)> {
    if labels.is_empty() {
        return Some(("missing_labels", "error at least one label pair is required per stream".into()));
    }
    let count = labels.len() - usize::from(labels.get("service_name").is_some());
    if count > l.max_label_names_per_series {
        return Some((
            "max_label_names_per_series",
            format!("entry for stream '{labels}' has {count} label names; limit {}", l.max_label_names_per_series),
        ));
    }
    let mut prev: Option<&str> = None;
    for (n, v) in labels.pairs() {
        if n.len() > l.max_label_name_length {
            return Some(("label_name_too_long", format!("stream '{labels}' has label name too long: '{n}'")));
        }
        if v.len() > l.max_label_value_length {
            return Some(("label_value_too_long", format!("stream '{labels}' has label value too long: '{v}'")));
        }
        if prev == Some(n.as_str()) {
            return Some(("duplicate_label_names", format!("stream '{labels}' has duplicate label name: '{n}'")));
        }
        prev = Some(n);
    }
    None
}

/// The reason and text for an entry that breaks a limit; may truncate the line.
fn check_entry(e: &mut Entry, labels: &Labels, l: &Limits, now: i64) -> Option<(&'static str, String)> {
    if l.reject_old_samples {
        let oldest = now - l.reject_old_samples_max_age.as_nanos_i64();
        if e.ts < oldest {
            return Some((
                "greater_than_max_sample_age",
                format!(
                    "entry for stream '{labels}' has timestamp too old: {}, oldest acceptable timestamp is: {}",
                    rfc3339_secs(e.ts),
                    rfc3339_secs(oldest)
                ),
            ));
        }
    }
    if e.ts > now.saturating_add(l.creation_grace_period.as_nanos_i64()) {
        return Some((
            "too_far_in_future",
            format!("entry for stream '{labels}' has timestamp too new: {}", rfc3339_secs(e.ts)),
        ));
    }
    let max = l.max_line_size.0 as usize;
    if max > 0 && e.line.len() > max {
        if l.max_line_size_truncate {
            let mut cut = max;
            while cut > 0 && !e.line_str().is_char_boundary(cut) {
                cut -= 1;
            }
            e.line = e.line.slice(..cut);
        } else {
            return Some((
                "line_too_long",
                format!(
                    "Max entry size '{max}' bytes exceeded for stream '{labels}' while adding an entry with length '{}' bytes",
                    e.line.len()
                ),
            ));
        }
    }
    if !e.metadata.is_empty() {
        if !l.allow_structured_metadata {
            return Some(("disallowed_structured_metadata", format!("stream '{labels}' includes structured metadata, but this feature is disallowed. Please see `limits_config.allow_structured_metadata` or contact your Loki administrator to enable it.")));
        }
        let size = e.metadata_size() as u64;
        if l.max_structured_metadata_size.0 > 0 && size > l.max_structured_metadata_size.0 {
            return Some(("structured_metadata_too_large", format!("stream '{labels}' has structured metadata too large: '{size}' bytes, limit: '{}' bytes. Please see `limits_config.max_structured_metadata_size` or contact your Loki administrator to increase it.", l.max_structured_metadata_size.0)));
        }
        let n = e.metadata.len();
        if l.max_structured_metadata_entries_count > 0 && n > l.max_structured_metadata_entries_count {
            return Some(("structured_metadata_too_many", format!("stream '{labels}' has too many structured metadata labels: '{n}', limit: '{}'. Please see `limits_config.max_structured_metadata_entries_count` or contact your Loki administrator to increase it.", l.max_structured_metadata_entries_count)));
        }
    }
    None
}

/// Returns the valid streams (with only their valid entries); records the rest.
pub fn validate(
    tenant: &str,
    streams: Vec<RawStream>,
    l: &Limits,
    now: i64,
    errors: &mut GroupedErrors,
) -> Vec<StreamPush> {
    let m = metrics();
    let mut out = Vec::with_capacity(streams.len());
    for s in streams {
        if s.entries.is_empty() {
            continue;
        }
        let labels = s.labels;
        if let Some((reason, msg)) = check_labels(&labels, l) {
            let bytes = stream_bytes(&s.entries);
            m.discard(reason, tenant, s.entries.len() as u64, bytes);
            if reason != "missing_labels" {
                m.discard("invalid_labels", tenant, s.entries.len() as u64, bytes);
            }
            errors.add(msg);
            continue;
        }
        let mut entries = s.entries;
        let discover = l.discover_log_levels && l.allow_structured_metadata;
        entries.retain_mut(|e| match check_entry(e, &labels, l, now) {
            None => {
                // after validation: the added pair does not count against the metadata limits
                if discover {
                    super::levels::discover(e, &labels, l);
                }
                true
            }
            Some((reason, msg)) => {
                m.discard(reason, tenant, 1, (e.line.len() + e.metadata_size()) as u64);
                errors.add(msg);
                false
            }
        });
        if !entries.is_empty() {
            out.push(StreamPush::new(labels, entries));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(labels: &str, entries: Vec<Entry>) -> RawStream {
        let cache = super::super::labels::LabelCache::new(Limits::default().discover_service_name);
        RawStream { labels: cache.resolve(labels).unwrap(), entries }
    }

    #[test]
    fn grouping_follows_loki() {
        let mut g = GroupedErrors::default();
        assert_eq!(g.render(), None);
        g.add("a".into());
        assert_eq!(g.render().unwrap(), "a");
        g.add("a".into());
        assert_eq!(g.render().unwrap(), "2 errors like: a");
        g.add("b".into());
        assert_eq!(g.render().unwrap(), "2 errors like: a; 1 errors like: b");
    }

    #[test]
    fn partial_acceptance_and_texts() {
        let limits = Limits { max_label_names_per_series: 2, ..Limits::default() };
        let now = 1_700_000_000_000_000_000;
        let mut errs = GroupedErrors::default();
        let long = "x".repeat(300_000);
        let out = validate(
            "t",
            vec![
                raw(r#"{app="a"}"#, vec![Entry::new(now, "ok"), Entry::new(now, long)]),
                raw(r#"{a="1", b="2", c="3"}"#, vec![Entry::new(now, "x")]),
                raw(r#"{app="old"}"#, vec![Entry::new(now - 8 * 86_400_000_000_000, "x")]),
            ],
            &limits,
            now,
            &mut errs,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].entries.len(), 1);
        assert_eq!(out[0].labels.to_string(), r#"{app="a", service_name="a"}"#);
        let msg = errs.render().unwrap();
        assert!(msg.contains("1 errors like: Max entry size '256000' bytes exceeded for stream '{app=\"a\", service_name=\"a\"}' while adding an entry with length '300000' bytes"), "{msg}");
        assert!(msg.contains("has 3 label names; limit 2"), "{msg}");
        assert!(
            msg.contains(
                "has timestamp too old: 2023-11-06T22:13:20Z, oldest acceptable timestamp is: 2023-11-07T22:13:20Z"
            ),
            "{msg}"
        );
    }
}
