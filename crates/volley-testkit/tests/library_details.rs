//! The finer guarantees of the library API (issue 15) against the fake cluster: callback
//! order with concurrent senders, which record a failure gives back, the blocking producer
//! built with interceptors and a partitioner, the blocking typed producer, and
//! `partitions_for` on a partition without a leader.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::background_cluster;
use volley::interceptor::InterceptorError;
use volley::protocol::ErrorCode;
use volley::{
    Acknowledgement, DeliveryError, Error, Header, Interceptor, JsonSerializer, Partitioner, Persistence, Producer,
    ProducerRecord, StringSerializer, TypedRecord,
};
use volley_testkit::fake::{Action, FakeCluster};

const PRODUCE: i16 = 0;
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

/// A Produce hook that rejects every batch (POLICY_VIOLATION: certainly not written).
fn reject_produce(c: &FakeCluster) {
    c.set_hook(|r| {
        if r.api_key == PRODUCE {
            Action::Error(ErrorCode::POLICY_VIOLATION)
        } else {
            Action::Respond
        }
    });
}

/// A record the broker rejected comes back with the explicit partition the caller set (the
/// batch's bytes do not say it was explicit); one the partitioner placed comes back
/// without one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_given_back_keeps_its_explicit_partition() {
    let c = FakeCluster::start(1).await;
    c.create_topic("part", 3);
    reject_produce(&c);
    let p = support::producer(&c, &[("linger.ms", "20")]);
    let pinned = ProducerRecord::new("part", "pinned").key("k").partition(2).timestamp(7);
    let placed = ProducerRecord::new("part", "placed").key("k").timestamp(8);
    let pinned_f = p.send(pinned.clone()).await.expect("queued");
    let placed_f = p.send(placed.clone()).await.expect("queued");
    let e = tokio::time::timeout(LIVENESS, pinned_f)
        .await
        .expect("resolves")
        .expect_err("rejected");
    assert_eq!(e.persistence, Persistence::NotPersisted, "{e}");
    assert_eq!(e.into_record().expect("given back"), pinned, "partition 2 kept");
    let e = tokio::time::timeout(LIVENESS, placed_f)
        .await
        .expect("resolves")
        .expect_err("rejected");
    assert_eq!(e.into_record().expect("given back"), placed, "no partition set");
    // The same through a callback, and through a batch failed while queued (close).
    let (tx, rx) = tokio::sync::oneshot::channel();
    p.send_with_callback(pinned.clone(), move |r| {
        let _ = tx.send(r.map_err(DeliveryError::into_record));
    })
    .await
    .expect("queued");
    let back = tokio::time::timeout(LIVENESS, rx).await.expect("called").expect("sent");
    assert_eq!(back.expect_err("rejected"), Some(pinned.clone()));
    c.set_hook(|r| {
        if r.api_key == PRODUCE {
            Action::Delay(Duration::from_millis(3000))
        } else {
            Action::Respond
        }
    });
    let in_flight = p.send(placed.clone()).await.expect("queued");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let queued = p.send(pinned.clone()).await.expect("queued");
    p.close(Duration::from_millis(100)).await;
    let e = queued.await.expect_err("failed by close while queued");
    assert_eq!(e.persistence, Persistence::NotPersisted, "{e}");
    assert_eq!(e.into_record(), Some(pinned));
    drop(in_flight);
}

/// Adds a header in `on_send`, as a tracing interceptor would.
struct Tracing;

impl Interceptor for Tracing {
    fn on_send(&self, record: &mut ProducerRecord) -> Result<(), InterceptorError> {
        record.headers.push(Header::new("traced", "yes"));
        Ok(())
    }
}

/// With an interceptor that adds a header, a failure gives back the caller's record, not
/// the intercepted one: resending it passes through `on_send` again, and the header is in
/// the log once, not twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_given_back_is_the_callers_not_the_intercepted_one() {
    let c = FakeCluster::start(1).await;
    c.create_topic("traced", 2);
    let p = Producer::builder(support::config(
        &c,
        &[("linger.ms", "20"), ("max.request.size", "1000")],
    ))
    .interceptor(Tracing)
    .build()
    .expect("producer");
    let mine = ProducerRecord::new("traced", "v")
        .key("k")
        .header("mine", "1")
        .partition(1);
    // Refused before it was queued: the SendError's record.
    let big = ProducerRecord::new("traced", vec![b'x'; 2000]).header("mine", "1");
    let e = p.send(big.clone()).await.expect_err("too large");
    assert_eq!(*e.record, big, "the caller's record, without the interceptor's header");
    let e = p.send_and_wait(big.clone()).await.expect_err("too large");
    assert_eq!(e.into_record(), Some(big));
    // Rejected by the broker: the DeliveryError's record, from the future and a callback.
    reject_produce(&c);
    let f = p.send(mine.clone()).await.expect("queued");
    let (tx, rx) = tokio::sync::oneshot::channel();
    p.send_with_callback(mine.clone(), move |r| {
        let _ = tx.send(r.map_err(DeliveryError::into_record));
    })
    .await
    .expect("queued");
    let e = tokio::time::timeout(LIVENESS, f)
        .await
        .expect("resolves")
        .expect_err("rejected");
    assert_eq!(e.persistence, Persistence::NotPersisted, "{e}");
    let back = e.into_record().expect("given back");
    let sent_at = back.timestamp;
    assert_eq!(back.headers, mine.headers, "only the caller's header");
    assert_eq!(
        ProducerRecord {
            timestamp: None,
            ..back.clone()
        },
        mine,
        "key, value, headers and partition as the caller gave them"
    );
    assert!(sent_at.is_some(), "with the timestamp the send used");
    let from_callback = tokio::time::timeout(LIVENESS, rx).await.expect("called").expect("sent");
    let from_callback = from_callback.expect_err("rejected").expect("given back");
    assert_eq!(from_callback.headers, mine.headers);
    assert_eq!(from_callback.partition, Some(1));
    c.clear_hook();
    p.send_and_wait(back).await.expect("resent");
    let log = c.records("traced");
    assert_eq!(log.len(), 1);
    assert_eq!(
        log[0].headers,
        vec![Header::new("mine", "1"), Header::new("traced", "yes")],
        "the interceptor's header once"
    );
    p.close(LIVENESS).await;
}

/// Waits (at most [`LIVENESS`]) until `done` holds.
fn eventually(done: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + LIVENESS;
    while !done() {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

/// Puts every record on the last partition, counting its calls.
#[derive(Debug, Default)]
struct LastPartition {
    calls: AtomicUsize,
}

impl Partitioner for LastPartition {
    fn partition(&self, _topic: &str, _key: Option<&[u8]>, partitions: u32) -> Option<u32> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Some(partitions - 1)
    }
}

/// Counts `on_send` and `on_acknowledgement` calls and tags what it sees.
#[derive(Default)]
struct Counts {
    sent: AtomicUsize,
    acknowledged: AtomicUsize,
}

struct Counting(Arc<Counts>);

impl Interceptor for Counting {
    fn on_send(&self, record: &mut ProducerRecord) -> Result<(), InterceptorError> {
        self.0.sent.fetch_add(1, Ordering::SeqCst);
        record.headers.push(Header::new("seen", "1"));
        Ok(())
    }
    fn on_acknowledgement(&self, ack: &Acknowledgement<'_>) -> Result<(), InterceptorError> {
        if ack.result.is_ok() {
            self.0.acknowledged.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

/// `build_blocking` keeps the builder's partitioner and interceptors: each blocking way of
/// sending calls both.
#[test]
fn build_blocking_calls_the_custom_partitioner_and_interceptors() {
    let (_rt, c) = background_cluster(1);
    c.create_topic("blkb", 3);
    let partitioner = Arc::new(LastPartition::default());
    let counts = Arc::new(Counts::default());
    let p = Producer::builder(support::config(&c, &[]))
        .partitioner(Arc::clone(&partitioner) as Arc<dyn Partitioner>)
        .interceptor(Counting(Arc::clone(&counts)))
        .build_blocking()
        .expect("producer");
    let m = p
        .send_and_wait(ProducerRecord::new("blkb", "a").key("k"))
        .expect("delivered");
    assert_eq!(m.partition, 2, "the custom partitioner placed it");
    let m = p
        .send(ProducerRecord::new("blkb", "b"))
        .expect("queued")
        .wait()
        .expect("delivered");
    assert_eq!(m.partition, 2);
    let (tx, rx) = std::sync::mpsc::channel();
    p.send_with_callback(ProducerRecord::new("blkb", "c").key("other"), move |r| {
        let _ = tx.send(r.map(|m| m.partition).ok());
    })
    .expect("queued");
    assert_eq!(rx.recv_timeout(LIVENESS).expect("called back"), Some(2));
    assert_eq!(partitioner.calls.load(Ordering::SeqCst), 3, "one call per send");
    assert_eq!(counts.sent.load(Ordering::SeqCst), 3, "on_send per send");
    assert!(
        eventually(|| counts.acknowledged.load(Ordering::SeqCst) == 3),
        "on_acknowledgement per record: {}",
        counts.acknowledged.load(Ordering::SeqCst)
    );
    p.close(LIVENESS).expect("closed");
    let log = c.records("blkb");
    assert_eq!(log.len(), 3);
    assert!(log
        .iter()
        .all(|r| r.partition == 2 && r.headers == vec![Header::new("seen", "1")]));
}

#[derive(serde::Serialize)]
struct Click {
    user: String,
    page: u32,
}

/// The blocking typed producer serializes keys and values, from any thread, and its
/// serializer failures are typed errors that send nothing.
#[test]
fn blocking_typed_producer_serializes_and_sends_from_any_thread() {
    let (_rt, c) = background_cluster(1);
    c.create_topic("tblk", 3);
    let p = Producer::builder(support::config(&c, &[]))
        .typed_blocking::<str, Click>(StringSerializer, JsonSerializer)
        .expect("producer");
    let click = Click {
        user: "alice".into(),
        page: 1,
    };
    let m = p
        .send_and_wait(TypedRecord::new("tblk", &click).key("alice").header("v", "1"))
        .expect("delivered");
    assert_eq!(
        i64::from(m.partition),
        i64::from(volley::murmur2_partition(b"alice", 3))
    );
    // Handles, callbacks and clones on other threads.
    let threads: Vec<_> = (0..3u32)
        .map(|t| {
            let p = p.clone();
            std::thread::spawn(move || {
                let user = format!("user-{t}");
                let click = Click {
                    user: user.clone(),
                    page: t,
                };
                let h = p.send(TypedRecord::new("tblk", &click).key(&user)).expect("queued");
                let (tx, rx) = std::sync::mpsc::channel();
                p.send_with_callback(TypedRecord::tombstone("tblk", &user), move |r| {
                    let _ = tx.send(r.is_ok());
                })
                .expect("queued");
                (h.wait().is_ok(), rx.recv_timeout(LIVENESS).unwrap_or(false))
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().expect("thread"), (true, true));
    }
    p.flush(LIVENESS).expect("flushed");
    let log = c.records("tblk");
    assert_eq!(log.len(), 7);
    let first = log
        .iter()
        .find(|r| r.key.as_deref() == Some(&b"alice"[..]))
        .expect("alice");
    assert_eq!(first.value.as_deref(), Some(&br#"{"user":"alice","page":1}"#[..]));
    assert_eq!(first.headers, vec![Header::new("v", "1")]);
    assert_eq!(log.iter().filter(|r| r.value.is_none()).count(), 3, "the tombstones");
    // A serializer that refuses: a typed error, nothing sent.
    struct Refuse;
    impl volley::Serializer<Click> for Refuse {
        fn serialize(&self, _: &str, _: &Click) -> Result<bytes::Bytes, Error> {
            Err(Error::Serialization("refused".into()))
        }
    }
    let strict = volley::blocking::TypedProducer::<str, Click>::new(p.producer().clone(), StringSerializer, Refuse);
    let e = strict.send(TypedRecord::new("tblk", &click)).expect_err("refused");
    assert!(matches!(e, Error::Serialization(_)), "{e}");
    let e = strict
        .send_and_wait(TypedRecord::new("tblk", &click))
        .expect_err("refused");
    assert_eq!(e.persistence, Persistence::NotPersisted);
    assert!(matches!(e.error, Error::Serialization(_)), "{e}");
    p.close(LIVENESS).expect("closed");
    let e = p.send(TypedRecord::new("tblk", &click)).expect_err("closed");
    assert!(matches!(e, Error::Closed { .. }), "{e}");
    assert_eq!(c.records("tblk").len(), 7);
}

/// `partitions_for` as the metadata says: a partition without a leader has `leader: None`
/// (and no leader epoch), the others their leader's epoch, and offline replicas are listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_for_shows_leaderless_partitions_epochs_and_offline_replicas() {
    let c = FakeCluster::start(3).await;
    c.create_topic("shape", 3);
    // Partition 0 keeps its first leader (epoch 0); partition 1 moves twice (epoch 2);
    // partition 2 loses its leader, with broker 3 offline.
    c.set_leader("shape", 1, 3);
    c.set_leader("shape", 1, 1);
    c.set_replicas("shape", 1, &[1, 2, 3], &[1, 2]);
    c.set_offline_replicas("shape", 1, &[3]);
    c.set_leader("shape", 2, -1);
    c.set_replicas("shape", 2, &[3, 1], &[]);
    c.set_offline_replicas("shape", 2, &[3, 1]);
    let p = support::producer(&c, &[]);
    let parts = p.partitions_for("shape").await.expect("metadata");
    assert_eq!(parts.len(), 3);
    let leader = |i: usize| parts[i].leader.as_ref().map(|l| l.id);
    assert_eq!((leader(0), parts[0].leader_epoch), (Some(1), Some(0)));
    assert!(parts[0].offline_replicas.is_empty());
    assert_eq!((leader(1), parts[1].leader_epoch), (Some(1), Some(2)));
    assert_eq!(
        (
            &parts[1].replicas[..],
            &parts[1].isr[..],
            &parts[1].offline_replicas[..]
        ),
        (&[1, 2, 3][..], &[1, 2][..], &[3][..])
    );
    assert_eq!(parts[2].leader, None, "no leader: {:?}", parts[2]);
    assert_eq!(parts[2].leader_epoch, None, "no leader, so no leader epoch");
    assert_eq!(
        (
            &parts[2].replicas[..],
            &parts[2].isr[..],
            &parts[2].offline_replicas[..]
        ),
        (&[3, 1][..], &[][..], &[3, 1][..])
    );
    // Sends still go to the partitions with a leader.
    for i in 0..10 {
        let m = p
            .send_and_wait(ProducerRecord::new("shape", format!("v{i}")))
            .await
            .expect("delivered");
        assert_ne!(m.partition, 2, "a keyless record avoids the leaderless partition");
    }
    p.close(LIVENESS).await;
}
