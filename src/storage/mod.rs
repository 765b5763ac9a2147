//! Storage formats and backends: the chunk format that ingesters keep in memory
//! (blocks of time-sorted entries, compressed per block) and the object store
//! client (`object`). The index and flushing build on them.
//!
//! Nothing here knows about actors or HTTP: ingester actors own chunks and call in.

pub mod cache;
pub mod chunk;
pub mod index;
pub mod memcached;
pub mod object;
pub mod zstd_ctx;
