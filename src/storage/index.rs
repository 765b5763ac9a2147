//! The series index (version 1): which chunks hold which series, per tenant and
//! per index period (table, 24h by default).
//!
//! Ingesters write one *segment* per flush (the series and chunk references of the
//! chunks it flushed) at `index/<table>/<tenant>/<segment>.skidx`. Readers merge
//! every segment of a table into a [`TableIndex`] with label postings. Format:
//! `"SKI1"`, version u8, MessagePack of [`Segment`], CRC-32 (u32 LE) of everything
//! before it. The compactor will merge segments; readers already accept any number.

use std::collections::BTreeMap;

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

use crate::logql::matcher::matches_all;
use crate::logql::Matcher;
use crate::model::{FastMap, Fingerprint, Labels};

const MAGIC: &[u8; 4] = b"SKI1";
const VERSION: u8 = 1;
pub const DAY_NS: i64 = 86_400 * 1_000_000_000;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("not a Skald index segment: {0}")]
    Format(String),
    #[error("index segment checksum mismatch")]
    Checksum,
}

/// Where a chunk lives and what it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRef {
    pub key: String,
    pub from: i64,
    pub through: i64,
    pub bytes: u64,
    pub entries: u64,
    /// Raw line bytes of the entries (index stats); 0 in segments written before it existed.
    #[serde(default)]
    pub line_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesEntry {
    pub fingerprint: Fingerprint,
    pub labels: String,
    pub chunks: Vec<ChunkRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub tenant: String,
    pub table: String,
    pub series: Vec<SeriesEntry>,
}

/// Table name of the period holding `ts` (`<prefix><day number>`, as Loki names them).
pub fn table_for(prefix: &str, ts: i64) -> String {
    format!("{prefix}{}", ts.div_euclid(DAY_NS))
}

/// Tables overlapping `[start, end]`.
pub fn tables_between(prefix: &str, start: i64, end: i64) -> Vec<String> {
    (start.div_euclid(DAY_NS)..=end.div_euclid(DAY_NS)).map(|d| format!("{prefix}{d}")).collect()
}

/// Object key of a chunk: `<tenant>/chunks/<fingerprint>/<from>-<through>-<crc>` (hex).
pub fn chunk_key(tenant: &str, fp: Fingerprint, from: i64, through: i64, crc: u32) -> String {
    format!("{tenant}/chunks/{fp:016x}/{from:x}-{through:x}-{crc:08x}")
}

pub fn segment_prefix(table: &str, tenant: &str) -> String {
    format!("index/{table}/{tenant}/")
}

impl Segment {
    pub fn encode(&self) -> Bytes {
        let body = rmp_serde::to_vec_named(self).unwrap_or_default();
        let mut out = BytesMut::with_capacity(body.len() + 9);
        out.put_slice(MAGIC);
        out.put_u8(VERSION);
        out.put_slice(&body);
        let crc = crc32fast::hash(&out);
        out.put_u32_le(crc);
        out.freeze()
    }

    pub fn decode(data: &[u8]) -> Result<Segment, IndexError> {
        if data.len() < 9 || &data[..4] != MAGIC {
            return Err(IndexError::Format("bad magic".into()));
        }
        if data[4] != VERSION {
            return Err(IndexError::Format(format!("unsupported version {}", data[4])));
        }
        let (body, crc) = data.split_at(data.len() - 4);
        if crc32fast::hash(body) != u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
            return Err(IndexError::Checksum);
        }
        rmp_serde::from_slice(&body[5..]).map_err(|e| IndexError::Format(e.to_string()))
    }
}

/// The merged index of one tenant's table.
#[derive(Debug, Default)]
pub struct TableIndex {
    series: FastMap<Fingerprint, (Labels, Vec<ChunkRef>)>,
    postings: FastMap<String, BTreeMap<String, Vec<Fingerprint>>>,
    /// Segments that could not be read (key and reason); their series are missing.
    pub skipped: Vec<String>,
}

impl TableIndex {
    /// Adds a segment; chunk references already present are not repeated.
    pub fn add(&mut self, seg: Segment) {
        for s in seg.series {
            let Ok(labels) = Labels::parse(&s.labels) else { continue };
            let fp = s.fingerprint;
            let slot = self.series.entry(fp).or_insert_with(|| (labels.clone(), Vec::new()));
            if slot.1.is_empty() {
                for (n, v) in labels.pairs() {
                    self.postings.entry(n.clone()).or_default().entry(v.clone()).or_default().push(fp);
                }
            }
            for c in s.chunks {
                if !slot.1.iter().any(|x| x.key == c.key) {
                    slot.1.push(c);
                }
            }
        }
    }

    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Series matching every matcher, with their chunks overlapping `[start, end]`.
    pub fn select(&self, matchers: &[Matcher], start: i64, end: i64) -> Vec<(Labels, Vec<ChunkRef>)> {
        let candidates: Vec<Fingerprint> = matchers
            .iter()
            .filter(|m| m.uses_postings())
            .map(|m| self.postings.get(&m.name).and_then(|v| v.get(&m.value)).map(Vec::as_slice).unwrap_or(&[]))
            .min_by_key(|v| v.len())
            .map(<[Fingerprint]>::to_vec)
            .unwrap_or_else(|| self.series.keys().copied().collect());
        candidates
            .into_iter()
            .filter_map(|fp| self.series.get(&fp))
            .filter(|(l, _)| matches_all(matchers, l))
            .filter_map(|(l, chunks)| {
                let c: Vec<ChunkRef> = chunks.iter().filter(|c| c.through >= start && c.from <= end).cloned().collect();
                (!c.is_empty()).then(|| (l.clone(), c))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logql::MatchOp;

    fn seg(series: &[(&str, &str, i64)]) -> Segment {
        Segment {
            tenant: "t".into(),
            table: "index_1".into(),
            series: series
                .iter()
                .map(|(labels, key, from)| {
                    let l = Labels::parse(labels).unwrap();
                    SeriesEntry {
                        fingerprint: l.fingerprint(),
                        labels: l.to_string(),
                        chunks: vec![ChunkRef {
                            key: key.to_string(),
                            from: *from,
                            through: from + 10,
                            bytes: 5,
                            entries: 2,
                            line_bytes: 4,
                        }],
                    }
                })
                .collect(),
        }
    }

    #[test]
    fn segments_round_trip_and_merge() {
        let a = seg(&[(r#"{app="a", env="p"}"#, "k1", 0), (r#"{app="b"}"#, "k2", 100)]);
        let bytes = a.encode();
        assert_eq!(Segment::decode(&bytes).unwrap(), a);
        let mut corrupt = bytes.to_vec();
        corrupt[10] ^= 1;
        assert!(Segment::decode(&corrupt).is_err());
        assert!(Segment::decode(&bytes[..bytes.len() - 1]).is_err());

        let mut idx = TableIndex::default();
        idx.add(a.clone());
        idx.add(a);
        idx.add(seg(&[(r#"{app="a", env="p"}"#, "k3", 50)]));
        assert_eq!(idx.series_count(), 2);
        let m = vec![Matcher::new("app", MatchOp::Eq, "a").unwrap()];
        let got = idx.select(&m, 0, 1000);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(), vec!["k1", "k3"]);
        assert_eq!(idx.select(&m, 45, 49).len(), 0, "no chunk overlaps");
        let re = vec![Matcher::new("app", MatchOp::Re, ".+").unwrap()];
        assert_eq!(idx.select(&re, 0, 1000).len(), 2);
    }

    #[test]
    fn shard_matchers_split_the_series_between_shards() {
        let labels: Vec<String> = (0..40).map(|i| format!(r#"{{app="a", pod="p{i}"}}"#)).collect();
        let series: Vec<(&str, &str, i64)> = labels.iter().map(|l| (l.as_str(), "k", 0)).collect();
        let mut idx = TableIndex::default();
        idx.add(seg(&series));
        let mut seen = Vec::new();
        for i in 0..4 {
            let m = vec![
                Matcher::new("app", MatchOp::Eq, "a").unwrap(),
                Matcher::new(crate::logql::matcher::SHARD_LABEL, MatchOp::Eq, format!("{i}_of_4")).unwrap(),
            ];
            let got = idx.select(&m, 0, 1000);
            assert!(!got.is_empty() && got.len() < 40, "shard {i}: {}", got.len());
            seen.extend(got.into_iter().map(|(l, _)| l.to_string()));
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 40, "every series in exactly one shard");
    }

    #[test]
    fn naming() {
        assert_eq!(table_for("index_", DAY_NS * 19_000 + 5), "index_19000");
        assert_eq!(tables_between("index_", 0, DAY_NS), vec!["index_0", "index_1"]);
        assert_eq!(chunk_key("fake", 255, 16, 32, 1), "fake/chunks/00000000000000ff/10-20-00000001");
    }
}
