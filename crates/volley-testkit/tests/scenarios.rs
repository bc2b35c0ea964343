//! RELIABILITY.md's fault scenarios against the fake cluster, each over several seeds,
//! checked by the oracle (I1 no loss, I2 no duplicates, I3 per-key order, I4 honest
//! failures, I5 every record resolved in time, I7 integrity).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use volley::{Persistence, Producer, ProducerConfig, ProducerRecord};
use volley_protocol::ErrorCode;
use volley_testkit::fake::{Action, DuplicateMode, FakeCluster};
use volley_testkit::oracle::{check, value, Outcome, Sent};

#[path = "support/scenario.rs"]
mod support;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s01_baseline_several_brokers_many_partitions() {
    for seed in seeds() {
        let plan = Plan {
            partitions: 12,
            keys: 100,
            ..Plan::default()
        };
        let c = cluster(&plan, "s01").await;
        let r = run(seed, &c, "s01", &plan, |_, _| {}).await;
        assert_clean("1", seed, &r);
        assert_eq!(r.persisted, plan.records, "no fault: everything persisted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s02_leader_moves_mid_stream() {
    for seed in seeds() {
        let plan = Plan::default();
        let c = cluster(&plan, "s02").await;
        let mut rng = StdRng::seed_from_u64(seed);
        let r = run(seed, &c, "s02", &plan, |i, c| {
            if i > 0 && i % 500 == 0 {
                for p in 0..6 {
                    c.set_leader("s02", p, rng.gen_range(1..=3));
                }
            }
        })
        .await;
        assert_clean("2", seed, &r);
        assert_eq!(r.persisted, plan.records);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s03_no_leader_for_a_while() {
    for seed in seeds() {
        let plan = Plan::default();
        let c = cluster(&plan, "s03").await;
        let until = Arc::new(Mutex::new(None::<Instant>));
        let u = Arc::clone(&until);
        c.set_hook(move |r| {
            let outage = u.lock().expect("lock").is_some_and(|t| Instant::now() < t);
            if outage && (is_produce(r) || r.api_key == METADATA) {
                Action::Error(ErrorCode::LEADER_NOT_AVAILABLE)
            } else {
                Action::Respond
            }
        });
        let r = run(seed, &c, "s03", &plan, |i, _| {
            if i == 1000 {
                *until.lock().expect("lock") = Some(Instant::now() + Duration::from_millis(1500));
            }
        })
        .await;
        assert_clean("3", seed, &r);
        assert_eq!(r.persisted, plan.records);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s04_response_lost_after_append() {
    for seed in seeds() {
        let plan = Plan {
            codecs: true,
            ..Plan::default()
        };
        let c = cluster(&plan, "s04").await;
        c.set_hook(random_faults(seed, 0.05, Action::AppendThenDrop));
        let r = run(seed, &c, "s04", &plan, |_, _| {}).await;
        assert_clean("4", seed, &r);
        assert_eq!(r.persisted, plan.records, "idempotent retries recover every record");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s05_connection_reset_before_the_broker_handles_it() {
    for seed in seeds() {
        let plan = Plan {
            codecs: true,
            ..Plan::default()
        };
        let c = cluster(&plan, "s05").await;
        c.set_hook(random_faults(seed, 0.05, Action::CloseBeforeHandling));
        let r = run(seed, &c, "s05", &plan, |_, _| {}).await;
        assert_clean("5", seed, &r);
        assert_eq!(r.persisted, plan.records);
    }
}

/// Several requests in flight for one partition; one fails retriably, so the broker answers
/// the later ones OUT_OF_ORDER_SEQUENCE_NUMBER. The producer must wait for all of them and
/// resend strictly in sequence order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s06_first_of_five_in_flight_fails_rest_out_of_order() {
    for seed in seeds() {
        let plan = Plan {
            brokers: 1,
            partitions: 1,
            records: 4000,
            keys: 10,
            props: &[("batch.size", "1024"), ("linger.ms", "0")],
            codecs: true,
        };
        let c = cluster(&plan, "s06").await;
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = Arc::clone(&n);
        c.set_hook(move |r| {
            if is_produce(r) && n2.fetch_add(1, Ordering::Relaxed) % 40 == 7 {
                Action::Error(ErrorCode::NOT_ENOUGH_REPLICAS)
            } else {
                Action::Respond
            }
        });
        let r = run(seed, &c, "s06", &plan, |_, _| {}).await;
        assert_clean("6", seed, &r);
        assert_eq!(r.persisted, plan.records);
        let recs = c.records("s06");
        assert!(
            recs.windows(2)
                .all(|w| (w[0].producer.1, w[0].producer.2) < (w[1].producer.1, w[1].producer.2)),
            "sequences rise in log order"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s11_duplicate_sequence_on_a_retried_batch() {
    for seed in seeds() {
        let plan = Plan {
            codecs: true,
            ..Plan::default()
        };
        let c = cluster(&plan, "s11").await;
        c.duplicate_mode(DuplicateMode::Error);
        c.set_hook(random_faults(seed, 0.05, Action::AppendThenDrop));
        let r = run(seed, &c, "s11", &plan, |_, _| {}).await;
        assert_clean("11", seed, &r);
        assert_eq!(r.persisted, plan.records);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s16_uncertain_errors_after_append() {
    for seed in seeds() {
        let code = if seed % 2 == 0 {
            ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND
        } else {
            ErrorCode::REQUEST_TIMED_OUT
        };
        let plan = Plan {
            codecs: true,
            ..Plan::default()
        };
        let c = cluster(&plan, "s16").await;
        c.set_hook(random_faults(seed, 0.05, Action::AppendThenError(code)));
        let r = run(seed, &c, "s16", &plan, |_, _| {}).await;
        assert_clean("16", seed, &r);
        assert_eq!(r.persisted, plan.records);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s17_retriable_storage_replica_network_errors() {
    for seed in seeds() {
        let plan = Plan::default();
        let c = cluster(&plan, "s17").await;
        let mut rng = StdRng::seed_from_u64(seed);
        let codes = [
            ErrorCode::KAFKA_STORAGE_ERROR,
            ErrorCode::NOT_ENOUGH_REPLICAS,
            ErrorCode::NETWORK_EXCEPTION,
            ErrorCode::NOT_LEADER_OR_FOLLOWER,
        ];
        c.set_hook(move |r| {
            if is_produce(r) && rng.gen_bool(0.08) {
                Action::Error(codes[rng.gen_range(0..codes.len())])
            } else {
                Action::Respond
            }
        });
        let r = run(seed, &c, "s17", &plan, |_, _| {}).await;
        assert_clean("17", seed, &r);
        assert_eq!(r.persisted, plan.records);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
/// INVALID_RECORD naming one record of a batch of many: that record alone fails (not
/// persisted), the others of its batch are resent and delivered once, in order (issue 11,
/// beyond Java, which fails the whole batch).
async fn s19_invalid_record_fails_only_the_named_record() {
    let plan = Plan {
        brokers: 1,
        partitions: 1,
        records: 200,
        keys: 5,
        props: &[("linger.ms", "20")],
        codecs: false,
    };
    let c = cluster(&plan, "s19").await;
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = Arc::clone(&n);
    c.set_hook(move |r| {
        if is_produce(r) && n2.fetch_add(1, Ordering::Relaxed) == 1 {
            Action::InvalidRecord(0)
        } else {
            Action::Respond
        }
    });
    let r = run(1, &c, "s19", &plan, |_, _| {}).await;
    assert!(r.ok(), "{}", r.summary());
    assert_eq!(r.not_persisted, 1, "only the named record fails: {}", r.summary());
    assert_eq!(r.persisted, plan.records - 1, "{}", r.summary());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s20_topic_authorization_failure_fails_that_partition_only() {
    let plan = Plan {
        records: 500,
        ..Plan::default()
    };
    let c = cluster(&plan, "s20").await;
    c.set_hook(|r| {
        if is_produce(r) && r.batches.iter().any(|b| b.partition == 0) {
            Action::PartitionErrors(vec![(("s20".into(), 0), ErrorCode::TOPIC_AUTHORIZATION_FAILED)])
        } else {
            Action::Respond
        }
    });
    let r = run(1, &c, "s20", &plan, |_, _| {}).await;
    assert!(r.ok(), "{}", r.summary());
    assert!(r.not_persisted > 0 && r.persisted > 0, "{}", r.summary());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s22_topic_missing_from_metadata_for_a_while() {
    for seed in seeds() {
        let plan = Plan {
            records: 1000,
            ..Plan::default()
        };
        let c = cluster(&plan, "s22").await;
        c.hide_topic("s22", true);
        let show = async {
            tokio::time::sleep(Duration::from_millis(1000)).await;
            c.hide_topic("s22", false);
        };
        let (r, ()) = tokio::join!(run(seed, &c, "s22", &plan, |_, _| {}), show);
        assert_clean("22", seed, &r);
        assert_eq!(r.persisted, plan.records);
    }
}

/// Keys remap when the partition count changes (as in Java), so per-key order holds within
/// one partition count only; no record may be lost or duplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s23_partitions_added_mid_stream() {
    let plan = Plan {
        records: 2000,
        ..Plan::default()
    };
    let c = cluster(&plan, "s23").await;
    let r = run(1, &c, "s23", &plan, |i, c| {
        if i == 1000 {
            c.add_partitions("s23", 12);
        }
    })
    .await;
    let not_order: Vec<&String> = r.violations.iter().filter(|v| !v.starts_with("I3")).collect();
    assert!(not_order.is_empty(), "{}", r.summary());
    assert_eq!(r.persisted, plan.records);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s24_throttling_is_honoured() {
    let plan = Plan {
        records: 1000,
        ..Plan::default()
    };
    let c = cluster(&plan, "s24").await;
    c.set_hook(random_faults(3, 0.1, Action::Throttle(Duration::from_millis(100))));
    let r = run(1, &c, "s24", &plan, |_, _| {}).await;
    assert_clean("24", 1, &r);
    assert_eq!(r.persisted, plan.records);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s28_hostile_responses() {
    for (seed, action) in [
        (1, Action::TruncatedFrame),
        (2, Action::HugeLength),
        (3, Action::WrongCorrelationId),
    ] {
        let plan = Plan {
            records: 1500,
            ..Plan::default()
        };
        let c = cluster(&plan, "s28").await;
        c.set_hook(random_faults(seed, 0.03, action.clone()));
        let r = run(seed, &c, "s28", &plan, |_, _| {}).await;
        assert_clean(&format!("28 {action:?}"), seed, &r);
        assert_eq!(r.persisted, plan.records);
    }
}

/// A real gap at the head of a partition (the broker lost acknowledged batches): as in Java
/// (rule 8), the epoch is bumped and the head batch, which was rejected and so certainly
/// not written, is resent and delivered; production goes on; nothing hangs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s12_head_of_line_sequence_gap() {
    for seed in seeds() {
        let plan = Plan {
            brokers: 1,
            partitions: 2,
            records: 2000,
            keys: 10,
            props: &[("linger.ms", "0"), ("batch.size", "1024")],
            codecs: false,
        };
        let c = cluster(&plan, "s12").await;
        let r = run(seed, &c, "s12", &plan, |i, c| {
            if i == 1000 {
                // The broker must hold some of this producer's batches before it loses their
                // sequences; a fast run could otherwise reach this point before any batch
                // arrived, and there would be nothing to lose (no gap at all).
                let start = std::time::Instant::now();
                while c.records("s12").is_empty() && start.elapsed() < Duration::from_secs(10) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                c.lose_sequences("s12");
            }
        })
        .await;
        assert!(r.ok(), "seed {seed}: {}", r.summary());
        assert_eq!(
            r.persisted,
            plan.records,
            "the batch at the gap is resent, production goes on: {}",
            r.summary()
        );
        let epochs: std::collections::BTreeSet<i16> = c.records("s12").iter().map(|x| x.producer.1).collect();
        assert!(epochs.len() >= 2, "the epoch was bumped: {epochs:?}");
    }
}

/// The same gap with `enable.gapless.guarantee=true`: the producer stops with a typed
/// fatal error, every record resolves, and later sends fail at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s12_strict_gapless_mode_stops_the_producer() {
    let c = FakeCluster::start(1).await;
    c.create_topic("s12s", 1);
    let config = ProducerConfig::from_properties([
        ("bootstrap.servers", c.bootstrap().as_str()),
        ("enable.gapless.guarantee", "true"),
        ("linger.ms", "0"),
    ])
    .expect("config");
    let p = Producer::new(config).expect("producer");
    p.send(ProducerRecord::new("s12s", "a").key("k"))
        .await
        .expect("send")
        .await
        .expect("first is acknowledged");
    c.lose_sequences("s12s");
    let e = p
        .send(ProducerRecord::new("s12s", "b").key("k"))
        .await
        .expect("send")
        .await
        .expect_err("gap");
    assert!(
        e.to_string()
            .starts_with("sequence gap on s12s-0: the broker answered OUT_OF_ORDER_SEQUENCE_NUMBER (45)"),
        "{e}"
    );
    assert_eq!(p.sequence_gaps(), 1);
    let later = p
        .send(ProducerRecord::new("s12s", "c").key("k"))
        .await
        .expect_err("stopped");
    assert!(matches!(later.error, volley::Error::Fatal(_)), "{later}");
    p.close(Duration::from_secs(2)).await;
}

/// The broker forgets the producer (UNKNOWN_PRODUCER_ID): every earlier batch was
/// acknowledged, so the epoch is bumped and the batch resent; nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s13_broker_forgets_the_producer() {
    for seed in seeds() {
        let plan = Plan {
            brokers: 2,
            partitions: 4,
            records: 3000,
            keys: 20,
            props: &[],
            codecs: false,
        };
        let c = cluster(&plan, "s13").await;
        c.strict_unknown_producer(true);
        let r = run(seed, &c, "s13", &plan, |i, c| {
            if i % 1000 == 500 {
                c.forget_producers();
            }
        })
        .await;
        assert_clean("13", seed, &r);
        assert_eq!(r.persisted, plan.records);
    }
}

/// MESSAGE_TOO_LARGE: batches of several records are split until they fit; a single record
/// that is too large fails alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s18_too_large_batches_are_split() {
    for seed in seeds() {
        let plan = Plan {
            brokers: 2,
            partitions: 3,
            records: 2000,
            keys: 20,
            props: &[("batch.size", "16384"), ("linger.ms", "20")],
            codecs: false,
        };
        let c = cluster(&plan, "s18").await;
        c.max_message_bytes(Some(1500));
        let r = run(seed, &c, "s18", &plan, |_, _| {}).await;
        assert_clean("18", seed, &r);
        assert_eq!(r.persisted, plan.records, "every record fits once split");
        assert!(c.records("s18").len() == plan.records);
    }
    let c = FakeCluster::start(1).await;
    c.create_topic("s18b", 1);
    c.max_message_bytes(Some(1500));
    let p = Producer::new(ProducerConfig::from_properties([("bootstrap.servers", c.bootstrap())]).expect("config"))
        .expect("producer");
    let big = p
        .send(ProducerRecord::new("s18b", vec![b'x'; 3000]))
        .await
        .expect("send");
    let small = p.send(ProducerRecord::new("s18b", "ok")).await.expect("send");
    let e = big.await.expect_err("too large alone");
    assert_eq!(e.persistence, Persistence::NotPersisted);
    assert!(e.to_string().contains("MESSAGE_TOO_LARGE"), "{e}");
    small.await.expect("the small record still goes");
    p.close(Duration::from_secs(2)).await;
}

/// Two pipelined "first" batches where the first fails: a broker with no state for the
/// producer accepts any sequence, so the second would land first. Rule 5 sends the first
/// batch of each partition alone until a success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s07_first_batches_go_alone() {
    for seed in seeds() {
        let plan = Plan {
            brokers: 1,
            partitions: 3,
            records: 3000,
            keys: 30,
            props: &[("linger.ms", "0"), ("batch.size", "512")],
            codecs: false,
        };
        let c = cluster(&plan, "s07").await;
        let failed_once = Arc::new(Mutex::new(std::collections::HashSet::<i32>::new()));
        let f2 = Arc::clone(&failed_once);
        c.set_hook(move |r| {
            let mut seen = f2.lock().expect("lock");
            let firsts: Vec<i32> = r
                .batches
                .iter()
                .filter(|b| seen.insert(b.partition))
                .map(|b| b.partition)
                .collect();
            if is_produce(r) && !firsts.is_empty() {
                Action::PartitionErrors(
                    firsts
                        .into_iter()
                        .map(|p| (("s07".to_owned(), p), ErrorCode::NOT_ENOUGH_REPLICAS))
                        .collect(),
                )
            } else {
                Action::Respond
            }
        });
        let r = run(seed, &c, "s07", &plan, |_, _| {}).await;
        assert_clean("7", seed, &r);
        assert_eq!(r.persisted, plan.records);
    }
}

/// A broker that stops answering for longer than the delivery timeout: queued records fail
/// as not persisted, records in flight as possibly persisted, and production resumes after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s14_delivery_timeout_of_queued_records_then_recovery() {
    let plan = Plan {
        brokers: 1,
        partitions: 3,
        records: 3000,
        keys: 20,
        props: &[
            ("delivery.timeout.ms", "2500"),
            ("request.timeout.ms", "800"),
            ("linger.ms", "5"),
        ],
        codecs: false,
    };
    let c = cluster(&plan, "s14").await;
    let r = run(1, &c, "s14", &plan, |i, c| {
        if i == 500 {
            c.set_black_hole(true);
        }
        if i == 1500 {
            // Let the outage outlast the delivery timeout before it ends.
            std::thread::sleep(Duration::from_millis(3500));
            c.set_black_hole(false);
        }
    })
    .await;
    assert!(r.ok(), "{}", r.summary());
    assert!(
        r.not_persisted + r.possibly_persisted > 0,
        "records timed out: {}",
        r.summary()
    );
    assert!(r.persisted >= 1400, "production resumed: {}", r.summary());
}

/// A partition whose broker holds answers longer than the request timeout, while another
/// topic on another broker goes on: the slow one resolves within its bound, every byte on
/// both topics is intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s15_delivery_timeout_in_flight_other_topics_go_on() {
    let c = FakeCluster::start(2).await;
    c.create_topic("slow", 1);
    c.create_topic("fast", 2);
    c.set_leader("slow", 0, 1);
    c.set_leader("fast", 0, 2);
    c.set_leader("fast", 1, 2);
    c.set_hook(|r| {
        if is_produce(r) && r.broker == 1 {
            Action::Delay(Duration::from_millis(1500))
        } else {
            Action::Respond
        }
    });
    let config = ProducerConfig::from_properties([
        ("bootstrap.servers", c.bootstrap().as_str()),
        ("request.timeout.ms", "500"),
        ("delivery.timeout.ms", "2000"),
        ("linger.ms", "5"),
    ])
    .expect("config");
    let p = Producer::new(config).expect("producer");
    let mut sent = Vec::new();
    let mut futs = Vec::new();
    for i in 0..400u64 {
        for t in ["slow", "fast"] {
            let key = format!("{t}-{}", i % 10);
            let v = value(7, &key, i / 10, 50);
            futs.push(
                p.send(ProducerRecord::new(t, v.clone()).key(key.clone()))
                    .await
                    .expect("send"),
            );
            sent.push(Sent {
                topic: t.into(),
                key,
                seq: i / 10,
                value: v,
                outcome: Outcome::Unresolved,
            });
        }
    }
    let start = Instant::now();
    for (s, f) in sent.iter_mut().zip(futs) {
        s.outcome = match tokio::time::timeout(Duration::from_secs(4), f).await {
            Err(_) => Outcome::Unresolved,
            Ok(Ok(m)) => Outcome::Persisted {
                partition: m.partition,
                offset: m.offset,
            },
            Ok(Err(e)) if e.persistence == Persistence::NotPersisted => Outcome::NotPersisted(e.to_string()),
            Ok(Err(e)) => Outcome::PossiblyPersisted(e.to_string()),
        };
    }
    assert!(start.elapsed() < Duration::from_secs(8));
    c.clear_hook();
    p.close(Duration::from_secs(3)).await;
    for t in ["slow", "fast"] {
        let mine: Vec<Sent> = sent.iter().filter(|s| s.topic == t).cloned().collect();
        let r = check(7, &mine, &c.records(t));
        assert!(r.ok(), "{t}: {}", r.summary());
        if t == "fast" {
            assert_eq!(r.persisted, mine.len(), "the other topic goes on: {}", r.summary());
        } else {
            assert!(r.persisted < mine.len(), "the slow topic timed out: {}", r.summary());
        }
    }
}

/// A topic that never exists (auto-create off) fails within max.block.ms naming the topic;
/// a topic deleted mid-stream fails its records honestly; recreated, it works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s21_unknown_deleted_recreated_topic() {
    let c = FakeCluster::start(1).await;
    let config = ProducerConfig::from_properties([
        ("bootstrap.servers", c.bootstrap().as_str()),
        ("allow.auto.create.topics", "false"),
        ("max.block.ms", "1000"),
        ("delivery.timeout.ms", "1500"),
        ("request.timeout.ms", "500"),
        ("linger.ms", "0"),
    ])
    .expect("config");
    let p = Producer::new(config).expect("producer");
    let start = Instant::now();
    let e = p
        .send(ProducerRecord::new("never", "x"))
        .await
        .expect_err("unknown topic");
    assert!(start.elapsed() < Duration::from_millis(1800));
    assert_eq!(
        e.to_string(),
        "topic 'never' not present in metadata after 1000 ms: the broker answered UNKNOWN_TOPIC_OR_PARTITION (3)"
    );
    c.create_topic("t21", 1);
    p.send(ProducerRecord::new("t21", "a"))
        .await
        .expect("send")
        .await
        .expect("delivered");
    c.delete_topic("t21");
    let lost = p
        .send(ProducerRecord::new("t21", "b"))
        .await
        .expect("queued on the known layout")
        .await
        .expect_err("deleted");
    assert_eq!(lost.persistence, Persistence::NotPersisted, "{lost}");
    c.create_topic("t21", 1);
    let mut ok = false;
    for _ in 0..20 {
        if let Ok(f) = p.send(ProducerRecord::new("t21", "c")).await {
            if f.await.is_ok() {
                ok = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "recreated topic works again");
    p.close(Duration::from_secs(2)).await;
}

/// Producing flat out during an outage: `send` waits at most max.block.ms for buffer room,
/// then fails with a typed error; after the outage production resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s25_memory_pressure_during_an_outage() {
    let c = FakeCluster::start(1).await;
    c.create_topic("s25", 2);
    let config = ProducerConfig::from_properties([
        ("bootstrap.servers", c.bootstrap().as_str()),
        ("buffer.memory", "262144"),
        ("max.block.ms", "300"),
        ("request.timeout.ms", "5000"),
        ("delivery.timeout.ms", "30000"),
    ])
    .expect("config");
    let p = Producer::new(config).expect("producer");
    p.send(ProducerRecord::new("s25", "warm"))
        .await
        .expect("send")
        .await
        .expect("delivered");
    c.set_black_hole(true);
    let mut longest = Duration::ZERO;
    let mut full = 0;
    let mut futs = Vec::new();
    for _ in 0..5000 {
        let t0 = Instant::now();
        match p
            .send(ProducerRecord::new("s25", vec![b'x'; 200]))
            .await
            .map_err(volley::Error::from)
        {
            Ok(f) => futs.push(f),
            Err(volley::Error::BufferFull { .. }) => {
                full += 1;
                if full == 3 {
                    longest = longest.max(t0.elapsed());
                    break;
                }
            }
            Err(e) => panic!("unexpected {e}"),
        }
        longest = longest.max(t0.elapsed());
    }
    assert_eq!(full, 3, "sends fail once buffer.memory is full");
    assert!(
        longest < Duration::from_millis(600),
        "send waited {longest:?} (max.block.ms 300)"
    );
    c.set_black_hole(false);
    for f in futs {
        f.await.expect("queued records are delivered after the outage");
    }
    p.send(ProducerRecord::new("s25", "after"))
        .await
        .expect("room again")
        .await
        .expect("delivered");
    p.close(Duration::from_secs(2)).await;
}

/// close(t) during an outage returns within its bound and resolves every record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s26_close_during_an_outage() {
    let c = FakeCluster::start(1).await;
    c.create_topic("s26", 2);
    let p = Producer::new(ProducerConfig::from_properties([("bootstrap.servers", c.bootstrap())]).expect("config"))
        .expect("producer");
    p.send(ProducerRecord::new("s26", "warm"))
        .await
        .expect("send")
        .await
        .expect("delivered");
    c.set_black_hole(true);
    let mut futs = Vec::new();
    for i in 0..2000 {
        futs.push(p.send(ProducerRecord::new("s26", format!("r{i}"))).await.expect("send"));
    }
    let start = Instant::now();
    p.close(Duration::from_secs(2)).await;
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "close(2 s) took {took:?}");
    let (mut not, mut maybe) = (0, 0);
    for f in futs {
        match tokio::time::timeout(Duration::from_millis(100), f)
            .await
            .expect("resolved by close")
        {
            Ok(_) => {}
            Err(e) if e.persistence == Persistence::NotPersisted => not += 1,
            Err(_) => maybe += 1,
        }
    }
    assert_eq!(
        not + maybe,
        2000,
        "every record failed honestly: {not} not persisted, {maybe} possibly"
    );
    c.set_black_hole(false);
}
