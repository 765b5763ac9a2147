//! Push body decoding: Loki's v1 JSON, the legacy `/api/prom/push` JSON, and
//! snappy-compressed protobuf, each optionally wrapped in gzip or deflate.
//!
//! Size limits are enforced before and after decompression; a body that would
//! expand past `max_decompressed_size` is refused without allocating that much.

use std::collections::BTreeMap;
use std::io::Read;

use bytes::Bytes;
use prost::Message;
use serde::Deserialize;

use super::labels::LabelCache;
use super::PushError;
use crate::model::entry::ts_from_parts;
use crate::model::labels::is_valid_label_name;
use crate::model::{Entry, Labels};
use crate::proto::logproto;

/// One stream as decoded, before validation.
#[derive(Debug, Clone)]
pub struct RawStream {
    pub labels: Labels,
    pub entries: Vec<Entry>,
}

/// What arrived on the wire.
pub struct PushBody<'a> {
    pub content_type: Option<&'a str>,
    pub content_encoding: Option<&'a str>,
    pub body: Bytes,
    /// `/api/prom/push`: JSON bodies use the legacy (v0) shape.
    pub legacy: bool,
}

fn too_large(kind: &str, size: u64, max: u64) -> PushError {
    PushError::TooLarge(format!("request body too large: {kind} too large than max ({size} vs {max})"))
}

/// Decodes a push body into streams (not yet validated).
pub fn decode_push(
    p: PushBody<'_>,
    max_recv: u64,
    max_decompressed: u64,
    cache: &LabelCache,
) -> Result<Vec<RawStream>, PushError> {
    if p.body.len() as u64 > max_recv {
        return Err(too_large("message size", p.body.len() as u64, max_recv));
    }
    let body = match p.content_encoding.map(str::trim).unwrap_or("") {
        "" | "snappy" => p.body,
        "gzip" => inflate(flate2::read::GzDecoder::new(&p.body[..]), max_decompressed)?,
        "deflate" => inflate(flate2::read::ZlibDecoder::new(&p.body[..]), max_decompressed)?,
        other => return Err(PushError::BadRequest(format!("Content-Encoding {other:?} not supported"))),
    };
    let media = media_type(p.content_type)?;
    if media == "application/json" {
        if body.len() as u64 > max_decompressed {
            return Err(too_large("decompressed message size", body.len() as u64, max_decompressed));
        }
        // Loki keeps bytes as sent; Skald stores text: invalid UTF-8 becomes U+FFFD
        let body = match std::str::from_utf8(&body) {
            Ok(_) => body,
            Err(_) => Bytes::from(String::from_utf8_lossy(&body).into_owned()),
        };
        if p.legacy {
            decode_legacy_json(&body, cache)
        } else {
            decode_json(&body, cache)
        }
    } else {
        decode_protobuf(&body, max_decompressed, cache)
    }
}

fn media_type(ct: Option<&str>) -> Result<String, PushError> {
    let ct = ct.unwrap_or("").trim();
    let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if media.is_empty() {
        return Err(PushError::BadRequest("mime: no media type".into()));
    }
    if !media.contains('/') {
        return Err(PushError::BadRequest("mime: expected slash after first token".into()));
    }
    Ok(media)
}

fn inflate(r: impl Read, max: u64) -> Result<Bytes, PushError> {
    let mut out = Vec::new();
    let n = r
        .take(max.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| PushError::BadRequest(format!("decompressing request body: {e}")))?;
    if n as u64 > max {
        return Err(too_large("decompressed message size", n as u64, max));
    }
    Ok(Bytes::from(out))
}

/// Snappy's declared length is checked before allocating; like Go's snappy, a
/// declared length past 4 GiB is a corrupt body (400), one past the limit a 413.
fn decode_protobuf(body: &Bytes, max_decompressed: u64, cache: &LabelCache) -> Result<Vec<RawStream>, PushError> {
    let len = snap::raw::decompress_len(body).map_err(|e| PushError::BadRequest(format!("snappy: {e}")))?;
    if len as u64 > max_decompressed {
        return Err(too_large("decompressed message size", len as u64, max_decompressed));
    }
    let raw =
        snap::raw::Decoder::new().decompress_vec(body).map_err(|e| PushError::BadRequest(format!("snappy: {e}")))?;
    let req = logproto::PushRequest::decode(Bytes::from(raw))
        .map_err(|e| PushError::BadRequest(format!("unexpected error decoding protobuf: {e}")))?;
    req.streams.into_iter().map(|s| from_proto_stream(s, cache)).collect()
}

/// Converts a protobuf stream (also used by the gRPC Pusher service).
pub fn from_proto_stream(s: logproto::StreamAdapter, cache: &LabelCache) -> Result<RawStream, PushError> {
    let labels = cache.resolve(&s.labels)?;
    let entries = s
        .entries
        .into_iter()
        .map(|e| {
            let ts = e.timestamp.map(|t| ts_from_parts(t.seconds, t.nanos)).unwrap_or(0);
            Entry {
                ts,
                line: utf8_line(e.line),
                metadata: e.structured_metadata.into_iter().map(|p| (p.name, p.value)).collect(),
            }
        })
        .collect();
    Ok(RawStream { labels, entries })
}

/// Lines must be UTF-8; invalid sequences become U+FFFD (Skald stores text).
fn utf8_line(b: Bytes) -> Bytes {
    match std::str::from_utf8(&b) {
        Ok(_) => b,
        Err(_) => Bytes::from(String::from_utf8_lossy(&b).into_owned()),
    }
}

#[derive(Deserialize)]
struct JsonPush {
    #[serde(default)]
    streams: Option<Vec<Option<JsonStream>>>,
}

#[derive(Deserialize)]
struct JsonStream {
    #[serde(default)]
    stream: Option<BTreeMap<String, String>>,
    #[serde(default)]
    values: Option<Vec<Option<JsonEntry>>>,
}

/// `["<ns>", "<line>"]` or `["<ns>", "<line>", {"<key>": "<value>"}]`.
struct JsonEntry(Entry);

impl<'de> Deserialize<'de> for JsonEntry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Tuple {
            Two(String, String),
            Three(String, String, Option<BTreeMap<String, String>>),
        }
        let (ts, line, meta) = match Tuple::deserialize(d).map_err(|_| {
            D::Error::custom("each value must be an array [\"<unix ns timestamp as string>\", \"<line>\", {optional structured metadata}]")
        })? {
            Tuple::Two(t, l) => (t, l, None),
            Tuple::Three(t, l, m) => (t, l, m),
        };
        let ts: i64 = ts.parse().map_err(|e: std::num::ParseIntError| {
            // Go's strconv texts: digits that overflow int64 are "out of range"
            let why = match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => "value out of range",
                _ => "invalid syntax",
            };
            D::Error::custom(format!("strconv.ParseInt: parsing {ts:?}: {why}"))
        })?;
        Ok(JsonEntry(Entry { ts, line: Bytes::from(line), metadata: meta.unwrap_or_default().into_iter().collect() }))
    }
}

fn decode_json(body: &[u8], cache: &LabelCache) -> Result<Vec<RawStream>, PushError> {
    let req: JsonPush = serde_json::from_slice(body).map_err(|e| PushError::BadRequest(json_error(&e)))?;
    let mut out = Vec::new();
    for s in req.streams.unwrap_or_default().into_iter().flatten() {
        let map = s.stream.unwrap_or_default();
        if let Some(bad) = map.keys().find(|k| !is_valid_label_name(k)) {
            return Err(PushError::BadRequest(format!(
                "couldn't parse labels: 1:2: parse error: invalid label name {bad:?}"
            )));
        }
        let labels = cache.discover(Labels::from_pairs(map.into_iter().collect()));
        let entries = s.values.unwrap_or_default().into_iter().flatten().map(|e| e.0).collect();
        out.push(RawStream { labels, entries });
    }
    Ok(out)
}

fn json_error(e: &serde_json::Error) -> String {
    format!("error unmarshaling push request: {e}")
}

#[derive(Deserialize)]
struct LegacyPush {
    #[serde(default)]
    streams: Vec<LegacyStream>,
}

#[derive(Deserialize)]
struct LegacyStream {
    labels: String,
    #[serde(default)]
    entries: Vec<LegacyEntry>,
}

#[derive(Deserialize)]
struct LegacyEntry {
    ts: String,
    line: String,
}

fn decode_legacy_json(body: &[u8], cache: &LabelCache) -> Result<Vec<RawStream>, PushError> {
    let req: LegacyPush = serde_json::from_slice(body).map_err(|e| PushError::BadRequest(json_error(&e)))?;
    req.streams
        .into_iter()
        .map(|s| {
            let labels = cache.resolve(&s.labels)?;
            let entries = s
                .entries
                .into_iter()
                .map(|e| {
                    let ts = time::OffsetDateTime::parse(&e.ts, &time::format_description::well_known::Rfc3339)
                        .map_err(|_| {
                            PushError::BadRequest(format!("parsing time {:?}: invalid RFC3339 timestamp", e.ts))
                        })?;
                    let ns = ts.unix_timestamp_nanos().clamp(i64::MIN as i128, i64::MAX as i128) as i64;
                    Ok(Entry::new(ns, e.line))
                })
                .collect::<Result<Vec<_>, PushError>>()?;
            Ok(RawStream { labels, entries })
        })
        .collect()
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
