//! Plain data types shared by every layer: label sets, log entries, time.
//!
//! Nothing here knows about actors, HTTP or storage; everything above imports it.

pub mod entry;
pub mod labels;
pub mod quote;
pub mod time;

pub use entry::{Entry, StreamPush};
pub use labels::{Fingerprint, LabelError, Labels};

/// A hash map with the fast (non-DoS-resistant) foldhash hasher, for keys that are
/// already hashes (fingerprints) or trusted.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
