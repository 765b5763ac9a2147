//! `SizedCodec`: the gRPC codec of every generated service and client (build.rs
//! sets it as the `codec_path`). The bytes on the wire are tonic-prost's; the
//! encoder only reserves the message's encoded length before writing it, so a
//! 1 MiB push is written into one allocation instead of a buffer that starts at
//! 8 KiB and is doubled, and copied, on the way (tonic reserves nothing ahead).
//! The decoder starts each call's receive buffer at a little over twice the
//! recent size of its message type: tonic reserves a message's whole length on
//! top of the first frame already buffered, so a smaller buffer copied every
//! large message (a Loki `Pusher` push, a query answer) into a fresh allocation
//! of twice its size. The ingester's `Push` skips tonic's decoding (`push_fast`).
//!
//! Used by the generated code only; nothing else talks to it. Every gRPC call in
//! the integration tests (tests/cluster.rs, tests/microservices.rs) goes through it.

use std::any::TypeId;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Buf;
use prost::Message;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;
use tonic_prost::ProstDecoder;

pub struct SizedCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for SizedCodec<T, U> {
    fn default() -> Self {
        SizedCodec(PhantomData)
    }
}

impl<T, U> Codec for SizedCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = SizedEncoder<T>;
    type Decoder = SizedDecoder<U>;

    fn encoder(&mut self) -> SizedEncoder<T> {
        SizedEncoder(PhantomData)
    }

    fn decoder(&mut self) -> SizedDecoder<U> {
        SizedDecoder { inner: ProstDecoder::default(), hint: hint_slot::<U>() }
    }
}

/// Recent message sizes, one slot per message type (types share a slot when
/// their hashes collide: it is only a hint).
static SIZE_HINTS: [AtomicUsize; 16] = [const { AtomicUsize::new(0) }; 16];
/// tonic's own starting size.
const MIN_BUFFER: usize = 8 << 10;
/// No receive buffer starts bigger than this, whatever the hint says.
const MAX_BUFFER: usize = 64 << 20;

fn hint_slot<U: 'static>() -> &'static AtomicUsize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    TypeId::of::<U>().hash(&mut h);
    &SIZE_HINTS[(h.finish() % SIZE_HINTS.len() as u64) as usize]
}

/// The receive buffer for a call whose messages were recently `hint` bytes: the
/// first frame plus the reservation tonic makes for the whole message must fit,
/// with a quarter to spare for a message somewhat bigger than the last ones.
fn buffer_for(hint: usize) -> usize {
    if hint <= MIN_BUFFER / 2 {
        return MIN_BUFFER;
    }
    hint.saturating_mul(2).saturating_add(hint / 4).saturating_add(64 << 10).min(MAX_BUFFER)
}

/// Remembers `len`: a larger message raises the hint at once, smaller ones
/// lower it by a 32nd each, so a few small calls do not shrink the next push's buffer.
fn remember(slot: &AtomicUsize, len: usize) {
    let old = slot.load(Ordering::Relaxed);
    let new = len.max(old - old / 32);
    if new != old {
        slot.store(new, Ordering::Relaxed);
    }
}

pub struct SizedDecoder<U> {
    inner: ProstDecoder<U>,
    hint: &'static AtomicUsize,
}

impl<U: Message + Default> Decoder for SizedDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        remember(self.hint, buf.remaining());
        self.inner.decode(buf)
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::new(buffer_for(self.hint.load(Ordering::Relaxed)), 32 << 10)
    }
}

pub struct SizedEncoder<T>(PhantomData<T>);

impl<T: Message> Encoder for SizedEncoder<T> {
    type Item = T;
    type Error = Status;

    fn encode(&mut self, item: T, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.reserve(item.encoded_len());
        // not `encode`: it would compute the length a second time (a pass over every
        // entry of a push) only to check room that was just reserved
        item.encode_raw(buf);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_follow_the_recent_message_size() {
        assert_eq!(buffer_for(0), MIN_BUFFER);
        assert_eq!(buffer_for(400 << 10), (900 << 10) + (64 << 10), "room for the first frame and tonic's reservation");
        assert_eq!(buffer_for(usize::MAX), MAX_BUFFER);
        let slot = AtomicUsize::new(0);
        remember(&slot, 1 << 20);
        assert_eq!(slot.load(Ordering::Relaxed), 1 << 20, "a large message raises the hint at once");
        remember(&slot, 100);
        assert_eq!(slot.load(Ordering::Relaxed), (1 << 20) - (1 << 15), "a small one lowers it by a 32nd");
        for _ in 0..1000 {
            remember(&slot, 100);
        }
        assert_eq!(slot.load(Ordering::Relaxed), 100, "and a run of small ones brings it down to their size");
    }
}
