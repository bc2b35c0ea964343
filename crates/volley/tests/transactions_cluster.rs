//! Transactions across broker failures (issue 17): three Apache Kafka brokers and a
//! controller, replication factor 3, `min.insync.replicas=2`, formatted with Kafka 4.x's
//! default `transaction.version` (2) and with 1; one cluster per protocol, both cases on it.
//!
//! - The broker that is the transaction coordinator (and leads one of the topic's
//!   partitions) is SIGKILLed in the middle of a transaction; the producer finds the new
//!   coordinator and leaders, and the commit holds every record exactly once for a
//!   `read_committed` reader, none of the aborted transactions before and after the kill
//!   (while a `read_uncommitted` reader sees that they were written).
//! - Kafka's `testBumpTransactionalEpoch`: the leader of a partition with one replica is
//!   SIGKILLed inside a transaction, a record for it times out, the leader comes back, the
//!   transaction aborts and the next one commits; the producer id and epoch are checked at
//!   each step (TV2: every EndTxn bumps the epoch and the abort needs no more; TV1: the
//!   abort after a timed-out batch bumps it with InitProducerId, KIP-360).

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{read_back_isolated, topic, txn_identity};
use volley::{Producer, ProducerConfig, ProducerRecord};
use volley_testkit::kafka::{KafkaCluster, Layout};

async fn send_all(p: &Producer, t: &str, range: std::ops::Range<u32>) {
    send_prefixed(p, t, "v", range).await;
}

/// Sends `<prefix>-<i>` (key `k-<i>`) for each i and waits until each is written.
async fn send_prefixed(p: &Producer, t: &str, prefix: &str, range: std::ops::Range<u32>) {
    let mut pending = Vec::new();
    for i in range {
        let r = ProducerRecord::new(t, format!("{prefix}-{i}")).key(format!("k-{i}"));
        pending.push(p.send(r).await.expect("queued"));
    }
    for d in pending {
        d.await.expect("written");
    }
}

/// One four-JVM cluster at a time on the test machine.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brokers_die_in_transactions_tv2() {
    let _turn = TURN.lock().await;
    brokers_die(Vec::new(), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brokers_die_in_transactions_tv1() {
    let _turn = TURN.lock().await;
    brokers_die(vec![("transaction.version".to_owned(), 1)], false).await;
}

async fn brokers_die(features: Vec<(String, i16)>, tv2: bool) {
    let c = KafkaCluster::start(&Layout {
        brokers: 3,
        extra: Vec::new(),
        features,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    coordinator_dies(&c).await;
    partition_leader_dies_then_abort(&c, tv2).await;
}

fn committed_values(bs: &str, t: &str, count: usize, isolation: &str) -> Vec<String> {
    read_back_isolated(bs, t, count, isolation)
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap_or_default()).expect("utf-8"))
        .collect()
}

/// The coordinator dies in a committed transaction; aborted transactions before and after
/// the kill leave nothing a `read_committed` reader sees.
async fn coordinator_dies(c: &KafkaCluster) {
    let bs = c.bootstrap().to_owned();
    let t = topic("txn-kill");
    c.create_topic(&t, 3, Some(3), &[]).expect("topic");
    let config = ProducerConfig::from_properties([
        ("bootstrap.servers", bs.as_str()),
        ("transactional.id", topic("kill-id").as_str()),
        ("request.timeout.ms", "5000"),
        ("delivery.timeout.ms", "60000"),
        ("max.block.ms", "60000"),
    ])
    .expect("config");
    let p = Producer::new(config).expect("producer");
    p.init_transactions().await.expect("init");
    p.begin_transaction().expect("begin");
    send_all(&p, &t, 0..300).await;
    p.commit_transaction().await.expect("first commit");

    p.begin_transaction().expect("begin");
    send_prefixed(&p, &t, "aborted-before", 0..100).await;
    p.abort_transaction().await.expect("abort before the kill");

    p.begin_transaction().expect("begin");
    send_all(&p, &t, 300..400).await;
    // The transaction log has one partition: its leader is the coordinator.
    let coordinator = c.leader_of("__transaction_state", 0).expect("coordinator");
    assert!(coordinator > 0, "the coordinator is a broker: {coordinator}");
    c.kill(coordinator).expect("SIGKILL");
    send_all(&p, &t, 400..500).await;
    p.commit_transaction().await.expect("commit after the coordinator died");

    // An aborted transaction with the new coordinator, its records written.
    p.begin_transaction().expect("begin");
    send_prefixed(&p, &t, "aborted-after", 0..100).await;
    p.abort_transaction().await.expect("abort after the kill");
    p.close(Duration::from_secs(10)).await;

    let values = committed_values(&bs, &t, 701, "read_committed");
    let distinct: BTreeSet<&String> = values.iter().collect();
    assert_eq!(values.len(), 500, "every committed record once, none aborted");
    assert_eq!(distinct.len(), 500, "no duplicates");
    for i in 0..500 {
        assert!(distinct.contains(&format!("v-{i}")), "v-{i} missing");
    }
    // The aborted records were written: a reader that does not filter them sees them.
    let all = committed_values(&bs, &t, 701, "read_uncommitted");
    assert_eq!(all.len(), 700, "read_uncommitted sees the aborted records too");
    assert_eq!(all.iter().filter(|v| v.starts_with("aborted-")).count(), 200);
    c.restart(coordinator).expect("restart");
}

/// Kafka's `testBumpTransactionalEpoch`, with the exact epoch after each step.
async fn partition_leader_dies_then_abort(c: &KafkaCluster, tv2: bool) {
    let bs = c.bootstrap().to_owned();
    // One replica per partition: with its leader down a partition takes no writes. The
    // partition used is one the transaction coordinator does not lead (its death is the
    // other case).
    let single = topic("txn-bump-single");
    c.create_topic(&single, 3, Some(1), &[]).expect("topic");
    let replicated = topic("txn-bump-replicated");
    c.create_topic(&replicated, 1, Some(3), &[]).expect("topic");
    let coordinator = c.leader_of("__transaction_state", 0).expect("coordinator");
    let (part, leader) = (0..3)
        .map(|p| (p, c.leader_of(&single, p).expect("leader")))
        .find(|(_, l)| *l != coordinator)
        .expect("a partition the coordinator does not lead");
    let config = ProducerConfig::from_properties([
        ("bootstrap.servers", bs.as_str()),
        ("transactional.id", topic("bump-id").as_str()),
        ("request.timeout.ms", "5000"),
        ("delivery.timeout.ms", "5000"),
        ("max.block.ms", "60000"),
        ("linger.ms", "0"),
    ])
    .expect("config");
    let p = Producer::new(config).expect("producer");
    let to = |t: &str, partition: i32, v: &str| ProducerRecord::new(t, v.to_owned()).partition(partition);
    p.init_transactions().await.expect("init");
    let (pid, e0, _) = txn_identity(&p).await;
    assert_eq!(e0, 0, "a new transactional id starts at epoch 0");
    let step = i64::from(tv2);

    p.begin_transaction().expect("begin");
    p.send_and_wait(to(&single, part, "4")).await.expect("written");
    p.commit_transaction().await.expect("commit");
    assert_eq!(
        txn_identity(&p).await,
        (pid, step, "READY".into()),
        "after the first commit"
    );

    p.begin_transaction().expect("begin");
    p.send_and_wait(to(&replicated, 0, "2")).await.expect("written");
    c.kill(leader).expect("SIGKILL the partition's leader");
    let failed = p.send_and_wait(to(&single, part, "3")).await;
    let e = failed.expect_err("a record for a partition without a leader times out");
    assert!(matches!(e.error, volley::Error::DeliveryTimeout { .. }), "{e}");
    c.restart(leader).expect("restart the leader");
    p.abort_transaction().await.expect("abort");
    // TV2: the abort's EndTxn bumped the epoch; TV1: the abort bumped it with InitProducerId.
    let after_abort = if tv2 { 2 } else { 1 };
    assert_eq!(
        txn_identity(&p).await,
        (pid, after_abort, "READY".into()),
        "after the abort"
    );

    p.begin_transaction().expect("begin");
    for (t, partition, v) in [(&replicated, 0, "22"), (&single, part, "1"), (&single, part, "3")] {
        p.send_and_wait(to(t, partition, v))
            .await
            .expect("written after the restart");
    }
    p.commit_transaction().await.expect("commit");
    let after_commit = if tv2 { 3 } else { 1 };
    assert_eq!(
        txn_identity(&p).await,
        (pid, after_commit, "READY".into()),
        "after the commit that follows"
    );
    p.close(Duration::from_secs(10)).await;

    assert_eq!(committed_values(&bs, &replicated, 3, "read_committed"), ["22"]);
    let got: Vec<String> = read_back_isolated(&bs, &single, 5, "read_committed")
        .into_iter()
        .filter(|r| r.partition == part)
        .map(|r| String::from_utf8(r.value.unwrap_or_default()).expect("utf-8"))
        .collect();
    assert_eq!(
        got,
        ["4", "1", "3"],
        "the committed records once each, the timed-out one not"
    );
}
