//! The record accumulator: one queue of batches per partition (sans-IO, time is an argument).
//!
//! `send` appends encoded records to the open batch of the record's partition; the sender
//! pops batches that are ready: full, lingered `linger.ms`, or asked for by `flush`/`close`.
//! The accumulator knows nothing of brokers, sequences or sockets.
//!
//! Readiness (`ready.rs`): the sender's work per pass follows what is ready, not the number
//! of partitions. Each new batch files its linger deadline in a heap, and a batch that
//! fills up files its partition at once; the sender moves what came due into a ready list
//! and looks only at the partitions on it (as librdkafka wakes per partition, where Java's
//! `ready` walks every partition).
//!
//! Concurrency: an append takes no lock shared by all partitions. The topic table and each
//! topic's partition list are immutable snapshots read without a lock (`arc-swap`) and
//! replaced, copy on write, when a topic or partition is added; each partition's queue has
//! its own mutex, which an append holds while it encodes the record and which the sender
//! takes once per batch it drains. Callers producing to different partitions never meet,
//! and a caller meets the sender only on the partition it drains (as in the Java producer,
//! librdkafka and franz-go, which also lock a partition's queue per record).

use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use volley_protocol::compression::CompressionError;
use volley_protocol::record_batch::{BatchBuilder, ClosedBatch, Header, BATCH_HEADER_LEN};

mod failed;
mod ready;

use ready::Readiness;

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
    /// The most records in one batch (librdkafka's `batch.num.messages`).
    max_records: Option<i32>,
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

/// One partition's batches, oldest first, and what readiness tracking needs of it.
#[derive(Debug)]
pub(crate) struct PartitionQueue {
    /// The topic, shared by its batches' completions (a reference count per batch).
    topic: Arc<str>,
    partition: i32,
    batches: Mutex<VecDeque<QueuedBatch>>,
    /// The topic's compression estimate.
    estimate: Arc<RatioEstimate>,
    /// On the sender's ready list (changed only under that list's lock).
    listed: AtomicBool,
    /// About how many bytes this partition's batches held when they closed (a moving
    /// average): a new batch's buffer starts that large, not at `batch.size`, so that a
    /// thousand partitions lingering on small batches do not each allocate `batch.size`.
    typical: AtomicUsize,
    /// Batches queued (KIP-794's load: adaptive partitioning reads it without a lock).
    queued: AtomicUsize,
}

impl PartitionQueue {
    fn new(topic: &Arc<str>, partition: usize, estimate: &Arc<RatioEstimate>) -> Self {
        Self {
            topic: Arc::clone(topic),
            partition: i32::try_from(partition).unwrap_or(i32::MAX),
            batches: Mutex::new(VecDeque::new()),
            estimate: Arc::clone(estimate),
            listed: AtomicBool::new(false),
            typical: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
        }
    }

    /// A batch of `size` bytes stopped taking records.
    fn observe_size(&self, size: usize) {
        let t = self.typical.load(Ordering::Relaxed);
        let next = if t == 0 { size } else { (t * 3 + size) / 4 };
        self.typical.store(next, Ordering::Relaxed);
    }

    /// The capacity a new batch starts with: a little above what batches here usually
    /// hold, between 1 KiB and `max` (it grows if it must).
    fn capacity(&self, max: usize) -> usize {
        let t = self.typical.load(Ordering::Relaxed);
        if t == 0 {
            return max.min(16 << 10);
        }
        (t + t / 4).clamp(1 << 10, max.max(1 << 10))
    }
}

#[derive(Debug)]
struct TopicQueues {
    /// The topic, shared by its partitions.
    name: Arc<str>,
    /// Replaced (longer) when partitions are added; read without a lock.
    partitions: ArcSwap<Vec<Arc<PartitionQueue>>>,
    sticky: Mutex<StickyPartition>,
    estimate: Arc<RatioEstimate>,
}

type TopicTable = FxHashMap<Arc<str>, Arc<TopicQueues>>;

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
    /// Linger deadlines and filled batches, filed by appends for the sender.
    readiness: Mutex<Readiness>,
    /// The partitions the sender looks at (only the sender takes this lock).
    listed: Mutex<Vec<Arc<PartitionQueue>>>,
    /// `queue.buffering.max.messages`: a slot per record from `send` until its batch
    /// completes.
    record_slots: Option<Arc<tokio::sync::Semaphore>>,
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
                max_records: None,
            },
            linger,
            topics: ArcSwap::from_pointee(FxHashMap::default()),
            grow: Mutex::new(()),
            queued_batches: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            readiness: Mutex::new(Readiness::default()),
            listed: Mutex::new(Vec::new()),
            record_slots: None,
        }
    }

    /// Bounds the records of one batch (`batch.num.messages`) and the records queued or in
    /// flight at once (`queue.buffering.max.messages`: `send` takes a slot from
    /// [`Self::record_slots`], the batch gives it back when it completes).
    pub(crate) fn with_record_limits(mut self, per_batch: Option<usize>, queued: Option<usize>) -> Self {
        self.limits.max_records = per_batch.map(|n| i32::try_from(n).unwrap_or(i32::MAX).max(1));
        self.record_slots =
            queued.map(|n| Arc::new(tokio::sync::Semaphore::new(n.min(tokio::sync::Semaphore::MAX_PERMITS))));
        self
    }

    /// The record slots of `queue.buffering.max.messages`, if set.
    pub(crate) fn record_slots(&self) -> Option<&Arc<tokio::sync::Semaphore>> {
        self.record_slots.as_ref()
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
                    estimate: Arc::new(RatioEstimate::new(self.limits)),
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
                while parts.len() <= idx {
                    let q = PartitionQueue::new(&tq.name, parts.len(), &tq.estimate);
                    parts.push(Arc::new(q));
                }
                Arc::clone(&parts[idx])
            },
        )
    }

    /// Every partition queue (for the rare passes over all of them: flush, close).
    fn each_queue(&self, mut f: impl FnMut(&PartitionQueue)) {
        let topics = self.topics.load();
        for tq in topics.values() {
            for q in tq.partitions.load().iter() {
                f(q);
            }
        }
    }

    /// The partition for a keyless record (sticky), among `available` (those with a leader,
    /// ascending) if any of them is below `partitions`. `adaptive`: KIP-794's choice by
    /// queued batches, with `partitioner.availability.timeout.ms` (zero: off).
    pub(crate) fn sticky_partition(
        &self,
        topic: &str,
        partitions: u32,
        available: &[u32],
        size: usize,
        adaptive: Option<Duration>,
    ) -> u32 {
        let tq = self.topic(topic);
        let parts = tq.partitions.load();
        let linger = self.linger;
        let load = |p: u32| -> Option<usize> {
            let Some(q) = usize::try_from(p).ok().and_then(|i| parts.get(i)) else {
                return Some(0);
            };
            let timeout = adaptive.unwrap_or(Duration::ZERO);
            if !timeout.is_zero() {
                let stuck = lock(&q.batches)
                    .front()
                    .is_some_and(|b| b.created.elapsed() >= linger + timeout);
                if stuck {
                    return None;
                }
            }
            Some(q.queued.load(Ordering::Relaxed))
        };
        let mut sticky = lock(&tq.sticky);
        let load: Option<&dyn Fn(u32) -> Option<usize>> = adaptive.is_some().then_some(&load);
        sticky.next_adaptive(partitions, available, size, self.limits.batch_size, load)
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

    /// [`Accumulator::append_with`] with nothing to attach (the accumulator's unit tests).
    #[cfg(test)]
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
        self.append_with(
            topic,
            partition,
            timestamp,
            key,
            value,
            headers,
            reserved,
            now,
            |_, _| (),
        )
    }

    /// Appends an encoded record. `reserved` bytes were taken from `buffer.memory`.
    /// `None` once the accumulator is closed: the record was not queued (the caller still
    /// holds its reservation).
    ///
    /// `attach` is called with the record's batch completion and index in the batch while
    /// the partition's lock is still held: the batch cannot be drained, let alone completed,
    /// before it returns, and records of one partition are attached in append order. That
    /// is how callbacks are registered (see `producer::callback`): registered after the
    /// lock, a callback could miss its batch's completion and run after a later record's.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn append_with(
        &self,
        topic: &str,
        partition: i32,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
        reserved: usize,
        now: impl FnOnce() -> Instant,
        attach: impl FnOnce(&Arc<BatchCompletion>, i32),
    ) -> Option<Appended> {
        let idx = usize::try_from(partition).unwrap_or(0);
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
        let queue: &Arc<PartitionQueue> = if let Some(q) = parts.get(idx) {
            q
        } else {
            q_owned = self.partition(tq, idx);
            &q_owned
        };
        let batch_size = tq.estimate.limit();
        let mut q = lock(&queue.batches);
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
            if let Some(b) = q.back_mut().filter(|b| !b.closed) {
                b.closed = true;
                if let Body::Open(builder) = &b.body {
                    queue.observe_size(builder.size());
                }
                wake |= self.file_full(queue);
            }
            // Capacity for what this partition's batches usually hold: a batch that holds
            // more grows its buffer (a few times per batch), idle partitions stay small.
            let mut builder = BatchBuilder::with_capacity(queue.capacity(self.limits.batch_size.min(1 << 20)));
            offset_delta = Some(builder.append(timestamp, key, value, headers));
            let created = now();
            q.push_back(QueuedBatch {
                body: Body::Open(builder),
                completion: BatchCompletion::with_slots(Arc::clone(&tq.name), partition, self.record_slots.clone()),
                created,
                reserved: 0,
                closed: false,
            });
            self.queued_batches.fetch_add(1, Ordering::AcqRel);
            queue.queued.fetch_add(1, Ordering::Relaxed);
            wake |= self.file_deadline(created + self.linger, queue);
        }
        let offset_delta = offset_delta.unwrap_or(0);
        let b = q.back_mut().expect("a batch was just ensured");
        b.reserved += reserved;
        b.completion.hold_slot();
        let full = |builder: &BatchBuilder| {
            builder.size() >= batch_size || self.limits.max_records.is_some_and(|m| builder.record_count() >= m)
        };
        if matches!(&b.body, Body::Open(builder) if full(builder)) {
            b.closed = true;
            if let Body::Open(builder) = &b.body {
                queue.observe_size(builder.size());
            }
            wake |= self.file_full(queue);
        }
        attach(&b.completion, offset_delta);
        Some(Appended {
            completion: Arc::clone(&b.completion),
            offset_delta,
            wake,
        })
    }

    /// Completions of every queued batch (for `flush`).
    pub(crate) fn completions(&self) -> Vec<Arc<BatchCompletion>> {
        let mut out = Vec::new();
        self.each_queue(|q| out.extend(lock(&q.batches).iter().map(|b| Arc::clone(&b.completion))));
        out
    }

    /// Whether any batch of `topic` is queued.
    pub(crate) fn has_topic_batches(&self, topic: &str) -> bool {
        self.topics
            .load()
            .get(topic)
            .is_some_and(|tq| tq.partitions.load().iter().any(|q| !lock(&q.batches).is_empty()))
    }

    /// Records and reserved bytes queued per partition (statistics; takes each partition's
    /// lock in turn).
    pub(crate) fn queued_per_partition(&self) -> Vec<(Arc<str>, i32, i64, usize)> {
        let mut out = Vec::new();
        self.each_queue(|q| {
            let b = lock(&q.batches);
            let records: i64 = b.iter().map(|x| i64::from(x.record_count())).sum();
            let bytes: usize = b.iter().map(|x| x.reserved).sum();
            out.push((Arc::clone(&q.topic), q.partition, records, bytes));
        });
        out
    }

    /// Whether no batch is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.queued_batches.load(Ordering::Acquire) == 0
    }
}

#[cfg(test)]
mod tests;
