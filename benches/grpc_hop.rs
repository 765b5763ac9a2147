//! `cargo bench --bench grpc_hop`: what one gRPC push hop costs apart from the work
//! on either side. A tonic client and server in one process, each on a thread of its
//! own with a current-thread runtime (as an actix arbiter runs them), over loopback
//! TCP; the server's `Pusher` answers at once and drops the request. Reported: CPU
//! (user + system of the whole process, so both threads and the kernel's TCP work)
//! per line for the encode + decode alone, and for the whole call, sequential and 4
//! calls in flight. A push is 1,667 ~200-byte lines over 167 streams: what each of
//! three ingesters receives from one Promtail 1 MiB batch at replication factor 1.
//! A plain timing harness (no criterion); one table row and one JSON line per row.

use std::time::Instant;

use prost::Message;
use skald::loadgen::gen::{bench_labels, stream_pushes, Kind, Rng};
use skald::proto::logproto::pusher_client::PusherClient;
use skald::proto::logproto::pusher_server::{Pusher, PusherServer};
use skald::proto::logproto::{PushRequest, PushResponse};
use tonic::{Request, Response, Status};

/// The server's allocator: allocation is much of what is measured.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Sink;

#[tonic::async_trait]
impl Pusher for Sink {
    async fn push(&self, req: Request<PushRequest>) -> Result<Response<PushResponse>, Status> {
        std::hint::black_box(req.into_inner().streams.len());
        Ok(Response::new(PushResponse::default()))
    }
}

/// User + system CPU seconds of this process so far.
fn cpu_secs() -> f64 {
    // SAFETY: getrusage only writes the struct it is handed.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn request() -> (PushRequest, usize) {
    let mut rng = Rng::new(11);
    let labels = bench_labels(167);
    let mut ts = 1_700_000_000_000_000_000i64;
    let streams = stream_pushes(&mut rng, Kind::Logfmt, &labels, 10, &mut ts);
    let lines = streams.iter().map(|s| s.entries.len()).sum();
    (PushRequest { streams: skald::rpc::ingester::to_proto(streams), ..Default::default() }, lines)
}

fn row(name: &str, calls: usize, lines: usize, cpu: f64, wall: f64) {
    let us = cpu * 1e6 / (calls * lines) as f64;
    println!("{name:<22} {calls:>6} {us:>14.3} {:>12.0}", (calls * lines) as f64 / wall);
    println!("{{\"bench\":\"grpc_hop\",\"case\":\"{name}\",\"cpu_us_per_line\":{us:.3}}}");
}

fn main() {
    let (req, lines) = request();
    println!("{lines} lines, {} bytes per push", req.encoded_len());
    println!("{:<22} {:>6} {:>14} {:>12}", "case", "calls", "cpu µs/line", "lines/s");

    // the codec alone, in this thread
    let calls = 400;
    let (c0, t0) = (cpu_secs(), Instant::now());
    for _ in 0..calls {
        let bytes = bytes::Bytes::from(req.encode_to_vec());
        std::hint::black_box(PushRequest::decode(bytes).expect("decodes").streams.len());
    }
    row("encode+decode", calls, lines, cpu_secs() - c0, t0.elapsed().as_secs_f64());

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async move {
            listener.set_nonblocking(true).expect("nonblocking");
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
            tonic::transport::Server::builder()
                .max_frame_size(Some(1 << 20))
                .add_service(PusherServer::new(Sink).max_decoding_message_size(64 << 20))
                .serve_with_incoming(incoming)
                .await
                .expect("serves");
        });
    });
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let client = PusherClient::connect(format!("http://{addr}")).await.expect("connects");
        let client = client.max_encoding_message_size(64 << 20);
        for (name, inflight) in [("call, 1 in flight", 1), ("call, 4 in flight", 4)] {
            let calls = 400;
            // built before the clock starts: a distributor moves its request, it does not copy it
            let mut reqs: Vec<Vec<PushRequest>> =
                (0..inflight).map(|_| (0..calls / inflight).map(|_| req.clone()).collect()).collect();
            let (c0, t0) = (cpu_secs(), Instant::now());
            let tasks = reqs.iter_mut().map(|mine| {
                let (mut c, mine) = (client.clone(), std::mem::take(mine));
                async move {
                    for r in mine {
                        c.push(r).await.expect("push");
                    }
                }
            });
            futures::future::join_all(tasks).await;
            row(name, calls, lines, cpu_secs() - c0, t0.elapsed().as_secs_f64());
        }
    });
}
