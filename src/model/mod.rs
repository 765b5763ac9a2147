//! Plain data types shared by every layer: label sets, log entries, time.
//!
//! Nothing here knows about actors, HTTP or storage; everything above imports it.

pub mod entry;
pub mod labels;
pub mod quote;
pub mod time;

pub use entry::{Entry, StreamPush};
pub use labels::{Fingerprint, LabelError, Labels};
