//! Helpers shared by the fake-cluster regression files: a producer with short backoffs, one
//! record delivered and awaited, and a topic's values as the fake broker logged them.

#![allow(dead_code)]

use volley::{Producer, ProducerConfig, ProducerRecord};
use volley_testkit::fake::FakeCluster;

/// A producer for `c` with short backoffs (so that tests run in seconds) and `props` on top.
pub fn producer(c: &FakeCluster, props: &[(&str, &str)]) -> Producer {
    producer_at(&c.bootstrap(), props)
}

/// As [`producer`], bootstrapping from `bootstrap`.
pub fn producer_at(bootstrap: &str, props: &[(&str, &str)]) -> Producer {
    Producer::new(config_at(bootstrap, props)).expect("producer")
}

/// The configuration [`producer`] uses (for builders: interceptors, blocking producers).
pub fn config(c: &FakeCluster, props: &[(&str, &str)]) -> ProducerConfig {
    config_at(&c.bootstrap(), props)
}

/// As [`config`], bootstrapping from `bootstrap`.
pub fn config_at(bootstrap: &str, props: &[(&str, &str)]) -> ProducerConfig {
    let mut all: Vec<(&str, &str)> = vec![
        ("bootstrap.servers", bootstrap),
        ("retry.backoff.ms", "20"),
        ("retry.backoff.max.ms", "200"),
        ("reconnect.backoff.ms", "10"),
        ("reconnect.backoff.max.ms", "100"),
    ];
    all.extend_from_slice(props);
    ProducerConfig::from_properties(all).expect("config")
}

/// Sends one keyed record and waits for its outcome.
pub async fn deliver(
    p: &Producer,
    topic: &str,
    key: &str,
    value: &str,
) -> Result<volley::RecordMetadata, volley::DeliveryError> {
    p.send(ProducerRecord::new(topic.to_owned(), value.to_owned()).key(key.to_owned()))
        .await
        .expect("queued")
        .await
}

/// The values of `topic`'s records in the fake broker's log, partition by partition.
pub fn values(c: &FakeCluster, topic: &str) -> Vec<String> {
    c.records(topic)
        .iter()
        .filter_map(|r| r.value.as_ref().map(|v| String::from_utf8_lossy(v).into_owned()))
        .collect()
}

/// A fake cluster served by a runtime of its own, for tests that run on plain threads.
pub fn background_cluster(brokers: usize) -> (tokio::runtime::Runtime, FakeCluster) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let c = rt.block_on(FakeCluster::start(brokers));
    (rt, c)
}
