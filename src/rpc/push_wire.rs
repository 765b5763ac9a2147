//! `PushRequest`: the distributor-to-ingester push on the wire (proto
//! `skald.ingester.IngesterPushRequest`, streams as `logproto.StreamAdapter`),
//! written and read by hand instead of through prost's generated structs. The
//! bytes are exactly what the generated code writes, but a stream's entries are
//! the model's own `Entry` values: the distributor moves its entries into the
//! request without building an `EntryAdapter` per line, and the ingester decodes
//! each line as a slice of the received buffer into a vector sized once (prost
//! would grow it entry by entry and then need a second pass into `Entry`).
//!
//! build.rs maps the proto message to this type (`extern_path`), so the
//! generated `Ingester` client and server carry it; `ingester` builds it and
//! `service` takes it apart.

use bytes::{Buf, BufMut};
use prost::encoding::{self, encode_key, encode_varint, encoded_len_varint, skip_field};
use prost::encoding::{DecodeContext, WireType};
use prost::{DecodeError, Message};

use crate::model::entry::ts_to_parts;
use crate::model::Entry;

/// One push: the tenant and its streams.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PushRequest {
    pub tenant: String,
    pub streams: Vec<PushStream>,
}

/// One stream of a push: its label string (`{a="1"}`) and entries.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PushStream {
    pub labels: String,
    pub entries: Vec<Entry>,
}

/// Length of a length-delimited field with tag < 16 holding `len` bytes.
fn field_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

/// Length of a string or bytes field, which proto3 leaves out when empty.
fn opt_len(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        field_len(len)
    }
}

fn put_bytes(tag: u32, b: &[u8], buf: &mut impl BufMut) {
    if !b.is_empty() {
        encode_key(tag, WireType::LengthDelimited, buf);
        encode_varint(b.len() as u64, buf);
        buf.put_slice(b);
    }
}

/// A timestamp's `google.protobuf.Timestamp` fields as the varints prost writes
/// (int64 seconds, int32 nanos sign-extended).
fn ts_varints(ts: i64) -> (u64, u64) {
    let (seconds, nanos) = ts_to_parts(ts);
    (seconds as u64, i64::from(nanos) as u64)
}

/// Length of a varint field with tag < 16, which proto3 leaves out when zero.
fn varint_len(v: u64) -> usize {
    if v == 0 {
        0
    } else {
        1 + encoded_len_varint(v)
    }
}

fn pair_len(name: &str, value: &str) -> usize {
    opt_len(name.len()) + opt_len(value.len())
}

/// Length of an `EntryAdapter` body whose timestamp varints are `ts`.
fn entry_len(e: &Entry, (s, n): (u64, u64)) -> usize {
    field_len(varint_len(s) + varint_len(n))
        + opt_len(e.line.len())
        + e.metadata.iter().map(|(n, v)| field_len(pair_len(n, v))).sum::<usize>()
}

fn stream_len(s: &PushStream) -> usize {
    opt_len(s.labels.len()) + s.entries.iter().map(|e| field_len(entry_len(e, ts_varints(e.ts)))).sum::<usize>()
}

/// Up to 48 bytes of keys and varints gathered on the stack, so that an entry
/// reaches the output buffer in two writes (its header, its line) instead of one
/// buffer call per byte of every key and varint.
struct Header {
    b: [u8; 48],
    n: usize,
}

impl Header {
    fn new() -> Self {
        Header { b: [0; 48], n: 0 }
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.b[self.n] = (v as u8) | 0x80;
            self.n += 1;
            v >>= 7;
        }
        self.b[self.n] = v as u8;
        self.n += 1;
    }

    /// A key with a tag below 16 is one byte.
    fn key(&mut self, tag: u8, wire_type: WireType) {
        self.b[self.n] = (tag << 3) | wire_type as u8;
        self.n += 1;
    }

    fn varint_field(&mut self, tag: u8, v: u64) {
        if v != 0 {
            self.key(tag, WireType::Varint);
            self.varint(v);
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.b[..self.n]
    }
}

/// One entry as a field of its stream: key, length (`len`, its body's), body;
/// `(s, n)`: its timestamp varints.
fn put_entry(e: &Entry, (len, (s, n)): (usize, (u64, u64)), buf: &mut impl BufMut) {
    // at most 1 + 10 + 1 + 1 + (1 + 10) * 2 + 1 + 10 = 46 bytes
    let mut h = Header::new();
    h.key(2, WireType::LengthDelimited);
    h.varint(len as u64);
    h.key(1, WireType::LengthDelimited);
    h.varint((varint_len(s) + varint_len(n)) as u64);
    h.varint_field(1, s);
    h.varint_field(2, n);
    if !e.line.is_empty() {
        h.key(2, WireType::LengthDelimited);
        h.varint(e.line.len() as u64);
    }
    buf.put_slice(h.bytes());
    buf.put_slice(&e.line);
    for (name, value) in &e.metadata {
        encode_key(3, WireType::LengthDelimited, buf);
        encode_varint(pair_len(name, value) as u64, buf);
        put_bytes(1, name.as_bytes(), buf);
        put_bytes(2, value.as_bytes(), buf);
    }
}

impl Message for PushRequest {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        put_bytes(1, self.tenant.as_bytes(), buf);
        // each entry's length is needed twice, in its stream's length and its own
        // prefix; its timestamp's varints are kept beside it (a division apiece)
        let mut lens = Vec::new();
        for s in &self.streams {
            lens.clear();
            lens.extend(s.entries.iter().map(|e| {
                let ts = ts_varints(e.ts);
                (entry_len(e, ts), ts)
            }));
            encode_key(2, WireType::LengthDelimited, buf);
            encode_varint(
                (opt_len(s.labels.len()) + lens.iter().map(|&(l, _)| field_len(l)).sum::<usize>()) as u64,
                buf,
            );
            put_bytes(1, s.labels.as_bytes(), buf);
            for (e, &len) in s.entries.iter().zip(&lens) {
                put_entry(e, len, buf);
            }
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        match tag {
            1 => encoding::string::merge(wire_type, &mut self.tenant, buf, ctx),
            2 => {
                let body = super::push_decode::take(wire_type, buf, &ctx)?;
                self.streams.push(super::push_decode::decode_stream(&body, &ctx)?);
                Ok(())
            }
            _ => skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        opt_len(self.tenant.len()) + self.streams.iter().map(|s| field_len(stream_len(s))).sum::<usize>()
    }

    fn clear(&mut self) {
        self.tenant.clear();
        self.streams.clear();
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::model::{Labels, StreamPush};
    use crate::proto::logproto::{LabelPairAdapter, StreamAdapter};

    /// The same push as prost's generated structs (what `IngesterPushRequest` was).
    #[derive(Clone, PartialEq, prost::Message)]
    struct Generated {
        #[prost(string, tag = "1")]
        tenant: String,
        #[prost(message, repeated, tag = "2")]
        streams: Vec<StreamAdapter>,
    }

    fn sample() -> PushRequest {
        let mut with_md = Entry::new(-1_500_000_001, "before 1970");
        with_md.metadata = vec![("trace_id".into(), "abc".into()), (String::new(), "v".into())];
        PushRequest {
            tenant: "team-a".into(),
            streams: vec![
                PushStream {
                    labels: r#"{app="a"}"#.into(),
                    entries: vec![with_md, Entry::new(0, ""), Entry::new(1_700_000_000_123_456_789, "x".repeat(300))],
                },
                PushStream { labels: r#"{app="b"}"#.into(), entries: vec![] },
            ],
        }
    }

    /// The same push through prost's generated structs (what the Pusher API sends).
    fn generated(p: &PushRequest) -> Generated {
        let streams =
            p.streams.iter().map(|s| StreamPush::new(Labels::parse(&s.labels).unwrap(), s.entries.clone())).collect();
        Generated { tenant: p.tenant.clone(), streams: crate::rpc::ingester::to_proto(streams) }
    }

    #[test]
    fn writes_what_prost_writes_and_reads_it_back() {
        let p = sample();
        let bytes = p.encode_to_vec();
        assert_eq!(bytes.len(), p.encoded_len());
        assert_eq!(bytes, generated(&p).encode_to_vec());
        assert_eq!(PushRequest::decode(Bytes::from(bytes)).unwrap(), p);
    }

    #[test]
    fn reads_fields_it_does_not_keep_and_lines_share_the_buffer() {
        let mut g = generated(&sample());
        g.streams[0].hash = 42;
        g.streams[0].entries[0].parsed = vec![LabelPairAdapter { name: "level".into(), value: "info".into() }];
        let wire = Bytes::from(g.encode_to_vec());
        let p = PushRequest::decode(wire.clone()).unwrap();
        assert_eq!(p, sample());
        let line = &p.streams[0].entries[2].line;
        let range = wire.as_ptr_range();
        assert!(range.contains(&line.as_ptr()), "the line is a slice of the request, not a copy");
        assert_eq!(p.streams[0].entries.capacity(), 3, "entries are counted before they are read");
    }

    #[test]
    fn malformed_input_is_an_error() {
        let bytes = sample().encode_to_vec();
        for cut in [1, bytes.len() / 2, bytes.len() - 1] {
            assert!(PushRequest::decode(&bytes[..cut]).is_err(), "truncated at {cut}");
        }
        // a label value that is not UTF-8
        let mut bad = Vec::new();
        encode_key(2, WireType::LengthDelimited, &mut bad);
        encode_varint(3, &mut bad);
        bad.extend_from_slice(&[0x0a, 0x01, 0xff]);
        assert!(PushRequest::decode(&bad[..]).is_err());
    }
}
