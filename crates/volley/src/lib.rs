//! Volley: a fast, reliable Kafka producer in pure Rust.
//!
//! ```text
//! send ──► partitioner ──► accumulator (per-partition batches)
//!                                │  ready: full, linger.ms, flush
//!                                ▼
//!                     sender task (sequences, retries, metadata)
//!                                │  one Produce request per broker, many partitions
//!                                ▼
//!                     connection per broker (pipelined, vectored writes)
//! ```
//!
//! Start with [`ProducerConfig`] and [`Producer`]. Semantics and defaults follow the Java
//! producer (Kafka 4.x): `acks=all` and idempotence on by default, murmur2 key partitioning,
//! `linger.ms=5`, `batch.size=16384`.
//!
//! # A tour through the examples
//!
//! Each example is in `crates/volley/examples/` (`cargo run -p volley --example NAME --
//! host:port`), and a test runs each against the fake cluster.
//!
//! **Async** (`async_producer`): [`Producer::send`] queues a record and returns a
//! [`DeliveryFuture`] of its outcome; [`Producer::send_and_wait`] does both. Every record
//! ends in exactly one outcome: [`RecordMetadata`] or a [`DeliveryError`] whose
//! [`Persistence`] tells whether it may be in the log. Dropping a future does not cancel the
//! delivery. [`Producer::new`] outside a tokio runtime is [`Error::NoRuntime`], never a panic.
//!
#![doc = concat!("```rust,no_run\n", include_str!("../examples/async_producer.rs"), "```")]
//!
//! **Blocking** (`blocking`): [`blocking::Producer`] for programs without async. It runs on
//! one background thread shared by the blocking producers of the process; every method can
//! be called from any thread, delivery callbacks included. [`blocking::TypedProducer`]
//! ([`ProducerBuilder::typed_blocking`]) is its typed twin, with serializers wired in as in
//! [`TypedProducer`].
//!
#![doc = concat!("```rust,no_run\n", include_str!("../examples/blocking.rs"), "```")]
//!
//! **Typed** (`typed_json`): [`TypedProducer`] wires a key and a value [`Serializer`] into a
//! producer ([`StringSerializer`], [`JsonSerializer`], `volley_schema::AvroSerializer`, or
//! your own), built with [`Producer::builder`], which also takes a custom [`Partitioner`]
//! and [`Interceptor`]s. Every property has a typed setter on [`ProducerConfigBuilder`]
//! ([`PartitionerKind`] instead of a name).
//!
#![doc = concat!("```rust,no_run\n", include_str!("../examples/typed_json.rs"), "```")]
//!
//! **Callbacks** (`callbacks`): [`Producer::send_with_callback`] for code that does not keep
//! futures. Callbacks run on the producer's callback thread, after the interceptors'
//! `on_acknowledgement`, in completion order per partition.
//!
#![doc = concat!("```rust,no_run\n", include_str!("../examples/callbacks.rs"), "```")]
//!
//! **Resending** (`resend`): a failed `send` gives the record back in its [`SendError`]; a
//! [`Persistence::NotPersisted`] delivery error carries the record too
//! ([`DeliveryError::into_record`]), decoded from the failed batch only when it fails, so
//! nobody keeps a copy of every record sent. Either way it is the record as the caller gave
//! it: its explicit partition, if it had one, and not what interceptors made of it (for
//! that, a producer with interceptors keeps the caller's record until the outcome).
//!
#![doc = concat!("```rust,no_run\n", include_str!("../examples/resend.rs"), "```")]
//!
//! **Introspection**: [`Producer::partitions_for`] lists a topic's partitions with leader,
//! replicas and in-sync replicas; [`Producer::partition_for`] says where a key goes.

pub mod blocking;
pub mod config;
pub mod describe;
pub mod error;
pub mod group;
pub mod interceptor;
pub mod metrics;
pub mod partitioner;
pub mod record;
pub mod security;
pub mod serializer;
pub mod transaction;

mod accumulator;
mod dial;
mod metadata;
mod net;
mod producer;
mod sender;

pub use config::{
    Acks, ClientDnsLookup, Compression, ConfigError, MetadataRecovery, PartitionerKind, ProducerConfig,
    ProducerConfigBuilder,
};
pub use describe::{describe_cluster, ClusterDescription};
pub use error::{BatchId, DeliveryError, Error, Persistence, SendError, TransactionError, TransactionErrorKind};
pub use group::committed_offsets;
pub use interceptor::{Acknowledgement, Interceptor};
pub use partitioner::{murmur2, murmur2_partition, BuiltinPartitioner, Partitioner};
pub use producer::callback::Callback;
pub use producer::stats::StatisticsCallback;
pub use producer::typed::{TypedProducer, TypedRecord};
pub use producer::wait::{Node, PartitionMetadata};
pub use producer::{MetricsHandle, Producer, ProducerBuilder};
pub use record::{DeliveryFuture, Header, ProducerRecord, RecordMetadata, RecordRef, Settled};
pub use serializer::{BytesSerializer, JsonSerializer, Serializer, StringSerializer};
pub use volley_protocol as protocol;
