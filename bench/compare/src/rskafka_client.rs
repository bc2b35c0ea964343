//! `rskafka`, a minimal pure-Rust client: one client per partition, acks fixed at all,
//! no idempotence, no partitioner (records are placed here with Java's murmur2).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rskafka::client::partition::{Compression, UnknownTopicHandling};
use rskafka::client::producer::aggregator::RecordAggregator;
use rskafka::client::producer::BatchProducerBuilder;
use rskafka::client::ClientBuilder;
use rskafka::record::Record;

use crate::{cannot, collector, Recorder, Workload};

/// Runs the workload through one `BatchProducer` per partition (rskafka's batching layer,
/// with the workload's linger and batch size), producing without awaiting each record: a
/// collector task awaits them concurrently, bounded by `buffer.memory` bytes in flight.
pub fn run(w: &Workload, recorder: &Arc<Recorder>, start: Instant) {
    if w.prop("enable.idempotence", "true") == "true" {
        cannot("rskafka has no idempotent producer");
    }
    if !matches!(w.prop("acks", "all").as_str(), "all" | "-1") {
        cannot("rskafka always sends acks=all");
    }
    let compression = match w.prop("compression.type", "none").as_str() {
        "none" => Compression::NoCompression,
        "lz4" => Compression::Lz4,
        other => cannot(&format!("compression.type={other} is not built in this driver")),
    };
    let linger = Duration::from_millis(w.prop("linger.ms", "5").parse().unwrap_or(5));
    let batch: usize = w.prop("batch.size", "16384").parse().unwrap_or(16384);
    let buffer: usize = w.prop("buffer.memory", "33554432").parse().unwrap_or(33554432);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client = ClientBuilder::new(w.bootstrap.split(',').map(str::to_string).collect())
            .build()
            .await
            .unwrap_or_else(|e| cannot(&format!("connect: {e}")));
        let partitions = match client.list_topics().await {
            Ok(topics) => topics
                .into_iter()
                .find(|t| t.name == w.topic)
                .map_or(0, |t| t.partitions.len()),
            Err(e) => cannot(&format!("metadata: {e}")),
        };
        if partitions == 0 {
            cannot(&format!("topic {} not found", w.topic));
        }
        let mut producers = Vec::with_capacity(partitions);
        for p in 0..partitions {
            let pc = client
                .partition_client(w.topic.clone(), p as i32, UnknownTopicHandling::Retry)
                .await
                .unwrap_or_else(|e| cannot(&format!("partition client: {e}")));
            producers.push(Arc::new(
                BatchProducerBuilder::new(Arc::new(pc))
                    .with_linger(linger)
                    .with_compression(compression)
                    .build(RecordAggregator::new(batch)),
            ));
        }
        let in_flight = Arc::new(tokio::sync::Semaphore::new(
            (buffer / (w.mean_size() as usize).max(1)).max(1),
        ));
        let (tx, task) = collector(Arc::clone(recorder));
        let mut sticky = 0usize;
        for i in 0..w.records {
            if let Some(due) = w.due(start, i) {
                tokio::time::sleep_until(due.into()).await;
            }
            let permit = Arc::clone(&in_flight).acquire_owned().await.expect("semaphore");
            let at = Instant::now();
            let key = w.key(i);
            let p = match key {
                Some(k) => volley::murmur2_partition(k.as_bytes(), partitions as u32) as usize,
                None => {
                    sticky = (sticky + 1) % partitions;
                    sticky
                }
            };
            let record = Record {
                key: key.map(|k| k.as_bytes().to_vec()),
                value: Some(w.payload(i).to_vec()),
                headers: BTreeMap::new(),
                timestamp: chrono::Utc::now(),
            };
            let producer = Arc::clone(&producers[p]);
            let _ = tx.send((
                at,
                Box::pin(async move {
                    let r = producer.produce(record).await.err().map(|e| e.to_string());
                    drop(permit);
                    r
                }),
            ));
        }
        drop(tx);
        let _ = task.await;
    });
}
