//! One regression test per defect and Java behaviour of issue 10 that lives in the sender,
//! each on the fake cluster and each named after the promise it guards. Every test here
//! failed on the sender before the reshaping (commit 6d4878a) and passes now.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{deliver, producer, values};
use volley::{Persistence, Producer, ProducerConfig, ProducerRecord};
use volley_protocol::ErrorCode;
use volley_testkit::fake::{Action, FakeCluster};

mod support;

const PRODUCE: i16 = 0;
const METADATA: i16 = 3;
const INIT_PRODUCER_ID: i16 = 22;

/// Issue 10, defect 1: a batch that has a sequence and then expires (or runs out of
/// `retries`) must not leave a hole: the next record of the partition is delivered, and no
/// sequence gap (data loss) is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_expires_or_exhausts_retries_leaves_no_hole() {
    for extra in [None, Some(("retries", "2"))] {
        let c = FakeCluster::start(1).await;
        c.create_topic("hole", 1);
        let failing = Arc::new(AtomicBool::new(false));
        let f = Arc::clone(&failing);
        c.set_hook(move |r| {
            if r.api_key == PRODUCE && f.load(Ordering::SeqCst) {
                Action::Error(ErrorCode::NOT_ENOUGH_REPLICAS)
            } else {
                Action::Respond
            }
        });
        let mut props = vec![
            ("linger.ms", "0"),
            ("request.timeout.ms", "500"),
            ("delivery.timeout.ms", "1500"),
        ];
        props.extend(extra);
        let p = producer(&c, &props);
        deliver(&p, "hole", "k", "a").await.expect("a is delivered");
        failing.store(true, Ordering::SeqCst);
        let b = deliver(&p, "hole", "k", "b").await.expect_err("b fails");
        assert_eq!(b.persistence, Persistence::NotPersisted, "{b}");
        failing.store(false, Ordering::SeqCst);
        let c_meta = deliver(&p, "hole", "k", "c").await;
        assert!(c_meta.is_ok(), "{extra:?}: c must be delivered: {c_meta:?}");
        assert_eq!(p.sequence_gaps(), 0, "{extra:?}: no data loss was reported");
        assert_eq!(values(&c, "hole"), vec!["a", "c"]);
        p.close(Duration::from_secs(2)).await;
    }
}

/// Issue 10, defect 2: a malformed InitProducerId answer (right correlation id, a body that
/// does not decode) is retried like any failed request; the producer is not stuck.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_init_producer_id_answer_is_retried() {
    let c = FakeCluster::start(1).await;
    c.create_topic("pid", 1);
    let answered = Arc::new(AtomicUsize::new(0));
    let a = Arc::clone(&answered);
    c.set_hook(move |r| {
        if r.api_key == INIT_PRODUCER_ID && a.fetch_add(1, Ordering::SeqCst) == 0 {
            Action::GarbageBody
        } else {
            Action::Respond
        }
    });
    let p = producer(
        &c,
        &[
            ("linger.ms", "0"),
            ("delivery.timeout.ms", "5000"),
            ("request.timeout.ms", "2000"),
        ],
    );
    let meta = deliver(&p, "pid", "k", "v").await;
    assert!(meta.is_ok(), "delivered after the retried InitProducerId: {meta:?}");
    assert!(answered.load(Ordering::SeqCst) >= 2);
    p.close(Duration::from_secs(2)).await;
}

/// Issue 10, defect 3: a batch that may already be in the log (its answer was lost) and is
/// then answered MESSAGE_TOO_LARGE must never be split and written again: every record is
/// in the log once, and the records end possibly persisted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_possibly_written_batch_is_never_split_into_duplicates() {
    let c = FakeCluster::start(1).await;
    c.create_topic("split", 1);
    let first = Arc::new(AtomicBool::new(true));
    let f = Arc::clone(&first);
    c.set_hook(move |r| {
        if r.api_key != PRODUCE {
            return Action::Respond;
        }
        if f.swap(false, Ordering::SeqCst) {
            Action::AppendThenDrop
        } else if r.batches.iter().any(|b| b.records > 5) {
            Action::Error(ErrorCode::MESSAGE_TOO_LARGE)
        } else {
            Action::Respond
        }
    });
    let p = producer(&c, &[("linger.ms", "100"), ("enable.idempotence", "true")]);
    let mut futures = Vec::new();
    for i in 0..10 {
        futures.push(
            p.send(ProducerRecord::new("split", format!("v{i}")).key("k"))
                .await
                .expect("queued"),
        );
    }
    for f in futures {
        let e = f.await.expect_err("cannot be confirmed");
        assert_eq!(e.persistence, Persistence::PossiblyPersisted, "{e}");
    }
    let log = values(&c, "split");
    assert_eq!(log.len(), 10, "each record once: {log:?}");
    p.close(Duration::from_secs(2)).await;
}

/// Issue 10, defect 5: a partition without a leader must not cause a Metadata request per
/// drain pass, and a topic that never appears is asked for with a growing backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_requests_back_off_without_a_leader_or_a_topic() {
    let c = FakeCluster::start(1).await;
    c.create_topic("leaderless", 2);
    c.set_leader("leaderless", 1, -1);
    let defaults = [("retry.backoff.ms", "100"), ("retry.backoff.max.ms", "1000")];
    let p = producer(
        &c,
        &[
            defaults[0],
            defaults[1],
            ("linger.ms", "0"),
            ("delivery.timeout.ms", "2500"),
            ("request.timeout.ms", "2000"),
        ],
    );
    deliver(&p, "leaderless", "k", "p0").await.ok();
    let before = c.request_log().iter().filter(|r| r.api_key == METADATA).count();
    let start = Instant::now();
    let r = p
        .send(ProducerRecord::new("leaderless", "p1").partition(1))
        .await
        .expect("queued")
        .await;
    assert!(r.is_err(), "no leader until the delivery timeout");
    let waited = start.elapsed();
    let during = c.request_log().iter().filter(|r| r.api_key == METADATA).count() - before;
    assert!(
        during <= 12,
        "{during} Metadata requests in {waited:?} (2,299 in 2 s before the fix)"
    );
    p.close(Duration::from_secs(2)).await;

    let c = FakeCluster::start(1).await;
    let p = producer(
        &c,
        &[
            defaults[0],
            defaults[1],
            ("max.block.ms", "3000"),
            ("allow.auto.create.topics", "false"),
        ],
    );
    let e = p
        .send(ProducerRecord::new("never", "v"))
        .await
        .expect_err("never appears");
    assert!(matches!(e.error, volley::Error::TopicNotAvailable { .. }), "{e}");
    let asked = c.request_log().iter().filter(|r| r.api_key == METADATA).count();
    assert!(
        asked <= 12,
        "{asked} Metadata requests in 3 s (30 with a fixed retry.backoff.ms)"
    );
    p.close(Duration::from_secs(2)).await;
}

/// Issue 10, defect 7: with acks=0, requests that cannot be written (a broker that stopped
/// reading) still end within `delivery.timeout.ms` + `request.timeout.ms`, and their
/// memory is returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks0_writes_to_a_black_hole_time_out() {
    let c = FakeCluster::start(1).await;
    c.create_topic("acks0", 1);
    let p = producer(
        &c,
        &[
            ("acks", "0"),
            ("linger.ms", "5"),
            ("batch.size", "65536"),
            ("request.timeout.ms", "500"),
            ("delivery.timeout.ms", "1500"),
        ],
    );
    deliver(&p, "acks0", "k", "first").await.expect("written");
    c.set_black_hole(true);
    let value = "x".repeat(1024);
    let mut futures = Vec::new();
    let start = Instant::now();
    // 32 MiB: far more than socket buffers hold.
    for _ in 0..32 * 1024 {
        futures.push(
            p.send(ProducerRecord::new("acks0", value.clone()))
                .await
                .expect("queued"),
        );
    }
    let bound = Duration::from_millis(1500 + 500 + 1000) + start.elapsed();
    let all = tokio::time::timeout(bound + Duration::from_secs(2), async {
        let mut failed = 0;
        for f in futures {
            if f.await.is_err() {
                failed += 1;
            }
        }
        failed
    })
    .await;
    let failed = all.expect("every acks=0 record resolves within its bound");
    assert!(failed > 0, "records stuck behind the black hole fail");
    c.set_black_hole(false);
    p.close(Duration::from_secs(2)).await;
}

/// Issue 10, defect 8: with idempotence off and max.in.flight 1, a key's records keep their
/// order across a leader move (Java mutes the partition while its batch is in flight).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_in_flight_one_keeps_order_across_a_leader_move() {
    let c = FakeCluster::start(2).await;
    c.create_topic("order", 1);
    c.set_leader("order", 0, 1);
    let slow_first = Arc::new(AtomicBool::new(false));
    let s = Arc::clone(&slow_first);
    c.set_hook(move |r| {
        if r.api_key == PRODUCE && r.broker == 1 && s.swap(false, Ordering::SeqCst) {
            // A is rejected slowly (not appended): B must not overtake it on broker 2.
            Action::ErrorAfter(Duration::from_millis(1500), ErrorCode::NOT_LEADER_OR_FOLLOWER)
        } else {
            Action::Respond
        }
    });
    let p = producer(
        &c,
        &[
            ("enable.idempotence", "false"),
            ("acks", "1"),
            ("max.in.flight.requests.per.connection", "1"),
            ("linger.ms", "0"),
            ("metadata.max.age.ms", "100"),
        ],
    );
    deliver(&p, "order", "k", "w").await.expect("w");
    slow_first.store(true, Ordering::SeqCst);
    let a = p
        .send(ProducerRecord::new("order", "A").key("k"))
        .await
        .expect("queued");
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.set_leader("order", 0, 2);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let b = p
        .send(ProducerRecord::new("order", "B").key("k"))
        .await
        .expect("queued");
    let (a, b) = (a.await, b.await);
    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
    assert_eq!(values(&c, "order"), vec!["w", "A", "B"], "send order kept");
    p.close(Duration::from_secs(2)).await;
}

/// Issue 10, defect 9: a fatal InitProducerId error stops the producer at once: queued and
/// later records fail with the broker's error named, well before the delivery timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fatal_init_producer_id_error_fails_every_record_at_once() {
    let c = FakeCluster::start(1).await;
    c.create_topic("auth", 1);
    // InitProducerId goes unanswered (connection closed, a retriable failure) until the
    // first record is queued, so that the fatal answer meets a record already waiting;
    // without the gate the answer could come first and `send` fail before queueing.
    let queued = Arc::new(AtomicBool::new(false));
    let q = Arc::clone(&queued);
    c.set_hook(move |r| {
        if r.api_key != INIT_PRODUCER_ID {
            Action::Respond
        } else if q.load(Ordering::SeqCst) {
            Action::Error(ErrorCode::CLUSTER_AUTHORIZATION_FAILED)
        } else {
            Action::CloseBeforeHandling
        }
    });
    let p = producer(&c, &[("delivery.timeout.ms", "60000")]);
    let start = Instant::now();
    let pending = p
        .send(ProducerRecord::new("auth", "v").key("k"))
        .await
        .expect("queued while the producer id is still being asked for");
    queued.store(true, Ordering::SeqCst);
    let first = pending.await.expect_err("fails");
    assert!(first.to_string().contains("CLUSTER_AUTHORIZATION_FAILED"), "{first}");
    let later = match p.send(ProducerRecord::new("auth", "w")).await {
        Err(e) => e.to_string(),
        Ok(f) => f.await.expect_err("fails").to_string(),
    };
    assert!(later.contains("CLUSTER_AUTHORIZATION_FAILED"), "{later}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "at once, not after delivery.timeout.ms"
    );
    p.close(Duration::from_secs(2)).await;
}

/// Issue 10, defect 10: one partition's epoch bump does not stall or fail other partitions:
/// a batch of another partition that was written (answer lost) while the bump happened is
/// resent under its own epoch and ends delivered, not `EpochChanged`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_epoch_bump_keeps_other_partitions_outcomes() {
    let c = FakeCluster::start(2).await;
    c.create_topic("bump", 2);
    c.set_leader("bump", 0, 1);
    c.set_leader("bump", 1, 2);
    let armed = Arc::new(AtomicBool::new(false));
    let (on1, on2) = (Arc::new(AtomicBool::new(true)), Arc::new(AtomicBool::new(true)));
    let (a, f1, f2) = (Arc::clone(&armed), Arc::clone(&on1), Arc::clone(&on2));
    c.set_hook(move |r| {
        if r.api_key != PRODUCE || !a.load(Ordering::SeqCst) {
            return Action::Respond;
        }
        if r.broker == 1 && f1.swap(false, Ordering::SeqCst) {
            // Partition 0: rejected for good, so its sequences leave a gap and it needs a bump.
            Action::InvalidRecord(0)
        } else if r.broker == 2 && f2.swap(false, Ordering::SeqCst) {
            // Partition 1: written, answer lost.
            Action::AppendThenDrop
        } else {
            Action::Respond
        }
    });
    let p = producer(
        &c,
        &[
            ("linger.ms", "0"),
            ("retry.backoff.ms", "300"),
            ("retry.backoff.max.ms", "300"),
        ],
    );
    let warm0 = p
        .send(ProducerRecord::new("bump", "w0").partition(0))
        .await
        .expect("queued");
    let warm1 = p
        .send(ProducerRecord::new("bump", "w1").partition(1))
        .await
        .expect("queued");
    warm0.await.expect("w0");
    warm1.await.expect("w1");
    armed.store(true, Ordering::SeqCst);
    let x = p
        .send(ProducerRecord::new("bump", "x").partition(1))
        .await
        .expect("queued");
    let y = p
        .send(ProducerRecord::new("bump", "y").partition(0))
        .await
        .expect("queued");
    let y = y.await;
    assert!(y.is_err(), "y is rejected: {y:?}");
    let x = x.await;
    assert!(x.is_ok(), "x is in the log and must end delivered: {x:?}");
    let z = deliver(&p, "bump", "k", "z").await;
    assert!(z.is_ok(), "{z:?}");
    let log = values(&c, "bump");
    assert_eq!(log.iter().filter(|v| *v == "x").count(), 1, "{log:?}");
    p.close(Duration::from_secs(2)).await;
}

/// Issue 10, Java behaviour (rule 8): OUT_OF_ORDER_SEQUENCE_NUMBER at the head of a
/// partition with nothing unresolved bumps the epoch and resends the batch (it was
/// rejected, so not written); the gap is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_at_the_head_is_counted_and_the_batch_resent() {
    let c = FakeCluster::start(1).await;
    c.create_topic("gap", 1);
    let p = producer(&c, &[("linger.ms", "0")]);
    deliver(&p, "gap", "k", "a").await.expect("a");
    c.lose_sequences("gap");
    let b = deliver(&p, "gap", "k", "b").await;
    assert!(b.is_ok(), "resent under a new epoch: {b:?}");
    assert_eq!(p.sequence_gaps(), 1);
    let epochs: std::collections::BTreeSet<i16> = c.records("gap").iter().map(|r| r.producer.1).collect();
    assert_eq!(epochs.len(), 2, "{epochs:?}");
    p.close(Duration::from_secs(2)).await;
}

/// Issue 10, Java behaviour: a Produce request never exceeds `max.request.size`, for new
/// batches as for retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_produce_request_never_exceeds_max_request_size() {
    let c = FakeCluster::start(1).await;
    c.create_topic("cap", 10);
    let p = producer(
        &c,
        &[
            ("linger.ms", "300"),
            ("batch.size", "8000"),
            ("max.request.size", "20000"),
        ],
    );
    let value = "x".repeat(7000);
    let mut futures = Vec::new();
    for part in 0..10 {
        futures.push(
            p.send(ProducerRecord::new("cap", value.clone()).partition(part))
                .await
                .expect("queued"),
        );
    }
    for f in futures {
        f.await.expect("delivered");
    }
    for r in c.request_log().iter().filter(|r| r.api_key == PRODUCE) {
        let bytes: usize = r.batches.iter().map(|b| b.bytes).sum();
        assert!(bytes <= 20_000, "a request of {bytes} bytes of batches");
    }
    p.close(Duration::from_secs(2)).await;
}

/// Issue 10, beyond Java: UNKNOWN_SERVER_ERROR is retried at most twice with idempotence on
/// (a retry cannot duplicate), then fails possibly persisted; with idempotence off it is
/// not retried (as in Java).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_server_error_is_retried_twice_only_when_idempotent() {
    for (idempotent, errors, delivered) in [(true, 2, true), (true, 3, false), (false, 1, false)] {
        let c = FakeCluster::start(1).await;
        c.create_topic("use", 1);
        let left = Arc::new(AtomicUsize::new(errors));
        let l = Arc::clone(&left);
        c.set_hook(move |r| {
            if r.api_key == PRODUCE && l.load(Ordering::SeqCst) > 0 {
                l.fetch_sub(1, Ordering::SeqCst);
                Action::Error(ErrorCode::UNKNOWN_SERVER_ERROR)
            } else {
                Action::Respond
            }
        });
        let mut props = vec![("linger.ms", "0")];
        if !idempotent {
            props.extend([("enable.idempotence", "false"), ("acks", "1")]);
        }
        let p = producer(&c, &props);
        let r = deliver(&p, "use", "k", "v").await;
        match (delivered, r) {
            (true, Ok(_)) => {}
            (false, Err(e)) => assert_eq!(e.persistence, Persistence::PossiblyPersisted, "{e}"),
            (want, got) => panic!("idempotent={idempotent} errors={errors}: want delivered={want}, got {got:?}"),
        }
        p.close(Duration::from_secs(2)).await;
    }
}

/// Issue 10, beyond Java: a batch that ended possibly persisted is announced as persisted
/// (event, count) once a later batch of the same partition and epoch is acknowledged.
/// Timeline (request = delivery timeout = 8 s): b is appended but answered with an
/// uncertain error at 7 s; c, sent at 3 s behind it (pipelined: 4 s before b's answer), is
/// answered at 9.5 s, after b expired (8 s) and before c's own request timeout (11 s): at
/// least 1.5 s of margin on every side for a loaded machine (with 1 s, a CI run under the
/// whole suite's load sent c only after b's answer, and b was delivered by its retry).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_acknowledgement_settles_a_possibly_persisted_batch() {
    volley_testkit::drive::test_logging();
    let c = FakeCluster::start(1).await;
    c.create_topic("settle", 1);
    let t0: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let seen = Arc::new(AtomicUsize::new(0));
    let (t, n) = (Arc::clone(&t0), Arc::clone(&seen));
    c.set_hook(move |r| {
        let Some(t0) = *t.lock().expect("t0") else {
            return Action::Respond;
        };
        if r.api_key != PRODUCE {
            return Action::Respond;
        }
        match n.fetch_add(1, Ordering::SeqCst) {
            // The waits are the broker's (after the hook returns), never a sleep in the hook:
            // that held the fake's lock and a runtime thread, and the sender, stuck behind
            // it, sent c only after b's answer (CI failure, then 1 in 2 local runs).
            0 => Action::AppendThenErrorAfter(
                (t0 + Duration::from_millis(7000)).saturating_duration_since(Instant::now()),
                ErrorCode::REQUEST_TIMED_OUT,
            ),
            1 => Action::Delay((t0 + Duration::from_millis(9500)).saturating_duration_since(Instant::now())),
            _ => Action::Respond,
        }
    });
    let p = producer(
        &c,
        &[
            ("linger.ms", "0"),
            ("request.timeout.ms", "8000"),
            ("delivery.timeout.ms", "8000"),
        ],
    );
    let events = Arc::new(Mutex::new(Vec::new()));
    let e = Arc::clone(&events);
    p.on_settled(move |s| e.lock().expect("events").push(s.clone()));
    deliver(&p, "settle", "k", "a").await.expect("a");
    *t0.lock().expect("t0") = Some(Instant::now());
    let b = p
        .send(ProducerRecord::new("settle", "b").key("k"))
        .await
        .expect("queued");
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let c2 = p
        .send(ProducerRecord::new("settle", "c").key("k"))
        .await
        .expect("queued");
    let b = b.await.expect_err("b expired after an uncertain answer");
    assert_eq!(b.persistence, Persistence::PossiblyPersisted, "{b}");
    c2.await.expect("c is acknowledged");
    let events = events.lock().expect("events").clone();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(Some(events[0].batch), b.batch, "the event names b's batch");
    assert_eq!(p.possibly_persisted_settled(), 1);
    assert_eq!(values(&c, "settle"), vec!["a", "b", "c"]);
    p.close(Duration::from_secs(2)).await;
}

/// Issue 10, rule 5 after a leader move: the new leader has no state for the producer, so
/// the first batch there goes alone until it is confirmed; a failed first batch cannot be
/// overtaken by a pipelined second one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_batch_after_a_leader_move_with_lost_producer_state_goes_alone() {
    let c = FakeCluster::start(2).await;
    c.create_topic("move", 1);
    c.set_leader("move", 0, 1);
    let armed = Arc::new(AtomicBool::new(false));
    let a = Arc::clone(&armed);
    c.set_hook(move |r| {
        if r.api_key == PRODUCE && r.broker == 2 && a.swap(false, Ordering::SeqCst) {
            // The first batch at the new leader is rejected slowly: a second one pipelined
            // behind it would land first (the broker has no state for the producer).
            Action::ErrorAfter(Duration::from_millis(500), ErrorCode::NOT_ENOUGH_REPLICAS)
        } else {
            Action::Respond
        }
    });
    let p = producer(
        &c,
        &[
            ("linger.ms", "0"),
            ("batch.size", "100"),
            ("metadata.max.age.ms", "100"),
        ],
    );
    for i in 0..20 {
        deliver(&p, "move", "k", &format!("before{i}")).await.expect("before");
    }
    c.set_leader("move", 0, 2);
    c.forget_producers();
    armed.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut futures = Vec::new();
    for i in 0..20 {
        futures.push(
            p.send(ProducerRecord::new("move", format!("after{i}")).key("k"))
                .await
                .expect("queued"),
        );
    }
    for f in futures {
        f.await.expect("delivered");
    }
    let log = values(&c, "move");
    let after: Vec<&String> = log.iter().filter(|v| v.starts_with("after")).collect();
    let want: Vec<String> = (0..20).map(|i| format!("after{i}")).collect();
    assert_eq!(after, want.iter().collect::<Vec<_>>(), "per-key order kept");
    p.close(Duration::from_secs(2)).await;
}

/// Issue 10, Java behaviour (KIP-951): a NOT_LEADER_OR_FOLLOWER answer that names the new
/// leader moves the batch there at once, without waiting for a metadata refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_hint_in_the_produce_answer_is_used_without_a_refresh() {
    let c = FakeCluster::start(2).await;
    c.create_topic("hint", 1);
    c.set_leader("hint", 0, 1);
    c.leader_hints(true);
    let p = producer(&c, &[("linger.ms", "0"), ("metadata.max.age.ms", "300000")]);
    deliver(&p, "hint", "k", "a").await.expect("a");
    c.set_leader("hint", 0, 2);
    let before = c.request_log().iter().filter(|r| r.api_key == METADATA).count();
    deliver(&p, "hint", "k", "b").await.expect("b");
    let log = c.request_log();
    let after = log.iter().filter(|r| r.api_key == METADATA).count();
    assert_eq!(after, before, "no Metadata request was needed");
    assert!(
        log.iter().any(|r| r.api_key == PRODUCE && r.broker == 2),
        "b went to the new leader"
    );
    assert_eq!(values(&c, "hint"), vec!["a", "b"]);
    p.close(Duration::from_secs(2)).await;
}

/// Issue 10, Java behaviour (KIP-320): a broker whose metadata is behind (an older leader
/// epoch) does not move a partition back to its former leader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_metadata_does_not_move_a_partition_back() {
    let c = FakeCluster::start(2).await;
    c.create_topic("stale", 1);
    c.set_leader("stale", 0, 1);
    c.freeze_metadata(1);
    c.set_leader("stale", 0, 2);
    // Kafka 4.x names the leader in NOT_LEADER_OR_FOLLOWER answers: that is how a producer
    // that first believed the stale broker learns the newer epoch.
    c.leader_hints(true);
    // Bootstrap through the stale broker only, so that it is the one asked.
    let stale = c.address(1).expect("broker 1").to_string();
    let config = ProducerConfig::from_properties([
        ("bootstrap.servers", stale.as_str()),
        ("linger.ms", "0"),
        ("metadata.max.age.ms", "50"),
        ("retry.backoff.ms", "20"),
    ])
    .expect("config");
    let p = Producer::new(config).expect("producer");
    // Until it has seen epoch 2 the producer may follow broker 1's stale view once.
    deliver(&p, "stale", "k", "first").await.expect("first");
    let start = c.request_log().len();
    for i in 0..20 {
        deliver(&p, "stale", "k", &format!("v{i}")).await.expect("delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = c.request_log();
    let metadata_from_1 = log[start..]
        .iter()
        .filter(|r| r.api_key == METADATA && r.broker == 1)
        .count();
    let produce_to_1 = log[start..]
        .iter()
        .filter(|r| r.api_key == PRODUCE && r.broker == 1)
        .count();
    assert!(metadata_from_1 > 0, "the stale broker was asked (the test needs it)");
    assert_eq!(produce_to_1, 0, "no batch went back to the former leader");
    p.close(Duration::from_secs(2)).await;
}

/// Issue 10, Java 4.x behaviour: with `metadata.recovery.strategy=rebootstrap` a producer
/// whose known brokers stopped answering dials the bootstrap servers again and finds the
/// cluster where it is now; with `none` it keeps trying the brokers it knew.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn black_holed_known_brokers_healthy_bootstrap_rebootstraps() {
    use volley_testkit::proxy::{FaultProxy, Faults};
    for (strategy, delivered) in [("rebootstrap", true), ("none", false)] {
        let c = FakeCluster::start(1).await;
        c.create_topic("reboot", 1);
        let direct = c.address(1).expect("broker 1");
        let (listener, _) = FaultProxy::bind().await.expect("bind");
        let proxy = FaultProxy::start(listener, direct, 1);
        c.advertise(1, proxy.addr());
        let p = producer(
            &c,
            &[
                ("linger.ms", "0"),
                ("request.timeout.ms", "1000"),
                ("delivery.timeout.ms", "8000"),
                ("metadata.max.age.ms", "500"),
                ("metadata.recovery.strategy", strategy),
                ("metadata.recovery.rebootstrap.trigger.ms", "2000"),
            ],
        );
        deliver(&p, "reboot", "k", "a")
            .await
            .expect("a, through the advertised proxy");
        proxy.set(Faults {
            black_hole: true,
            ..Faults::default()
        });
        // The cluster moved: the bootstrap address (the broker itself) is where it is now.
        c.advertise(1, direct);
        let b = deliver(&p, "reboot", "k", "b").await;
        assert_eq!(b.is_ok(), delivered, "{strategy}: {b:?}");
        p.close(Duration::from_secs(2)).await;
    }
}

/// Found in review of issue 10: a topic dropped after `metadata.max.idle.ms` must keep its
/// partitions' sequence state. Starting over at sequence 0 under the same epoch made the
/// broker take the next record for a duplicate: reported persisted, never written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_dropped_as_idle_keeps_its_sequences() {
    let c = FakeCluster::start(1).await;
    c.create_topic("idle", 1);
    c.create_topic("busy", 1);
    let p = producer(&c, &[("linger.ms", "0"), ("metadata.max.idle.ms", "5000")]);
    deliver(&p, "idle", "k", "a").await.expect("a");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(7) {
        deliver(&p, "busy", "k", "x").await.expect("busy");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let b = deliver(&p, "idle", "k", "b").await.expect("b");
    assert_eq!(values(&c, "idle"), vec!["a", "b"], "b is in the log");
    assert_eq!(b.offset, Some(1));
    assert_eq!(p.sequence_gaps(), 0);
    p.close(Duration::from_secs(2)).await;
}

/// Found in review of issue 10: while a batch is still in flight to the old leader, nothing
/// is pipelined to the new one (rule 5); a rejected X must not be overtaken by Y on a
/// broker that has no state for the producer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_overtakes_a_batch_in_flight_to_the_former_leader() {
    let c = FakeCluster::start(2).await;
    c.create_topic("overtake", 1);
    c.set_leader("overtake", 0, 1);
    let armed = Arc::new(AtomicBool::new(false));
    let a = Arc::clone(&armed);
    c.set_hook(move |r| {
        if r.api_key == PRODUCE && r.broker == 1 && a.swap(false, Ordering::SeqCst) {
            Action::ErrorAfter(Duration::from_millis(1500), ErrorCode::NOT_LEADER_OR_FOLLOWER)
        } else {
            Action::Respond
        }
    });
    let p = producer(&c, &[("linger.ms", "0"), ("metadata.max.age.ms", "100")]);
    for i in 0..5 {
        deliver(&p, "overtake", "k", &format!("w{i}")).await.expect("warm-up");
    }
    armed.store(true, Ordering::SeqCst);
    let x = p
        .send(ProducerRecord::new("overtake", "X").key("k"))
        .await
        .expect("queued");
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.set_leader("overtake", 0, 2);
    c.forget_producers();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let y = p
        .send(ProducerRecord::new("overtake", "Y").key("k"))
        .await
        .expect("queued");
    let (x, y) = (x.await, y.await);
    assert!(x.is_ok() && y.is_ok(), "{x:?} {y:?}");
    let log = values(&c, "overtake");
    assert_eq!(&log[log.len() - 2..], &["X".to_owned(), "Y".to_owned()], "{log:?}");
    assert_eq!(p.sequence_gaps(), 0, "no false gap");
    p.close(Duration::from_secs(2)).await;
}
