//! The querier: runs log queries, sample selections (metric queries), label and series lookups against the ingesters
//! (recent data, in memory) and the object store (`store`: flushed data), merges
//! both answers (duplicates removed, global limit and direction across streams).
//!
//! The HTTP query handlers call it; it talks to the ingester through
//! `Recipient`s only, so remote ingesters can stand behind the same messages.

pub mod detected;
pub mod fanout;
pub mod multi;
pub mod store;
pub mod tail;
pub mod tail_session;
pub mod volume;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use actix::Recipient;

use crate::actors::ingester::{
    Direction, IngesterError, LabelQuery, LogQuery, LogRequest, LogResult, SampleQuery, SampleRequest, SampleResult,
    SeriesQuery, StreamEntries, TimeRange, VolumeQuery, VolumeRequest, VolumeResult,
};
use crate::logql::Matcher;
use crate::model::Labels;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    Ingester(#[from] IngesterError),
    #[error("ingester unavailable: {0}")]
    Mailbox(#[from] actix::MailboxError),
    #[error("{0}")]
    Store(#[from] crate::storage::object::StorageError),
    /// The query cannot run as written (a bad request, not a failure).
    #[error("{0}")]
    Invalid(#[from] crate::logql::ParseError),
}

#[derive(Clone)]
pub struct Querier {
    logs: Recipient<LogQuery>,
    samples: Recipient<SampleQuery>,
    labels: Recipient<LabelQuery>,
    series: Recipient<SeriesQuery>,
    volume: Recipient<VolumeQuery>,
    store: Option<Arc<store::StoreReader>>,
    cfg: crate::config::QuerierConfig,
    /// Live tail entry points of the ingester (`tail.rs`).
    tail: Option<tail::TailPorts>,
}

impl Querier {
    pub fn new(
        logs: Recipient<LogQuery>,
        samples: Recipient<SampleQuery>,
        labels: Recipient<LabelQuery>,
        series: Recipient<SeriesQuery>,
        volume: Recipient<VolumeQuery>,
        store: Option<Arc<store::StoreReader>>,
        cfg: crate::config::QuerierConfig,
    ) -> Self {
        let store = if cfg.query_ingester_only { None } else { store };
        Querier { logs, samples, labels, series, volume, store, cfg, tail: None }
    }

    /// The part of `[start, end)` to ask the ingesters for: nothing with
    /// `query_store_only`, and only what is newer than `query_ingesters_within`.
    fn ingester_range(&self, start: i64, end: i64) -> Option<(i64, i64)> {
        if self.cfg.query_store_only && self.store.is_some() {
            return None;
        }
        let within = self.cfg.query_ingesters_within;
        let from = if within.is_zero() || self.store.is_none() {
            start
        } else {
            start.max(crate::model::time::now_ns() - within.as_nanos_i64())
        };
        (from < end).then_some((from, end))
    }

    /// Samples of one range aggregation from ingester memory and the store,
    /// merged with exact duplicates removed.
    pub async fn select_samples(&self, tenant: &str, req: SampleRequest) -> Result<SampleResult, QueryError> {
        let from_store = async {
            match &self.store {
                Some(s) => s.select_samples(tenant, &req).await.map(Some),
                None => Ok(None),
            }
        };
        let from_ingester = self.samples.send(SampleQuery { tenant: tenant.to_string(), req: req.clone() });
        let (ing, st) = futures::future::join(from_ingester, from_store).await;
        let mut r = ing??;
        match st {
            Ok(Some(s)) => r.merge(s),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(tenant, error = %e, "object store unavailable; answering from ingester memory");
                r.warnings.push(format!("object store unavailable, stored data left out: {e}"));
            }
        }
        Ok(r)
    }

    /// Entries of matching streams in `[start, end)`, at most `limit` in total,
    /// from ingester memory and the store.
    pub async fn select_logs(&self, tenant: &str, req: LogRequest) -> Result<LogResult, QueryError> {
        let (limit, dir) = (req.limit, req.direction);
        let from_store = async {
            match &self.store {
                Some(s) => s.select_logs(tenant, &req).await.map(Some),
                None => Ok(None),
            }
        };
        let from_ingester = async {
            match self.ingester_range(req.start, req.end) {
                Some((start, end)) => {
                    let req = LogRequest { start, end, ..req.clone() };
                    Ok(self.logs.send(LogQuery { tenant: tenant.to_string(), req }).await??)
                }
                None => Ok::<LogResult, QueryError>(LogResult::default()),
            }
        };
        let (ing, st) = futures::future::join(from_ingester, from_store).await;
        let mut r = ing?;
        match st {
            Ok(Some(s)) => {
                r.stats.add(s.stats);
                r.warnings.extend(s.warnings);
                r.streams = merge_streams(r.streams, s.streams, dir);
            }
            Ok(None) => {}
            // Recent data still answers from memory; the answer says what is missing.
            Err(e) => {
                tracing::warn!(tenant, error = %e, "object store unavailable; answering from ingester memory");
                r.warnings.push(format!("object store unavailable, stored data left out: {e}"));
            }
        }
        r.streams = apply_global_limit(r.streams, limit, dir);
        Ok(r)
    }

    /// Label names (`name: None`) or one label's values, from memory and the store.
    pub async fn label_values_or_names(
        &self,
        tenant: &str,
        name: Option<&str>,
        matchers: Vec<Matcher>,
        range: TimeRange,
    ) -> Result<Vec<String>, QueryError> {
        let mut out: BTreeSet<String> = match &self.store {
            Some(s) => s.labels(tenant, name, &matchers, &range).await.unwrap_or_else(store_down).into_iter().collect(),
            None => BTreeSet::new(),
        };
        let q = LabelQuery { tenant: tenant.to_string(), name: name.map(str::to_string), matchers, range };
        out.extend(self.labels.send(q).await??);
        Ok(out.into_iter().collect())
    }

    pub async fn label_names(
        &self,
        tenant: &str,
        matchers: Vec<Matcher>,
        range: TimeRange,
    ) -> Result<Vec<String>, QueryError> {
        self.label_values_or_names(tenant, None, matchers, range).await
    }

    pub async fn label_values(
        &self,
        tenant: &str,
        name: &str,
        matchers: Vec<Matcher>,
        range: TimeRange,
    ) -> Result<Vec<String>, QueryError> {
        self.label_values_or_names(tenant, Some(name), matchers, range).await
    }

    /// Per-stream entries, bytes and chunks (index stats, volume) from ingester
    /// memory and the store. Chunks the store holds are counted there only, so
    /// data retained in memory after its flush is not counted twice.
    pub async fn volume(&self, tenant: &str, mut req: VolumeRequest) -> Result<VolumeResult, QueryError> {
        req.include_flushed = self.store.is_none();
        let from_store = async {
            match &self.store {
                Some(s) => s.volume(tenant, &req).await.map(Some),
                None => Ok(None),
            }
        };
        let from_ingester = async {
            match self.ingester_range(req.start, req.end.saturating_add(1)) {
                Some((start, end)) => {
                    let req = VolumeRequest { start, end: end - 1, ..req.clone() };
                    Ok(self.volume.send(VolumeQuery { tenant: tenant.to_string(), req }).await??)
                }
                None => Ok::<VolumeResult, QueryError>(VolumeResult::default()),
            }
        };
        let (ing, st) = futures::future::join(from_ingester, from_store).await;
        let mut r = ing?;
        match st {
            Ok(Some(s)) => r.streams.extend(s.streams),
            Ok(None) => {}
            Err(e) => tracing::warn!(tenant, error = %e, "object store unavailable; volume from ingester memory"),
        }
        Ok(volume::merge(r))
    }

    pub async fn series(
        &self,
        tenant: &str,
        groups: Vec<Vec<Matcher>>,
        range: TimeRange,
    ) -> Result<Vec<Labels>, QueryError> {
        let mut out: BTreeSet<Labels> = match &self.store {
            Some(s) => s.series(tenant, &groups, &range).await.unwrap_or_else(store_down).into_iter().collect(),
            None => BTreeSet::new(),
        };
        out.extend(self.series.send(SeriesQuery { tenant: tenant.to_string(), groups, range }).await??);
        Ok(out.into_iter().collect())
    }
}

/// Label and series answers fall back to ingester memory when the store is down.
fn store_down<T>(e: crate::storage::object::StorageError) -> Vec<T> {
    tracing::warn!(error = %e, "object store unavailable; label/series answer from ingester memory only");
    Vec::new()
}

/// Merges two answers: streams with the same label set are joined, their entries
/// kept in the query's direction with exact duplicates (timestamp and line) removed.
pub fn merge_streams(a: Vec<StreamEntries>, b: Vec<StreamEntries>, dir: Direction) -> Vec<StreamEntries> {
    let mut by_labels: BTreeMap<Labels, StreamEntries> = BTreeMap::new();
    for s in a.into_iter().chain(b) {
        match by_labels.get_mut(&s.labels) {
            None => {
                by_labels.insert(s.labels.clone(), s);
            }
            Some(existing) => {
                existing.entries.extend(s.entries);
                existing.entries.sort_by(|x, y| x.ts.cmp(&y.ts).then_with(|| x.line.cmp(&y.line)));
                existing.entries.dedup_by(|x, y| x.ts == y.ts && x.line == y.line);
                if dir == Direction::Backward {
                    existing.entries.reverse();
                }
            }
        }
    }
    by_labels.into_values().collect()
}

/// Keeps the first `limit` entries across all streams in the query's direction
/// (each stream arrives sorted in that direction) and drops emptied streams.
pub fn apply_global_limit(mut streams: Vec<StreamEntries>, limit: usize, dir: Direction) -> Vec<StreamEntries> {
    let total: usize = streams.iter().map(|s| s.entries.len()).sum();
    if total <= limit {
        return streams;
    }
    let mut keys: Vec<(i64, usize)> =
        streams.iter().enumerate().flat_map(|(i, s)| s.entries.iter().map(move |e| (e.ts, i))).collect();
    match dir {
        Direction::Forward => keys.sort_unstable(),
        Direction::Backward => keys.sort_unstable_by(|a, b| b.cmp(a)),
    }
    let mut keep = vec![0usize; streams.len()];
    for (_, i) in keys.into_iter().take(limit) {
        keep[i] += 1;
    }
    for (s, k) in streams.iter_mut().zip(keep) {
        s.entries.truncate(k);
    }
    streams.retain(|s| !s.entries.is_empty());
    streams
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Entry;

    #[test]
    fn merge_dedupes_memory_and_store() {
        let mk = |ts: &[i64]| {
            StreamEntries::plain(Labels::parse(r#"{a="1"}"#).unwrap(), ts.iter().map(|t| Entry::new(*t, "x")).collect())
        };
        let m = merge_streams(vec![mk(&[5, 3])], vec![mk(&[4, 3, 1])], Direction::Backward);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].entries.iter().map(|e| e.ts).collect::<Vec<_>>(), vec![5, 4, 3, 1]);
    }

    #[test]
    fn global_limit_across_streams() {
        let mk = |l: &str, ts: &[i64]| {
            StreamEntries::plain(Labels::parse(l).unwrap(), ts.iter().map(|t| Entry::new(*t, "x")).collect())
        };
        let fwd =
            apply_global_limit(vec![mk(r#"{a="1"}"#, &[1, 4, 5]), mk(r#"{a="2"}"#, &[2, 3, 6])], 3, Direction::Forward);
        let ts: Vec<Vec<i64>> = fwd.iter().map(|s| s.entries.iter().map(|e| e.ts).collect()).collect();
        assert_eq!(ts, vec![vec![1], vec![2, 3]]);
        let bwd = apply_global_limit(
            vec![mk(r#"{a="1"}"#, &[5, 4, 1]), mk(r#"{a="2"}"#, &[6, 3, 2])],
            2,
            Direction::Backward,
        );
        let ts: Vec<Vec<i64>> = bwd.iter().map(|s| s.entries.iter().map(|e| e.ts).collect()).collect();
        assert_eq!(ts, vec![vec![5], vec![6]]);
    }
}
