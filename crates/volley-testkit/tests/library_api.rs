//! The library API of issue 15 against the fake cluster: the blocking producer, records
//! given back on failure, `send_and_wait`, callbacks, interceptors, typed producing,
//! `partitions_for`, and what dropping a delivery future means.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use support::background_cluster;
use volley::interceptor::InterceptorError;
use volley::protocol::ErrorCode;
use volley::{
    Acknowledgement, Error, Interceptor, JsonSerializer, Persistence, Producer, ProducerConfig, ProducerRecord,
    RecordRef, StringSerializer, TypedRecord,
};
use volley_testkit::fake::{Action, FakeCluster};

const PRODUCE: i16 = 0;
/// A bound for liveness checks only.
const LIVENESS: Duration = Duration::from_secs(10);

fn config(c: &FakeCluster, props: &[(&str, &str)]) -> ProducerConfig {
    let mut all = vec![("bootstrap.servers".to_owned(), c.bootstrap())];
    all.extend(props.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    ProducerConfig::from_properties(all).expect("config")
}

#[test]
fn new_outside_a_runtime_is_a_typed_error_naming_the_fix() {
    let config = ProducerConfig::from_properties([("bootstrap.servers", "127.0.0.1:9")]).expect("config");
    let e = Producer::new(config).expect_err("no runtime here");
    assert!(matches!(e, Error::NoRuntime), "{e}");
    assert!(e.to_string().contains("volley::blocking::Producer"), "{e}");
}

#[test]
fn blocking_producer_sends_waits_flushes_and_closes_from_any_thread() {
    let (_rt, c) = background_cluster(1);
    c.create_topic("blk", 2);
    let p = volley::blocking::Producer::new(config(&c, &[])).expect("producer");
    let meta = p
        .send_and_wait(ProducerRecord::new("blk", "one").key("k"))
        .expect("delivered");
    assert_eq!(meta.offset, Some(0));
    // From several threads at once, through clones of one handle.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let p = p.clone();
            std::thread::spawn(move || {
                let handles: Vec<_> = (0..25)
                    .map(|i| p.send(ProducerRecord::new("blk", format!("{t}-{i}"))).expect("queued"))
                    .collect();
                let mut delivered = 0;
                for h in handles {
                    h.wait().expect("delivered");
                    delivered += 1;
                }
                delivered
            })
        })
        .collect();
    let sent: usize = threads.into_iter().map(|t| t.join().expect("thread")).sum();
    assert_eq!(sent, 100);
    let mut h = p.send(ProducerRecord::new("blk", "last")).expect("queued");
    p.flush(LIVENESS).expect("flushed");
    assert!(h.wait_timeout(Duration::ZERO).expect("known after flush").is_ok());
    p.close(LIVENESS).expect("closed");
    let e = p.send(ProducerRecord::new("blk", "after")).expect_err("closed");
    assert!(matches!(e.error, Error::Closed { .. }));
    assert_eq!(e.into_record().value.as_deref(), Some(&b"after"[..]));
    assert_eq!(c.records("blk").len(), 102);
}

#[test]
fn blocking_wait_timeout_and_flush_timeout_give_up_and_can_wait_again() {
    let (_rt, c) = background_cluster(1);
    c.create_topic("slow", 1);
    let p = volley::blocking::Producer::new(config(&c, &[])).expect("producer");
    p.send_and_wait(ProducerRecord::new("slow", "warm")).expect("delivered");
    c.set_hook(|r| {
        if r.api_key == PRODUCE {
            Action::Delay(Duration::from_millis(800))
        } else {
            Action::Respond
        }
    });
    let mut h = p.send(ProducerRecord::new("slow", "late")).expect("queued");
    assert!(h.wait_timeout(Duration::from_millis(100)).is_none(), "answer is late");
    let e = p.flush(Duration::from_millis(50)).expect_err("flush gives up");
    assert!(matches!(e, Error::TimedOut { what: "flush", .. }), "{e}");
    assert!(h.wait_timeout(LIVENESS).expect("answered").is_ok());
    p.close(LIVENESS).expect("closed");
}

/// Every blocking call made from a delivery callback returns: the callback thread is not the
/// sender, so nothing the producer waits for waits for the callback.
#[test]
fn blocking_calls_from_a_delivery_callback_do_not_deadlock() {
    let (_rt, c) = background_cluster(1);
    c.create_topic("cb", 1);
    let p = volley::blocking::Producer::new(config(&c, &[])).expect("producer");
    let (tx, rx) = mpsc::channel();
    let inner = p.clone();
    p.send_with_callback(ProducerRecord::new("cb", "first"), move |r| {
        r.expect("first delivered");
        let second = inner.send_and_wait(ProducerRecord::new("cb", "from the callback"));
        let third = inner.send(ProducerRecord::new("cb", "queued from the callback"));
        let flushed = inner.flush(LIVENESS);
        let parts = inner.partitions_for("cb").map(|v| v.len());
        let closed = inner.close(LIVENESS);
        let _ = tx.send((
            second.is_ok(),
            third.is_ok(),
            flushed.is_ok(),
            parts.ok(),
            closed.is_ok(),
        ));
    })
    .expect("queued");
    let got = rx.recv_timeout(LIVENESS).expect("the callback finished");
    assert_eq!(got, (true, true, true, Some(1), true));
    assert_eq!(c.records("cb").len(), 3);
}

/// Bootstrapping before any topic is used (issue 16: kafka-python's constructor does): one
/// metadata request, answered; known brokers answer at once; nothing listening times out.
#[test]
fn blocking_bootstrap_waits_for_a_broker_and_times_out_without_one() {
    const METADATA: i16 = 3;
    let (_rt, c) = background_cluster(1);
    let p = volley::blocking::Producer::new(config(&c, &[])).expect("producer");
    p.bootstrap(LIVENESS).expect("a broker answered");
    p.bootstrap(Duration::ZERO).expect("the brokers are known now");
    let asked = c.request_log().iter().filter(|r| r.api_key == METADATA).count();
    assert_eq!(asked, 1, "one metadata request");
    let nobody = ProducerConfig::from_properties([("bootstrap.servers", "127.0.0.1:9")]).expect("config");
    let q = volley::blocking::Producer::new(nobody).expect("producer");
    let e = q.bootstrap(Duration::from_millis(200)).expect_err("nothing listens");
    assert!(matches!(e, Error::TimedOut { what: "bootstrap", .. }), "{e}");
}

/// A send waiting for metadata is interrupted between slices when asked (a binding's
/// Ctrl-C): the record is dropped unsent and its callback never runs; a send that is not
/// interrupted is queued and delivered as usual.
#[test]
fn an_interrupted_send_drops_the_record_and_one_not_interrupted_is_delivered() {
    let (_rt, c) = background_cluster(1);
    c.create_topic("here", 1);
    let p = volley::blocking::Producer::new(config(&c, &[("allow.auto.create.topics", "false")])).expect("producer");
    let called = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&called);
    let mut checks = 0;
    let sent = p.send_with_callback_interruptible(
        ProducerRecord::new("missing", "v"),
        move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
        },
        Duration::from_millis(20),
        || {
            checks += 1;
            (checks == 3).then_some("interrupted")
        },
    );
    assert!(matches!(sent, Err("interrupted")));
    assert_eq!(checks, 3);
    let (tx, rx) = mpsc::channel();
    p.send_with_callback_interruptible(
        ProducerRecord::new("here", "v"),
        move |r| {
            let _ = tx.send(r.is_ok());
        },
        Duration::from_millis(20),
        || None::<()>,
    )
    .expect("not interrupted")
    .expect("queued");
    assert!(rx.recv_timeout(LIVENESS).expect("outcome"));
    p.close(LIVENESS).expect("closed");
    assert_eq!(
        called.load(Ordering::SeqCst),
        0,
        "the dropped record's callback never ran"
    );
    assert_eq!(c.records("here").len(), 1);
}

/// `send_ref_with_callback_around_wait` calls `around_wait` only for a send that has to wait
/// (a binding releases its interpreter lock then, and only then): not for a record whose
/// topic is known, once for one whose metadata it waits for (here interrupted).
#[test]
fn around_wait_runs_only_when_a_send_waits() {
    let (_rt, c) = background_cluster(1);
    c.create_topic("here", 1);
    let p = volley::blocking::Producer::new(config(&c, &[("allow.auto.create.topics", "false")])).expect("producer");
    p.send(ProducerRecord::new("here", "warm"))
        .expect("queued")
        .wait()
        .expect("delivered");
    let waits = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel();
    p.send_ref_with_callback_around_wait(
        RecordRef::new("here", b"v"),
        move |r| {
            let _ = tx.send(r.is_ok());
        },
        Duration::from_millis(20),
        || None::<()>,
        |wait| {
            waits.fetch_add(1, Ordering::SeqCst);
            wait()
        },
    )
    .expect("not interrupted")
    .expect("queued");
    assert!(rx.recv_timeout(LIVENESS).expect("outcome"));
    assert_eq!(waits.load(Ordering::SeqCst), 0, "a send that did not wait");
    let mut checks = 0;
    let sent = p.send_ref_with_callback_around_wait(
        RecordRef::new("missing", b"v"),
        |_| {},
        Duration::from_millis(20),
        || {
            checks += 1;
            (checks == 2).then_some("interrupted")
        },
        |wait| {
            waits.fetch_add(1, Ordering::SeqCst);
            wait()
        },
    );
    assert!(matches!(sent, Err("interrupted")));
    assert_eq!(waits.load(Ordering::SeqCst), 1, "a send that waited for metadata");
    p.close(LIVENESS).expect("closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_send_gives_the_record_back() {
    let c = FakeCluster::start(1).await;
    let p = Producer::new(config(&c, &[("max.request.size", "1000")])).expect("producer");
    let record = ProducerRecord::new("bad topic", "v").key("k").header("h", "1");
    let e = p.send(record.clone()).await.expect_err("invalid topic");
    assert!(matches!(e.error, Error::InvalidTopic { .. }), "{e}");
    assert_eq!(*e.record, record);
    let big = ProducerRecord::new("ok", vec![b'x'; 2000]);
    let (error, back) = p.send(big.clone()).await.expect_err("too large").into_parts();
    assert!(matches!(error, Error::RecordTooLarge { .. }), "{error}");
    assert_eq!(back, big);
    // send_and_wait: the same refusal is a not-persisted delivery error carrying the record.
    let e = p.send_and_wait(record.clone()).await.expect_err("invalid topic");
    assert_eq!(e.persistence, Persistence::NotPersisted);
    assert_eq!(e.into_record().expect("record back"), record);
}

/// `Producer::check` says what `send` would refuse at once, without sending: a bad topic
/// name, a record over `max.request.size` or `buffer.memory` (naming the setting); a record
/// that fits passes, and checking sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_refuses_what_send_would_refuse_at_once() {
    let c = FakeCluster::start(1).await;
    let p = Producer::new(config(&c, &[("max.request.size", "1000"), ("buffer.memory", "600")])).expect("producer");
    let e = p.check(&RecordRef::new("bad topic", b"v")).expect_err("invalid topic");
    assert!(matches!(e, Error::InvalidTopic { .. }), "{e}");
    let e = p.check(&RecordRef::new("ok", &[b'x'; 2000])).expect_err("too large");
    assert!(
        matches!(
            e,
            Error::RecordTooLarge {
                setting: "max.request.size",
                ..
            }
        ),
        "{e}"
    );
    let e = p
        .check(&RecordRef::new("ok", &[b'x'; 550]))
        .expect_err("over buffer.memory");
    assert!(
        matches!(
            e,
            Error::RecordTooLarge {
                setting: "buffer.memory",
                ..
            }
        ),
        "{e}"
    );
    p.check(&RecordRef::new("ok", b"fits")).expect("fits");
    assert!(c.records("ok").is_empty(), "check sends nothing");
    p.close(LIVENESS).await;
}

/// A batch the broker rejected (certainly not written) gives every record back, decoded from
/// the batch's bytes; resending them delivers them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_not_persisted_delivery_error_carries_the_record_for_resending() {
    let c = FakeCluster::start(1).await;
    c.create_topic("rej", 1);
    c.set_hook(|r| {
        if r.api_key == PRODUCE {
            Action::Error(ErrorCode::POLICY_VIOLATION)
        } else {
            Action::Respond
        }
    });
    let p = Producer::new(config(&c, &[("linger.ms", "50"), ("compression.type", "gzip")])).expect("producer");
    let records: Vec<ProducerRecord> = (0..5)
        .map(|i| {
            ProducerRecord::new("rej", format!("value-{i}"))
                .key(format!("key-{i}"))
                .header("n", i.to_string())
                .timestamp(1_700_000_000_000 + i)
        })
        .collect();
    let mut futures = Vec::new();
    for r in &records {
        futures.push(p.send(r.clone()).await.expect("queued"));
    }
    let mut back = Vec::new();
    for f in futures {
        let e = tokio::time::timeout(LIVENESS, f)
            .await
            .expect("resolves")
            .expect_err("rejected");
        assert_eq!(e.persistence, Persistence::NotPersisted, "{e}");
        back.push(e.into_record().expect("the record comes back"));
    }
    assert_eq!(back, records, "key, value, headers and timestamp as sent");
    c.clear_hook();
    for r in back {
        p.send_and_wait(r).await.expect("resent");
    }
    assert_eq!(c.records("rej").len(), 5);
    p.close(LIVENESS).await;
}

/// Records still queued when `close` gives up fail as not persisted and come back (from the
/// accumulator's open batch); the one in flight is possibly persisted and does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_records_failed_by_close_come_back() {
    let c = FakeCluster::start(1).await;
    c.create_topic("held", 1);
    c.set_hook(|r| {
        if r.api_key == PRODUCE {
            Action::Delay(Duration::from_millis(3000))
        } else {
            Action::Respond
        }
    });
    let p = Producer::new(config(&c, &[("linger.ms", "0")])).expect("producer");
    let first = p.send(ProducerRecord::new("held", "in flight")).await.expect("queued");
    // Until the first batch is acknowledged the partition sends one batch at a time, so the
    // next records stay queued.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = p
        .send(ProducerRecord::new("held", "queued").key("k"))
        .await
        .expect("queued");
    p.close(Duration::from_millis(200)).await;
    let e = first.await.expect_err("closed while in flight");
    assert_eq!(e.persistence, Persistence::PossiblyPersisted);
    assert!(e.record().is_none(), "a possibly persisted record is not handed back");
    let e = second.await.expect_err("closed while queued");
    assert_eq!(e.persistence, Persistence::NotPersisted, "{e}");
    let r = e.into_record().expect("record back");
    assert_eq!(
        (r.key.as_deref(), r.value.as_deref()),
        (Some(&b"k"[..]), Some(&b"queued"[..]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_run_in_completion_order_per_partition() {
    let c = FakeCluster::start(2).await;
    c.create_topic("order", 4);
    let p = Producer::new(config(&c, &[("linger.ms", "1"), ("batch.size", "200")])).expect("producer");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let n = 400;
    for i in 0..n {
        let seen = Arc::clone(&seen);
        p.send_with_callback(
            ProducerRecord::new("order", format!("v{i}")).key(format!("k{}", i % 7)),
            move |r| {
                let m = r.expect("delivered");
                seen.lock()
                    .expect("lock")
                    .push((m.partition, m.offset.expect("offset"), i));
            },
        )
        .await
        .expect("queued");
    }
    p.flush().await;
    let deadline = std::time::Instant::now() + LIVENESS;
    while seen.lock().expect("lock").len() < n && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), n, "every callback ran once");
    for part in 0..4 {
        let offsets: Vec<i64> = seen.iter().filter(|s| s.0 == part).map(|s| s.1).collect();
        let expected: Vec<i64> = (0..i64::try_from(offsets.len()).unwrap()).collect();
        assert_eq!(offsets, expected, "partition {part}: callbacks in offset order");
    }
    let m = p
        .send_and_wait(ProducerRecord::new("order", "x").partition(3))
        .await
        .expect("delivered");
    assert_eq!(m.partition, 3);
    p.close(LIVENESS).await;
}

#[derive(Default)]
struct Audit {
    events: Mutex<Vec<String>>,
}

struct Tagging(Arc<Audit>);

impl Interceptor for Tagging {
    fn on_send(&self, record: &mut ProducerRecord) -> Result<(), InterceptorError> {
        self.0
            .events
            .lock()
            .expect("lock")
            .push(format!("send1 {}", record.topic));
        record.headers.push(volley::Header::new("traced", "yes"));
        Ok(())
    }
    fn on_acknowledgement(&self, ack: &Acknowledgement<'_>) -> Result<(), InterceptorError> {
        let what = if ack.result.is_ok() { "ok" } else { "err" };
        self.0
            .events
            .lock()
            .expect("lock")
            .push(format!("ack1 {} {what}", ack.topic));
        Ok(())
    }
}

struct Faulty(Arc<Audit>);

impl Interceptor for Faulty {
    fn on_send(&self, _record: &mut ProducerRecord) -> Result<(), InterceptorError> {
        self.0.events.lock().expect("lock").push("send2".into());
        panic!("an interceptor bug");
    }
    fn on_acknowledgement(&self, _ack: &Acknowledgement<'_>) -> Result<(), InterceptorError> {
        self.0.events.lock().expect("lock").push("ack2".into());
        Err("cannot record this".into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interceptors_run_in_javas_order_and_their_failures_do_not_fail_sends() {
    let c = FakeCluster::start(1).await;
    c.create_topic("icp", 1);
    let audit = Arc::new(Audit::default());
    let p = Producer::builder(config(&c, &[]))
        .interceptor(Tagging(Arc::clone(&audit)))
        .interceptor(Faulty(Arc::clone(&audit)))
        .build()
        .expect("producer");
    let a = Arc::clone(&audit);
    let (tx, rx) = tokio::sync::oneshot::channel();
    p.send_with_callback(ProducerRecord::new("icp", "v"), move |r| {
        a.events.lock().expect("lock").push("callback".into());
        let _ = tx.send(r.is_ok());
    })
    .await
    .expect("queued despite the panicking interceptor");
    assert!(tokio::time::timeout(LIVENESS, rx)
        .await
        .expect("callback")
        .expect("sent"));
    assert_eq!(
        *audit.events.lock().expect("lock"),
        ["send1 icp", "send2", "ack1 icp ok", "ack2", "callback"],
        "on_send in order, then on_acknowledgement in order, then the callback"
    );
    let log = c.records("icp");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].headers, vec![volley::Header::new("traced", "yes")]);
    // A send refused at once is acknowledged at once, with the error.
    audit.events.lock().expect("lock").clear();
    p.send(ProducerRecord::new("no such/topic", "v"))
        .await
        .expect_err("invalid");
    assert_eq!(
        *audit.events.lock().expect("lock"),
        ["send1 no such/topic", "send2", "ack1 no such/topic err", "ack2"]
    );
    p.close(LIVENESS).await;
}

/// The reverse faults of the test above: `on_send` returning an error, `on_acknowledgement`
/// panicking. Neither fails the send or loses the callback, and the callback thread survives
/// the panic (a second record is acknowledged and called back too).
struct ErringThenPanicking(Arc<Audit>);

impl Interceptor for ErringThenPanicking {
    fn on_send(&self, _record: &mut ProducerRecord) -> Result<(), InterceptorError> {
        self.0.events.lock().expect("lock").push("send err".into());
        Err("cannot trace this".into())
    }
    fn on_acknowledgement(&self, _ack: &Acknowledgement<'_>) -> Result<(), InterceptorError> {
        self.0.events.lock().expect("lock").push("ack panic".into());
        panic!("an acknowledgement bug");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erring_on_send_and_a_panicking_on_acknowledgement_fail_nothing() {
    let c = FakeCluster::start(1).await;
    c.create_topic("icp2", 1);
    let audit = Arc::new(Audit::default());
    let p = Producer::builder(config(&c, &[]))
        .interceptor(ErringThenPanicking(Arc::clone(&audit)))
        .interceptor(Tagging(Arc::clone(&audit)))
        .build()
        .expect("producer");
    for round in 0..2 {
        audit.events.lock().expect("lock").clear();
        let a = Arc::clone(&audit);
        let (tx, rx) = tokio::sync::oneshot::channel();
        p.send_with_callback(ProducerRecord::new("icp2", "v"), move |r| {
            a.events.lock().expect("lock").push("callback".into());
            let _ = tx.send(r.is_ok());
        })
        .await
        .expect("queued despite the erring interceptor");
        assert!(
            tokio::time::timeout(LIVENESS, rx)
                .await
                .expect("callback")
                .expect("sent"),
            "round {round}: delivered"
        );
        assert_eq!(
            *audit.events.lock().expect("lock"),
            ["send err", "send1 icp2", "ack panic", "ack1 icp2 ok", "callback"],
            "round {round}: the next interceptor and the callback still run"
        );
    }
    assert_eq!(c.records("icp2").len(), 2);
    p.close(LIVENESS).await;
}

#[derive(serde::Serialize)]
struct Click {
    user: String,
    page: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_producer_serializes_keys_and_values() {
    let c = FakeCluster::start(1).await;
    c.create_topic("typed", 3);
    let p = Producer::builder(config(&c, &[]))
        .typed::<str, Click>(StringSerializer, JsonSerializer)
        .expect("producer");
    let click = Click {
        user: "alice".into(),
        page: "/home".into(),
    };
    let m = p
        .send_and_wait(TypedRecord::new("typed", &click).key("alice").header("v", "1"))
        .await
        .expect("delivered");
    let expected = volley::murmur2_partition(b"alice", 3);
    assert_eq!(i64::from(m.partition), i64::from(expected));
    let r = &c.records("typed")[0];
    assert_eq!(r.key.as_deref(), Some(&b"alice"[..]));
    assert_eq!(r.value.as_deref(), Some(&br#"{"user":"alice","page":"/home"}"#[..]));
    // A tombstone, and a user serializer failing: a typed error, nothing sent.
    p.send(TypedRecord::tombstone("typed", "alice"))
        .await
        .expect("queued")
        .await
        .expect("delivered");
    struct Refuse;
    impl volley::Serializer<u8> for Refuse {
        fn serialize(&self, _: &str, _: &u8) -> Result<bytes::Bytes, Error> {
            Err(Error::Serialization("no".into()))
        }
    }
    let strict = volley::TypedProducer::<str, u8>::from_shared(Arc::clone(p.producer()), StringSerializer, Refuse);
    let e = strict.send(TypedRecord::new("typed", &1u8)).await.expect_err("refused");
    assert!(matches!(e, Error::Serialization(_)), "{e}");
    p.close(LIVENESS).await;
    assert_eq!(c.records("typed").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_for_names_leader_replicas_and_isr() {
    let c = FakeCluster::start(3).await;
    c.create_topic("layout", 3);
    // Replication factor 3 with one replica out of sync, so replicas and ISR differ.
    for p in 0..3 {
        let leader = p % 3 + 1;
        let others = [leader % 3 + 1, (leader + 1) % 3 + 1];
        c.set_replicas("layout", p, &[leader, others[0], others[1]], &[leader, others[0]]);
    }
    let p = Producer::new(config(&c, &[("metadata.max.age.ms", "200")])).expect("producer");
    let parts = p.partitions_for("layout").await.expect("metadata");
    assert_eq!(parts.len(), 3);
    for (i, part) in parts.iter().enumerate() {
        assert_eq!(part.topic, "layout");
        assert_eq!(part.partition, i32::try_from(i).unwrap());
        let leader = part.leader.as_ref().expect("a leader");
        assert_eq!(
            Some(leader.address.clone()),
            c.address(leader.id).map(|a| a.to_string())
        );
        let l = leader.id;
        assert_eq!(part.replicas, vec![l, l % 3 + 1, (l + 1) % 3 + 1]);
        assert_eq!(part.isr, vec![l, l % 3 + 1], "the ISR, not the replica list");
    }
    // A leader move and an ISR change show after the next refresh (metadata.max.age.ms).
    c.set_leader("layout", 0, 2);
    c.set_replicas("layout", 0, &[2, 1, 3], &[2]);
    let deadline = std::time::Instant::now() + LIVENESS;
    let moved = loop {
        let parts = p.partitions_for("layout").await.expect("metadata");
        if parts[0].leader.as_ref().map(|l| l.id) == Some(2) || std::time::Instant::now() > deadline {
            break parts;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(moved[0].leader.as_ref().map(|l| l.id), Some(2), "refreshed");
    assert_eq!(moved[0].replicas, vec![2, 1, 3]);
    assert_eq!(moved[0].isr, vec![2]);
    let asked = std::time::Instant::now();
    let e = Producer::new(config(&c, &[("max.block.ms", "300")]))
        .expect("producer")
        .partitions_for("absent")
        .await
        .expect_err("no such topic");
    assert!(matches!(e, Error::TopicNotAvailable { .. }), "{e}");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "within max.block.ms (300 ms), not much later: {:?}",
        asked.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_delivery_future_does_not_cancel_the_delivery() {
    let c = FakeCluster::start(1).await;
    c.create_topic("dropped", 1);
    let p = Producer::new(config(&c, &[("linger.ms", "100")])).expect("producer");
    drop(
        p.send(ProducerRecord::new("dropped", "still sent"))
            .await
            .expect("queued"),
    );
    p.flush().await;
    assert_eq!(c.records("dropped").len(), 1);
    let counted = Arc::new(AtomicUsize::new(0));
    let k = Arc::clone(&counted);
    p.send_with_callback(ProducerRecord::new("dropped", "x"), move |_| {
        k.fetch_add(1, Ordering::SeqCst);
    })
    .await
    .expect("queued");
    p.close(LIVENESS).await;
    assert_eq!(c.records("dropped").len(), 2);
    // The callback of a record whose future the caller never held still runs, once.
    let start = std::time::Instant::now();
    while counted.load(Ordering::SeqCst) == 0 && start.elapsed() < LIVENESS {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(counted.load(Ordering::SeqCst), 1, "the callback ran exactly once");
}
