//! Rules of the producer handle (issue 10): what `send`, `flush` and `close` promise, each
//! guarded against the fake cluster. Every test is named after the promise it keeps and
//! failed on the code before its fix (the commit that added it quotes the failure).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use volley::protocol::ErrorCode;
use volley::{murmur2_partition, Error, Producer, ProducerConfig, ProducerRecord};
use volley_testkit::fake::{Action, FakeCluster, Request};

const PRODUCE: i16 = 0;
const METADATA: i16 = 3;

/// A bound for liveness checks only: far above what any of these steps needs.
const LIVENESS: Duration = Duration::from_secs(10);

fn producer(c: &FakeCluster, props: &[(&str, &str)]) -> Producer {
    let mut all = vec![("bootstrap.servers".to_owned(), c.bootstrap())];
    all.extend(props.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    Producer::new(ProducerConfig::from_properties(all).expect("config")).expect("producer")
}

/// Batches (records per batch) the fake cluster received for `topic`, in arrival order.
fn batches(log: &[Request], topic: &str) -> Vec<i32> {
    log.iter()
        .filter(|r| r.api_key == PRODUCE)
        .flat_map(|r| r.batches.iter())
        .filter(|b| b.topic == topic)
        .map(|b| b.records)
        .collect()
}

fn metadata_requests(c: &FakeCluster) -> usize {
    c.request_log().iter().filter(|r| r.api_key == METADATA).count()
}

async fn deliver(p: &Producer, record: ProducerRecord) -> volley::RecordMetadata {
    let f = p.send(record).await.expect("queued");
    tokio::time::timeout(LIVENESS, f)
        .await
        .expect("resolves")
        .expect("delivered")
}

/// Defect 4: a `flush` dropped before it finished (a `timeout` or `select!` around it) must
/// not leave the producer flushing for good: afterwards, records linger again and share a
/// batch. Paced sends within one `linger.ms` go into one batch only if linger is on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_flush_does_not_turn_linger_off() {
    let c = FakeCluster::start(1).await;
    c.create_topic("linger", 1);
    let held = Arc::new(AtomicBool::new(false));
    let h = Arc::clone(&held);
    c.set_hook(move |r| {
        // The first Produce answer is late, so that a flush is still waiting when cancelled.
        if r.api_key == PRODUCE && !h.swap(true, Ordering::AcqRel) {
            Action::Delay(Duration::from_millis(1500))
        } else {
            Action::Respond
        }
    });
    let p = producer(&c, &[("linger.ms", "5000")]);
    let first = p.send(ProducerRecord::new("linger", "first")).await.expect("queued");
    let cancelled = tokio::time::timeout(Duration::from_millis(200), p.flush()).await;
    assert!(cancelled.is_err(), "the flush was still waiting for the late answer");
    tokio::time::timeout(LIVENESS, first)
        .await
        .expect("resolves")
        .expect("delivered");
    let before = batches(&c.request_log(), "linger").len();
    let mut futs = Vec::new();
    for i in 0..5 {
        futs.push(
            p.send(ProducerRecord::new("linger", format!("r{i}")))
                .await
                .expect("queued"),
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::timeout(LIVENESS, p.flush()).await.expect("flush returns");
    for f in futs {
        f.await.expect("delivered");
    }
    let after = batches(&c.request_log(), "linger")[before..].to_vec();
    assert_eq!(
        after,
        vec![5],
        "five records sent within linger.ms share one batch (records per batch)"
    );
    p.close(Duration::from_secs(2)).await;
}

/// Defect 6: a `send` waiting for `buffer.memory` when `close(t)` gives up must not append
/// into an accumulator nobody drains: it returns `Closed`, or its record resolves; and every
/// later `send` fails with `Closed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_blocked_on_memory_when_close_gives_up_resolves() {
    let c = FakeCluster::start(1).await;
    c.create_topic("full", 1);
    let p = Arc::new(producer(
        &c,
        &[
            ("buffer.memory", "1024"),
            ("max.block.ms", "30000"),
            ("request.timeout.ms", "30000"),
            ("delivery.timeout.ms", "60000"),
        ],
    ));
    deliver(&p, ProducerRecord::new("full", "warm")).await;
    c.set_black_hole(true);
    let value = vec![b'x'; 400];
    let accepted = [
        p.send(ProducerRecord::new("full", value.clone())).await.expect("room"),
        p.send(ProducerRecord::new("full", value.clone())).await.expect("room"),
    ];
    let blocked = {
        let (p, value) = (Arc::clone(&p), value.clone());
        tokio::spawn(async move { p.send(ProducerRecord::new("full", value)).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!blocked.is_finished(), "the third record waits for buffer.memory");
    p.close(Duration::from_millis(500)).await;
    let outcome = tokio::time::timeout(LIVENESS, blocked)
        .await
        .expect("the blocked send returns after close")
        .expect("task");
    match outcome.map_err(Error::from) {
        Err(Error::Closed { .. }) => {}
        Ok(f) => {
            let r = tokio::time::timeout(LIVENESS, f).await;
            assert!(r.is_ok(), "a record accepted during close resolves");
        }
        Err(e) => panic!("unexpected error {e}"),
    }
    for f in accepted {
        let r = tokio::time::timeout(LIVENESS, f)
            .await
            .expect("accepted records resolve");
        assert!(r.is_err(), "nothing is answered while black-holed");
    }
    let late = p.send(ProducerRecord::new("full", "late")).await;
    assert!(
        matches!(late.map_err(Error::from), Err(Error::Closed { .. })),
        "late send"
    );
    c.set_black_hole(false);
}

/// Java: an explicit partition beyond the cached count refreshes metadata and waits up to
/// `max.block.ms` for it (partitions may just have been added) before `UnknownPartition`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_partition_beyond_the_cached_count_waits_for_a_refresh() {
    let c = FakeCluster::start(1).await;
    c.create_topic("grow", 2);
    let p = producer(
        &c,
        &[("max.block.ms", "2000"), ("retry.backoff.ms", "50"), ("linger.ms", "0")],
    );
    deliver(&p, ProducerRecord::new("grow", "warm").partition(0)).await;
    let add = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.add_partitions("grow", 4);
    };
    let (sent, ()) = tokio::join!(p.send(ProducerRecord::new("grow", "new").partition(3)), add);
    let meta = tokio::time::timeout(LIVENESS, sent.expect("partition 3 appears within max.block.ms"))
        .await
        .expect("resolves")
        .expect("delivered");
    assert_eq!(meta.partition, 3);
    assert_eq!(c.records("grow").iter().filter(|r| r.partition == 3).count(), 1);

    let asked = metadata_requests(&c);
    let e = tokio::time::timeout(LIVENESS, p.send(ProducerRecord::new("grow", "nowhere").partition(9)))
        .await
        .expect("returns within max.block.ms")
        .expect_err("partition 9 never appears");
    assert!(
        matches!(
            e.error,
            Error::UnknownPartition {
                partition: 9,
                count: 4,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        metadata_requests(&c) > asked,
        "the producer asked again before giving up"
    );
    p.close(Duration::from_secs(2)).await;
}

/// Java's `availablePartitionsForTopic`: keyless records stick only to partitions that have
/// a leader, so a leaderless partition costs no keyless record; keyed records keep their
/// murmur2 partition whatever its leader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyless_records_avoid_a_leaderless_partition_and_keys_keep_theirs() {
    let c = FakeCluster::start(1).await;
    c.create_topic("avail", 2);
    c.set_leader("avail", 1, -1);
    let p = producer(
        &c,
        &[
            // Every record ends its sticky batch, so the partitioner chooses again each time.
            ("batch.size", "1"),
            ("linger.ms", "0"),
            ("request.timeout.ms", "1000"),
            ("delivery.timeout.ms", "3000"),
            ("retry.backoff.ms", "10"),
        ],
    );
    let mut futs = Vec::new();
    for i in 0..40 {
        futs.push(
            p.send(ProducerRecord::new("avail", format!("k{i}")))
                .await
                .expect("queued"),
        );
    }
    let mut failed = 0;
    for f in futs {
        match tokio::time::timeout(LIVENESS, f).await.expect("resolves") {
            Ok(m) => assert_eq!(m.partition, 0, "only partition 0 has a leader"),
            Err(_) => failed += 1,
        }
    }
    assert_eq!(failed, 0, "{failed} of 40 keyless records failed");

    let key = (0..1000)
        .map(|i| format!("key{i}"))
        .find(|k| murmur2_partition(k.as_bytes(), 2) == 1)
        .expect("some key hashes to partition 1");
    let keyed = p
        .send(ProducerRecord::new("avail", "keyed").key(key.clone()))
        .await
        .expect("queued");
    assert_eq!(
        keyed.partition(),
        1,
        "a key keeps its murmur2 partition without a leader"
    );
    c.set_leader("avail", 1, 1);
    let m = tokio::time::timeout(LIVENESS, keyed)
        .await
        .expect("resolves")
        .expect("delivered once the partition has a leader again");
    assert_eq!(m.partition, 1);
    p.close(Duration::from_secs(2)).await;
}

/// Java: TOPIC_AUTHORIZATION_FAILED in a Metadata answer fails `send` at once with a typed
/// error that names the topic, instead of waiting `max.block.ms`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_authorization_failure_fails_send_at_once() {
    let c = FakeCluster::start(1).await;
    c.create_topic("secret", 1);
    c.set_hook(|r| {
        if r.api_key == METADATA {
            Action::Error(ErrorCode::TOPIC_AUTHORIZATION_FAILED)
        } else {
            Action::Respond
        }
    });
    let p = producer(&c, &[("max.block.ms", "60000")]);
    let e = tokio::time::timeout(LIVENESS, p.send(ProducerRecord::new("secret", "x")))
        .await
        .expect("send returns long before max.block.ms")
        .expect_err("not authorized");
    match &e.error {
        Error::Broker { code, message } => {
            assert_eq!(*code, ErrorCode::TOPIC_AUTHORIZATION_FAILED);
            assert!(message.as_deref().is_some_and(|m| m.contains("'secret'")), "{e}");
        }
        other => panic!("expected a broker error naming the topic, got {other}"),
    }
    p.close(Duration::from_secs(2)).await;
}

/// Java: UNKNOWN_TOPIC_OR_PARTITION with auto-creation off is not final (the topic may be
/// being created): `send` keeps asking until `max.block.ms`, then `TopicNotAvailable`.
/// (Guards the authorization rule above from catching this case; it passed before too.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_topic_without_auto_create_waits_for_max_block() {
    let c = FakeCluster::start(1).await;
    let p = producer(
        &c,
        &[
            ("allow.auto.create.topics", "false"),
            ("max.block.ms", "1000"),
            ("retry.backoff.ms", "50"),
        ],
    );
    let e = tokio::time::timeout(LIVENESS, p.send(ProducerRecord::new("absent", "x")))
        .await
        .expect("returns after max.block.ms")
        .expect_err("never created");
    assert!(
        matches!(&e.error, Error::TopicNotAvailable { topic, cause: Some(cause), .. }
            if topic == "absent" && cause.contains("UNKNOWN_TOPIC_OR_PARTITION")),
        "{e}"
    );
    assert!(metadata_requests(&c) > 1, "kept asking while waiting");
    p.close(Duration::from_secs(2)).await;
}
