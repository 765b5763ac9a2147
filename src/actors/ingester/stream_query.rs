//! Log queries over one stream's chunks (the reading itself is `LogCollector`'s)
//! and `Groups`, the distinct result label sets of a query.
//!
//! Called by the shard actor for ingester memory; the store reader feeds its
//! chunks to a `LogCollector` as it fetches them.

use std::borrow::Cow;
use std::hash::{BuildHasher, Hasher};

use super::log_collect::LogCollector;
use super::stream::Stream;
use super::{LogRequest, ScanStats, StreamEntries};
use crate::logql::pipeline::{Category, Label};
use crate::model::{FastMap, Labels};
use crate::storage::chunk::{ChunkError, MemChunk};

impl Stream {
    /// Entries in `[start, end)` that pass the query's pipeline, at most `limit`,
    /// in the request's direction, exact duplicates removed, grouped by their
    /// result label set (one group per distinct set). Chunks are read newest
    /// first for backward queries (oldest first for forward ones) and reading
    /// stops where nothing more can make the answer (`LogCollector`).
    pub fn query(&self, req: &LogRequest, stats: &mut ScanStats) -> Result<Vec<StreamEntries>, ChunkError> {
        let mut c = LogCollector::new(req);
        let mut chunks: Vec<&MemChunk> = self.chunks().collect();
        c.order(&mut chunks, |m| (m.min_ts, m.max_ts));
        let stream = self.labels.pairs();
        let r = chunks.into_iter().try_for_each(|m| c.add_chunk(m, stream));
        stats.add(std::mem::take(&mut c.stats));
        r?;
        Ok(c.finish(&self.labels))
    }
}

/// Distinct result label sets of one stream query, looked up by hash
/// (also used by the querier's live tail for the entries it receives).
#[derive(Default)]
pub(crate) struct Groups {
    sets: Vec<Vec<(String, String, Category)>>,
    by_hash: FastMap<u64, Vec<usize>>,
    stream_only: Option<usize>,
}

impl Groups {
    pub(crate) fn stream_only(&mut self, stream: &[(String, String)]) -> usize {
        if let Some(g) = self.stream_only {
            return g;
        }
        let labels: Vec<Label<'_>> = stream
            .iter()
            .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str()), Category::Stream))
            .collect();
        let g = self.find_or_add(&labels);
        self.stream_only = Some(g);
        g
    }

    pub(crate) fn find_or_add(&mut self, labels: &[Label<'_>]) -> usize {
        let mut h = foldhash::fast::FixedState::with_seed(7).build_hasher();
        for (k, v, c) in labels {
            h.write(k.as_bytes());
            h.write_u8(0xff);
            h.write(v.as_bytes());
            h.write_u8(*c as u8);
        }
        let key = h.finish();
        let same = |set: &Vec<(String, String, Category)>| {
            set.len() == labels.len() && set.iter().zip(labels).all(|(a, b)| a.0 == b.0 && a.1 == b.1 && a.2 == b.2)
        };
        let ids = self.by_hash.entry(key).or_default();
        if let Some(&g) = ids.iter().find(|&&g| same(&self.sets[g])) {
            return g;
        }
        let g = self.sets.len();
        self.sets.push(labels.iter().map(|(k, v, c)| (k.to_string(), v.to_string(), *c)).collect());
        ids.push(g);
        g
    }

    pub(crate) fn len(&self) -> usize {
        self.sets.len()
    }

    /// One `StreamEntries` per group, in group order; groups marked false in
    /// `used` (all their entries fell past the limit) get a placeholder with no
    /// entries instead of label sets nobody reads. Groups past the end of `used`
    /// count as used (`&[]`: all of them).
    pub(crate) fn into_streams(self, stream: &Labels, used: &[bool]) -> Vec<StreamEntries> {
        self.sets
            .into_iter()
            .enumerate()
            .map(|(g, set)| {
                if !used.get(g).copied().unwrap_or(true) {
                    return StreamEntries {
                        labels: stream.clone(),
                        stream: stream.clone(),
                        structured: Vec::new(),
                        parsed: Vec::new(),
                        entries: Vec::new(),
                    };
                }
                let pick = |cat: Category| {
                    set.iter().filter(|l| l.2 == cat).map(|(k, v, _)| (k.clone(), v.clone())).collect::<Vec<_>>()
                };
                let (structured, parsed) = (pick(Category::Metadata), pick(Category::Parsed));
                let own = pick(Category::Stream);
                // the stream labels as the pipeline left them (`drop`, `label_format` can change them)
                let stream_part =
                    if own.as_slice() == stream.pairs() { stream.clone() } else { Labels::from_pairs_keep_empty(own) };
                let labels = if structured.is_empty() && parsed.is_empty() {
                    stream_part.clone()
                } else {
                    Labels::from_pairs_keep_empty(set.iter().map(|(k, v, _)| (k.clone(), v.clone())).collect())
                };
                StreamEntries { labels, stream: stream_part, structured, parsed, entries: Vec::new() }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::actors::ingester::Direction;
    use crate::logql::{parse, Expr};
    use crate::model::Entry;

    use crate::actors::ingester::test_settings as settings;

    #[test]
    fn groups_by_result_labels() {
        let s = settings();
        let mut st = Stream::new(Labels::parse(r#"{a="b", pod="p"}"#).unwrap());
        let mut e3 = Entry::new(3, "lvl=warn x=1");
        e3.metadata = vec![("trace".into(), "t".into())];
        st.push(
            &[Entry::new(1, "lvl=info x=1"), Entry::new(2, "lvl=warn x=2"), e3, Entry::new(4, "no pairs")],
            &s,
            "t",
            0,
        );
        let Expr::Log(l) = parse(r#"{a="b"} | logfmt | drop x, pod | lvl=~".+""#).unwrap() else {
            panic!("log query expected")
        };
        let req = LogRequest {
            expr: Arc::new(l),
            start: 0,
            end: 10,
            limit: 100,
            direction: Direction::Forward,
            interval_ns: 0,
        };
        let mut groups = st.query(&req, &mut ScanStats::default()).unwrap();
        groups.sort_by_key(|g| g.entries[0].ts);
        let got: Vec<(String, String, Vec<i64>)> = groups
            .iter()
            .map(|g| (g.labels.to_string(), g.stream.to_string(), g.entries.iter().map(|e| e.ts).collect()))
            .collect();
        assert_eq!(
            got,
            vec![
                (r#"{a="b", lvl="info"}"#.into(), r#"{a="b"}"#.into(), vec![1]),
                (r#"{a="b", lvl="warn"}"#.into(), r#"{a="b"}"#.into(), vec![2]),
                (r#"{a="b", lvl="warn", trace="t"}"#.into(), r#"{a="b"}"#.into(), vec![3]),
            ]
        );
        assert_eq!(groups[2].structured, vec![("trace".to_string(), "t".to_string())]);
        assert_eq!(groups[2].parsed, vec![("lvl".to_string(), "warn".to_string())]);
    }
}
