//! The accumulator's tests: batching rules, readiness, compression estimates, and appends
//! racing with drains and with close.

use super::*;
use std::collections::HashMap;

fn acc(batch: usize, linger_ms: u64) -> Accumulator {
    Accumulator::new(batch, Duration::from_millis(linger_ms), false, batch)
}

fn open(b: &QueuedBatch) -> &BatchBuilder {
    match &b.body {
        Body::Open(builder) => builder,
        other => panic!("not open: {other:?}"),
    }
}

#[test]
fn a_batch_waits_for_linger_unless_full_or_flushing() {
    let t0 = Instant::now();
    let a = acc(1000, 50);
    let r = a.append("t", 0, 1, None, Some(b"v"), &[], 10, || t0).unwrap();
    assert!(r.wake);
    assert_eq!(a.next_linger_deadline(), Some(t0 + Duration::from_millis(50)));
    assert!(a.ready(t0 + Duration::from_millis(49), false).is_empty());
    assert_eq!(a.ready(t0, true), vec![(Arc::<str>::from("t"), 0)]);
    // Taken out early by the flush but not drained: once the flush is over, its deadline is
    // filed again, and it is ready when it comes.
    assert!(a.ready(t0 + Duration::from_millis(49), false).is_empty());
    assert_eq!(a.next_linger_deadline(), Some(t0 + Duration::from_millis(50)));
    assert_eq!(a.ready(t0 + Duration::from_millis(50), false).len(), 1);
    let b = a.pop_ready("t", 0, t0 + Duration::from_millis(50), false).unwrap();
    assert_eq!(open(&b).record_count(), 1);
    assert_eq!(b.reserved, 10);
    assert!(a.is_empty());
}

#[test]
fn a_full_batch_is_ready_at_once_and_a_new_one_starts() {
    let t0 = Instant::now();
    let a = acc(200, 1000);
    let mut deltas = Vec::new();
    for _ in 0..10 {
        deltas.push(
            a.append("t", 2, 1, None, Some(&[0u8; 40]), &[], 1, || t0)
                .unwrap()
                .offset_delta,
        );
    }
    // 61-byte header + records of 47 bytes: two fit in 200 bytes.
    assert_eq!(&deltas[..4], &[0, 1, 0, 1]);
    assert_eq!(a.ready(t0, false), vec![(Arc::<str>::from("t"), 2)]);
    let first = a.pop_ready("t", 2, t0, false).unwrap();
    assert_eq!(open(&first).record_count(), 2);
    assert!(open(&first).size() <= 200);
}

#[test]
fn an_oversized_record_gets_a_batch_of_its_own() {
    let t0 = Instant::now();
    let a = acc(100, 1000);
    a.append("t", 0, 1, None, Some(&[1u8; 10]), &[], 1, || t0);
    a.append("t", 0, 1, None, Some(&[1u8; 500]), &[], 1, || t0);
    a.append("t", 0, 1, None, Some(&[1u8; 10]), &[], 1, || t0);
    let counts: Vec<i32> = std::iter::from_fn(|| a.pop_ready("t", 0, t0, true))
        .map(|b| open(&b).record_count())
        .collect();
    assert_eq!(counts, vec![1, 1, 1]);
}

#[test]
fn expiry_takes_only_old_batches() {
    let t0 = Instant::now();
    let a = acc(100, 1000);
    a.append("t", 0, 1, None, Some(b"x"), &[], 1, || t0);
    a.append("u", 1, 1, None, Some(b"x"), &[], 1, || t0 + Duration::from_secs(5));
    assert_eq!(a.oldest(), Some(t0));
    assert_eq!(a.expire(t0 + Duration::from_secs(1)).len(), 1);
    assert_eq!(a.completions().len(), 1);
    assert_eq!(a.drain_all().len(), 1);
    assert!(a.is_empty());
}

#[test]
fn a_batch_being_closed_elsewhere_is_drained_only_when_its_slot_is_filled() {
    use volley_protocol::compression::Compression;
    let t0 = Instant::now();
    let a = acc(200, 1000);
    for _ in 0..5 {
        a.append("t", 0, 1, None, Some(&[7u8; 40]), &[], 1, || t0);
    }
    // Two full batches and an open one that has not lingered yet.
    let mut taken = a.take_to_close(t0, false, |_, _| true);
    assert_eq!(taken.len(), 2);
    assert!(a.take_to_close(t0, false, |_, _| true).is_empty(), "taken only once");
    assert!(
        a.ready(t0, false).is_empty(),
        "nothing drains before the first slot is filled"
    );
    // The second finishes first: still nothing, the first is at the head.
    let (second, slot2) = taken.pop().unwrap();
    *slot2.lock().unwrap() = Some(second.close(Compression::Lz4, None, false));
    assert!(a.pop_ready("t", 0, t0, false).is_none());
    let (first, slot1) = taken.pop().unwrap();
    *slot1.lock().unwrap() = Some(first.close(Compression::Lz4, None, false));
    let counts: Vec<i32> = std::iter::from_fn(|| a.pop_ready("t", 0, t0, false))
        .map(|b| match b.body {
            Body::Closed(Ok(c)) => c.record_count(),
            other => panic!("not closed: {other:?}"),
        })
        .collect();
    assert_eq!(counts, vec![2, 2]);
    // The open batch is closed once it lingered, and new records start another.
    assert_eq!(
        a.take_to_close(t0 + Duration::from_secs(1), false, |_, _| true).len(),
        1
    );
    a.append("t", 0, 1, None, Some(&[7u8; 40]), &[], 1, || t0);
    assert_eq!(a.completions().len(), 2);
}

#[test]
fn with_compression_batch_size_bounds_the_estimated_compressed_size() {
    let limits = Limits {
        batch_size: 1061,
        compressed: true,
        max_uncompressed: 100_000,
        max_records: None,
    };
    let e = RatioEstimate::new(limits);
    // Java's start: ratio 1.0 with a 5 % margin.
    assert_eq!(e.limit(), 61 + (1000.0 / 1.05) as usize);
    // Batches that compress to a tenth lower the estimate slowly.
    e.observe(0.1, limits);
    assert!((e.ratio() - 0.995).abs() < 1e-6);
    for _ in 0..1000 {
        e.observe(0.1, limits);
    }
    // Java's sawtooth: down by 0.005 below the observed ratio, then up by 0.05.
    assert!(e.ratio() > 0.09 && e.ratio() < 0.151, "{}", e.ratio());
    assert!(e.limit() > 6_000 && e.limit() < 10_100, "{}", e.limit());
    // One that compresses worse raises it at once.
    e.observe(0.5, limits);
    assert!((e.ratio() - 0.5).abs() < 1e-6);
    // The uncompressed bound holds whatever the estimate.
    for _ in 0..1000 {
        e.observe(0.0, limits);
    }
    assert_eq!(e.limit(), 100_000);
    // Without compression, batch.size is the plain bound.
    let plain = RatioEstimate::new(Limits {
        compressed: false,
        ..limits
    });
    assert_eq!(plain.limit(), 1061);
}

#[test]
fn a_compressed_topics_batches_grow_as_the_estimate_falls() {
    use volley_protocol::compression::Compression;
    let t0 = Instant::now();
    let a = Accumulator::new(1061, Duration::from_secs(1), true, 1 << 20);
    let mut sizes = Vec::new();
    for _ in 0..200 {
        a.append("t", 0, 1, None, Some(&[b'x'; 100]), &[], 1, || t0);
        for (builder, slot) in a.take_to_close(t0, false, |_, _| true) {
            *slot.lock().unwrap() = Some(builder.close(Compression::Lz4, None, false));
        }
        while let Some(b) = a.pop_ready("t", 0, t0, false) {
            let Body::Closed(Ok(c)) = b.body else {
                panic!("not closed")
            };
            sizes.push((c.record_count(), c.size()));
        }
    }
    let (first, last) = (sizes[0], sizes[sizes.len() - 1]);
    // 107-byte records; 1000 bytes with the 5 % margin is room for 952.
    assert_eq!(first.0, 8);
    assert!(last.0 > first.0, "{sizes:?}");
}

#[test]
fn after_close_appends_are_refused_and_drain_all_sees_every_accepted_record() {
    let t0 = Instant::now();
    let a = acc(1000, 1000);
    assert!(a.append("t", 0, 1, None, Some(b"x"), &[], 1, || t0).is_some());
    a.close();
    assert!(a.append("t", 0, 1, None, Some(b"x"), &[], 1, || t0).is_none());
    assert!(a.append("new", 3, 1, None, Some(b"x"), &[], 1, || t0).is_none());
    assert_eq!(a.drain_all().len(), 1);

    // Appends racing with close + drain_all, onto existing and new partitions and topics:
    // every record an append accepted is in what drain_all took, none is left behind.
    for round in 0..20 {
        let a = Arc::new(acc(300, 1000));
        let callers: Vec<_> = (0..4)
            .map(|c| {
                let a = Arc::clone(&a);
                std::thread::spawn(move || {
                    let mut accepted = 0u32;
                    for i in 0.. {
                        let topic = format!("t{}", (i / 50) % 7);
                        let p = (i + c) % 9;
                        if a.append(&topic, p, 1, None, Some(b"v"), &[], 1, || t0).is_none() {
                            return accepted;
                        }
                        accepted += 1;
                    }
                    accepted
                })
            })
            .collect();
        std::thread::sleep(Duration::from_micros(200 * round));
        a.close();
        let drained: i32 = a.drain_all().iter().map(|b| open(b).record_count()).sum();
        let accepted: u32 = callers.into_iter().map(|c| c.join().unwrap()).sum();
        assert_eq!(u32::try_from(drained).unwrap(), accepted, "round {round}");
        assert!(a.drain_all().is_empty() && a.is_empty(), "round {round}: left behind");
    }
}

#[test]
fn concurrent_appends_and_drains_lose_nothing_and_keep_each_callers_order() {
    use std::sync::atomic::AtomicBool;
    const CALLERS: u8 = 4;
    const PER_CALLER: u32 = 20_000;
    let t0 = Instant::now();
    let a = Arc::new(acc(300, 0));
    let done = Arc::new(AtomicBool::new(false));
    let drainer = {
        let (a, done) = (Arc::clone(&a), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut seen: Vec<(String, i32, Vec<Vec<u8>>)> = Vec::new();
            loop {
                let finished = done.load(Ordering::Acquire);
                for (t, p) in a.ready(t0, finished) {
                    while let Some(b) = a.pop_ready(&t, p, t0, finished) {
                        let Body::Open(builder) = b.body else {
                            panic!("not open")
                        };
                        let sealed = builder
                            .seal(&volley_protocol::record_batch::SealParams::default())
                            .unwrap();
                        let d = volley_protocol::record_batch::decode_batches(sealed, 1 << 20).unwrap();
                        let values = d[0].records.iter().map(|r| r.value.clone().unwrap().to_vec()).collect();
                        seen.push((t.to_string(), p, values));
                    }
                }
                if finished && a.is_empty() {
                    return seen;
                }
            }
        })
    };
    let callers: Vec<_> = (0..CALLERS)
        .map(|c| {
            let a = Arc::clone(&a);
            std::thread::spawn(move || {
                for i in 0..PER_CALLER {
                    // Each caller spreads over two topics and three partitions each.
                    let topic = if i % 2 == 0 { "even" } else { "odd" };
                    let mut v = vec![c];
                    v.extend_from_slice(&i.to_be_bytes());
                    a.append(topic, i32::try_from(i % 3).unwrap(), 1, None, Some(&v), &[], 1, || t0);
                }
            })
        })
        .collect();
    for c in callers {
        c.join().unwrap();
    }
    done.store(true, Ordering::Release);
    let seen = drainer.join().unwrap();
    let mut last: HashMap<(String, i32, u8), u32> = HashMap::new();
    let mut total = 0;
    for (t, p, values) in seen {
        for v in values {
            let (c, i) = (v[0], u32::from_be_bytes(v[1..5].try_into().unwrap()));
            if let Some(prev) = last.insert((t.clone(), p, c), i) {
                assert!(
                    i > prev,
                    "caller {c}'s records on {t}/{p} out of order: {prev} then {i}"
                );
            }
            total += 1;
        }
    }
    assert_eq!(total, u32::from(CALLERS) * PER_CALLER);
}

/// Issue 18: a pass looks only at what came due. A thousand partitions with a lingering
/// batch each are not on the ready list until their deadline; then exactly those are.
#[test]
fn readiness_follows_deadlines_not_the_partition_count() {
    let t0 = Instant::now();
    let a = acc(10_000, 5);
    for p in 0..1000 {
        let at = t0 + Duration::from_micros(u64::try_from(p).unwrap());
        a.append("t", p, 1, None, Some(b"v"), &[], 1, || at);
    }
    assert!(a.ready(t0 + Duration::from_millis(4), false).is_empty());
    assert_eq!(lock(&a.listed).len(), 0, "nothing listed before its deadline");
    // 5 ms + 499 µs: the first 500 partitions lingered out.
    let due = a.ready(t0 + Duration::from_micros(5_499), false);
    assert_eq!(due.len(), 500);
    assert_eq!(a.next_linger_deadline(), Some(t0 + Duration::from_micros(5_500)));
    for (t, p) in &due {
        assert!(a.pop_ready(t, *p, t0 + Duration::from_millis(6), false).is_some());
    }
    // Drained partitions leave the list on the next pass.
    assert_eq!(a.ready(t0 + Duration::from_micros(5_499), false).len(), 0);
    assert_eq!(lock(&a.listed).len(), 0);
}

/// Issue 18: a new batch's buffer starts near what its partition's batches usually hold,
/// not at `batch.size` (a thousand lingering partitions allocated 64 KiB each).
#[test]
fn new_batches_start_near_the_size_their_partition_usually_sends() {
    let t0 = Instant::now();
    let a = acc(1 << 16, 0);
    for round in 0..4 {
        for _ in 0..10 {
            a.append("t", 0, 1, None, Some(&[b'x'; 100]), &[], 1, || t0);
        }
        let b = a.pop_ready("t", 0, t0, false).expect("lingered");
        assert_eq!(open(&b).record_count(), 10, "round {round}");
    }
    a.append("t", 0, 1, None, Some(&[b'x'; 100]), &[], 1, || t0);
    let b = a.pop_ready("t", 0, t0, false).expect("lingered");
    let Body::Open(builder) = &b.body else { panic!("open") };
    assert!(
        builder.capacity() < 4096,
        "{} bytes for 10 records of 100",
        builder.capacity()
    );
}

/// Review of issue 18: after a pass has collected, no deadline that came due is left in the
/// heap (the sender would look again at once, for ever, while it could not drain: no
/// producer id yet, or stopped), and `drain_all` leaves no deadline behind.
#[test]
fn no_due_deadline_outlives_a_collecting_pass_or_drain_all() {
    let t0 = Instant::now();
    let a = acc(1000, 5);
    for p in 0..3 {
        a.append("t", p, 1, None, Some(b"v"), &[], 1, || t0);
    }
    let later = t0 + Duration::from_millis(10);
    a.collect_due(later, false);
    assert_eq!(a.next_linger_deadline(), None, "nothing due is left in the heap");
    a.append("t", 0, 1, None, Some(b"v"), &[], 1, || later);
    a.append("u", 0, 1, None, Some(b"v"), &[], 1, || later);
    assert_eq!(a.drain_all().len(), 4);
    assert_eq!(a.next_linger_deadline(), None, "drain_all forgets the deadlines");
    assert!(a.ready(later + Duration::from_secs(1), true).is_empty());
}

/// KIP-794's per-partition batch count stays balanced through every way a batch leaves.
#[test]
fn queued_batch_counts_stay_balanced() {
    let t0 = Instant::now();
    let a = acc(100, 0);
    let count = |a: &Accumulator| {
        let tq = a.topic("t");
        let parts = tq.partitions.load();
        parts[0].queued.load(Ordering::Relaxed)
    };
    for _ in 0..4 {
        a.append("t", 0, 1, None, Some(&[1u8; 60]), &[], 1, || t0);
    }
    assert_eq!(count(&a), 4);
    assert!(a.pop_ready("t", 0, t0, false).is_some());
    assert_eq!(count(&a), 3);
    assert_eq!(a.expire(t0).len(), 3);
    assert_eq!(count(&a), 0);
    a.append("t", 0, 1, None, Some(&[1u8; 60]), &[], 1, || t0);
    assert_eq!(a.drain_all().len(), 1);
    assert_eq!(count(&a), 0);
    a.append("t", 0, 1, None, Some(&[1u8; 60]), &[], 1, || t0);
    assert_eq!(count(&a), 1);
}

/// Issue 15: `append_with` runs `attach` while the partition is still locked, so no drain
/// (and so no completion) of the batch can come between the append and the attachment: a
/// drain started from inside `attach` stays blocked until `attach` returns. (Attached after
/// the lock, a callback could miss its batch's completion and run after a later record's.)
#[test]
fn attach_runs_before_the_batch_can_be_drained() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let a = Arc::new(acc(1000, 0));
    let t0 = Instant::now();
    a.append("t", 0, 1, None, Some(b"first"), &[], 10, || t0).unwrap();
    let drained = Arc::new(AtomicBool::new(false));
    let mut drainer = None;
    let mut drained_during_attach = true;
    a.append_with(
        "t",
        0,
        1,
        None,
        Some(b"second"),
        &[],
        10,
        || t0,
        |_, index| {
            assert_eq!(index, 1);
            let (a2, d2) = (Arc::clone(&a), Arc::clone(&drained));
            drainer = Some(std::thread::spawn(move || {
                let out = a2.drain_all();
                d2.store(true, Ordering::SeqCst);
                out
            }));
            std::thread::sleep(Duration::from_millis(100));
            drained_during_attach = drained.load(Ordering::SeqCst);
        },
    )
    .unwrap();
    assert!(!drained_during_attach, "the batch was drained while attach ran");
    let out = drainer.expect("started").join().expect("drainer");
    assert_eq!(out.iter().map(QueuedBatch::record_count).sum::<i32>(), 2);
}

/// Issue 14: librdkafka's `batch.num.messages` closes a batch at that many records (here
/// long before `batch.size`), and `queue.buffering.max.messages` slots held by a batch's
/// records come back when the batch completes.
#[test]
fn record_limits_close_batches_and_free_slots_on_completion() {
    let t0 = Instant::now();
    let a = acc(1 << 20, 1000).with_record_limits(Some(3), Some(10));
    let deltas: Vec<i32> = (0..7)
        .map(|_| {
            a.append("t", 0, 1, None, Some(b"v"), &[], 1, || t0)
                .unwrap()
                .offset_delta
        })
        .collect();
    assert_eq!(deltas, vec![0, 1, 2, 0, 1, 2, 0]);
    assert_eq!(
        a.ready(t0, false),
        vec![(Arc::<str>::from("t"), 0)],
        "a batch of 3 is full"
    );
    let first = a.pop_ready("t", 0, t0, false).unwrap();
    assert_eq!(open(&first).record_count(), 3);
    // The slots were taken by `send`; the accumulator gives them back with the outcome.
    let slots = Arc::clone(a.record_slots().expect("slots"));
    slots.try_acquire_many(7).expect("seven free slots").forget();
    assert_eq!(slots.available_permits(), 3);
    first.completion.complete(crate::record::BatchOutcome::Failed {
        error: crate::DeliveryError::not_persisted(crate::Error::Closed { detail: None }),
        record_errors: Vec::new(),
    });
    assert_eq!(
        slots.available_permits(),
        6,
        "the batch's three records freed their slots"
    );
    // A second completion gives nothing back twice.
    first.completion.complete(crate::record::BatchOutcome::Failed {
        error: crate::DeliveryError::not_persisted(crate::Error::Closed { detail: None }),
        record_errors: Vec::new(),
    });
    assert_eq!(slots.available_permits(), 6);
}
