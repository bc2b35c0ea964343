//! Which partitions the sender looks at: linger deadlines in a heap, filled batches filed at
//! once, and the ready list the sender walks, so that a pass costs what is ready, not what
//! exists.
//!
//! Invariant: every queued batch either has its deadline in the heap, or its partition is
//! on the ready list (or filed as full, which puts it there on the next pass). A partition
//! leaves the list only when its queue is empty or its first batch is still lingering; in
//! the second case that batch's deadline is filed again (it may have been taken out early by
//! a flush). Lock order: the ready list, then a partition's queue, then the heap.

use std::cmp::{Ordering as CmpOrdering, Reverse};
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use volley_protocol::record_batch::BatchBuilder;

use std::collections::BinaryHeap;

use super::{lock, Accumulator, Body, ClosingSlot, PartitionQueue, QueuedBatch};

/// A partition whose batch lingers until `at`.
#[derive(Debug)]
struct Due {
    at: Instant,
    queue: Arc<PartitionQueue>,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        self.at.cmp(&other.at)
    }
}

/// What appends file for the sender.
#[derive(Debug, Default)]
pub(super) struct Readiness {
    /// Linger deadlines, earliest first.
    due: BinaryHeap<Reverse<Due>>,
    /// Partitions with a batch that filled up.
    full: Vec<Arc<PartitionQueue>>,
}

fn is_ready(b: &QueuedBatch, now: Instant, linger: Duration, flushing: bool) -> bool {
    flushing || b.closed || now.saturating_duration_since(b.created) >= linger
}

impl Accumulator {
    /// Files a new batch's linger deadline; whether the sender should look again (nothing
    /// earlier is filed, so its timer does not cover this one).
    pub(super) fn file_deadline(&self, at: Instant, queue: &Arc<PartitionQueue>) -> bool {
        let mut r = lock(&self.readiness);
        let earliest = r.due.peek().is_none_or(|Reverse(d)| d.at > at);
        r.due.push(Reverse(Due {
            at,
            queue: Arc::clone(queue),
        }));
        earliest
    }

    /// Files a partition whose batch filled up; the sender should look again.
    pub(super) fn file_full(&self, queue: &Arc<PartitionQueue>) -> bool {
        lock(&self.readiness).full.push(Arc::clone(queue));
        true
    }

    /// Moves what came due by `now` onto the ready list. The sender calls it first in every
    /// pass, whatever else the pass does: a deadline left in the heap after it came due
    /// would make the sender look again at once, for ever (review of issue 18: a producer
    /// waiting for its producer id, without compression, spun).
    pub(crate) fn collect_due(&self, now: Instant, flushing: bool) {
        drop(self.collect(now, flushing));
    }

    /// Forgets every deadline and the ready list (every batch left the queues).
    pub(super) fn forget_readiness(&self) {
        let mut listed = lock(&self.listed);
        for q in listed.drain(..) {
            q.listed.store(false, Ordering::Relaxed);
        }
        let mut r = lock(&self.readiness);
        r.due.clear();
        r.full.clear();
    }

    /// The ready list, with what came due by `now` (everything when `flushing`) added.
    fn collect(&self, now: Instant, flushing: bool) -> MutexGuard<'_, Vec<Arc<PartitionQueue>>> {
        let mut listed = lock(&self.listed);
        let mut r = lock(&self.readiness);
        let mut add = |q: Arc<PartitionQueue>| {
            if !q.listed.swap(true, Ordering::Relaxed) {
                listed.push(q);
            }
        };
        for q in std::mem::take(&mut r.full) {
            add(q);
        }
        while r.due.peek().is_some_and(|Reverse(d)| flushing || d.at <= now) {
            if let Some(Reverse(d)) = r.due.pop() {
                add(d.queue);
            }
        }
        drop(r);
        listed
    }

    /// Takes out, for compressing elsewhere, the builder of every batch that is ready to send
    /// but not yet closed (all of them, not only each partition's first, so that a queue of
    /// full batches is compressed in parallel). The batch stays queued, in its place, and
    /// cannot be drained until its slot is filled.
    ///
    /// A batch that lingered out but is not full is taken only if `may_send(topic,
    /// partition)`: while its broker has no room for another request it stays open and
    /// keeps taking records (as Java's and librdkafka's batches do until drained), instead
    /// of being closed with a few records and followed by another small one.
    pub(crate) fn take_to_close(
        &self,
        now: Instant,
        flushing: bool,
        may_send: impl Fn(&str, i32) -> bool,
    ) -> Vec<(BatchBuilder, Arc<ClosingSlot>)> {
        let linger = self.linger;
        let mut out = Vec::new();
        for q in self.collect(now, flushing).iter() {
            let mut open_ok = None;
            // Every pass takes all that is ready, so the open batches are the queue's tail:
            // walk it from the back and stop at the first batch already taken (a partition
            // with a deep queue costs what is new, not its depth).
            let start = out.len();
            for b in lock(&q.batches).iter_mut().rev() {
                if !matches!(b.body, Body::Open(_)) {
                    break;
                }
                if !is_ready(b, now, linger, flushing) {
                    continue;
                }
                if !b.closed && !*open_ok.get_or_insert_with(|| may_send(&q.topic, q.partition)) {
                    continue;
                }
                let slot = Arc::new(ClosingSlot::default());
                if let Body::Open(builder) = std::mem::replace(&mut b.body, Body::Closing(Arc::clone(&slot))) {
                    if !b.closed {
                        q.observe_size(builder.size());
                    }
                    b.closed = true;
                    out.push((builder, slot));
                }
            }
            // Oldest first, so the head of the queue is compressed first.
            out[start..].reverse();
        }
        out
    }

    /// Partitions whose first batch is ready to send. The topic names are the table's own
    /// (a reference count, not a copy per pass).
    pub(crate) fn ready(&self, now: Instant, flushing: bool) -> Vec<(Arc<str>, i32)> {
        let (linger, limits) = (self.linger, self.limits);
        let mut out = Vec::new();
        self.collect(now, flushing).retain(|q| {
            let mut batches = lock(&q.batches);
            let lingering = match batches.front_mut() {
                None => None,
                Some(b) if !is_ready(b, now, linger, flushing) => Some(b.created + linger),
                Some(b) => {
                    if b.body.settled(&q.estimate, limits) {
                        out.push((Arc::clone(&q.topic), q.partition));
                    }
                    return true;
                }
            };
            q.listed.store(false, Ordering::Relaxed);
            if let Some(at) = lingering {
                self.file_deadline(at, q);
            }
            false
        });
        out
    }

    /// Removes the first batch of a partition if it is ready.
    pub(crate) fn pop_ready(&self, topic: &str, partition: i32, now: Instant, flushing: bool) -> Option<QueuedBatch> {
        let (linger, limits) = (self.linger, self.limits);
        let topics = self.topics.load();
        let tq = topics.get(topic)?;
        let parts = tq.partitions.load();
        let q = parts.get(usize::try_from(partition).ok()?)?;
        let mut batches = lock(&q.batches);
        let front = batches.front_mut()?;
        if !(is_ready(front, now, linger, flushing) && front.body.settled(&q.estimate, limits)) {
            return None;
        }
        if let (Body::Open(builder), false) = (&front.body, front.closed) {
            q.observe_size(builder.size());
        }
        let b = batches.pop_front();
        if b.is_some() {
            self.queued_batches.fetch_sub(1, Ordering::AcqRel);
            q.queued.fetch_sub(1, Ordering::Relaxed);
        }
        b
    }

    /// The earliest linger deadline filed (it may have passed: the sender looks again at once).
    pub(crate) fn next_linger_deadline(&self) -> Option<Instant> {
        lock(&self.readiness).due.peek().map(|Reverse(d)| d.at)
    }

    /// The earliest creation time of a queued batch (for delivery timeouts), or an earlier
    /// time (a deadline filed for a batch since drained): a wakeup too early, never too late.
    pub(crate) fn oldest(&self) -> Option<Instant> {
        let listed = lock(&self.listed);
        let mut min = lock(&self.readiness)
            .due
            .peek()
            .map(|Reverse(d)| d.at.checked_sub(self.linger).unwrap_or(d.at));
        for q in listed.iter() {
            if let Some(b) = lock(&q.batches).front() {
                if min.is_none_or(|m| b.created < m) {
                    min = Some(b.created);
                }
            }
        }
        min
    }

    /// Removes batches created at or before `cutoff` (their delivery timeout passed). Such a
    /// batch lingered out long ago (`delivery.timeout.ms` is at least `linger.ms`), so it is
    /// on the ready list once what came due by `cutoff + linger.ms` is collected.
    pub(crate) fn expire(&self, cutoff: Instant) -> Vec<QueuedBatch> {
        let mut out = Vec::new();
        for q in self.collect(cutoff + self.linger, false).iter() {
            let mut batches = lock(&q.batches);
            while batches.front().is_some_and(|b| b.created <= cutoff) {
                out.extend(batches.pop_front());
                q.queued.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.queued_batches.fetch_sub(out.len(), Ordering::AcqRel);
        out.iter().for_each(QueuedBatch::keep_records);
        out
    }
}
