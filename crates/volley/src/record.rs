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

use crate::error::DeliveryError;

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
}

impl BatchOutcome {
    /// The outcome of the record at `index` of the batch.
    fn resolve(&self, partition: i32, index: i32, timestamp: i64) -> Result<RecordMetadata, DeliveryError> {
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
                    first.resolve(partition, index, timestamp)
                } else {
                    second.resolve(partition, index - first_len, timestamp)
                }
            }
            BatchOutcome::Failed { error, record_errors } => {
                if record_errors.is_empty() {
                    return Err(error.clone());
                }
                let mine = record_errors.iter().find(|(i, _)| *i == index);
                let mut e = error.clone();
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
    outcome: OnceLock<BatchOutcome>,
    completed_at: OnceLock<std::time::Instant>,
    wakers: Mutex<Vec<Waker>>,
}

impl BatchCompletion {
    pub(crate) fn new(partition: i32) -> Arc<Self> {
        Arc::new(Self {
            partition,
            outcome: OnceLock::new(),
            completed_at: OnceLock::new(),
            wakers: Mutex::new(Vec::new()),
        })
    }

    /// Completes the batch once; later calls are ignored (exactly one outcome).
    pub(crate) fn complete(&self, outcome: BatchOutcome) -> bool {
        let _ = self.completed_at.set(std::time::Instant::now());
        let first = self.outcome.set(outcome).is_ok();
        let wakers = std::mem::take(&mut *self.wakers.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        for w in wakers {
            w.wake();
        }
        first
    }

    fn poll_outcome(&self, cx: &mut Context<'_>) -> Poll<&BatchOutcome> {
        if let Some(o) = self.outcome.get() {
            return Poll::Ready(o);
        }
        let mut w = self.wakers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Checked again under the lock: `complete` stores before it takes the wakers.
        if let Some(o) = self.outcome.get() {
            return Poll::Ready(o);
        }
        if !w.iter().any(|x| x.will_wake(cx.waker())) {
            w.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Waits for the batch (used by `flush`).
    pub(crate) async fn wait(self: &Arc<Self>) {
        std::future::poll_fn(|cx| self.poll_outcome(cx).map(|_| ())).await;
    }
}

/// Resolves to the record's [`RecordMetadata`] once its batch has an outcome.
#[derive(Debug)]
#[must_use = "a delivery future tells whether the record was delivered"]
pub struct DeliveryFuture {
    batch: Arc<BatchCompletion>,
    index: i32,
    timestamp: i64,
}

impl DeliveryFuture {
    pub(crate) fn new(batch: Arc<BatchCompletion>, index: i32, timestamp: i64) -> Self {
        Self {
            batch,
            index,
            timestamp,
        }
    }

    /// The partition the record was assigned to.
    #[must_use]
    pub fn partition(&self) -> i32 {
        self.batch.partition
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
        this.batch
            .poll_outcome(cx)
            .map(|o| o.resolve(this.batch.partition, this.index, this.timestamp))
    }
}
