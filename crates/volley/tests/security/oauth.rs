//! OAUTHBEARER by OIDC client credentials, KIP-368 re-authentication on the `REAUTH` listener
//! (sessions of at most 10 s), ACLs, and a mechanism the listener does not enable.
//!
//! Connection and re-authentication counts come from the producer's own debug events,
//! captured by a subscriber that is the default on the test's thread only (`#[tokio::test]`
//! runs every task of the test on that thread), so tests running beside it do not count.

use std::time::{Duration, Instant};

use volley::{Error, ProducerRecord};
use volley_protocol::ErrorCode;
use volley_testkit::kafka_secure::USERS;
use volley_testkit::oidc::TokenEndpoint;

use super::{fails, kafka, producer, read_back, reader, topic, Counts};

/// Sends keyed records `0..` for `secs` seconds at about `per_sec`, then waits for every
/// delivery: how many were sent.
async fn produce_for(p: &volley::Producer, t: &str, secs: u64, per_sec: u64) -> usize {
    let start = Instant::now();
    let mut futs = Vec::new();
    let mut i = 0usize;
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / per_sec.max(1)));
    while start.elapsed() < Duration::from_secs(secs) {
        tick.tick().await;
        let r = ProducerRecord::new(t, format!("{i}")).key(format!("k{}", i % 20));
        futs.push(p.send(r).await.expect("send"));
        i += 1;
    }
    for (n, f) in futs.into_iter().enumerate() {
        f.await.unwrap_or_else(|e| panic!("record {n} delivered: {e}"));
    }
    i
}

/// OIDC end to end: tokens from the token endpoint stand-in (client credentials), living 8 s,
/// on a listener whose sessions end with the token: the producer fetches fresh tokens and
/// re-authenticates on its connections for 25 s without reconnecting or losing a record.
#[tokio::test]
async fn oidc_tokens_are_fetched_and_refreshed_during_a_run() {
    let counts = Counts::default();
    let _guard = counts.install();
    let k = kafka();
    let endpoint = TokenEndpoint::start("volley-oidc", "oidc-secret-5d1e", Duration::from_secs(8)).await;
    let t = topic("oidc");
    let conf = vec![
        ("security.protocol", "SASL_PLAINTEXT".to_owned()),
        ("sasl.mechanism", "OAUTHBEARER".to_owned()),
        ("sasl.oauthbearer.method", "oidc".to_owned()),
        ("sasl.oauthbearer.token.endpoint.url", endpoint.url().to_owned()),
        ("sasl.oauthbearer.client.id", "volley-oidc".to_owned()),
        ("sasl.oauthbearer.client.secret", "oidc-secret-5d1e".to_owned()),
        ("sasl.oauthbearer.scope", "kafka".to_owned()),
    ];
    let p = producer(&k.reauth, &conf).expect("producer");
    let n = produce_for(&p, &t, 25, 200).await;
    p.close(Duration::from_secs(10)).await;
    let (connected, reauthenticated) = counts.get();
    eprintln!(
        "oidc: {n} records, {} tokens, {connected} connections, {reauthenticated} re-authentications",
        endpoint.issued()
    );
    assert!(
        endpoint.issued() >= 3,
        "8 s tokens over 25 s: refreshed ({} issued)",
        endpoint.issued()
    );
    assert!(reauthenticated >= 2, "sessions renewed in place ({reauthenticated})");
    assert!(connected <= 3, "no reconnections ({connected} connections)");
    read_back("oidc", &k.plaintext, &[], &t, n);

    // Wrong client secret: the endpoint's refusal, quoted, fails the send at once.
    let mut bad = conf.clone();
    bad[5].1 = "not-the-secret".to_owned();
    let msg = fails(
        "oidc-bad-secret",
        &k.reauth,
        &bad,
        &["OAUTHBEARER", "401", "invalid_client"],
    )
    .await;
    assert!(!msg.contains("not-the-secret"), "{msg}");
}

/// KIP-368: the broker allows sessions of 10 s; a 60 s run keeps producing across several
/// re-authentications on the same connections (no reconnection), every record exactly once
/// and in per-key order.
#[tokio::test]
async fn reauthentication_keeps_a_60_s_run_going() {
    let counts = Counts::default();
    let _guard = counts.install();
    let k = kafka();
    let (alice, pw) = USERS[0];
    let t = topic("reauth");
    let conf = vec![
        ("security.protocol", "SASL_PLAINTEXT".to_owned()),
        ("sasl.mechanism", "SCRAM-SHA-512".to_owned()),
        ("sasl.username", alice.to_owned()),
        ("sasl.password", pw.to_owned()),
    ];
    let p = producer(&k.reauth, &conf).expect("producer");
    let n = produce_for(&p, &t, 60, 500).await;
    p.close(Duration::from_secs(10)).await;
    let (connected, reauthenticated) = counts.get();
    eprintln!("reauth: {n} records, {connected} connections, {reauthenticated} re-authentications");
    assert!(
        reauthenticated >= 4,
        "10 s sessions over 60 s: renewed ({reauthenticated})"
    );
    assert!(
        connected <= 3,
        "renewed in place, not by reconnecting ({connected} connections)"
    );
    read_back("reauth", &k.plaintext, &[], &t, n);
}

/// ACLs: bob may write one topic, only describe another, and has no ACL on a third. The
/// idempotent producer needs no IdempotentWrite ACL (Kafka 3+: Write on a topic suffices);
/// records to the topics he may not write fail at once with TOPIC_AUTHORIZATION_FAILED, the
/// others are delivered.
#[tokio::test]
async fn acls_fail_only_the_records_of_unwritable_topics() {
    let k = kafka();
    let (bob, pw) = USERS[1];
    let (writable, describable, hidden) = (topic("acl-write"), topic("acl-describe"), topic("acl-none"));
    reader(&["allow", &k.plaintext, "User:bob", &writable, "WRITE"], &[]);
    reader(&["allow", &k.plaintext, "User:bob", &describable, "DESCRIBE"], &[]);
    let conf = vec![
        ("security.protocol", "SASL_PLAINTEXT".to_owned()),
        ("sasl.mechanism", "PLAIN".to_owned()),
        ("sasl.username", bob.to_owned()),
        ("sasl.password", pw.to_owned()),
        ("max.block.ms", "20000".to_owned()),
    ];
    let p = producer(&k.sasl_plaintext, &conf).expect("producer");
    assert!(p.config().enable_idempotence, "the default idempotent producer");
    let start = Instant::now();
    let mut ok = Vec::new();
    for i in 0..100 {
        let r = ProducerRecord::new(&writable, format!("{i}")).key(format!("k{}", i % 5));
        ok.push(p.send(r).await.expect("send"));
    }
    let auth_failed = |e: &Error, what: &str| {
        assert!(
            matches!(e, Error::Broker { code, .. } if *code == ErrorCode::TOPIC_AUTHORIZATION_FAILED),
            "{what}: {e}"
        );
    };
    // No Describe: metadata refuses the topic, send fails at once.
    let e = p
        .send(ProducerRecord::new(&hidden, "x"))
        .await
        .expect_err("no ACL: refused");
    auth_failed(&e.error, "no ACL");
    // Describe only: the Produce answer refuses the batch, not retried.
    let f = p
        .send(ProducerRecord::new(&describable, "y"))
        .await
        .expect("describable: metadata answers");
    let e = f.await.expect_err("no Write: refused");
    assert_eq!(e.persistence, volley::Persistence::NotPersisted, "{e}");
    auth_failed(&e.error, "Describe only");
    for f in ok {
        f.await.expect("the writable topic's records are delivered");
    }
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "no retrying: {:?}",
        start.elapsed()
    );
    p.close(Duration::from_secs(10)).await;
    read_back("acl", &k.plaintext, &[], &writable, 100);
}

/// A mechanism the listener does not enable (SASLSSL leaves SCRAM-SHA-256 out): the error
/// names it and quotes what the broker offers; the producer stops instead of redialling.
#[tokio::test]
async fn a_mechanism_the_listener_does_not_enable_names_the_offered_ones() {
    let k = kafka();
    let (alice, pw) = USERS[0];
    let conf = vec![
        ("security.protocol", "SASL_SSL".to_owned()),
        ("ssl.ca.location", k.ca.display().to_string()),
        ("sasl.mechanism", "SCRAM-SHA-256".to_owned()),
        ("sasl.username", alice.to_owned()),
        ("sasl.password", pw.to_owned()),
    ];
    fails(
        "mechanism-not-enabled",
        &k.sasl_ssl,
        &conf,
        &["does not enable SCRAM-SHA-256", "PLAIN", "SCRAM-SHA-512"],
    )
    .await;
}

/// A library user's own token source (a cloud IAM token, say) serves OAUTHBEARER through
/// the builder; its tokens are the ones the broker sees (their subject is the principal, so
/// a subject without rights would be refused).
#[tokio::test]
async fn a_token_provider_of_the_library_user_serves_oauthbearer() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use volley::security::{TokenFuture, TokenProvider, UnsecuredJwt};

    struct Iam {
        calls: AtomicU64,
        subject: &'static str,
    }
    impl TokenProvider for Iam {
        fn token(&self) -> TokenFuture<'_> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let jwt = UnsecuredJwt {
                subject: self.subject.to_owned(),
                lifetime: Duration::from_secs(600),
                scope: None,
            };
            Box::pin(async move { Ok(jwt.issue(std::time::SystemTime::now())) })
        }
    }
    let k = kafka();
    let t = topic("provider");
    let build = |subject: &'static str| {
        let iam = Arc::new(Iam {
            calls: AtomicU64::new(0),
            subject,
        });
        let config = volley::ProducerConfig::builder()
            .bootstrap_servers(&k.sasl_plaintext)
            .security_protocol(volley::config::SecurityProtocol::SaslPlaintext)
            .sasl_mechanism(volley::security::SaslMechanism::OAuthBearer)
            .oauth_token_provider(iam.clone())
            .build()
            .expect("config");
        (volley::Producer::new(config).expect("producer"), iam)
    };
    let (p, iam) = build("alice");
    let mut futs = Vec::new();
    for i in 0..1000 {
        let r = ProducerRecord::new(&t, format!("{i}")).key(format!("k{}", i % 10));
        futs.push(p.send(r).await.expect("send"));
    }
    for f in futs {
        f.await.expect("delivered");
    }
    p.close(Duration::from_secs(10)).await;
    assert!(iam.calls.load(Ordering::SeqCst) >= 1, "the provider was asked");
    read_back("provider", &k.plaintext, &[], &t, 1000);
    // bob has no ACL on the topic: the broker took the provider's subject as the principal.
    let (p, _) = build("bob");
    let e = p
        .send(ProducerRecord::new(&t, "x"))
        .await
        .expect_err("bob may not write");
    assert!(
        matches!(e.error, Error::Broker { code, .. } if code == ErrorCode::TOPIC_AUTHORIZATION_FAILED),
        "{e}"
    );
}

/// An idempotent producer whose principal may write no topic at all (carol may only describe
/// one) gets CLUSTER_AUTHORIZATION_FAILED from InitProducerId: a fatal producer error naming
/// the code, for the waiting record and every later send.
#[tokio::test]
async fn init_producer_id_refused_by_acls_stops_the_producer() {
    let k = kafka();
    let (carol, pw) = USERS[2];
    let t = topic("acl-carol");
    reader(&["allow", &k.plaintext, "User:carol", &t, "DESCRIBE"], &[]);
    let conf = vec![
        ("security.protocol", "SASL_PLAINTEXT".to_owned()),
        ("sasl.mechanism", "SCRAM-SHA-256".to_owned()),
        ("sasl.username", carol.to_owned()),
        ("sasl.password", pw.to_owned()),
    ];
    let p = producer(&k.sasl_plaintext, &conf).expect("producer");
    let start = Instant::now();
    let outcome = match p.send(ProducerRecord::new(&t, "x")).await {
        Ok(f) => f.await.err().map(|e| e.error),
        Err(e) => Some(e.error),
    };
    let e = outcome.expect("carol's record is refused");
    eprintln!("carol ({:.1} s): {e}", start.elapsed().as_secs_f64());
    assert!(matches!(e, Error::Fatal(_)), "{e}");
    assert!(e.to_string().contains("CLUSTER_AUTHORIZATION_FAILED"), "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "at once, not after a timeout"
    );
    let later = p.send(ProducerRecord::new(&t, "y")).await.expect_err("stopped");
    assert!(matches!(later.error, Error::Fatal(_)), "{later}");
}
