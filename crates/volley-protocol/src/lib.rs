//! Sans-IO Kafka wire protocol for the Volley producer.
//!
//! This crate owns bytes on the wire and nothing else: no sockets, no clocks, no policy.
//! It provides
//!
//! - [`wire`]: bounded readers and writers for Kafka's primitive types (varints, strings,
//!   arrays, tagged fields);
//! - [`frame`]: the 4-byte size prefix with a cap on what a peer can make us allocate;
//! - [`error`]: Kafka error codes with their name and retriable flag;
//! - [`compression`]: the codecs Kafka uses (gzip, snappy with xerial framing, lz4 frame,
//!   zstd);
//! - [`record_batch`]: the RecordBatch v2 builder (records are encoded as they are
//!   appended) and a decoder used by tests and the fake broker;
//! - [`produce`]: the hand-written Produce request encoder and response decoder (the hot
//!   path);
//! - [`control`]: ApiVersions, Metadata and InitProducerId, as adapters over the
//!   `kafka-protocol` crate;
//! - [`versions`]: the versions Volley speaks and the negotiation with a broker.

pub mod compression;
pub mod control;
pub mod error;
pub mod frame;
pub mod group;
pub mod produce;
pub mod record_batch;
pub mod sasl;
pub mod txn;
pub mod versions;
pub mod wire;

pub use error::ErrorCode;
pub use wire::DecodeError;
