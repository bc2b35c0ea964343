//! `krafka`, a pure-Rust client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use krafka::producer::Acks;
use krafka::{Compression, Kafka, Record};

use crate::{cannot, collector, Recorder, Workload};

fn num(w: &Workload, key: &str, default: &str) -> u64 {
    w.prop(key, default)
        .parse()
        .unwrap_or_else(|_| cannot(&format!("{key} is not a number")))
}

/// Runs the workload through `Producer::enqueue`, whose handles are awaited concurrently by
/// a collector task, so no send waits for an earlier delivery (krafka's throughput advice).
pub fn run(w: &Workload, recorder: &Arc<Recorder>, start: Instant) {
    let acks = match w.prop("acks", "all").as_str() {
        "0" => Acks::None,
        "1" => Acks::Leader,
        "all" | "-1" => Acks::All,
        other => cannot(&format!("acks={other}")),
    };
    let compression = match w.prop("compression.type", "none").as_str() {
        "none" => Compression::None,
        "lz4" => Compression::Lz4,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        other => cannot(&format!("compression.type={other}")),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let kafka = Kafka::builder(w.bootstrap.clone())
            .connect()
            .await
            .unwrap_or_else(|e| cannot(&format!("connect: {e}")));
        let producer = kafka
            .producer()
            .acks(acks)
            .compression(compression)
            .idempotent(w.prop("enable.idempotence", "true") == "true")
            .batch_size(num(w, "batch.size", "16384") as usize)
            .linger(Duration::from_millis(num(w, "linger.ms", "5")))
            .buffer_memory(num(w, "buffer.memory", "33554432") as usize)
            .build()
            .await
            .unwrap_or_else(|e| cannot(&format!("producer: {e}")));
        let (tx, task) = collector(Arc::clone(recorder));
        let payloads: Vec<_> = w.payloads.iter().map(|p| bytes_of(p)).collect();
        for i in 0..w.records {
            if let Some(due) = w.due(start, i) {
                tokio::time::sleep_until(due.into()).await;
            }
            let at = Instant::now();
            let mut record = Record::new(w.topic.clone(), payloads[(i % payloads.len() as u64) as usize].clone());
            if let Some(k) = w.key(i) {
                record = record.key(bytes_of(k.as_bytes()));
            }
            match producer.enqueue(record).await {
                Ok(handle) => {
                    let _ = tx.send((at, Box::pin(async move { handle.await.err().map(|e| e.to_string()) })));
                }
                Err(e) => recorder.done(at, Some(e.to_string())),
            }
        }
        drop(tx);
        if let Err(e) = producer.flush().await {
            eprintln!("flush: {e}");
        }
        let _ = task.await;
        let _ = producer.close().await;
    });
}

/// The client's byte type; `Bytes` clones share one allocation.
fn bytes_of(b: &[u8]) -> bytes::Bytes {
    bytes::Bytes::copy_from_slice(b)
}
