//! Issue 18, KIP-794 on the fake cluster: with adaptive partitioning (Java's default) keyless
//! records go less to partitions whose broker drains slowly; without it they spread evenly.

use std::time::Duration;

use support::producer;
use volley::ProducerRecord;
use volley_testkit::fake::{Action, FakeCluster};

mod support;

const PRODUCE: i16 = 0;

/// The share of keyless records that landed on broker 2 (partitions 1 and 3), which answers
/// every Produce request 100 ms late.
async fn slow_broker_share(adaptive: &str) -> f64 {
    let c = FakeCluster::start(2).await;
    c.create_topic("adaptive", 4);
    c.set_hook(|r| {
        if r.api_key == PRODUCE && r.broker == 2 {
            Action::Delay(Duration::from_millis(100))
        } else {
            Action::Respond
        }
    });
    let p = producer(
        &c,
        &[
            ("linger.ms", "0"),
            ("batch.size", "2000"),
            ("partitioner.adaptive.partitioning.enable", adaptive),
        ],
    );
    // Warm-up: metadata and the producer id, so that every wave below is only records.
    p.send(ProducerRecord::new("adaptive", "w"))
        .await
        .expect("queued")
        .await
        .expect("warm-up");
    let mut pending = Vec::new();
    for _ in 0..20 {
        for _ in 0..100 {
            pending.push(
                p.send(ProducerRecord::new("adaptive", vec![b'v'; 200]))
                    .await
                    .expect("queued"),
            );
        }
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    let mut slow = 0u32;
    for f in pending {
        let m = f.await.expect("delivered");
        slow += u32::from(m.partition % 2 == 1);
    }
    p.close(Duration::from_secs(5)).await;
    f64::from(slow) / 2000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyless_records_avoid_a_slow_broker_only_when_adaptive() {
    let adaptive = slow_broker_share("true").await;
    let uniform = slow_broker_share("false").await;
    eprintln!("share of keyless records on the slow broker: adaptive {adaptive:.3}, uniform {uniform:.3}");
    assert!(
        adaptive < 0.35,
        "adaptive: {adaptive:.3} of the records went to the slow broker"
    );
    assert!(
        (0.40..=0.60).contains(&uniform),
        "without adaptive partitioning the split stays even: {uniform:.3}"
    );
}
