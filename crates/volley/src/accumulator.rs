//! The record accumulator: one queue of batches per partition (sans-IO, time is an argument).
//!
//! `send` appends encoded records to the open batch of the record's partition; the sender
//! pops batches that are ready: full, lingered `linger.ms`, or asked for by `flush`/`close`.
//! The accumulator knows nothing of brokers, sequences or sockets.
//!
//! Concurrency: an append takes no lock shared by all partitions. The topic table and each
//! topic's partition list are immutable snapshots read without a lock (`arc-swap`) and
//! replaced, copy on write, when a topic or partition is added; each partition's queue has
//! its own mutex, which an append holds while it encodes the record and which the sender
//! takes once per batch it drains. Callers producing to different partitions never meet,
//! and a caller meets the sender only on the partition it drains (as in the Java producer,
//! librdkafka and franz-go, which also lock a partition's queue per record).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use volley_protocol::compression::CompressionError;
use volley_protocol::record_batch::{BatchBuilder, ClosedBatch, Header, BATCH_HEADER_LEN};

mod failed;

use crate::partitioner::StickyPartition;
use crate::record::BatchCompletion;

/// Where a closing batch's result lands (filled by whoever compresses it).
pub(crate) type ClosingSlot = Mutex<Option<Result<ClosedBatch, CompressionError>>>;

/// The bytes of a queued batch.
#[derive(Debug)]
pub(crate) enum Body {
    /// Records are appended here (until the batch is closed).
    Open(BatchBuilder),
    /// Taken out to be compressed away from the sender; the result lands in the slot.
    Closing(Arc<ClosingSlot>),
    /// Compressed (or failed to), waiting to be drained.
    Closed(Result<ClosedBatch, CompressionError>),
}

impl Body {
    /// Whether the batch can be drained now (not waiting for a compression in progress).
    /// When a compression just finished, its ratio goes into the topic's estimate.
    fn settled(&mut self, estimate: &RatioEstimate, limits: Limits) -> bool {
        let Body::Closing(slot) = self else { return true };
        let done = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
        match done {
            Some(r) => {
                if let Ok(closed) = &r {
                    estimate.observe(closed.compression_ratio(), limits);
                }
                *self = Body::Closed(r);
                true
            }
            None => false,
        }
    }
}

/// The Java producer's estimate of how well a topic's batches compress, which lets
/// `batch.size` bound a batch's compressed size: it starts at 1.0, falls by 0.005 after a
/// batch that compressed better, and rises at once (by at least 0.05) after one that
/// compressed worse, so a batch overshoots at most once. Only the sender updates it (when a
/// compressed batch settles); appends read the limit.
#[derive(Debug)]
struct RatioEstimate {
    /// The ratio's `f32` bits.
    ratio: AtomicU32,
    /// Uncompressed bytes (header included) a batch may take under the current estimate.
    limit: AtomicUsize,
}

/// The Java producer's margin on its compression estimate.
const ESTIMATION_FACTOR: f64 = 1.05;

impl RatioEstimate {
    fn new(limits: Limits) -> Self {
        let e = Self {
            ratio: AtomicU32::new(1.0f32.to_bits()),
            limit: AtomicUsize::new(0),
        };
        e.set_limit(1.0, limits);
        e
    }

    fn ratio(&self) -> f32 {
        f32::from_bits(self.ratio.load(Ordering::Relaxed))
    }

    fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    fn observe(&self, observed: f32, limits: Limits) {
        let mut ratio = self.ratio();
        if observed > ratio {
            ratio = (ratio + 0.05).max(observed);
        } else if observed < ratio {
            ratio = (ratio - 0.005).max(0.0);
        }
        self.ratio.store(ratio.to_bits(), Ordering::Relaxed);
        self.set_limit(ratio, limits);
    }

    fn set_limit(&self, ratio: f32, limits: Limits) {
        if !limits.compressed {
            self.limit.store(limits.batch_size, Ordering::Relaxed);
            return;
        }
        let header = BATCH_HEADER_LEN as f64;
        #[allow(clippy::cast_precision_loss)]
        let room = (limits.batch_size as f64 - header).max(1.0);
        let est = (f64::from(ratio) * ESTIMATION_FACTOR).max(1e-6);
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let limit = (header + room / est).min(limits.max_uncompressed as f64) as usize;
        self.limit.store(limit.max(BATCH_HEADER_LEN + 1), Ordering::Relaxed);
    }
}

/// What bounds a batch.
#[derive(Debug, Clone, Copy)]
struct Limits {
    batch_size: usize,
    /// Whether batches are compressed (then `batch_size` bounds the estimated compressed size).
    compressed: bool,
    /// The most uncompressed bytes one batch may hold whatever the estimate
    /// (`max.request.size`): bounds the memory of an open batch.
    max_uncompressed: usize,
}

/// A batch that is filling or waiting to be drained.
#[derive(Debug)]
pub(crate) struct QueuedBatch {
    pub(crate) body: Body,
    pub(crate) completion: Arc<BatchCompletion>,
    /// When the first record was appended: starts the linger and delivery clocks.
    pub(crate) created: Instant,
    /// Bytes reserved from `buffer.memory` for this batch's records.
    pub(crate) reserved: usize,
    /// No more records go into this batch.
    pub(crate) closed: bool,
}

impl QueuedBatch {
    /// Records in the batch (0 while it is being compressed).
    pub(crate) fn record_count(&self) -> i32 {
        match &self.body {
            Body::Open(b) => b.record_count(),
            Body::Closed(Ok(c)) => c.record_count(),
            Body::Closed(Err(_)) | Body::Closing(_) => 0,
        }
    }
}

/// One partition's batches, oldest first.
type PartitionQueue = Mutex<VecDeque<QueuedBatch>>;

#[derive(Debug)]
struct TopicQueues {
    /// The topic, shared by its batches' completions (a reference count per batch).
    name: Arc<str>,
    /// Replaced (longer) when partitions are added; read without a lock.
    partitions: ArcSwap<Vec<Arc<PartitionQueue>>>,
    sticky: Mutex<StickyPartition>,
    estimate: RatioEstimate,
}

type TopicTable = HashMap<Arc<str>, Arc<TopicQueues>>;

/// What an append did, for the caller's bookkeeping.
#[derive(Debug)]
pub(crate) struct Appended {
    pub(crate) completion: Arc<BatchCompletion>,
    pub(crate) offset_delta: i32,
    /// The sender should look again: a batch became ready or a new linger clock started.
    pub(crate) wake: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Per-partition batch queues, shared by the callers of `send` and the sender.
#[derive(Debug)]
pub(crate) struct Accumulator {
    limits: Limits,
    linger: Duration,
    /// Read without a lock on every append; replaced, copy on write, when a topic is added.
    topics: ArcSwap<TopicTable>,
    /// Serialises the rare replacements of `topics` and of partition lists.
    grow: Mutex<()>,
    queued_batches: AtomicUsize,
    /// Set once by [`Accumulator::close`]; read by every append under its partition's lock.
    closed: AtomicBool,
}

impl Accumulator {
    /// `batch_size` bounds a batch's bytes, its estimated compressed bytes when `compressed`;
    /// `max_uncompressed` bounds its uncompressed bytes in any case.
    pub(crate) fn new(batch_size: usize, linger: Duration, compressed: bool, max_uncompressed: usize) -> Self {
        let batch_size = batch_size.max(1);
        Self {
            limits: Limits {
                batch_size,
                compressed,
                max_uncompressed: max_uncompressed.max(batch_size),
            },
            linger,
            topics: ArcSwap::from_pointee(HashMap::new()),
            grow: Mutex::new(()),
            queued_batches: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
        }
    }

    /// What `get` finds in the snapshot, or else what `add` puts into a copy of it, which
    /// then replaces the snapshot (copy on write, under the `grow` lock; readers never wait).
    fn get_or_add<C: Clone, T>(
        &self,
        snapshot: &ArcSwap<C>,
        get: impl Fn(&C) -> Option<&Arc<T>>,
        add: impl FnOnce(&mut C) -> Arc<T>,
    ) -> Arc<T> {
        if let Some(t) = get(&snapshot.load()) {
            return Arc::clone(t);
        }
        let _grow = lock(&self.grow);
        let current = snapshot.load_full();
        if let Some(t) = get(&current) {
            return Arc::clone(t);
        }
        let mut next = (*current).clone();
        let t = add(&mut next);
        snapshot.store(Arc::new(next));
        t
    }

    /// The queues of a topic, added if missing.
    fn topic(&self, topic: &str) -> Arc<TopicQueues> {
        self.get_or_add(
            &self.topics,
            |table| table.get(topic),
            |table| {
                let t = Arc::new(TopicQueues {
                    name: Arc::from(topic),
                    partitions: ArcSwap::from_pointee(Vec::new()),
                    sticky: Mutex::new(StickyPartition::default()),
                    estimate: RatioEstimate::new(self.limits),
                });
                table.insert(Arc::from(topic), Arc::clone(&t));
                t
            },
        )
    }

    /// A partition's queue, added (with any missing below it) if missing.
    fn partition(&self, tq: &TopicQueues, idx: usize) -> Arc<PartitionQueue> {
        self.get_or_add(
            &tq.partitions,
            |parts| parts.get(idx),
            |parts| {
                parts.resize_with(idx + 1, Default::default);
                Arc::clone(&parts[idx])
            },
        )
    }

    /// Every partition queue with its topic's name, partition number and estimate.
    fn each_queue(&self, mut f: impl FnMut(&Arc<str>, i32, &TopicQueues, &PartitionQueue)) {
        let topics = self.topics.load();
        for (name, tq) in topics.iter() {
            let parts = tq.partitions.load();
            for (p, q) in parts.iter().enumerate() {
                f(name, i32::try_from(p).unwrap_or(i32::MAX), tq, q);
            }
        }
    }

    /// The partition for a keyless record (uniform sticky), among `available` (those with a
    /// leader, ascending) if any of them is below `partitions`.
    pub(crate) fn sticky_partition(&self, topic: &str, partitions: u32, available: &[u32], size: usize) -> u32 {
        let tq = self.topic(topic);
        let mut sticky = lock(&tq.sticky);
        sticky.next_among(partitions, available, size, self.limits.batch_size)
    }

    /// Refuses every later append. What is queued stays for [`Accumulator::drain_all`],
    /// which, called after this, sees every record an append ever accepted: nothing can be
    /// left behind in a queue nobody drains (see `append` for why).
    pub(crate) fn close(&self) {
        // Under `grow`, so that every partition queue was created either before this (and
        // is in the snapshot a later `drain_all` reads) or after it (and its appends see the
        // flag): see `append`.
        let _grow = lock(&self.grow);
        self.closed.store(true, Ordering::Release);
    }

    /// Appends an encoded record. `reserved` bytes were taken from `buffer.memory`.
    /// `None` once the accumulator is closed: the record was not queued (the caller still
    /// holds its reservation).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn append(
        &self,
        topic: &str,
        partition: i32,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
        reserved: usize,
        now: impl FnOnce() -> Instant,
    ) -> Option<Appended> {
        let idx = usize::try_from(partition).unwrap_or(0);
        let capacity = self.limits.batch_size.min(1 << 20);
        // The common case reads the snapshots in place (no reference count is touched).
        let topics = self.topics.load();
        let tq_owned;
        let tq: &TopicQueues = if let Some(t) = topics.get(topic) {
            t
        } else {
            tq_owned = self.topic(topic);
            &tq_owned
        };
        let parts = tq.partitions.load();
        let q_owned;
        let q: &PartitionQueue = if let Some(q) = parts.get(idx) {
            q
        } else {
            q_owned = self.partition(tq, idx);
            &q_owned
        };
        let batch_size = tq.estimate.limit();
        let mut q = lock(q);
        // Race-free with `close` followed by `drain_all`, because the flag is read under this
        // queue's lock. Either this queue was created before `close` (under `grow`, which
        // `close` also takes): then `drain_all`, which runs after `close`, finds it in the
        // snapshot and takes this same lock; if it takes it first, its store of the flag
        // happened before its unlock, hence before our lock, and we see the flag; if we take
        // it first, our batch is in the queue when it drains. Or the queue was created after
        // `close` released `grow`: then the flag's store happened before that creation, which
        // happened before we could find the queue (an acquire load of the snapshot, or our own
        // creation), and we see the flag. Acquire/Release on the flag is belt and braces: the
        // locks already order it.
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        // Into the open batch if the record fits (its size is computed once, in
        // `try_append`); otherwise the open batch closes and a new one takes the record.
        let mut offset_delta = q.back_mut().filter(|b| !b.closed).and_then(|b| match &mut b.body {
            Body::Open(builder) => builder.try_append(batch_size, timestamp, key, value, headers),
            _ => None,
        });
        let mut wake = false;
        if offset_delta.is_none() {
            if let Some(b) = q.back_mut() {
                b.closed = true;
            }
            // Capacity for `batch.size` bytes: a batch that holds more because it compresses
            // well grows its buffer (a few times per batch), idle partitions stay small.
            let mut builder = BatchBuilder::with_capacity(capacity);
            offset_delta = Some(builder.append(timestamp, key, value, headers));
            q.push_back(QueuedBatch {
                body: Body::Open(builder),
                completion: BatchCompletion::new_in(Arc::clone(&tq.name), partition),
                created: now(),
                reserved: 0,
                closed: false,
            });
            self.queued_batches.fetch_add(1, Ordering::AcqRel);
            wake = true;
        }
        let offset_delta = offset_delta.unwrap_or(0);
        let b = q.back_mut().expect("a batch was just ensured");
        b.reserved += reserved;
        if matches!(&b.body, Body::Open(builder) if builder.size() >= batch_size) {
            b.closed = true;
            wake = true;
        }
        Some(Appended {
            completion: Arc::clone(&b.completion),
            offset_delta,
            wake,
        })
    }

    fn is_ready(b: &QueuedBatch, now: Instant, linger: Duration, flushing: bool) -> bool {
        flushing || b.closed || now.saturating_duration_since(b.created) >= linger
    }

    /// Takes out, for compressing elsewhere, the builder of every batch that is ready to send
    /// but not yet closed (all of them, not only each partition's first, so that a queue of
    /// full batches is compressed in parallel). The batch stays queued, in its place, and
    /// cannot be drained until its slot is filled.
    pub(crate) fn take_to_close(&self, now: Instant, flushing: bool) -> Vec<(BatchBuilder, Arc<ClosingSlot>)> {
        let linger = self.linger;
        let mut out = Vec::new();
        self.each_queue(|_, _, _, q| {
            for b in lock(q).iter_mut() {
                if !matches!(b.body, Body::Open(_)) || !Self::is_ready(b, now, linger, flushing) {
                    continue;
                }
                let slot = Arc::new(ClosingSlot::default());
                if let Body::Open(builder) = std::mem::replace(&mut b.body, Body::Closing(Arc::clone(&slot))) {
                    b.closed = true;
                    out.push((builder, slot));
                }
            }
        });
        out
    }

    /// Partitions whose first batch is ready to send.
    /// The topic names are the table's own (a reference count, not a copy per pass).
    pub(crate) fn ready(&self, now: Instant, flushing: bool) -> Vec<(Arc<str>, i32)> {
        let (linger, limits) = (self.linger, self.limits);
        let mut out = Vec::new();
        self.each_queue(|t, p, tq, q| {
            if lock(q)
                .front_mut()
                .is_some_and(|b| Self::is_ready(b, now, linger, flushing) && b.body.settled(&tq.estimate, limits))
            {
                out.push((Arc::clone(t), p));
            }
        });
        out
    }

    /// Removes the first batch of a partition if it is ready.
    pub(crate) fn pop_ready(&self, topic: &str, partition: i32, now: Instant, flushing: bool) -> Option<QueuedBatch> {
        let (linger, limits) = (self.linger, self.limits);
        let topics = self.topics.load();
        let tq = topics.get(topic)?;
        let parts = tq.partitions.load();
        let mut q = lock(parts.get(usize::try_from(partition).ok()?)?);
        if q.front_mut()
            .is_some_and(|b| Self::is_ready(b, now, linger, flushing) && b.body.settled(&tq.estimate, limits))
        {
            let b = q.pop_front();
            if b.is_some() {
                self.queued_batches.fetch_sub(1, Ordering::AcqRel);
            }
            b
        } else {
            None
        }
    }

    /// The earliest time after `now` at which a batch becomes ready by lingering.
    pub(crate) fn next_linger_deadline(&self, now: Instant) -> Option<Instant> {
        let mut min: Option<Instant> = None;
        self.each_queue(|_, _, _, q| {
            if let Some(b) = lock(q).front().filter(|b| !b.closed) {
                let d = b.created + self.linger;
                if d > now && min.is_none_or(|m| d < m) {
                    min = Some(d);
                }
            }
        });
        min
    }

    /// The earliest creation time of a queued batch (for delivery timeouts).
    pub(crate) fn oldest(&self) -> Option<Instant> {
        let mut min: Option<Instant> = None;
        self.each_queue(|_, _, _, q| {
            if let Some(b) = lock(q).front() {
                if min.is_none_or(|m| b.created < m) {
                    min = Some(b.created);
                }
            }
        });
        min
    }

    /// Completions of every queued batch (for `flush`).
    pub(crate) fn completions(&self) -> Vec<Arc<BatchCompletion>> {
        let mut out = Vec::new();
        self.each_queue(|_, _, _, q| out.extend(lock(q).iter().map(|b| Arc::clone(&b.completion))));
        out
    }

    /// Whether any batch of `topic` is queued.
    pub(crate) fn has_topic_batches(&self, topic: &str) -> bool {
        self.topics
            .load()
            .get(topic)
            .is_some_and(|tq| tq.partitions.load().iter().any(|q| !lock(q).is_empty()))
    }

    /// Whether no batch is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.queued_batches.load(Ordering::Acquire) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(batch: usize, linger_ms: u64) -> Accumulator {
        Accumulator::new(batch, Duration::from_millis(linger_ms), false, batch)
    }

    fn open(b: &QueuedBatch) -> &BatchBuilder {
        match &b.body {
            Body::Open(builder) => builder,
            other => panic!("not open: {other:?}"),
        }
    }

    #[test]
    fn a_batch_waits_for_linger_unless_full_or_flushing() {
        let t0 = Instant::now();
        let a = acc(1000, 50);
        let r = a.append("t", 0, 1, None, Some(b"v"), &[], 10, || t0).unwrap();
        assert!(r.wake);
        assert!(a.ready(t0 + Duration::from_millis(49), false).is_empty());
        assert_eq!(a.ready(t0, true), vec![(Arc::<str>::from("t"), 0)]);
        assert_eq!(a.next_linger_deadline(t0), Some(t0 + Duration::from_millis(50)));
        assert_eq!(a.ready(t0 + Duration::from_millis(50), false).len(), 1);
        let b = a.pop_ready("t", 0, t0 + Duration::from_millis(50), false).unwrap();
        assert_eq!(open(&b).record_count(), 1);
        assert_eq!(b.reserved, 10);
        assert!(a.is_empty());
    }

    #[test]
    fn a_full_batch_is_ready_at_once_and_a_new_one_starts() {
        let t0 = Instant::now();
        let a = acc(200, 1000);
        let mut deltas = Vec::new();
        for _ in 0..10 {
            deltas.push(
                a.append("t", 2, 1, None, Some(&[0u8; 40]), &[], 1, || t0)
                    .unwrap()
                    .offset_delta,
            );
        }
        // 61-byte header + records of 47 bytes: two fit in 200 bytes.
        assert_eq!(&deltas[..4], &[0, 1, 0, 1]);
        assert_eq!(a.ready(t0, false), vec![(Arc::<str>::from("t"), 2)]);
        let first = a.pop_ready("t", 2, t0, false).unwrap();
        assert_eq!(open(&first).record_count(), 2);
        assert!(open(&first).size() <= 200);
    }

    #[test]
    fn an_oversized_record_gets_a_batch_of_its_own() {
        let t0 = Instant::now();
        let a = acc(100, 1000);
        a.append("t", 0, 1, None, Some(&[1u8; 10]), &[], 1, || t0);
        a.append("t", 0, 1, None, Some(&[1u8; 500]), &[], 1, || t0);
        a.append("t", 0, 1, None, Some(&[1u8; 10]), &[], 1, || t0);
        let counts: Vec<i32> = std::iter::from_fn(|| a.pop_ready("t", 0, t0, true))
            .map(|b| open(&b).record_count())
            .collect();
        assert_eq!(counts, vec![1, 1, 1]);
    }

    #[test]
    fn expiry_takes_only_old_batches() {
        let t0 = Instant::now();
        let a = acc(100, 1000);
        a.append("t", 0, 1, None, Some(b"x"), &[], 1, || t0);
        a.append("u", 1, 1, None, Some(b"x"), &[], 1, || t0 + Duration::from_secs(5));
        assert_eq!(a.oldest(), Some(t0));
        assert_eq!(a.expire(t0 + Duration::from_secs(1)).len(), 1);
        assert_eq!(a.completions().len(), 1);
        assert_eq!(a.drain_all().len(), 1);
        assert!(a.is_empty());
    }

    #[test]
    fn a_batch_being_closed_elsewhere_is_drained_only_when_its_slot_is_filled() {
        use volley_protocol::compression::Compression;
        let t0 = Instant::now();
        let a = acc(200, 1000);
        for _ in 0..5 {
            a.append("t", 0, 1, None, Some(&[7u8; 40]), &[], 1, || t0);
        }
        // Two full batches and an open one that has not lingered yet.
        let mut taken = a.take_to_close(t0, false);
        assert_eq!(taken.len(), 2);
        assert!(a.take_to_close(t0, false).is_empty(), "taken only once");
        assert!(
            a.ready(t0, false).is_empty(),
            "nothing drains before the first slot is filled"
        );
        // The second finishes first: still nothing, the first is at the head.
        let (second, slot2) = taken.pop().unwrap();
        *slot2.lock().unwrap() = Some(second.close(Compression::Lz4, None, false));
        assert!(a.pop_ready("t", 0, t0, false).is_none());
        let (first, slot1) = taken.pop().unwrap();
        *slot1.lock().unwrap() = Some(first.close(Compression::Lz4, None, false));
        let counts: Vec<i32> = std::iter::from_fn(|| a.pop_ready("t", 0, t0, false))
            .map(|b| match b.body {
                Body::Closed(Ok(c)) => c.record_count(),
                other => panic!("not closed: {other:?}"),
            })
            .collect();
        assert_eq!(counts, vec![2, 2]);
        // The open batch is closed once it lingered, and new records start another.
        assert_eq!(a.take_to_close(t0 + Duration::from_secs(1), false).len(), 1);
        a.append("t", 0, 1, None, Some(&[7u8; 40]), &[], 1, || t0);
        assert_eq!(a.completions().len(), 2);
    }

    #[test]
    fn with_compression_batch_size_bounds_the_estimated_compressed_size() {
        let limits = Limits {
            batch_size: 1061,
            compressed: true,
            max_uncompressed: 100_000,
        };
        let e = RatioEstimate::new(limits);
        // Java's start: ratio 1.0 with a 5 % margin.
        assert_eq!(e.limit(), 61 + (1000.0 / 1.05) as usize);
        // Batches that compress to a tenth lower the estimate slowly.
        e.observe(0.1, limits);
        assert!((e.ratio() - 0.995).abs() < 1e-6);
        for _ in 0..1000 {
            e.observe(0.1, limits);
        }
        // Java's sawtooth: down by 0.005 below the observed ratio, then up by 0.05.
        assert!(e.ratio() > 0.09 && e.ratio() < 0.151, "{}", e.ratio());
        assert!(e.limit() > 6_000 && e.limit() < 10_100, "{}", e.limit());
        // One that compresses worse raises it at once.
        e.observe(0.5, limits);
        assert!((e.ratio() - 0.5).abs() < 1e-6);
        // The uncompressed bound holds whatever the estimate.
        for _ in 0..1000 {
            e.observe(0.0, limits);
        }
        assert_eq!(e.limit(), 100_000);
        // Without compression, batch.size is the plain bound.
        let plain = RatioEstimate::new(Limits {
            compressed: false,
            ..limits
        });
        assert_eq!(plain.limit(), 1061);
    }

    #[test]
    fn a_compressed_topics_batches_grow_as_the_estimate_falls() {
        use volley_protocol::compression::Compression;
        let t0 = Instant::now();
        let a = Accumulator::new(1061, Duration::from_secs(1), true, 1 << 20);
        let mut sizes = Vec::new();
        for _ in 0..200 {
            a.append("t", 0, 1, None, Some(&[b'x'; 100]), &[], 1, || t0);
            for (builder, slot) in a.take_to_close(t0, false) {
                *slot.lock().unwrap() = Some(builder.close(Compression::Lz4, None, false));
            }
            while let Some(b) = a.pop_ready("t", 0, t0, false) {
                let Body::Closed(Ok(c)) = b.body else {
                    panic!("not closed")
                };
                sizes.push((c.record_count(), c.size()));
            }
        }
        let (first, last) = (sizes[0], sizes[sizes.len() - 1]);
        // 107-byte records; 1000 bytes with the 5 % margin is room for 952.
        assert_eq!(first.0, 8);
        assert!(last.0 > first.0, "{sizes:?}");
    }

    #[test]
    fn after_close_appends_are_refused_and_drain_all_sees_every_accepted_record() {
        let t0 = Instant::now();
        let a = acc(1000, 1000);
        assert!(a.append("t", 0, 1, None, Some(b"x"), &[], 1, || t0).is_some());
        a.close();
        assert!(a.append("t", 0, 1, None, Some(b"x"), &[], 1, || t0).is_none());
        assert!(a.append("new", 3, 1, None, Some(b"x"), &[], 1, || t0).is_none());
        assert_eq!(a.drain_all().len(), 1);

        // Appends racing with close + drain_all, onto existing and new partitions and topics:
        // every record an append accepted is in what drain_all took, none is left behind.
        for round in 0..20 {
            let a = Arc::new(acc(300, 1000));
            let callers: Vec<_> = (0..4)
                .map(|c| {
                    let a = Arc::clone(&a);
                    std::thread::spawn(move || {
                        let mut accepted = 0u32;
                        for i in 0.. {
                            let topic = format!("t{}", (i / 50) % 7);
                            let p = (i + c) % 9;
                            if a.append(&topic, p, 1, None, Some(b"v"), &[], 1, || t0).is_none() {
                                return accepted;
                            }
                            accepted += 1;
                        }
                        accepted
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_micros(200 * round));
            a.close();
            let drained: i32 = a.drain_all().iter().map(|b| open(b).record_count()).sum();
            let accepted: u32 = callers.into_iter().map(|c| c.join().unwrap()).sum();
            assert_eq!(u32::try_from(drained).unwrap(), accepted, "round {round}");
            assert!(a.drain_all().is_empty() && a.is_empty(), "round {round}: left behind");
        }
    }

    #[test]
    fn concurrent_appends_and_drains_lose_nothing_and_keep_each_callers_order() {
        use std::sync::atomic::AtomicBool;
        const CALLERS: u8 = 4;
        const PER_CALLER: u32 = 20_000;
        let t0 = Instant::now();
        let a = Arc::new(acc(300, 0));
        let done = Arc::new(AtomicBool::new(false));
        let drainer = {
            let (a, done) = (Arc::clone(&a), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut seen: Vec<(String, i32, Vec<Vec<u8>>)> = Vec::new();
                loop {
                    let finished = done.load(Ordering::Acquire);
                    for (t, p) in a.ready(t0, finished) {
                        while let Some(b) = a.pop_ready(&t, p, t0, finished) {
                            let Body::Open(builder) = b.body else {
                                panic!("not open")
                            };
                            let sealed = builder
                                .seal(&volley_protocol::record_batch::SealParams::default())
                                .unwrap();
                            let d = volley_protocol::record_batch::decode_batches(sealed, 1 << 20).unwrap();
                            let values = d[0].records.iter().map(|r| r.value.clone().unwrap().to_vec()).collect();
                            seen.push((t.to_string(), p, values));
                        }
                    }
                    if finished && a.is_empty() {
                        return seen;
                    }
                }
            })
        };
        let callers: Vec<_> = (0..CALLERS)
            .map(|c| {
                let a = Arc::clone(&a);
                std::thread::spawn(move || {
                    for i in 0..PER_CALLER {
                        // Each caller spreads over two topics and three partitions each.
                        let topic = if i % 2 == 0 { "even" } else { "odd" };
                        let mut v = vec![c];
                        v.extend_from_slice(&i.to_be_bytes());
                        a.append(topic, i32::try_from(i % 3).unwrap(), 1, None, Some(&v), &[], 1, || t0);
                    }
                })
            })
            .collect();
        for c in callers {
            c.join().unwrap();
        }
        done.store(true, Ordering::Release);
        let seen = drainer.join().unwrap();
        let mut last: HashMap<(String, i32, u8), u32> = HashMap::new();
        let mut total = 0;
        for (t, p, values) in seen {
            for v in values {
                let (c, i) = (v[0], u32::from_be_bytes(v[1..5].try_into().unwrap()));
                if let Some(prev) = last.insert((t.clone(), p, c), i) {
                    assert!(
                        i > prev,
                        "caller {c}'s records on {t}/{p} out of order: {prev} then {i}"
                    );
                }
                total += 1;
            }
        }
        assert_eq!(total, u32::from(CALLERS) * PER_CALLER);
    }
}
