//! The ingester's `Push` method without tonic's receive buffer. tonic copies every
//! HTTP/2 DATA frame of a request into a buffer of its own before its codec sees
//! the message; a distributor's push (hundreds of KB) usually arrives in one
//! frame, so this service reads the body itself and decodes the push straight
//! from that frame (lines stay slices of it), copying only when the message was
//! split over frames. Every other method of the `Ingester` service, and the
//! answer itself, go through tonic's generated server as before.
//!
//! Served by `node::grpc` in place of the generated `IngesterServer`; calls
//! `IngesterService::push`. The integration tests that push across processes
//! (tests/cluster.rs, tests/microservices.rs, tests/gateway.rs) go through it.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use http_body::{Body as _, Frame};
use prost::Message;
use tonic::body::Body;
use tonic::codegen::{http, BoxFuture, Service};
use tonic::server::NamedService;
use tonic::Status;

use super::push_wire::PushRequest;
use super::service::IngesterService;
use crate::proto::ingester::ingester_server::{Ingester, IngesterServer};

const PUSH_PATH: &str = "/skald.ingester.Ingester/Push";
/// gRPC's length-prefixed message header: a compression flag and a u32 length.
const HEADER: usize = 5;

/// The `Ingester` service with `Push` read by hand.
#[derive(Clone)]
pub struct PushFastPath {
    inner: IngesterServer<IngesterService>,
    service: Arc<IngesterService>,
    max_message: usize,
}

impl PushFastPath {
    /// `max_message`: the largest push accepted, in bytes (tonic's limit for the others).
    pub fn new(service: IngesterService, max_message: usize) -> Self {
        let service = Arc::new(service);
        let inner = IngesterServer::from_arc(service.clone())
            .max_decoding_message_size(max_message)
            // query answers to queriers (in-cluster) are bounded by the query's limits, not here
            .max_encoding_message_size(usize::MAX);
        PushFastPath { inner, service, max_message }
    }
}

impl NamedService for PushFastPath {
    const NAME: &'static str = <IngesterServer<IngesterService> as NamedService>::NAME;
}

impl Service<http::Request<Body>> for PushFastPath {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        if req.uri().path() != PUSH_PATH {
            return self.inner.call(req);
        }
        let (service, max) = (self.service.clone(), self.max_message);
        Box::pin(async move {
            let answer = async {
                let whole = read_body(req.into_body(), max).await?;
                let push = PushRequest::decode(message(whole, max)?).map_err(|e| Status::internal(e.to_string()))?;
                service.push(tonic::Request::new(push)).await
            };
            Ok(match answer.await {
                Ok(r) => unary_response(&r.into_inner()),
                Err(status) => status.into_http(),
            })
        })
    }
}

/// The request body's bytes: the one DATA frame as it came, or the frames joined
/// once when there were several. Refused past `max` plus the header.
async fn read_body(mut body: Body, max: usize) -> Result<Bytes, Status> {
    let mut frames: Vec<Bytes> = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        // trailers: none expected on a request; an empty frame often closes the stream
        let Ok(data) = frame?.into_data() else { continue };
        if data.is_empty() {
            continue;
        }
        total += data.len();
        if total > max.saturating_add(HEADER) {
            return Err(too_large(total - HEADER, max));
        }
        frames.push(data);
    }
    Ok(match frames.len() {
        0 => Bytes::new(),
        1 => frames.pop().expect("one frame"),
        _ => {
            let mut joined = BytesMut::with_capacity(total);
            frames.iter().for_each(|f| joined.extend_from_slice(f));
            joined.freeze()
        }
    })
}

fn too_large(len: usize, max: usize) -> Status {
    Status::out_of_range(format!(
        "Error, decoded message length too large: found {len} bytes, the limit is: {max} bytes"
    ))
}

/// The one message of a unary request body (header checked, slice of `whole`).
fn message(whole: Bytes, max: usize) -> Result<Bytes, Status> {
    if whole.len() < HEADER {
        return Err(Status::internal("Unexpected EOF decoding stream."));
    }
    match whole[0] {
        0 => {}
        1 => return Err(Status::unimplemented("compressed pushes are not supported (grpc-encoding)")),
        f => return Err(Status::internal(format!("protocol error: received message with invalid compression flag: {f} (valid flags are 0 and 1), while sending request"))),
    }
    let len = u32::from_be_bytes([whole[1], whole[2], whole[3], whole[4]]) as usize;
    if len > max {
        return Err(too_large(len, max));
    }
    match (whole.len() - HEADER).cmp(&len) {
        std::cmp::Ordering::Less => Err(Status::internal("Unexpected EOF decoding stream.")),
        std::cmp::Ordering::Greater => Err(Status::unimplemented("a unary push carries one message")),
        std::cmp::Ordering::Equal => Ok(whole.slice(HEADER..)),
    }
}

/// `200 application/grpc`, the message, then `grpc-status: 0` as trailers.
fn unary_response(m: &impl Message) -> http::Response<Body> {
    let len = m.encoded_len();
    let mut buf = BytesMut::with_capacity(HEADER + len);
    buf.put_u8(0);
    buf.put_u32(len as u32);
    m.encode_raw(&mut buf); // a BytesMut grows as needed: nothing to fail
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
    let body = Unary { data: Some(buf.freeze()), trailers: Some(trailers) };
    let mut res = http::Response::new(Body::new(body));
    res.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/grpc"));
    res
}

/// One data frame, then the trailers.
struct Unary {
    data: Option<Bytes>,
    trailers: Option<http::HeaderMap>,
}

impl http_body::Body for Unary {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        if let Some(d) = this.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(d))));
        }
        Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request body arriving as the given frames.
    struct Frames(Vec<Bytes>);

    impl http_body::Body for Frames {
        type Data = Bytes;
        type Error = Status;

        fn poll_frame(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
            let this = self.get_mut();
            Poll::Ready((!this.0.is_empty()).then(|| Ok(Frame::data(this.0.remove(0)))))
        }
    }

    fn framed(msg: &[u8]) -> Bytes {
        let mut b = BytesMut::new();
        b.put_u8(0);
        b.put_u32(msg.len() as u32);
        b.extend_from_slice(msg);
        b.freeze()
    }

    fn read(frames: Vec<Bytes>, max: usize) -> Result<Bytes, Status> {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(read_body(Body::new(Frames(frames)), max)).and_then(|w| message(w, max))
    }

    #[test]
    fn one_frame_is_read_in_place_and_split_frames_are_joined() {
        let whole = framed(b"a push");
        let msg = read(vec![whole.clone()], 100).unwrap();
        assert_eq!(&msg[..], b"a push");
        assert!(whole.as_ptr_range().contains(&msg.as_ptr()), "a slice of the frame, not a copy");
        let msg = read(vec![whole.clone(), Bytes::new()], 100).unwrap();
        assert!(
            whole.as_ptr_range().contains(&msg.as_ptr()),
            "the empty frame that ends the stream is no second frame"
        );
        let parts = vec![whole.slice(..3), whole.slice(3..8), whole.slice(8..)];
        assert_eq!(&read(parts, 100).unwrap()[..], b"a push");
    }

    #[test]
    fn bad_bodies_are_grpc_errors() {
        let whole = framed(b"a push");
        let code = |r: Result<Bytes, Status>| r.unwrap_err().code();
        assert_eq!(code(read(vec![whole.slice(..7)], 100)), tonic::Code::Internal, "truncated");
        assert_eq!(code(read(vec![whole.slice(..3)], 100)), tonic::Code::Internal, "no whole header");
        assert_eq!(code(read(vec![whole.clone()], 3)), tonic::Code::OutOfRange, "over the limit");
        assert_eq!(code(read(vec![whole.clone(), whole.clone()], 100)), tonic::Code::Unimplemented, "two messages");
        let mut compressed = BytesMut::from(&whole[..]);
        compressed[0] = 1;
        assert_eq!(code(read(vec![compressed.freeze()], 100)), tonic::Code::Unimplemented);
        let err = read(vec![framed(&[0; 50])], 10).unwrap_err();
        assert_eq!(err.message(), "Error, decoded message length too large: found 50 bytes, the limit is: 10 bytes");
    }

    #[test]
    fn answers_carry_the_message_and_an_ok_status() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let m = crate::proto::ingester::IngesterPushResponse { accepted: 3, ..Default::default() };
        let res = unary_response(&m);
        assert_eq!(res.headers()["content-type"], "application/grpc");
        let mut body = res.into_body();
        let mut next = || rt.block_on(std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx))).unwrap().unwrap();
        let data = next().into_data().unwrap();
        assert_eq!(data, framed(&m.encode_to_vec()));
        assert_eq!(next().into_trailers().unwrap()["grpc-status"], "0");
    }
}
