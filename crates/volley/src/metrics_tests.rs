use std::time::{Duration, Instant};

use super::*;

const W: Window = Window {
    length: Duration::from_secs(30),
    samples: 2,
};

fn at(t0: Instant, s: u64) -> Instant {
    t0 + Duration::from_secs(s)
}

/// Java's `Rate`: the sum over the live samples divided by the time they cover plus one
/// window while fewer than (samples - 1) windows are full: 60 records in the first 10 s is
/// 60 / (10 + 30) = 1.5/s, not 6/s.
#[test]
fn rates_follow_javas_window_rules() {
    let t0 = Instant::now();
    let mut s = Stat::default();
    s.record(60.0, t0, W);
    assert!((s.rate(at(t0, 10), W) - 1.5).abs() < 1e-9, "{}", s.rate(at(t0, 10), W));
    // A second sample 40 s later: both live, 160 over 45 s.
    s.record(100.0, at(t0, 40), W);
    assert!((s.rate(at(t0, 45), W) - 160.0 / 45.0).abs() < 1e-9);
    // After both windows pass, nothing is live.
    assert_eq!(s.rate(at(t0, 200), W), 0.0);
    assert_eq!(s.total, 160.0, "totals never expire");
    assert_eq!(s.count, 2);
}

#[test]
fn averages_and_maxima_are_over_the_window() {
    let t0 = Instant::now();
    let mut s = Stat::default();
    assert!(s.avg(t0, W).is_nan(), "no sample: NaN, as Java");
    assert!(s.max(t0, W).is_nan());
    s.record(10.0, t0, W);
    s.record(30.0, at(t0, 1), W);
    assert_eq!(s.avg(at(t0, 2), W), 20.0);
    assert_eq!(s.max(at(t0, 2), W), 30.0);
    s.record(5.0, at(t0, 70), W);
    assert_eq!(s.max(at(t0, 71), W), 5.0, "the 30 fell out of the window");
    assert_eq!(
        s.count_rate(at(t0, 71), W),
        1.0 / 31.0,
        "one event over 1 s + one window"
    );
}

#[test]
fn histograms_are_cumulative() {
    let mut h = Histogram::default();
    h.observe(0.0004);
    h.observe(0.003);
    h.observe(20.0);
    assert_eq!(h.buckets[0], 1, "<= 0.5 ms");
    assert_eq!(h.buckets[3], 2, "<= 5 ms");
    assert_eq!(h.buckets[14], 2, "20 s is above every bound (only +Inf holds it)");
    assert_eq!(h.count, 3);
}

/// The snapshot counts what it was told: records, bytes, requests, retries, failures, splits.
#[test]
fn the_snapshot_names_javas_metrics() {
    let m = Metrics::new(W, false);
    let now = Instant::now();
    m.batch_drained(Duration::from_millis(7), now);
    let b = [
        BatchSent {
            topic: "t",
            records: 4,
            bytes: 200,
            compression: 0.5,
            max_record: 120,
        },
        BatchSent {
            topic: "u",
            records: 1,
            bytes: 90,
            compression: 1.0,
            max_record: 90,
        },
    ];
    m.produce_sent(1, &b, 350, now);
    m.response(1, 60, Some(Duration::from_millis(12)), now);
    // A control answer: a response, not a Produce latency.
    m.response(1, 30, None, now);
    m.throttle(40, now);
    m.retry("t", 4, now);
    m.failed(Some("u"), 1, true, now);
    m.split(now);
    m.identity((7, 0));
    m.identity((7, 1));
    m.connection(1, true);
    m.connection(1, true);
    m.connection(1, false);
    let s = m.snapshot(
        "c1",
        &Gauges {
            buffer_total: 1000,
            buffer_available: 600,
            sequence_gaps: 2,
        },
        now,
    );
    let g = |k: &str| s.get(k).unwrap_or_else(|| panic!("{k}"));
    assert_eq!(g("record-send-total"), 5.0);
    assert_eq!(g("records-per-request-avg"), 5.0);
    assert_eq!(g("batch-size-max"), 200.0);
    assert_eq!(g("compression-rate-avg"), 0.75);
    assert_eq!(
        g("record-size-avg"),
        105.0,
        "the mean of each batch's largest record, as Java"
    );
    assert_eq!(g("record-size-max"), 120.0);
    assert_eq!(g("record-queue-time-max"), 7.0);
    assert_eq!(g("request-latency-max"), 12.0);
    assert_eq!(g("produce-throttle-time-max"), 40.0);
    assert_eq!(g("outgoing-byte-total"), 350.0);
    assert_eq!(g("incoming-byte-total"), 90.0);
    assert_eq!(g("response-total"), 2.0);
    assert_eq!(g("record-retry-total"), 4.0);
    assert_eq!(g("record-error-total"), 1.0);
    assert_eq!(g("possibly-persisted-total"), 1.0);
    assert_eq!(g("batch-split-total"), 1.0);
    assert_eq!(g("epoch-bump-total"), 1.0);
    assert_eq!(g("sequence-gap-total"), 2.0);
    assert_eq!(g("connection-count"), 1.0);
    assert_eq!(g("connection-creation-total"), 2.0);
    assert_eq!(g("requests-in-flight"), 0.0);
    assert_eq!(g("buffer-available-bytes"), 600.0);
    assert_eq!(s.topics["t"]["record-send-total"], 4.0);
    assert_eq!(s.topics["t"]["record-retry-total"], 4.0);
    assert_eq!(s.topics["u"]["record-error-total"], 1.0);
    assert_eq!(s.nodes[&1]["request-total"], 1.0);
    assert_eq!(s.request_latency.count, 1);
}
