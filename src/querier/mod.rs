//! The querier: runs log queries, label and series lookups against the ingesters
//! and merges their answers (global limit and direction across streams).
//!
//! The HTTP query handlers call it; it talks to the ingester through
//! `Recipient`s only, so storage and remote ingesters can join later.

use actix::Recipient;

use crate::actors::ingester::{
    Direction, IngesterError, LabelQuery, LogQuery, LogRequest, LogResult, SeriesQuery, StreamEntries, TimeRange,
};
use crate::logql::Matcher;
use crate::model::Labels;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    Ingester(#[from] IngesterError),
    #[error("ingester unavailable: {0}")]
    Mailbox(#[from] actix::MailboxError),
}

#[derive(Clone)]
pub struct Querier {
    logs: Recipient<LogQuery>,
    labels: Recipient<LabelQuery>,
    series: Recipient<SeriesQuery>,
}

impl Querier {
    pub fn new(logs: Recipient<LogQuery>, labels: Recipient<LabelQuery>, series: Recipient<SeriesQuery>) -> Self {
        Querier { logs, labels, series }
    }

    /// Entries of matching streams in `[start, end)`, at most `limit` in total.
    pub async fn select_logs(&self, tenant: &str, req: LogRequest) -> Result<LogResult, QueryError> {
        let (limit, dir) = (req.limit, req.direction);
        let mut r = self.logs.send(LogQuery { tenant: tenant.to_string(), req }).await??;
        r.streams = apply_global_limit(r.streams, limit, dir);
        Ok(r)
    }

    pub async fn label_names(
        &self,
        tenant: &str,
        matchers: Vec<Matcher>,
        range: TimeRange,
    ) -> Result<Vec<String>, QueryError> {
        Ok(self.labels.send(LabelQuery { tenant: tenant.to_string(), name: None, matchers, range }).await??)
    }

    pub async fn label_values(
        &self,
        tenant: &str,
        name: &str,
        matchers: Vec<Matcher>,
        range: TimeRange,
    ) -> Result<Vec<String>, QueryError> {
        Ok(self
            .labels
            .send(LabelQuery { tenant: tenant.to_string(), name: Some(name.to_string()), matchers, range })
            .await??)
    }

    pub async fn series(
        &self,
        tenant: &str,
        groups: Vec<Vec<Matcher>>,
        range: TimeRange,
    ) -> Result<Vec<Labels>, QueryError> {
        Ok(self.series.send(SeriesQuery { tenant: tenant.to_string(), groups, range }).await??)
    }
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
