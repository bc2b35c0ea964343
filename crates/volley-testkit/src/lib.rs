//! Test kit for Volley (tests and scripts only, never a dependency of the library).
//!
//! - [`fake`]: an in-process fake Kafka cluster (several brokers on 127.0.0.1) that follows
//!   the broker's idempotence rules and lets a test decide, request by request, to answer
//!   an error, append and then drop the answer, close before appending, delay, throttle, or
//!   send hostile frames; it keeps a request log and the partition logs for the oracle.
//! - [`oracle`]: the invariants of RELIABILITY.md checked against the producer's outcomes
//!   and an independent read of the log.
//! - [`proxy`]: a TCP fault proxy (delay, black-hole, reset, drop answers, chaos).
//! - [`tansu`]: a tansu broker as a child process and the librdkafka read-back.
//! - [`kafka`]: Apache Kafka (the reference broker) as child processes: one node or three
//!   brokers and a controller, with per-node faults; [`kafka_admin`]: its topics.
//! - [`registry`]: a Schema Registry stand-in (http, https, https with client certificates);
//!   [`pki`]: throwaway CAs and certificates for the TLS tests.

pub mod drive;
pub mod fake;
pub mod kafka;
pub mod kafka_admin;
pub mod kafka_chaos;
pub mod kafka_secure;
pub mod oidc;
pub mod oracle;
pub mod pki;
pub mod proxy;
pub mod registry;
pub mod stamps;
pub mod tansu;
