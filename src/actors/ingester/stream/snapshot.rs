//! A stream's unflushed state for a WAL checkpoint, and the stream rebuilt from it.
//!
//! Taken by the `StreamShardActor` when the WAL checkpoints; chunks the store has
//! acknowledged are left out (the store serves them). Restored on replay.

use super::{ClosedChunk, FlushState, Stream};
use crate::model::Labels;
use crate::storage::chunk::{ChunkError, ChunkSnapshot, MemChunk};

#[derive(Debug, Clone)]
pub struct StreamSnapshot {
    pub labels: Labels,
    pub next_id: u64,
    pub max_ts: i64,
    pub entries: u64,
    /// Closed chunks not yet acknowledged by the store, with their ids.
    pub closed: Vec<(u64, ChunkSnapshot)>,
    pub open: Option<ChunkSnapshot>,
}

impl StreamSnapshot {
    pub fn min_ts(&self) -> i64 {
        self.closed.iter().map(|(_, c)| c.min_ts).chain(self.open.iter().map(|c| c.min_ts)).min().unwrap_or(i64::MAX)
    }
}

impl Stream {
    /// `None` when everything the stream holds is already in the store.
    pub fn snapshot(&self) -> Option<StreamSnapshot> {
        let closed: Vec<_> = self
            .closed
            .iter()
            .filter(|c| !matches!(c.state, FlushState::Flushed(_)))
            .map(|c| (c.id, c.chunk.snapshot()))
            .collect();
        let open = self.open.as_ref().map(MemChunk::snapshot);
        if closed.is_empty() && open.is_none() {
            return None;
        }
        Some(StreamSnapshot {
            labels: self.labels.clone(),
            next_id: self.next_id,
            max_ts: self.max_ts,
            entries: self.entries,
            closed,
            open,
        })
    }

    /// The stream as it was at the checkpoint; its clocks (idle, age) start at `now`.
    pub fn restore(s: StreamSnapshot, now: i64) -> Result<Stream, ChunkError> {
        let mut st = Stream::new(s.labels);
        st.next_id = s.next_id;
        st.max_ts = s.max_ts;
        st.entries = s.entries;
        st.open_created = now;
        st.last_append = now;
        for (id, c) in s.closed {
            st.closed.push(ClosedChunk { id, chunk: MemChunk::restore(c)?, state: FlushState::Pending });
        }
        st.open = s.open.map(MemChunk::restore).transpose()?;
        Ok(st)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors::ingester::test_settings;
    use crate::model::Entry;

    #[test]
    fn snapshot_restore_keeps_unflushed_chunks_and_drops_stored_ones() {
        let s = test_settings();
        let mut st = Stream::new(Labels::parse(r#"{a="b"}"#).unwrap());
        let entries: Vec<Entry> = (0..1000).map(|i| Entry::new(i, format!("line number {i} with text"))).collect();
        st.push(&entries, &s, "t", 0);
        let closed = st.closed.len();
        assert!(closed >= 2 && st.open.is_some());
        // the first closed chunk is stored: it is not part of the snapshot
        st.closed[0].state = FlushState::Flushed(0);
        let snap = st.snapshot().unwrap();
        assert_eq!(snap.closed.len(), closed - 1);
        let r = Stream::restore(snap, 42).unwrap();
        let count = |x: &Stream| x.stats_chunks(false).map(|c| c.count).sum::<u64>();
        assert_eq!(count(&r), count(&st));
        assert_eq!((r.max_ts, r.next_id, r.entries, r.last_append), (st.max_ts, st.next_id, st.entries, 42));
        // the head block's duplicate check works the same after the restore
        let (mut r, mut st) = (r, st);
        let (a, _) = r.push(&entries[999..], &s, "t", 43);
        let (b, _) = st.push(&entries[999..], &s, "t", 43);
        assert_eq!((a.duplicates, a.accepted), (b.duplicates, b.accepted));
        let again = [Entry::new(1000, "new")];
        r.push(&again, &s, "t", 44);
        assert_eq!(r.push(&again, &s, "t", 45).0.duplicates, 1);
        // nothing unflushed: no snapshot
        let mut empty = Stream::new(Labels::parse(r#"{a="c"}"#).unwrap());
        assert!(empty.snapshot().is_none());
        empty.push(&entries[..1], &s, "t", 0);
        assert!(empty.snapshot().is_some());
    }
}
