//! Live tail over WebSocket: `/loki/api/v1/tail` and the legacy `/api/prom/tail`
//! (Loki 3.x answers both with the same frames).
//!
//! Parameters are checked before the upgrade (plain 400s with Loki's texts); then
//! the handler upgrades with `actix-ws` and spawns [`run`], which opens the tail
//! through the `Querier` and writes every frame of the `TailSession`, pings every
//! second, answers the client's close, and closes with 1011 and Loki's reason on
//! errors, when the ingester goes away (or the node stops: [`close_all`]) or after
//! `querier.tail_max_duration`.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{CloseCode, CloseReason, Message, MessageStream, Session};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::params::Params;
use super::render::{label_map, CATEGORIZE_LABELS, ENCODING_FLAGS_HEADER};
use super::state::AppState;
use super::tenant::tenant_of;
use crate::logql::metric::SampleExpr;
use crate::logql::{parse, Expr};
use crate::metrics::metrics;
use crate::querier::tail::TailRequest;
use crate::querier::tail_session::TailFrame;
use crate::querier::Querier;

/// Loki's `maxDelayForInTailing` (seconds).
const MAX_DELAY_FOR: i64 = 5;
/// Loki's `wsPingPeriod`.
const PING_PERIOD: Duration = Duration::from_secs(1);
/// A close frame's reason is at most 123 bytes.
const MAX_CLOSE_REASON: usize = 123;

/// Set when the node stops: open tails close instead of holding the HTTP
/// server's graceful shutdown until its timeout.
static SHUTDOWN: std::sync::LazyLock<tokio::sync::watch::Sender<bool>> =
    std::sync::LazyLock::new(|| tokio::sync::watch::channel(false).0);

/// Closes every open tail (1011, as Loki's tails end when its ingesters go).
pub fn close_all() {
    SHUTDOWN.send_replace(true);
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    for path in ["/loki/api/v1/tail", "/api/prom/tail"] {
        cfg.route(path, web::get().to(tail)).route(path, web::post().to(tail));
    }
}

async fn tail(req: HttpRequest, body: web::Payload, st: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let tenant = tenant_of(&req, &st.config)?;
    let params = Params::parse(req.query_string(), None)?;
    let mut treq = tail_request(&params)?;
    treq.max_tails = st.config.limits_config.max_concurrent_tail_requests;
    let q = st.querier.clone().ok_or_else(|| ApiError::new(404, "this process runs no querier"))?;
    let categorize = req
        .headers()
        .get(ENCODING_FLAGS_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|f| f.trim() == CATEGORIZE_LABELS));
    let (resp, session, msgs) = actix_ws::handle(&req, body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let max = st.config.querier.tail_max_duration;
    let max = (!max.is_zero()).then_some(max.0);
    actix_web::rt::spawn(run(q, tenant, treq, categorize, max, session, msgs));
    Ok(resp)
}

/// Loki's `ParseTailQuery`: query, limit, start (default one hour ago), delay_for.
/// `resume=true` is Skald's: see [`TailRequest::resume`].
pub fn tail_request(p: &Params) -> Result<TailRequest, ApiError> {
    let expr = match parse(p.query()?)? {
        Expr::Log(l) => l,
        Expr::Sample(e) => {
            return Err(ApiError::bad_request(format!(
                "unsupported query expression: want (LogSelectorExpr), got (*syntax.{})",
                go_type(&e)
            )))
        }
    };
    let limit = p.limit()?;
    let (start, _) = p.bounds()?;
    let delay: i64 = match p.get("delay_for") {
        None => 0,
        Some(v) => {
            v.parse().map_err(|_| ApiError::bad_request(format!("strconv.Atoi: parsing {v:?}: invalid syntax")))?
        }
    };
    // Loki keeps delay_for in a uint32: a negative value is a huge one
    if !(0..=MAX_DELAY_FOR).contains(&delay) {
        return Err(ApiError::bad_request(format!("delay_for can't be greater than {MAX_DELAY_FOR}")));
    }
    let resume = match p.get("resume") {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => return Err(ApiError::bad_request(format!("invalid resume value {v:?}: want true or false"))),
    };
    Ok(TailRequest {
        expr: std::sync::Arc::new(expr),
        start,
        limit,
        delay_for_ns: delay * 1_000_000_000,
        resume,
        max_tails: 0,
    })
}

/// The Go type Loki names when a metric query is tailed.
fn go_type(e: &SampleExpr) -> &'static str {
    match e {
        SampleExpr::Range(_) => "RangeAggregationExpr",
        SampleExpr::Vector { .. } => "VectorAggregationExpr",
        SampleExpr::Binary { .. } => "BinOpExpr",
        SampleExpr::Literal(_) => "LiteralExpr",
        SampleExpr::VectorLit(_) => "VectorExpr",
        SampleExpr::LabelReplace { .. } => "LabelReplaceExpr",
    }
}

async fn run(
    q: Querier,
    tenant: String,
    req: TailRequest,
    categorize: bool,
    max_duration: Option<Duration>,
    mut session: Session,
    mut msgs: MessageStream,
) {
    let mut tail = match q.tail(&tenant, req).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(tenant, error = %e, "tail refused");
            return close_error(session, &e.to_string()).await;
        }
    };
    let _active = ActiveTail::new();
    let mut ping = tokio::time::interval(PING_PERIOD);
    ping.tick().await;
    let ends = max_duration.map(|d| tokio::time::Instant::now() + d);
    let mut shutdown = SHUTDOWN.subscribe();
    loop {
        tokio::select! {
            f = tail.next_frame() => match f {
                Some(f) => {
                    metrics().tail_bytes.inc_by(f.items.iter().map(|i| i.line.len() as u64).sum());
                    metrics().tail_dropped.inc_by(f.dropped.total);
                    if session.text(frame_json(&f, categorize).to_string()).await.is_err() {
                        break;
                    }
                }
                None => return close_error(session, "all ingesters closed the connection").await,
            },
            _ = ping.tick() => {
                if session.ping(b"").await.is_err() {
                    break;
                }
            }
            m = msgs.recv() => match m {
                Some(Ok(Message::Ping(b))) => {
                    if session.pong(&b).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    let _ = session.close(Some(CloseCode::Normal.into())).await;
                    break;
                }
                Some(Ok(_)) => {}
            },
            _ = sleep_until(ends), if ends.is_some() => {
                return close_error(session, "reached tail max duration limit").await;
            }
            _ = shutdown.wait_for(|stop| *stop) => {
                return close_error(session, "all ingesters closed the connection").await;
            }
        }
    }
    tracing::info!(tenant, "tail ended");
}

/// `loki_querier_tail_active` while a tail runs.
struct ActiveTail;

impl ActiveTail {
    fn new() -> ActiveTail {
        metrics().tail_active.inc();
        ActiveTail
    }
}

impl Drop for ActiveTail {
    fn drop(&mut self) {
        metrics().tail_active.dec();
    }
}

async fn sleep_until(t: Option<tokio::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Close code 1011 with the reason, as Loki's `CloseInternalServerErr`.
async fn close_error(session: Session, reason: &str) {
    let mut end = reason.len().min(MAX_CLOSE_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let r = CloseReason { code: CloseCode::Error, description: Some(reason[..end].to_string()) };
    let _ = session.close(Some(r)).await;
}

/// Loki's tail frame: one stream object per entry, `dropped_entries` only when
/// something was dropped, `encodingFlags` with categorize-labels.
pub fn frame_json(f: &TailFrame, categorize: bool) -> Value {
    let streams: Vec<Value> = f
        .items
        .iter()
        .map(|i| {
            let g = &i.group;
            let labels = if categorize { &g.stream } else { &g.labels };
            let (ts, line) = (json!(i.ts.to_string()), json!(String::from_utf8_lossy(&i.line)));
            let value = if categorize {
                let mut cat = Map::new();
                if !g.structured.is_empty() {
                    cat.insert("structuredMetadata".into(), Value::Object(label_map(&g.structured)));
                }
                if !g.parsed.is_empty() {
                    cat.insert("parsed".into(), Value::Object(label_map(&g.parsed)));
                }
                json!([ts, line, cat])
            } else {
                json!([ts, line])
            };
            json!({"stream": label_map(labels.pairs()), "values": [value]})
        })
        .collect();
    let mut out = json!({ "streams": streams });
    if !f.dropped.entries.is_empty() {
        let d: Vec<Value> = f
            .dropped
            .entries
            .iter()
            .map(|(l, ts)| json!({"timestamp": ts.to_string(), "labels": label_map(l.pairs())}))
            .collect();
        out["dropped_entries"] = Value::Array(d);
    }
    if categorize {
        out["encodingFlags"] = json!([CATEGORIZE_LABELS]);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::actors::ingester::{Dropped, StreamEntries};
    use crate::model::Labels;
    use crate::querier::tail_session::TailItem;

    #[test]
    fn parameters_follow_loki() {
        let err = |q: &str| tail_request(&Params::parse(q, None).unwrap()).unwrap_err().msg;
        assert_eq!(err("query=%7Ba%3D%22b%22%7D&delay_for=6"), "delay_for can't be greater than 5");
        assert_eq!(err("query=%7Ba%3D%22b%22%7D&delay_for=-1"), "delay_for can't be greater than 5");
        assert_eq!(err("query=%7Ba%3D%22b%22%7D&limit=0"), "limit must be a positive value");
        assert_eq!(
            err("query=count_over_time(%7Ba%3D%22b%22%7D%5B1m%5D)"),
            "unsupported query expression: want (LogSelectorExpr), got (*syntax.RangeAggregationExpr)"
        );
        assert!(err("query=%7Ba%3D").starts_with("parse error"));
        let ok = tail_request(
            &Params::parse("query=%7Ba%3D%22b%22%7D&delay_for=2&start=1700000000000000000", None).unwrap(),
        )
        .unwrap();
        assert_eq!(
            (ok.limit, ok.delay_for_ns, ok.start, ok.resume),
            (100, 2_000_000_000, 1_700_000_000_000_000_000, false)
        );
    }

    #[test]
    fn frames_look_like_lokis() {
        let stream = Labels::parse(r#"{app="a"}"#).unwrap();
        let group = Arc::new(StreamEntries {
            labels: Labels::parse(r#"{app="a", lvl="info", trace="t"}"#).unwrap(),
            stream: stream.clone(),
            structured: vec![("trace".into(), "t".into())],
            parsed: vec![("lvl".into(), "info".into())],
            entries: Vec::new(),
        });
        let item = TailItem { ts: 7, line: "lvl=info".into(), group };
        let mut f = TailFrame { items: vec![item], dropped: Dropped::default() };
        assert_eq!(
            frame_json(&f, false).to_string(),
            r#"{"streams":[{"stream":{"app":"a","lvl":"info","trace":"t"},"values":[["7","lvl=info"]]}]}"#
        );
        f.dropped = Dropped { entries: vec![(stream, 5)], total: 1 };
        assert_eq!(
            frame_json(&f, true).to_string(),
            concat!(
                r#"{"streams":[{"stream":{"app":"a"},"values":[["7","lvl=info",{"structuredMetadata":{"trace":"t"},"parsed":{"lvl":"info"}}]]}],"#,
                r#""dropped_entries":[{"timestamp":"5","labels":{"app":"a"}}],"encodingFlags":["categorize-labels"]}"#
            )
        );
    }
}
