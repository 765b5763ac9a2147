//! The chunk object format (version 2; version 1 is still read): what a closed
//! chunk is flushed as.
//!
//! ```text
//! "SKC1"            magic, 4 bytes
//! version           u8 (2: blocks may be columnar, see BlockMeta::columnar; 1: row layout only)
//! encoding          u8 (Encoding::code)
//! header_len        u32 LE
//! header            MessagePack of ChunkMeta (tenant, labels, fingerprint, bounds, block index)
//! header_crc        u32 LE, CRC-32 of header
//! block data        the compressed blocks back to back; each block's CRC-32 is in the index
//! ```
//! A reader checks the magic, version and header CRC before trusting the index, and
//! each block's CRC before decompressing it, so a torn or corrupt object is reported,
//! never read as wrong data. docs/storage-format.md describes the format for operators.

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

use super::{Block, ChunkError, Encoding, MemChunk};

const MAGIC: &[u8; 4] = b"SKC1";
const VERSION: u8 = 2;

/// One block's place in the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockMeta {
    pub min_ts: i64,
    pub max_ts: i64,
    pub count: u32,
    pub raw_len: u32,
    pub offset: u64,
    pub len: u32,
    pub crc: u32,
    /// The block's layout (`columnar.rs`); absent (false) in version 1 objects.
    #[serde(default)]
    pub columnar: bool,
}

/// What a chunk object says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkMeta {
    pub tenant: String,
    /// Canonical label string `{a="1", b="2"}`.
    pub labels: String,
    pub fingerprint: u64,
    pub min_ts: i64,
    pub max_ts: i64,
    pub entries: u64,
    /// Sum of the blocks' uncompressed sizes.
    pub raw_bytes: u64,
    pub blocks: Vec<BlockMeta>,
}

/// Encodes and decodes chunk objects.
pub struct ChunkFile;

impl ChunkFile {
    /// Serialises a closed chunk (its head block already cut).
    pub fn encode(tenant: &str, labels: &str, fingerprint: u64, chunk: &MemChunk) -> Bytes {
        let mut offset = 0u64;
        let blocks: Vec<BlockMeta> = chunk
            .cut_blocks()
            .iter()
            .map(|b| {
                let m = BlockMeta {
                    min_ts: b.min_ts,
                    max_ts: b.max_ts,
                    count: b.count,
                    raw_len: b.raw_len,
                    offset,
                    len: b.data.len() as u32,
                    crc: b.crc,
                    columnar: b.columnar,
                };
                offset += b.data.len() as u64;
                m
            })
            .collect();
        let meta = ChunkMeta {
            tenant: tenant.to_string(),
            labels: labels.to_string(),
            fingerprint,
            min_ts: chunk.min_ts,
            max_ts: chunk.max_ts,
            entries: chunk.count,
            raw_bytes: chunk.cut_blocks().iter().map(|b| b.raw_len as u64).sum(),
            blocks,
        };
        let header = rmp_serde::to_vec_named(&meta).unwrap_or_default();
        let mut out = BytesMut::with_capacity(14 + header.len() + offset as usize);
        out.put_slice(MAGIC);
        out.put_u8(VERSION);
        out.put_u8(chunk.encoding().code());
        out.put_u32_le(header.len() as u32);
        out.put_slice(&header);
        out.put_u32_le(crc32fast::hash(&header));
        for b in chunk.cut_blocks() {
            out.put_slice(&b.data);
        }
        out.freeze()
    }

    /// Reads the header only (the index of the object).
    pub fn decode_meta(data: &Bytes) -> Result<(ChunkMeta, Encoding, usize), ChunkError> {
        let fmt = |m: &str| ChunkError::Format(m.to_string());
        if data.len() < 14 || &data[..4] != MAGIC {
            return Err(fmt("bad magic"));
        }
        if data[4] != VERSION && data[4] != 1 {
            return Err(ChunkError::Format(format!("unsupported version {}", data[4])));
        }
        let encoding = Encoding::from_code(data[5]).ok_or_else(|| fmt("unknown encoding"))?;
        let hlen = u32::from_le_bytes([data[6], data[7], data[8], data[9]]) as usize;
        let header = data.get(10..10 + hlen).ok_or_else(|| fmt("truncated header"))?;
        let crc = data.get(10 + hlen..14 + hlen).ok_or_else(|| fmt("truncated header"))?;
        if crc32fast::hash(header) != u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
            return Err(ChunkError::Checksum("chunk header"));
        }
        let meta: ChunkMeta = rmp_serde::from_slice(header).map_err(|e| ChunkError::Format(e.to_string()))?;
        Ok((meta, encoding, 14 + hlen))
    }

    /// Rebuilds a readable chunk; blocks are checked against their CRC when read.
    pub fn decode(data: &Bytes) -> Result<(ChunkMeta, MemChunk), ChunkError> {
        let (meta, encoding, start) = Self::decode_meta(data)?;
        let blocks = meta
            .blocks
            .iter()
            .map(|b| {
                let truncated = || ChunkError::Format("truncated block data".into());
                let from = usize::try_from(b.offset).ok().and_then(|o| start.checked_add(o)).ok_or_else(truncated)?;
                let to = from.checked_add(b.len as usize).filter(|&t| t <= data.len()).ok_or_else(truncated)?;
                Ok(Block {
                    min_ts: b.min_ts,
                    max_ts: b.max_ts,
                    count: b.count,
                    raw_len: b.raw_len,
                    crc: b.crc,
                    data: data.slice(from..to),
                    columnar: b.columnar,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((meta, MemChunk::from_blocks(encoding, blocks)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(enc: Encoding, n: i64) -> MemChunk {
        let mut c = MemChunk::new(enc, 512);
        for i in 0..n {
            let meta = if i % 3 == 0 { vec![("trace_id".to_string(), format!("t{i}"))] } else { vec![] };
            c.append(1_000 + i * 7 % 50, format!("line {i} ünïcode").as_bytes(), &meta);
        }
        c.close();
        c
    }

    type Row = (i64, Vec<u8>, Vec<(String, String)>);

    fn all(c: &MemChunk) -> Vec<Row> {
        let mut out = Vec::new();
        c.for_each_in_range(i64::MIN, i64::MAX, |e| out.push((e.ts, e.line.to_vec(), e.metadata()))).unwrap();
        out
    }

    #[test]
    fn round_trip_every_encoding() {
        for enc in [Encoding::None, Encoding::Gzip, Encoding::Flate, Encoding::Snappy, Encoding::Lz4, Encoding::Zstd] {
            let c = chunk(enc, 300);
            let bytes = ChunkFile::encode("t1", r#"{app="a"}"#, 42, &c);
            let (meta, back) = ChunkFile::decode(&bytes).unwrap();
            assert_eq!((meta.tenant.as_str(), meta.fingerprint, meta.entries), ("t1", 42, 300));
            assert_eq!((meta.min_ts, meta.max_ts), (c.min_ts, c.max_ts));
            assert_eq!(all(&back), all(&c), "{enc:?}");
        }
    }

    /// A version 1 object, as Skald wrote them before the columnar layout: no
    /// `columnar` key in the block index, blocks in the row layout.
    #[test]
    fn version_1_objects_are_still_read() {
        #[derive(Serialize)]
        struct V1Block {
            min_ts: i64,
            max_ts: i64,
            count: u32,
            raw_len: u32,
            offset: u64,
            len: u32,
            crc: u32,
        }
        #[derive(Serialize)]
        struct V1Meta {
            tenant: String,
            labels: String,
            fingerprint: u64,
            min_ts: i64,
            max_ts: i64,
            entries: u64,
            raw_bytes: u64,
            blocks: Vec<V1Block>,
        }
        let mut row = Vec::new();
        for i in 0..50i64 {
            super::super::block::encode_entry(&mut row, 100 + i, format!("old line {i}").as_bytes(), &[]);
        }
        let data = Encoding::Lz4.compress(&row);
        let block = V1Block {
            min_ts: 100,
            max_ts: 149,
            count: 50,
            raw_len: row.len() as u32,
            offset: 0,
            len: data.len() as u32,
            crc: crc32fast::hash(&data),
        };
        let meta = V1Meta {
            tenant: "t".into(),
            labels: "{a=\"b\"}".into(),
            fingerprint: 7,
            min_ts: 100,
            max_ts: 149,
            entries: 50,
            raw_bytes: row.len() as u64,
            blocks: vec![block],
        };
        let header = rmp_serde::to_vec_named(&meta).unwrap();
        let mut out = BytesMut::new();
        out.put_slice(MAGIC);
        out.put_u8(1);
        out.put_u8(Encoding::Lz4.code());
        out.put_u32_le(header.len() as u32);
        out.put_slice(&header);
        out.put_u32_le(crc32fast::hash(&header));
        out.put_slice(&data);
        let (_, c) = ChunkFile::decode(&out.freeze()).unwrap();
        let got = all(&c);
        assert_eq!(got.len(), 50);
        assert_eq!(got[49], (149, b"old line 49".to_vec(), vec![]));
        // what this version writes: version 2, columnar blocks
        let bytes = ChunkFile::encode("t", "{a=\"b\"}", 7, &chunk(Encoding::Lz4, 100));
        assert_eq!(bytes[4], 2);
        assert!(ChunkFile::decode(&bytes).unwrap().1.cut_blocks().iter().all(|b| b.columnar));
    }

    #[test]
    fn corruption_is_detected_never_misread() {
        let bytes = ChunkFile::encode("t", "{a=\"b\"}", 1, &chunk(Encoding::Snappy, 200));
        // every truncation fails cleanly
        for cut in [0, 3, 9, 20, bytes.len() / 2, bytes.len() - 1] {
            let short = bytes.slice(..cut);
            let r = ChunkFile::decode(&short).and_then(|(_, c)| c.for_each_in_range(i64::MIN, i64::MAX, |_| {}));
            assert!(r.is_err(), "truncated at {cut}");
        }
        // flipping any single byte is caught by a checksum, the magic or the format
        let (_, _, data_start) = ChunkFile::decode_meta(&bytes).unwrap();
        for pos in [0, 5, 12, data_start - 2, data_start + 3, bytes.len() - 5] {
            let mut v = bytes.to_vec();
            v[pos] ^= 0x40;
            let v = Bytes::from(v);
            let r = ChunkFile::decode(&v).and_then(|(_, c)| c.for_each_in_range(i64::MIN, i64::MAX, |_| {}));
            assert!(r.is_err(), "flip at {pos} must not read back silently");
        }
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    type Row = (i64, Vec<u8>, Vec<(String, String)>);

    fn entry() -> impl Strategy<Value = Row> {
        (
            -1_000_000i64..1_000_000,
            proptest::collection::vec(any::<u8>(), 0..300),
            proptest::collection::vec(("[a-z_]{1,8}", "\\PC{0,12}"), 0..3),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Any entries, in any order, through any encoding and block size, come back
        /// from a chunk object sorted by time, each exactly once, bytes intact.
        #[test]
        fn chunk_objects_round_trip(
            entries in proptest::collection::vec(entry(), 1..200),
            enc in 0u8..6,
            block in 64usize..4096,
        ) {
            let enc = Encoding::from_code(enc).unwrap();
            let mut c = MemChunk::new(enc, block);
            for (ts, line, meta) in &entries {
                c.append(*ts, line, meta);
            }
            c.close();
            let bytes = ChunkFile::encode("t", "{a=\"b\"}", 7, &c);
            let (meta, back) = ChunkFile::decode(&bytes).unwrap();
            prop_assert_eq!(meta.entries, entries.len() as u64);
            let mut got: Vec<Row> = Vec::new();
            back.for_each_in_range(i64::MIN, i64::MAX, |e| got.push((e.ts, e.line.to_vec(), e.metadata()))).unwrap();
            // compared as multisets: blocks are time-sorted inside, in arrival order across
            let mut want = entries.clone();
            want.sort();
            got.sort();
            prop_assert_eq!(got, want);
        }
    }
}
