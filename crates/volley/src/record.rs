//! Records going in, metadata and delivery futures coming out.
//!
//! One batch completion is shared by every record of a batch: completing a batch is one
//! store and one wake-up of whoever waits, never a channel per record.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
pub use volley_protocol::record_batch::Header;

use crate::error::{DeliveryError, FailedRecords};
use crate::producer::callback::{Dispatcher, Listener};

/// A record to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerRecord {
    /// Topic.
    pub topic: String,
    /// Explicit partition, or `None` to let the partitioner choose.
    pub partition: Option<i32>,
    /// Key (`Some(empty)` is a key; only `None` is keyless).
    pub key: Option<Bytes>,
    /// Value (`None` is a null value, a tombstone).
    pub value: Option<Bytes>,
    /// Headers, in order; names may repeat.
    pub headers: Vec<Header>,
    /// CreateTime in milliseconds since the epoch, or `None` for now.
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    /// A keyless record with a value.
    pub fn new(topic: impl Into<String>, value: impl Into<Bytes>) -> Self {
        Self {
            topic: topic.into(),
            partition: None,
            key: None,
            value: Some(value.into()),
            headers: Vec::new(),
            timestamp: None,
        }
    }
    /// Sets the key.
    #[must_use]
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }
    /// Sets an explicit partition.
    #[must_use]
    pub fn partition(mut self, p: i32) -> Self {
        self.partition = Some(p);
        self
    }
    /// Adds a header.
    #[must_use]
    pub fn header(mut self, key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.headers.push(Header::new(key, value));
        self
    }
    /// Sets the timestamp (ms since the epoch).
    #[must_use]
    pub fn timestamp(mut self, ms: i64) -> Self {
        self.timestamp = Some(ms);
        self
    }
    /// Makes the value null.
    #[must_use]
    pub fn tombstone(mut self) -> Self {
        self.value = None;
        self
    }
}

impl ProducerRecord {
    /// The record as a borrowed [`RecordRef`].
    #[must_use]
    pub fn as_record_ref(&self) -> RecordRef<'_> {
        RecordRef {
            topic: &self.topic,
            partition: self.partition,
            key: self.key.as_deref(),
            value: self.value.as_deref(),
            headers: &self.headers,
            timestamp: self.timestamp,
        }
    }
}

/// A record borrowed from the caller, for [`crate::Producer::send_ref`]. The producer copies
/// its bytes into the open batch when it is appended, so neither the caller nor the
/// producer needs an owned copy (no allocation per record on either side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Explicit partition, or `None` to let the partitioner choose.
    pub partition: Option<i32>,
    /// Key (`Some(&[])` is a key; only `None` is keyless).
    pub key: Option<&'a [u8]>,
    /// Value (`None` is a null value, a tombstone).
    pub value: Option<&'a [u8]>,
    /// Headers, in order.
    pub headers: &'a [Header],
    /// CreateTime in milliseconds since the epoch, or `None` for now.
    pub timestamp: Option<i64>,
}

impl<'a> RecordRef<'a> {
    /// A keyless record with a value.
    #[must_use]
    pub fn new(topic: &'a str, value: &'a [u8]) -> Self {
        Self {
            topic,
            partition: None,
            key: None,
            value: Some(value),
            headers: &[],
            timestamp: None,
        }
    }
    /// Sets the key.
    #[must_use]
    pub fn key(mut self, key: &'a [u8]) -> Self {
        self.key = Some(key);
        self
    }
    /// Sets an explicit partition.
    #[must_use]
    pub fn partition(mut self, p: i32) -> Self {
        self.partition = Some(p);
        self
    }
    /// Sets the headers.
    #[must_use]
    pub fn headers(mut self, headers: &'a [Header]) -> Self {
        self.headers = headers;
        self
    }
    /// Sets the timestamp (ms since the epoch).
    #[must_use]
    pub fn timestamp(mut self, ms: i64) -> Self {
        self.timestamp = Some(ms);
        self
    }
    /// Makes the value null.
    #[must_use]
    pub fn tombstone(mut self) -> Self {
        self.value = None;
        self
    }
    /// An owned copy (what interceptors, which may change a record, are given).
    #[must_use]
    pub fn to_owned_record(&self) -> ProducerRecord {
        ProducerRecord {
            topic: self.topic.to_owned(),
            partition: self.partition,
            key: self.key.map(Bytes::copy_from_slice),
            value: self.value.map(Bytes::copy_from_slice),
            headers: self.headers.to_vec(),
            timestamp: self.timestamp,
        }
    }
}

/// Where a delivered record went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// Partition.
    pub partition: i32,
    /// Offset in the partition; `None` with `acks=0`, and when the broker answered
    /// DUPLICATE_SEQUENCE_NUMBER (it already had the batch; the offset is not told).
    pub offset: Option<i64>,
    /// CreateTime of the record, or the broker's LogAppendTime if the topic uses it.
    pub timestamp: i64,
    /// `false` with `acks=0`: the record was written to the socket, nothing more is known.
    pub acknowledged: bool,
}

/// What a whole batch came to.
#[derive(Debug, Clone)]
pub(crate) enum BatchOutcome {
    Delivered {
        base_offset: Option<i64>,
        log_append_time: i64,
        acknowledged: bool,
    },
    Failed {
        error: DeliveryError,
        /// Per-record messages from INVALID_RECORD answers.
        record_errors: Vec<(i32, Option<String>)>,
    },
    /// The batch was split (MESSAGE_TOO_LARGE): records before `first_len` went with the
    /// first half, the rest with the second.
    Split {
        first_len: i32,
        first: Box<BatchOutcome>,
        second: Box<BatchOutcome>,
    },
    /// The broker rejected the records at these indexes one by one (INVALID_RECORD with
    /// `record_errors`); the others were sent again as a batch of their own, in order.
    Filtered {
        /// The rejected records' error (not persisted); each gets its own message.
        error: DeliveryError,
        /// Ascending indexes with the broker's message for each.
        rejected: Vec<(i32, Option<String>)>,
        /// What the rest came to.
        rest: Box<BatchOutcome>,
    },
}

impl BatchOutcome {
    /// The outcome of the record at `index` of the batch.
    fn resolve(&self, c: &BatchCompletion, index: i32, timestamp: i64) -> Result<RecordMetadata, DeliveryError> {
        let partition = c.partition;
        match self {
            BatchOutcome::Delivered {
                base_offset,
                log_append_time,
                acknowledged,
            } => Ok(RecordMetadata {
                partition,
                offset: base_offset.map(|b| b + i64::from(index)),
                timestamp: if *log_append_time >= 0 {
                    *log_append_time
                } else {
                    timestamp
                },
                acknowledged: *acknowledged,
            }),
            BatchOutcome::Split {
                first_len,
                first,
                second,
            } => {
                if index < *first_len {
                    first.resolve(c, index, timestamp)
                } else {
                    second.resolve(c, index - first_len, timestamp)
                }
            }
            BatchOutcome::Filtered { error, rejected, rest } => match rejected.binary_search_by_key(&index, |r| r.0) {
                Ok(at) => {
                    let mut e = error.for_record(&c.topic, index, c.kept.get());
                    if let crate::Error::Broker { message, .. } = &mut e.error {
                        *message = Some(
                            rejected[at]
                                .1
                                .clone()
                                .unwrap_or_else(|| "this record was rejected".into()),
                        );
                    }
                    Err(e)
                }
                Err(before) => rest.resolve(c, index - i32::try_from(before).unwrap_or(0), timestamp),
            },
            BatchOutcome::Failed { error, record_errors } => {
                let mut e = error.for_record(&c.topic, index, c.kept.get());
                if record_errors.is_empty() {
                    return Err(e);
                }
                let mine = record_errors.iter().find(|(i, _)| *i == index);
                if let crate::Error::Broker { message, .. } = &mut e.error {
                    *message = Some(match mine {
                        Some((_, m)) => m.clone().unwrap_or_else(|| "this record was rejected".into()),
                        None => format!(
                            "the batch was rejected because of record {} of it{}",
                            record_errors[0].0,
                            message.as_ref().map(|m| format!(": {m}")).unwrap_or_default()
                        ),
                    });
                }
                Err(e)
            }
        }
    }
}

/// A batch that failed as possibly persisted is in the log after all: a later batch of the
/// same partition and producer epoch was acknowledged, and the broker appends a producer's
/// batches in sequence order (RELIABILITY.md). Delivered to
/// [`Producer::on_settled`](crate::Producer::on_settled) listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    /// The batch, as its records' [`DeliveryError::batch`] named it.
    pub batch: crate::error::BatchId,
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Records in the batch.
    pub records: i32,
}

/// The completion shared by every record of one batch.
#[derive(Debug)]
pub(crate) struct BatchCompletion {
    pub(crate) partition: i32,
    pub(crate) topic: Arc<str>,
    outcome: OnceLock<BatchOutcome>,
    completed_at: OnceLock<std::time::Instant>,
    waiters: Mutex<Waiters>,
    /// The records of a batch that failed while still queued (kept on the failure path only,
    /// to give not-persisted records back).
    kept: OnceLock<Arc<FailedRecords>>,
    /// `queue.buffering.max.messages`: the record slots this batch's records hold, given
    /// back when it completes (`None` without that limit).
    slots: Option<Arc<tokio::sync::Semaphore>>,
    /// Records appended (counted only with `slots`).
    records: std::sync::atomic::AtomicU32,
}

/// Who waits for a batch: futures being polled, and callbacks or interceptors that run on
/// the producer's callback thread when it completes.
#[derive(Debug, Default)]
struct Waiters {
    wakers: Vec<Waker>,
    listeners: Vec<Listener>,
    dispatcher: Option<Arc<Dispatcher>>,
    done: bool,
}

impl BatchCompletion {
    /// A completion that does not know its topic (unit tests of the sender).
    #[cfg(test)]
    pub(crate) fn new(partition: i32) -> Arc<Self> {
        Self::new_in(Arc::from(""), partition)
    }

    /// The completion of a new batch of `topic`'s `partition` (unit tests).
    #[cfg(test)]
    pub(crate) fn new_in(topic: Arc<str>, partition: i32) -> Arc<Self> {
        Self::with_slots(topic, partition, None)
    }

    /// [`Self::new_in`] whose records hold `slots` (`queue.buffering.max.messages`) until it
    /// completes.
    pub(crate) fn with_slots(topic: Arc<str>, partition: i32, slots: Option<Arc<tokio::sync::Semaphore>>) -> Arc<Self> {
        Arc::new(Self {
            partition,
            topic,
            outcome: OnceLock::new(),
            completed_at: OnceLock::new(),
            waiters: Mutex::new(Waiters::default()),
            kept: OnceLock::new(),
            slots,
            records: std::sync::atomic::AtomicU32::new(0),
        })
    }

    /// One more record holds a slot (called under the partition's lock, before the batch
    /// can complete).
    pub(crate) fn hold_slot(&self) {
        if self.slots.is_some() {
            self.records.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
    }

    /// Keeps the bytes of a batch that fails before it was sealed (see [`Self::kept`]).
    pub(crate) fn keep_records(&self, bytes: Bytes) {
        let _ = self.kept.set(Arc::new(FailedRecords::new(bytes)));
    }

    /// Completes the batch once; later calls are ignored (exactly one outcome).
    pub(crate) fn complete(&self, outcome: BatchOutcome) -> bool {
        let _ = self.completed_at.set(std::time::Instant::now());
        let first = self.outcome.set(outcome).is_ok();
        if let (true, Some(slots)) = (first, &self.slots) {
            let n = self.records.swap(0, std::sync::atomic::Ordering::AcqRel);
            slots.add_permits(n as usize);
        }
        let (wakers, listeners, dispatcher) = {
            let mut w = self.waiters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            w.done = true;
            (
                std::mem::take(&mut w.wakers),
                std::mem::take(&mut w.listeners),
                w.dispatcher.take(),
            )
        };
        for w in wakers {
            w.wake();
        }
        if let Some(d) = dispatcher {
            d.dispatch(listeners);
        }
        first
    }

    /// Runs `listener` on `dispatcher`'s thread once the batch has an outcome (at once if it
    /// has one already). Batches are handed to the dispatcher in the order they complete.
    pub(crate) fn listen(&self, listener: Listener, dispatcher: &Arc<Dispatcher>) {
        let mut w = self.waiters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if w.done {
            drop(w);
            dispatcher.dispatch(vec![listener]);
            return;
        }
        if w.dispatcher.is_none() {
            w.dispatcher = Some(Arc::clone(dispatcher));
        }
        w.listeners.push(listener);
    }

    fn poll_outcome(&self, cx: &mut Context<'_>) -> Poll<&BatchOutcome> {
        if let Some(o) = self.outcome.get() {
            return Poll::Ready(o);
        }
        let mut w = self.waiters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Checked again under the lock: `complete` stores before it takes the wakers.
        if let Some(o) = self.outcome.get() {
            return Poll::Ready(o);
        }
        if !w.wakers.iter().any(|x| x.will_wake(cx.waker())) {
            w.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Waits for the batch (used by `flush`).
    pub(crate) async fn wait(self: &Arc<Self>) {
        std::future::poll_fn(|cx| self.poll_outcome(cx).map(|_| ())).await;
    }
}

/// Resolves to the record's [`RecordMetadata`] once its batch has an outcome.
///
/// **Dropping it does not cancel the delivery.** The record is already queued when `send`
/// returns the future; it is sent, retried and acknowledged whether or not anyone awaits
/// it, and a dropped future only means that nobody looks at the outcome (which
/// [`Producer::flush`](crate::Producer::flush) and
/// [`Producer::close`](crate::Producer::close) still wait for). A record cannot be taken
/// back once queued; to stop sending, close the producer.
///
/// The future is cheap (a shared reference to its batch's completion, no channel per
/// record) and can be awaited from any task or runtime, or waited on from plain threads
/// with [`crate::blocking::DeliveryHandle`].
#[derive(Debug)]
#[must_use = "a delivery future tells whether the record was delivered"]
pub struct DeliveryFuture {
    batch: Arc<BatchCompletion>,
    index: i32,
    timestamp: i64,
    origin: Origin,
}

/// What a not-persisted failure gives back that the batch's bytes do not say.
#[derive(Debug, Clone, Default)]
pub(crate) struct Origin {
    /// The caller set the partition (rather than the partitioner).
    pub(crate) explicit: bool,
    /// The record as the caller gave it to `send`, kept when interceptors ran: their
    /// `on_send` may have changed what was appended (added headers, say), and a resend
    /// passes through `on_send` again.
    pub(crate) original: Option<Arc<ProducerRecord>>,
}

impl Origin {
    /// Gives the caller's record back in a failure: the original (with the timestamp the
    /// send used if it had none), or the decoded one with the explicit partition set again.
    fn give_back(&self, mut e: DeliveryError, partition: i32, timestamp: i64) -> DeliveryError {
        if e.persistence != crate::Persistence::NotPersisted {
            return e;
        }
        if let Some(original) = &self.original {
            let mut r = ProducerRecord::clone(original);
            r.timestamp = r.timestamp.or(Some(timestamp));
            e.set_record(r);
        } else if let Some(r) = e.record_mut().filter(|_| self.explicit) {
            r.partition = Some(partition);
        }
        e
    }
}

impl DeliveryFuture {
    pub(crate) fn new(batch: Arc<BatchCompletion>, index: i32, timestamp: i64) -> Self {
        Self {
            batch,
            index,
            timestamp,
            origin: Origin::default(),
        }
    }

    /// Sets what a not-persisted failure gives back besides the batch's bytes.
    pub(crate) fn with_origin(mut self, origin: Origin) -> Self {
        self.origin = origin;
        self
    }

    /// The outcome of this record in its batch's `outcome`.
    fn resolve(&self, outcome: &BatchOutcome) -> Result<RecordMetadata, DeliveryError> {
        outcome
            .resolve(&self.batch, self.index, self.timestamp)
            .map_err(|e| self.origin.give_back(e, self.batch.partition, self.timestamp))
    }

    /// The partition the record was assigned to.
    #[must_use]
    pub fn partition(&self) -> i32 {
        self.batch.partition
    }

    /// The topic the record was sent to.
    #[must_use]
    pub fn topic(&self) -> &str {
        &self.batch.topic
    }

    /// Whether the record's outcome is known (awaiting the future then returns at once).
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.batch.outcome.get().is_some()
    }

    /// The outcome, if it is known, without waiting.
    #[must_use]
    pub fn try_result(&self) -> Option<Result<RecordMetadata, DeliveryError>> {
        let o = self.batch.outcome.get()?;
        Some(self.resolve(o))
    }

    /// The record's index in its batch.
    pub(crate) fn index(&self) -> i32 {
        self.index
    }

    /// A second future for the same record (for a callback beside the caller's future).
    pub(crate) fn share(&self) -> Self {
        Self::new(Arc::clone(&self.batch), self.index, self.timestamp).with_origin(self.origin.clone())
    }

    /// Registers `listener` with the record's batch (see [`BatchCompletion::listen`]).
    pub(crate) fn listen(&self, listener: Listener, dispatcher: &Arc<Dispatcher>) {
        self.batch.listen(listener, dispatcher);
    }

    /// When the record's outcome became known (the broker's answer was handled), or `None`
    /// while it is pending: lets a caller measure send-to-acknowledgement latency exactly
    /// without awaiting every record as it completes.
    #[must_use]
    pub fn completed_at(&self) -> Option<std::time::Instant> {
        self.batch.completed_at.get().copied()
    }
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata, DeliveryError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.batch.poll_outcome(cx).map(|o| this.resolve(o))
    }
}
