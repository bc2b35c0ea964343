//! Issue 10 regressions on the fake cluster, continued from `regressions.rs`: the promises
//! about metadata upkeep and the producer id that were first guarded only by the sender's
//! pure tables (idle topics, a broker without InitProducerId v3+, REBOOTSTRAP_REQUIRED).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{deliver, producer, producer_at};
use volley::ProducerRecord;
use volley_protocol::ErrorCode;
use volley_testkit::fake::{Action, FakeCluster};
use volley_testkit::proxy::FaultProxy;

mod support;

const METADATA: i16 = 3;
const INIT_PRODUCER_ID: i16 = 22;

/// How many Metadata requests so far named `topic`.
fn asked_for(c: &FakeCluster, topic: &str) -> usize {
    c.request_log()
        .iter()
        .filter(|r| r.api_key == METADATA)
        .filter(|r| {
            r.metadata_topics
                .as_ref()
                .is_some_and(|ts| ts.iter().any(|t| t == topic))
        })
        .count()
}

/// Issue 10, defect 5: a topic nobody has sent to for `metadata.max.idle.ms` is no longer
/// asked for, whether it exists or was mistyped; the topics in use still are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_idle_for_max_idle_are_no_longer_asked_for() {
    let c = FakeCluster::start(1).await;
    c.create_topic("once", 1);
    c.create_topic("busy", 1);
    let p = producer(
        &c,
        &[
            ("linger.ms", "0"),
            ("metadata.max.age.ms", "200"),
            ("metadata.max.idle.ms", "5000"),
            ("max.block.ms", "800"),
            ("allow.auto.create.topics", "false"),
        ],
    );
    let t0 = Instant::now();
    deliver(&p, "once", "k", "a").await.expect("once");
    let e = p
        .send(ProducerRecord::new("mistyped", "v"))
        .await
        .expect_err("no such topic");
    assert!(matches!(e.error, volley::Error::TopicNotAvailable { .. }), "{e}");
    // Busy until `until` after t0 (the last use of both topics), then the counts.
    let busy_until = |until: Duration| {
        let p = &p;
        async move {
            while t0.elapsed() < until {
                deliver(p, "busy", "k", "x").await.expect("busy");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let counts = || (asked_for(&c, "once"), asked_for(&c, "mistyped"), asked_for(&c, "busy"));
    // Still asked for shortly before the 5 s are up (so neither is dropped too early).
    busy_until(Duration::from_millis(3300)).await;
    let before = counts();
    busy_until(Duration::from_millis(4500)).await;
    let late = counts();
    assert!(
        late.0 > before.0 && late.1 > before.1,
        "refreshed until idle: {before:?} then {late:?}"
    );
    // Dropped once idle for 5 s; the topic in use is still refreshed.
    busy_until(Duration::from_millis(6500)).await;
    let after = counts();
    busy_until(Duration::from_millis(8000)).await;
    let last = counts();
    assert_eq!(last.0, after.0, "an idle topic is dropped");
    assert_eq!(last.1, after.1, "a mistyped topic is dropped");
    assert!(last.2 >= after.2 + 3, "a topic in use is still refreshed");
    p.close(Duration::from_secs(2)).await;
}

/// The outcome of one record, as text: the error `send` returned or the delivery's.
async fn failure(p: &volley::Producer, topic: &str) -> String {
    match p.send(ProducerRecord::new(topic, "v").key("k")).await {
        Err(e) => e.to_string(),
        Ok(f) => f.await.expect_err("fails").to_string(),
    }
}

/// Issue 10, defect 9: an idempotent producer on a broker that cannot give it an id (no
/// InitProducerId v3+ advertised, or an UNSUPPORTED_VERSION answer) stops at once with the
/// reason named, instead of every record waiting out `delivery.timeout.ms`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_without_init_producer_id_v3_stops_the_producer_at_once() {
    for how in ["advertised v0-v2 only", "answers UNSUPPORTED_VERSION"] {
        let c = FakeCluster::start(1).await;
        c.create_topic("old", 1);
        if how.starts_with("advertised") {
            c.advertise_api(INIT_PRODUCER_ID, 0, 2);
        } else {
            c.set_hook(|r| {
                if r.api_key == INIT_PRODUCER_ID {
                    Action::Error(ErrorCode::UNSUPPORTED_VERSION)
                } else {
                    Action::Respond
                }
            });
        }
        let p = producer(&c, &[("delivery.timeout.ms", "60000")]);
        let start = Instant::now();
        let first = failure(&p, "old").await;
        let named = if how.starts_with("advertised") {
            "InitProducerId v3"
        } else {
            "UNSUPPORTED_VERSION"
        };
        assert!(first.contains(named), "{how}: {first}");
        let later = failure(&p, "old").await;
        assert!(later.contains(named), "{how}: {later}");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{how}: at once, not after delivery.timeout.ms"
        );
        assert!(c.records("old").is_empty(), "{how}: nothing written without an id");
        p.close(Duration::from_secs(2)).await;
    }
}

/// Issue 10, Java 4.x re-bootstrap (KIP-1102): a broker answering Metadata with
/// REBOOTSTRAP_REQUIRED makes the producer dial its bootstrap servers again at once (the
/// time trigger, 300 s by default, is far away); with `metadata.recovery.strategy=none` it
/// does not. The bootstrap address and the advertised one are two proxies of the same
/// broker, so a request through the bootstrap proxy after the first ones is the re-bootstrap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebootstrap_required_dials_the_bootstrap_servers_again() {
    for (strategy, again) in [("rebootstrap", true), ("none", false)] {
        let c = FakeCluster::start(1).await;
        c.create_topic("rb", 1);
        let direct = c.address(1).expect("broker 1");
        let (listener, _) = FaultProxy::bind().await.expect("bind");
        let boot = FaultProxy::start(listener, direct, 1);
        let (listener, _) = FaultProxy::bind().await.expect("bind");
        let advertised = FaultProxy::start(listener, direct, 2);
        c.advertise(1, advertised.addr());
        let p = producer_at(
            &boot.addr().to_string(),
            &[
                ("linger.ms", "0"),
                ("metadata.max.age.ms", "300"),
                ("metadata.recovery.strategy", strategy),
            ],
        );
        deliver(&p, "rb", "k", "a").await.expect("a");
        assert_eq!(boot.stats().connections, 1, "{strategy}: bootstrapped once");
        let asked = boot.stats().requests;
        let armed = Arc::new(AtomicBool::new(true));
        let a = Arc::clone(&armed);
        c.set_hook(move |r| {
            if r.api_key == METADATA && a.swap(false, Ordering::SeqCst) {
                Action::MetadataTopLevelError(ErrorCode::REBOOTSTRAP_REQUIRED)
            } else {
                Action::Respond
            }
        });
        let start = Instant::now();
        while armed.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            !armed.load(Ordering::SeqCst),
            "{strategy}: the periodic refresh met the error"
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
        deliver(&p, "rb", "k", "b").await.expect("b");
        assert_eq!(
            boot.stats().requests > asked,
            again,
            "{strategy}: {} requests to the bootstrap address after the first {asked}",
            boot.stats().requests
        );
        p.close(Duration::from_secs(2)).await;
    }
}
