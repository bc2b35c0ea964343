//! Transactions (issue 17) against Apache Kafka, each case on a node formatted with
//! `transaction.version=1` (the TV1 protocol: AddPartitionsToTxn, AddOffsetsToTxn) and on
//! one with Kafka 4.x's default, 2 (KIP-890: the leader adds partitions, EndTxn bumps the
//! epoch). Read back by librdkafka with `isolation.level=read_committed` and
//! `read_uncommitted`. The cases follow Kafka's own transaction tests, in our own code.

mod common;

use std::sync::OnceLock;
use std::time::Duration;

use common::{create_topic_on, read_back_isolated, topic, txn_identity};
use volley::protocol::ErrorCode;
use volley::transaction::{ConsumerGroupMetadata, OffsetAndMetadata};
use volley::{Error, Producer, ProducerConfig, ProducerRecord, TransactionErrorKind};
use volley_testkit::kafka::KafkaCluster;

/// The TV1 node (started once per test binary).
fn tv1() -> String {
    static K: OnceLock<KafkaCluster> = OnceLock::new();
    K.get_or_init(|| {
        KafkaCluster::single_with_features(&[("transaction.version", 1)]).unwrap_or_else(|e| panic!("{e}"))
    })
    .bootstrap()
    .to_owned()
}

/// The TV2 node: Kafka 4.x's default features.
fn tv2() -> String {
    static K: OnceLock<KafkaCluster> = OnceLock::new();
    K.get_or_init(|| KafkaCluster::single().unwrap_or_else(|e| panic!("{e}")))
        .bootstrap()
        .to_owned()
}

fn producer(bs: &str, id: &str) -> Producer {
    let c = ProducerConfig::from_properties([
        ("bootstrap.servers", bs),
        ("transactional.id", id),
        ("max.block.ms", "30000"),
        ("linger.ms", "0"),
    ])
    .expect("config");
    Producer::new(c).expect("producer")
}

/// The values librdkafka reads, in partition and offset order.
fn values(bs: &str, topic: &str, count: usize, isolation: &str) -> Vec<String> {
    read_back_isolated(bs, topic, count, isolation)
        .into_iter()
        .map(|r| String::from_utf8(r.value.unwrap_or_default()).expect("utf-8"))
        .collect()
}

async fn send(p: &Producer, topic: &str, value: &str) -> Result<volley::RecordMetadata, volley::DeliveryError> {
    p.send(ProducerRecord::new(topic, value.to_owned()).partition(0))
        .await
        .expect("queued")
        .await
}

fn txn_error(e: Error) -> volley::TransactionError {
    match e {
        Error::Transaction(t) => t,
        other => panic!("expected a transaction error, got {other}"),
    }
}

/// Abort one transaction, commit one, over two topics: read_committed sees only the
/// committed records, read_uncommitted all of them.
async fn abort_then_commit(bs: String) {
    let (a, b) = (topic("txn-a"), topic("txn-b"));
    create_topic_on(&bs, &a, 1);
    create_topic_on(&bs, &b, 1);
    let p = producer(&bs, &topic("basic"));
    p.init_transactions().await.expect("init");
    p.begin_transaction().expect("begin");
    for t in [&a, &b] {
        send(&p, t, "aborted-1").await.expect("written");
        send(&p, t, "aborted-2").await.expect("written");
    }
    p.abort_transaction().await.expect("abort");
    p.begin_transaction().expect("begin");
    for t in [&a, &b] {
        send(&p, t, "committed-1").await.expect("written");
        send(&p, t, "committed-2").await.expect("written");
    }
    p.commit_transaction().await.expect("commit");
    p.close(Duration::from_secs(10)).await;
    for t in [&a, &b] {
        // One more than expected: an extra record would show.
        assert_eq!(
            values(&bs, t, 3, "read_committed"),
            ["committed-1", "committed-2"],
            "{t}"
        );
        assert_eq!(
            values(&bs, t, 5, "read_uncommitted"),
            ["aborted-1", "aborted-2", "committed-1", "committed-2"],
            "{t}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_then_commit_tv1() {
    abort_then_commit(tv1()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_then_commit_tv2() {
    abort_then_commit(tv2()).await;
}

/// Where the first producer is fenced by a second with the same transactional id.
#[derive(Clone, Copy, Debug)]
enum FencedAt {
    Send,
    Commit,
    SendOffsets,
}

async fn fencing(bs: String, at: FencedAt) {
    let t = topic("fence");
    create_topic_on(&bs, &t, 1);
    let id = topic("fenced-id");
    let first = producer(&bs, &id);
    first.init_transactions().await.expect("init");
    first.begin_transaction().expect("begin");
    send(&first, &t, "first-before")
        .await
        .expect("written before the fence");
    // The newer producer fences the first (and aborts its open transaction).
    let second = producer(&bs, &id);
    second.init_transactions().await.expect("second init");
    match at {
        FencedAt::Send => {
            let e = send(&first, &t, "first-after").await.expect_err("fenced");
            let code = match e.error {
                Error::Broker { code, .. } => code,
                other => panic!("expected a broker error, got {other}"),
            };
            assert!(
                code == ErrorCode::PRODUCER_FENCED || code == ErrorCode::INVALID_PRODUCER_EPOCH,
                "{code}"
            );
            let e = txn_error(first.abort_transaction().await.expect_err("fenced"));
            assert_eq!(
                (e.kind, e.code),
                (TransactionErrorKind::Fatal, Some(ErrorCode::PRODUCER_FENCED)),
                "{e}"
            );
        }
        FencedAt::Commit => {
            let e = txn_error(first.commit_transaction().await.expect_err("fenced"));
            assert_eq!(
                (e.kind, e.code),
                (TransactionErrorKind::Fatal, Some(ErrorCode::PRODUCER_FENCED)),
                "{e}"
            );
        }
        FencedAt::SendOffsets => {
            let group = ConsumerGroupMetadata::new(topic("group"));
            let offsets = vec![((t.clone(), 0), OffsetAndMetadata::new(1))];
            let e = txn_error(
                first
                    .send_offsets_to_transaction(offsets, &group)
                    .await
                    .expect_err("fenced"),
            );
            assert_eq!(
                (e.kind, e.code),
                (TransactionErrorKind::Fatal, Some(ErrorCode::PRODUCER_FENCED)),
                "{e}"
            );
            let e = txn_error(first.commit_transaction().await.expect_err("fenced"));
            assert_eq!(e.code, Some(ErrorCode::PRODUCER_FENCED), "{e}");
        }
    }
    // Only the producer that can still act: every later call of the first fails.
    assert!(first.begin_transaction().is_err());
    second.begin_transaction().expect("begin");
    send(&second, &t, "second").await.expect("written");
    second.commit_transaction().await.expect("commit");
    second.close(Duration::from_secs(10)).await;
    first.close(Duration::from_secs(10)).await;
    assert_eq!(values(&bs, &t, 3, "read_committed"), ["second"], "{at:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_on_send_tv1() {
    fencing(tv1(), FencedAt::Send).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_on_send_tv2() {
    fencing(tv2(), FencedAt::Send).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_on_commit_tv1() {
    fencing(tv1(), FencedAt::Commit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_on_commit_tv2() {
    fencing(tv2(), FencedAt::Commit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_on_send_offsets_tv1() {
    fencing(tv1(), FencedAt::SendOffsets).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_on_send_offsets_tv2() {
    fencing(tv2(), FencedAt::SendOffsets).await;
}

/// Exact producer id and epoch at each step. TV2: every EndTxn bumps the epoch (commit and
/// abort alike), an empty transaction sends no EndTxn and keeps it. TV1: the epoch stays.
async fn epochs(bs: String, tv2: bool) {
    let t = topic("epochs");
    create_topic_on(&bs, &t, 1);
    let p = producer(&bs, &topic("epochs-id"));
    assert_eq!(txn_identity(&p).await, (-1, -1, "UNINITIALIZED".into()));
    p.init_transactions().await.expect("init");
    let (pid, e0, state) = txn_identity(&p).await;
    assert!(pid >= 0, "{pid}");
    let stats: serde_json::Value = serde_json::from_str(&p.statistics().await.expect("statistics")).expect("json");
    assert_eq!(stats["eos"]["idemp_state"], "Assigned");
    assert_eq!(
        (e0, state.as_str()),
        (0, "READY"),
        "a new transactional id starts at epoch 0"
    );
    let step = i64::from(tv2);
    p.begin_transaction().expect("begin");
    send(&p, &t, "one").await.expect("written");
    assert_eq!(txn_identity(&p).await, (pid, 0, "IN_TRANSACTION".into()));
    p.commit_transaction().await.expect("commit");
    assert_eq!(txn_identity(&p).await, (pid, step, "READY".into()), "after a commit");
    // A transaction without sends ends without EndTxn: no bump.
    p.begin_transaction().expect("begin");
    p.commit_transaction().await.expect("empty commit");
    assert_eq!(
        txn_identity(&p).await,
        (pid, step, "READY".into()),
        "after an empty commit"
    );
    p.begin_transaction().expect("begin");
    send(&p, &t, "two").await.expect("written");
    p.abort_transaction().await.expect("abort");
    assert_eq!(
        txn_identity(&p).await,
        (pid, 2 * step, "READY".into()),
        "after an abort"
    );
    p.begin_transaction().expect("begin");
    send(&p, &t, "three").await.expect("written");
    p.commit_transaction().await.expect("commit");
    assert_eq!(
        txn_identity(&p).await,
        (pid, 3 * step, "READY".into()),
        "after a second commit"
    );
    p.close(Duration::from_secs(10)).await;
    assert_eq!(values(&bs, &t, 3, "read_committed"), ["one", "three"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epochs_tv1() {
    epochs(tv1(), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epochs_tv2() {
    epochs(tv2(), true).await;
}

/// A record too large for `max.request.size` inside a transaction: the send fails, the
/// commit fails as abortable, the abort succeeds, and the next transaction is clean. A
/// transaction with only offsets commits them.
async fn too_large_then_clean(bs: String, tv2: bool) {
    let t = topic("large");
    create_topic_on(&bs, &t, 1);
    let p = producer(&bs, &topic("large-id"));
    p.init_transactions().await.expect("init");
    let (pid, _, _) = txn_identity(&p).await;
    p.begin_transaction().expect("begin");
    send(&p, &t, "before").await.expect("written");
    let big = "x".repeat(2 * 1024 * 1024);
    let e = p
        .send(ProducerRecord::new(t.as_str(), big).partition(0))
        .await
        .expect_err("too large");
    assert!(matches!(e.error, Error::RecordTooLarge { .. }), "{}", e.error);
    let c = txn_error(p.commit_transaction().await.expect_err("abortable"));
    assert_eq!(c.kind, TransactionErrorKind::Abortable, "{c}");
    let e = txn_error(
        p.send(ProducerRecord::new(t.as_str(), "refused").partition(0))
            .await
            .expect_err("must abort first")
            .error,
    );
    assert_eq!(e.kind, TransactionErrorKind::Abortable);
    p.abort_transaction().await.expect("abort works");
    // The refused send asks an epoch bump (Java 4.4): TV1 by InitProducerId after EndTxn,
    // TV2 by the abort's EndTxn alone; either way one step.
    assert_eq!(txn_identity(&p).await, (pid, 1, "READY".into()), "after the abort");
    p.begin_transaction().expect("begin");
    send(&p, &t, "after").await.expect("written");
    p.commit_transaction().await.expect("clean commit");
    // A transaction without sends, with offsets only.
    p.begin_transaction().expect("begin");
    let group = ConsumerGroupMetadata::new(topic("large-group"));
    p.send_offsets_to_transaction(vec![((t.clone(), 0), OffsetAndMetadata::new(1))], &group)
        .await
        .expect("offsets");
    p.commit_transaction().await.expect("offsets commit");
    let last = if tv2 { 3 } else { 1 };
    assert_eq!(txn_identity(&p).await, (pid, last, "READY".into()), "after two commits");
    // TV2, a transaction whose only send is refused: nothing reached a broker, the abort
    // sends nothing and the epoch stays (no client-side bump with TV2, as Java).
    p.begin_transaction().expect("begin");
    let big = "x".repeat(2 * 1024 * 1024);
    p.send(ProducerRecord::new(t.as_str(), big).partition(0))
        .await
        .expect_err("too large");
    p.abort_transaction().await.expect("abort works");
    let after = if tv2 { 3 } else { 2 };
    assert_eq!(
        txn_identity(&p).await,
        (pid, after, "READY".into()),
        "after an abort with nothing sent"
    );
    p.close(Duration::from_secs(10)).await;
    assert_eq!(values(&bs, &t, 2, "read_committed"), ["after"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_large_then_clean_tv1() {
    too_large_then_clean(tv1(), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_large_then_clean_tv2() {
    too_large_then_clean(tv2(), true).await;
}

/// Outside a transaction a transactional producer refuses records; without a transactional
/// id the transactional calls are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_out_of_order_are_refused() {
    let bs = tv2();
    let t = topic("order");
    create_topic_on(&bs, &t, 1);
    let p = producer(&bs, &topic("order-id"));
    let e = p.send(ProducerRecord::new(t.as_str(), "x")).await.expect_err("no init");
    assert_eq!(txn_error(e.error).kind, TransactionErrorKind::InvalidState);
    assert_eq!(
        txn_error(p.begin_transaction().expect_err("no init")).kind,
        TransactionErrorKind::InvalidState
    );
    p.init_transactions().await.expect("init");
    let e = p
        .send(ProducerRecord::new(t.as_str(), "x"))
        .await
        .expect_err("no begin");
    assert_eq!(txn_error(e.error).kind, TransactionErrorKind::InvalidState);
    assert_eq!(
        txn_error(p.commit_transaction().await.expect_err("no begin")).kind,
        TransactionErrorKind::InvalidState
    );
    let plain = Producer::new(ProducerConfig::from_properties([("bootstrap.servers", bs.as_str())]).expect("config"))
        .expect("producer");
    assert_eq!(
        txn_error(plain.init_transactions().await.expect_err("no id")).kind,
        TransactionErrorKind::InvalidState
    );
    p.close(Duration::from_secs(10)).await;
    plain.close(Duration::from_secs(10)).await;
}

/// A call that runs out of `max.block.ms` can be called again and picks up the same
/// operation (Java's pending result). With `max.block.ms=0` the first call cannot have
/// its answer yet, so it times out every time this runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_transactions_resumes_after_a_timeout() {
    let bs = tv2();
    let c = ProducerConfig::from_properties([
        ("bootstrap.servers", bs.as_str()),
        ("transactional.id", topic("resume-id").as_str()),
        ("max.block.ms", "0"),
    ])
    .expect("config");
    let p = Producer::new(c).expect("producer");
    let first = p.init_transactions().await.expect_err("no answer within 0 ms");
    assert!(
        matches!(
            first,
            Error::TimedOut {
                what: "init_transactions",
                ..
            }
        ),
        "{first}"
    );
    let mut calls = 1;
    loop {
        match p.init_transactions().await {
            Ok(()) => break,
            Err(Error::TimedOut { .. }) if calls < 600 => {
                calls += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("after {calls} calls: {e}"),
        }
    }
    let (pid, epoch, state) = txn_identity(&p).await;
    assert!(pid >= 0);
    assert_eq!(
        (epoch, state.as_str()),
        (0, "READY"),
        "one InitProducerId, not one per call"
    );
    // Done: a further call is a second initialization, refused.
    let e = txn_error(p.init_transactions().await.expect_err("initialized already"));
    assert_eq!(e.kind, TransactionErrorKind::InvalidState);
    p.close(Duration::from_secs(10)).await;
}

/// The blocking producer's transactional calls (what the Python package builds on).
#[test]
fn blocking_producer_commits_a_transaction() {
    let bs = tv1();
    let t = topic("blocking");
    create_topic_on(&bs, &t, 1);
    let c = ProducerConfig::from_properties([
        ("bootstrap.servers", bs.as_str()),
        ("transactional.id", topic("blocking-id").as_str()),
    ])
    .expect("config");
    let p = volley::blocking::Producer::new(c).expect("producer");
    p.init_transactions().expect("init");
    p.begin_transaction().expect("begin");
    p.send_and_wait(ProducerRecord::new(t.as_str(), "aborted").partition(0))
        .expect("written");
    p.abort_transaction().expect("abort");
    p.begin_transaction().expect("begin");
    p.send_and_wait(ProducerRecord::new(t.as_str(), "committed").partition(0))
        .expect("written");
    let group = ConsumerGroupMetadata::new(topic("blocking-group"));
    p.send_offsets_to_transaction(vec![((t.clone(), 0), OffsetAndMetadata::new(1))], &group)
        .expect("offsets");
    p.commit_transaction().expect("commit");
    p.close(Duration::from_secs(10)).expect("close");
    assert_eq!(values(&bs, &t, 2, "read_committed"), ["committed"]);
    assert_eq!(values(&bs, &t, 3, "read_uncommitted"), ["aborted", "committed"]);
}

/// `committed_offsets` (the loader's resume): nothing for a new group; an open
/// transaction's offsets are not answered (require_stable: UNSTABLE_OFFSET_COMMIT, asked
/// again until `max.block.ms`); once it commits, its offset and metadata are; an aborted
/// transaction's are not.
async fn committed_offsets_read_back(bs: String) {
    let t = topic("offsets-read");
    create_topic_on(&bs, &t, 1);
    let group = topic("offsets-read-group");
    let key = vec![(t.clone(), 0)];
    let quick = ProducerConfig::from_properties([("bootstrap.servers", bs.as_str()), ("max.block.ms", "3000")])
        .expect("config");
    let got = volley::committed_offsets(&quick, &group, &key).await.expect("offsets");
    assert_eq!(got, vec![((t.clone(), 0), None)]);
    let p = producer(&bs, &topic("offsets-read-id"));
    p.init_transactions().await.expect("init");
    let commit = |offset: i64, meta: &str| {
        vec![(
            (t.clone(), 0),
            OffsetAndMetadata {
                offset,
                metadata: Some(meta.to_owned()),
                leader_epoch: None,
            },
        )]
    };
    let g = ConsumerGroupMetadata::new(group.clone());
    p.begin_transaction().expect("begin");
    send(&p, &t, "a").await.expect("send");
    p.send_offsets_to_transaction(commit(7, "seven"), &g)
        .await
        .expect("offsets");
    let open = volley::committed_offsets(&quick, &group, &key)
        .await
        .expect_err("an open transaction's offsets are unstable");
    assert!(matches!(open, Error::TimedOut { .. }), "{open}");
    p.commit_transaction().await.expect("commit");
    let got = volley::committed_offsets(&quick, &group, &key).await.expect("offsets");
    let o = got[0].1.clone().expect("committed");
    assert_eq!((o.offset, o.metadata.as_deref()), (7, Some("seven")));
    p.begin_transaction().expect("begin");
    p.send_offsets_to_transaction(commit(9, "nine"), &g)
        .await
        .expect("offsets");
    p.abort_transaction().await.expect("abort");
    let got = volley::committed_offsets(&quick, &group, &key).await.expect("offsets");
    assert_eq!(got[0].1.as_ref().map(|o| o.offset), Some(7));
    p.close(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_read_back_tv1() {
    committed_offsets_read_back(tv1()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_read_back_tv2() {
    committed_offsets_read_back(tv2()).await;
}

/// Review of issue 17: a send that passed the "in a transaction" check and then waited for
/// metadata while the transaction committed was appended outside any transaction (TV2: an
/// open transaction the producer did not know; TV1: a partition never added). It is now
/// checked again after its waits, under the manager's lock with the append: it fails with
/// an invalid-state error, and the next transaction commits cleanly.
async fn a_send_waiting_for_metadata_does_not_escape_the_commit(bs: String) {
    let known = topic("race-known");
    let late = topic("race-late");
    create_topic_on(&bs, &known, 1);
    let p = std::sync::Arc::new(producer(&bs, &topic("race")));
    p.init_transactions().await.expect("init");
    p.begin_transaction().expect("begin");
    send(&p, &known, "txn1").await.expect("delivered");
    let p2 = std::sync::Arc::clone(&p);
    let late_topic = late.clone();
    let waiting = tokio::spawn(async move {
        p2.send(ProducerRecord::new(late_topic, "late".to_owned()).partition(0))
            .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    p.commit_transaction().await.expect("commit");
    create_topic_on(&bs, &late, 1);
    let refused = waiting
        .await
        .expect("task")
        .expect_err("the transaction ended while it waited");
    assert_eq!(txn_error(refused.error).kind, TransactionErrorKind::InvalidState);
    p.begin_transaction().expect("begin");
    send(&p, &known, "txn2").await.expect("delivered");
    p.commit_transaction().await.expect("the next commit is clean");
    assert_eq!(values(&bs, &known, 2, "read_committed"), vec!["txn1", "txn2"]);
    p.close(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_send_waiting_for_metadata_does_not_escape_the_commit_tv1() {
    a_send_waiting_for_metadata_does_not_escape_the_commit(tv1()).await;
}

#[tokio::test]
async fn a_send_waiting_for_metadata_does_not_escape_the_commit_tv2() {
    a_send_waiting_for_metadata_does_not_escape_the_commit(tv2()).await;
}
