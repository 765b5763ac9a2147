//! The sample path of a stream: entries in range run through the query's log
//! pipeline and the extractor, so that only samples (time, value, result
//! labels) leave the shard. Exact duplicates (time, line, metadata) are removed
//! before extraction, as the log path does.
//!
//! Called by `StreamShardActor` for in-memory streams and by the querier's store
//! reader for streams read back from the object store.

use std::borrow::Cow;
use std::hash::{BuildHasher, Hasher};

use super::stream::Stream;
use super::{SampleRequest, ScanStats};
use crate::logql::metric::{sort_dedup, Sample, SeriesMap};
use crate::logql::pipeline::LabelsBuilder;
use crate::model::FastMap;
use crate::storage::chunk::ChunkError;

/// Series of one stream's samples, found by label hash without copying the
/// labels of every entry.
type Series = (Vec<(String, String)>, Vec<Sample>);

#[derive(Default)]
struct SeriesSet {
    series: Vec<Series>,
    by_hash: FastMap<u64, Vec<usize>>,
}

impl SeriesSet {
    fn push(&mut self, labels: &[(Cow<'_, str>, Cow<'_, str>)], s: Sample) {
        let i = self.index(labels);
        self.series[i].1.push(s);
    }

    /// The series of this label set, added (empty) when new.
    fn index(&mut self, labels: &[(Cow<'_, str>, Cow<'_, str>)]) -> usize {
        let mut h = foldhash::fast::FixedState::with_seed(5).build_hasher();
        for (k, v) in labels {
            h.write(k.as_bytes());
            h.write_u8(0xff);
            h.write(v.as_bytes());
            h.write_u8(0xfe);
        }
        let ids = self.by_hash.entry(h.finish()).or_default();
        let same = |set: &[(String, String)]| {
            set.len() == labels.len() && set.iter().zip(labels).all(|(a, b)| a.0 == b.0 && a.1 == b.1)
        };
        if let Some(&i) = ids.iter().find(|&&i| same(&self.series[i].0)) {
            return i;
        }
        ids.push(self.series.len());
        let owned = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.series.push((owned, Vec::new()));
        self.series.len() - 1
    }

    fn into_map(self) -> SeriesMap {
        let mut out = SeriesMap::new();
        for (labels, mut samples) in self.series.into_iter().filter(|s| !s.1.is_empty()) {
            sort_dedup(&mut samples);
            out.insert(labels, samples);
        }
        out
    }
}

impl Stream {
    /// Samples of the entries in `[req.start, req.end]`, by result label set.
    pub fn samples(&self, req: &SampleRequest, stats: &mut ScanStats) -> Result<SeriesMap, ChunkError> {
        let sel = &req.select;
        let pipeline = &sel.log.pipeline;
        let stream = self.labels.pairs();
        let fp = self.labels.fingerprint();
        let mut out = SeriesSet::default();
        // Only line filters and a value from the line length (count, bytes): an entry
        // without metadata needs neither UTF-8 conversion nor labels, and all such
        // entries share one series, found once.
        let line_only = pipeline.filters_only() && sel.extractor.line_value(0).is_some();
        let mut plain: Option<Option<usize>> = None;
        // sized once for the stream's entries (pages a query does not fill are never touched)
        let entries: u64 = self.chunks().map(|c| c.count).sum();
        for c in self.chunks() {
            stats.chunks += 1;
            c.for_each_in_range(req.start, req.end.saturating_add(1), |e| {
                stats.lines += 1;
                stats.bytes += e.line.len() as u64;
                if line_only && !e.has_metadata() {
                    let (Some(value), true) = (sel.extractor.line_value(e.line.len()), pipeline.keep_line(e.line))
                    else {
                        return;
                    };
                    let series = *plain.get_or_insert_with(|| {
                        let labels = LabelsBuilder::new(stream, &[]).finish();
                        let i = sel.extractor.extract(labels, 0).map(|(_, l)| out.index(&l));
                        if let Some(i) = i {
                            out.series[i].1.reserve(usize::try_from(entries).unwrap_or(0));
                        }
                        i
                    });
                    if let Some(i) = series {
                        let key = entry_key(fp, e.line, &[]);
                        out.series[i].1.push(Sample { ts: e.ts, value, key });
                    }
                    return;
                }
                let meta = if e.has_metadata() { e.metadata() } else { Vec::new() };
                let line = String::from_utf8_lossy(e.line);
                let Some(p) = pipeline.process(e.ts, &line, stream, &meta) else { return };
                let len = p.line.as_ref().map_or(e.line.len(), String::len);
                let Some((value, labels)) = sel.extractor.extract(p.labels, len) else { return };
                out.push(&labels, Sample { ts: e.ts, value, key: entry_key(fp, e.line, &meta) });
            })?;
        }
        Ok(out.into_map())
    }
}

/// The identity of one entry (stream, line, metadata) that deduplicates samples
/// of overlapping chunks and replicas.
fn entry_key(fp: u64, line: &[u8], meta: &[(String, String)]) -> u64 {
    let mut h = foldhash::fast::FixedState::with_seed(11).build_hasher();
    h.write_u64(fp);
    h.write(line);
    for (k, v) in meta {
        h.write(k.as_bytes());
        h.write_u8(0xff);
        h.write(v.as_bytes());
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::logql::metric::{RangeSelect, SampleExpr};
    use crate::logql::{parse, Expr};
    use crate::model::Labels;
    use crate::storage::chunk::{Encoding, MemChunk};

    fn request(q: &str) -> SampleRequest {
        let Expr::Sample(SampleExpr::Range(r)) = parse(q).unwrap() else { panic!("range aggregation expected") };
        SampleRequest { select: Arc::new(RangeSelect::new(&r).unwrap()), start: 0, end: 100 }
    }

    fn stream(lines: &[(i64, &str)]) -> Stream {
        let chunk = || {
            let mut c = MemChunk::new(Encoding::Snappy, 256);
            for (ts, l) in lines {
                c.append(*ts, l.as_bytes(), &[]);
            }
            c.close();
            c
        };
        // the same chunk twice: overlapping copies; samples must not double
        Stream::from_chunks(Labels::parse(r#"{a="b", pod="p"}"#).unwrap(), vec![chunk(), chunk()])
    }

    #[test]
    fn extracts_groups_and_dedupes() {
        let st = stream(&[(1, "n=1.5 k=x"), (2, "n=abc k=x"), (3, "k=y"), (200, "n=9 k=x")]);
        let got = st
            .samples(&request(r#"sum_over_time({a="b"} | logfmt | unwrap n [1m])"#), &mut ScanStats::default())
            .unwrap();
        let ok: Vec<(String, String)> =
            [("a", "b"), ("k", "x"), ("pod", "p")].map(|(k, v)| (k.into(), v.into())).to_vec();
        assert_eq!(got[&ok].iter().map(|s| (s.ts, s.value)).collect::<Vec<_>>(), vec![(1, 1.5)]);
        let errs: Vec<_> = got.keys().filter(|l| l.iter().any(|(k, _)| k == "__error__")).collect();
        assert_eq!(errs.len(), 1, "n=abc is a SampleExtractionErr; k=y has no n and no sample");
        let got = st
            .samples(
                &request(r#"max_over_time({a="b"} | logfmt | unwrap n | __error__="" [1m]) by (k)"#),
                &mut ScanStats::default(),
            )
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got.keys().next().unwrap(), &vec![("k".to_string(), "x".to_string())]);
        let got = st
            .samples(&request(r#"bytes_over_time({a="b"} | line_format "xy" [1m])"#), &mut ScanStats::default())
            .unwrap();
        assert_eq!(got.values().next().unwrap().iter().map(|s| s.value).collect::<Vec<_>>(), vec![2.0, 2.0, 2.0]);
    }

    #[test]
    fn line_only_path_matches_the_pipeline_path() {
        let chunk = || {
            let mut c = MemChunk::new(Encoding::Snappy, 64);
            for (ts, l) in [(1, "a x"), (2, "b"), (3, "c x"), (4, "d x")] {
                c.append(ts, l.as_bytes(), &[]);
            }
            c.append(5, b"e x", &[("trace".into(), "t".into())]);
            c.close();
            c
        };
        let st = Stream::from_chunks(Labels::parse(r#"{a="b", pod="p"}"#).unwrap(), vec![chunk(), chunk()]);
        let run = |q: &str| {
            let got = st.samples(&request(q), &mut ScanStats::default()).unwrap();
            got.into_iter()
                .map(|(l, s)| (l, s.iter().map(|s| (s.ts, s.value, s.key)).collect::<Vec<_>>()))
                .collect::<Vec<_>>()
        };
        // `| decolorize` takes the general path with the same answer
        let fast = run(r#"bytes_over_time({a="b"} |= "x" [1m])"#);
        assert_eq!(fast, run(r#"bytes_over_time({a="b"} |= "x" | decolorize [1m])"#));
        assert_eq!(fast.len(), 2, "the entry with metadata is its own series");
        assert_eq!(fast[0].1.iter().map(|s| (s.0, s.1)).collect::<Vec<_>>(), vec![(1, 3.0), (3, 3.0), (4, 3.0)]);
        let count = run(r#"count_over_time({a="b"} != "b" [1m])"#);
        assert_eq!(count, run(r#"count_over_time({a="b"} != "b" | decolorize [1m])"#));
        assert_eq!(count[0].1.iter().map(|s| (s.0, s.1)).collect::<Vec<_>>(), vec![(1, 1.0), (3, 1.0), (4, 1.0)]);
        assert!(run(r#"count_over_time({a="b"} |= "nothing" [1m])"#).is_empty());
    }
}
