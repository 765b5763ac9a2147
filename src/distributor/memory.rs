//! The ingester memory budget (`ingester.head_memory_budget`, a Skald key): pushes
//! that would take the ingester's in-memory chunk data past the budget get 429,
//! so a burst larger than memory is refused instead of ending in an OOM kill.
//!
//! The distributor checks [`MemoryBudget::admit`] before sending a push to the
//! ingester. What the ingester holds is measured by `node`, which polls the
//! ingester's counters (`memory_bytes`, every stream's chunks) and calls
//! [`MemoryBudget::observed`]; bytes admitted since the last measurement are
//! added to it, so a burst between two polls cannot run past the budget.

use std::sync::atomic::{AtomicU64, Ordering};

use super::PushError;

#[derive(Debug, Default)]
pub struct MemoryBudget {
    /// Bytes allowed (0: no budget).
    limit: u64,
    /// What the ingester held at the last poll.
    held: AtomicU64,
    /// Bytes admitted since that poll.
    admitted: AtomicU64,
}

impl MemoryBudget {
    pub fn new(limit: u64) -> MemoryBudget {
        MemoryBudget { limit, ..Default::default() }
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The ingester's measured memory; what was admitted before is now part of it.
    pub fn observed(&self, held: u64) {
        self.held.store(held, Ordering::Relaxed);
        self.admitted.store(0, Ordering::Relaxed);
    }

    /// Admits `bytes` more if they fit, else a 429 naming the budget.
    pub fn admit(&self, tenant: &str, bytes: u64) -> Result<(), PushError> {
        if self.limit == 0 {
            return Ok(());
        }
        let held = self.held.load(Ordering::Relaxed);
        let admitted = self.admitted.fetch_add(bytes, Ordering::Relaxed);
        let total = held.saturating_add(admitted).saturating_add(bytes);
        if total <= self.limit {
            return Ok(());
        }
        self.admitted.fetch_sub(bytes, Ordering::Relaxed);
        tracing::warn!(
            tenant,
            held,
            admitted,
            bytes,
            limit = self.limit,
            "ingester memory budget reached; push refused"
        );
        Err(PushError::RateLimited(format!(
            "ingester memory budget exceeded: in-memory chunks hold {} bytes and this push adds {bytes} bytes, over the budget of {} bytes (ingester.head_memory_budget); retry later, when chunks have been flushed",
            held.saturating_add(admitted),
            self.limit
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_budget_counting_pushes_between_polls() {
        let b = MemoryBudget::new(1000);
        assert!(b.admit("t", 600).is_ok());
        let e = b.admit("t", 600).unwrap_err();
        assert_eq!(e.status(), 429);
        assert!(e.to_string().starts_with("ingester memory budget exceeded: in-memory chunks hold 600 bytes"), "{e}");
        assert!(b.admit("t", 400).is_ok(), "a refused push does not count");
        b.observed(100);
        assert!(b.admit("t", 900).is_ok(), "after a poll only what the ingester holds counts");
        assert!(MemoryBudget::new(0).admit("t", u64::MAX).is_ok(), "0 disables the budget");
    }
}
