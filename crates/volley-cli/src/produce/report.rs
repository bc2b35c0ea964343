//! What comes back from `volley produce`'s sends: the per-line report, the summary, and the
//! `persisted_later` lines of batches proven persisted after they failed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use volley::{BatchId, DeliveryFuture, Error, Persistence};

pub(super) enum Entry {
    Sent {
        line: u64,
        key: Option<Bytes>,
        bytes: usize,
        delivery: DeliveryFuture,
    },
    Bad {
        line: u64,
        cause: String,
        error: String,
    },
}

#[derive(Default)]
pub(super) struct Summary {
    pub(super) delivered: u64,
    pub(super) bytes: u64,
    pub(super) keyless: u64,
    pub(super) per_partition: BTreeMap<i32, u64>,
    pub(super) failures: BTreeMap<String, u64>,
    pub(super) failed: u64,
}

pub(super) fn json_str(b: &[u8]) -> String {
    serde_json::Value::String(String::from_utf8_lossy(b).into_owned()).to_string()
}

/// Batches that failed as possibly persisted, and those a later acknowledgement proved
/// persisted (`Producer::on_settled`): each of their records gets a second report line
/// `{"line": N, "persistence": "persisted_later", "partition": P}`.
#[derive(Default)]
pub(super) struct Settling {
    waiting: HashMap<BatchId, Vec<(u64, i32)>>,
    settled: HashSet<BatchId>,
}

impl Settling {
    /// Reads the events that came in; returns the report lines they complete.
    fn poll(&mut self, events: &mut mpsc::UnboundedReceiver<BatchId>) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(id) = events.try_recv() {
            self.settled.insert(id);
            for (line, partition) in self.waiting.remove(&id).unwrap_or_default() {
                lines.push(persisted_later(line, partition));
            }
        }
        lines
    }

    /// A record of batch `id` failed possibly persisted: a report line now if its batch was
    /// already proven persisted, else later.
    fn failed(&mut self, id: BatchId, line: u64, partition: i32) -> Option<String> {
        if self.settled.contains(&id) {
            return Some(persisted_later(line, partition));
        }
        self.waiting.entry(id).or_default().push((line, partition));
        None
    }
}

pub(super) fn persisted_later(line: u64, partition: i32) -> String {
    format!("{{\"line\":{line},\"persistence\":\"persisted_later\",\"partition\":{partition}}}")
}

pub(super) async fn collect(
    mut rx: mpsc::Receiver<Vec<Entry>>,
    mut settled_rx: mpsc::UnboundedReceiver<BatchId>,
    report: Option<PathBuf>,
) -> Result<Summary, String> {
    let mut settling = Settling::default();
    let mut out = match &report {
        Some(p) => Some(tokio::io::BufWriter::new(
            tokio::fs::File::create(p)
                .await
                .map_err(|e| format!("cannot create --report {}: {e}", p.display()))?,
        )),
        None => None,
    };
    let mut s = Summary::default();
    // Report lines are formatted only when there is a report to write.
    let reporting = out.is_some();
    let mut lines: Vec<String> = Vec::new();
    while let Some(entries) = rx.recv().await {
        for e in entries {
            let line_json = match e {
                Entry::Bad { line, cause, error } => {
                    eprintln!("line {line}: {error}");
                    s.failed += 1;
                    *s.failures.entry(cause).or_default() += 1;
                    format!("{{\"line\":{line},\"error\":{}}}", json_str(error.as_bytes()))
                }
                Entry::Sent {
                    line,
                    key,
                    bytes,
                    delivery,
                } => {
                    let key_json = key
                        .as_ref()
                        .filter(|_| reporting)
                        .map(|k| format!(",\"key\":{}", json_str(k)))
                        .unwrap_or_default();
                    let partition = delivery.partition();
                    match delivery.await {
                        Ok(m) => {
                            s.delivered += 1;
                            s.bytes += bytes as u64;
                            *s.per_partition.entry(m.partition).or_default() += 1;
                            if !reporting {
                                continue;
                            }
                            let off = m.offset.map_or("null".to_owned(), |o| o.to_string());
                            format!(
                                "{{\"line\":{line}{key_json},\"partition\":{},\"offset\":{off},\"timestamp\":{}}}",
                                m.partition, m.timestamp
                            )
                        }
                        Err(e) => {
                            s.failed += 1;
                            let cause = cause_of(&e.error);
                            *s.failures.entry(cause).or_default() += 1;
                            let p = match e.persistence {
                                Persistence::NotPersisted => "not_persisted",
                                Persistence::PossiblyPersisted => "possibly_persisted",
                            };
                            let mut text = format!(
                                "{{\"line\":{line}{key_json},\"error\":{},\"persistence\":\"{p}\"}}",
                                json_str(e.error.to_string().as_bytes())
                            );
                            if let Some(later) = e.batch.and_then(|id| settling.failed(id, line, partition)) {
                                text.push('\n');
                                text.push_str(&later);
                            }
                            text
                        }
                    }
                }
            };
            lines.push(line_json);
        }
        lines.extend(settling.poll(&mut settled_rx));
        if let Some(o) = out.as_mut() {
            for l in lines.drain(..) {
                o.write_all(l.as_bytes()).await.map_err(|e| e.to_string())?;
                o.write_all(b"\n").await.map_err(|e| e.to_string())?;
            }
            // Once per chunk (up to 1,024 lines): a reader of the report sees each chunk's
            // lines when they are known, not at the end of the input.
            if rx.is_empty() {
                o.flush().await.map_err(|e| e.to_string())?;
            }
        }
        lines.clear();
    }
    // Every outcome is in; an event for a batch always comes before the acknowledgement
    // that proved it, so the last ones are in the channel now.
    let rest = settling.poll(&mut settled_rx);
    if let Some(o) = out.as_mut() {
        for l in rest {
            o.write_all(l.as_bytes()).await.map_err(|e| e.to_string())?;
            o.write_all(b"\n").await.map_err(|e| e.to_string())?;
        }
    }
    if let Some(mut o) = out {
        o.flush().await.map_err(|e| e.to_string())?;
    }
    Ok(s)
}

/// A short cause for the summary's failure table.
pub(super) fn cause_of(e: &Error) -> String {
    match e {
        Error::Broker { code, .. } => code.name().to_owned(),
        Error::DeliveryTimeout { .. } => "delivery timeout".into(),
        Error::Closed { .. } => "producer closed before delivery".into(),
        Error::RecordTooLarge { setting, .. } => format!("record larger than {setting}"),
        Error::TopicNotAvailable { .. } => "topic not available".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 10: every record of a possibly-persisted batch that a later acknowledgement
    /// proved persisted gets a `persisted_later` report line, whether the event comes
    /// before or after the collector reads the record's failure.
    #[test]
    fn settled_batches_get_a_persisted_later_line_per_record() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut s = Settling::default();
        // Failure first, event later: the lines come with the event.
        assert_eq!(s.failed(BatchId(7), 3, 1), None);
        assert_eq!(s.failed(BatchId(7), 4, 1), None);
        assert_eq!(s.poll(&mut rx), Vec::<String>::new());
        tx.send(BatchId(7)).expect("send");
        assert_eq!(
            s.poll(&mut rx),
            vec![
                r#"{"line":3,"persistence":"persisted_later","partition":1}"#.to_owned(),
                r#"{"line":4,"persistence":"persisted_later","partition":1}"#.to_owned(),
            ]
        );
        // Event first, failure later: the line comes with the failure.
        tx.send(BatchId(9)).expect("send");
        assert!(s.poll(&mut rx).is_empty());
        assert_eq!(
            s.failed(BatchId(9), 8, 0).as_deref(),
            Some(r#"{"line":8,"persistence":"persisted_later","partition":0}"#)
        );
        // A batch never settled gives nothing.
        assert_eq!(s.failed(BatchId(11), 9, 0), None);
        assert!(s.poll(&mut rx).is_empty());
    }
}
