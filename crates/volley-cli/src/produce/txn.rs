//! `--transactional-id`: the loader. Every line goes out inside a Kafka transaction of at
//! most `--transaction-records` lines or `--transaction-duration-ms`, whichever comes first.
//! Each transaction also commits the run's progress (`send_offsets_to_transaction`): the
//! offset of partition 0 of the output topic in the group `volley-load.<transactional.id>`
//! is the number of input lines consumed, its metadata a [`Fingerprint`] of the input. The
//! records and the progress commit or abort together, so a run started again with the same
//! id (after a crash, a SIGKILL, a signal) fences the earlier one, reads the progress, skips
//! the lines already committed and goes on: a `read_committed` consumer sees every line
//! exactly once.
//!
//! Outcomes are held until their transaction ends: a committed transaction's lines are
//! reported as the producer delivered them; if a transaction cannot commit (a send failed,
//! the producer was fenced) it is aborted, its lines are reported as failed ("transaction
//! aborted", not persisted) and the run stops. A signal commits what was read.

use std::io::Read;
use std::time::{Duration, Instant};

use volley::transaction::{ConsumerGroupMetadata, OffsetAndMetadata};
use volley::{Producer, ProducerConfig};

use tokio::sync::watch;

use super::report::Entry;
use super::signals::{self, Stopped};

/// The version of the progress document (2: file names are absolute paths).
const FORMAT: u64 = 2;
/// How much of the input the fingerprint hashes.
const HASHED: u64 = 1 << 20;
/// File names longer than this together are kept as their hash (the broker's
/// `offset.metadata.max.bytes` is 4096 by default).
const NAMES_MAX: usize = 2048;

/// What identifies an input: its size, the SHA-256 of its first MiB, its files' absolute
/// paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Fingerprint {
    size: u64,
    sha256: String,
    files: serde_json::Value,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Fingerprint {
    /// Reads the first MiB of the files (one stream, in order) and their sizes.
    pub(super) fn of(names: &[String]) -> Result<Self, String> {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        let mut size = 0u64;
        let mut hashed = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        for name in names {
            let f = std::fs::File::open(name).map_err(|e| format!("cannot open {name}: {e}"))?;
            size += f.metadata().map_err(|e| format!("cannot read {name}: {e}"))?.len();
            let mut f = f.take(HASHED.saturating_sub(hashed));
            loop {
                let n = f.read(&mut buf).map_err(|e| format!("cannot read {name}: {e}"))?;
                if n == 0 {
                    break;
                }
                ctx.update(&buf[..n]);
                hashed += n as u64;
            }
        }
        let sha256 = hex(ctx.finish().as_ref());
        // The files as absolute paths: `in.txt`, `./in.txt` and the same file named from
        // another directory are one input.
        let canonical: Vec<String> = names
            .iter()
            .map(|n| std::fs::canonicalize(n).map_or_else(|_| n.clone(), |p| p.display().to_string()))
            .collect();
        let list = serde_json::Value::from(canonical);
        let files = if list.to_string().len() > NAMES_MAX {
            let d = ring::digest::digest(&ring::digest::SHA256, list.to_string().as_bytes());
            serde_json::json!({ "sha256": hex(d.as_ref()) })
        } else {
            list
        };
        Ok(Self { size, sha256, files })
    }

    /// The progress document: this fingerprint and the last committed transaction's number.
    fn document(&self, txn: u64) -> String {
        serde_json::json!({
            "format": FORMAT,
            "size": self.size,
            "sha256_first_mib": self.sha256,
            "files": self.files,
            "transaction": txn,
        })
        .to_string()
    }

    /// The fingerprint and transaction number of a progress document (`None`: not one).
    fn parse(doc: &str) -> Option<(Self, u64)> {
        let v: serde_json::Value = serde_json::from_str(doc).ok()?;
        if v["format"].as_u64()? != FORMAT {
            return None;
        }
        Some((
            Self {
                size: v["size"].as_u64()?,
                sha256: v["sha256_first_mib"].as_str()?.to_owned(),
                files: v["files"].clone(),
            },
            v["transaction"].as_u64().unwrap_or(0),
        ))
    }
}

/// The loader's input: regular files only (standard input or a pipe cannot be read again
/// after a crash), and their fingerprint.
pub(super) fn loader_input(names: &[String]) -> Result<Fingerprint, String> {
    for name in names {
        // A name that cannot be read is reported when it is opened.
        if name == "-" || std::fs::metadata(name).is_ok_and(|m| !m.is_file()) {
            return Err(format!(
                "--transactional-id loads regular files only, and {name} is not one: a run \
                 resumed after a crash reads its input again from the start"
            ));
        }
    }
    Fingerprint::of(names)
}

/// Where a run's progress is committed.
pub(super) struct Progress {
    group: String,
    topic: String,
    fingerprint: Fingerprint,
}

impl Progress {
    pub(super) fn new(transactional_id: &str, topic: &str, fingerprint: Fingerprint) -> Self {
        Self {
            group: format!("volley-load.{transactional_id}"),
            topic: topic.to_owned(),
            fingerprint,
        }
    }
}

/// The open transaction's lines, how many lines or how long a transaction takes, and the
/// progress committed so far.
pub(super) struct TxnRun {
    per: usize,
    per_time: Duration,
    open: Vec<Entry>,
    /// When the open transaction took its first line.
    started: Option<Instant>,
    /// Whether the open transaction was begun with the producer.
    begun: bool,
    /// The last transaction's number (committed or aborted).
    number: u64,
    progress: Progress,
    /// Lines consumed: read and dealt with (sent, or failed for good).
    consumed: u64,
    /// Lines whose consumption is committed.
    committed: u64,
}

impl TxnRun {
    pub(super) fn new(per: u64, per_ms: u64, progress: Progress) -> Self {
        Self {
            per: usize::try_from(per.max(1)).unwrap_or(usize::MAX),
            per_time: Duration::from_millis(per_ms.max(1)),
            open: Vec::new(),
            started: None,
            begun: false,
            number: 0,
            progress,
            consumed: 0,
            committed: 0,
        }
    }

    /// Reads the committed progress of an earlier run: how many lines to skip. A progress
    /// of another input is an error (exit status 2) unless `restart` (then the input is
    /// loaded from its first line); a progress that cannot be read is one with status 1.
    pub(super) async fn resume(&mut self, config: &ProducerConfig, restart: bool) -> Result<u64, (u8, String)> {
        let p = &self.progress;
        let key = (p.topic.clone(), 0);
        let got = volley::committed_offsets(config, &p.group, std::slice::from_ref(&key))
            .await
            .map_err(|e| (1, format!("cannot read the progress of group {}: {e}", p.group)))?;
        let Some(o) = got.into_iter().find(|(k, _)| *k == key).and_then(|(_, o)| o) else {
            return Ok(0);
        };
        if restart {
            return Ok(0);
        }
        let lines = u64::try_from(o.offset).unwrap_or(0);
        match o.metadata.as_deref().and_then(Fingerprint::parse) {
            Some((f, number)) if f == p.fingerprint => {
                self.number = number;
                self.consumed = lines;
                self.committed = lines;
                Ok(lines)
            }
            _ => Err((
                2,
                format!(
                    "the input differs from the one an earlier run with this transactional id loaded \
                 ({lines} lines committed; progress {:?} in group {}): give --restart to load this \
                 input from its first line, or use another --transactional-id",
                    o.metadata.unwrap_or_default(),
                    p.group
                ),
            )),
        }
    }

    /// Opens a transaction with the producer if none is open (before a record is sent).
    pub(super) fn before_send(&mut self, p: &Producer) -> Result<(), String> {
        if !self.begun {
            p.begin_transaction()
                .map_err(|e| format!("cannot begin a transaction: {e}"))?;
            self.begun = true;
        }
        Ok(())
    }

    /// Lines up to `line` are consumed (read and dealt with).
    pub(super) fn mark(&mut self, line: u64) {
        self.consumed = self.consumed.max(line);
    }

    /// Holds a line's outcome until its transaction ends; `true` when the transaction is
    /// full or old enough to end.
    pub(super) fn hold(&mut self, e: Entry) -> bool {
        let started = *self.started.get_or_insert_with(Instant::now);
        self.open.push(e);
        self.open.len() >= self.per || started.elapsed() >= self.per_time
    }

    /// Ends the open transaction: commits it with the progress (`commit`) or aborts it. The
    /// held outcomes go to `out` in line order after the transaction's number; those of a
    /// transaction that did not commit as failures.
    ///
    /// A commit is waited for until it ends, or until one more stopping signal than `stop`
    /// has seen (at least two): its lines are then reported possibly persisted, since the
    /// commit may go through; the next run resumes after what did.
    pub(super) async fn end(
        &mut self,
        p: &Producer,
        out: &mut Vec<Entry>,
        commit: bool,
        stop: &mut watch::Receiver<Stopped>,
    ) -> Result<(), String> {
        let held = std::mem::take(&mut self.open);
        self.started = None;
        if held.is_empty() && !self.begun && self.consumed == self.committed {
            return Ok(());
        }
        self.number += 1;
        out.push(Entry::Txn(self.number));
        let enough = stop.borrow().count.max(1) + 1;
        let failure = if commit {
            let committed = tokio::select! {
                r = self.commit(p) => Some(r),
                () = signals::wait(stop, enough) => None,
            };
            let unknown = match committed {
                Some(Ok(())) => {
                    out.extend(held);
                    return Ok(());
                }
                Some(Err(Failed::Refused(e))) => Err(e),
                // The commit may still go through: its lines are possibly persisted (and an
                // abort would be refused while the commit is pending).
                Some(Err(Failed::TimedOut(e))) => Ok(format!(
                    "{e}: whether transaction {} committed is unknown; a run again resumes after \
                     the last committed line",
                    self.number
                )),
                None => Ok(format!(
                    "stopped by a second signal while transaction {} committed: whether it \
                     committed is unknown; a run again resumes after the last committed line",
                    self.number
                )),
            };
            match unknown {
                Err(e) => e,
                Ok(e) => {
                    self.begun = false;
                    out.extend(held.into_iter().map(|h| match h {
                        Entry::Sent { line, key, .. } => Entry::Unknown {
                            line,
                            key,
                            error: e.clone(),
                        },
                        other => other,
                    }));
                    return Err(e);
                }
            }
        } else {
            "the run stopped before the transaction was committed".to_owned()
        };
        // The lines of a transaction being aborted are not persisted whatever happens (the
        // coordinator's timeout or the next run's fencing aborts it): a second signal stops
        // waiting for the abort.
        let failure = if std::mem::take(&mut self.begun) {
            let aborted = tokio::select! {
                r = again(|| p.abort_transaction()) => Some(r),
                () = signals::wait(stop, enough) => None,
            };
            match aborted {
                Some(Ok(())) => format!("{failure}; it was aborted"),
                Some(Err(e)) => format!("{failure}; aborting it failed too: {e}"),
                None => format!("{failure}; a second signal stopped waiting for its abort"),
            }
        } else {
            failure
        };
        for e in held {
            out.push(match e {
                Entry::Sent { line, .. } => Entry::Bad {
                    line,
                    cause: "transaction aborted".into(),
                    error: failure.clone(),
                },
                other => other,
            });
        }
        Err(failure)
    }

    /// Sends the progress into the open transaction and commits it.
    async fn commit(&mut self, p: &Producer) -> Result<(), Failed> {
        self.before_send(p).map_err(Failed::Refused)?;
        let pr = &self.progress;
        let doc = pr.fingerprint.document(self.number);
        let offsets = vec![(
            (pr.topic.clone(), 0),
            OffsetAndMetadata {
                offset: i64::try_from(self.consumed).unwrap_or(i64::MAX),
                metadata: Some(doc),
                leader_epoch: None,
            },
        )];
        let group = ConsumerGroupMetadata::new(pr.group.clone());
        again(|| p.send_offsets_to_transaction(offsets.clone(), &group))
            .await
            .map_err(|e| {
                Failed::Refused(format!(
                    "the transaction could not commit: its progress could not be sent: {e}"
                ))
            })?;
        again(|| p.commit_transaction()).await.map_err(|e| {
            let text = format!("the transaction could not commit: {e}");
            match e {
                volley::Error::TimedOut { .. } => Failed::TimedOut(text),
                _ => Failed::Refused(text),
            }
        })?;
        self.begun = false;
        self.committed = self.consumed;
        Ok(())
    }
}

/// Why a commit did not happen.
enum Failed {
    /// It did not, for sure: abort the transaction.
    Refused(String),
    /// `commit_transaction` kept timing out: the commit may still go through.
    TimedOut(String),
}

/// How many times a transactional call that timed out (`max.block.ms`) is made again before
/// the loader gives up: as in Java, calling it again waits for the same operation (a broker
/// that stalls for a moment must not abort the run, nor leave its commit unknown).
const ATTEMPTS: usize = 5;

/// Calls `call` again while it times out, at most [`ATTEMPTS`] times.
async fn again<F, Fut>(mut call: F) -> Result<(), volley::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), volley::Error>>,
{
    let mut last = None;
    for _ in 0..ATTEMPTS {
        match call().await {
            Err(e @ volley::Error::TimedOut { .. }) => last = Some(e),
            other => return other,
        }
    }
    Err(last.unwrap_or(volley::Error::TimedOut {
        what: "a transactional call",
        waited: std::time::Duration::ZERO,
    }))
}

/// Where a line's outcome goes: held with its transaction, or straight to the collector.
/// `consumed`: the line was dealt with (a line a signal stopped before it was sent was not,
/// and must be read again by the next run). `true` when the transaction should end.
pub(super) fn keep(txn: &mut Option<TxnRun>, chunk: &mut Vec<Entry>, e: Entry, consumed: bool) -> bool {
    match txn {
        Some(t) => {
            if consumed {
                t.mark(e.line());
            }
            t.hold(e)
        }
        None => {
            chunk.push(e);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_document_round_trips_and_tells_inputs_apart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a");
        std::fs::write(&a, "x\ny\n").expect("write");
        let name = a.to_str().expect("path").to_owned();
        let f = Fingerprint::of(std::slice::from_ref(&name)).expect("fingerprint");
        assert_eq!(f.size, 4);
        let doc = f.document(7);
        assert!(doc.len() < 4096);
        assert_eq!(Fingerprint::parse(&doc), Some((f.clone(), 7)));
        std::fs::write(&a, "x\nz\n").expect("write");
        assert_ne!(Fingerprint::of(std::slice::from_ref(&name)).expect("fingerprint"), f);
        assert_eq!(Fingerprint::parse("{}"), None);
        // The same file named another way is the same input.
        let dotted = dir.path().join(".").join("a");
        let again = Fingerprint::of(&[dotted.to_str().expect("path").to_owned()]).expect("fingerprint");
        assert_eq!(
            again,
            Fingerprint::of(std::slice::from_ref(&name)).expect("fingerprint")
        );
        assert_eq!(Fingerprint::parse("not json"), None);
    }

    fn bad(line: u64) -> Entry {
        Entry::Bad {
            line,
            cause: "c".into(),
            error: "e".into(),
        }
    }

    /// A transaction ends at N lines or after MS, whichever comes first; only consumed lines
    /// move the progress.
    #[test]
    fn transactions_end_by_count_or_age() {
        let f = Fingerprint {
            size: 0,
            sha256: String::new(),
            files: serde_json::Value::Null,
        };
        let mut t = Some(TxnRun::new(3, 60_000, Progress::new("id", "t", f.clone())));
        let mut chunk = Vec::new();
        assert!(!keep(&mut t, &mut chunk, bad(1), true));
        assert!(!keep(&mut t, &mut chunk, bad(2), true));
        assert!(keep(&mut t, &mut chunk, bad(3), false));
        assert!(chunk.is_empty());
        assert_eq!(t.as_ref().map(|t| t.consumed), Some(2));
        let mut t = Some(TxnRun::new(1000, 30, Progress::new("id", "t", f)));
        assert!(!keep(&mut t, &mut chunk, bad(1), true));
        std::thread::sleep(Duration::from_millis(40));
        assert!(keep(&mut t, &mut chunk, bad(2), true));
    }

    /// Review of issue 17: a transactional call that times out is made again (it resumes
    /// the same operation), up to ATTEMPTS times; a stall of the broker no longer aborts
    /// the load (the abort itself was refused while the timed-out call was pending).
    #[tokio::test]
    async fn a_timed_out_call_is_made_again() {
        let calls = std::cell::Cell::new(0);
        let timed_out = || volley::Error::TimedOut {
            what: "commit_transaction",
            waited: Duration::from_millis(1),
        };
        let r = again(|| {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(timed_out())
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert!(r.is_ok());
        assert_eq!(calls.get(), 3);
        calls.set(0);
        let r = again(|| {
            calls.set(calls.get() + 1);
            async { Err(timed_out()) }
        })
        .await;
        assert!(matches!(r, Err(volley::Error::TimedOut { .. })));
        assert_eq!(calls.get(), ATTEMPTS);
        // Another error is returned at once.
        calls.set(0);
        let r = again(|| {
            calls.set(calls.get() + 1);
            async { Err(volley::Error::Closed { detail: None }) }
        })
        .await;
        assert!(matches!(r, Err(volley::Error::Closed { .. })));
        assert_eq!(calls.get(), 1);
    }
}
