//! Log queries over one stream's chunks: the LogQL pipeline on every entry in
//! range, exact duplicates removed, results grouped by their label set.
//!
//! Called by the shard actor for ingester memory and by the store reader for
//! chunks read back from the object store (through `Stream::from_chunks`).

use std::borrow::Cow;
use std::hash::{BuildHasher, Hasher};

use super::stream::Stream;
use super::{Direction, LogRequest, ScanStats, StreamEntries};
use crate::logql::pipeline::{Category, Label};
use crate::model::{Entry, FastMap, Labels};
use crate::storage::chunk::ChunkError;

impl Stream {
    /// Entries in `[start, end)` that pass the query's pipeline, at most `limit`,
    /// in the request's direction, exact duplicates removed, grouped by their
    /// result label set (one group per distinct set).
    pub fn query(&self, req: &LogRequest, stats: &mut ScanStats) -> Result<Vec<StreamEntries>, ChunkError> {
        let pipeline = &req.expr.pipeline;
        let mut groups = Groups::default();
        // (entry as stored, group, rewritten line)
        let mut out: Vec<(Entry, usize, Option<String>)> = Vec::new();
        let stream = self.labels.pairs();
        for c in self.chunks() {
            stats.chunks += 1;
            c.for_each_in_range(req.start, req.end, |e| {
                stats.lines += 1;
                stats.bytes += e.line.len() as u64;
                if pipeline.filters_only() && !e.has_metadata() {
                    if pipeline.keep_line(e.line) {
                        let g = groups.stream_only(stream);
                        out.push((e.to_entry(), g, None));
                    }
                    return;
                }
                // only entries that survive are copied out of the chunk
                let meta = if e.has_metadata() { e.metadata() } else { Vec::new() };
                let line = String::from_utf8_lossy(e.line);
                let (g, new_line) = match pipeline.process(e.ts, &line, stream, &meta) {
                    Some(p) => (groups.find_or_add(&p.labels), p.line),
                    None => return,
                };
                let entry = Entry { ts: e.ts, line: bytes::Bytes::copy_from_slice(e.line), metadata: meta };
                out.push((entry, g, new_line));
            })?;
        }
        out.sort_by(|a, b| a.0.ts.cmp(&b.0.ts).then_with(|| a.0.line.cmp(&b.0.line)));
        out.dedup_by(|a, b| a.0.ts == b.0.ts && a.0.line == b.0.line && a.0.metadata == b.0.metadata);
        if req.direction == Direction::Backward {
            out.reverse();
        }
        if req.interval_ns > 0 {
            let mut last: Option<i64> = None;
            out.retain(|(e, _, _)| {
                let keep = last.is_none_or(|l| (e.ts - l).abs() >= req.interval_ns);
                if keep {
                    last = Some(e.ts);
                }
                keep
            });
        }
        out.truncate(req.limit);
        let mut result: Vec<StreamEntries> = groups.into_streams(&self.labels);
        for (mut e, g, line) in out {
            if let Some(l) = line {
                e.line = bytes::Bytes::from(l);
            }
            result[g].entries.push(e);
        }
        result.retain(|s| !s.entries.is_empty());
        Ok(result)
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

    pub(crate) fn into_streams(self, stream: &Labels) -> Vec<StreamEntries> {
        self.sets
            .into_iter()
            .map(|set| {
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
