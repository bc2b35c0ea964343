//! `--transactional-id`: every line goes out inside a Kafka transaction of at most
//! `--transaction-records` lines. Outcomes are held until their transaction ends: a
//! committed transaction's lines are reported as the producer delivered them; if a
//! transaction cannot commit (a send failed, the producer was fenced, a signal stopped the
//! run) it is aborted, its lines are reported as failed ("transaction aborted") and the run
//! stops. A `read_committed` consumer then sees every line before the first failed one
//! exactly once, and nothing after it: running again from that line loads the input
//! exactly once.

use volley::Producer;

use super::report::Entry;

/// The open transaction's lines, and how many lines a transaction takes.
pub(super) struct TxnRun {
    per: usize,
    open: Vec<Entry>,
    begun: bool,
}

impl TxnRun {
    pub(super) fn new(per: u64) -> Self {
        Self {
            per: usize::try_from(per.max(1)).unwrap_or(usize::MAX),
            open: Vec::new(),
            begun: false,
        }
    }

    /// Opens a transaction if none is open (before a record is sent).
    pub(super) fn before_send(&mut self, p: &Producer) -> Result<(), String> {
        if !self.begun {
            p.begin_transaction()
                .map_err(|e| format!("cannot begin a transaction: {e}"))?;
            self.begun = true;
        }
        Ok(())
    }

    /// Holds a line's outcome until its transaction ends; `true` when the transaction is full.
    pub(super) fn hold(&mut self, e: Entry) -> bool {
        self.open.push(e);
        self.open.len() >= self.per
    }

    /// Ends the open transaction: commits it (`commit`) or aborts it. The held outcomes go
    /// to `out` in line order; those of a transaction that did not commit as failures.
    pub(super) async fn end(&mut self, p: &Producer, out: &mut Vec<Entry>, commit: bool) -> Result<(), String> {
        let held = std::mem::take(&mut self.open);
        if !std::mem::take(&mut self.begun) {
            out.extend(held);
            return Ok(());
        }
        let failure = if commit {
            match p.commit_transaction().await {
                Ok(()) => {
                    out.extend(held);
                    return Ok(());
                }
                Err(e) => format!("the transaction could not commit: {e}"),
            }
        } else {
            "the run stopped before the transaction was committed".to_owned()
        };
        let failure = match p.abort_transaction().await {
            Ok(()) => format!("{failure}; it was aborted"),
            Err(e) => format!("{failure}; aborting it failed too: {e}"),
        };
        for e in held {
            out.push(match e {
                Entry::Sent { line, .. } => Entry::Bad {
                    line,
                    cause: "transaction aborted".into(),
                    error: failure.clone(),
                },
                bad @ Entry::Bad { .. } => bad,
            });
        }
        Err(failure)
    }
}

/// Where a line's outcome goes: held with its transaction, or straight to the collector.
pub(super) fn keep(txn: &mut Option<TxnRun>, chunk: &mut Vec<Entry>, e: Entry) -> bool {
    match txn {
        Some(t) => t.hold(e),
        None => {
            chunk.push(e);
            false
        }
    }
}
