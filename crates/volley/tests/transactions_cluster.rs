//! A transaction across a broker failure (issue 17): three Apache Kafka brokers and a
//! controller, replication factor 3, `min.insync.replicas=2`, formatted with Kafka 4.x's
//! default `transaction.version` (2) and with 1. The broker that is the transaction
//! coordinator (and leads one of the topic's partitions) is SIGKILLed in the middle of a
//! transaction; the producer finds the new coordinator and leaders, and the commit holds
//! every record exactly once for a `read_committed` reader. One cluster at a time.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{read_back_isolated, topic};
use volley::{Producer, ProducerConfig, ProducerRecord};
use volley_testkit::kafka::{KafkaCluster, Layout};

async fn send_all(p: &Producer, t: &str, range: std::ops::Range<u32>) {
    let mut pending = Vec::new();
    for i in range {
        let r = ProducerRecord::new(t, format!("v-{i}")).key(format!("k-{i}"));
        pending.push(p.send(r).await.expect("queued"));
    }
    for d in pending {
        d.await.expect("written");
    }
}

/// One four-JVM cluster at a time on the test machine.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coordinator_dies_in_a_transaction_tv2() {
    let _turn = TURN.lock().await;
    coordinator_dies(Vec::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coordinator_dies_in_a_transaction_tv1() {
    let _turn = TURN.lock().await;
    coordinator_dies(vec![("transaction.version".to_owned(), 1)]).await;
}

async fn coordinator_dies(features: Vec<(String, i16)>) {
    let c = KafkaCluster::start(&Layout {
        brokers: 3,
        extra: Vec::new(),
        features,
    })
    .unwrap_or_else(|e| panic!("{e}"));
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
    send_all(&p, &t, 300..400).await;
    // The transaction log has one partition: its leader is the coordinator.
    let coordinator = c.leader_of("__transaction_state", 0).expect("coordinator");
    assert!(coordinator > 0, "the coordinator is a broker: {coordinator}");
    c.kill(coordinator).expect("SIGKILL");
    send_all(&p, &t, 400..500).await;
    p.commit_transaction().await.expect("commit after the coordinator died");
    p.close(Duration::from_secs(10)).await;

    let got = read_back_isolated(&bs, &t, 501, "read_committed");
    let values: Vec<String> = got
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap_or_default()).expect("utf-8"))
        .collect();
    let distinct: BTreeSet<&String> = values.iter().collect();
    assert_eq!(values.len(), 500, "every record once");
    assert_eq!(distinct.len(), 500, "no duplicates");
    for i in 0..500 {
        assert!(distinct.contains(&format!("v-{i}")), "v-{i} missing");
    }
    c.restart(coordinator).expect("restart");
}
