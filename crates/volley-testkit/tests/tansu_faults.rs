//! Faults against a real broker (tansu) read back by librdkafka: the broker paused longer
//! than the request timeout (SIGSTOP/SIGCONT), killed and restarted (SIGKILL), and the fault
//! proxy dropping 5 % of Produce answers after the broker appended, resetting connections,
//! and killing every connection after 0.5-1.5 s.

use std::io::Write as _;
use std::time::Duration;

use volley_testkit::drive::produce;
use volley_testkit::oracle::{check, Outcome, Report};
use volley_testkit::proxy::{FaultProxy, Faults};
use volley_testkit::stamps::known;
use volley_testkit::tansu::{free_addr, Tansu, Tools};

fn fast(bootstrap: &str) -> Vec<(&'static str, String)> {
    volley_testkit::drive::test_logging();
    vec![
        ("bootstrap.servers", bootstrap.to_owned()),
        ("linger.ms", "5".into()),
        ("request.timeout.ms", "1500".into()),
        ("delivery.timeout.ms", "20000".into()),
        ("retry.backoff.ms", "20".into()),
        ("reconnect.backoff.ms", "20".into()),
        ("reconnect.backoff.max.ms", "200".into()),
    ]
}

/// Partitions of the topics behind the fault proxy.
const PROXY_PARTITIONS: u32 = 6;

/// Every invariant holds for the producer. tansu 0.6.0 sometimes appends one producer's
/// batches out of sequence order when they reach it on two connections at once (the old
/// connection's requests still being handled when the retries arrive on the new one): the
/// oracle reports such keys as broker faults, using the sequence numbers tansu stored, and
/// they are printed here rather than failing the producer (RELIABILITY.md, scenario 8).
/// Written to the process's stderr, not through `eprintln!`, which the test harness keeps
/// back from passing tests: a recurring broker fault stays visible in CI's log.
fn assert_clean_for_producer(r: &Report) {
    if !r.broker_faults.is_empty() {
        let _ = writeln!(
            std::io::stderr(),
            "tansu appended batches out of sequence order (its fault, not the producer's): {}",
            r.summary()
        );
    }
    assert!(r.ok_for_producer(), "{}", r.summary());
}

/// Scenario 8: SIGSTOP the broker for longer than the request timeout, then SIGCONT.
/// The stopped broker still reads the old requests when it resumes, so the retries meet
/// the idempotence check; nothing is lost or duplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s08_broker_paused_longer_than_the_request_timeout() {
    let tools = Tools::find();
    let addr = free_addr();
    let broker = Tansu::start(&tools.tansu, &addr, &addr);
    tools.create_topic(&addr, "s08", 4);
    let run = produce(&fast(&addr), "s08", 6000, 50, 8, |i| {
        if i == 2000 {
            broker.signal("STOP");
        }
        if i == 2600 {
            std::thread::sleep(Duration::from_millis(3000));
            broker.signal("CONT");
        }
    })
    .await;
    let log = tools.read_back_stamped(&addr, "s08", run.sent.len(), 4);
    assert!(
        log.iter().all(|r| known(r.producer)),
        "tansu's stored producer ids and sequences were fetched for every record"
    );
    let r = check(8, &run.sent, &log);
    assert_clean_for_producer(&r);
    assert_eq!(r.persisted, 6000, "{}", r.summary());
}

/// How many partitions tansu gives a topic it creates on its own.
const TANSU_AUTO_CREATED_PARTITIONS: u32 = 4;

/// Scenario 9: SIGKILL the broker and restart it on the same address. tansu keeps its log
/// in memory, so what it had is gone with it (the broker's loss, not the producer's); the
/// producer must notice, recover (a fresh producer id: the new broker does not know the
/// old one) and deliver everything sent after the restart exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s09_broker_killed_and_restarted() {
    let tools = Tools::find();
    let addr = free_addr();
    let mut broker = Tansu::start(&tools.tansu, &addr, &addr);
    // The restarted broker has forgotten the topic and creates it again on the first
    // Produce with its default of 4 partitions. Created with any other count, the keys
    // would move when the producer learns the new count (as with any client when a topic's
    // partition count changes), which is the broker's doing, not the producer's.
    tools.create_topic(&addr, "s09", TANSU_AUTO_CREATED_PARTITIONS);
    let restart_at = 2000;
    let run = produce(&fast(&addr), "s09", 5000, 20, 9, |i| {
        if i == restart_at {
            std::thread::sleep(Duration::from_millis(300));
            broker.kill_and_restart();
        }
    })
    .await;
    // The restarted broker starts empty: records acknowledged before the restart may be
    // gone with it (the broker's loss), so the oracle treats them as possibly persisted.
    let cutoff = restart_at + 500;
    let mut sent = run.sent.clone();
    for s in &mut sent[..cutoff] {
        if matches!(s.outcome, Outcome::Persisted { .. }) {
            s.outcome = Outcome::PossiblyPersisted("acknowledged by the broker before it was killed".into());
        }
    }
    let log = tools.read_back_stamped(&addr, "s09", sent.len(), TANSU_AUTO_CREATED_PARTITIONS);
    let r = check(9, &sent, &log);
    let first_failure = sent[cutoff..].iter().find_map(|s| match &s.outcome {
        Outcome::NotPersisted(e) | Outcome::PossiblyPersisted(e) => Some(e.clone()),
        _ => None,
    });
    assert_clean_for_producer(&r);
    let after_ok = sent[cutoff..]
        .iter()
        .filter(|s| matches!(s.outcome, Outcome::Persisted { .. }))
        .count();
    assert_eq!(
        after_ok,
        sent.len() - cutoff,
        "everything after the restart is delivered: {} (first failure: {first_failure:?})",
        r.summary()
    );
    assert!(
        run.sent.iter().all(|s| s.outcome != Outcome::Unresolved),
        "every record resolved"
    );
}

async fn behind_proxy(
    tools: &Tools,
    topic: &str,
    faults: Faults,
    seed: u64,
    records: usize,
) -> (
    String,
    volley_testkit::oracle::Report,
    volley_testkit::proxy::ProxyStats,
) {
    let (listener, proxy_addr) = FaultProxy::bind().await.expect("bind");
    let broker = Tansu::start(&tools.tansu, &free_addr(), &proxy_addr.to_string());
    let proxy = FaultProxy::start(listener, broker.listen.parse().expect("addr"), seed);
    let bootstrap = proxy_addr.to_string();
    tools.create_topic(&bootstrap, topic, PROXY_PARTITIONS);
    proxy.set(faults);
    let run = produce(&fast(&bootstrap), topic, records, 100, seed, |_| {}).await;
    proxy.set(Faults::default());
    let log = tools.read_back_stamped(&bootstrap, topic, run.sent.len(), PROXY_PARTITIONS);
    let r = check(seed, &run.sent, &log);
    let stats = proxy.stats();
    drop(broker);
    (bootstrap, r, stats)
}

/// The acceptance check of the reliability work: 5 % of Produce answers dropped after the
/// broker appended; the independent reader finds every acknowledged record exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s04_tansu_five_percent_of_answers_dropped_after_append() {
    let tools = Tools::find();
    let (_, r, stats) = behind_proxy(
        &tools,
        "drop5",
        Faults {
            drop_produce_answers: 0.05,
            ..Faults::default()
        },
        4,
        20_000,
    )
    .await;
    assert!(stats.dropped_answers >= 3, "faults were injected: {stats:?}");
    assert_clean_for_producer(&r);
    assert_eq!(r.persisted, 20_000, "{}", r.summary());
}

/// Scenario 5 through the proxy: every connection is reset after 64 KiB from the client,
/// mid-request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s05_tansu_connection_reset_mid_request() {
    let tools = Tools::find();
    let (_, r, stats) = behind_proxy(
        &tools,
        "reset",
        Faults {
            reset_after_bytes: Some(64 * 1024),
            ..Faults::default()
        },
        5,
        20_000,
    )
    .await;
    assert!(stats.connections > 5, "{stats:?}");
    assert_clean_for_producer(&r);
    assert_eq!(r.persisted, 20_000, "{}", r.summary());
}

/// Scenario 10, one short seed in CI (scripts/soak runs it for longer): every connection
/// dies after 0.5-1.5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s10_tansu_chaos_short() {
    let tools = Tools::find();
    let (_, r, stats) = behind_proxy(
        &tools,
        "chaos",
        Faults {
            chaos_ms: Some((500, 1500)),
            ..Faults::default()
        },
        10,
        30_000,
    )
    .await;
    assert_clean_for_producer(&r);
    assert_eq!(r.persisted, 30_000, "{} {stats:?}", r.summary());
}
