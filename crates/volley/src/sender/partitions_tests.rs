//! The per-partition rules, each checked without sockets, time as an argument.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use volley_protocol::record_batch::{decode_batches, BatchBuilder, SealParams};

use super::*;
use crate::record::BatchCompletion;
use crate::sender::batch::CompletionRef;

const ID: Identity = (7, 0);
const BUMPED: Identity = (7, 1);
/// The broker and connection batches go to.
const R: (i32, u64) = (1, 1);
const IDEMPOTENT: Rules = Rules {
    idempotent: true,
    max_in_flight: 5,
};

fn bytes(id: Identity, seq: i32) -> Bytes {
    let mut b = BatchBuilder::with_capacity(128);
    b.append(1, Some(b"k"), Some(b"v"), &[]);
    b.append(2, Some(b"k"), Some(b"w"), &[]);
    b.seal(&SealParams {
        producer_id: id.0,
        producer_epoch: id.1,
        base_sequence: seq,
        ..SealParams::default()
    })
    .expect("seal")
}

fn batch(n: u64, stamp: Identity, seq: i32, maybe_written: bool) -> SentBatch {
    let now = Instant::now();
    SentBatch {
        max_record: 0,
        id: n,
        topic: Arc::from("t"),
        partition: 0,
        bytes: bytes(stamp, seq),
        completion: CompletionRef::Whole(BatchCompletion::new(0)),
        created: now,
        reserved: 0,
        stamp,
        order: (n, Vec::new()),
        base_sequence: seq,
        record_count: 2,
        attempts: 1,
        unknown_server_errors: 0,
        retry_at: now,
        maybe_written,
        last_error: None,
    }
}

/// A partition in sequence space `ID` with batches 1..=n sent (sequences 0, 2, 4, ...).
fn sent(n: u64) -> (PartState, Vec<SentBatch>) {
    let mut p = PartState::default();
    assert!(p.adopt(ID).is_some_and(|stale| stale.is_empty()));
    let mut out = Vec::new();
    for _ in 0..n {
        let (order, seq) = p.number_new(IDEMPOTENT, || 2);
        let b = batch(order, ID, seq, false);
        p.sending(&b, (1, 1));
        out.push(b);
    }
    (p, out)
}

#[test]
fn rule5_first_batch_goes_alone_until_a_success() {
    let (mut p, bs) = sent(1);
    assert!(!p.may_send_new(IDEMPOTENT, ID, R), "unconfirmed with one in flight");
    p.answered(&bs[0].order);
    p.on_acked(&bs[0]);
    assert!(p.may_send_new(IDEMPOTENT, ID, R));
    // Up to five in flight once confirmed.
    let (mut p, bs) = sent(1);
    p.answered(&bs[0].order);
    p.on_acked(&bs[0]);
    for i in 0..5 {
        assert!(p.may_send_new(IDEMPOTENT, ID, R), "batch {i}");
        let (order, seq) = p.number_new(IDEMPOTENT, || 2);
        p.sending(&batch(order, ID, seq, false), (1, 1));
    }
    assert!(!p.may_send_new(IDEMPOTENT, ID, R), "max.in.flight reached");
}

/// Found in review: a batch approved for a new leader while one was still in flight to the
/// old one went out pipelined, although the new leader had not confirmed the producer.
#[test]
fn rule5_nothing_is_pipelined_to_a_new_route_while_the_old_one_has_a_batch_in_flight() {
    let (mut p, bs) = sent(1);
    p.answered(&bs[0].order);
    p.on_acked(&bs[0]);
    let (order, seq) = p.number_new(IDEMPOTENT, || 2);
    p.sending(&batch(order, ID, seq, false), R);
    assert!(p.may_send_new(IDEMPOTENT, ID, R), "same route, confirmed: pipelined");
    assert!(
        !p.may_send_new(IDEMPOTENT, ID, (2, 9)),
        "another broker: one batch at a time"
    );
}

#[test]
fn rule5_a_new_leader_or_connection_must_confirm_again() {
    let (mut p, bs) = sent(1);
    p.answered(&bs[0].order);
    p.on_acked(&bs[0]);
    let (order, seq) = p.number_new(IDEMPOTENT, || 2);
    p.sending(&batch(order, ID, seq, false), (2, 9));
    assert!(
        !p.may_send_new(IDEMPOTENT, ID, R),
        "moved to broker 2: one batch until it confirms"
    );
}

/// Issue 10, defect 8: with idempotence off and max.in.flight 1, a key's records were
/// reordered across a leader move (Java mutes the partition while a batch is in flight).
#[test]
fn max_in_flight_one_mutes_the_partition_while_a_batch_is_in_flight() {
    let rules = Rules {
        idempotent: false,
        max_in_flight: 1,
    };
    let mut p = PartState::default();
    assert!(p.may_send_new(rules, NO_IDENTITY, R));
    let (order, seq) = p.number_new(rules, || 2);
    assert_eq!(seq, NO_SEQUENCE);
    p.sending(&batch(order, NO_IDENTITY, seq, false), (1, 1));
    assert!(
        !p.may_send_new(rules, NO_IDENTITY, R),
        "a second broker must not get the next batch"
    );
    p.answered(&(order, Vec::new()));
    assert!(p.may_send_new(rules, NO_IDENTITY, R));
    // With more in flight allowed and no idempotence, nothing per partition holds it back.
    let loose = Rules {
        idempotent: false,
        max_in_flight: 5,
    };
    p.sending(&batch(9, NO_IDENTITY, NO_SEQUENCE, false), (1, 1));
    assert!(p.may_send_new(loose, NO_IDENTITY, R));
}

#[test]
fn rule3_retries_go_first_once_everything_in_flight_answered() {
    let (mut p, mut bs) = sent(2);
    let first = bs.remove(0);
    p.answered(&first.order);
    p.requeue(first);
    assert!(!p.may_send_new(IDEMPOTENT, ID, R), "nothing new while a retry waits");
    let now = Instant::now();
    assert!(!p.may_resend(IDEMPOTENT, now), "batch 2 still in flight");
    p.answered(&bs[0].order);
    let second = bs.remove(0);
    p.requeue(second);
    assert!(p.may_resend(IDEMPOTENT, now));
    let again = p.take_resend(IDEMPOTENT).expect("a retry").expect("unchanged");
    assert_eq!(
        (again.order.0, again.base_sequence, again.stamp),
        (1, 0, ID),
        "oldest first, same stamp"
    );
    assert!(!p.confirmed, "nothing follows a resent batch until it is answered");
}

/// Issue 10, defect 1: a batch that had a sequence and then expired or ran out of retries
/// left a hole; the next batch was answered OUT_OF_ORDER and reported as data loss.
#[test]
fn a_failed_sealed_batch_gets_the_partition_a_new_epoch_before_anything_else() {
    for maybe_written in [false, true] {
        let (mut p, mut bs) = sent(1);
        let mut b = bs.remove(0);
        b.maybe_written = maybe_written;
        p.answered(&b.order);
        p.on_failed(&b, IDEMPOTENT);
        assert!(p.has_gap());
        assert!(
            !p.may_send_new(IDEMPOTENT, ID, R),
            "nothing more in the broken sequence space"
        );
        assert!(p.wants_bump(ID), "nothing in flight: ask for a new epoch");
        let stale = p.adopt(BUMPED).expect("moves to the new epoch");
        assert!(stale.is_empty());
        assert_eq!((p.identity, p.next_sequence), (BUMPED, 0));
        assert!(!p.has_gap());
        assert!(p.may_send_new(IDEMPOTENT, BUMPED, R));
    }
}

#[test]
fn rule4_no_bump_while_the_partition_has_requests_in_flight() {
    let (mut p, mut bs) = sent(2);
    let b = bs.remove(0);
    p.answered(&b.order);
    p.on_failed(&b, IDEMPOTENT);
    assert!(!p.wants_bump(ID), "batch 2 is still in flight");
    assert!(p.adopt(BUMPED).is_none(), "cannot move while batch 2 is in flight");
    p.answered(&bs[0].order);
    assert!(p.wants_bump(ID));
}

/// Beyond Java (issue 10): a later acknowledgement of the same epoch settles an earlier
/// possibly-persisted batch, and proves an unanswered earlier resend written.
#[test]
fn a_later_acknowledgement_settles_earlier_uncertain_batches() {
    let (mut p, mut bs) = sent(3);
    let (first, second, third) = (bs.remove(0), bs.remove(0), bs.remove(0));
    let mut first = first;
    first.maybe_written = true;
    p.answered(&first.order);
    p.on_failed(&first, IDEMPOTENT);
    let mut second = second;
    second.maybe_written = true;
    p.answered(&second.order);
    p.requeue(second);
    p.answered(&third.order);
    let (settled, written) = p.on_acked(&third);
    assert_eq!(settled.len(), 1);
    assert_eq!((settled[0].id, settled[0].records), (1, 2));
    assert_eq!(written.len(), 1, "the resend of batch 2 is proven written");
    assert!(!p.has_gap(), "nothing unresolved: no bump needed");
    assert!(p.retries.is_empty());
    // An acknowledgement of another epoch proves nothing.
    let (mut p, mut bs) = sent(1);
    let mut b = bs.remove(0);
    b.maybe_written = true;
    p.answered(&b.order);
    p.on_failed(&b, IDEMPOTENT);
    let other = batch(5, (8, 0), 0, false);
    assert_eq!(p.on_acked(&other).0, Vec::new());
    assert!(p.has_gap());
}

/// Rule 2 and issue 10, defect 10: a partition with a gap drops what may have been written
/// under the old epoch; a partition without one finishes its resends under the old epoch
/// first, and keeps its outcomes.
#[test]
fn moving_to_a_new_epoch_keeps_unrelated_partitions_outcomes() {
    // The partition that needed the bump: its possibly-written retry cannot be renumbered.
    let (mut p, mut bs) = sent(2);
    let (a, b) = (bs.remove(0), bs.remove(0));
    p.answered(&a.order);
    p.on_failed(&a, IDEMPOTENT);
    let mut b = b;
    b.maybe_written = true;
    p.answered(&b.order);
    p.requeue(b);
    let stale = p.adopt(BUMPED).expect("moves");
    assert_eq!(
        stale.len(),
        1,
        "possibly written under the old epoch: ends possibly persisted"
    );
    // An unrelated partition with a possibly-written retry: resent unchanged first.
    let (mut q, mut bs) = sent(1);
    let mut c = bs.remove(0);
    c.maybe_written = true;
    q.answered(&c.order);
    q.requeue(c);
    assert!(q.adopt(BUMPED).is_none(), "finishes the old epoch's resend first");
    assert!(q.may_resend(IDEMPOTENT, Instant::now()));
    let again = q.take_resend(IDEMPOTENT).expect("retry").expect("unchanged");
    assert_eq!(again.stamp, ID, "resent under its own epoch, bytes unchanged");
    q.sending(&again, (1, 1));
    q.answered(&again.order);
    q.on_acked(&again);
    assert!(
        q.adopt(BUMPED).is_some_and(|s| s.is_empty()),
        "then moves, losing nothing"
    );
    // A certainly-not-written retry is renumbered under the new epoch.
    let (mut r, mut bs) = sent(1);
    let d = bs.remove(0);
    r.answered(&d.order);
    r.requeue(d);
    r.needs_bump = true;
    assert!(r.adopt(BUMPED).is_some_and(|s| s.is_empty()));
    let d = r.take_resend(IDEMPOTENT).expect("retry").expect("restamped");
    assert_eq!((d.stamp, d.base_sequence), (BUMPED, 0));
    let decoded = decode_batches(d.bytes.clone(), 1 << 20).expect("decodes");
    assert_eq!((decoded[0].producer_epoch, decoded[0].base_sequence), (1, 0));
    assert_eq!(r.next_sequence, 2);
}

#[test]
fn rule8_a_sequence_error_at_the_head_is_a_gap_behind_it_a_follower() {
    // Head, nothing unresolved: a gap.
    let (mut p, mut bs) = sent(1);
    let b = bs.remove(0);
    p.answered(&b.order);
    assert_eq!(p.sequence_error(&b, false), SequenceVerdict::HeadGap);
    assert!(p.needs_bump);
    // UNKNOWN_PRODUCER_ID at the head: the broker forgot us.
    let (mut p, mut bs) = sent(1);
    let b = bs.remove(0);
    p.answered(&b.order);
    assert_eq!(p.sequence_error(&b, true), SequenceVerdict::Forgotten);
    // Behind an earlier batch still in flight, or after a failure: a follower.
    let (mut p, mut bs) = sent(2);
    let later = bs.remove(1);
    p.answered(&later.order);
    assert_eq!(p.sequence_error(&later, false), SequenceVerdict::Follower);
    let (mut p, mut bs) = sent(2);
    let (a, b) = (bs.remove(0), bs.remove(0));
    p.answered(&a.order);
    p.on_failed(&a, IDEMPOTENT);
    p.answered(&b.order);
    assert_eq!(p.sequence_error(&b, false), SequenceVerdict::Follower);
    // A batch of a sequence space the partition already left: a follower.
    let (mut p, mut bs) = sent(1);
    let b = bs.remove(0);
    p.answered(&b.order);
    assert!(p.adopt(BUMPED).is_some());
    assert_eq!(p.sequence_error(&b, false), SequenceVerdict::Follower);
    // At the head of the partition's own space, even one older than the producer's current
    // epoch (the review of issue 10 found such a partition retried until its timeout): a gap.
    let (mut p, mut bs) = sent(1);
    let b = bs.remove(0);
    p.answered(&b.order);
    assert_eq!(p.sequence_error(&b, false), SequenceVerdict::HeadGap);
    assert!(p.adopt(BUMPED).is_some(), "the gap moves it to the newer epoch at once");
}

#[test]
fn retries_stay_in_send_order_and_wait_for_their_backoff() {
    let (mut p, mut bs) = sent(3);
    let now = Instant::now();
    for b in bs.iter() {
        p.answered(&b.order);
    }
    let mut third = bs.remove(2);
    third.retry_at = now;
    let mut first = bs.remove(0);
    first.retry_at = now + Duration::from_millis(100);
    p.requeue(third);
    p.requeue(bs.remove(0));
    p.requeue(first);
    let orders: Vec<u64> = p.retries.iter().map(|b| b.order.0).collect();
    assert_eq!(orders, vec![1, 2, 3]);
    assert!(!p.may_resend(IDEMPOTENT, now), "the oldest waits for its backoff");
    assert!(p.may_resend(IDEMPOTENT, now + Duration::from_millis(100)));
}

/// A batch split (or stripped of rejected records) after MESSAGE_TOO_LARGE was not written:
/// if it is the partition's last numbered batch with nothing else in flight, its
/// replacements take its sequences again and no gap (no epoch bump) follows, as Java's
/// split keeps them. A transactional producer cannot bump inside a transaction: the gap
/// left its split halves waiting until `delivery.timeout.ms`. Behind another batch in
/// flight it still leaves a gap.
#[test]
fn a_split_batch_that_was_last_leaves_no_gap() {
    let (mut p, mut bs) = sent(2);
    let second = bs.remove(1);
    let first = bs.remove(0);
    p.answered(&first.order);
    let _ = p.on_acked(&first);
    p.answered(&second.order);
    assert_eq!(p.next_sequence, 4);
    assert!(p.rewind(&second, IDEMPOTENT), "the last batch, nothing in flight");
    assert_eq!(p.next_sequence, 2, "its replacements start at its first sequence");
    assert!(!p.has_gap());
    // A half of that split fails again while the other half waits, not numbered yet: the
    // same (the second split of a batch holding one record too large).
    let mut half = batch(9, ID, 2, false);
    half.record_count = 1;
    let mut other = batch(10, NO_IDENTITY, NO_SEQUENCE, false);
    other.record_count = 1;
    p.requeue(other);
    p.next_sequence = 3;
    assert!(p.rewind(&half, IDEMPOTENT), "the waiting half is not numbered");
    assert_eq!(p.next_sequence, 2);
    // Not the last numbered batch: a gap, as before.
    let (mut p, mut bs) = sent(2);
    let first = bs.remove(0);
    p.answered(&first.order);
    assert!(!p.rewind(&first, IDEMPOTENT), "batch 2 is numbered after it");
    p.on_failed(&first, IDEMPOTENT);
    assert!(p.has_gap());
    // Possibly written: never renumbered.
    let (mut p, mut bs) = sent(1);
    let mut only = bs.remove(0);
    only.maybe_written = true;
    p.answered(&only.order);
    assert!(!p.rewind(&only, IDEMPOTENT));
}
