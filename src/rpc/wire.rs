//! Conversions between the ingester's messages and their protobuf form
//! (proto/ingester.proto): requests carry LogQL as text (parsed again on the
//! ingester), results carry label pairs, entries and sample columns.
//!
//! Used by the `IngesterBridge` (caller side) and the `IngesterService` (callee).

use std::sync::Arc;

use crate::actors::ingester::{
    Direction, LabelQuery, LogQuery, LogRequest, LogResult, ScanStats, SeriesQuery, StreamEntries, StreamVolume,
    TimeRange, VolumeQuery, VolumeRequest, VolumeResult,
};
use crate::logql::{Expr, Matcher};
use crate::model::{Entry, Labels};
use crate::proto::ingester as pb;

/// A request that does not parse on the receiving side.
#[derive(Debug, thiserror::Error)]
#[error("bad ingester request: {0}")]
pub struct WireError(pub String);

pub(super) fn pairs(p: &[(String, String)]) -> Vec<pb::Pair> {
    p.iter().map(|(n, v)| pb::Pair { name: n.clone(), value: v.clone() }).collect()
}

pub(super) fn unpairs(p: Vec<pb::Pair>) -> Vec<(String, String)> {
    p.into_iter().map(|x| (x.name, x.value)).collect()
}

pub(super) fn labels(p: Vec<pb::Pair>) -> Labels {
    Labels::from_pairs_keep_empty(unpairs(p))
}

pub fn selector_text(m: &[Matcher]) -> String {
    if m.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = m.iter().map(|m| m.to_string()).collect();
    format!("{{{}}}", parts.join(", "))
}

pub fn parse_matchers(s: &str) -> Result<Vec<Matcher>, WireError> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    crate::logql::parse_selector(s).map_err(|e| WireError(format!("selector {s:?}: {e}")))
}

pub(super) fn stats(s: ScanStats) -> Option<pb::ScanStats> {
    Some(pb::ScanStats { lines: s.lines, bytes: s.bytes, chunks: s.chunks })
}

pub(super) fn unstats(s: Option<pb::ScanStats>) -> ScanStats {
    s.map(|s| ScanStats { lines: s.lines, bytes: s.bytes, chunks: s.chunks }).unwrap_or_default()
}

pub fn entry(e: &Entry) -> pb::WireEntry {
    pb::WireEntry { ts: e.ts, line: e.line.clone(), metadata: pairs(&e.metadata) }
}

pub fn unentry(e: pb::WireEntry) -> Entry {
    Entry { ts: e.ts, line: e.line, metadata: unpairs(e.metadata) }
}

pub fn logs_request(q: &LogQuery) -> pb::LogsRequest {
    pb::LogsRequest {
        tenant: q.tenant.clone(),
        query: q.req.expr.to_string(),
        start: q.req.start,
        end: q.req.end,
        limit: q.req.limit as u64,
        backward: q.req.direction == Direction::Backward,
        interval_ns: q.req.interval_ns,
    }
}

pub fn logs_query(r: pb::LogsRequest) -> Result<LogQuery, WireError> {
    let expr = match crate::logql::parse(&r.query) {
        Ok(Expr::Log(l)) => l,
        Ok(_) => return Err(WireError(format!("not a log query: {}", r.query))),
        Err(e) => return Err(WireError(format!("{}: {e}", r.query))),
    };
    let direction = if r.backward { Direction::Backward } else { Direction::Forward };
    let req = LogRequest {
        expr: Arc::new(expr),
        start: r.start,
        end: r.end,
        limit: usize::try_from(r.limit).unwrap_or(usize::MAX),
        direction,
        interval_ns: r.interval_ns,
    };
    Ok(LogQuery { tenant: r.tenant, req })
}

pub fn logs_response(r: LogResult) -> pb::LogsResponse {
    let streams = r
        .streams
        .into_iter()
        .map(|s| pb::WireStream {
            labels: pairs(s.labels.pairs()),
            stream: pairs(s.stream.pairs()),
            structured: pairs(&s.structured),
            parsed: pairs(&s.parsed),
            entries: s.entries.iter().map(entry).collect(),
        })
        .collect();
    pb::LogsResponse { streams, stats: stats(r.stats), warnings: r.warnings }
}

pub fn logs_result(r: pb::LogsResponse) -> LogResult {
    let streams = r
        .streams
        .into_iter()
        .map(|s| StreamEntries {
            labels: labels(s.labels),
            stream: labels(s.stream),
            structured: unpairs(s.structured),
            parsed: unpairs(s.parsed),
            entries: s.entries.into_iter().map(unentry).collect(),
        })
        .collect();
    LogResult { streams, stats: unstats(r.stats), warnings: r.warnings }
}

pub fn labels_request(q: &LabelQuery) -> pb::LabelsRequest {
    pb::LabelsRequest {
        tenant: q.tenant.clone(),
        name: q.name.clone().unwrap_or_default(),
        values: q.name.is_some(),
        selector: selector_text(&q.matchers),
        start: q.range.start,
        end: q.range.end,
    }
}

pub fn labels_query(r: pb::LabelsRequest) -> Result<LabelQuery, WireError> {
    Ok(LabelQuery {
        tenant: r.tenant,
        name: r.values.then_some(r.name),
        matchers: parse_matchers(&r.selector)?,
        range: TimeRange { start: r.start, end: r.end },
    })
}

pub fn series_request(q: &SeriesQuery) -> pb::SeriesRequest {
    pb::SeriesRequest {
        tenant: q.tenant.clone(),
        groups: q.groups.iter().map(|g| selector_text(g)).collect(),
        start: q.range.start,
        end: q.range.end,
    }
}

pub fn series_query(r: pb::SeriesRequest) -> Result<SeriesQuery, WireError> {
    let groups = r.groups.iter().map(|g| parse_matchers(g)).collect::<Result<Vec<_>, _>>()?;
    Ok(SeriesQuery { tenant: r.tenant, groups, range: TimeRange { start: r.start, end: r.end } })
}

pub fn series_response(s: Vec<Labels>) -> pb::SeriesResponse {
    pb::SeriesResponse { series: s.iter().map(|l| pb::LabelSet { pairs: pairs(l.pairs()) }).collect() }
}

pub fn series_result(r: pb::SeriesResponse) -> Vec<Labels> {
    r.series.into_iter().map(|s| labels(s.pairs)).collect()
}

pub fn volume_request(q: &VolumeQuery) -> pb::VolumeRequest {
    pb::VolumeRequest {
        tenant: q.tenant.clone(),
        selector: selector_text(&q.req.matchers),
        start: q.req.start,
        end: q.req.end,
        step: q.req.step.unwrap_or(0),
        include_flushed: q.req.include_flushed,
    }
}

pub fn volume_query(r: pb::VolumeRequest) -> Result<VolumeQuery, WireError> {
    let req = VolumeRequest {
        matchers: parse_matchers(&r.selector)?,
        start: r.start,
        end: r.end,
        step: (r.step > 0).then_some(r.step),
        include_flushed: r.include_flushed,
    };
    Ok(VolumeQuery { tenant: r.tenant, req })
}

pub fn volume_response(r: VolumeResult) -> pb::VolumeResponse {
    let streams = r
        .streams
        .into_iter()
        .map(|s| pb::WireVolume {
            labels: pairs(s.labels.pairs()),
            chunks: s.chunks,
            entries: s.entries,
            bytes: s.bytes,
            bucket_starts: s.buckets.keys().copied().collect(),
            bucket_bytes: s.buckets.values().copied().collect(),
        })
        .collect();
    pb::VolumeResponse { streams }
}

pub fn volume_result(r: pb::VolumeResponse) -> VolumeResult {
    let streams = r
        .streams
        .into_iter()
        .map(|s| StreamVolume {
            labels: labels(s.labels),
            chunks: s.chunks,
            entries: s.entries,
            bytes: s.bytes,
            buckets: s.bucket_starts.into_iter().zip(s.bucket_bytes).collect(),
        })
        .collect();
    VolumeResult { streams }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logql::metric::RangeSelect;

    #[test]
    fn queries_survive_the_wire() {
        let Expr::Log(expr) = crate::logql::parse(r#"{app="a", env=~"p.*"} |= "x" | logfmt | n > 3"#).unwrap() else {
            panic!("log query")
        };
        let q = LogQuery {
            tenant: "t".into(),
            req: LogRequest {
                expr: Arc::new(expr),
                start: -5,
                end: 10,
                limit: 7,
                direction: Direction::Backward,
                interval_ns: 2,
            },
        };
        let back = logs_query(logs_request(&q)).unwrap();
        assert_eq!(back.req.expr.to_string(), q.req.expr.to_string());
        assert_eq!((back.req.start, back.req.end, back.req.limit), (-5, 10, 7));
        assert_eq!(back.req.direction, Direction::Backward);

        let sel = RangeSelect::parse(r#"sum by (a) (rate({app="a"} | json | unwrap n [5m]))"#);
        assert!(sel.is_err(), "only a bare range aggregation travels");
        let sel = RangeSelect::parse(r#"quantile_over_time(0.9, {app="a"} | json | unwrap n [5m]) by (b)"#).unwrap();
        assert_eq!(RangeSelect::parse(&sel.text()).unwrap().text(), sel.text());

        let m = crate::logql::parse_selector(r#"{a="1", b!~"x|y"}"#).unwrap();
        assert_eq!(parse_matchers(&selector_text(&m)).unwrap(), m);
        assert!(parse_matchers("").unwrap().is_empty());
        assert!(logs_query(pb::LogsRequest { query: "{".into(), ..Default::default() }).is_err());
    }

    #[test]
    fn results_survive_the_wire() {
        let l = Labels::parse(r#"{app="a", empty=""}"#).unwrap_or_else(|_| Labels::parse(r#"{app="a"}"#).unwrap());
        let mut e = Entry::new(3, "line");
        e.metadata = vec![("trace".into(), "t1".into())];
        let r = LogResult {
            streams: vec![StreamEntries::plain(l.clone(), vec![e.clone()])],
            stats: ScanStats { lines: 1, bytes: 4, chunks: 1 },
            warnings: vec!["w".into()],
        };
        let back = logs_result(logs_response(r));
        assert_eq!(back.streams[0].labels, l);
        assert_eq!(back.streams[0].entries, vec![e]);
        assert_eq!(back.stats.bytes, 4);

        let mut v = StreamVolume::empty(l.clone());
        v.bytes = 10;
        v.buckets.insert(100, 10);
        assert_eq!(volume_result(volume_response(VolumeResult { streams: vec![v.clone()] })).streams, vec![v]);
    }
}
