//! Per-partition delivery state of the idempotent producer, without I/O or clocks (time is
//! an argument): which sequence space the partition is in, what is in flight, what waits to
//! be resent, and the decisions the rules of RELIABILITY.md make from that.
//!
//! - Rule 2: a batch keeps its stamp once written; only batches certainly not written are
//!   stamped again (after a split, or under a new epoch).
//! - Rule 3: after a failure, nothing new goes until everything in flight has answered;
//!   retries go first, in send order.
//! - Rule 4: a partition asks for an epoch bump only once nothing of its own is in flight;
//!   other partitions keep their epoch (and their outcomes) until they have nothing in
//!   flight either, then move to the new one.
//! - Rule 5: the first batch of a sequence space, and the first after a resend, a leader
//!   move or a reconnect, goes alone until a success is seen.
//! - Rule 8: a sequence error at the head of the partition is a gap (bump, resend); behind
//!   the head it is a consequence of an earlier failure (resend in order).

use std::collections::{BTreeSet, VecDeque};
use std::time::Instant;

use volley_protocol::record_batch::{restamp, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE};

use super::batch::{next_sequence, Order, SentBatch};

/// A producer id and epoch: the sequence space a batch was numbered in.
pub(super) type Identity = (i64, i16);

/// No producer id (idempotence off, or not stamped yet).
pub(super) const NO_IDENTITY: Identity = (NO_PRODUCER_ID, NO_PRODUCER_EPOCH);

/// A batch that failed after its sequence was assigned and may be in the log: until a
/// later batch of the same sequence space is acknowledged (which proves it is) or the
/// partition moves to a new epoch, the broker's next expected sequence is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Unresolved {
    pub(super) order: Order,
    pub(super) stamp: Identity,
    /// The failed batch's id (named in the "settled" event).
    pub(super) id: u64,
    pub(super) records: i32,
}

/// The settings the per-partition rules depend on.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rules {
    pub(super) idempotent: bool,
    pub(super) max_in_flight: usize,
}

/// One partition's delivery state.
#[derive(Debug)]
pub(super) struct PartState {
    /// The sequence space this partition's numbers belong to.
    pub(super) identity: Identity,
    pub(super) next_sequence: i32,
    /// Send order of this partition's batches in flight.
    pub(super) in_flight: BTreeSet<Order>,
    /// Batches to resend, in send order.
    pub(super) retries: VecDeque<SentBatch>,
    /// A success was seen for `identity` on `route` (rule 5).
    pub(super) confirmed: bool,
    /// The broker and connection the last batch went to: a change resets `confirmed`.
    pub(super) route: Option<(i32, u64)>,
    /// Possibly-written failures whose sequences are not resolved yet.
    pub(super) unresolved: Vec<Unresolved>,
    /// The sequence space has a certain gap (or the broker fenced or forgot it): move to a
    /// new epoch before anything else is sent.
    pub(super) needs_bump: bool,
    /// Number of the next batch drained from the accumulator (see [`Order`]).
    pub(super) next_order: u64,
    /// Records and bytes sent in Produce requests, retries included (statistics).
    pub(super) sent: (u64, u64),
}

impl Default for PartState {
    fn default() -> Self {
        Self {
            identity: NO_IDENTITY,
            next_sequence: 0,
            in_flight: BTreeSet::new(),
            retries: VecDeque::new(),
            confirmed: false,
            route: None,
            unresolved: Vec::new(),
            needs_bump: false,
            next_order: 0,
            sent: (0, 0),
        }
    }
}

/// What a sequence error (OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID) means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SequenceVerdict {
    /// Behind an earlier failure or an older epoch: not written; resend in order.
    Follower,
    /// At the head with nothing unresolved: a real gap. Resend under a new epoch.
    HeadGap,
    /// At the head, UNKNOWN_PRODUCER_ID: the broker forgot the producer. Resend under a new
    /// epoch (nothing earlier can duplicate).
    Forgotten,
}

/// Why a resend could not be stamped.
#[derive(Debug)]
pub(super) struct RestampFailed(pub(super) SentBatch, pub(super) String);

impl PartState {
    /// A failure left this partition's next sequence unknown or wrong.
    pub(super) fn has_gap(&self) -> bool {
        self.needs_bump || !self.unresolved.is_empty()
    }

    /// Whether this partition needs the producer's epoch bumped now: it has a gap in the
    /// producer's current sequence space and nothing of its own in flight (rule 4).
    pub(super) fn wants_bump(&self, current: Identity) -> bool {
        self.identity == current && self.has_gap() && self.in_flight.is_empty()
    }

    /// Moves the partition into the producer's current sequence space once nothing of its
    /// own is in flight. A partition without a gap first finishes resending what may have
    /// been written under its old epoch (the broker still accepts that epoch there); a
    /// partition with a gap drops those batches, which must then end as possibly persisted
    /// (rule 2): they are returned. Returns `None` when it cannot move yet or is there.
    pub(super) fn adopt(&mut self, current: Identity) -> Option<Vec<SentBatch>> {
        if self.identity == current || !self.in_flight.is_empty() {
            return None;
        }
        let old = self.identity;
        if !self.has_gap() && self.retries.iter().any(|b| b.maybe_written && b.stamp == old) {
            return None;
        }
        self.identity = current;
        self.next_sequence = 0;
        self.confirmed = false;
        self.needs_bump = false;
        self.unresolved.clear();
        let (keep, stale): (VecDeque<SentBatch>, VecDeque<SentBatch>) =
            self.retries.drain(..).partition(|b| !b.maybe_written);
        self.retries = keep;
        for b in &mut self.retries {
            // Certainly not written: numbered again when resent.
            b.stamp = NO_IDENTITY;
        }
        Some(stale.into())
    }

    /// Whether a new batch from the accumulator may be sent now (rules 3 and 5, and Java's
    /// one-at-a-time order guarantee when `max.in.flight.requests.per.connection` is 1).
    /// `route`: the broker and connection it would go to; another than the last one is
    /// unconfirmed (the new leader may have no state for the producer).
    pub(super) fn may_send_new(&self, rules: Rules, current: Identity, route: (i32, u64)) -> bool {
        if !self.retries.is_empty() {
            return false;
        }
        if rules.max_in_flight <= 1 && !self.in_flight.is_empty() {
            return false;
        }
        if !rules.idempotent {
            return true;
        }
        if self.has_gap() || self.identity != current || self.in_flight.len() >= rules.max_in_flight {
            return false;
        }
        (self.confirmed && self.route == Some(route)) || self.in_flight.is_empty()
    }

    /// Whether the oldest retry may be resent now: everything in flight answered (rule 3),
    /// its backoff passed, and no gap waits for a new epoch.
    pub(super) fn may_resend(&self, rules: Rules, now: Instant) -> bool {
        let Some(head) = self.retries.front() else {
            return false;
        };
        self.in_flight.is_empty() && head.retry_at <= now && !(rules.idempotent && self.has_gap())
    }

    /// Takes the oldest retry to send, stamped into this partition's sequence space if it is
    /// not in it (it was certainly not written: a split half, or moved to a new epoch).
    /// Nothing new follows it until it is answered (rule 5).
    pub(super) fn take_resend(&mut self, rules: Rules) -> Option<Result<SentBatch, RestampFailed>> {
        let mut b = self.retries.pop_front()?;
        if b.attempts > 0 {
            // A batch put back before it was ever sent (a full request) is not a resend.
            self.confirmed = false;
        }
        let identity = if rules.idempotent { self.identity } else { NO_IDENTITY };
        if b.maybe_written && b.stamp != identity {
            // Never happens (`adopt` removes such batches); never renumber one (rule 2).
            return Some(Err(RestampFailed(
                b,
                "a possibly written batch cannot be renumbered".into(),
            )));
        }
        if b.stamp != identity || b.base_sequence == NO_SEQUENCE && rules.idempotent {
            let seq = if rules.idempotent {
                self.next_sequence
            } else {
                NO_SEQUENCE
            };
            match restamp(&b.bytes, identity.0, identity.1, seq) {
                Ok(bytes) => {
                    b.bytes = bytes;
                    b.stamp = identity;
                    b.base_sequence = seq;
                    if rules.idempotent {
                        self.next_sequence = next_sequence(seq, b.record_count);
                    }
                }
                Err(e) => return Some(Err(RestampFailed(b, e.to_string()))),
            }
        }
        Some(Ok(b))
    }

    /// The next new batch's number and first sequence (taken when it is sealed).
    pub(super) fn number_new(&mut self, rules: Rules, records: impl FnOnce() -> i32) -> (u64, i32) {
        self.next_order += 1;
        if !rules.idempotent {
            return (self.next_order, NO_SEQUENCE);
        }
        let seq = self.next_sequence;
        self.next_sequence = next_sequence(seq, records());
        (self.next_order, seq)
    }

    /// A batch goes out over `route`: a new broker or connection means the new leader has
    /// not confirmed this producer's state yet (rule 5).
    pub(super) fn sending(&mut self, b: &SentBatch, route: (i32, u64)) {
        if self.route != Some(route) {
            self.route = Some(route);
            self.confirmed = false;
        }
        self.in_flight.insert(b.order.clone());
    }

    /// A request carrying `order` was answered (or its connection lost).
    pub(super) fn answered(&mut self, order: &Order) {
        self.in_flight.remove(order);
    }

    /// `b` was acknowledged. Returns the unresolved failures it settles (same sequence
    /// space, sent earlier: the broker appends in sequence order, so they are in the log)
    /// and the retries it proves written (resending them is pointless).
    pub(super) fn on_acked(&mut self, b: &SentBatch) -> (Vec<Unresolved>, Vec<SentBatch>) {
        if b.stamp != self.identity {
            return (Vec::new(), Vec::new());
        }
        self.confirmed = true;
        let (settled, rest): (Vec<Unresolved>, Vec<Unresolved>) = std::mem::take(&mut self.unresolved)
            .into_iter()
            .partition(|u| u.stamp == b.stamp && u.order < b.order);
        self.unresolved = rest;
        let (written, rest): (VecDeque<SentBatch>, VecDeque<SentBatch>) = std::mem::take(&mut self.retries)
            .into_iter()
            .partition(|r| r.maybe_written && r.stamp == b.stamp && r.order < b.order);
        self.retries = rest;
        (settled, written.into())
    }

    /// `b` was certainly not written and is replaced by batches made of its records (a split,
    /// or the records a broker did not reject): if it is the last batch numbered in this
    /// partition's sequence space and nothing else is in flight or numbered, the broker still
    /// expects its first sequence, so its replacements take its sequences again (as Java's
    /// split keeps them) and there is no gap. Whether it could. Otherwise its sequences are
    /// a gap ([`PartState::on_failed`]), which needs a new epoch: in a transaction, only
    /// after it ends.
    pub(super) fn rewind(&mut self, b: &SentBatch, rules: Rules) -> bool {
        let last = next_sequence(b.base_sequence, b.record_count) == self.next_sequence;
        // Waiting retries that are not numbered yet (the other half of an earlier split) are
        // numbered after the replacements.
        let unnumbered = |r: &SentBatch| r.stamp != self.identity && !r.maybe_written;
        let idle = self.in_flight.is_empty() && self.retries.iter().all(unnumbered) && !self.has_gap();
        if !rules.idempotent
            || b.maybe_written
            || b.stamp != self.identity
            || b.base_sequence == NO_SEQUENCE
            || !last
            || !idle
        {
            return false;
        }
        self.next_sequence = b.base_sequence;
        true
    }

    /// A sealed batch of this partition failed for good. If it may be in the log, its
    /// sequences are unresolved; if it certainly is not, later batches of the sequence space
    /// will be rejected, so the partition needs a new epoch.
    pub(super) fn on_failed(&mut self, b: &SentBatch, rules: Rules) {
        if !rules.idempotent || b.stamp != self.identity || b.base_sequence == NO_SEQUENCE {
            return;
        }
        if b.maybe_written {
            self.unresolved.push(Unresolved {
                order: b.order.clone(),
                stamp: b.stamp,
                id: b.id,
                records: b.record_count,
            });
        } else {
            self.needs_bump = true;
        }
    }

    /// Reads a sequence error for `b` (already removed from `in_flight`). At the head of
    /// the partition's own sequence space (even one older than the producer's current
    /// epoch) it is a gap that needs a new epoch.
    pub(super) fn sequence_error(&mut self, b: &SentBatch, unknown_producer: bool) -> SequenceVerdict {
        let earlier_pending =
            self.retries.iter().any(|r| r.order < b.order) || self.in_flight.first().is_some_and(|o| *o < b.order);
        if self.has_gap() || earlier_pending || b.stamp != self.identity {
            return SequenceVerdict::Follower;
        }
        self.needs_bump = true;
        if unknown_producer {
            SequenceVerdict::Forgotten
        } else {
            SequenceVerdict::HeadGap
        }
    }

    /// The broker rejected `b`'s epoch (INVALID_PRODUCER_EPOCH, PRODUCER_FENCED): this
    /// sequence space is over for the partition.
    pub(super) fn fenced(&mut self, b: &SentBatch) {
        if b.stamp == self.identity {
            self.needs_bump = true;
        }
    }

    /// Puts `b` back for a resend, in send order.
    pub(super) fn requeue(&mut self, b: SentBatch) {
        if b.attempts > 0 {
            self.confirmed = false;
        }
        let pos = self
            .retries
            .iter()
            .position(|r| r.order > b.order)
            .unwrap_or(self.retries.len());
        self.retries.insert(pos, b);
    }

    /// Whether nothing is in flight or waiting to be resent.
    pub(super) fn is_idle(&self) -> bool {
        self.in_flight.is_empty() && self.retries.is_empty()
    }
}

#[cfg(test)]
#[path = "partitions_tests.rs"]
mod tests;
