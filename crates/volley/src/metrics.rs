//! The producer's metrics, with the Java producer's names and meanings ([`MetricsSnapshot`]
//! from [`Producer::metrics`](crate::Producer::metrics)).
//!
//! The sender records per batch, per request and per answer (never per record), into one
//! mutex it alone takes on its hot path; the caller's side adds only the time spent waiting
//! for `buffer.memory`, in an atomic. Rates, averages and maxima are over Java's sample
//! window: `metrics.num.samples` samples of `metrics.sample.window.ms` each (2 × 30 s), the
//! rate dividing by the time the samples cover, at least `(samples - 1)` windows, as Java's
//! `Rate` does. Totals count from the start.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One windowed measurement: rate, average, maximum over the window, and the total.
#[derive(Debug, Clone, Default)]
struct Stat {
    samples: VecDeque<Sample>,
    total: f64,
    count: u64,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    start: Instant,
    sum: f64,
    count: u64,
    max: f64,
}

/// The sample window (`metrics.sample.window.ms`, `metrics.num.samples`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) length: Duration,
    pub(crate) samples: usize,
}

impl Stat {
    fn record(&mut self, v: f64, now: Instant, w: Window) {
        self.total += v;
        self.count += 1;
        match self.samples.back_mut() {
            Some(s) if now.saturating_duration_since(s.start) < w.length => {
                s.sum += v;
                s.count += 1;
                s.max = s.max.max(v);
            }
            _ => {
                self.samples.push_back(Sample {
                    start: now,
                    sum: v,
                    count: 1,
                    max: v,
                });
                while self.samples.len() > w.samples.max(1) {
                    self.samples.pop_front();
                }
            }
        }
    }

    fn live(&self, now: Instant, w: Window) -> impl Iterator<Item = &Sample> {
        let span = w.length * u32::try_from(w.samples.max(1)).unwrap_or(u32::MAX);
        self.samples
            .iter()
            .filter(move |s| now.saturating_duration_since(s.start) < span)
    }

    /// Per second over the window (Java's `Rate`).
    fn rate(&self, now: Instant, w: Window) -> f64 {
        let live: Vec<&Sample> = self.live(now, w).collect();
        let Some(oldest) = live.first() else { return 0.0 };
        let sum: f64 = live.iter().map(|s| s.sum).sum();
        let mut elapsed = now.saturating_duration_since(oldest.start);
        let full = u32::try_from(elapsed.as_nanos() / w.length.as_nanos().max(1)).unwrap_or(u32::MAX);
        let min_full = u32::try_from(w.samples.saturating_sub(1)).unwrap_or(0);
        if full < min_full {
            elapsed += w.length * (min_full - full);
        }
        sum / elapsed.as_secs_f64().max(1e-9)
    }

    /// Occurrences per second (Java's rate of a count).
    fn count_rate(&self, now: Instant, w: Window) -> f64 {
        let mut c = self.clone();
        for s in &mut c.samples {
            s.sum = s.count as f64;
        }
        c.rate(now, w)
    }

    /// Average value over the window (NaN with no sample, as Java).
    fn avg(&self, now: Instant, w: Window) -> f64 {
        let (sum, n) = self
            .live(now, w)
            .fold((0.0, 0u64), |(s, n), x| (s + x.sum, n + x.count));
        if n == 0 {
            f64::NAN
        } else {
            sum / n as f64
        }
    }

    /// Largest value over the window (NaN with no sample).
    fn max(&self, now: Instant, w: Window) -> f64 {
        self.live(now, w).map(|s| s.max).fold(f64::NAN, f64::max)
    }
}

/// What one topic's batches did.
#[derive(Debug, Clone, Default)]
struct TopicStats {
    records: Stat,
    bytes: Stat,
    compression: Stat,
    errors: Stat,
    retries: Stat,
}

/// What one broker's requests did.
#[derive(Debug, Clone, Default)]
struct NodeStats {
    latency: Stat,
    requests: Stat,
    responses: Stat,
    counts: NodeCounts,
    /// Round trips since the last statistics document, microseconds.
    rtt: Vec<u64>,
}

/// Totals of one broker's connection, for the statistics document (librdkafka's names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct NodeCounts {
    /// Requests sent: filled from the node's request stat when a view is taken.
    pub(crate) tx: u64,
    pub(crate) txbytes: u64,
    /// Answers received: filled from the node's response stat when a view is taken.
    pub(crate) rx: u64,
    pub(crate) rxbytes: u64,
    /// Requests that failed (their connection closed before an answer).
    pub(crate) txerrs: u64,
    /// Batches sent again after a failure on this broker.
    pub(crate) txretries: u64,
    pub(crate) req_timeouts: u64,
    pub(crate) connects: u64,
    pub(crate) disconnects: u64,
}

/// One broker in the statistics document: its totals and the round trips since the last one.
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeView {
    pub(crate) counts: NodeCounts,
    pub(crate) rtt_us: Vec<u64>,
}

#[derive(Debug, Default)]
struct State {
    records_sent: Stat,
    record_errors: Stat,
    record_retries: Stat,
    record_size: Stat,
    batch_size: Stat,
    compression: Stat,
    records_per_request: Stat,
    queue_time_ms: Stat,
    latency_ms: Stat,
    requests: Stat,
    responses: Stat,
    bytes_out: Stat,
    bytes_in: Stat,
    throttle_ms: Stat,
    splits: Stat,
    connections_created: u64,
    connections_closed: u64,
    connections_failed: u64,
    in_flight: u64,
    possibly_persisted: u64,
    epoch_bumps: u64,
    identity: Option<(i64, i16)>,
    topics: BTreeMap<String, TopicStats>,
    nodes: BTreeMap<i32, NodeStats>,
    /// Latency and queue-time observations for histograms (seconds), bucket counts.
    latency_hist: Histogram,
    queue_hist: Histogram,
}

/// Bucket bounds of the latency histograms, in seconds.
pub const HISTOGRAM_BUCKETS: [f64; 15] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// A cumulative histogram (Prometheus shape): counts per upper bound, their sum and count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Observations at or below each bound of [`HISTOGRAM_BUCKETS`].
    pub buckets: [u64; 15],
    /// Sum of the observations, seconds.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (b, bound) in self.buckets.iter_mut().zip(HISTOGRAM_BUCKETS) {
            if secs <= bound {
                *b += 1;
            }
        }
        self.sum += secs;
        self.count += 1;
    }
}

/// The live metrics of one producer.
#[derive(Debug)]
pub(crate) struct Metrics {
    state: Mutex<State>,
    window: Window,
    /// Keep round trips for the statistics document (`statistics.interval.ms` is set).
    keep_rtt: bool,
    /// Nanoseconds callers waited for `buffer.memory` (`bufferpool-wait-time-ns-total`).
    pub(crate) buffer_wait_ns: AtomicU64,
}

/// One batch in a Produce request, as the metrics see it.
pub(crate) struct BatchSent<'a> {
    pub(crate) topic: &'a str,
    pub(crate) records: i32,
    pub(crate) bytes: usize,
    /// Wire bytes per reserved (uncompressed) byte.
    pub(crate) compression: f64,
    /// The batch's largest record (Java records `record-size-avg/max` from this, per batch).
    pub(crate) max_record: usize,
}

impl Metrics {
    pub(crate) fn new(window: Window, keep_rtt: bool) -> Self {
        Self {
            state: Mutex::new(State::default()),
            window,
            keep_rtt,
            buffer_wait_ns: AtomicU64::new(0),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State, Window) -> R) -> R {
        let mut s = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut s, self.window)
    }

    /// A batch left the accumulator after `queued`.
    pub(crate) fn batch_drained(&self, queued: Duration, now: Instant) {
        self.with(|s, w| {
            s.queue_time_ms.record(queued.as_secs_f64() * 1000.0, now, w);
            s.queue_hist.observe(queued.as_secs_f64());
        });
    }

    /// A Produce request of `batches` (`request_bytes` on the wire) went to `node`.
    pub(crate) fn produce_sent(&self, node: i32, batches: &[BatchSent<'_>], request_bytes: usize, now: Instant) {
        self.with(|s, w| {
            let mut records = 0.0;
            for b in batches {
                let r = f64::from(b.records);
                records += r;
                s.records_sent.record(r, now, w);
                s.batch_size.record(b.bytes as f64, now, w);
                s.compression.record(b.compression, now, w);
                s.record_size.record(b.max_record as f64, now, w);
                let t = s.topics.entry(b.topic.to_owned()).or_default();
                t.records.record(r, now, w);
                t.bytes.record(b.bytes as f64, now, w);
                t.compression.record(b.compression, now, w);
            }
            s.records_per_request.record(records, now, w);
            Self::request(s, w, node, request_bytes, now);
        });
    }

    fn request(s: &mut State, w: Window, node: i32, bytes: usize, now: Instant) {
        s.requests.record(1.0, now, w);
        s.bytes_out.record(bytes as f64, now, w);
        let n = s.nodes.entry(node).or_default();
        n.requests.record(1.0, now, w);
        n.counts.txbytes += bytes as u64;
        s.in_flight += 1;
    }

    /// A control request (Metadata, InitProducerId) went to `node`.
    pub(crate) fn control_sent(&self, node: i32, bytes: usize, now: Instant) {
        self.with(|s, w| Self::request(s, w, node, bytes, now));
    }

    /// An answer came from `node`; `latency`: a Produce request's round trip (Java's
    /// request-latency counts only those).
    pub(crate) fn response(&self, node: i32, bytes: usize, latency: Option<Duration>, now: Instant) {
        let keep_rtt = self.keep_rtt;
        self.with(|s, w| {
            s.responses.record(1.0, now, w);
            s.bytes_in.record(bytes as f64, now, w);
            let n = s.nodes.entry(node).or_default();
            n.responses.record(1.0, now, w);
            n.counts.rxbytes += bytes as u64;
            if let Some(latency) = latency {
                let ms = latency.as_secs_f64() * 1000.0;
                n.latency.record(ms, now, w);
                // Round trips for the statistics document, only when it is produced; bounded
                // between two documents.
                if keep_rtt && n.rtt.len() < 10_000 {
                    n.rtt.push(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
                }
                s.latency_ms.record(ms, now, w);
                s.latency_hist.observe(latency.as_secs_f64());
            }
            s.in_flight = s.in_flight.saturating_sub(1);
        });
    }

    /// A Produce answer's throttle time.
    pub(crate) fn throttle(&self, ms: i32, now: Instant) {
        self.with(|s, w| s.throttle_ms.record(f64::from(ms.max(0)), now, w));
    }

    /// Requests that will get no answer (their connection closed, or acks=0).
    pub(crate) fn unanswered(&self, n: usize) {
        self.with(|s, _| s.in_flight = s.in_flight.saturating_sub(n as u64));
    }

    /// `node`'s connection closed with `n` requests unanswered.
    pub(crate) fn closed_with(&self, node: i32, n: usize) {
        self.with(|s, _| {
            s.in_flight = s.in_flight.saturating_sub(n as u64);
            s.nodes.entry(node).or_default().counts.txerrs += n as u64;
        });
    }

    /// A request to `node` got no answer within `request.timeout.ms`.
    pub(crate) fn request_timeout(&self, node: i32) {
        self.with(|s, _| s.nodes.entry(node).or_default().counts.req_timeouts += 1);
    }

    /// A batch that failed on `node` goes back for another attempt.
    pub(crate) fn node_retry(&self, node: i32) {
        self.with(|s, _| s.nodes.entry(node).or_default().counts.txretries += 1);
    }

    /// A dial of `node` failed (refused, timed out, TLS or SASL refused); librdkafka's
    /// `connects` counts attempts, failed ones included.
    pub(crate) fn connection_failed(&self, node: i32) {
        self.with(|s, _| {
            s.connections_failed += 1;
            s.nodes.entry(node).or_default().counts.connects += 1;
        });
    }

    /// Each broker's totals and the round trips since the last periodic document; `take`
    /// (the periodic document) forgets them, an on-demand one only looks.
    pub(crate) fn node_views(&self, take: bool) -> BTreeMap<i32, NodeView> {
        self.with(|s, _| {
            s.nodes
                .iter_mut()
                .map(|(id, n)| {
                    let rtt_us = if take {
                        std::mem::take(&mut n.rtt)
                    } else {
                        n.rtt.clone()
                    };
                    let counts = NodeCounts {
                        tx: n.requests.count,
                        rx: n.responses.count,
                        ..n.counts
                    };
                    (*id, NodeView { counts, rtt_us })
                })
                .collect()
        })
    }

    /// Records and bytes sent so far (`txmsgs`, `txmsg_bytes`), requests and their bytes.
    pub(crate) fn totals(&self) -> [f64; 6] {
        self.with(|s, _| {
            [
                s.records_sent.total,
                s.topics.values().map(|t| t.bytes.total).sum(),
                s.requests.count as f64,
                s.bytes_out.total,
                s.responses.count as f64,
                s.bytes_in.total,
            ]
        })
    }

    /// Epoch bumps so far.
    pub(crate) fn epoch_bumps(&self) -> u64 {
        self.with(|s, _| s.epoch_bumps)
    }

    /// A batch of `records` goes back for another attempt.
    pub(crate) fn retry(&self, topic: &str, records: i32, now: Instant) {
        self.with(|s, w| {
            s.record_retries.record(f64::from(records), now, w);
            s.topics
                .entry(topic.to_owned())
                .or_default()
                .retries
                .record(f64::from(records), now, w);
        });
    }

    /// `records` (of `topic`, when known) failed for good; `possibly`: they may be in the log.
    pub(crate) fn failed(&self, topic: Option<&str>, records: i32, possibly: bool, now: Instant) {
        self.with(|s, w| {
            s.record_errors.record(f64::from(records), now, w);
            if let Some(topic) = topic {
                s.topics
                    .entry(topic.to_owned())
                    .or_default()
                    .errors
                    .record(f64::from(records), now, w);
            }
            if possibly {
                s.possibly_persisted += u64::try_from(records).unwrap_or(0);
            }
        });
    }

    /// A batch too large for the broker was split.
    pub(crate) fn split(&self, now: Instant) {
        self.with(|s, w| s.splits.record(1.0, now, w));
    }

    /// The producer took identity `id` (producer id, epoch): every identity after the first
    /// is an epoch bump (KIP-360) or a fresh id standing in for one.
    pub(crate) fn identity(&self, id: (i64, i16)) {
        self.with(|s, _| {
            if s.identity.replace(id).is_some_and(|old| old != id) {
                s.epoch_bumps += 1;
            }
        });
    }

    /// A connection to `node` was made (`true`) or closed (`false`).
    pub(crate) fn connection(&self, node: i32, made: bool) {
        self.with(|s, _| {
            let n = s.nodes.entry(node).or_default();
            if made {
                s.connections_created += 1;
                n.counts.connects += 1;
            } else {
                s.connections_closed += 1;
                n.counts.disconnects += 1;
            }
        });
    }

    /// The snapshot at `now`; gauges the metrics do not hold come from the caller.
    pub(crate) fn snapshot(&self, client_id: &str, gauges: &Gauges, now: Instant) -> MetricsSnapshot {
        self.with(|s, w| {
            let mut p = BTreeMap::new();
            let mut put = |k: &str, v: f64| {
                p.insert(k.to_owned(), v);
            };
            put("record-send-rate", s.records_sent.rate(now, w));
            put("record-send-total", s.records_sent.total);
            put("record-error-rate", s.record_errors.rate(now, w));
            put("record-error-total", s.record_errors.total);
            put("record-retry-rate", s.record_retries.rate(now, w));
            put("record-retry-total", s.record_retries.total);
            put("record-size-avg", s.record_size.avg(now, w));
            put("record-size-max", s.record_size.max(now, w));
            put("batch-size-avg", s.batch_size.avg(now, w));
            put("batch-size-max", s.batch_size.max(now, w));
            put("compression-rate-avg", s.compression.avg(now, w));
            put("records-per-request-avg", s.records_per_request.avg(now, w));
            put("record-queue-time-avg", s.queue_time_ms.avg(now, w));
            put("record-queue-time-max", s.queue_time_ms.max(now, w));
            put("request-latency-avg", s.latency_ms.avg(now, w));
            put("request-latency-max", s.latency_ms.max(now, w));
            put("request-rate", s.requests.count_rate(now, w));
            put("request-total", s.requests.count as f64);
            put("response-rate", s.responses.count_rate(now, w));
            put("response-total", s.responses.count as f64);
            put("outgoing-byte-rate", s.bytes_out.rate(now, w));
            put("outgoing-byte-total", s.bytes_out.total);
            put("incoming-byte-rate", s.bytes_in.rate(now, w));
            put("incoming-byte-total", s.bytes_in.total);
            put("buffer-total-bytes", gauges.buffer_total as f64);
            put("buffer-available-bytes", gauges.buffer_available as f64);
            put(
                "bufferpool-wait-time-ns-total",
                self.buffer_wait_ns.load(Ordering::Relaxed) as f64,
            );
            put("produce-throttle-time-avg", s.throttle_ms.avg(now, w));
            put("produce-throttle-time-max", s.throttle_ms.max(now, w));
            put(
                "connection-count",
                s.connections_created.saturating_sub(s.connections_closed) as f64,
            );
            put("connection-creation-total", s.connections_created as f64);
            put("connection-close-total", s.connections_closed as f64);
            put("connection-failure-total", s.connections_failed as f64);
            put("requests-in-flight", s.in_flight as f64);
            put("batch-split-rate", s.splits.count_rate(now, w));
            put("batch-split-total", s.splits.count as f64);
            put("possibly-persisted-total", s.possibly_persisted as f64);
            put("sequence-gap-total", gauges.sequence_gaps as f64);
            put("epoch-bump-total", s.epoch_bumps as f64);
            let topics = s
                .topics
                .iter()
                .map(|(t, x)| {
                    let m: BTreeMap<String, f64> = [
                        ("record-send-total", x.records.total),
                        ("record-send-rate", x.records.rate(now, w)),
                        ("byte-total", x.bytes.total),
                        ("byte-rate", x.bytes.rate(now, w)),
                        ("compression-rate", x.compression.avg(now, w)),
                        ("record-error-total", x.errors.total),
                        ("record-error-rate", x.errors.rate(now, w)),
                        ("record-retry-total", x.retries.total),
                        ("record-retry-rate", x.retries.rate(now, w)),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect();
                    (t.clone(), m)
                })
                .collect();
            let nodes = s
                .nodes
                .iter()
                .map(|(id, x)| {
                    let m: BTreeMap<String, f64> = [
                        ("request-latency-avg", x.latency.avg(now, w)),
                        ("request-latency-max", x.latency.max(now, w)),
                        ("request-total", x.requests.count as f64),
                        ("request-rate", x.requests.count_rate(now, w)),
                        ("response-total", x.responses.count as f64),
                        ("response-rate", x.responses.count_rate(now, w)),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect();
                    (*id, m)
                })
                .collect();
            MetricsSnapshot {
                client_id: client_id.to_owned(),
                producer: p,
                topics,
                nodes,
                request_latency: s.latency_hist.clone(),
                record_queue_time: s.queue_hist.clone(),
            }
        })
    }
}

/// Values the metrics read from elsewhere at snapshot time.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Gauges {
    pub(crate) buffer_total: usize,
    pub(crate) buffer_available: usize,
    pub(crate) sequence_gaps: u64,
}

/// The producer's metrics at one moment, under the Java producer's names: the
/// `producer-metrics` group in [`MetricsSnapshot::producer`], `producer-topic-metrics` per
/// topic and `producer-node-metrics` per broker. Averages and maxima with no sample in the
/// window are NaN, as in Java.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// `client.id`, or `producer-N` when it is empty (as Java names it).
    pub client_id: String,
    /// `producer-metrics`, by Java's name (e.g. `record-send-total`).
    pub producer: BTreeMap<String, f64>,
    /// `producer-topic-metrics`, by topic then name.
    pub topics: BTreeMap<String, BTreeMap<String, f64>>,
    /// `producer-node-metrics`, by broker id then name.
    pub nodes: BTreeMap<i32, BTreeMap<String, f64>>,
    /// Produce and control request latencies (seconds).
    pub request_latency: Histogram,
    /// Time batches waited in the accumulator (seconds).
    pub record_queue_time: Histogram,
}

impl MetricsSnapshot {
    /// One `producer-metrics` value by Java's name (`None` for a name Volley does not keep).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<f64> {
        self.producer.get(name).copied()
    }
}

#[path = "metrics_prometheus.rs"]
pub mod prometheus;

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
