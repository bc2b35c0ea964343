//! The statistics document (`statistics.interval.ms`): librdkafka's STATISTICS.md shape for
//! the fields that apply to a producer, built by the sender from its own state (connections,
//! partitions, producer id) and the metrics' per-broker totals.
//!
//! Times are librdkafka's: `ts` in microseconds of a monotonic clock (here: since the
//! producer started), `time` in seconds since the epoch, `age` in microseconds since start;
//! `rtt` in microseconds over the round trips since the previous document.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use super::nodes::{ConnState, PendingKind};
use super::Sender;

/// Percentiles and moments of round trips (microseconds), librdkafka's `rtt` object.
fn rtt(mut v: Vec<u64>) -> Value {
    v.sort_unstable();
    let n = v.len();
    let pct = |p: f64| -> u64 {
        if n == 0 {
            return 0;
        }
        let i = ((p / 100.0) * (n as f64)).ceil() as usize;
        v[i.clamp(1, n) - 1]
    };
    let sum: u64 = v.iter().sum();
    let avg = if n == 0 { 0 } else { sum / n as u64 };
    let var = if n == 0 {
        0.0
    } else {
        v.iter().map(|x| (*x as f64 - avg as f64).powi(2)).sum::<f64>() / n as f64
    };
    json!({
        "min": v.first().copied().unwrap_or(0),
        "max": v.last().copied().unwrap_or(0),
        "avg": avg,
        "sum": sum,
        "cnt": n,
        "stddev": var.sqrt() as u64,
        "p50": pct(50.0),
        "p75": pct(75.0),
        "p90": pct(90.0),
        "p95": pct(95.0),
        "p99": pct(99.0),
        "p99_99": pct(99.99),
        "outofrange": 0,
        "hdrsize": 0,
    })
}

impl Sender {
    /// The statistics document now.
    pub(super) fn statistics(&self, now: Instant, periodic: bool) -> Value {
        let shared = &self.shared;
        let cfg = &shared.config;
        let since = now.saturating_duration_since(self.started);
        let us = u64::try_from(since.as_micros()).unwrap_or(u64::MAX);
        let time = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let [txmsgs, txmsg_bytes, tx, tx_bytes, rx, rx_bytes] = shared.metrics.totals();
        let views = shared.metrics.node_views(periodic);

        // In flight per partition: records of the Produce requests awaiting an answer.
        let mut inflight: BTreeMap<(&str, i32), i64> = BTreeMap::new();
        let mut flying_bytes: BTreeMap<(&str, i32), usize> = BTreeMap::new();
        // The lowest sequence not yet acknowledged per partition (idempotent producer).
        let mut unacked: BTreeMap<(&str, i32), i32> = BTreeMap::new();
        let mut brokers = Map::new();
        for (id, node) in &self.nodes.map {
            let (state, written) = match &node.conn {
                ConnState::Up(c) => ("UP", Some(c)),
                ConnState::Connecting => ("CONNECT", None),
                ConnState::Down => ("DOWN", None),
            };
            let mut outbuf = 0u64;
            let mut waitresp = 0u64;
            for p in &node.pending {
                if written.is_some_and(|c| c.maybe_written(p.index)) {
                    waitresp += 1;
                } else {
                    outbuf += 1;
                }
                if let PendingKind::Produce { batches, .. } = &p.kind {
                    for b in batches {
                        *inflight.entry((&b.topic, b.partition)).or_default() += i64::from(b.record_count);
                        *flying_bytes.entry((&b.topic, b.partition)).or_default() += b.bytes.len();
                        let low = unacked.entry((&b.topic, b.partition)).or_insert(b.base_sequence);
                        *low = (*low).min(b.base_sequence);
                    }
                }
            }
            let view = views.get(id).cloned().unwrap_or_default();
            let c = view.counts;
            let name = format!(
                "{}/{}",
                node.addr,
                if *id < 0 {
                    "bootstrap".to_owned()
                } else {
                    id.to_string()
                }
            );
            brokers.insert(
                name.clone(),
                json!({
                    "name": name,
                    "nodeid": id,
                    "nodename": node.addr,
                    "source": if *id < 0 { "configured" } else { "learned" },
                    "state": state,
                    "outbuf_cnt": outbuf,
                    "waitresp_cnt": waitresp,
                    "tx": c.tx,
                    "txbytes": c.txbytes,
                    "txerrs": c.txerrs,
                    "txretries": c.txretries,
                    "req_timeouts": c.req_timeouts,
                    "rx": c.rx,
                    "rxbytes": c.rxbytes,
                    "connects": c.connects,
                    "disconnects": c.disconnects,
                    "rtt": rtt(view.rtt_us),
                }),
            );
        }

        // Partitions: what waits in the accumulator, for a resend, in flight, and was sent.
        let mut topics: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
        let mut msg_cnt = 0i64;
        let mut msg_size = 0usize;
        let mut partition = |topic: &str, p: i32, queued: (i64, usize)| {
            let key = (topic.to_owned(), p);
            let st = self.parts.get(&(std::sync::Arc::from(topic), p));
            let (xmit, xmit_bytes) = st.map_or((0, 0), |s| {
                (
                    s.retries.iter().map(|b| i64::from(b.record_count)).sum::<i64>(),
                    s.retries.iter().map(|b| b.bytes.len()).sum::<usize>(),
                )
            });
            let flying = inflight.get(&(topic, p)).copied().unwrap_or(0);
            let leader = self
                .cluster
                .topics
                .get(topic)
                .and_then(|t| t.leaders.get(usize::try_from(p).unwrap_or(usize::MAX)))
                .copied()
                .unwrap_or(-1);
            let mut v = json!({
                "partition": p,
                "broker": leader,
                "leader": leader,
                "msgq_cnt": queued.0,
                "msgq_bytes": queued.1,
                "xmit_msgq_cnt": xmit,
                "xmit_msgq_bytes": xmit_bytes,
                "txmsgs": st.map_or(0, |s| s.sent.0),
                "txbytes": st.map_or(0, |s| s.sent.1),
                "msgs_inflight": flying,
            });
            if self.rules.idempotent {
                if let Some(s) = st {
                    v["next_seq"] = json!(s.next_sequence);
                    let first_retry = s.retries.iter().map(|b| b.base_sequence).min();
                    let low = unacked.get(&(topic, p)).copied().into_iter().chain(first_retry).min();
                    v["next_ack_seq"] = json!(low.unwrap_or(s.next_sequence));
                }
            }
            msg_cnt += queued.0 + xmit + flying;
            msg_size += queued.1 + xmit_bytes + flying_bytes.get(&(topic, p)).copied().unwrap_or(0);
            topics.entry(key.0).or_default().insert(p.to_string(), v);
        };
        let queued = shared.accumulator.queued_per_partition();
        let mut seen = std::collections::HashSet::new();
        for (t, p, records, bytes) in &queued {
            seen.insert((t.to_string(), *p));
            partition(t, *p, (*records, *bytes));
        }
        for (t, p) in self.parts.keys() {
            if !seen.contains(&(t.to_string(), *p)) {
                partition(t, *p, (0, 0));
            }
        }
        let topics: Map<String, Value> = topics
            .into_iter()
            .map(|(t, parts)| {
                let age = json!({ "topic": t, "partitions": parts });
                (t, age)
            })
            .collect();
        let (pid, epoch) = self.current_identity().map_or((-1, -1), |(id, e)| (id, i64::from(e)));
        let txn_state = shared
            .txn
            .as_ref()
            .map_or("Init", |m| super::txn_driver::lock(m).state().name());
        json!({
            "name": shared.client_name,
            "client_id": cfg.client_id,
            "type": "producer",
            "ts": us,
            "time": time,
            "age": us,
            "msg_cnt": msg_cnt,
            "msg_size": msg_size,
            "msg_max": cfg.queue_buffering_max_messages.unwrap_or(0),
            "msg_size_max": cfg.buffer_memory,
            "tx": tx as u64,
            "tx_bytes": tx_bytes as u64,
            "rx": rx as u64,
            "rx_bytes": rx_bytes as u64,
            "txmsgs": txmsgs as u64,
            "txmsg_bytes": txmsg_bytes as u64,
            "brokers": brokers,
            "topics": topics,
            "eos": {
                // A transactional producer's id comes from its transaction manager.
                "idemp_state": match (&shared.txn, pid >= 0) {
                    (None, _) => self.pid.state_name(),
                    (Some(_), true) => "Assigned",
                    (Some(_), false) => "RequestPID",
                },
                // librdkafka's field; the state names are Java's.
                "txn_state": txn_state,
                "producer_id": pid,
                "producer_epoch": epoch,
                "epoch_cnt": shared.metrics.epoch_bumps(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::rtt;

    #[test]
    fn rtt_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        let r = rtt(v);
        assert_eq!(r["min"], 1);
        assert_eq!(r["max"], 100);
        assert_eq!(r["p50"], 50);
        assert_eq!(r["p99"], 99);
        assert_eq!(r["cnt"], 100);
        assert_eq!(rtt(Vec::new())["p99"], 0);
    }
}
