//! Bad input and unreachable brokers: specific errors within the configured bounds.

use std::time::{Duration, Instant};

use volley::{Error, Persistence, Producer, ProducerConfig, ProducerRecord};

fn dead_port() -> String {
    // Bound and dropped: nothing listens there.
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let a = l.local_addr().expect("addr");
    drop(l);
    a.to_string()
}

#[tokio::test]
async fn unreachable_bootstrap_fails_within_max_block() {
    let addr = dead_port();
    let cfg = ProducerConfig::from_properties([("bootstrap.servers", addr.as_str()), ("max.block.ms", "1500")])
        .expect("config");
    let p = Producer::new(cfg).expect("producer");
    let start = Instant::now();
    let e = p
        .send(ProducerRecord::new("clicks", "v"))
        .await
        .expect_err("nothing listens");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_millis(3000),
        "took {took:?}"
    );
    let text = e.to_string();
    assert!(matches!(e.error, Error::TopicNotAvailable { .. }), "{text}");
    assert!(
        text.starts_with("topic 'clicks' not present in metadata after 1500 ms: connection to "),
        "{text}"
    );
    assert!(text.contains(&addr) && text.contains("refused"), "{text}");
    p.close(Duration::from_secs(1)).await;
}

/// Java refuses such a list when it is constructed; Volley resolves names when connecting
/// (DESIGN.md, configuration next to the Java producer) and says so within max.block.ms.
#[tokio::test]
async fn unresolvable_bootstrap_name_fails_within_max_block() {
    let host = "volley-no-such-host.invalid:9092";
    let cfg = ProducerConfig::from_properties([("bootstrap.servers", host), ("max.block.ms", "1500")]).expect("config");
    let p = Producer::new(cfg).expect("producer");
    let start = Instant::now();
    let e = p
        .send(ProducerRecord::new("clicks", "v"))
        .await
        .expect_err("the name does not resolve");
    let took = start.elapsed();
    assert!(took < Duration::from_millis(3000), "took {took:?}");
    let text = e.to_string();
    assert!(matches!(e.error, Error::TopicNotAvailable { .. }), "{text}");
    assert!(text.contains(host), "{text}");
    p.close(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn record_over_max_request_size_is_refused_before_queueing() {
    let cfg = ProducerConfig::from_properties([
        ("bootstrap.servers", dead_port().as_str()),
        ("max.request.size", "1000"),
    ])
    .expect("config");
    let p = Producer::new(cfg).expect("producer");
    let e = p
        .send(ProducerRecord::new("t", vec![0u8; 2000]))
        .await
        .expect_err("too large");
    assert_eq!(
        e.to_string(),
        "the record is 2070 bytes when serialized, which is larger than 1000 bytes, the value of max.request.size"
    );
    p.close(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn invalid_topic_is_refused() {
    let p =
        Producer::new(ProducerConfig::from_properties([("bootstrap.servers", dead_port().as_str())]).expect("config"))
            .expect("producer");
    let e = p
        .send(ProducerRecord::new("bad topic", "v"))
        .await
        .expect_err("invalid");
    assert_eq!(
        e.to_string(),
        "invalid topic name 'bad topic': only ASCII letters, digits, '.', '_' and '-' are allowed"
    );
}

/// Transactions are built (issue 17): a transactional id needs idempotence, as in Java,
/// and the error names what turned it off.
#[test]
fn a_transactional_id_needs_idempotence() {
    let e = ProducerConfig::from_properties([
        ("bootstrap.servers", "127.0.0.1:9092"),
        ("transactional.id", "x"),
        ("acks", "1"),
    ])
    .expect_err("transactions need idempotence");
    assert_eq!(
        e.to_string(),
        "conflicting configuration: transactional.id=x needs idempotence, but acks=1 turned it off"
    );
}

/// A broker that accepts connections and never answers: close(t) must resolve every record
/// within its bound, queued ones as not persisted.
#[tokio::test]
async fn close_resolves_everything_when_the_broker_is_silent() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let cfg = ProducerConfig::from_properties([
        ("bootstrap.servers", addr.as_str()),
        ("max.block.ms", "300"),
        ("socket.connection.setup.timeout.ms", "200"),
    ])
    .expect("config");
    let p = Producer::new(cfg).expect("producer");
    let e = p
        .send(ProducerRecord::new("t", "v"))
        .await
        .expect_err("no metadata from a silent broker");
    assert!(
        e.to_string()
            .starts_with("topic 't' not present in metadata after 300 ms"),
        "{e}"
    );
    let start = Instant::now();
    p.close(Duration::from_millis(500)).await;
    assert!(start.elapsed() < Duration::from_secs(3));
    let e = p.send(ProducerRecord::new("t", "v")).await.expect_err("closed");
    assert!(matches!(e.error, Error::Closed { .. }));
    let _ = Persistence::NotPersisted;
}
