//! The finer guarantees of the library API (issue 15) against the fake cluster: callback
//! order with concurrent senders, which record a failure gives back, the blocking producer
//! built with interceptors and a partitioner, the blocking typed producer, and
//! `partitions_for` on a partition without a leader.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use volley::ProducerRecord;
use volley_testkit::fake::FakeCluster;

/// A bound for liveness checks only.
const LIVENESS: Duration = Duration::from_secs(20);

/// Several tasks on a multi-thread runtime send to one partition at once: every callback
/// runs, in offset order. The callback is attached to the record's batch under the
/// partition's lock, so no batch can complete (and dispatch its callbacks) before a record
/// appended to it has its callback registered, nor before an earlier batch's.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn callbacks_of_concurrent_senders_run_in_offset_order() {
    let c = FakeCluster::start(1).await;
    c.create_topic("conc", 1);
    let p = Arc::new(support::producer(&c, &[("linger.ms", "0"), ("batch.size", "300")]));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (tasks, per_task) = (16, 1500);
    let senders: Vec<_> = (0..tasks)
        .map(|t| {
            let (p, seen) = (Arc::clone(&p), Arc::clone(&seen));
            tokio::spawn(async move {
                for i in 0..per_task {
                    let seen = Arc::clone(&seen);
                    p.send_with_callback(ProducerRecord::new("conc", format!("{t}-{i}")), move |r| {
                        let offset = r.ok().and_then(|m| m.offset).unwrap_or(-1);
                        seen.lock().expect("lock").push(offset);
                    })
                    .await
                    .expect("queued");
                    if i % 16 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for s in senders {
        s.await.expect("sender task");
    }
    p.flush().await;
    let n = tasks * per_task;
    let deadline = std::time::Instant::now() + LIVENESS;
    while seen.lock().expect("lock").len() < n && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), n, "every callback ran once");
    let expected: Vec<i64> = (0..i64::try_from(n).expect("small")).collect();
    if seen != expected {
        let first = seen.iter().zip(&expected).position(|(a, b)| a != b);
        panic!(
            "callbacks out of offset order, first at position {first:?}: {:?}",
            first.map(|i| &seen[i.saturating_sub(3)..(i + 3).min(n)])
        );
    }
    p.close(LIVENESS).await;
}
