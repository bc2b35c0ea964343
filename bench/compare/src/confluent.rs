//! Confluent's Rust client (the `confluent-kafka` crate), a translation of the Java client.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use confluent_kafka::common::serialization::ByteArraySerializer;
use confluent_kafka::producer::{KafkaProducer, Producer, ProducerConfig, ProducerRecord, RecordMetadata};

use crate::{cannot, Recorder, Workload};

/// Runs the workload through `KafkaProducer::send` with a callback per record, never
/// awaiting a delivery before sending the next record (the Java client's recommended use).
pub fn run(w: &Workload, recorder: &Arc<Recorder>, start: Instant) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut props: HashMap<String, String> = w.props.clone().into_iter().collect();
        props.insert("bootstrap.servers".into(), w.bootstrap.clone());
        // tansu cannot parse the cluster and node ids of ApiVersions v5 (TEST-BROKERS.md).
        props.insert("metadata.cluster.check.enable".into(), "false".into());
        // Its default partitioner hashes keys with CRC-32; Java's placement is murmur2.
        props.insert(
            "partitioner.type".into(),
            ProducerConfig::MURMUR2_RANDOM_PARTITIONER.into(),
        );
        let config = ProducerConfig::new(&props).unwrap_or_else(|e| cannot(&format!("configuration: {e}")));
        let producer = KafkaProducer::<Vec<u8>, Vec<u8>>::new(
            config,
            ByteArraySerializer::default(),
            ByteArraySerializer::default(),
        )
        .unwrap_or_else(|e| cannot(&format!("producer: {e}")));
        for i in 0..w.records {
            if let Some(due) = w.due(start, i) {
                tokio::time::sleep_until(due.into()).await;
            }
            let at = Instant::now();
            let r = Arc::clone(recorder);
            let callback = move |_: Option<&RecordMetadata>, e: Option<&confluent_kafka::common::Error>| {
                r.done(at, e.map(|e| e.to_string()));
            };
            let record = ProducerRecord::with_key(w.topic.clone(), w.key(i).map(str::as_bytes), Some(w.payload(i)));
            if let Err(e) = producer.send(record, Some(Box::new(callback))).await {
                recorder.done(at, Some(e.to_string()));
            }
        }
        if let Err(e) = producer.flush().await {
            eprintln!("flush: {e}");
        }
        let _ = producer.close().await;
    });
}
