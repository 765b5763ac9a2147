//! `cargo bench --bench wire`: the distributor-to-ingester push on the wire, both
//! halves apart: the distributor's encode (streams to protobuf bytes) and the
//! ingester's decode (bytes back to streams, labels through the cache), per push of
//! 1,000 ~200-byte lines over 100 streams (the microservices benchmark's push) and
//! per push of 5,000 lines over 500 streams (Promtail's 1 MiB batch).
//! A plain timing harness (no criterion); one table row and one JSON line per row.

use std::time::Instant;

use prost::Message;
use skald::distributor::labels::LabelCache;
use skald::loadgen::gen::{bench_labels, stream_pushes, Kind, Rng};
use skald::model::StreamPush;
use skald::rpc::ingester::{from_wire, to_wire};
use skald::rpc::push_wire::PushRequest;

/// The server's allocator: allocation is much of what is measured.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    println!("{:<12} {:>8} {:>14} {:>14}", "push", "pushes", "encode ns/line", "decode ns/line");
    for (name, streams, per_stream) in [("1000x100", 100, 10), ("5000x500", 500, 10)] {
        let mut rng = Rng::new(7);
        let labels = bench_labels(streams);
        let mut ts = 1_700_000_000_000_000_000i64;
        let rounds = 400_000 / (streams * per_stream);
        let pushes: Vec<Vec<StreamPush>> =
            (0..rounds).map(|_| stream_pushes(&mut rng, Kind::Logfmt, &labels, per_stream, &mut ts)).collect();
        let lines = (rounds * streams * per_stream) as f64;
        let cache = LabelCache::new(vec![]);
        let (mut enc, mut dec, mut n) = (0.0, 0.0, 0);
        // one push at a time, encoded then decoded, so memory is reused as in a server
        for p in pushes {
            let t = Instant::now();
            let wire = bytes::Bytes::from(to_wire("bench".into(), p).encode_to_vec());
            let t1 = Instant::now();
            let req = PushRequest::decode(wire).expect("decodes");
            let streams = from_wire(req.streams, &cache).expect("valid");
            dec += t1.elapsed().as_secs_f64();
            enc += (t1 - t).as_secs_f64();
            n += streams.iter().map(|s| s.entries.len()).sum::<usize>();
        }
        let (enc, dec) = (enc * 1e9 / lines, dec * 1e9 / lines);
        assert_eq!(n as f64, lines);
        println!("{name:<12} {rounds:>8} {enc:>14.1} {dec:>14.1}");
        println!("{{\"bench\":\"wire\",\"push\":\"{name}\",\"encode_ns_per_line\":{enc:.1},\"decode_ns_per_line\":{dec:.1}}}");
    }
}
