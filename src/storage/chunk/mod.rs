//! Chunks: a stream's entries as compressed blocks plus an uncompressed head block.
//!
//! `encoding` compresses blocks, `block` serialises entries into a block's raw
//! bytes, `head` is the uncompressed block being appended to, `memchunk` is the growing chunk a stream actor appends to and queries,
//! `file` is the versioned, checksummed object a closed chunk is flushed as.

pub mod block;
pub mod columnar;
pub mod encoding;
pub mod file;
pub mod head;
pub mod memchunk;
pub mod snapshot;

pub use block::Block;
pub use encoding::Encoding;
pub use file::{ChunkFile, ChunkMeta};
pub use head::HeadBlock;
pub use memchunk::MemChunk;
pub use snapshot::ChunkSnapshot;

/// Errors reading chunk data back.
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    #[error("decompression failed ({encoding}): {msg}")]
    Decompress { encoding: &'static str, msg: String },
    #[error("corrupt block: {0}")]
    Corrupt(&'static str),
    #[error("checksum mismatch in {0}")]
    Checksum(&'static str),
    #[error("not a Skald chunk: {0}")]
    Format(String),
}
