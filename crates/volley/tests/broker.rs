//! Produce to a real broker and read back with librdkafka (`check.crcs=true`): every case
//! on Apache Kafka (the reference broker), and two on tansu (a second implementation).

mod common;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use common::{
    bootstrap, create_topic, create_topic_on, librdkafka_placement_on, read_back, read_back_on, tansu_bootstrap, topic,
};
use volley::{Header, Producer, ProducerConfig, ProducerRecord};

struct Case {
    name: &'static str,
    partitions: u32,
    records: usize,
    keys: usize,
    value_sizes: &'static [usize],
    props: &'static [(&'static str, &'static str)],
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn value(i: usize, size: usize) -> Bytes {
    // Deterministic, varied bytes (compressible but not constant).
    Bytes::from(
        (0..size)
            .map(|j| (i.wrapping_mul(31) ^ j.wrapping_mul(7) ^ (j >> 5)) as u8)
            .collect::<Vec<u8>>(),
    )
}

/// [`round_trip_on`] Apache Kafka.
async fn round_trip(case: Case) {
    round_trip_on(bootstrap(), case).await;
}

/// Produces `case` to the broker at `bs`, reads it back with librdkafka, and checks every
/// byte, header, timestamp, offset, per-key order and key placement.
async fn round_trip_on(bs: String, case: Case) {
    let t = topic(case.name);
    create_topic_on(&bs, &t, case.partitions);
    let mut props: Vec<(&str, String)> = vec![("bootstrap.servers", bs.clone())];
    props.extend(case.props.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let config = ProducerConfig::from_properties(props).expect("config");
    let acked = config.acks != volley::Acks::None;
    let producer = Producer::new(config).expect("producer");
    let before = now_ms();
    let mut sent = Vec::new();
    let mut futures = Vec::new();
    for i in 0..case.records {
        let size = case.value_sizes[i % case.value_sizes.len()];
        let mut r = ProducerRecord::new(&t, value(i, size));
        // Every 7th record is keyless, every 11th a tombstone, every 5th has its own timestamp.
        if case.keys > 0 && i % 7 != 3 {
            r = r.key(format!("key-{}", i % case.keys));
        }
        if i % 11 == 5 {
            r = r.tombstone();
        }
        if i % 5 == 0 {
            r = r.timestamp(1_600_000_000_000 + i as i64);
        }
        r.headers = vec![
            Header::new("seq", i.to_string()),
            Header::new("dup", "a"),
            Header::new("dup", "b"),
            Header {
                key: "null".into(),
                value: None,
            },
        ];
        sent.push(r.clone());
        futures.push(producer.send(r).await.expect("send"));
    }
    let mut metas = Vec::new();
    for f in futures {
        metas.push(f.await.expect("delivered"));
    }
    producer.close(Duration::from_secs(10)).await;
    let after = now_ms();

    let got = read_back_on(&bs, &t, case.records);
    assert_eq!(
        got.len(),
        case.records,
        "{}: every record read back exactly once",
        case.name
    );
    let mut by_seq: HashMap<usize, &common::ReadRecord> = HashMap::new();
    for g in &got {
        let seq: usize = String::from_utf8(g.headers[0].1.clone().expect("seq"))
            .expect("utf-8")
            .parse()
            .expect("number");
        assert!(
            by_seq.insert(seq, g).is_none(),
            "{}: record {seq} duplicated",
            case.name
        );
    }
    let keys: Vec<Vec<u8>> = {
        let mut k: Vec<Vec<u8>> = sent.iter().filter_map(|r| r.key.as_ref().map(|k| k.to_vec())).collect();
        k.sort();
        k.dedup();
        k
    };
    let placement = if keys.is_empty() {
        HashMap::new()
    } else {
        librdkafka_placement_on(&bs, &keys, case.partitions)
    };
    let mut last_offset_of_key: HashMap<Vec<u8>, (i32, i64)> = HashMap::new();
    for (i, (s, m)) in sent.iter().zip(&metas).enumerate() {
        let g = by_seq
            .get(&i)
            .unwrap_or_else(|| panic!("{}: record {i} missing", case.name));
        assert_eq!(g.key.as_deref(), s.key.as_deref(), "key of {i}");
        assert_eq!(g.value.as_deref(), s.value.as_deref(), "value of {i}");
        let want_headers: Vec<(String, Option<Vec<u8>>)> = s
            .headers
            .iter()
            .map(|h| (h.key.clone(), h.value.as_ref().map(|v| v.to_vec())))
            .collect();
        assert_eq!(g.headers, want_headers, "headers of {i}");
        match s.timestamp {
            Some(ts) => assert_eq!(g.timestamp, ts, "timestamp of {i}"),
            None => assert!(
                (before..=after).contains(&g.timestamp),
                "timestamp of {i}: {} not in {before}..={after}",
                g.timestamp
            ),
        }
        assert_eq!(m.partition, g.partition, "reported partition of {i}");
        assert_eq!(m.timestamp, g.timestamp, "reported timestamp of {i}");
        if acked {
            assert_eq!(m.offset, Some(g.offset), "reported offset of {i}");
        } else {
            assert_eq!(m.offset, None);
            assert!(!m.acknowledged);
        }
        if let Some(k) = &s.key {
            assert_eq!(
                Some(&g.partition),
                placement.get(&k.to_vec()),
                "key {k:?} not on librdkafka's murmur2_random partition"
            );
            if let Some((p, o)) = last_offset_of_key.insert(k.to_vec(), (g.partition, g.offset)) {
                assert_eq!(p, g.partition);
                assert!(o < g.offset, "per-key order broken for {k:?}");
            }
        }
    }
}

const SMALL: &[usize] = &[0, 1, 17, 100, 1000];

/// The defaults on tansu: a second implementation of the protocol (it checks sequences
/// for real, but not CRCs or sizes).
#[tokio::test]
async fn tansu_defaults_acks_all_idempotent() {
    round_trip_on(
        tansu_bootstrap(),
        Case {
            name: "tansu-defaults",
            partitions: 12,
            records: 2000,
            keys: 200,
            value_sizes: SMALL,
            props: &[],
        },
    )
    .await;
}

/// zstd with small batches on tansu.
#[tokio::test]
async fn tansu_zstd_linger_0() {
    round_trip_on(
        tansu_bootstrap(),
        Case {
            name: "tansu-zstd",
            partitions: 4,
            records: 1000,
            keys: 50,
            value_sizes: SMALL,
            props: &[("compression.type", "zstd"), ("linger.ms", "0")],
        },
    )
    .await;
}

#[tokio::test]
async fn defaults_acks_all_idempotent_12_partitions() {
    round_trip(Case {
        name: "defaults",
        partitions: 12,
        records: 3000,
        keys: 200,
        value_sizes: SMALL,
        props: &[],
    })
    .await;
}

#[tokio::test]
async fn one_partition() {
    round_trip(Case {
        name: "one-partition",
        partitions: 1,
        records: 1000,
        keys: 50,
        value_sizes: SMALL,
        props: &[],
    })
    .await;
}

#[tokio::test]
async fn acks_0() {
    round_trip(Case {
        name: "acks0",
        partitions: 12,
        records: 1000,
        keys: 100,
        value_sizes: SMALL,
        props: &[("acks", "0")],
    })
    .await;
}

#[tokio::test]
async fn acks_1() {
    round_trip(Case {
        name: "acks1",
        partitions: 12,
        records: 1000,
        keys: 100,
        value_sizes: SMALL,
        props: &[("acks", "1")],
    })
    .await;
}

#[tokio::test]
async fn acks_all_explicit_idempotence() {
    round_trip(Case {
        name: "acksall",
        partitions: 3,
        records: 1000,
        keys: 100,
        value_sizes: SMALL,
        props: &[("acks", "all"), ("enable.idempotence", "true")],
    })
    .await;
}

#[tokio::test]
async fn gzip() {
    round_trip(Case {
        name: "gzip",
        partitions: 12,
        records: 1500,
        keys: 100,
        value_sizes: SMALL,
        props: &[("compression.type", "gzip"), ("compression.gzip.level", "9")],
    })
    .await;
}

#[tokio::test]
async fn snappy() {
    round_trip(Case {
        name: "snappy",
        partitions: 12,
        records: 1500,
        keys: 100,
        value_sizes: &[0, 50, 40_000],
        props: &[("compression.type", "snappy")],
    })
    .await;
}

#[tokio::test]
async fn lz4() {
    round_trip(Case {
        name: "lz4",
        partitions: 12,
        records: 1500,
        keys: 100,
        value_sizes: SMALL,
        props: &[("compression.type", "lz4")],
    })
    .await;
}

#[tokio::test]
async fn zstd() {
    round_trip(Case {
        name: "zstd",
        partitions: 12,
        records: 1500,
        keys: 100,
        value_sizes: SMALL,
        props: &[("compression.type", "zstd"), ("compression.zstd.level", "6")],
    })
    .await;
}

#[tokio::test]
async fn linger_0_batch_1kib() {
    round_trip(Case {
        name: "linger0-1k",
        partitions: 12,
        records: 1000,
        keys: 100,
        value_sizes: SMALL,
        props: &[("linger.ms", "0"), ("batch.size", "1024")],
    })
    .await;
}

#[tokio::test]
async fn linger_50_batch_1mib() {
    round_trip(Case {
        name: "linger50-1m",
        partitions: 12,
        records: 3000,
        keys: 100,
        value_sizes: SMALL,
        props: &[("linger.ms", "50"), ("batch.size", "1048576")],
    })
    .await;
}

#[tokio::test]
async fn values_up_to_one_million_bytes() {
    round_trip(Case {
        name: "large-values",
        partitions: 12,
        records: 24,
        keys: 6,
        value_sizes: &[0, 1, 1000, 100_000, 500_000, 1_000_000],
        props: &[("max.request.size", "2000000"), ("compression.type", "lz4")],
    })
    .await;
}

#[tokio::test]
async fn explicit_partition_and_partition_for() {
    let t = topic("explicit");
    create_topic(&t, 4);
    let p = Producer::new(ProducerConfig::from_properties([("bootstrap.servers", bootstrap())]).expect("config"))
        .expect("producer");
    let m = p
        .send(ProducerRecord::new(&t, "x").key("k").partition(3))
        .await
        .expect("send")
        .await
        .expect("delivered");
    assert_eq!(m.partition, 3);
    let want = volley::murmur2_partition(b"user-42", 4) as i32;
    assert_eq!(
        p.partition_for(&t, Some(b"user-42")).await.expect("metadata"),
        Some(want)
    );
    let e = p
        .send(ProducerRecord::new(&t, "x").partition(9))
        .await
        .expect_err("no partition 9");
    assert_eq!(
        e.to_string(),
        format!("partition 9 of topic '{t}' does not exist (the topic has 4 partitions)")
    );
    p.close(Duration::from_secs(5)).await;
    let got = read_back(&t, 1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].partition, 3);
}

#[tokio::test]
async fn flush_sends_without_waiting_for_linger() {
    let t = topic("flush");
    create_topic(&t, 2);
    let p = Producer::new(
        ProducerConfig::from_properties([("bootstrap.servers", bootstrap()), ("linger.ms", "600000".into())])
            .expect("config"),
    )
    .expect("producer");
    let f = p.send(ProducerRecord::new(&t, "now").key("k")).await.expect("send");
    tokio::time::timeout(Duration::from_secs(20), p.flush())
        .await
        .expect("flush returns long before linger.ms");
    let m = tokio::time::timeout(Duration::from_secs(1), f)
        .await
        .expect("resolved by flush")
        .expect("delivered");
    assert_eq!(m.offset, Some(0));
    p.close(Duration::from_secs(5)).await;
}

/// Issue 14: `connections.max.idle.ms` closes connections that waited for nothing that
/// long (Java's Selector does), and the next send dials again; bootstrap through the
/// canonical name of 127.0.0.1 (`client.dns.lookup=resolve_canonical_bootstrap_servers_only`)
/// reaches the same broker.
#[tokio::test]
async fn idle_connections_close_and_the_next_send_dials_again() {
    let bs = bootstrap();
    let t = topic("idle-close");
    create_topic(&t, 1);
    let config = ProducerConfig::from_properties([
        ("bootstrap.servers", bs.as_str()),
        ("connections.max.idle.ms", "1000"),
        ("client.dns.lookup", "resolve_canonical_bootstrap_servers_only"),
        ("metadata.max.age.ms", "600000"),
    ])
    .expect("config");
    let producer = Producer::new(config).expect("producer");
    let first = producer
        .send(ProducerRecord::new(&t, Bytes::from_static(b"one")))
        .await
        .expect("queued")
        .await
        .expect("delivered");
    let closes = |p: &Producer| p.metrics().get("connection-close-total").unwrap_or(0.0);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while closes(&producer) < 1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no idle connection was closed within 20 s with connections.max.idle.ms=1000"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let count = producer.metrics().get("connection-count").unwrap_or(-1.0);
    assert_eq!(count, 0.0, "every connection was idle, so every one is closed");
    let second = producer
        .send(ProducerRecord::new(&t, Bytes::from_static(b"two")))
        .await
        .expect("queued")
        .await
        .expect("delivered after the idle close");
    assert_eq!(second.offset, first.offset.map(|o| o + 1));
    producer.close(Duration::from_secs(5)).await;
    let got = read_back(&t, 2);
    assert_eq!(got.len(), 2);
}

/// Issue 14: librdkafka's `queue.buffering.max.messages` bounds the records queued or in
/// flight: with two records lingering, a third `send` waits `max.block.ms` and fails with
/// `QueueFull`; once they are delivered their slots are free again. `batch.num.messages=2`
/// puts the next three records in two batches (their offsets say nothing of batches, so the
/// request count does).
#[tokio::test]
async fn record_limits_bound_the_queue_and_the_batches() {
    let bs = bootstrap();
    let t = topic("queue-limit");
    create_topic(&t, 1);
    let config = ProducerConfig::from_properties([
        ("bootstrap.servers", bs.as_str()),
        ("queue.buffering.max.messages", "2"),
        ("linger.ms", "60000"),
        ("max.block.ms", "500"),
    ])
    .expect("config");
    let producer = Producer::new(config).expect("producer");
    let mut pending = Vec::new();
    for v in ["a", "b"] {
        let r = ProducerRecord::new(&t, Bytes::from(v)).partition(0);
        pending.push(producer.send(r).await.expect("queued"));
    }
    let e = producer
        .send(ProducerRecord::new(&t, Bytes::from_static(b"c")).partition(0))
        .await
        .expect_err("the queue holds two records");
    assert!(matches!(e.error, volley::Error::QueueFull { records: 2, .. }), "{e}");
    producer.flush().await;
    for p in pending {
        p.await.expect("delivered");
    }
    let c = producer
        .send(ProducerRecord::new(&t, Bytes::from_static(b"c")).partition(0))
        .await
        .expect("room again");
    producer.flush().await;
    c.await.expect("delivered");
    producer.close(Duration::from_secs(5)).await;

    let t = topic("batch-records");
    create_topic(&t, 1);
    let config = ProducerConfig::from_properties([
        ("bootstrap.servers", bs.as_str()),
        ("batch.num.messages", "2"),
        ("linger.ms", "60000"),
    ])
    .expect("config");
    let producer = Producer::new(config).expect("producer");
    let mut pending = Vec::new();
    for v in ["1", "2", "3", "4", "5"] {
        let r = ProducerRecord::new(&t, Bytes::from(v)).partition(0);
        pending.push(producer.send(r).await.expect("queued"));
    }
    // Two full batches go at once, without the minute of linger; the fifth record waits.
    for p in pending.drain(..4) {
        tokio::time::timeout(Duration::from_secs(20), p)
            .await
            .expect("a full batch is sent without waiting for linger.ms")
            .expect("delivered");
    }
    producer.close(Duration::from_secs(5)).await;
    assert_eq!(read_back(&t, 5).len(), 5);
}

/// Review of issue 14: a `send` cancelled while it waits for `buffer.memory` gives back its
/// `queue.buffering.max.messages` slot (it was lost for good, and the producer ended up
/// refusing every record with `QueueFull`).
#[tokio::test]
async fn a_cancelled_send_gives_back_its_queue_slot() {
    let bs = bootstrap();
    let t = topic("queue-cancel");
    create_topic(&t, 1);
    let config = ProducerConfig::from_properties([
        ("bootstrap.servers", bs.as_str()),
        ("queue.buffering.max.messages", "2"),
        ("buffer.memory", "3000"),
        ("linger.ms", "60000"),
        ("max.block.ms", "2000"),
    ])
    .expect("config");
    let producer = Producer::new(config).expect("producer");
    let big = || ProducerRecord::new(&t, Bytes::from(vec![b'x'; 2000])).partition(0);
    let a = producer.send(big()).await.expect("queued");
    // B holds a slot and waits for memory A holds; it is cancelled.
    let b = tokio::time::timeout(Duration::from_millis(200), producer.send(big())).await;
    assert!(b.is_err(), "B waits for buffer.memory");
    producer.flush().await;
    a.await.expect("A delivered");
    let small = || ProducerRecord::new(&t, Bytes::from_static(b"s")).partition(0);
    let c = producer.send(small()).await.expect("C queued");
    let d = producer.send(small()).await.expect("D queued: B's slot came back");
    producer.flush().await;
    c.await.expect("C delivered");
    d.await.expect("D delivered");
    producer.close(Duration::from_secs(5)).await;
}
