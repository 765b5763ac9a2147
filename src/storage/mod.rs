//! Storage formats and backends. Today: the chunk format that ingesters keep in
//! memory (blocks of time-sorted entries, compressed per block). Object storage,
//! the index and flushing build on it.
//!
//! Nothing here knows about actors or HTTP: ingester actors own chunks and call in.

pub mod chunk;
