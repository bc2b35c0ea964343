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

pub mod config;
pub mod error;
pub mod partitioner;
pub mod record;
pub mod security;

mod accumulator;
mod metadata;
mod net;
mod producer;
mod sender;

pub use config::{
    Acks, Compression, ConfigError, MetadataRecovery, PartitionerKind, ProducerConfig, ProducerConfigBuilder,
};
pub use error::{BatchId, DeliveryError, Error, Persistence};
pub use partitioner::{murmur2, murmur2_partition, BuiltinPartitioner, Partitioner};
pub use producer::{BytesSerializer, JsonSerializer, Producer, Serializer, StringSerializer};
pub use record::{DeliveryFuture, Header, ProducerRecord, RecordMetadata, Settled};
pub use volley_protocol as protocol;
