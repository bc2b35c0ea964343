//! A sealed batch on its way to (or back from) a broker, where its outcome goes, and the
//! two operations that make one: sealing a queued batch and splitting a rejected one.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use volley_protocol::record_batch::{decode_batches, BatchBuilder, DecodedRecord, SealParams, NO_SEQUENCE};

use crate::accumulator::{Body, QueuedBatch};
use crate::config::ProducerConfig;
use crate::error::{DeliveryError, Error};
use crate::record::{BatchCompletion, BatchOutcome};

use super::partitions::{Identity, NO_IDENTITY};

/// Send order within a partition: the batch's number, then, for the halves of a split
/// batch, 0 (first) or 1 (second) per split. Retries are resent in this order.
pub(super) type Order = (u64, Vec<u8>);

/// A sealed batch on its way to (or back from) a broker.
#[derive(Debug)]
pub(super) struct SentBatch {
    /// Unique within the producer: names the batch in a later "settled" event.
    pub(super) id: u64,
    pub(super) topic: Arc<str>,
    pub(super) partition: i32,
    pub(super) bytes: Bytes,
    pub(super) completion: CompletionRef,
    pub(super) created: Instant,
    pub(super) reserved: usize,
    /// Producer id and epoch the bytes were sealed with ([`NO_IDENTITY`] before a split
    /// half or a rejected batch is stamped again).
    pub(super) stamp: Identity,
    pub(super) order: Order,
    pub(super) base_sequence: i32,
    pub(super) record_count: i32,
    /// The largest record, in bytes (Java's `maxRecordSize`, for `record-size-max`).
    pub(super) max_record: usize,
    /// Sends so far.
    pub(super) attempts: u32,
    /// UNKNOWN_SERVER_ERROR answers so far (retried at most twice, and only when idempotent).
    pub(super) unknown_server_errors: u32,
    pub(super) retry_at: Instant,
    /// A send of this batch may have reached the log.
    pub(super) maybe_written: bool,
    pub(super) last_error: Option<String>,
}

impl SentBatch {
    /// The key of the batch's partition.
    pub(super) fn key(&self) -> (Arc<str>, i32) {
        (Arc::clone(&self.topic), self.partition)
    }
}

/// Where a batch's outcome goes: its own completion, one half of a split batch, or what is
/// left of a batch after the broker rejected some of its records.
#[derive(Debug, Clone)]
pub(super) enum CompletionRef {
    Whole(Arc<BatchCompletion>),
    Half { join: Arc<SplitJoin>, second: bool },
    Rest(Arc<Rejected>),
}

/// The records the broker rejected one by one (INVALID_RECORD with `record_errors`): they
/// fail with their own messages when the rest of their batch has its outcome.
#[derive(Debug)]
pub(super) struct Rejected {
    parent: CompletionRef,
    error: DeliveryError,
    /// Indexes within the parent batch, ascending, with the broker's message for each.
    records: Vec<(i32, Option<String>)>,
}

/// Joins the outcomes of the two halves of a split batch into the original's completion.
#[derive(Debug)]
pub(super) struct SplitJoin {
    parent: CompletionRef,
    first_len: i32,
    halves: Mutex<(Option<BatchOutcome>, Option<BatchOutcome>)>,
}

impl CompletionRef {
    /// The completion the records' futures wait on.
    pub(super) fn root(&self) -> Arc<BatchCompletion> {
        match self {
            CompletionRef::Whole(c) => Arc::clone(c),
            CompletionRef::Half { join, .. } => join.parent.root(),
            CompletionRef::Rest(r) => r.parent.root(),
        }
    }

    pub(super) fn complete(&self, outcome: BatchOutcome) {
        match self {
            CompletionRef::Whole(c) => {
                c.complete(outcome);
            }
            CompletionRef::Half { join, second } => {
                let both = {
                    let mut h = join.halves.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    if *second {
                        h.1 = Some(outcome);
                    } else {
                        h.0 = Some(outcome);
                    }
                    match (&h.0, &h.1) {
                        (Some(_), Some(_)) => h.0.take().zip(h.1.take()),
                        _ => None,
                    }
                };
                if let Some((first, second)) = both {
                    join.parent.complete(BatchOutcome::Split {
                        first_len: join.first_len,
                        first: Box::new(first),
                        second: Box::new(second),
                    });
                }
            }
            CompletionRef::Rest(r) => r.parent.complete(BatchOutcome::Filtered {
                error: r.error.clone(),
                rejected: r.records.clone(),
                rest: Box::new(outcome),
            }),
        }
    }
}

/// A batch whose sealing (compression) failed; its records fail as not persisted.
pub(super) struct SealFailed {
    pub(super) completion: Arc<BatchCompletion>,
    pub(super) reserved: usize,
    pub(super) error: Error,
}

/// What a queued batch becomes when drained.
pub(super) struct SealAs<'a> {
    pub(super) id: u64,
    pub(super) topic: &'a Arc<str>,
    pub(super) partition: i32,
    pub(super) order: u64,
    pub(super) identity: Identity,
    pub(super) base_sequence: i32,
}

/// Seals a queued batch with its producer id, epoch and first sequence: from here on its
/// bytes never change (RELIABILITY.md rule 2).
pub(super) fn seal(
    q: QueuedBatch,
    cfg: &ProducerConfig,
    as_: &SealAs<'_>,
    now: Instant,
) -> Result<SentBatch, Box<SealFailed>> {
    let QueuedBatch {
        body,
        completion,
        created,
        reserved,
        ..
    } = q;
    let closed = match body {
        // A transactional producer's batches carry the transactional attribute: without it
        // the broker takes them as plain writes outside the transaction.
        Body::Open(builder) => {
            Ok(builder.close(cfg.compression, cfg.compression_level, cfg.transactional_id.is_some()))
        }
        Body::Closed(r) => Ok(r),
        Body::Closing(_) => Err(Error::Internal("a batch was drained while being compressed".into())),
    }
    .and_then(|r| r.map_err(|e| Error::Internal(format!("compression failed: {e}"))));
    match closed {
        Ok(closed) => Ok(SentBatch {
            id: as_.id,
            record_count: closed.record_count(),
            max_record: closed.max_record_size(),
            bytes: closed.seal(as_.identity.0, as_.identity.1, as_.base_sequence),
            topic: Arc::clone(as_.topic),
            partition: as_.partition,
            completion: CompletionRef::Whole(completion),
            created,
            reserved,
            stamp: as_.identity,
            order: (as_.order, Vec::new()),
            base_sequence: as_.base_sequence,
            attempts: 0,
            unknown_server_errors: 0,
            retry_at: now,
            maybe_written: false,
            last_error: None,
        }),
        Err(error) => Err(Box::new(SealFailed {
            completion,
            reserved,
            error,
        })),
    }
}

/// The records of a sealed batch, decoded (only on the rare paths that rebuild a batch).
fn records_of(b: &SentBatch) -> Result<Vec<DecodedRecord>, Error> {
    Ok(decode_batches(b.bytes.clone(), usize::MAX >> 1)
        .map_err(|e| Error::Internal(format!("cannot rebuild a batch: {e}")))?
        .into_iter()
        .flat_map(|x| x.records)
        .collect())
}

/// A new unstamped batch of `records`, compressed as configured.
fn rebuild<'a>(
    records: impl Iterator<Item = &'a DecodedRecord>,
    capacity: usize,
    cfg: &ProducerConfig,
) -> Result<Bytes, Error> {
    let mut builder = BatchBuilder::with_capacity(capacity);
    for r in records {
        builder.append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &r.headers);
    }
    let params = SealParams {
        compression: cfg.compression,
        level: cfg.compression_level,
        transactional: cfg.transactional_id.is_some(),
        ..SealParams::default()
    };
    builder
        .seal(&params)
        .map_err(|e| Error::Internal(format!("cannot rebuild a batch: {e}")))
}

/// Drops the records the broker rejected one by one from a batch it did not write
/// (INVALID_RECORD with `record_errors`, e.g. keyless records on a compacted topic): the
/// rest becomes a new unstamped batch, sent again, and the rejected records fail with their
/// own messages once it has an outcome. `None` when the answer does not name a proper
/// subset of the batch's records (then the whole batch fails, as in Java). Only for a
/// batch that was certainly not written (rule 2): the caller checks.
pub(super) fn without_rejected(
    b: &SentBatch,
    rejected: &[(i32, Option<String>)],
    error: DeliveryError,
    cfg: &ProducerConfig,
    id: u64,
    now: Instant,
) -> Option<SentBatch> {
    let mut records: Vec<(i32, Option<String>)> = rejected.to_vec();
    records.sort_by_key(|r| r.0);
    records.dedup_by_key(|r| r.0);
    let in_range = records.iter().all(|(i, _)| (0..b.record_count).contains(i));
    let count = i32::try_from(records.len()).unwrap_or(i32::MAX);
    if records.is_empty() || !in_range || count >= b.record_count {
        return None;
    }
    let all = records_of(b).ok()?;
    if i32::try_from(all.len()).ok()? != b.record_count {
        return None;
    }
    let kept = all
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            records
                .binary_search_by_key(&i32::try_from(*i).unwrap_or(-1), |r| r.0)
                .is_err()
        })
        .map(|(_, r)| r);
    let bytes = rebuild(kept, b.bytes.len() + 64, cfg).ok()?;
    Some(SentBatch {
        id,
        max_record: b.max_record,
        order: b.order.clone(),
        topic: Arc::clone(&b.topic),
        partition: b.partition,
        bytes,
        completion: CompletionRef::Rest(Arc::new(Rejected {
            parent: b.completion.clone(),
            error,
            records,
        })),
        created: b.created,
        reserved: b.reserved,
        stamp: NO_IDENTITY,
        base_sequence: NO_SEQUENCE,
        record_count: b.record_count - count,
        attempts: 0,
        unknown_server_errors: 0,
        retry_at: now,
        maybe_written: false,
        last_error: b.last_error.clone(),
    })
}

/// Splits a batch the broker found too large into two halves, each unstamped (they get a
/// producer id, epoch and sequence when drained). Only for a batch that was certainly not
/// written (rule 2): the caller checks.
pub(super) fn split(
    b: &SentBatch,
    cfg: &ProducerConfig,
    ids: (u64, u64),
    now: Instant,
) -> Result<(SentBatch, SentBatch), Error> {
    let records = records_of(b)?;
    let mid = records.len() / 2;
    let first = rebuild(records[..mid].iter(), b.bytes.len() / 2 + 64, cfg)?;
    let second = rebuild(records[mid..].iter(), b.bytes.len() / 2 + 64, cfg)?;
    let join = Arc::new(SplitJoin {
        parent: b.completion.clone(),
        first_len: i32::try_from(mid).unwrap_or(i32::MAX),
        halves: Mutex::new((None, None)),
    });
    let half = |id: u64, bytes: Bytes, n: usize, second: bool, reserved: usize| SentBatch {
        id,
        max_record: b.max_record,
        order: {
            let mut o = b.order.clone();
            o.1.push(u8::from(second));
            o
        },
        topic: Arc::clone(&b.topic),
        partition: b.partition,
        bytes,
        completion: CompletionRef::Half {
            join: Arc::clone(&join),
            second,
        },
        created: b.created,
        reserved,
        stamp: NO_IDENTITY,
        base_sequence: NO_SEQUENCE,
        record_count: i32::try_from(n).unwrap_or(i32::MAX),
        attempts: 0,
        unknown_server_errors: 0,
        retry_at: now,
        maybe_written: false,
        last_error: b.last_error.clone(),
    };
    Ok((
        half(ids.0, first, mid, false, b.reserved),
        half(ids.1, second, records.len() - mid, true, 0),
    ))
}

/// Sequences wrap from `i32::MAX` to 0, as the broker expects.
pub(super) fn next_sequence(seq: i32, records: i32) -> i32 {
    i32::try_from((i64::from(seq) + i64::from(records)) % (1i64 << 31)).unwrap_or(0)
}

/// What an acks=0 record resolves to once its request is written.
pub(super) fn unacknowledged() -> BatchOutcome {
    BatchOutcome::Delivered {
        base_offset: None,
        log_append_time: -1,
        acknowledged: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11, beyond Java: the records the broker names in INVALID_RECORD fail alone with
    /// their own messages; the others go as a new unstamped batch, in order, and each
    /// record's future maps to its own offset in it.
    #[test]
    fn rejected_records_fail_alone_and_the_rest_keeps_its_order() {
        use crate::record::DeliveryFuture;
        let cfg = ProducerConfig::default();
        let mut builder = BatchBuilder::with_capacity(256);
        for v in ["a", "b", "c", "d"] {
            builder.append(7, None, Some(v.as_bytes()), &[]);
        }
        let bytes = builder.seal(&SealParams::default()).expect("sealed");
        let root = BatchCompletion::new_in(Arc::from("t"), 0);
        let mut b = super::super::answer::test_batch(4, 1, false);
        b.bytes = bytes.clone();
        b.completion = CompletionRef::Whole(Arc::clone(&root));
        let broker = Error::Broker {
            code: volley_protocol::ErrorCode::INVALID_RECORD,
            message: Some("batch message".into()),
        };
        let error = DeliveryError::not_persisted(broker).with_batch_bytes(&bytes);
        let named = [(2, Some("no key for c".to_owned())), (0, None)];
        let now = Instant::now();
        // A record index outside the batch, or every record named: the whole batch fails.
        assert!(without_rejected(&b, &[(4, None)], error.clone(), &cfg, 9, now).is_none());
        let all = [(0, None), (1, None), (2, None), (3, None)];
        assert!(without_rejected(&b, &all, error.clone(), &cfg, 9, now).is_none());

        let rest = without_rejected(&b, &named, error, &cfg, 9, now).expect("a rest");
        assert_eq!(rest.record_count, 2);
        assert_eq!(
            (rest.stamp, rest.base_sequence),
            (NO_IDENTITY, NO_SEQUENCE),
            "numbered when resent"
        );
        let values: Vec<_> = records_of(&rest)
            .expect("decodes")
            .into_iter()
            .map(|r| r.value.expect("value"))
            .collect();
        assert_eq!(values, [&b"b"[..], &b"d"[..]]);
        rest.completion.complete(BatchOutcome::Delivered {
            base_offset: Some(100),
            log_append_time: -1,
            acknowledged: true,
        });
        let result = |i| DeliveryFuture::new(Arc::clone(&root), i, 7).try_result().expect("done");
        let a = result(0).expect_err("a is rejected");
        assert!(a.to_string().contains("this record was rejected"), "{a}");
        assert_eq!(a.into_record().expect("given back").value.as_deref(), Some(&b"a"[..]));
        let c = result(2).expect_err("c is rejected");
        assert!(c.to_string().contains("no key for c"), "{c}");
        assert_eq!(result(1).expect("b delivered").offset, Some(100));
        assert_eq!(result(3).expect("d delivered").offset, Some(101));
    }

    #[test]
    fn sequences_wrap_to_zero() {
        assert_eq!(next_sequence(0, 5), 5);
        assert_eq!(next_sequence(i32::MAX - 1, 2), 0);
        assert_eq!(next_sequence(i32::MAX, 1), 0);
    }
}
