//! `Producer::metrics()` against what the test knows (issue 13): records, batches, bytes,
//! retries the fake cluster forces, errors, throttling, connections, buffer wait.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::producer;
use volley::ProducerRecord;
use volley_protocol::ErrorCode;
use volley_testkit::fake::{Action, FakeCluster};

const PRODUCE: i16 = 0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_happened() {
    let c = FakeCluster::start(1).await;
    c.create_topic("m", 2);
    c.create_topic("other", 1);
    // The first two Produce requests are refused with a retriable error; the third is throttled.
    let produces = Arc::new(AtomicU32::new(0));
    let n = Arc::clone(&produces);
    c.set_hook(move |r| {
        if r.api_key != PRODUCE {
            return Action::Respond;
        }
        match n.fetch_add(1, Ordering::SeqCst) {
            0 | 1 => Action::Error(ErrorCode::NOT_LEADER_OR_FOLLOWER),
            2 => Action::Throttle(Duration::from_millis(30)),
            _ => Action::Respond,
        }
    });
    let p = producer(
        &c,
        &[
            ("linger.ms", "0"),
            ("client.id", "metrics-test"),
            ("max.in.flight.requests.per.connection", "1"),
        ],
    );
    // One record first: it is the batch refused twice, then throttled.
    p.send(ProducerRecord::new("m", "first").partition(0))
        .await
        .expect("send")
        .await
        .expect("delivered after two retries");
    let mut futs = Vec::new();
    for i in 0..200 {
        let topic = if i % 4 == 0 { "other" } else { "m" };
        futs.push(
            p.send(ProducerRecord::new(topic, format!("value-{i:04}")))
                .await
                .expect("send"),
        );
    }
    for f in futs {
        f.await.expect("delivered");
    }
    let m = p.metrics();
    let g = |k: &str| m.get(k).unwrap_or_else(|| panic!("{k} missing"));
    assert_eq!(m.client_id, "metrics-test");
    // 201 records were delivered, and the first batch (1 record) was sent 3 times.
    assert_eq!(
        g("record-send-total"),
        203.0,
        "records in Produce requests, retries included (as Java)"
    );
    assert_eq!(g("record-retry-total"), 2.0, "the refused batch went back twice");
    assert_eq!(g("record-error-total"), 0.0);
    assert_eq!(m.topics["m"]["record-retry-total"], 2.0);
    assert_eq!(
        m.topics["m"]["record-send-total"] + m.topics["other"]["record-send-total"],
        203.0
    );
    assert_eq!(m.topics["other"]["record-send-total"], 50.0);
    assert!(
        g("produce-throttle-time-max") >= 30.0,
        "the throttled answer: {}",
        g("produce-throttle-time-max")
    );
    assert!(g("request-total") >= g("response-total"));
    assert_eq!(g("requests-in-flight"), 0.0, "nothing outstanding after every delivery");
    assert!(g("connection-creation-total") >= 1.0);
    assert_eq!(
        g("connection-count"),
        g("connection-creation-total") - g("connection-close-total")
    );
    assert!(g("batch-size-max") > 0.0 && g("batch-size-avg") <= g("batch-size-max"));
    assert!(
        g("record-size-avg") > 10.0,
        "about a 10-byte value plus overhead: {}",
        g("record-size-avg")
    );
    assert!(g("outgoing-byte-total") > 201.0 * 10.0);
    assert!(g("incoming-byte-total") > 0.0);
    assert_eq!(
        g("buffer-available-bytes"),
        g("buffer-total-bytes"),
        "all memory given back"
    );
    assert!(m.request_latency.count >= 3);
    assert!(g("record-send-rate") > 0.0);
    let total: f64 = m.nodes.values().map(|n| n["request-total"]).sum();
    assert_eq!(total, g("request-total"), "per-node totals add up");
    p.close(Duration::from_secs(2)).await;

    // Records that fail for good count as errors, per topic.
    c.set_hook(|r| {
        if r.api_key == PRODUCE {
            Action::Error(ErrorCode::CORRUPT_MESSAGE)
        } else {
            Action::Respond
        }
    });
    let p = producer(
        &c,
        &[("linger.ms", "0"), ("retries", "0"), ("enable.idempotence", "false")],
    );
    let r = p.send(ProducerRecord::new("other", "bad")).await.expect("send").await;
    assert!(r.is_err(), "refused for good");
    let m = p.metrics();
    assert!(
        m.client_id.starts_with("producer-"),
        "Java's name for an empty client.id: {}",
        m.client_id
    );
    assert_eq!(m.get("record-error-total"), Some(1.0));
    assert_eq!(m.topics["other"]["record-error-total"], 1.0);
    p.close(Duration::from_secs(2)).await;

    // Java's record-size-max is each batch's largest record (not the batch's average); a
    // record `send` refuses (too large) counts in record-error-total, with its topic.
    c.set_hook(|_| Action::Respond);
    let p = producer(&c, &[("linger.ms", "200"), ("max.request.size", "20000")]);
    let mut futs = Vec::new();
    for i in 0..9 {
        futs.push(
            p.send(ProducerRecord::new("m", format!("s{i}")).partition(0))
                .await
                .expect("send"),
        );
    }
    futs.push(
        p.send(ProducerRecord::new("m", "x".repeat(10_000)).partition(0))
            .await
            .expect("send"),
    );
    for f in futs {
        f.await.expect("delivered");
    }
    let refused = p.send(ProducerRecord::new("other", "y".repeat(30_000))).await;
    assert!(refused.is_err(), "over max.request.size");
    let m = p.metrics();
    let max = m.get("record-size-max").expect("record-size-max");
    assert!(
        (10_000.0..10_100.0).contains(&max),
        "the 10,000-byte record, as encoded: {max}"
    );
    assert_eq!(m.get("record-error-total"), Some(1.0), "the refused send");
    assert_eq!(m.topics["other"]["record-error-total"], 1.0);
    let responses = m.get("response-total").unwrap_or(0.0) as u64;
    assert!(
        m.request_latency.count >= 1 && m.request_latency.count < responses,
        "Metadata and InitProducerId answers are responses, not Produce latencies: {} of {responses}",
        m.request_latency.count
    );
    p.close(Duration::from_secs(2)).await;
}
