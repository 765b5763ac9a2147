//! Index statistics and volume answers from per-stream counts: merging the
//! ingester's and the store's counts, totals (`/index/stats`), and grouping by
//! target labels with Loki's ordering and limit (`/index/volume*`).
//!
//! `Querier::volume` merges; the HTTP handlers in `api::volume` aggregate.

use std::collections::{BTreeMap, BTreeSet};

use crate::actors::ingester::{StreamVolume, VolumeResult};
use crate::logql::Matcher;
use crate::model::Labels;

/// Joins counts of the same stream (memory and store counted disjoint chunks).
pub fn merge(r: VolumeResult) -> VolumeResult {
    let mut by_labels: BTreeMap<Labels, StreamVolume> = BTreeMap::new();
    for s in r.streams {
        match by_labels.get_mut(&s.labels) {
            None => {
                by_labels.insert(s.labels.clone(), s);
            }
            Some(e) => e.add(s),
        }
    }
    VolumeResult { streams: by_labels.into_values().collect() }
}

/// `/index/stats` totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexStats {
    pub streams: u64,
    pub chunks: u64,
    pub bytes: u64,
    pub entries: u64,
}

pub fn totals(r: &VolumeResult) -> IndexStats {
    let mut t = IndexStats::default();
    for s in &r.streams {
        t.streams += 1;
        t.chunks += s.chunks;
        t.bytes += s.bytes;
        t.entries += s.entries;
    }
    t
}

/// How volume is grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggregateBy {
    /// One series per distinct value set of the target labels.
    Series,
    /// One series per label name (`{name=""}`).
    Labels,
}

/// One volume series: its labels, total bytes and bytes per bucket start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeSeries {
    pub labels: Vec<(String, String)>,
    pub total: u64,
    pub buckets: BTreeMap<i64, u64>,
}

/// Groups stream counts. The grouping labels are `targets` or, without them, the
/// names the matchers use; `aggregateBy=labels` without targets uses every label.
/// Sorted by total bytes descending (ties by labels), at most `limit`.
pub fn aggregate(
    r: &VolumeResult,
    matchers: &[Matcher],
    targets: &[String],
    by: AggregateBy,
    limit: usize,
) -> Vec<VolumeSeries> {
    let names: BTreeSet<&str> = if targets.is_empty() {
        matchers.iter().map(|m| m.name.as_str()).collect()
    } else {
        targets.iter().map(String::as_str).collect()
    };
    let mut groups: BTreeMap<Vec<(String, String)>, VolumeSeries> = BTreeMap::new();
    let mut add = |key: Vec<(String, String)>, s: &StreamVolume| {
        let g = groups.entry(key.clone()).or_insert(VolumeSeries { labels: key, total: 0, buckets: BTreeMap::new() });
        g.total += s.bytes;
        for (b, n) in &s.buckets {
            *g.buckets.entry(*b).or_default() += n;
        }
    };
    for s in &r.streams {
        let pairs = s.labels.pairs();
        match by {
            AggregateBy::Series => {
                let key: Vec<(String, String)> =
                    pairs.iter().filter(|(n, _)| names.contains(n.as_str())).cloned().collect();
                if !key.is_empty() {
                    add(key, s);
                }
            }
            AggregateBy::Labels => {
                for (n, _) in pairs.iter().filter(|(n, _)| targets.is_empty() || names.contains(n.as_str())) {
                    add(vec![(n.clone(), String::new())], s);
                }
            }
        }
    }
    let mut out: Vec<VolumeSeries> = groups.into_values().collect();
    out.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.labels.cmp(&b.labels)));
    out.truncate(limit);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logql::parse_selector;

    fn sv(l: &str, bytes: u64) -> StreamVolume {
        StreamVolume {
            labels: Labels::parse(l).unwrap(),
            chunks: 1,
            entries: bytes / 10,
            bytes,
            buckets: BTreeMap::from([(0, bytes)]),
        }
    }

    #[test]
    fn merge_totals_and_groups() {
        let r = merge(VolumeResult {
            streams: vec![sv(r#"{app="a", pod="1"}"#, 100), sv(r#"{app="a", pod="2"}"#, 50), sv(r#"{app="b"}"#, 200)]
                .into_iter()
                .chain([sv(r#"{app="a", pod="1"}"#, 10)])
                .collect(),
        });
        assert_eq!(totals(&r), IndexStats { streams: 3, chunks: 4, bytes: 360, entries: 36 });
        let m = parse_selector(r#"{app=~".+"}"#).unwrap();
        let g = aggregate(&r, &m, &[], AggregateBy::Series, 10);
        let got: Vec<(String, u64)> = g.iter().map(|s| (s.labels[0].1.clone(), s.total)).collect();
        assert_eq!(got, vec![("b".to_string(), 200), ("a".to_string(), 160)]);
        let g = aggregate(&r, &m, &["pod".to_string()], AggregateBy::Series, 1);
        assert_eq!(g[0].labels, vec![("pod".to_string(), "1".to_string())]);
        assert_eq!(g.len(), 1);
        let g = aggregate(&r, &m, &[], AggregateBy::Labels, 10);
        let got: Vec<(String, u64)> = g.iter().map(|s| (s.labels[0].0.clone(), s.total)).collect();
        assert_eq!(got, vec![("app".to_string(), 360), ("pod".to_string(), 160)]);
    }
}
