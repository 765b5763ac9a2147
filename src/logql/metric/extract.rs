//! Sample extraction: turns one log entry that survived the pipeline into a
//! sample value and its result labels (count → 1, bytes → line length,
//! unwrap → the parsed label value, or `__error__="SampleExtractionErr"`),
//! then applies the label filters after `unwrap` and the range grouping.
//!
//! Built from a range aggregation by the querier; run by the ingester's stream
//! code (memory and store) for every entry in range.

use std::borrow::Cow;

use super::ast::{Grouping, RangeAgg, RangeOp, UnwrapConv};
use crate::logql::error::ParseError;
use crate::logql::pipeline::label_filter::Compiled;
use crate::logql::pipeline::labels::{ERROR_DETAILS_LABEL, ERROR_LABEL};
use crate::logql::pipeline::{Label, LabelsBuilder};
use crate::model::time::{parse_bytes, parse_duration_ns};

pub const SAMPLE_EXTRACTION_ERR: &str = "SampleExtractionErr";

/// Result labels of one sample, borrowed from the entry and the stream.
pub type SampleLabels<'l> = Vec<(Cow<'l, str>, Cow<'l, str>)>;

#[derive(Debug)]
enum Value {
    Count,
    Bytes,
    Unwrap(String, UnwrapConv),
}

#[derive(Debug)]
pub struct Extractor {
    value: Value,
    post: Vec<Compiled>,
    grouping: Option<Grouping>,
}

impl Extractor {
    pub fn new(r: &RangeAgg) -> Result<Extractor, ParseError> {
        let (value, post) = match &r.range.unwrap {
            Some(u) => (
                Value::Unwrap(u.label.clone(), u.conv),
                u.post_filters.iter().map(Compiled::new).collect::<Result<Vec<_>, _>>()?,
            ),
            None if matches!(r.op, RangeOp::Bytes | RangeOp::BytesRate) => (Value::Bytes, Vec::new()),
            None => (Value::Count, Vec::new()),
        };
        Ok(Extractor { value, post, grouping: r.grouping.clone() })
    }

    /// The value of an entry from its line length alone: count and bytes with no
    /// filter after the extraction (`None` when labels decide the value or keep).
    pub fn line_value(&self, line_len: usize) -> Option<f64> {
        if !self.post.is_empty() {
            return None;
        }
        match self.value {
            Value::Count => Some(1.0),
            Value::Bytes => Some(line_len as f64),
            Value::Unwrap(..) => None,
        }
    }

    /// The sample of one processed entry: `None` when a filter after `unwrap`
    /// drops it or the unwrapped label is absent or empty.
    /// The labels stay borrowed: the caller copies them only for a new series.
    pub fn extract<'l>(&self, labels: Vec<Label<'l>>, line_len: usize) -> Option<(f64, SampleLabels<'l>)> {
        let mut b = LabelsBuilder::new(&[], &[]);
        b.replace_labels(labels);
        let v = match &self.value {
            Value::Count => 1.0,
            Value::Bytes => line_len as f64,
            Value::Unwrap(name, conv) => {
                let raw = b.get(name).unwrap_or("").to_string();
                // an entry without the label has no sample (not an error)
                if raw.is_empty() {
                    return None;
                }
                match convert(&raw, *conv) {
                    Ok(v) => {
                        b.del(name);
                        v
                    }
                    Err(details) => {
                        b.set_err(SAMPLE_EXTRACTION_ERR, details);
                        0.0
                    }
                }
            }
        };
        for f in &self.post {
            if !f.keep(&mut b) {
                return None;
            }
        }
        let has_err = b.has_err();
        let labels = b.finish();
        let keep = |k: &str| match &self.grouping {
            _ if has_err => true,
            None => true,
            Some(g) if g.without => !g.labels.iter().any(|l| l == k),
            Some(g) => g.labels.iter().any(|l| l == k),
        };
        let out = labels
            .into_iter()
            .filter(|(k, v, _)| keep(k) && !(v.is_empty() && k != ERROR_LABEL && k != ERROR_DETAILS_LABEL))
            .map(|(k, v, _)| (k, v))
            .collect();
        Some((v, out))
    }
}

/// Converts an unwrapped label value; the error is Go's text for the details label.
pub fn convert(raw: &str, conv: UnwrapConv) -> Result<f64, String> {
    match conv {
        UnwrapConv::Float => {
            let t = raw.trim();
            t.parse::<f64>().map_err(|_| format!("strconv.ParseFloat: parsing {raw:?}: invalid syntax"))
        }
        UnwrapConv::Duration | UnwrapConv::DurationSeconds => {
            parse_duration_ns(raw).map(|ns| ns as f64 / 1e9).map_err(|_| format!("time: invalid duration {raw:?}"))
        }
        UnwrapConv::Bytes => parse_bytes(raw).map(|b| b as f64).map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(convert("1.5", UnwrapConv::Float), Ok(1.5));
        assert_eq!(convert("250ms", UnwrapConv::Duration), Ok(0.25));
        assert_eq!(convert("1.5KB", UnwrapConv::Bytes), Ok(1500.0));
        assert_eq!(
            convert("abc", UnwrapConv::Float).unwrap_err(),
            "strconv.ParseFloat: parsing \"abc\": invalid syntax"
        );
    }
}
