//! Typed errors of the producer.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use volley_protocol::ErrorCode;

use crate::record::ProducerRecord;

pub use crate::config::ConfigError;

/// Everything that can go wrong in Volley.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A record is larger than a configured limit; it was never queued.
    #[error("the record is {size} bytes when serialized, which is larger than {limit} bytes, the value of {setting}")]
    RecordTooLarge {
        /// Bytes the record takes in a batch of its own.
        size: usize,
        /// The limit.
        limit: usize,
        /// `max.request.size` or `buffer.memory`.
        setting: &'static str,
    },
    /// `send` waited `max.block.ms` for room in `buffer.memory`.
    #[error("no room in buffer.memory ({buffer_memory} bytes) for a record of {size} bytes after waiting max.block.ms ({} ms)", waited.as_millis())]
    BufferFull {
        /// Record size.
        size: usize,
        /// The budget.
        buffer_memory: usize,
        /// How long `send` waited.
        waited: Duration,
    },
    /// `queue.buffering.max.messages` records were queued or in flight and none completed
    /// within `max.block.ms` (at once for a send that may not wait).
    #[error("the producer queue holds queue.buffering.max.messages ({records}) records; none completed within {} ms", waited.as_millis())]
    QueueFull {
        /// The limit.
        records: usize,
        /// How long `send` waited.
        waited: Duration,
    },
    /// The topic did not appear in the cluster metadata within `max.block.ms`.
    #[error("topic '{topic}' not present in metadata after {} ms{}", waited.as_millis(), cause.as_ref().map(|c| format!(": {c}")).unwrap_or_default())]
    TopicNotAvailable {
        /// The topic.
        topic: String,
        /// How long `send` waited.
        waited: Duration,
        /// The last error seen (connection failure, broker error).
        cause: Option<String>,
    },
    /// An explicit partition does not exist.
    #[error("partition {partition} of topic '{topic}' does not exist (the topic has {count} partitions)")]
    UnknownPartition {
        /// Topic.
        topic: String,
        /// Requested partition.
        partition: i32,
        /// Partitions known.
        count: usize,
    },
    /// The topic name cannot be a Kafka topic.
    #[error("invalid topic name '{topic}': {reason}")]
    InvalidTopic {
        /// The name.
        topic: String,
        /// Why.
        reason: &'static str,
    },
    /// A broker rejected the records.
    #[error("broker error {code}{}", message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Broker {
        /// Kafka error code.
        code: ErrorCode,
        /// The broker's message, if it sent one.
        message: Option<String>,
    },
    /// The record did not get an answer within `delivery.timeout.ms`.
    #[error("delivery timed out after {} ms (delivery.timeout.ms){}", timeout.as_millis(), last.as_ref().map(|c| format!("; last error: {c}")).unwrap_or_default())]
    DeliveryTimeout {
        /// The configured timeout.
        timeout: Duration,
        /// The last retriable error seen, if any.
        last: Option<String>,
    },
    /// The retry budget (`retries`) is spent.
    #[error("gave up after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// The last error.
        last: String,
    },
    /// Connecting or talking to a broker failed.
    #[error("connection to {broker} failed: {detail}")]
    Connection {
        /// `host:port`.
        broker: String,
        /// What happened.
        detail: String,
    },
    /// TLS with a broker failed for a reason the user must fix (unknown CA, name mismatch,
    /// expired certificate, a client certificate the broker requires, TLS against a
    /// plaintext listener or the reverse). Fatal for the sends waiting on the connection.
    #[error("TLS with {broker} failed: {reason}")]
    Tls {
        /// `host:port`.
        broker: String,
        /// What is wrong and what to set.
        reason: String,
    },
    /// SASL authentication with a broker failed (wrong password, unknown user, mechanism not
    /// enabled); the broker's message is quoted. Fatal, as in Java.
    #[error("SASL authentication with {broker} failed ({mechanism}): {reason}")]
    Authentication {
        /// `host:port`.
        broker: String,
        /// The mechanism tried.
        mechanism: String,
        /// The broker's message or what went wrong.
        reason: String,
    },
    /// The broker sent something Volley cannot understand.
    #[error("protocol error from {broker}: {detail}")]
    Protocol {
        /// `host:port`.
        broker: String,
        /// What was wrong.
        detail: String,
    },
    /// The producer is closed (or was closed before the record was delivered).
    #[error("the producer is closed{}", detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Closed {
        /// Why the record could not be delivered, if it was pending.
        detail: Option<String>,
    },
    /// `try_send` found no room.
    #[error("no room in buffer.memory for a record of {size} bytes (try_send does not wait)")]
    WouldBlock {
        /// Record size.
        size: usize,
    },
    /// Serializing a key or value failed.
    #[error("serialization failed: {0}")]
    Serialization(String),
    /// The idempotent producer could not get a producer id.
    #[error("cannot initialize the idempotent producer: {0}")]
    ProducerId(String),
    /// The producer epoch changed while this batch might have been written; it was not sent
    /// again under the new epoch, because the broker could not recognise it as a duplicate.
    #[error("the producer epoch changed while this record's batch might already have been written; it was not resent to avoid a duplicate (last error: {last})")]
    EpochChanged {
        /// The error that preceded the change.
        last: String,
    },
    /// The broker reported a sequence gap at the head of a partition: it lost records it
    /// had acknowledged, or forgot this producer.
    #[error("sequence gap on {topic}-{partition}: the broker answered {code} for the oldest unacknowledged batch, so it lost acknowledged records or forgot this producer (possible data loss)")]
    SequenceGap {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID.
        code: ErrorCode,
    },
    /// The producer stopped after a fatal error (for example a sequence gap with
    /// `enable.gapless.guarantee=true`); every later send fails with it.
    #[error("the producer stopped after a fatal error: {0}")]
    Fatal(String),
    /// A transactional call failed (see [`TransactionError`]: abortable, fatal, or made in
    /// the wrong state).
    #[error(transparent)]
    Transaction(#[from] TransactionError),
    /// Something failed that should not be able to.
    #[error("internal error: {0}")]
    Internal(String),
    /// [`Producer::new`](crate::Producer::new) was called outside a tokio runtime.
    #[error("Producer::new needs a tokio runtime: call it inside one (#[tokio::main], Runtime::block_on or Handle::enter), or use volley::blocking::Producer, which runs its own")]
    NoRuntime,
    /// A blocking call could not be made: the blocking producer's runtime did not start, or
    /// the call came from a thread it would deadlock (the producer's own I/O thread, where
    /// [`Producer::on_settled`](crate::Producer::on_settled) listeners run).
    #[error("blocking call refused: {0}")]
    Blocking(String),
    /// A wait ran out of time: a blocking `flush(timeout)` or `wait_timeout`, or a
    /// transactional call after `max.block.ms` (which goes on: calling it again waits for
    /// the same operation).
    #[error("timed out after {} ms waiting for {what}", waited.as_millis())]
    TimedOut {
        /// What was waited for.
        what: &'static str,
        /// How long.
        waited: Duration,
    },
}

/// How bad a transactional failure is, as the Java producer ranks them (KIP-588).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransactionErrorKind {
    /// The current transaction cannot commit; `abort_transaction` works, and the next
    /// transaction starts clean.
    Abortable,
    /// The producer can only be closed: another producer with the same `transactional.id`
    /// fenced it, it is not authorized, or the broker is too old.
    Fatal,
    /// The call does not fit the transaction's state (`send` before `begin_transaction`,
    /// `commit_transaction` twice, another call still in progress). Nothing was sent.
    InvalidState,
}

/// A transactional call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} transaction error{}: {detail}", match kind { TransactionErrorKind::Abortable => "abortable", TransactionErrorKind::Fatal => "fatal", TransactionErrorKind::InvalidState => "invalid-state" }, code.map(|c| format!(" {c}")).unwrap_or_default())]
pub struct TransactionError {
    /// Abortable, fatal, or a call in the wrong state.
    pub kind: TransactionErrorKind,
    /// The broker's error code behind it, if a broker answered one (for example
    /// `PRODUCER_FENCED` when another producer took over the transactional id).
    pub code: Option<ErrorCode>,
    /// What happened, naming the request that failed.
    pub detail: String,
}

impl TransactionError {
    /// An error of `kind` with an optional broker code.
    #[must_use]
    pub fn new(kind: TransactionErrorKind, code: Option<ErrorCode>, detail: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            detail: detail.into(),
        }
    }

    /// A call made in the wrong state.
    #[must_use]
    pub fn invalid_state(detail: impl Into<String>) -> Self {
        Self::new(TransactionErrorKind::InvalidState, None, detail)
    }

    /// What a record still queued gets when the application aborts the transaction (Java's
    /// `TransactionAbortedException`): abortable, no broker code; the producer goes on.
    #[must_use]
    pub fn aborted_before_sent() -> Self {
        Self::new(TransactionErrorKind::Abortable, None, ABORTED_BEFORE_SENT)
    }

    /// Whether this is [`TransactionError::aborted_before_sent`]: the application aborted,
    /// no error caused it.
    #[must_use]
    pub fn is_aborted_before_sent(&self) -> bool {
        self.kind == TransactionErrorKind::Abortable && self.code.is_none() && self.detail == ABORTED_BEFORE_SENT
    }
}

/// The detail of [`TransactionError::aborted_before_sent`].
const ABORTED_BEFORE_SENT: &str = "the transaction was aborted before the record was sent";

impl Error {
    /// Whether this is a TLS or SASL authentication failure: retrying with the same
    /// settings cannot succeed, so the producer stops (see [`Error::Fatal`]).
    #[must_use]
    pub fn is_authentication(&self) -> bool {
        matches!(self, Error::Tls { .. } | Error::Authentication { .. })
    }
}

/// Whether a record that failed might be in the log anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// Certainly not written: the application may send it again.
    NotPersisted,
    /// Gave up after an uncertain failure (timeout, lost connection after writing): the
    /// record may be in the log once.
    PossiblyPersisted,
}

/// Names a batch that failed as possibly persisted, so that a later
/// [`Settled`](crate::record::Settled) event can say it is persisted after all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BatchId(pub u64);

/// Why one record was not delivered, and whether it may be in the log.
///
/// A [`Persistence::NotPersisted`] failure gives the record back ([`DeliveryError::record`],
/// [`DeliveryError::into_record`]), so that it can be sent again without the caller keeping
/// a copy. The record is decoded from the failed batch's bytes only when the failure is
/// resolved: without interceptors a successful send keeps no copy of it (with them, the
/// caller's record is kept until the outcome; see [`DeliveryError::record`]).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} ({})", error, match persistence { Persistence::NotPersisted => "not persisted", Persistence::PossiblyPersisted => "possibly persisted" })]
pub struct DeliveryError {
    /// Not or possibly persisted.
    pub persistence: Persistence,
    /// The cause.
    pub error: Error,
    /// For a possibly-persisted failure: the batch, as a later
    /// [`Settled`](crate::record::Settled) event names it if a later acknowledgement proves
    /// it persisted (see [`Producer::on_settled`](crate::Producer::on_settled)).
    pub batch: Option<BatchId>,
    /// The record, for a not-persisted failure.
    record: Option<Box<ProducerRecord>>,
    /// The failed batch's bytes (one batch, shared by its records' errors until each is
    /// resolved into its own record).
    pub(crate) records: Option<Arc<FailedRecords>>,
}

impl DeliveryError {
    /// A certainly-not-written failure.
    #[must_use]
    pub fn not_persisted(error: Error) -> Self {
        Self {
            persistence: Persistence::NotPersisted,
            error,
            batch: None,
            record: None,
            records: None,
        }
    }
    /// An uncertain failure.
    #[must_use]
    pub fn possibly_persisted(error: Error) -> Self {
        Self {
            persistence: Persistence::PossiblyPersisted,
            error,
            batch: None,
            record: None,
            records: None,
        }
    }

    /// The record that was not persisted (it may be sent again), if this failure is
    /// [`Persistence::NotPersisted`] and the record could be recovered.
    ///
    /// The record comes back as the caller gave it to `send`: key, value, headers, the
    /// explicit partition if the caller set one (`None` if the partitioner chose: a keyed
    /// record hashes to the same partition again, a keyless one goes where the partitioner
    /// now puts it), and the timestamp the send used (the caller's, or the time it was
    /// queued). With [interceptors](crate::interceptor) it is the record before their
    /// `on_send`, not what they made of it: sending it again passes through `on_send` again,
    /// so a header an interceptor adds is not doubled. (For that the producer keeps the
    /// caller's record until the outcome is known, with interceptors only; without them the
    /// record is decoded from the failed batch's bytes.)
    #[must_use]
    pub fn record(&self) -> Option<&ProducerRecord> {
        self.record.as_deref()
    }

    /// The record given back, to complete what the batch's bytes do not say.
    pub(crate) fn record_mut(&mut self) -> Option<&mut ProducerRecord> {
        self.record.as_deref_mut()
    }

    /// Gives `record` back instead of the one decoded from the batch (not-persisted only).
    pub(crate) fn set_record(&mut self, record: ProducerRecord) {
        if self.persistence == Persistence::NotPersisted {
            self.record = Some(Box::new(record));
        }
    }

    /// The record that was not persisted, taken out of the error.
    #[must_use]
    pub fn into_record(self) -> Option<ProducerRecord> {
        self.record.map(|r| *r)
    }

    /// Attaches the record (a send that failed before it was queued).
    #[must_use]
    pub(crate) fn with_record(mut self, record: ProducerRecord) -> Self {
        if self.persistence == Persistence::NotPersisted {
            self.record = Some(Box::new(record));
        }
        self
    }

    /// Attaches the bytes of a sealed batch that was certainly not written, for its records
    /// to be given back (the failure path only: a sent batch keeps no copy otherwise).
    #[must_use]
    pub(crate) fn with_batch_bytes(mut self, bytes: &bytes::Bytes) -> Self {
        if self.persistence == Persistence::NotPersisted {
            self.records = Some(Arc::new(FailedRecords::new(bytes.clone())));
        }
        self
    }

    /// The error for the record at `index` of a failed batch of `topic`: its record decoded
    /// from the batch's bytes (once per batch) when it was not persisted.
    pub(crate) fn for_record(&self, topic: &str, index: i32, kept: Option<&Arc<FailedRecords>>) -> Self {
        let mut e = self.clone();
        let batch = e.records.take();
        if e.persistence == Persistence::NotPersisted && e.record.is_none() {
            e.record = batch
                .as_ref()
                .or(kept)
                .and_then(|b| b.record(topic, index))
                .map(Box::new);
        }
        e
    }
}

impl From<SendError> for DeliveryError {
    /// A send that failed before the record was queued: certainly not persisted, with the
    /// record.
    fn from(e: SendError) -> Self {
        let SendError { error, record } = e;
        DeliveryError::not_persisted(error).with_record(*record)
    }
}

/// The records of a batch that failed before it could be written, kept as the batch's bytes
/// and decoded (once) only when a record's failure is resolved.
#[derive(Debug)]
pub(crate) struct FailedRecords {
    bytes: bytes::Bytes,
    decoded: OnceLock<Vec<volley_protocol::record_batch::DecodedRecord>>,
}

impl FailedRecords {
    pub(crate) fn new(bytes: bytes::Bytes) -> Self {
        Self {
            bytes,
            decoded: OnceLock::new(),
        }
    }

    /// The record at `index`, or `None` if the bytes do not decode (they were made by this
    /// producer, so that would be a bug, logged).
    fn record(&self, topic: &str, index: i32) -> Option<ProducerRecord> {
        let records = self.decoded.get_or_init(|| {
            match volley_protocol::record_batch::decode_batches(self.bytes.clone(), usize::MAX >> 1) {
                Ok(batches) => batches.into_iter().flat_map(|b| b.records).collect(),
                Err(e) => {
                    tracing::error!(error = %e, "cannot decode a failed batch to give its records back");
                    Vec::new()
                }
            }
        });
        let r = records.get(usize::try_from(index).ok()?)?;
        Some(ProducerRecord {
            topic: topic.to_owned(),
            partition: None,
            key: r.key.clone(),
            value: r.value.clone(),
            headers: r.headers.clone(),
            timestamp: Some(r.timestamp),
        })
    }
}

/// A `send` that failed before the record was queued: the cause and the record, which is
/// given back so that it can be sent again or logged (nothing of it was queued).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{error}")]
pub struct SendError {
    /// Why the record was not queued.
    pub error: Error,
    /// The record, as the caller gave it to `send`: before interceptors' `on_send`, which a
    /// resend passes through again (see [`DeliveryError::record`]).
    pub record: Box<ProducerRecord>,
}

impl SendError {
    pub(crate) fn new(error: Error, record: ProducerRecord) -> Self {
        Self {
            error,
            record: Box::new(record),
        }
    }

    /// The record, taken back.
    #[must_use]
    pub fn into_record(self) -> ProducerRecord {
        *self.record
    }

    /// The cause and the record.
    #[must_use]
    pub fn into_parts(self) -> (Error, ProducerRecord) {
        (self.error, *self.record)
    }
}

impl From<SendError> for Error {
    /// Keeps the cause, drops the record.
    fn from(e: SendError) -> Self {
        e.error
    }
}
