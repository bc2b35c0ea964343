//! What comes back from `volley produce`'s sends: the per-line report, the summary, and the
//! `persisted_later` lines of batches proven persisted after they failed.
//!
//! The report is in line order and written as outcomes arrive: before the collector waits
//! for an outcome that is not known yet, the lines it has are written and flushed, so a
//! reader of the file (`tail -f`) sees every known outcome while the run goes on. Lines are
//! only ever written whole.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use volley::{BatchId, DeliveryFuture, Error, Persistence};

use super::input::Files;
use super::progress::{eprint, Counters};

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
    /// With a transactional id: the lines that follow belong to this transaction (their
    /// report lines carry its number).
    Txn(u64),
    /// A line of a transaction whose commit was left unfinished (a second signal, or a
    /// commit that kept timing out): it may be committed.
    Unknown {
        line: u64,
        key: Option<Bytes>,
        error: String,
    },
}

impl Entry {
    /// The input line an outcome is for (0 for a transaction's number).
    pub(super) fn line(&self) -> u64 {
        match self {
            Entry::Sent { line, .. } | Entry::Bad { line, .. } | Entry::Unknown { line, .. } => *line,
            Entry::Txn(_) => 0,
        }
    }
}

/// Adds `"transaction":n` to each JSON line of `text`.
fn with_txn(text: &str, n: u64) -> String {
    let mut out = String::with_capacity(text.len() + 20);
    for (i, l) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(l.strip_suffix('}').unwrap_or(l));
        out.push_str(&format!(",\"transaction\":{n}}}"));
    }
    out
}

#[derive(Debug, Default)]
pub(super) struct Summary {
    pub(super) delivered: u64,
    pub(super) bytes: u64,
    pub(super) per_partition: BTreeMap<i32, u64>,
    pub(super) failures: BTreeMap<String, u64>,
    pub(super) failed: u64,
    /// Failed lines certainly not in the log (malformed lines, sends that did not happen,
    /// records the producer never wrote).
    pub(super) not_persisted: u64,
    /// Failed records that may be in the log.
    pub(super) possibly_persisted: u64,
    /// Possibly persisted records a later acknowledgement proved persisted.
    pub(super) persisted_later: u64,
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
    pub(super) fn poll(&mut self, events: &mut mpsc::UnboundedReceiver<BatchId>) -> Vec<String> {
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
    pub(super) fn failed(&mut self, id: BatchId, line: u64, partition: i32) -> Option<String> {
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

/// The report file, written in whole lines.
struct ReportFile {
    file: tokio::fs::File,
    /// Whole lines not written yet.
    pending: String,
}

impl ReportFile {
    /// Writes what is pending; `flush`: and waits until it is in the file.
    async fn write(&mut self, flush: bool) -> Result<(), String> {
        if !self.pending.is_empty() {
            self.file
                .write_all(self.pending.as_bytes())
                .await
                .map_err(|e| format!("cannot write --report: {e}"))?;
            self.pending.clear();
        }
        if flush {
            self.file
                .flush()
                .await
                .map_err(|e| format!("cannot write --report: {e}"))?;
        }
        Ok(())
    }
}

/// Lines pending beyond this are written without waiting for a flush point.
const WRITE_AT: usize = 1 << 16;

pub(super) async fn collect(
    mut rx: mpsc::Receiver<Vec<Entry>>,
    mut settled_rx: mpsc::UnboundedReceiver<BatchId>,
    report: Option<PathBuf>,
    counters: Arc<Counters>,
    files: Option<Arc<Files>>,
) -> Result<Summary, String> {
    // A report line, with the input file first when there are several.
    let push = |pending: &mut String, l: &str| {
        match files.as_ref().and_then(|f| f.tag(l)) {
            Some(tagged) => pending.push_str(&tagged),
            None => pending.push_str(l),
        }
        pending.push('\n');
    };
    let mut settling = Settling::default();
    let mut out = match &report {
        Some(p) => Some(ReportFile {
            file: tokio::fs::File::create(p)
                .await
                .map_err(|e| format!("cannot create --report {}: {e}", p.display()))?,
            pending: String::new(),
        }),
        None => None,
    };
    let mut s = Summary::default();
    let mut txn = None;
    while let Some(entries) = rx.recv().await {
        for e in entries {
            if let Entry::Txn(n) = e {
                txn = Some(n);
                continue;
            }
            // An outcome not known yet: what is known goes to the file first (the write
            // is started, not waited for: it completes while the collector waits).
            if let (Entry::Sent { delivery, .. }, Some(o)) = (&e, out.as_mut()) {
                if !delivery.is_done() {
                    o.write(false).await?;
                }
            }
            let mut line_json = outcome(e, &mut s, &mut settling, out.is_some()).await;
            if let (Some(n), Some(l)) = (txn, &line_json) {
                line_json = Some(with_txn(l, n));
            }
            counters.delivered.store(s.delivered, Ordering::Relaxed);
            counters.delivered_bytes.store(s.bytes, Ordering::Relaxed);
            counters.failed.store(s.failed, Ordering::Relaxed);
            if let (Some(o), Some(l)) = (out.as_mut(), line_json) {
                push(&mut o.pending, &l);
                if o.pending.len() >= WRITE_AT {
                    o.write(false).await?;
                }
            }
        }
        let later = settling.poll(&mut settled_rx);
        s.persisted_later += later.len() as u64;
        if let Some(o) = out.as_mut() {
            for l in later {
                push(&mut o.pending, &l);
            }
            // The collector may wait for more input now: what it has goes to the file.
            o.write(rx.is_empty()).await?;
        }
    }
    // Every outcome is in; an event for a batch always comes before the acknowledgement
    // that proved it, so the last ones are in the channel now.
    let rest = settling.poll(&mut settled_rx);
    s.persisted_later += rest.len() as u64;
    if let Some(mut o) = out {
        for l in rest {
            push(&mut o.pending, &l);
        }
        o.write(true).await?;
    }
    Ok(s)
}

/// Counts one entry's outcome (waiting for it) and returns its report line(s) if a report
/// is written.
async fn outcome(e: Entry, s: &mut Summary, settling: &mut Settling, reporting: bool) -> Option<String> {
    match e {
        Entry::Txn(_) => None,
        Entry::Bad { line, cause, error } => {
            eprint(format_args!("line {line}: {error}"));
            s.failed += 1;
            s.not_persisted += 1;
            *s.failures.entry(cause).or_default() += 1;
            reporting.then(|| {
                format!(
                    "{{\"line\":{line},\"error\":{},\"persistence\":\"not_persisted\"}}",
                    json_str(error.as_bytes())
                )
            })
        }
        Entry::Unknown { line, key, error } => {
            s.failed += 1;
            s.possibly_persisted += 1;
            *s.failures.entry("transaction outcome unknown".into()).or_default() += 1;
            reporting.then(|| {
                let key_json = key.map(|k| format!(",\"key\":{}", json_str(&k))).unwrap_or_default();
                format!(
                    "{{\"line\":{line}{key_json},\"error\":{},\"persistence\":\"possibly_persisted\"}}",
                    json_str(error.as_bytes())
                )
            })
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
                        return None;
                    }
                    let off = m.offset.map_or("null".to_owned(), |o| o.to_string());
                    Some(format!(
                        "{{\"line\":{line}{key_json},\"partition\":{},\"offset\":{off},\"timestamp\":{}}}",
                        m.partition, m.timestamp
                    ))
                }
                Err(e) => {
                    s.failed += 1;
                    let cause = cause_of(&e.error);
                    *s.failures.entry(cause).or_default() += 1;
                    let p = match e.persistence {
                        Persistence::NotPersisted => {
                            s.not_persisted += 1;
                            "not_persisted"
                        }
                        Persistence::PossiblyPersisted => {
                            s.possibly_persisted += 1;
                            "possibly_persisted"
                        }
                    };
                    // A batch proven persisted before this failure was read: its line now.
                    let later = e.batch.and_then(|id| settling.failed(id, line, partition));
                    s.persisted_later += u64::from(later.is_some());
                    if !reporting {
                        return None;
                    }
                    let mut text = format!(
                        "{{\"line\":{line}{key_json},\"error\":{},\"persistence\":\"{p}\"}}",
                        json_str(e.error.to_string().as_bytes())
                    );
                    if let Some(later) = later {
                        text.push('\n');
                        text.push_str(&later);
                    }
                    Some(text)
                }
            }
        }
    }
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
    fn report_lines_carry_their_transaction() {
        assert_eq!(
            with_txn("{\"line\":3,\"error\":\"x\"}\n{\"line\":3,\"persistence\":\"persisted_later\"}", 2),
            "{\"line\":3,\"error\":\"x\",\"transaction\":2}\n{\"line\":3,\"persistence\":\"persisted_later\",\"transaction\":2}"
        );
    }

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
