//! The record accumulator: one queue of batches per partition (sans-IO, time is an argument).
//!
//! `send` appends encoded records to the open batch of the record's partition; the sender
//! pops batches that are ready: full, lingered `linger.ms`, or asked for by `flush`/`close`.
//! The accumulator knows nothing of brokers, sequences or sockets.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use volley_protocol::record_batch::{BatchBuilder, Header};

use crate::partitioner::StickyPartition;
use crate::record::BatchCompletion;

/// A batch that is filling or waiting to be drained.
#[derive(Debug)]
pub(crate) struct QueuedBatch {
    pub(crate) builder: BatchBuilder,
    pub(crate) completion: Arc<BatchCompletion>,
    /// When the first record was appended: starts the linger and delivery clocks.
    pub(crate) created: Instant,
    /// Bytes reserved from `buffer.memory` for this batch's records.
    pub(crate) reserved: usize,
    /// No more records go into this batch.
    pub(crate) closed: bool,
}

#[derive(Debug, Default)]
struct TopicQueues {
    partitions: Vec<VecDeque<QueuedBatch>>,
    sticky: StickyPartition,
}

/// What an append did, for the caller's bookkeeping.
#[derive(Debug)]
pub(crate) struct Appended {
    pub(crate) completion: Arc<BatchCompletion>,
    pub(crate) offset_delta: i32,
    /// The sender should look again: a batch became ready or a new linger clock started.
    pub(crate) wake: bool,
}

/// Per-partition batch queues.
#[derive(Debug)]
pub(crate) struct Accumulator {
    batch_size: usize,
    linger: Duration,
    topics: HashMap<String, TopicQueues>,
    queued_batches: usize,
}

impl Accumulator {
    pub(crate) fn new(batch_size: usize, linger: Duration) -> Self {
        Self {
            batch_size: batch_size.max(1),
            linger,
            topics: HashMap::new(),
            queued_batches: 0,
        }
    }

    /// The partition for a keyless record (uniform sticky).
    pub(crate) fn sticky_partition(&mut self, topic: &str, partitions: u32, size: usize) -> u32 {
        let batch_size = self.batch_size;
        self.topic_mut(topic).sticky.next(partitions, size, batch_size)
    }

    fn topic_mut(&mut self, topic: &str) -> &mut TopicQueues {
        if !self.topics.contains_key(topic) {
            self.topics.insert(topic.to_owned(), TopicQueues::default());
        }
        // Just inserted if it was missing.
        self.topics.get_mut(topic).expect("topic queues exist")
    }

    /// Appends an encoded record. `reserved` bytes were taken from `buffer.memory`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn append(
        &mut self,
        topic: &str,
        partition: i32,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
        reserved: usize,
        now: impl FnOnce() -> Instant,
    ) -> Appended {
        let batch_size = self.batch_size;
        let idx = usize::try_from(partition).unwrap_or(0);
        let tq = self.topic_mut(topic);
        if tq.partitions.len() <= idx {
            tq.partitions.resize_with(idx + 1, VecDeque::new);
        }
        let q = &mut tq.partitions[idx];
        // Into the open batch if the record fits (its size is computed once, in
        // `try_append`); otherwise the open batch closes and a new one takes the record.
        let mut offset_delta = q
            .back_mut()
            .filter(|b| !b.closed)
            .and_then(|b| b.builder.try_append(batch_size, timestamp, key, value, headers));
        let mut new_batches = 0;
        if offset_delta.is_none() {
            if let Some(b) = q.back_mut() {
                b.closed = true;
            }
            let mut builder = BatchBuilder::with_capacity(batch_size.min(1 << 20));
            offset_delta = Some(builder.append(timestamp, key, value, headers));
            q.push_back(QueuedBatch {
                builder,
                completion: BatchCompletion::new(partition),
                created: now(),
                reserved: 0,
                closed: false,
            });
            new_batches = 1;
        }
        let offset_delta = offset_delta.unwrap_or(0);
        let mut wake = new_batches == 1;
        let b = q.back_mut().expect("a batch was just ensured");
        b.reserved += reserved;
        if b.builder.size() >= batch_size {
            b.closed = true;
            wake = true;
        }
        let completion = Arc::clone(&b.completion);
        self.queued_batches += new_batches;
        Appended {
            completion,
            offset_delta,
            wake,
        }
    }

    fn is_ready(b: &QueuedBatch, now: Instant, linger: Duration, flushing: bool) -> bool {
        flushing || b.closed || now.saturating_duration_since(b.created) >= linger
    }

    /// Partitions whose first batch is ready to send.
    pub(crate) fn ready(&self, now: Instant, flushing: bool) -> Vec<(String, i32)> {
        let mut out = Vec::new();
        for (t, tq) in &self.topics {
            for (p, q) in tq.partitions.iter().enumerate() {
                if q.front().is_some_and(|b| Self::is_ready(b, now, self.linger, flushing)) {
                    out.push((t.clone(), i32::try_from(p).unwrap_or(i32::MAX)));
                }
            }
        }
        out
    }

    /// Removes the first batch of a partition if it is ready.
    pub(crate) fn pop_ready(
        &mut self,
        topic: &str,
        partition: i32,
        now: Instant,
        flushing: bool,
    ) -> Option<QueuedBatch> {
        let linger = self.linger;
        let q = self
            .topics
            .get_mut(topic)?
            .partitions
            .get_mut(usize::try_from(partition).ok()?)?;
        if q.front().is_some_and(|b| Self::is_ready(b, now, linger, flushing)) {
            self.queued_batches -= 1;
            q.pop_front()
        } else {
            None
        }
    }

    /// The earliest time after `now` at which a batch becomes ready by lingering.
    pub(crate) fn next_linger_deadline(&self, now: Instant) -> Option<Instant> {
        self.topics
            .values()
            .flat_map(|tq| tq.partitions.iter())
            .filter_map(|q| q.front())
            .filter(|b| !b.closed)
            .map(|b| b.created + self.linger)
            .filter(|d| *d > now)
            .min()
    }

    /// The earliest creation time of a queued batch (for delivery timeouts).
    pub(crate) fn oldest(&self) -> Option<Instant> {
        self.topics
            .values()
            .flat_map(|tq| tq.partitions.iter())
            .filter_map(|q| q.front())
            .map(|b| b.created)
            .min()
    }

    /// Removes batches created at or before `cutoff` (their delivery timeout passed).
    pub(crate) fn expire(&mut self, cutoff: Instant) -> Vec<QueuedBatch> {
        let mut out = Vec::new();
        for tq in self.topics.values_mut() {
            for q in &mut tq.partitions {
                while q.front().is_some_and(|b| b.created <= cutoff) {
                    out.extend(q.pop_front());
                }
            }
        }
        self.queued_batches -= out.len();
        out
    }

    /// Removes every batch (closing without waiting).
    pub(crate) fn drain_all(&mut self) -> Vec<QueuedBatch> {
        let mut out = Vec::new();
        for tq in self.topics.values_mut() {
            for q in &mut tq.partitions {
                out.extend(q.drain(..));
            }
        }
        self.queued_batches = 0;
        out
    }

    /// Completions of every queued batch (for `flush`).
    pub(crate) fn completions(&self) -> Vec<Arc<BatchCompletion>> {
        self.topics
            .values()
            .flat_map(|tq| tq.partitions.iter())
            .flat_map(|q| q.iter())
            .map(|b| Arc::clone(&b.completion))
            .collect()
    }

    /// Whether no batch is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.queued_batches == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(batch: usize, linger_ms: u64) -> Accumulator {
        Accumulator::new(batch, Duration::from_millis(linger_ms))
    }

    #[test]
    fn a_batch_waits_for_linger_unless_full_or_flushing() {
        let t0 = Instant::now();
        let mut a = acc(1000, 50);
        let r = a.append("t", 0, 1, None, Some(b"v"), &[], 10, || t0);
        assert!(r.wake);
        assert!(a.ready(t0 + Duration::from_millis(49), false).is_empty());
        assert_eq!(a.ready(t0, true), vec![("t".to_string(), 0)]);
        assert_eq!(a.next_linger_deadline(t0), Some(t0 + Duration::from_millis(50)));
        assert_eq!(a.ready(t0 + Duration::from_millis(50), false).len(), 1);
        let b = a.pop_ready("t", 0, t0 + Duration::from_millis(50), false).unwrap();
        assert_eq!(b.builder.record_count(), 1);
        assert_eq!(b.reserved, 10);
        assert!(a.is_empty());
    }

    #[test]
    fn a_full_batch_is_ready_at_once_and_a_new_one_starts() {
        let t0 = Instant::now();
        let mut a = acc(200, 1000);
        let mut deltas = Vec::new();
        for _ in 0..10 {
            deltas.push(a.append("t", 2, 1, None, Some(&[0u8; 40]), &[], 1, || t0).offset_delta);
        }
        // 61-byte header + records of 47 bytes: two fit in 200 bytes.
        assert_eq!(&deltas[..4], &[0, 1, 0, 1]);
        assert_eq!(a.ready(t0, false), vec![("t".to_string(), 2)]);
        let first = a.pop_ready("t", 2, t0, false).unwrap();
        assert_eq!(first.builder.record_count(), 2);
        assert!(first.builder.size() <= 200);
    }

    #[test]
    fn an_oversized_record_gets_a_batch_of_its_own() {
        let t0 = Instant::now();
        let mut a = acc(100, 1000);
        a.append("t", 0, 1, None, Some(&[1u8; 10]), &[], 1, || t0);
        a.append("t", 0, 1, None, Some(&[1u8; 500]), &[], 1, || t0);
        a.append("t", 0, 1, None, Some(&[1u8; 10]), &[], 1, || t0);
        let counts: Vec<i32> = std::iter::from_fn(|| a.pop_ready("t", 0, t0, true))
            .map(|b| b.builder.record_count())
            .collect();
        assert_eq!(counts, vec![1, 1, 1]);
    }

    #[test]
    fn expiry_takes_only_old_batches() {
        let t0 = Instant::now();
        let mut a = acc(100, 1000);
        a.append("t", 0, 1, None, Some(b"x"), &[], 1, || t0);
        a.append("u", 1, 1, None, Some(b"x"), &[], 1, || t0 + Duration::from_secs(5));
        assert_eq!(a.oldest(), Some(t0));
        assert_eq!(a.expire(t0 + Duration::from_secs(1)).len(), 1);
        assert_eq!(a.completions().len(), 1);
        assert_eq!(a.drain_all().len(), 1);
        assert!(a.is_empty());
    }
}
