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

thread_local! {
    static CCTX: RefCell<Option<(Params, zstd::bulk::Compressor<'static>)>> = const { RefCell::new(None) };
    static DCTX: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Compresses `raw` with this thread's context for `params`.
pub fn compress(raw: &[u8], params: Params) -> std::io::Result<Vec<u8>> {
    CCTX.with_borrow_mut(|c| {
        if c.as_ref().is_none_or(|(p, _)| *p != params) {
            *c = Some((params, params.context()?));
        }
        c.as_mut().map_or_else(|| Err(std::io::Error::other("zstd context")), |(_, cctx)| cctx.compress(raw))
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

/// Decompresses a frame into `out` and returns its length.
pub fn decompress_into(data: &[u8], out: &mut [u8]) -> std::io::Result<usize> {
    with_dctx(|d| d.decompress_to_buffer(data, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_each_params_on_one_thread() {
        let raw: Vec<u8> =
            (0..100_000u32).flat_map(|i| format!("line {} id={:x}\n", i % 97, i * 7919).into_bytes()).collect();
        for p in [Params::level(1), Params { level: 5, lazy: true, search_log: 5, min_match: 7 }, Params::level(3)] {
            let z = compress(&raw, p).unwrap();
            assert!(z.len() < raw.len() / 3, "{p:?} compresses");
            assert_eq!(decompress(&z, raw.len()).unwrap(), raw);
            let mut out = vec![0u8; raw.len()];
            assert_eq!(decompress_into(&z, &mut out).unwrap(), raw.len());
            assert_eq!(out, raw);
        }
        let z = compress(&raw, Params::level(1)).unwrap();
        assert!(decompress(&z, raw.len() - 1).is_err(), "the capacity bounds the output");
        assert!(decompress(&z[..z.len() / 2], raw.len()).is_err(), "a truncated frame is an error");
    }
}
