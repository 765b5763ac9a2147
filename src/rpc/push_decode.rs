//! Reading the push request (`push_wire::PushRequest`) on the ingester: each
//! stream's entries go into a vector counted before it is filled, each line a
//! slice of the received buffer (one reference count, no copy). An entry as the
//! distributor writes it (a timestamp and a line) is read by a tight loop over
//! the bytes; anything else (structured metadata, fields in duplicate or unknown,
//! malformed input) goes through prost's own field decoders, which also word the
//! errors.
//!
//! Used by `push_wire`'s `Message` implementation.

use bytes::{Buf, Bytes};
use prost::encoding::{self, decode_key, skip_field};
use prost::encoding::{DecodeContext, WireType};
use prost::DecodeError;

use super::push_wire::PushStream;
use crate::model::entry::ts_from_parts;
use crate::model::Entry;

/// The body of one length-delimited field (zero-copy when `buf` is `Bytes`).
pub(super) fn take(wire_type: WireType, buf: &mut impl Buf, ctx: &DecodeContext) -> Result<Bytes, DecodeError> {
    let mut out = Bytes::new();
    encoding::bytes::merge(wire_type, &mut out, buf, ctx.clone())?;
    Ok(out)
}

/// prost's own "buffer underflow" error (its constructor is not public API).
fn underflow(ctx: &DecodeContext) -> DecodeError {
    let mut short: &[u8] = &[1];
    let mut sink = Vec::<u8>::new();
    encoding::bytes::merge(WireType::LengthDelimited, &mut sink, &mut short, ctx.clone())
        .expect_err("a length of 1 with no byte after it underflows")
}

/// The body of one length-delimited field, borrowed from `cur`. Entries are read
/// from borrowed slices: only a line becomes a `Bytes` (one reference count each).
fn take_slice<'a>(wire_type: WireType, cur: &mut &'a [u8], ctx: &DecodeContext) -> Result<&'a [u8], DecodeError> {
    encoding::check_wire_type(WireType::LengthDelimited, wire_type)?;
    let len = encoding::decode_varint(cur)?;
    if len > cur.len() as u64 {
        return Err(underflow(ctx));
    }
    let (body, rest) = cur.split_at(len as usize);
    *cur = rest;
    Ok(body)
}

/// How many fields numbered `tag` a message body holds (a malformed body stops the
/// count; the decode that follows reports it).
fn count_fields(mut b: &[u8], want: u32, ctx: &DecodeContext) -> usize {
    let mut n = 0;
    while !b.is_empty() {
        let Ok((tag, wt)) = decode_key(&mut b) else { break };
        n += usize::from(tag == want);
        if skip_field(wt, tag, &mut b, ctx.clone()).is_err() {
            break;
        }
    }
    n
}

/// Reads a message body field by field; `f` merges each field (and skips the ones
/// it does not keep).
fn each_field<'a>(
    mut b: &'a [u8],
    mut f: impl FnMut(u32, WireType, &mut &'a [u8]) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    while !b.is_empty() {
        let (tag, wt) = decode_key(&mut b)?;
        f(tag, wt, &mut b)?;
    }
    Ok(())
}

fn decode_timestamp(b: &[u8], ctx: &DecodeContext) -> Result<i64, DecodeError> {
    let (mut seconds, mut nanos) = (0i64, 0i32);
    each_field(b, |tag, wt, b| match tag {
        1 => encoding::int64::merge(wt, &mut seconds, b, ctx.clone()),
        2 => encoding::int32::merge(wt, &mut nanos, b, ctx.clone()),
        _ => skip_field(wt, tag, b, ctx.clone()),
    })?;
    Ok(ts_from_parts(seconds, nanos))
}

fn decode_pair(b: &[u8], ctx: &DecodeContext) -> Result<(String, String), DecodeError> {
    let (mut name, mut value) = (String::new(), String::new());
    each_field(b, |tag, wt, b| match tag {
        1 => encoding::string::merge(wt, &mut name, b, ctx.clone()),
        2 => encoding::string::merge(wt, &mut value, b, ctx.clone()),
        _ => skip_field(wt, tag, b, ctx.clone()),
    })?;
    Ok((name, value))
}

/// A varint read from `b` at `*i`; `None` when cut short or longer than 64 bits.
/// (Not prost's `decode_varint` over a slice cursor: the fast path built on that
/// and `take_slice` measured 57-70 ns per line in `cargo bench --bench wire`
/// against 49-62 with these index-based readers.)
#[inline(always)]
fn varint_at(b: &[u8], i: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*i)?;
        *i += 1;
        if shift == 63 && byte > 1 {
            return None;
        }
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

/// A length-delimited body at `*i`, as a range of `b`.
#[inline(always)]
fn body_at(b: &[u8], i: &mut usize) -> Option<std::ops::Range<usize>> {
    let len = usize::try_from(varint_at(b, i)?).ok()?;
    let start = *i;
    let end = start.checked_add(len).filter(|&e| e <= b.len())?;
    *i = end;
    Some(start..end)
}

/// The entry as the distributor writes it (a timestamp, a line, each once, in any
/// order, no metadata), read without prost's per-field machinery; `None` for
/// anything else, which the general decoder below then reads (or reports).
#[inline(always)]
fn decode_entry_fast(whole: &Bytes, b: &[u8]) -> Option<Entry> {
    let (mut ts, mut line) = (None, None);
    let mut i = 0;
    while i < b.len() {
        let key = b[i];
        i += 1;
        match key {
            0x0a if ts.is_none() => {
                let t = &b[body_at(b, &mut i)?];
                let (mut j, mut seconds, mut nanos) = (0, 0u64, 0u64);
                while j < t.len() {
                    let k = t[j];
                    j += 1;
                    match k {
                        0x08 => seconds = varint_at(t, &mut j)?,
                        0x10 => nanos = varint_at(t, &mut j)?,
                        _ => return None,
                    }
                }
                // as prost reads them: int64 and int32 (the low 32 bits)
                ts = Some(ts_from_parts(seconds as i64, nanos as i32));
            }
            0x12 if line.is_none() => line = Some(body_at(b, &mut i)?),
            _ => return None,
        }
    }
    let line = match line {
        Some(r) => whole.slice_ref(&b[r]),
        None => Bytes::new(),
    };
    Some(Entry { ts: ts.unwrap_or(0), line, metadata: Vec::new() })
}

/// One `EntryAdapter` body `b`, a slice of `whole` (which its line is cut from).
fn decode_entry(whole: &Bytes, b: &[u8], ctx: &DecodeContext) -> Result<Entry, DecodeError> {
    match decode_entry_fast(whole, b) {
        Some(e) => Ok(e),
        None => decode_entry_general(whole, b, ctx),
    }
}

/// Any `EntryAdapter` body, field by field through prost's decoders (which also
/// word the errors of a malformed one).
fn decode_entry_general(whole: &Bytes, b: &[u8], ctx: &DecodeContext) -> Result<Entry, DecodeError> {
    let mut e = Entry { ts: 0, line: Bytes::new(), metadata: Vec::new() };
    each_field(b, |tag, wt, b| {
        match tag {
            1 => e.ts = decode_timestamp(take_slice(wt, b, ctx)?, ctx)?,
            2 => e.line = whole.slice_ref(take_slice(wt, b, ctx)?),
            3 => e.metadata.push(decode_pair(take_slice(wt, b, ctx)?, ctx)?),
            // 4 (parsed labels) is filled by queriers only; unknown fields are skipped
            _ => skip_field(wt, tag, b, ctx.clone())?,
        }
        Ok(())
    })?;
    Ok(e)
}

pub(super) fn decode_stream(whole: &Bytes, ctx: &DecodeContext) -> Result<PushStream, DecodeError> {
    let mut s = PushStream { labels: String::new(), entries: Vec::with_capacity(count_fields(whole, 2, ctx)) };
    each_field(whole, |tag, wt, b| match tag {
        1 => encoding::string::merge(wt, &mut s.labels, b, ctx.clone()),
        2 => {
            s.entries.push(decode_entry(whole, take_slice(wt, b, ctx)?, ctx)?);
            Ok(())
        }
        _ => skip_field(wt, tag, b, ctx.clone()),
    })?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::proto::logproto::{EntryAdapter, LabelPairAdapter};

    fn entry(seconds: i64, nanos: i32, line: &str) -> EntryAdapter {
        EntryAdapter {
            timestamp: Some(prost_types::Timestamp { seconds, nanos }),
            line: line.to_string().into(),
            structured_metadata: vec![],
            parsed: vec![],
        }
    }

    /// Both decoders on one body: (fast, general).
    fn both(body: Vec<u8>) -> (Option<Entry>, Result<Entry, DecodeError>) {
        let whole = Bytes::from(body);
        let ctx = DecodeContext::default();
        (decode_entry_fast(&whole, &whole), decode_entry_general(&whole, &whole, &ctx))
    }

    #[test]
    fn the_fast_path_reads_what_prost_reads() {
        let cases = [
            entry(1_700_000_000, 123_456_789, "a line"),
            entry(-2, 500, "before 1970"),
            entry(0, -5, "negative nanos"),
            entry(0, 0, ""),
            EntryAdapter { timestamp: None, ..entry(0, 0, "no timestamp") },
            entry(i64::MAX, 999_999_999, "saturates"),
        ];
        for e in cases {
            let (fast, general) = both(e.encode_to_vec());
            assert_eq!(fast.expect("the fast path takes it"), general.unwrap(), "{e:?}");
        }
        // line before timestamp: the same entry
        let mut reversed = Vec::new();
        encoding::bytes::encode(2, &Bytes::from_static(b"x"), &mut reversed);
        encoding::message::encode(1, &prost_types::Timestamp { seconds: 7, nanos: 8 }, &mut reversed);
        let (fast, general) = both(reversed);
        assert_eq!(fast.unwrap(), general.unwrap());
    }

    #[test]
    fn anything_else_goes_to_prost() {
        let mut md = entry(1, 2, "with metadata");
        md.structured_metadata = vec![LabelPairAdapter { name: "k".into(), value: "v".into() }];
        let (fast, general) = both(md.encode_to_vec());
        assert!(fast.is_none());
        assert_eq!(general.unwrap().metadata, vec![("k".to_string(), "v".to_string())]);
        // a timestamp given twice (no client writes that): the general decoder's reading, the last one
        let mut twice = entry(5, 6, "x").encode_to_vec();
        encoding::message::encode(1, &prost_types::Timestamp { seconds: 9, nanos: 0 }, &mut twice);
        let (fast, general) = both(twice);
        assert!(fast.is_none());
        assert_eq!(general.unwrap().ts, 9_000_000_000);
        // a varint past 64 bits and a length past the end: refused by both
        for bad in
            [vec![0x0a, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], vec![0x12, 0x05, b'a']]
        {
            let (fast, general) = both(bad);
            assert!(fast.is_none() && general.is_err());
        }
    }
}
