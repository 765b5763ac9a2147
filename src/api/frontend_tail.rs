//! The query-frontend's live tail: `/loki/api/v1/tail` and `/api/prom/tail`
//! are proxied to the querier at `frontend.tail_proxy_url`, frames passed both
//! ways and the close code and reason passed on. A refused upgrade (Loki's 400s)
//! reaches the client as the querier answered it.
//!
//! The querier side is a blocking tungstenite client on its own thread (it
//! polls the socket with a short read timeout so it can also write); the client
//! side is actix-ws. They meet through two channels.

use std::net::TcpStream;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{CloseCode, CloseReason, Message as WsMessage, MessageStream, Session};
use tokio::sync::mpsc;
use tungstenite::protocol::frame::coding::CloseCode as UpCode;
use tungstenite::protocol::{CloseFrame, WebSocket};
use tungstenite::Message as UpMessage;

use super::error::ApiError;
use super::state::AppState;
use super::tenant::{tenant_of, ORG_ID_HEADER};
use crate::loadgen::tail_client::{TailClient, TailClientError};

const POLL: Duration = Duration::from_millis(20);

pub fn configure(cfg: &mut web::ServiceConfig) {
    for path in ["/loki/api/v1/tail", "/api/prom/tail"] {
        cfg.route(path, web::get().to(tail));
    }
}

async fn tail(req: HttpRequest, body: web::Payload, st: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let url = st.frontend.as_ref().map(|f| f.tail_proxy_url.trim_end_matches('/').to_string()).unwrap_or_default();
    if url.is_empty() {
        return Err(ApiError::new(
            404,
            "live tail is not served by this query-frontend: set frontend.tail_proxy_url to a querier's HTTP URL",
        ));
    }
    let tenant = tenant_of(&req, &st.config)?;
    let params: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let flags = req.headers().get(super::render::ENCODING_FLAGS_HEADER).and_then(|v| v.to_str().ok()).map(String::from);
    let path = req.path().to_string();
    let upstream = web::block(move || {
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut headers = vec![(ORG_ID_HEADER, tenant.as_str())];
        if let Some(f) = &flags {
            headers.push((super::render::ENCODING_FLAGS_HEADER, f.as_str()));
        }
        TailClient::connect(&url, &path, &params, &headers)
    })
    .await
    .map_err(|e| ApiError::new(500, e.to_string()))?;
    let ws = match upstream {
        Ok(c) => c.into_inner(),
        Err(TailClientError::Refused(status, body)) => return Err(ApiError::new(status, body.trim_end().to_string())),
        Err(TailClientError::Other(e)) => return Err(ApiError::new(502, format!("tail proxy: {e}"))),
    };
    let (resp, session, msgs) = actix_ws::handle(&req, body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let (up_tx, up_rx) = mpsc::channel::<UpMessage>(64);
    let (down_tx, down_rx) = std_mpsc::channel::<UpMessage>();
    std::thread::Builder::new()
        .name("tail-proxy".into())
        .spawn(move || upstream_loop(ws, up_tx, down_rx))
        .map_err(|e| ApiError::new(500, e.to_string()))?;
    actix_web::rt::spawn(client_loop(session, msgs, up_rx, down_tx));
    Ok(resp)
}

/// The querier's side: frames read go to `to_client`, frames from the client are written.
fn upstream_loop(
    mut ws: WebSocket<TcpStream>,
    to_client: mpsc::Sender<UpMessage>,
    from_client: std_mpsc::Receiver<UpMessage>,
) {
    let _ = ws.get_ref().set_read_timeout(Some(POLL));
    loop {
        match ws.read() {
            Ok(m) => {
                let closing = matches!(m, UpMessage::Close(_));
                if to_client.blocking_send(m).is_err() || closing {
                    break;
                }
            }
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => {
                tracing::debug!(error = %e, "tail proxy: querier connection ended");
                let reason = CloseFrame { code: UpCode::Error, reason: "the querier connection ended".into() };
                let _ = to_client.blocking_send(UpMessage::Close(Some(reason)));
                break;
            }
        }
        loop {
            match from_client.try_recv() {
                Ok(m) => {
                    let _ = ws.send(m);
                }
                Err(std_mpsc::TryRecvError::Empty) => break,
                Err(std_mpsc::TryRecvError::Disconnected) => {
                    let _ = ws.close(None);
                    let _ = ws.flush();
                    return;
                }
            }
        }
    }
}

/// The client's side: frames from the querier are written, the client's passed up.
async fn client_loop(
    mut session: Session,
    mut msgs: MessageStream,
    mut from_up: mpsc::Receiver<UpMessage>,
    to_up: std_mpsc::Sender<UpMessage>,
) {
    loop {
        tokio::select! {
            m = from_up.recv() => match m {
                Some(UpMessage::Text(t)) => {
                    if session.text(t.as_str().to_string()).await.is_err() {
                        break;
                    }
                }
                Some(UpMessage::Binary(b)) => {
                    if session.binary(b).await.is_err() {
                        break;
                    }
                }
                Some(UpMessage::Ping(b)) => {
                    if session.ping(&b).await.is_err() {
                        break;
                    }
                }
                Some(UpMessage::Close(frame)) => {
                    let reason = frame.map(|f| CloseReason {
                        code: CloseCode::from(u16::from(f.code)),
                        description: (!f.reason.is_empty()).then(|| f.reason.to_string()),
                    });
                    let _ = session.close(reason).await;
                    return;
                }
                Some(_) => {}
                None => {
                    let _ = session.close(Some(CloseCode::Error.into())).await;
                    return;
                }
            },
            m = msgs.recv() => match m {
                Some(Ok(WsMessage::Ping(b))) => {
                    if session.pong(&b).await.is_err() {
                        break;
                    }
                }
                Some(Ok(WsMessage::Text(t))) => {
                    let _ = to_up.send(UpMessage::text(t.to_string()));
                }
                Some(Ok(WsMessage::Close(reason))) => {
                    let frame = reason.map(|r| CloseFrame {
                        code: UpCode::from(u16::from(r.code)),
                        reason: r.description.unwrap_or_default().into(),
                    });
                    let _ = to_up.send(UpMessage::Close(frame));
                    let _ = session.close(None).await;
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            }
        }
    }
    drop(to_up); // the querier side closes when it sees the channel gone
}
