//! The canary's ledger: every entry written (by its timestamp, which the line
//! also carries), and what came back through the tail and the spot-check
//! queries. Pure bookkeeping; the writer, tail reader and checker threads of
//! `canary::run` share it behind a mutex.

use std::collections::BTreeMap;

/// Counts, named as loki-canary names its metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub entries: u64,
    pub write_errors: u64,
    pub received: u64,
    /// Not seen through the tail within `wait`, and not found by a query either: lost.
    pub missing: u64,
    /// Not seen through the tail, but the store has it (a tail problem only).
    pub websocket_missing: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    /// Lines in the canary's stream it never wrote.
    pub unexpected: u64,
    pub spot_checks: u64,
    pub spot_check_missing: u64,
    pub spot_check_duplicates: u64,
    /// Verification queries that failed (their entries stay unjudged until a later one).
    pub query_errors: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Waiting,
    Received,
    Settled,
}

#[derive(Default)]
pub struct Ledger {
    /// Written entries by timestamp (ns).
    sent: BTreeMap<i64, Seen>,
    last_received: i64,
    pub counts: Counts,
}

/// The timestamp a canary line carries (its first word).
pub fn ts_of(line: &str) -> Option<i64> {
    line.split(' ').next()?.parse().ok()
}

impl Ledger {
    pub fn sent(&mut self, ts: i64) {
        self.sent.insert(ts, Seen::Waiting);
        self.counts.entries += 1;
    }

    /// The push of `ts` failed: it was never written.
    pub fn unsend(&mut self, ts: i64) {
        if self.sent.remove(&ts).is_some() {
            self.counts.entries -= 1;
            self.counts.write_errors += 1;
        }
    }

    /// An entry came through the tail.
    pub fn received(&mut self, ts: i64) {
        match self.sent.get_mut(&ts) {
            None => self.counts.unexpected += 1,
            Some(Seen::Waiting) => {
                *self.sent.get_mut(&ts).expect("present") = Seen::Received;
                self.counts.received += 1;
                if ts < self.last_received {
                    self.counts.out_of_order += 1;
                }
                self.last_received = self.last_received.max(ts);
            }
            Some(_) => self.counts.duplicates += 1,
        }
    }

    /// Entries written before `cutoff` the tail has not delivered.
    pub fn overdue(&self, cutoff: i64) -> Vec<i64> {
        self.sent.range(..cutoff).filter(|(_, s)| **s == Seen::Waiting).map(|(t, _)| *t).collect()
    }

    /// The verdict on an overdue entry: `stored` when a query found it.
    pub fn settle(&mut self, ts: i64, stored: bool) {
        if let Some(s) = self.sent.get_mut(&ts) {
            if *s == Seen::Waiting {
                *s = Seen::Settled;
                if stored {
                    self.counts.websocket_missing += 1;
                } else {
                    self.counts.missing += 1;
                }
            }
        }
    }

    /// Written entries with `from <= ts < to`, for a spot check.
    pub fn written_between(&self, from: i64, to: i64) -> Vec<i64> {
        self.sent.range(from..to).map(|(t, _)| *t).collect()
    }

    /// A spot-check query over `[from, to)` returned `found` (timestamps, with repeats).
    pub fn spot_check(&mut self, from: i64, to: i64, found: &[i64]) {
        self.counts.spot_checks += 1;
        let mut n: BTreeMap<i64, u32> = BTreeMap::new();
        for t in found {
            *n.entry(*t).or_default() += 1;
        }
        for t in self.written_between(from, to) {
            match n.get(&t).copied().unwrap_or(0) {
                0 => self.counts.spot_check_missing += 1,
                1 => {}
                _ => self.counts.spot_check_duplicates += 1,
            }
        }
    }

    /// Forgets settled history older than `before` (bounded memory on long runs).
    pub fn forget(&mut self, before: i64) {
        self.sent = self.sent.split_off(&before);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_counts_every_kind_of_problem() {
        let mut l = Ledger::default();
        for t in [10, 20, 30, 40, 50] {
            l.sent(t);
        }
        l.received(10);
        l.received(30);
        l.received(20); // late: out of order
        l.received(30); // again: duplicate
        l.received(99); // never written
        assert_eq!(l.overdue(45), vec![40]);
        l.settle(40, false);
        l.settle(40, false); // settled once
        assert_eq!(l.overdue(100), vec![50]);
        l.settle(50, true);
        l.spot_check(0, 60, &[10, 20, 20, 30, 50]);
        let c = l.counts;
        assert_eq!(
            (c.entries, c.received, c.out_of_order, c.duplicates, c.unexpected, c.missing, c.websocket_missing),
            (5, 3, 1, 1, 1, 1, 1)
        );
        assert_eq!((c.spot_checks, c.spot_check_missing, c.spot_check_duplicates), (1, 1, 1));
        assert_eq!(ts_of("1700000000000000000 pppp"), Some(1_700_000_000_000_000_000));
        l.forget(35);
        assert_eq!(l.written_between(0, 100), vec![40, 50]);
    }
}
