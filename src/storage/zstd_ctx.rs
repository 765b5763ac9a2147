//! zstd with one context per thread: creating a compression or decompression
//! context per call costs time and allocator churn (a context holds hundreds of
//! KB of tables), and both the WAL and chunk blocks call zstd thousands of times.
//! Used by chunk block encoding (`storage::chunk::encoding`) and WAL records.

use std::cell::RefCell;

use zstd::stream::raw::CParameter;
use zstd::zstd_safe::Strategy;

/// Compression settings: a level, optionally refined (see docs/benchmarks.md,
/// "Chunk block compression", for why chunk blocks refine theirs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    pub level: i32,
    /// The lazy match finder (`ZSTD_lazy`) instead of the level's.
    pub lazy: bool,
    /// log2 of the match candidates searched (`ZSTD_c_searchLog`); 0 keeps the level's.
    pub search_log: u32,
    /// Shortest match (`ZSTD_c_minMatch`, 3..=7); 0 keeps the level's.
    pub min_match: u32,
}

impl Params {
    pub const fn level(level: i32) -> Params {
        Params { level, lazy: false, search_log: 0, min_match: 0 }
    }

    fn context(self) -> std::io::Result<zstd::bulk::Compressor<'static>> {
        let mut c = zstd::bulk::Compressor::new(self.level)?;
        if self.lazy {
            c.set_parameter(CParameter::Strategy(Strategy::ZSTD_lazy))?;
        }
        if self.search_log > 0 {
            c.set_parameter(CParameter::SearchLog(self.search_log))?;
        }
        if self.min_match > 0 {
            c.set_parameter(CParameter::MinMatch(self.min_match))?;
        }
        Ok(c)
    }
}

/// Compression contexts kept per thread: one per settings in use (the WAL's and
/// chunk blocks' usually run on different threads, but a thread that uses both
/// must not rebuild a context, about 1 MB, at every switch).
const CONTEXTS_PER_THREAD: usize = 4;

thread_local! {
    static CCTX: RefCell<Vec<(Params, zstd::bulk::Compressor<'static>)>> = const { RefCell::new(Vec::new()) };
    static DCTX: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Compresses `raw` with this thread's context for `params`.
pub fn compress(raw: &[u8], params: Params) -> std::io::Result<Vec<u8>> {
    CCTX.with_borrow_mut(|cs| {
        let i = match cs.iter().position(|(p, _)| *p == params) {
            Some(i) => i,
            None => {
                if cs.len() >= CONTEXTS_PER_THREAD {
                    cs.remove(0);
                }
                cs.push((params, params.context()?));
                cs.len() - 1
            }
        };
        cs[i].1.compress(raw)
    })
}

fn with_dctx<T>(f: impl FnOnce(&mut zstd::bulk::Decompressor<'static>) -> std::io::Result<T>) -> std::io::Result<T> {
    DCTX.with_borrow_mut(|d| {
        if d.is_none() {
            *d = Some(zstd::bulk::Decompressor::new()?);
        }
        d.as_mut().map_or_else(|| Err(std::io::Error::other("zstd context")), f)
    })
}

/// Decompresses a frame of at most `capacity` bytes (a bound from trusted
/// metadata, so a corrupt frame cannot ask for more).
pub fn decompress(data: &[u8], capacity: usize) -> std::io::Result<Vec<u8>> {
    with_dctx(|d| d.decompress(data, capacity))
}

/// Decompresses a frame into `out` and returns its length: a slice is written
/// from its start, a `Vec` is appended to within its spare capacity (no zeroing).
/// A frame larger than the room there fails.
pub fn decompress_into<B: zstd::zstd_safe::WriteBuf + ?Sized>(data: &[u8], out: &mut B) -> std::io::Result<usize> {
    with_dctx(|d| d.decompress_to_buffer(data, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_each_params_on_one_thread() {
        let raw: Vec<u8> =
            (0..100_000u32).flat_map(|i| format!("line {} id={:x}\n", i % 97, i * 7919).into_bytes()).collect();
        for p in [Params::level(1), Params { level: 5, lazy: true, search_log: 5, min_match: 6 }, Params::level(3)] {
            let z = compress(&raw, p).unwrap();
            assert!(z.len() < raw.len() / 3, "{p:?} compresses");
            assert_eq!(decompress(&z, raw.len()).unwrap(), raw);
            let mut out = vec![0u8; raw.len()];
            assert_eq!(decompress_into(&z, &mut out[..]).unwrap(), raw.len());
            assert_eq!(out, raw);
        }
        let z = compress(&raw, Params::level(1)).unwrap();
        assert!(decompress(&z, raw.len() - 1).is_err(), "the capacity bounds the output");
        assert!(decompress(&z[..z.len() / 2], raw.len()).is_err(), "a truncated frame is an error");
        assert_eq!(decompress(&z, raw.len()).unwrap(), raw, "a failed decode leaves the context usable");
        // cached contexts keep their own settings: switching back gives the same bytes
        let tuned = Params { level: 5, lazy: true, search_log: 5, min_match: 6 };
        let first = compress(&raw, tuned).unwrap();
        assert_ne!(compress(&raw, Params::level(1)).unwrap(), first);
        assert_eq!(compress(&raw, tuned).unwrap(), first);
    }
}
