//! Block compression selected by `ingester.chunk_encoding`.
//!
//! Accepts Loki's names: none, gzip, snappy, lz4 (and lz4-64k/-256k/-1M/-4M, which
//! Skald treats alike), flate, zstd (Skald's own zstd settings, see `ZSTD`). Called
//! by the head block at each cut and by every block read.

use std::io::{Read, Write};

use super::ChunkError;

/// zstd settings for chunk blocks, chosen by `cargo bench --bench chunk` (see
/// docs/benchmarks.md, "Chunk block compression"): the lazy match finder with
/// 32 candidates and matches of 6 bytes or more (the lazy finder's longest
/// minimum; 7 gives the same output). Fewer, longer matches make the blocks
/// smaller and faster to decode than level 3's (on the JSON corpus ratio
/// 4.8 -> 6.1, decode faster than snappy's) at a third of its encode speed.
const ZSTD: crate::storage::zstd_ctx::Params =
    crate::storage::zstd_ctx::Params { level: 5, lazy: true, search_log: 5, min_match: 6 };

/// Per-thread compression state: the worst-case output buffer and snappy's encoder.
struct Scratch {
    buf: Vec<u8>,
    snappy: snap::raw::Encoder,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> =
        std::cell::RefCell::new(Scratch { buf: Vec::new(), snappy: snap::raw::Encoder::new() });
}

/// Grows `buf` to at least `n` bytes; never shrinks it (reused buffers keep their pages).
fn grow(buf: &mut Vec<u8>, n: usize) {
    if buf.len() < n {
        buf.resize(n, 0);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    None,
    Gzip,
    Flate,
    Snappy,
    Lz4,
    Zstd,
}

impl Encoding {
    /// The byte stored in chunk files.
    pub fn code(self) -> u8 {
        match self {
            Encoding::None => 0,
            Encoding::Gzip => 1,
            Encoding::Flate => 2,
            Encoding::Snappy => 3,
            Encoding::Lz4 => 4,
            Encoding::Zstd => 5,
        }
    }

    pub fn from_code(c: u8) -> Option<Encoding> {
        [Encoding::None, Encoding::Gzip, Encoding::Flate, Encoding::Snappy, Encoding::Lz4, Encoding::Zstd]
            .into_iter()
            .find(|e| e.code() == c)
    }

    pub fn parse(s: &str) -> Result<Encoding, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "none" => Encoding::None,
            "gzip" => Encoding::Gzip,
            "flate" => Encoding::Flate,
            "snappy" => Encoding::Snappy,
            "lz4" | "lz4-64k" | "lz4-256k" | "lz4-1m" | "lz4-4m" => Encoding::Lz4,
            "zstd" => Encoding::Zstd,
            other => {
                return Err(format!(
                    "ingester.chunk_encoding: unsupported encoding {other:?} (supported: none, gzip, flate, snappy, lz4, lz4-64k, lz4-256k, lz4-1M, lz4-4M, zstd)"
                ))
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Encoding::None => "none",
            Encoding::Gzip => "gzip",
            Encoding::Flate => "flate",
            Encoding::Snappy => "snappy",
            Encoding::Lz4 => "lz4",
            Encoding::Zstd => "zstd",
        }
    }

    /// Compresses `raw`; the result owns no spare capacity (blocks live long in
    /// memory). Snappy and LZ4 compress into a per-thread scratch buffer sized for
    /// the worst case and copy out exactly the result: one allocation of the
    /// compressed size instead of a worst-case one, a shrink and a copy, so fewer
    /// fresh pages to fault in (WAL replay and ingest cut blocks all the time).
    pub fn compress(self, raw: &[u8]) -> Vec<u8> {
        match self {
            Encoding::Snappy | Encoding::Lz4 => SCRATCH.with_borrow_mut(|s| self.compress_fast(raw, s)),
            _ => {
                let mut out = self.compress_inner(raw);
                out.shrink_to_fit();
                out
            }
        }
    }

    fn compress_fast(self, raw: &[u8], s: &mut Scratch) -> Vec<u8> {
        let n = match self {
            Encoding::Lz4 => {
                grow(&mut s.buf, 4 + lz4_flex::block::get_maximum_output_size(raw.len()));
                s.buf[..4].copy_from_slice(&(raw.len() as u32).to_le_bytes());
                // the buffer is sized for the worst case, so this cannot fail
                lz4_flex::block::compress_into(raw, &mut s.buf[4..]).map(|n| n + 4).unwrap_or(0)
            }
            _ => {
                grow(&mut s.buf, snap::raw::max_compress_len(raw.len()));
                s.snappy.compress(raw, &mut s.buf).unwrap_or(0)
            }
        };
        if n == 0 {
            return self.compress_inner(raw);
        }
        s.buf[..n].to_vec()
    }

    fn compress_inner(self, raw: &[u8]) -> Vec<u8> {
        match self {
            Encoding::None => raw.to_vec(),
            Encoding::Gzip => {
                let mut e =
                    flate2::write::GzEncoder::new(Vec::with_capacity(raw.len() / 4), flate2::Compression::default());
                // Writing into a Vec cannot fail.
                let _ = e.write_all(raw);
                e.finish().unwrap_or_default()
            }
            Encoding::Flate => {
                let mut e = flate2::write::DeflateEncoder::new(
                    Vec::with_capacity(raw.len() / 4),
                    flate2::Compression::default(),
                );
                let _ = e.write_all(raw);
                e.finish().unwrap_or_default()
            }
            Encoding::Snappy => snap::raw::Encoder::new().compress_vec(raw).unwrap_or_default(),
            Encoding::Lz4 => lz4_flex::block::compress_prepend_size(raw),
            Encoding::Zstd => crate::storage::zstd_ctx::compress(raw, ZSTD).unwrap_or_default(),
        }
    }

    /// Decompresses into the front of `buf` (grown, never shrunk, so one buffer
    /// serves many blocks without a new allocation or zeroing each time) and
    /// returns the decompressed length. Snappy, LZ4 and zstd decode in place;
    /// gzip, flate and none go through `decompress`.
    pub fn decompress_into(self, data: &[u8], raw_len: usize, buf: &mut Vec<u8>) -> Result<usize, ChunkError> {
        let fail = |msg: String| ChunkError::Decompress { encoding: self.name(), msg };
        match self {
            Encoding::Snappy => {
                let n = snap::raw::decompress_len(data).map_err(|e| fail(e.to_string()))?;
                if n != raw_len {
                    return Err(ChunkError::Corrupt("block length mismatch"));
                }
                grow(buf, n);
                snap::raw::Decoder::new().decompress(data, &mut buf[..n]).map_err(|e| fail(e.to_string()))
            }
            Encoding::Lz4 => {
                let (size, body) = data.split_first_chunk::<4>().ok_or_else(|| fail("missing size".into()))?;
                let n = u32::from_le_bytes(*size) as usize;
                if n != raw_len {
                    return Err(ChunkError::Corrupt("block length mismatch"));
                }
                grow(buf, n);
                lz4_flex::block::decompress_into(body, &mut buf[..n]).map_err(|e| fail(e.to_string()))
            }
            Encoding::Zstd => {
                // the stored raw length bounds the output, as in `decompress`
                grow(buf, raw_len);
                let n = crate::storage::zstd_ctx::decompress_into(data, &mut buf[..raw_len])
                    .map_err(|e| fail(e.to_string()))?;
                if n != raw_len {
                    return Err(ChunkError::Corrupt("block length mismatch"));
                }
                Ok(n)
            }
            _ => {
                let raw = self.decompress(data, raw_len)?;
                grow(buf, raw.len());
                buf[..raw.len()].copy_from_slice(&raw);
                Ok(raw.len())
            }
        }
    }

    pub fn decompress(self, data: &[u8], raw_len: usize) -> Result<Vec<u8>, ChunkError> {
        let fail = |msg: String| ChunkError::Decompress { encoding: self.name(), msg };
        match self {
            Encoding::None => Ok(data.to_vec()),
            Encoding::Gzip => {
                let mut out = Vec::with_capacity(raw_len);
                flate2::read::GzDecoder::new(data).read_to_end(&mut out).map_err(|e| fail(e.to_string()))?;
                Ok(out)
            }
            Encoding::Flate => {
                let mut out = Vec::with_capacity(raw_len);
                flate2::read::DeflateDecoder::new(data).read_to_end(&mut out).map_err(|e| fail(e.to_string()))?;
                Ok(out)
            }
            Encoding::Snappy => snap::raw::Decoder::new().decompress_vec(data).map_err(|e| fail(e.to_string())),
            Encoding::Lz4 => lz4_flex::block::decompress_size_prepended(data).map_err(|e| fail(e.to_string())),
            // the stored raw length bounds the allocation: a corrupt frame cannot ask for more
            Encoding::Zstd => crate::storage::zstd_ctx::decompress(data, raw_len).map_err(|e| fail(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damaged_blocks_are_errors_never_panics() {
        // LZ4 decodes with lz4_flex's unsafe but bounds-checked decoder
        // (`checked-decode`): garbage must come back as an error, never a crash
        let raw: Vec<u8> = (0..4000u32).flat_map(|i| format!("k={i} v={}\n", i % 7).into_bytes()).collect();
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut buf = Vec::new();
        for e in [Encoding::Snappy, Encoding::Lz4, Encoding::Zstd, Encoding::Gzip] {
            let good = e.compress(&raw);
            for _ in 0..2000 {
                let mut bad = good.clone();
                for _ in 0..1 + x % 4 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let at = (x as usize) % bad.len();
                    bad[at] ^= (x >> 32) as u8 | 1;
                }
                if x.is_multiple_of(5) {
                    bad.truncate((x as usize >> 8) % bad.len());
                }
                if let Ok(n) = e.decompress_into(&bad, raw.len(), &mut buf) {
                    assert!(n <= raw.len().max(buf.len()));
                }
                let _ = e.decompress(&bad, raw.len());
            }
        }
    }

    #[test]
    fn round_trips_every_encoding() {
        let raw: Vec<u8> = (0..10_000u32).flat_map(|i| format!("line {i} level=info\n").into_bytes()).collect();
        for e in [Encoding::None, Encoding::Gzip, Encoding::Flate, Encoding::Snappy, Encoding::Lz4, Encoding::Zstd] {
            let c = e.compress(&raw);
            assert_eq!(e.decompress(&c, raw.len()).unwrap(), raw, "{e:?}");
            let mut buf = vec![7; 3];
            let n = e.decompress_into(&c, raw.len(), &mut buf).unwrap();
            assert_eq!(&buf[..n], raw, "{e:?}");
            if matches!(e, Encoding::Snappy | Encoding::Lz4) {
                assert!(e.decompress_into(&c, raw.len() + 1, &mut buf).is_err(), "{e:?}");
            }
            if e != Encoding::None {
                assert!(c.len() < raw.len() / 2, "{e:?} should compress");
            }
        }
        assert!(Encoding::Snappy.decompress(b"garbage!", 8).is_err());
        assert!(Encoding::Snappy.decompress_into(b"garbage!", 8, &mut Vec::new()).is_err());
        assert!(Encoding::Lz4.decompress_into(b"\x08\0\0\0garbage!", 8, &mut Vec::new()).is_err());
        assert!(Encoding::Lz4.decompress_into(b"\x08", 8, &mut Vec::new()).is_err());
        assert!(Encoding::parse("brotli").is_err());
        // reused scratch buffers: a small block after a large one is still exact
        let small = b"tiny block".repeat(3);
        for e in [Encoding::Snappy, Encoding::Lz4] {
            let c = e.compress(&small);
            assert_eq!(c.capacity(), c.len(), "{e:?} owns no spare capacity");
            assert_eq!(e.decompress(&c, small.len()).unwrap(), small, "{e:?}");
        }
        assert_eq!(Encoding::parse("lz4-1M").unwrap(), Encoding::Lz4);
    }
}
