//! The Prometheus text format (version 0.0.4) of a [`MetricsSnapshot`].
//!
//! Names: `kafka_producer_<java name>` for `producer-metrics`, `kafka_producer_topic_<name>`
//! with a `topic` label, `kafka_producer_node_<name>` with a `node_id` label, `-` becoming
//! `_`; every series carries `client_id`. Java's `-total` metrics are counters, the rest
//! gauges; `bufferpool-wait-time-ns-total` is exported in seconds as
//! `kafka_producer_bufferpool_wait_time_seconds_total`. Two histograms in seconds:
//! `kafka_producer_request_latency_seconds` and `kafka_producer_record_queue_time_seconds`.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Histogram, MetricsSnapshot, HISTOGRAM_BUCKETS};

/// A label value with `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// The exported name and value of one Java metric in `prefix`'s family.
fn family(prefix: &str, java: &str, v: f64) -> (String, &'static str, f64) {
    if java == "bufferpool-wait-time-ns-total" {
        return (
            format!("{prefix}_bufferpool_wait_time_seconds_total"),
            "counter",
            v / 1e9,
        );
    }
    let kind = if java.ends_with("-total") { "counter" } else { "gauge" };
    (format!("{prefix}_{}", java.replace('-', "_")), kind, v)
}

/// Groups series by family so each family's HELP and TYPE come once, first.
#[derive(Default)]
struct Families(BTreeMap<String, (&'static str, Vec<String>)>);

impl Families {
    fn add(&mut self, name: String, kind: &'static str, labels: &str, v: f64) {
        let e = self.0.entry(name.clone()).or_insert((kind, Vec::new()));
        e.1.push(format!("{name}{{{labels}}} {}", number(v)));
    }
}

fn histogram(out: &mut String, name: &str, help: &str, client: &str, h: &Histogram) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (bound, count) in HISTOGRAM_BUCKETS.iter().zip(h.buckets) {
        let _ = writeln!(out, "{name}_bucket{{client_id=\"{client}\",le=\"{bound}\"}} {count}");
    }
    let _ = writeln!(out, "{name}_bucket{{client_id=\"{client}\",le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum{{client_id=\"{client}\"}} {}", number(h.sum));
    let _ = writeln!(out, "{name}_count{{client_id=\"{client}\"}} {}", h.count);
}

/// Renders `s` in the Prometheus text format.
#[must_use]
pub fn render(s: &MetricsSnapshot) -> String {
    let client = escape(&s.client_id);
    let mut f = Families::default();
    for (k, v) in &s.producer {
        let (name, kind, v) = family("kafka_producer", k, *v);
        f.add(name, kind, &format!("client_id=\"{client}\""), v);
    }
    for (topic, m) in &s.topics {
        for (k, v) in m {
            let (name, kind, v) = family("kafka_producer_topic", k, *v);
            f.add(
                name,
                kind,
                &format!("client_id=\"{client}\",topic=\"{}\"", escape(topic)),
                v,
            );
        }
    }
    for (node, m) in &s.nodes {
        for (k, v) in m {
            let (name, kind, v) = family("kafka_producer_node", k, *v);
            f.add(name, kind, &format!("client_id=\"{client}\",node_id=\"{node}\""), v);
        }
    }
    let mut out = String::new();
    for (name, (kind, lines)) in f.0 {
        let _ = writeln!(
            out,
            "# HELP {name} Kafka producer metric (Java name in the README's table)."
        );
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
    }
    histogram(
        &mut out,
        "kafka_producer_request_latency_seconds",
        "Time from writing a request to its answer.",
        &client,
        &s.request_latency,
    );
    histogram(
        &mut out,
        "kafka_producer_record_queue_time_seconds",
        "Time batches waited in the accumulator before being sent.",
        &client,
        &s.record_queue_time,
    );
    out
}

/// The `/metrics` endpoint (cargo feature `prometheus-exporter`).
#[cfg(feature = "prometheus-exporter")]
mod exporter {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::render;

    /// Binds `addr` (HOST:PORT) and serves `/metrics` in this format, one snapshot per scrape,
    /// until the returned task is aborted (wrap it in [`AbortOnDrop`] to tie it to a scope).
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn serve(addr: &str, handle: crate::MetricsHandle) -> Result<tokio::task::JoinHandle<()>, String> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("--metrics-addr {addr}: cannot listen: {e}"))?;
        // At most this many scrapes at once; each has this long to send its request and
        // take the answer (an idle or slow client must not hold a descriptor for ever).
        const MAX_CLIENTS: usize = 64;
        const CLIENT_TIME: Duration = Duration::from_secs(5);
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_CLIENTS));
        Ok(tokio::spawn(async move {
            loop {
                let (mut sock, _) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of descriptors, say: wait and go on, never stop serving.
                        tracing::warn!(error = %e, "the /metrics endpoint cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(slot) = std::sync::Arc::clone(&slots).try_acquire_owned() else {
                    // Too many scrapes at once: this one is closed unanswered.
                    continue;
                };
                let handle = handle.clone();
                tokio::spawn(async move {
                    let _slot = slot;
                    let _ = tokio::time::timeout(CLIENT_TIME, answer(&mut sock, &handle)).await;
                });
            }
        }))
    }

    /// Reads one request head and answers it.
    async fn answer(sock: &mut tokio::net::TcpStream, handle: &crate::MetricsHandle) {
        // The request head only; scrapes have no body.
        let mut head = Vec::with_capacity(512);
        let mut buf = [0u8; 512];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let line = String::from_utf8_lossy(&head);
        let path = line.split_whitespace().nth(1).unwrap_or("");
        let (status, body) = if path == "/metrics" || path.starts_with("/metrics?") {
            ("200 OK", render(&handle.snapshot()))
        } else {
            ("404 Not Found", "only /metrics is served here\n".to_owned())
        };
        let answer = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = sock.write_all(answer.as_bytes()).await;
        let _ = sock.shutdown().await;
    }

    /// Stops the exporter when dropped.
    #[derive(Debug)]
    pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
}

#[cfg(feature = "prometheus-exporter")]
pub use exporter::{serve, AbortOnDrop};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_kinds_and_labels() {
        let mut s = MetricsSnapshot {
            client_id: "c\"1".into(),
            producer: BTreeMap::new(),
            topics: BTreeMap::new(),
            nodes: BTreeMap::new(),
            request_latency: Histogram::default(),
            record_queue_time: Histogram::default(),
        };
        s.producer.insert("record-send-total".into(), 5.0);
        s.producer.insert("buffer-available-bytes".into(), 100.0);
        s.producer.insert("bufferpool-wait-time-ns-total".into(), 2.5e9);
        s.producer.insert("record-size-avg".into(), f64::NAN);
        s.topics
            .insert("clicks".into(), [("byte-total".to_owned(), 9.0)].into_iter().collect());
        s.nodes
            .insert(3, [("request-latency-max".to_owned(), 4.0)].into_iter().collect());
        s.request_latency.observe(0.003);
        let text = render(&s);
        for want in [
            "# TYPE kafka_producer_record_send_total counter",
            "kafka_producer_record_send_total{client_id=\"c\\\"1\"} 5",
            "# TYPE kafka_producer_buffer_available_bytes gauge",
            "kafka_producer_bufferpool_wait_time_seconds_total{client_id=\"c\\\"1\"} 2.5",
            "kafka_producer_record_size_avg{client_id=\"c\\\"1\"} NaN",
            "kafka_producer_topic_byte_total{client_id=\"c\\\"1\",topic=\"clicks\"} 9",
            "kafka_producer_node_request_latency_max{client_id=\"c\\\"1\",node_id=\"3\"} 4",
            "kafka_producer_request_latency_seconds_bucket{client_id=\"c\\\"1\",le=\"0.005\"} 1",
            "kafka_producer_request_latency_seconds_bucket{client_id=\"c\\\"1\",le=\"+Inf\"} 1",
            "kafka_producer_request_latency_seconds_count{client_id=\"c\\\"1\"} 1",
        ] {
            assert!(text.contains(want), "{want} in:\n{text}");
        }
    }
}
