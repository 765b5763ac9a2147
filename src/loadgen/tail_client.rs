//! A blocking WebSocket client for Loki's tail endpoint (tungstenite over a
//! plain TCP stream): what `skald loadgen tail` measures with, and what the
//! tail end-to-end tests connect with.

use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::WebSocket;
use tungstenite::Message;

/// What the server sent next.
#[derive(Debug)]
pub enum Event {
    Frame(serde_json::Value),
    Ping,
    /// A close frame: code and reason.
    Closed(u16, String),
    /// Nothing within the timeout.
    Timeout,
}

#[derive(Debug, thiserror::Error)]
pub enum TailClientError {
    /// The server refused the upgrade: status and body.
    #[error("HTTP {0}: {1}")]
    Refused(u16, String),
    #[error("{0}")]
    Other(String),
}

pub struct TailClient {
    ws: WebSocket<TcpStream>,
}

impl TailClient {
    /// Opens `path` (e.g. `/loki/api/v1/tail`) on `base` (`http://host:port`)
    /// with the query parameters and extra request headers.
    pub fn connect(
        base: &str,
        path: &str,
        params: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Result<TailClient, TailClientError> {
        let other = |e: &dyn std::fmt::Display| TailClientError::Other(e.to_string());
        let host = base.trim_start_matches("http://").trim_end_matches('/');
        let query = serde_urlencoded::to_string(params).map_err(|e| other(&e))?;
        let mut req = format!("ws://{host}{path}?{query}").into_client_request().map_err(|e| other(&e))?;
        for (k, v) in headers {
            let name = tungstenite::http::HeaderName::from_bytes(k.as_bytes()).map_err(|e| other(&e))?;
            req.headers_mut().insert(name, v.parse().map_err(|e| other(&e))?);
        }
        let stream = TcpStream::connect(host).map_err(|e| other(&e))?;
        stream.set_nodelay(true).map_err(|e| other(&e))?;
        match tungstenite::client::client(req, stream) {
            Ok((ws, _)) => Ok(TailClient { ws }),
            Err(HandshakeError::Failure(tungstenite::Error::Http(r))) => {
                let body = String::from_utf8_lossy(r.body().as_deref().unwrap_or_default()).into_owned();
                Err(TailClientError::Refused(r.status().as_u16(), body))
            }
            Err(e) => Err(other(&e)),
        }
    }

    /// Waits up to `timeout` for the next frame, ping or close.
    pub fn next(&mut self, timeout: Duration) -> Result<Event, TailClientError> {
        self.ws
            .get_ref()
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
            .map_err(|e| TailClientError::Other(e.to_string()))?;
        loop {
            return match self.ws.read() {
                Ok(Message::Text(t)) => serde_json::from_str(t.as_str())
                    .map(Event::Frame)
                    .map_err(|e| TailClientError::Other(format!("frame is not JSON: {e}: {t}"))),
                Ok(Message::Ping(_)) => Ok(Event::Ping),
                Ok(Message::Close(c)) => Ok(c.map_or(Event::Closed(1005, String::new()), |c| {
                    Event::Closed(c.code.into(), c.reason.to_string())
                })),
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
                {
                    Ok(Event::Timeout)
                }
                Err(e) => Err(TailClientError::Other(e.to_string())),
            };
        }
    }

    /// The WebSocket itself (the query-frontend's tail proxy passes raw frames).
    pub fn into_inner(self) -> WebSocket<TcpStream> {
        self.ws
    }

    /// A clean close (code 1000).
    pub fn close(mut self) {
        let _ = self.ws.close(None);
        let _ = self.ws.flush();
    }

    /// Cuts the connection without a close frame (a client that vanished).
    pub fn kill(self) {
        let _ = self.ws.get_ref().shutdown(Shutdown::Both);
    }
}
