//! The oracle: RELIABILITY.md's invariants, checked after a run.
//!
//! Each test record's value carries its identity and a checksum of its payload:
//! `run=<run> key=<key> seq=<n> sum=<fnv1a-hex> <payload>`. After the run the whole topic is
//! read back independently (the fake broker's log, or librdkafka for a real broker) and
//! compared with what the producer reported for every record.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use bytes::Bytes;

use crate::fake::LogRecord;
use crate::stamps::{known, Stamp};

/// What the producer reported for one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Acknowledged: partition and offset (None after DUPLICATE_SEQUENCE_NUMBER).
    Persisted {
        /// Partition.
        partition: i32,
        /// Offset, if known.
        offset: Option<i64>,
    },
    /// acks=0: written to a socket.
    Unacknowledged,
    /// Certainly not written.
    NotPersisted(String),
    /// May be written once.
    PossiblyPersisted(String),
    /// No outcome (a liveness violation if it stays so).
    Unresolved,
}

/// One record the test sent.
#[derive(Debug, Clone)]
pub struct Sent {
    /// Topic.
    pub topic: String,
    /// Key text.
    pub key: String,
    /// Per-key sequence (send order of the key).
    pub seq: u64,
    /// The exact value sent.
    pub value: Bytes,
    /// The outcome.
    pub outcome: Outcome,
}

fn fnv1a(b: &[u8]) -> u32 {
    b.iter()
        .fold(0x811c_9dc5u32, |h, &x| (h ^ u32::from(x)).wrapping_mul(0x0100_0193))
}

/// Builds a test value for `(run, key, seq)` with `payload_len` payload bytes.
#[must_use]
pub fn value(run: u64, key: &str, seq: u64, payload_len: usize) -> Bytes {
    let payload: Vec<u8> = (0..payload_len)
        .map(|i| b'A' + ((seq as usize + i * 7) % 26) as u8)
        .collect();
    let mut v = format!("run={run} key={key} seq={seq} sum={:08x} ", fnv1a(&payload)).into_bytes();
    v.extend_from_slice(&payload);
    Bytes::from(v)
}

/// Parses a test value: `(run, key, seq)` when its checksum holds.
#[must_use]
pub fn parse(v: &[u8]) -> Option<(u64, String, u64)> {
    let text = std::str::from_utf8(v).ok()?;
    let mut it = text.splitn(5, ' ');
    let run = it.next()?.strip_prefix("run=")?.parse().ok()?;
    let key = it.next()?.strip_prefix("key=")?.to_owned();
    let seq = it.next()?.strip_prefix("seq=")?.parse().ok()?;
    let sum = u32::from_str_radix(it.next()?.strip_prefix("sum=")?, 16).ok()?;
    let payload = it.next().unwrap_or("");
    (fnv1a(payload.as_bytes()) == sum).then_some((run, key, seq))
}

/// The result of a check.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Records sent.
    pub sent: usize,
    /// Persisted outcomes.
    pub persisted: usize,
    /// Not-persisted outcomes.
    pub not_persisted: usize,
    /// Possibly-persisted outcomes.
    pub possibly_persisted: usize,
    /// Possibly-persisted records found in the log.
    pub possibly_persisted_found: usize,
    /// Unacknowledged (acks=0) outcomes.
    pub unacknowledged: usize,
    /// Violations, each naming its invariant.
    pub violations: Vec<String>,
    /// Faults of the broker, not the producer: a key whose records the producer numbered in
    /// send order (one producer id; epoch and sequence rising with send order, as the broker
    /// itself stored them) but which the broker appended out of that order.
    pub broker_faults: Vec<String>,
}

impl Report {
    /// Whether every invariant held and the broker kept its own ordering promise.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.violations.is_empty() && self.broker_faults.is_empty()
    }

    /// Whether every invariant held for the producer: the broker's own faults (see
    /// [`Report::broker_faults`]) are left out. Only for brokers with a documented fault.
    #[must_use]
    pub fn ok_for_producer(&self) -> bool {
        self.violations.is_empty()
    }

    /// A one-line summary.
    #[must_use]
    pub fn summary(&self) -> String {
        let mut s = format!(
            "sent {} persisted {} not_persisted {} possibly_persisted {} (found {}) unacknowledged {} violations {}",
            self.sent,
            self.persisted,
            self.not_persisted,
            self.possibly_persisted,
            self.possibly_persisted_found,
            self.unacknowledged,
            self.violations.len()
        );
        if !self.broker_faults.is_empty() {
            let _ = write!(s, " broker faults {}", self.broker_faults.len());
        }
        // The first few of each kind: one kind must not hide another.
        let mut shown: HashMap<&str, usize> = HashMap::new();
        for v in &self.violations {
            let kind = v.split(':').next().unwrap_or_default();
            let n = shown.entry(kind).or_default();
            *n += 1;
            if *n <= 5 {
                let _ = write!(s, "\n  {v}");
            }
        }
        for f in self.broker_faults.iter().take(3) {
            let _ = write!(s, "\n  broker: {f}");
        }
        s
    }
}

/// Checks I1 (no loss), I2 (no duplicates), I3 (per-key order), I4 (honest failures),
/// I5 (every record resolved) and I7 (integrity) for run `run` against `log`.
#[must_use]
pub fn check(run: u64, sent: &[Sent], log: &[LogRecord]) -> Report {
    let mut r = Report {
        sent: sent.len(),
        ..Report::default()
    };
    // Index the log by identity.
    let mut found: HashMap<(String, u64), Vec<&LogRecord>> = HashMap::new();
    for rec in log {
        let Some(v) = &rec.value else { continue };
        match parse(v) {
            Some((rr, key, seq)) if rr == run => found.entry((key, seq)).or_default().push(rec),
            Some(_) => {}
            None => r.violations.push(format!(
                "I7: unreadable or corrupt record at {}/{} offset {}",
                rec.topic, rec.partition, rec.offset
            )),
        }
    }
    let sent_ids: HashSet<(String, u64)> = sent.iter().map(|s| (s.key.clone(), s.seq)).collect();
    for (id, recs) in &found {
        if recs.len() > 1 {
            r.violations
                .push(format!("I2: key {} seq {} appears {} times", id.0, id.1, recs.len()));
        }
        if !sent_ids.contains(id) {
            r.violations.push(format!(
                "I7: record key {} seq {} in the log was never sent",
                id.0, id.1
            ));
        }
    }
    for s in sent {
        let in_log = found.get(&(s.key.clone(), s.seq));
        let first = in_log.and_then(|v| v.first());
        if let Some(rec) = first {
            if rec.topic != s.topic
                || rec.value.as_ref() != Some(&s.value)
                || rec.key.as_deref() != Some(s.key.as_bytes())
            {
                r.violations
                    .push(format!("I7: key {} seq {} differs from what was sent", s.key, s.seq));
            }
        }
        match &s.outcome {
            Outcome::Persisted { partition, offset } => {
                r.persisted += 1;
                match first {
                    None => r.violations.push(format!(
                        "I1: key {} seq {} acknowledged but not in the log",
                        s.key, s.seq
                    )),
                    Some(rec) => {
                        if rec.partition != *partition || offset.is_some_and(|o| o != rec.offset) {
                            r.violations.push(format!(
                                "I1: key {} seq {} acknowledged at {partition}/{offset:?}, found at {}/{}",
                                s.key, s.seq, rec.partition, rec.offset
                            ));
                        }
                    }
                }
            }
            Outcome::Unacknowledged => r.unacknowledged += 1,
            Outcome::NotPersisted(e) => {
                r.not_persisted += 1;
                if first.is_some() {
                    r.violations.push(format!(
                        "I4: key {} seq {} reported not persisted ({e}) but is in the log",
                        s.key, s.seq
                    ));
                }
            }
            Outcome::PossiblyPersisted(_) => {
                r.possibly_persisted += 1;
                r.possibly_persisted_found += usize::from(first.is_some());
            }
            Outcome::Unresolved => r
                .violations
                .push(format!("I5: key {} seq {} never resolved", s.key, s.seq)),
        }
    }
    // I3: per key, log order (partition, offset) follows send order.
    let mut by_key: HashMap<&str, Vec<Placed>> = HashMap::new();
    for ((key, seq), recs) in &found {
        if let Some(rec) = recs.first() {
            by_key.entry(key.as_str()).or_default().push(Placed {
                partition: rec.partition,
                offset: rec.offset,
                seq: *seq,
                stamp: rec.producer,
            });
        }
    }
    for (key, mut v) in by_key {
        v.sort_unstable_by_key(|p| (p.partition, p.offset, p.seq));
        if v.windows(2).any(|w| w[0].partition != w[1].partition) {
            r.violations
                .push(format!("I3: key {key} is on more than one partition"));
        }
        if let Some(w) = v.windows(2).find(|w| w[0].seq > w[1].seq) {
            let text = format!(
                "key {key} is out of send order in the log: seq {} at {}/{} before seq {} at {}/{}",
                w[0].seq, w[0].partition, w[0].offset, w[1].seq, w[1].partition, w[1].offset
            );
            if numbered_in_send_order(&v) {
                r.broker_faults.push(format!(
                    "{text}, though the producer numbered them in send order (producer id, epoch, sequence {:?} then {:?})",
                    w[1].stamp, w[0].stamp
                ));
            } else {
                r.violations.push(format!("I3: {text}"));
            }
        }
    }
    r
}

/// Where one record of a key was found.
#[derive(Debug, Clone, Copy)]
struct Placed {
    partition: i32,
    offset: i64,
    /// Its send order within its key.
    seq: u64,
    /// Producer id, epoch and sequence the broker stored with it.
    stamp: Stamp,
}

/// Whether a key's records, as the broker stored them, carry one producer id and epochs and
/// sequence numbers that rise with send order. Unknown stamps (a reader that cannot see
/// them) never count as such.
fn numbered_in_send_order(v: &[Placed]) -> bool {
    let mut by_send = v.to_vec();
    by_send.sort_unstable_by_key(|p| p.seq);
    let known = by_send.iter().all(|p| known(p.stamp));
    let one_producer = by_send.windows(2).all(|w| w[0].stamp.0 == w[1].stamp.0);
    let rising = by_send
        .windows(2)
        .all(|w| (w[0].stamp.1, w[0].stamp.2) < (w[1].stamp.1, w[1].stamp.2));
    known && one_producer && rising
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(partition: i32, offset: i64, key: &str, seq: u64) -> LogRecord {
        LogRecord {
            topic: "t".into(),
            partition,
            offset,
            key: Some(Bytes::copy_from_slice(key.as_bytes())),
            value: Some(value(1, key, seq, 10)),
            headers: Vec::new(),
            timestamp: 0,
            producer: (0, 0, 0),
        }
    }

    fn sent(key: &str, seq: u64, outcome: Outcome) -> Sent {
        Sent {
            topic: "t".into(),
            key: key.into(),
            seq,
            value: value(1, key, seq, 10),
            outcome,
        }
    }

    #[test]
    fn values_round_trip_and_detect_corruption() {
        let v = value(9, "k-1", 42, 33);
        assert_eq!(parse(&v), Some((9, "k-1".into(), 42)));
        let mut bad = v.to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(parse(&bad), None);
    }

    #[test]
    fn each_invariant_is_caught() {
        let p = |o| Outcome::Persisted {
            partition: 0,
            offset: Some(o),
        };
        let clean = check(
            1,
            &[sent("a", 0, p(0)), sent("a", 1, p(1))],
            &[rec(0, 0, "a", 0), rec(0, 1, "a", 1)],
        );
        assert!(clean.ok(), "{}", clean.summary());
        let lost = check(1, &[sent("a", 0, p(0))], &[]);
        assert!(lost.violations[0].starts_with("I1"));
        let dup = check(1, &[sent("a", 0, p(0))], &[rec(0, 0, "a", 0), rec(0, 1, "a", 0)]);
        assert!(dup.violations.iter().any(|v| v.starts_with("I2")));
        let reordered = check(
            1,
            &[sent("a", 0, p(1)), sent("a", 1, p(0))],
            &[rec(0, 0, "a", 1), rec(0, 1, "a", 0)],
        );
        assert!(reordered.violations.iter().any(|v| v.starts_with("I3")));
        let dishonest = check(
            1,
            &[sent("a", 0, Outcome::NotPersisted("x".into()))],
            &[rec(0, 0, "a", 0)],
        );
        assert!(dishonest.violations[0].starts_with("I4"));
        let hung = check(1, &[sent("a", 0, Outcome::Unresolved)], &[]);
        assert!(hung.violations[0].starts_with("I5"));
        let wrong_offset = check(1, &[sent("a", 0, p(5))], &[rec(0, 0, "a", 0)]);
        assert!(wrong_offset.violations[0].starts_with("I1"));
    }

    #[test]
    fn an_order_fault_is_the_brokers_only_when_its_stored_sequences_follow_send_order() {
        let dup_acked = || Outcome::Persisted {
            partition: 0,
            offset: None,
        };
        let sent = [sent("a", 0, dup_acked()), sent("a", 1, dup_acked())];
        let stamped = |offset, seq, stamp| LogRecord {
            producer: stamp,
            ..rec(0, offset, "a", seq)
        };
        // Send seq 1 landed first, but the producer had numbered it after seq 0: the broker's.
        let broker = check(1, &sent, &[stamped(0, 1, (7, 0, 10)), stamped(1, 0, (7, 0, 0))]);
        assert!(broker.ok_for_producer(), "{}", broker.summary());
        assert!(!broker.ok());
        assert_eq!(broker.broker_faults.len(), 1, "{}", broker.summary());
        // A later epoch counts as later numbering.
        let bumped = check(1, &sent, &[stamped(0, 1, (7, 1, 0)), stamped(1, 0, (7, 0, 50))]);
        assert!(bumped.ok_for_producer(), "{}", bumped.summary());
        // The producer numbered them against send order: its fault.
        let producer = check(1, &sent, &[stamped(0, 1, (7, 0, 0)), stamped(1, 0, (7, 0, 10))]);
        assert!(
            producer.violations.iter().any(|v| v.starts_with("I3")),
            "{}",
            producer.summary()
        );
        // Two producer ids, or stamps the reader could not see: the producer's fault.
        let two_ids = check(1, &sent, &[stamped(0, 1, (8, 0, 10)), stamped(1, 0, (7, 0, 0))]);
        assert!(!two_ids.ok_for_producer());
        let unknown = check(1, &sent, &[stamped(0, 1, (-1, -1, -1)), stamped(1, 0, (-1, -1, -1))]);
        assert!(!unknown.ok_for_producer());
    }
}
