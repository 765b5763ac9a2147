//! Opening a live tail: `max_concurrent_tail_requests`, the ingester
//! subscription, and the history replayed before live entries (through
//! [`Querier::select_logs`], so stored data counts).
//!
//! The tail API handler calls [`Querier::tail`] and then drives the returned
//! [`TailSession`]. The ingester is reached only through `Recipient`s of the
//! `Tail` and `TailersCount` messages, so a remote ingester can stand behind them.

use std::collections::HashSet;
use std::sync::Arc;

use actix::Recipient;

use super::tail_session::{key, TailItem, TailSession};
use super::{Querier, QueryError};
use crate::actors::ingester::{Direction, LogRequest, StreamEntries, Subscriber, Tail, TailersCount};
use crate::logql::LogExpr;
use crate::model::time::now_ns;

/// Entries per history page when resuming (the replay is complete, page by page).
const RESUME_PAGE: usize = 1000;
/// Most entries a resume replays (it is held in memory until sent).
pub const RESUME_MAX: usize = 500_000;

/// The ingester's tail entry points.
#[derive(Clone)]
pub struct TailPorts {
    pub tail: Recipient<Tail>,
    pub count: Recipient<TailersCount>,
}

#[derive(Debug, thiserror::Error)]
pub enum TailError {
    /// Loki's text, as its querier passes the ingester's gRPC error on.
    #[error(
        "rpc error: code = Code(400) desc = max concurrent tail requests limit exceeded, count > limit ({0} > {1})"
    )]
    TooMany(usize, usize),
    #[error("{0}")]
    Query(#[from] QueryError),
    #[error("this querier has no ingester to tail")]
    NoIngester,
    #[error("resume would replay more than {RESUME_MAX} entries: reconnect with a later start")]
    ResumeTooLarge,
}

/// What to tail and how.
#[derive(Clone, Debug)]
pub struct TailRequest {
    pub expr: Arc<LogExpr>,
    /// History starts here (inclusive; exclusive with `resume`).
    pub start: i64,
    /// History entries replayed (the newest `limit`, as Loki); ignored with `resume`.
    pub limit: usize,
    pub delay_for_ns: i64,
    /// Replay every entry after `start`, oldest first, then go live: a client that
    /// reconnects with the last timestamp it saw misses nothing and sees nothing twice.
    pub resume: bool,
    /// `max_concurrent_tail_requests` of the tenant.
    pub max_tails: usize,
}

impl Querier {
    pub fn with_tail(mut self, ports: TailPorts) -> Querier {
        self.tail = Some(ports);
        self
    }

    /// Checks the tail limit, subscribes to the ingester, then reads the history;
    /// live entries that arrive meanwhile wait in the subscription's channel.
    pub async fn tail(&self, tenant: &str, req: TailRequest) -> Result<TailSession, TailError> {
        let ports = self.tail.as_ref().ok_or(TailError::NoIngester)?;
        let open = ports.count.send(TailersCount { tenant: tenant.to_string() }).await.map_err(QueryError::from)?;
        let open = open.map_err(QueryError::from)?;
        if open >= req.max_tails {
            return Err(TailError::TooMany(open + 1, req.max_tails));
        }
        let (sub, rx) = Subscriber::new(req.expr.matchers.clone());
        let (drops, queued) = (sub.drops.clone(), sub.queued.clone());
        let t = Tail { tenant: tenant.to_string(), subscriber: sub };
        ports.tail.send(t).await.map_err(QueryError::from)?.map_err(QueryError::from)?;
        let history =
            if req.resume { self.resume_history(tenant, &req).await? } else { self.history(tenant, &req).await? };
        tracing::info!(tenant, query = %req.expr, history = history.len(), resume = req.resume, "tail opened");
        Ok(TailSession::new(history, rx, drops, queued, req.expr.clone(), req.delay_for_ns))
    }

    /// Loki's replay: the newest `limit` entries in `[start, now)`, oldest first.
    async fn history(&self, tenant: &str, req: &TailRequest) -> Result<Vec<TailItem>, QueryError> {
        let r = self.select_logs(tenant, log_request(req, req.start, req.limit, Direction::Backward)).await?;
        Ok(items(r.streams))
    }

    /// Every entry in `(start, now)`, oldest first, read forward page by page.
    async fn resume_history(&self, tenant: &str, req: &TailRequest) -> Result<Vec<TailItem>, TailError> {
        let end = now_ns();
        let mut out: Vec<TailItem> = Vec::new();
        let mut from = req.start.saturating_add(1);
        let mut page = RESUME_PAGE;
        // entries already taken at the `from` boundary (a page can end inside one timestamp)
        let mut at_from: HashSet<u64> = HashSet::new();
        loop {
            let mut lr = log_request(req, from, page, Direction::Forward);
            lr.end = end;
            let r = self.select_logs(tenant, lr).await?;
            let got = items(r.streams);
            let full = got.len() >= page;
            let last = got.last().map(|i| i.ts);
            let fresh: Vec<TailItem> =
                got.into_iter().filter(|i| !(i.ts == from && at_from.contains(&key(i)))).collect();
            if !full {
                out.extend(fresh);
                return Ok(out);
            }
            let last = last.unwrap_or(from);
            if last == from && fresh.is_empty() {
                page *= 2; // one timestamp holds more than a page: read it whole
                continue;
            }
            if last != from {
                at_from.clear();
            }
            at_from.extend(fresh.iter().filter(|i| i.ts == last).map(key));
            out.extend(fresh);
            if out.len() > RESUME_MAX {
                return Err(TailError::ResumeTooLarge);
            }
            from = last;
        }
    }
}

fn log_request(req: &TailRequest, start: i64, limit: usize, direction: Direction) -> LogRequest {
    LogRequest { expr: req.expr.clone(), start, end: now_ns(), limit, direction, interval_ns: 0 }
}

/// One item per entry, oldest first.
fn items(streams: Vec<StreamEntries>) -> Vec<TailItem> {
    let mut out = Vec::new();
    for mut s in streams {
        let entries = std::mem::take(&mut s.entries);
        let group = Arc::new(s);
        out.extend(entries.into_iter().map(|e| TailItem { ts: e.ts, line: e.line, group: group.clone() }));
    }
    out.sort_by(|a, b| a.ts.cmp(&b.ts).then_with(|| a.group.labels.cmp(&b.group.labels)));
    out
}
