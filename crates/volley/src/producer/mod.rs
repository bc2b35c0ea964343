//! The producer handle: `send`, `try_send`, `flush`, `close`; by concern beside it:
//! metadata waits and introspection ([`wait`]), callbacks ([`callback`]), typed producing
//! ([`typed`]).

pub(crate) mod callback;
mod reserve;
pub(crate) mod stats;
pub(crate) mod transactions;
pub(crate) mod typed;
pub(crate) mod wait;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot, watch, Notify, Semaphore};
use tokio::task::JoinHandle;
use volley_protocol::record_batch::single_record_batch_size;

use crate::accumulator::Accumulator;
use crate::config::ProducerConfig;
use crate::error::{DeliveryError, Error, SendError};
use crate::interceptor::{Acknowledgement, Interceptor, Interceptors};
use crate::metadata::Cluster;
use crate::partitioner::{BuiltinPartitioner, Partitioner};
use crate::record::{BatchOutcome, DeliveryFuture, Origin, ProducerRecord, RecordRef};
use crate::sender::{Command, Sender, Shared};

use self::callback::{Attach, Callback, Dispatcher};

/// A Kafka producer. Cheap to share behind an `Arc`; every method takes `&self`.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use volley::{Producer, ProducerConfig, ProducerRecord};
/// let config = ProducerConfig::from_properties([("bootstrap.servers", "127.0.0.1:9092")])?;
/// let producer = Producer::new(config)?;
/// let delivery = producer.send(ProducerRecord::new("clicks", "hello").key("user-1")).await?;
/// let meta = delivery.await?;
/// println!("partition {} offset {:?}", meta.partition, meta.offset);
/// producer.close(std::time::Duration::from_secs(5)).await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Producer {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
    cluster: watch::Receiver<Arc<Cluster>>,
    partitioner: Arc<dyn Partitioner>,
    sender: Mutex<Option<JoinHandle<()>>>,
    interceptors: Option<Arc<Interceptors>>,
    dispatcher: OnceLock<Arc<Dispatcher>>,
}

/// Builds a [`Producer`] (or a [`TypedProducer`](crate::TypedProducer)) with a custom
/// partitioner and interceptors.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use volley::{JsonSerializer, Producer, ProducerConfig, StringSerializer};
/// let config = ProducerConfig::builder().bootstrap_servers("127.0.0.1:9092").build()?;
/// let producer = Producer::builder(config)
///     .typed::<str, serde_json::Value>(StringSerializer, JsonSerializer)?;
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct ProducerBuilder {
    config: ProducerConfig,
    partitioner: Option<Arc<dyn Partitioner>>,
    interceptors: Vec<Arc<dyn Interceptor>>,
    statistics: Option<stats::StatisticsCallback>,
}

impl std::fmt::Debug for ProducerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProducerBuilder")
            .field("config", &self.config)
            .field("custom_partitioner", &self.partitioner.is_some())
            .field("interceptors", &self.interceptors.len())
            .finish()
    }
}

impl ProducerBuilder {
    /// A custom partitioner instead of the one `partitioner` names.
    #[must_use]
    pub fn partitioner(mut self, partitioner: Arc<dyn Partitioner>) -> Self {
        self.partitioner = Some(partitioner);
        self
    }

    /// Adds an interceptor; they run in the order they were added (see
    /// [`crate::interceptor`]).
    #[must_use]
    pub fn interceptor(mut self, interceptor: impl Interceptor + 'static) -> Self {
        self.interceptors.push(Arc::new(interceptor));
        self
    }

    /// Starts the producer (within a tokio runtime).
    ///
    /// # Errors
    /// [`Error::NoRuntime`] outside a tokio runtime.
    pub fn build(self) -> Result<Producer, Error> {
        let partitioner = self.partitioner.unwrap_or_else(|| {
            Arc::new(BuiltinPartitioner::new(
                self.config.partitioner,
                self.config.partitioner_ignore_keys,
            ))
        });
        let interval = self.config.statistics_interval;
        let mut p = Producer::with_partitioner(self.config, partitioner)?;
        if !self.interceptors.is_empty() {
            p.interceptors = Some(Arc::new(Interceptors(self.interceptors)));
        }
        if let (Some(f), Some(every)) = (self.statistics, interval) {
            p.spawn_statistics(every, f);
        }
        Ok(p)
    }

    /// Receives a statistics document (librdkafka's STATISTICS.md shape, JSON text) every
    /// `statistics.interval.ms`; nothing is emitted while that is 0 (the default).
    #[must_use]
    pub fn on_statistics(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.statistics = Some(Arc::new(f));
        self
    }

    /// Starts a producer with a key and a value serializer wired in.
    ///
    /// # Errors
    /// As [`ProducerBuilder::build`].
    pub fn typed<K: ?Sized, V: ?Sized>(
        self,
        key: impl crate::Serializer<K> + Send + Sync + 'static,
        value: impl crate::Serializer<V> + Send + Sync + 'static,
    ) -> Result<crate::TypedProducer<K, V>, Error> {
        Ok(crate::TypedProducer::new(self.build()?, key, value))
    }

    /// Starts a [`crate::blocking::Producer`] (any thread, no runtime needed).
    ///
    /// # Errors
    /// As [`crate::blocking::Producer::new`].
    pub fn build_blocking(self) -> Result<crate::blocking::Producer, Error> {
        crate::blocking::Producer::from_builder(self)
    }

    /// Starts a [`crate::blocking::TypedProducer`]: a blocking producer with a key and a
    /// value serializer wired in.
    ///
    /// # Errors
    /// As [`ProducerBuilder::build_blocking`].
    pub fn typed_blocking<K: ?Sized, V: ?Sized>(
        self,
        key: impl crate::Serializer<K> + Send + Sync + 'static,
        value: impl crate::Serializer<V> + Send + Sync + 'static,
    ) -> Result<crate::blocking::TypedProducer<K, V>, Error> {
        Ok(crate::blocking::TypedProducer::new(self.build_blocking()?, key, value))
    }
}

/// Kafka's rules for topic names.
fn validate_topic(topic: &str) -> Result<(), Error> {
    let bad = |reason| {
        Err(Error::InvalidTopic {
            topic: topic.to_owned(),
            reason,
        })
    };
    if topic.is_empty() {
        return bad("it is empty");
    }
    if topic == "." || topic == ".." {
        return bad("'.' and '..' are not allowed");
    }
    if topic.len() > 249 {
        return bad("it is longer than 249 characters");
    }
    if !topic
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return bad("only ASCII letters, digits, '.', '_' and '-' are allowed");
    }
    Ok(())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Producer {
    /// Starts a producer with the built-in partitioner the config names. Must be called
    /// within a tokio runtime (its sender task is spawned there); nothing is sent over the
    /// network until the first `send`. Programs without async use
    /// [`crate::blocking::Producer`].
    ///
    /// # Errors
    /// [`Error::NoRuntime`] outside a tokio runtime (never a panic).
    pub fn new(config: ProducerConfig) -> Result<Self, Error> {
        let p = Arc::new(BuiltinPartitioner::new(
            config.partitioner,
            config.partitioner_ignore_keys,
        ));
        Self::with_partitioner(config, p)
    }

    /// Starts a producer with a custom partitioner.
    ///
    /// # Errors
    /// As [`Producer::new`].
    pub fn with_partitioner(config: ProducerConfig, partitioner: Arc<dyn Partitioner>) -> Result<Self, Error> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let batch_size = config.batch_size.min(config.max_request_size);
        let shared = Arc::new(Shared {
            accumulator: Accumulator::new(
                batch_size,
                config.linger,
                config.compression != volley_protocol::compression::Compression::None,
                config.max_request_size,
            )
            .with_record_limits(config.batch_num_messages, config.queue_buffering_max_messages),
            cluster: arc_swap::ArcSwap::from_pointee(Cluster::default()),
            wake: Notify::new(),
            memory: Semaphore::new(config.buffer_memory.min(Semaphore::MAX_PERMITS)),
            flushing: 0.into(),
            closing: false.into(),
            fatal: std::sync::OnceLock::new(),
            sequence_gaps: 0.into(),
            settled: 0.into(),
            settle_listeners: std::sync::RwLock::new(Vec::new()),
            metrics: crate::metrics::Metrics::new(
                crate::metrics::Window {
                    length: config.metrics_window.0,
                    samples: config.metrics_window.1,
                },
                config.statistics_interval.is_some(),
            ),
            client_name: if config.client_id.is_empty() {
                // Java names a producer without client.id producer-1, producer-2, ...
                static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
                format!("producer-{}", N.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
            } else {
                config.client_id.clone()
            },
            txn: config.transactional_id.as_ref().map(|id| {
                std::sync::Mutex::new(crate::sender::transaction::TransactionManager::new(
                    id.clone(),
                    std::time::Instant::now(),
                    (config.retry_backoff, config.retry_backoff_max),
                ))
            }),
            txn_changed: Notify::new(),
            config,
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let (cluster_tx, cluster_rx) = watch::channel(Arc::new(Cluster::default()));
        let sender = Sender::new(Arc::clone(&shared), rx, cluster_tx);
        let handle = runtime.spawn(sender.run());
        Ok(Self {
            shared,
            commands: tx,
            cluster: cluster_rx,
            partitioner,
            sender: Mutex::new(Some(handle)),
            interceptors: None,
            dispatcher: OnceLock::new(),
        })
    }

    /// The producer's metrics now, under the Java producer's names (`producer-metrics`,
    /// `producer-topic-metrics`, `producer-node-metrics`; see [`MetricsSnapshot`]).
    ///
    /// [`MetricsSnapshot`]: crate::metrics::MetricsSnapshot
    #[must_use]
    pub fn metrics(&self) -> crate::metrics::MetricsSnapshot {
        self.metrics_handle().snapshot()
    }

    /// A handle that takes [`Producer::metrics`] snapshots without the producer (for an
    /// exporter task, say); it keeps the metrics, not the producer, alive.
    #[must_use]
    pub fn metrics_handle(&self) -> MetricsHandle {
        MetricsHandle(Arc::clone(&self.shared))
    }
}

/// Takes snapshots of one producer's metrics; see [`Producer::metrics_handle`].
#[derive(Debug, Clone)]
pub struct MetricsHandle(Arc<Shared>);

impl MetricsHandle {
    /// The metrics now.
    #[must_use]
    pub fn snapshot(&self) -> crate::metrics::MetricsSnapshot {
        let s = &self.0;
        let gauges = crate::metrics::Gauges {
            buffer_total: s.config.buffer_memory,
            buffer_available: s.memory.available_permits(),
            sequence_gaps: s.sequence_gaps.load(std::sync::atomic::Ordering::Relaxed),
        };
        s.metrics.snapshot(&s.client_name, &gauges, Instant::now())
    }
}

impl Producer {
    /// A builder: custom partitioner, interceptors, typed or blocking producers.
    #[must_use]
    pub fn builder(config: ProducerConfig) -> ProducerBuilder {
        ProducerBuilder {
            config,
            ..ProducerBuilder::default()
        }
    }

    /// The configuration in force.
    #[must_use]
    pub fn config(&self) -> &ProducerConfig {
        &self.shared.config
    }

    /// Queues a record. Waits (at most `max.block.ms` in all) for the topic's metadata and
    /// for room in `buffer.memory`; returns a [`DeliveryFuture`] that resolves when the
    /// record's batch has an outcome.
    ///
    /// # Errors
    /// Immediate problems: a closed producer, an invalid topic or partition, a record over
    /// `max.request.size`, a topic that did not appear within `max.block.ms`, no room in
    /// `buffer.memory` within `max.block.ms` ([`Error::BufferFull`]), or, with
    /// `queue.buffering.max.messages`, no record slot within it ([`Error::QueueFull`]). A
    /// cancelled `send` gives back what it reserved. A topic the cluster answers
    /// TOPIC_AUTHORIZATION_FAILED for fails at once with [`Error::Broker`] of that code (the
    /// variant Produce answers use too) and a message naming the topic. The error gives the
    /// record back ([`SendError::into_record`]); `?` turns it into an [`Error`].
    ///
    /// Dropping the returned future does not cancel the delivery (see [`DeliveryFuture`]).
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryFuture, SendError> {
        self.send_inner(record, true, None).await
    }

    /// Like [`Producer::send`], but fails at once with [`Error::WouldBlock`] instead of
    /// waiting for room in `buffer.memory`, and with [`Error::QueueFull`] instead of waiting
    /// for a `queue.buffering.max.messages` slot (it still waits for unknown metadata).
    ///
    /// # Errors
    /// As [`Producer::send`], plus [`Error::WouldBlock`].
    pub async fn try_send(&self, record: ProducerRecord) -> Result<DeliveryFuture, SendError> {
        self.send_inner(record, false, None).await
    }

    /// Like [`Producer::send`], for a record borrowed from the caller: its bytes are copied
    /// into the open batch, so nothing is allocated per record on either side (the way to
    /// send from a buffer the caller reuses). The caller keeps its data, so a failure is the
    /// plain [`Error`]. With interceptors the record is copied once (they may change it) and
    /// that copy is kept until the outcome, as for [`Producer::send`]: a producer with
    /// interceptors holds each record (its `Bytes`, not a deep copy) beside its batch until
    /// the record's outcome is known, so that a failure gives back the caller's record.
    ///
    /// # Errors
    /// As [`Producer::send`].
    pub async fn send_ref(&self, record: RecordRef<'_>) -> Result<DeliveryFuture, Error> {
        if self.interceptors.is_some() {
            // Interceptors may change the record: they get an owned copy.
            return self
                .send_inner(record.to_owned_record(), true, None)
                .await
                .map_err(|e| e.error);
        }
        self.enqueue(record, true, None, None).await
    }

    /// `send` with interceptors around it and `callback` attached (nothing to do without
    /// either): both are registered with the record's batch as it is appended.
    async fn send_inner(
        &self,
        mut record: ProducerRecord,
        wait: bool,
        callback: Option<Callback>,
    ) -> Result<DeliveryFuture, SendError> {
        let interceptors = self.interceptors.as_ref();
        if interceptors.is_none() && callback.is_none() {
            return match self.enqueue(record.as_record_ref(), wait, None, None).await {
                Ok(f) => Ok(f),
                Err(e) => Err(SendError::new(e, record)),
            };
        }
        // With interceptors, a failure gives back the caller's record, not what `on_send`
        // made of it (a resend passes through `on_send` again): keep it until the outcome.
        let original = interceptors.map(|i| {
            let original = Arc::new(record.clone());
            i.on_send(&mut record);
            original
        });
        let result = match self.dispatcher() {
            Ok(d) => {
                let attach = Attach {
                    dispatcher: Arc::clone(d),
                    callback,
                    interceptors: interceptors.cloned(),
                };
                self.enqueue(record.as_record_ref(), wait, Some(attach), original.as_ref())
                    .await
            }
            Err(e) => Err(e),
        };
        result.map_err(|e| {
            if let Some(i) = interceptors {
                let failed = DeliveryError::not_persisted(e.clone());
                i.on_acknowledgement(&Acknowledgement {
                    topic: &record.topic,
                    partition: record.partition.unwrap_or(-1),
                    result: Err(&failed),
                });
            }
            let back = original.map_or(record, |o| {
                Arc::try_unwrap(o).unwrap_or_else(|o| ProducerRecord::clone(&o))
            });
            SendError::new(e, back)
        })
    }

    /// Queues a record; `attach`, if any, is registered with its batch as it is appended.
    /// `original` is the caller's record when interceptors changed it (see [`Origin`]).
    async fn enqueue(
        &self,
        record: RecordRef<'_>,
        wait: bool,
        attach: Option<Attach>,
        original: Option<&Arc<ProducerRecord>>,
    ) -> Result<DeliveryFuture, Error> {
        let topic = record.topic;
        let r = self.append(record, wait, attach, original).await;
        if let Err(e) = &r {
            self.txn_send_refused(e);
        }
        if r.is_err() {
            // As Java's `doSend`: a record `send` refuses counts in record-error-total.
            self.shared
                .metrics
                .failed(Some(topic), 1, false, std::time::Instant::now());
        }
        r
    }

    /// What [`Producer::send`] refuses at once whatever the cluster's state, checked without
    /// sending: an invalid topic name, or a record whose batch would exceed
    /// `max.request.size` or `buffer.memory`. A transactional caller can leave such a record
    /// out instead (a send that is refused makes the open transaction abortable, as in Java).
    ///
    /// # Errors
    /// [`Error::InvalidTopic`], [`Error::RecordTooLarge`].
    pub fn check(&self, record: &RecordRef<'_>) -> Result<(), Error> {
        self.checked_size(record).map(drop)
    }

    /// [`Producer::check`], giving the size of the record's batch alone.
    fn checked_size(&self, record: &RecordRef<'_>) -> Result<usize, Error> {
        validate_topic(record.topic)?;
        let cfg = &self.shared.config;
        let size = single_record_batch_size(record.key, record.value, record.headers);
        for (limit, setting) in [
            (cfg.max_request_size, "max.request.size"),
            (cfg.buffer_memory, "buffer.memory"),
        ] {
            if size > limit {
                return Err(Error::RecordTooLarge { size, limit, setting });
            }
        }
        Ok(size)
    }

    /// Waits for metadata and memory as needed, then appends the record to its batch.
    async fn append(
        &self,
        record: RecordRef<'_>,
        wait: bool,
        attach: Option<Attach>,
        original: Option<&Arc<ProducerRecord>>,
    ) -> Result<DeliveryFuture, Error> {
        // The clock is read only when `send` has to wait (max.block.ms): clock reads were a
        // measurable share of the per-record cost.
        let mut started: Option<Instant> = None;
        let cfg = &self.shared.config;
        if self.shared.closing.load(Ordering::Acquire) {
            return Err(Error::Closed { detail: None });
        }
        if let Some(reason) = self.shared.fatal.get() {
            return Err(Error::Fatal(reason.clone()));
        }
        self.txn_check_send()?;
        let size = self.checked_size(&record)?;
        let known = self
            .shared
            .cluster
            .load()
            .topics
            .get(record.topic)
            .map(|t| t.leaders.len());
        let partitions = match known {
            Some(n) => n,
            None => {
                let start = *started.get_or_insert_with(Instant::now);
                self.partitions_of(record.topic, start + cfg.max_block).await?
            }
        };
        let explicit = match record.partition {
            Some(p) if p < 0 => {
                return Err(Error::UnknownPartition {
                    topic: record.topic.to_owned(),
                    partition: p,
                    count: partitions,
                })
            }
            Some(p) if p as usize >= partitions => {
                // Java: partitions may just have been added; refresh and wait (within
                // max.block.ms) before calling the partition unknown.
                let start = *started.get_or_insert_with(Instant::now);
                self.wait_for_partition(record.topic, p, start + cfg.max_block).await?;
                Some(p)
            }
            Some(p) => Some(p),
            None => {
                let n = u32::try_from(partitions).unwrap_or(u32::MAX);
                self.partitioner
                    .partition(record.topic, record.key, n)
                    .map(|p| i32::try_from(p % n).unwrap_or(0))
            }
        };
        // A record slot (queue.buffering.max.messages), then memory: the only places `send`
        // waits besides metadata. Until the record is appended the slot is a permit, given
        // back if this send fails or is cancelled.
        let slot = match self.shared.accumulator.record_slots() {
            None => None,
            Some(slots) => Some(self.record_slot(slots, wait, &mut started).await?),
        };
        let permits = u32::try_from(size).unwrap_or(u32::MAX);
        let permit = self.reserve_memory(permits, size, wait, &mut started).await?;
        // A transactional send is checked again now, after its waits (metadata, a slot,
        // memory: a commit may have started meanwhile), and the check, the append and the
        // note of its partition happen under the transaction manager's lock: a commit cannot
        // start between them, so it always covers the record (issue 17 review). Returning
        // here gives the slot and the memory back (their permits are dropped).
        let mut txn = self.shared.txn.as_ref().map(|m| crate::sender::txn_lock(m));
        if let Some(g) = &txn {
            g.check_send_state().map_err(Error::Transaction)?;
        }
        permit.forget();
        let timestamp = record.timestamp.unwrap_or_else(now_ms);
        let origin = Origin {
            explicit: record.partition.is_some() && original.is_none(),
            original: original.cloned(),
        };
        let appended = {
            let acc = &self.shared.accumulator;
            let partition = match explicit {
                Some(p) => p,
                None => {
                    // Keyless: stick to a partition that has a leader when there is one (Java's
                    // availablePartitionsForTopic), so a leaderless partition holds none of
                    // these records. Keyed records keep their hash partition whatever its
                    // leader (they were placed above).
                    let cluster = self.shared.cluster.load();
                    let available = cluster.topics.get(record.topic).map_or(&[][..], |t| &t.available[..]);
                    let n = u32::try_from(partitions).unwrap_or(1);
                    let adaptive = cfg.partitioner_adaptive.then_some(cfg.partitioner_availability_timeout);
                    i32::try_from(acc.sticky_partition(record.topic, n, available, size, adaptive)).unwrap_or(0)
                }
            };
            acc.append_with(
                record.topic,
                partition,
                timestamp,
                record.key,
                record.value,
                record.headers,
                size,
                Instant::now,
                |completion, index| {
                    if let Some(a) = attach {
                        let future = DeliveryFuture::new(Arc::clone(completion), index, timestamp);
                        a.register(future.with_origin(origin.clone()));
                    }
                },
            )
        };
        if let (Some(g), Some(a)) = (txn.as_mut(), &appended) {
            g.note_partition(&(Arc::<str>::from(record.topic), a.completion.partition));
        }
        drop(txn);
        let Some(appended) = appended else {
            // Closed while this send waited: nothing will drain a queue now.
            self.shared.memory.add_permits(size);
            return Err(Error::Closed { detail: None });
        };
        // The batch holds the slot now (`BatchCompletion::hold_slot`).
        if let Some(p) = slot {
            p.forget();
        }
        if appended.wake {
            self.shared.wake.notify_one();
        }
        Ok(DeliveryFuture::new(appended.completion, appended.offset_delta, timestamp).with_origin(origin))
    }

    /// How many sequence gaps brokers reported at the head of a partition: each one means a
    /// broker lost records it had acknowledged, or forgot this producer (RELIABILITY.md
    /// rule 8). The affected batch failed with [`Error::SequenceGap`].
    #[must_use]
    pub fn sequence_gaps(&self) -> u64 {
        self.shared.sequence_gaps.load(Ordering::Relaxed)
    }

    /// How many batches that failed as possibly persisted were later proven persisted (a
    /// later batch of the same partition and producer epoch was acknowledged).
    #[must_use]
    pub fn possibly_persisted_settled(&self) -> u64 {
        self.shared.settled.load(Ordering::Relaxed)
    }

    /// Calls `listener` (on the producer's sender task: keep it short) whenever a batch that
    /// failed as possibly persisted is proven persisted by a later acknowledgement. The
    /// event names the batch as the records' [`crate::DeliveryError::batch`] did.
    pub fn on_settled(&self, listener: impl Fn(&crate::record::Settled) + Send + Sync + 'static) {
        self.shared
            .settle_listeners
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Arc::new(listener));
    }

    /// Sends everything queued now without waiting for `linger.ms`, and waits until every
    /// record queued before the call has an outcome.
    ///
    /// Cancel-safe: dropping the future before it finishes (inside `tokio::time::timeout` or
    /// `select!`) ends this flush's request, and records linger again.
    pub async fn flush(&self) {
        let _flushing = FlushGuard::new(&self.shared.flushing);
        self.shared.wake.notify_one();
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Flush(tx)).is_ok() {
            if let Ok(batches) = rx.await {
                for b in batches {
                    b.wait().await;
                }
            }
        }
    }

    /// Stops accepting records, sends what is queued, and waits up to `timeout`. Records
    /// still pending then fail: queued ones as not persisted, in-flight ones as possibly
    /// persisted. Every outstanding delivery future resolves; none is dropped silently.
    ///
    /// A `send` still waiting (for `buffer.memory` or metadata) when `close` gives up returns
    /// [`Error::Closed`]; one that got its record queued first gets a future that resolves
    /// like the others. Every `send` after `close` fails with [`Error::Closed`].
    pub async fn close(&self, timeout: Duration) {
        self.shared.closing.store(true, Ordering::Release);
        if tokio::time::timeout(timeout, self.flush()).await.is_err() {
            // No append succeeds after this, so the sender's abort (which drains the
            // accumulator once it gets the command, after this store) leaves nothing behind.
            self.shared.accumulator.close();
            let _ = self.commands.send(Command::Abort);
        }
        let _ = self.commands.send(Command::Shutdown);
        self.shared.wake.notify_one();
        let handle = self
            .sender
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(h) = handle {
            // After an abort the sender stops at once; give it a moment, then stop waiting.
            let _ = tokio::time::timeout(Duration::from_secs(5), h).await;
        }
        self.fail_what_is_left();
    }

    /// The end of `close`: refuse every later append, fail what a `send` racing with the
    /// sender's exit queued (the sender will not drain it), and wake every `send` still
    /// waiting for memory, which then returns [`Error::Closed`].
    fn fail_what_is_left(&self) {
        let acc = &self.shared.accumulator;
        acc.close();
        for q in acc.drain_all() {
            q.completion.complete(BatchOutcome::Failed {
                error: DeliveryError::not_persisted(Error::Closed {
                    detail: Some("closed before the record was sent".to_owned()),
                }),
                record_errors: Vec::new(),
            });
            self.shared.memory.add_permits(q.reserved);
        }
        self.shared.memory.close();
        if let Some(slots) = acc.record_slots() {
            slots.close();
        }
    }
}

/// One `flush` in progress: while any is, the sender ignores `linger.ms`. Counted down on
/// drop, so that a flush cancelled at an `.await` does not leave linger off for good.
struct FlushGuard<'a>(&'a AtomicUsize);

impl<'a> FlushGuard<'a> {
    fn new(flushing: &'a AtomicUsize) -> Self {
        flushing.fetch_add(1, Ordering::AcqRel);
        Self(flushing)
    }
}

impl Drop for FlushGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        // Dropping the command channel lets the sender finish what is queued and stop.
        self.shared.closing.store(true, Ordering::Release);
        self.shared.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names() {
        assert!(validate_topic("clicks.v1_a-b").is_ok());
        for bad in ["", ".", "..", "a b", "a/b", &"x".repeat(250)] {
            assert!(validate_topic(bad).is_err(), "{bad}");
        }
    }
}
