//! Transactions under ACLs (issue 17): no ACL on the transactional id is fatal at
//! `init_transactions` (TRANSACTIONAL_ID_AUTHORIZATION_FAILED); a send to a topic the
//! principal may not write dooms only the transaction (TOPIC_AUTHORIZATION_FAILED is
//! abortable): the commit fails, the abort works, and the next transaction commits.

use std::time::Duration;

use volley::{Error, ProducerRecord, TransactionErrorKind};
use volley_protocol::ErrorCode;
use volley_testkit::kafka_secure::USERS;

use super::{kafka, producer, read_back, reader, topic};

fn txn_error(e: Error) -> volley::TransactionError {
    match e {
        Error::Transaction(t) => t,
        other => panic!("expected a transaction error, got {other}"),
    }
}

#[tokio::test]
async fn transactional_id_and_topic_acls() {
    let k = kafka();
    let (bob, pw) = USERS[1];
    let (writable, hidden) = (topic("txn-acl-write"), topic("txn-acl-none"));
    let allowed_id = format!("{writable}-id");
    reader(
        &["allow", &k.plaintext, "User:bob", &writable, "WRITE", "DESCRIBE"],
        &[],
    );
    reader(
        &[
            "allow-transactional-id",
            &k.plaintext,
            "User:bob",
            &allowed_id,
            "WRITE",
            "DESCRIBE",
        ],
        &[],
    );
    let conf = |id: &str| {
        vec![
            ("security.protocol", "SASL_PLAINTEXT".to_owned()),
            ("sasl.mechanism", "PLAIN".to_owned()),
            ("sasl.username", bob.to_owned()),
            ("sasl.password", pw.to_owned()),
            ("transactional.id", id.to_owned()),
            ("max.block.ms", "20000".to_owned()),
        ]
    };
    // No ACL on this transactional id: fatal.
    let denied = producer(&k.sasl_plaintext, &conf(&format!("{writable}-other"))).expect("producer");
    let e = txn_error(denied.init_transactions().await.expect_err("not authorized"));
    assert_eq!(
        (e.kind, e.code),
        (
            TransactionErrorKind::Fatal,
            Some(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
        ),
        "{e}"
    );
    denied.close(Duration::from_secs(5)).await;

    let p = producer(&k.sasl_plaintext, &conf(&allowed_id)).expect("producer");
    p.init_transactions().await.expect("init");
    p.begin_transaction().expect("begin");
    let mut futs = Vec::new();
    for i in 0..5 {
        let r = ProducerRecord::new(&writable, format!("{i}")).key(format!("k{}", i % 5));
        futs.push(p.send(r).await.expect("send"));
    }
    for f in futs {
        f.await.expect("written (then aborted)");
    }
    let e = p
        .send(ProducerRecord::new(&hidden, "x"))
        .await
        .expect_err("no ACL on the topic");
    assert!(
        matches!(e.error, Error::Broker { code, .. } if code == ErrorCode::TOPIC_AUTHORIZATION_FAILED),
        "{}",
        e.error
    );
    let c = txn_error(p.commit_transaction().await.expect_err("abortable"));
    assert_eq!(c.kind, TransactionErrorKind::Abortable, "{c}");
    p.abort_transaction().await.expect("abort works");
    p.begin_transaction().expect("begin");
    let mut futs = Vec::new();
    for i in 0..10 {
        let r = ProducerRecord::new(&writable, format!("{i}")).key(format!("k{}", i % 5));
        futs.push(p.send(r).await.expect("send"));
    }
    for f in futs {
        f.await.expect("written");
    }
    p.commit_transaction().await.expect("the next transaction commits");
    p.close(Duration::from_secs(10)).await;
    // read_committed (librdkafka's default): values 0..10 each once; an aborted 0..5 would
    // show as a second copy.
    read_back("txn-acl", &k.plaintext, &[], &writable, 10);
}
