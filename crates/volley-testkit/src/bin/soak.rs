//! `volley-soak`: the chaos soak of RELIABILITY.md, against the fake cluster, a tansu
//! broker behind the fault proxy, or an Apache Kafka cluster (three brokers and a
//! controller) whose brokers are killed, shut down and frozen in turn; checked by the
//! oracle against librdkafka's read of the log. Prints the invariant table.
//!
//! ```text
//! volley-soak --target fake --seconds 1800
//! volley-soak --target tansu --seconds 600 --tansu .volley/bin/tansu --python .volley/venv/bin/python
//! volley-soak --target tansu --seconds 120 --drop-answers 0.05 --no-chaos
//! volley-soak --target fake --seconds 90 --black-hole-at 10 --black-hole-for 60
//! volley-soak --target kafka --seconds 600 --fault-every 20 --down-for 5
//! ```

use std::collections::VecDeque;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use volley::{DeliveryFuture, Error, Producer, ProducerConfig, ProducerRecord};
use volley_protocol::ErrorCode;
use volley_testkit::drive::outcome;
use volley_testkit::fake::{Action, FakeCluster};
use volley_testkit::kafka::KafkaCluster;
use volley_testkit::kafka_chaos::BrokerChaos;
use volley_testkit::oracle::{check, value, Outcome, Sent};
use volley_testkit::proxy::{FaultProxy, Faults};
use volley_testkit::tansu::{free_addr, Tansu, Tools};

#[derive(Debug, Parser)]
#[command(about = "Chaos soak for the Volley producer, checked by the oracle")]
struct Args {
    /// `fake` (in-process fake cluster), `tansu` (a tansu broker behind the fault proxy) or
    /// `kafka` (Apache Kafka: three brokers and a controller, replication factor 3,
    /// `min.insync.replicas=2`; chaos means broker faults, see `--fault-every`).
    #[arg(long, default_value = "fake")]
    target: String,
    /// How long to produce.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Seed for keys, payloads and faults.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Fraction of Produce answers dropped after the broker appended.
    #[arg(long, default_value_t = 0.0)]
    drop_answers: f64,
    /// Fraction of Produce requests answered with a random retriable error (fake only).
    #[arg(long, default_value_t = 0.05)]
    error_rate: f64,
    /// Do not kill connections every 0.5-1.5 s (with `--target kafka`: no broker faults).
    #[arg(long)]
    no_chaos: bool,
    /// With `--target kafka`: seconds between broker faults (a random broker SIGKILLed,
    /// SIGTERMed or SIGSTOPped, then brought back).
    #[arg(long, default_value_t = 20)]
    fault_every: u64,
    /// With `--target kafka`: seconds a faulted broker stays down or frozen (longer than the
    /// soak's 3 s request timeout and the brokers' 3 s session).
    #[arg(long, default_value_t = 5)]
    down_for: u64,
    /// With `--target tansu`: only run tansu behind the proxy for `--seconds` (printing the
    /// proxy's address first) and apply the black-hole schedule, so that a producer in its
    /// own process (e.g. `volley produce`) can be measured against it.
    #[arg(long)]
    proxy_only: bool,
    /// Start a black-hole (nothing forwarded) this many seconds in.
    #[arg(long)]
    black_hole_at: Option<u64>,
    /// How long the black-hole lasts.
    #[arg(long, default_value_t = 60)]
    black_hole_for: u64,
    /// Records per second cap (0: flat out).
    #[arg(long, default_value_t = 20_000)]
    rate: u64,
    /// The tansu binary.
    #[arg(long, default_value = ".volley/bin/tansu")]
    tansu: PathBuf,
    /// Python with confluent-kafka, for the independent read-back.
    #[arg(long, default_value = ".volley/venv/bin/python")]
    python: PathBuf,
    /// The reader script.
    #[arg(long, default_value = "scripts/reader.py")]
    reader: PathBuf,
    /// Extra producer properties, key=value.
    #[arg(short = 'X')]
    props: Vec<String>,
}

/// Partitions of the soak's topic.
const PARTITIONS: u32 = 12;

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn peak_rss_kib() -> u64 {
    status_kib("VmHWM:")
}

fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let topic = format!("soak-{}", args.seed);
    let chaos = (!args.no_chaos).then_some((500, 1500));
    let mut tansu_child = None;
    let tools = Tools {
        tansu: args.tansu.clone(),
        python: args.python.clone(),
        reader: args.reader.clone(),
    };
    let mut fake = None;
    let mut kafka: Option<(Arc<KafkaCluster>, Option<BrokerChaos>)> = None;
    let (proxy, bootstrap) = if args.target == "kafka" {
        let c = Arc::new(KafkaCluster::cluster(3, &[]).unwrap_or_else(|e| panic!("{e}")));
        c.create_topic(&topic, PARTITIONS, None, &[])
            .unwrap_or_else(|e| panic!("{e}"));
        c.wait_fully_replicated(&topic, PARTITIONS, 3, Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("{e}"));
        let chaos = (!args.no_chaos).then(|| {
            BrokerChaos::start(
                Arc::clone(&c),
                Duration::from_secs(args.fault_every),
                Duration::from_secs(args.down_for),
                args.seed,
            )
        });
        let b = c.bootstrap().to_owned();
        kafka = Some((c, chaos));
        (None, b)
    } else if args.target == "fake" {
        let c = FakeCluster::start(3).await;
        c.create_topic(&topic, PARTITIONS);
        c.connection_lifetime(chaos);
        let mut rng = StdRng::seed_from_u64(args.seed ^ 0xfa11);
        let rate = args.error_rate;
        let drop = args.drop_answers;
        let codes = [
            ErrorCode::NOT_LEADER_OR_FOLLOWER,
            ErrorCode::NOT_ENOUGH_REPLICAS,
            ErrorCode::REQUEST_TIMED_OUT,
            ErrorCode::KAFKA_STORAGE_ERROR,
            ErrorCode::NETWORK_EXCEPTION,
        ];
        c.set_hook(move |r| {
            if r.api_key != 0 {
                return Action::Respond;
            }
            let x: f64 = rng.gen();
            if x < drop {
                Action::AppendThenDrop
            } else if x < drop + rate {
                let code = codes[rng.gen_range(0..codes.len())];
                if code == ErrorCode::REQUEST_TIMED_OUT {
                    Action::AppendThenError(code)
                } else {
                    Action::Error(code)
                }
            } else {
                Action::Respond
            }
        });
        let b = c.bootstrap();
        fake = Some(c);
        (None, b)
    } else {
        let (listener, proxy_addr) = FaultProxy::bind().await.expect("bind the proxy");
        let broker = Tansu::start(&tools.tansu, &free_addr(), &proxy_addr.to_string());
        let upstream: std::net::SocketAddr = broker.listen.parse().expect("addr");
        tansu_child = Some(broker);
        let proxy = FaultProxy::start(listener, upstream, args.seed);
        tools.create_topic(&proxy_addr.to_string(), &topic, PARTITIONS);
        proxy.set(Faults {
            chaos_ms: chaos,
            drop_produce_answers: args.drop_answers,
            ..Faults::default()
        });
        (Some(proxy), proxy_addr.to_string())
    };

    if args.proxy_only {
        let p = proxy.as_ref().expect("--proxy-only needs --target tansu");
        println!("{bootstrap} {topic}");
        let start = Instant::now();
        let mut on = false;
        while start.elapsed() < Duration::from_secs(args.seconds) {
            if let Some(at) = args.black_hole_at {
                let t = start.elapsed().as_secs();
                let want = t >= at && t < at + args.black_hole_for;
                if want != on {
                    on = want;
                    p.set(Faults {
                        black_hole: on,
                        ..Faults::default()
                    });
                    eprintln!("proxy: black-hole {} at {t} s", if on { "on" } else { "off" });
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let n = tools.read_back(&bootstrap, &topic, 0).len();
        println!("records in the log: {n}");
        return;
    }
    let mut props: Vec<(String, String)> = vec![
        ("bootstrap.servers".into(), bootstrap.clone()),
        ("linger.ms".into(), "5".into()),
        ("request.timeout.ms".into(), "3000".into()),
        ("delivery.timeout.ms".into(), "20000".into()),
        ("retry.backoff.ms".into(), "20".into()),
        ("reconnect.backoff.ms".into(), "20".into()),
        ("max.block.ms".into(), "5000".into()),
    ];
    if kafka.is_some() {
        // A killed leader is fenced after the brokers' 3 s session and its partitions move;
        // a restarted broker takes a while to rejoin the ISR: records may wait longer.
        props.push(("delivery.timeout.ms".into(), "40000".into()));
        props.push(("metadata.max.age.ms".into(), "5000".into()));
    }
    for x in &args.props {
        if let Some((k, v)) = x.split_once('=') {
            props.push((k.into(), v.into()));
        }
    }
    let config = ProducerConfig::from_properties(props).expect("config");
    let buffer_memory = config.buffer_memory;
    let bound = config.delivery_timeout + config.request_timeout + Duration::from_secs(1);
    let producer = Producer::new(config).expect("producer");
    let mut rng = StdRng::seed_from_u64(args.seed);
    let keys = 200usize;
    let mut per_key = vec![0u64; keys];
    let mut sent: Vec<Sent> = Vec::new();
    let mut pending: VecDeque<(usize, DeliveryFuture)> = VecDeque::new();
    let start = Instant::now();
    let mut last_report = Instant::now();
    let mut max_send_wait = Duration::ZERO;
    let mut send_errors: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    let mut black_hole_done = false;
    let mut rss_at_outage: Option<u64> = None;
    let mut rss_peak_in_outage = 0u64;
    let mut after_outage_persisted = 0u64;
    let mut i: u64 = 0;
    while start.elapsed() < Duration::from_secs(args.seconds) {
        if let (Some(at), Some(p)) = (args.black_hole_at, &proxy) {
            let t = start.elapsed().as_secs();
            let on = t >= at && t < at + args.black_hole_for;
            if on != p_black(p) {
                p.set(Faults {
                    black_hole: on,
                    chaos_ms: if on { None } else { chaos },
                    drop_produce_answers: args.drop_answers,
                    ..Faults::default()
                });
                eprintln!("soak: black-hole {} at {t} s", if on { "on" } else { "off" });
                black_hole_done |= !on;
            }
        }
        if let (Some(at), Some(c)) = (args.black_hole_at, &fake) {
            let t = start.elapsed().as_secs();
            let on = t >= at && t < at + args.black_hole_for;
            c.set_black_hole(on);
            black_hole_done |= t >= at + args.black_hole_for;
        }
        if let Some(at) = args.black_hole_at {
            let t = start.elapsed().as_secs();
            if t >= at && t < at + args.black_hole_for {
                let now_rss = rss_kib();
                rss_at_outage.get_or_insert(now_rss);
                rss_peak_in_outage = rss_peak_in_outage.max(now_rss);
            }
        }
        if args.rate > 0 {
            let due = Duration::from_secs_f64(i as f64 / args.rate as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        i += 1;
        let k = rng.gen_range(0..keys);
        let key = format!("k{k}");
        let seq = per_key[k];
        per_key[k] += 1;
        let v = value(args.seed, &key, seq, rng.gen_range(0..300));
        let t0 = Instant::now();
        let res = producer
            .send(ProducerRecord::new(topic.clone(), v.clone()).key(key.clone()))
            .await;
        max_send_wait = max_send_wait.max(t0.elapsed());
        let idx = sent.len();
        match res {
            Ok(f) => {
                sent.push(Sent {
                    topic: topic.clone(),
                    key,
                    seq,
                    value: v,
                    outcome: Outcome::Unresolved,
                });
                pending.push_back((idx, f));
            }
            Err(e) => {
                let kind = match &e.error {
                    Error::BufferFull { .. } => "buffer full after max.block.ms".to_owned(),
                    other => other.to_string(),
                };
                *send_errors.entry(kind).or_default() += 1;
                sent.push(Sent {
                    topic: topic.clone(),
                    key,
                    seq,
                    value: v,
                    outcome: Outcome::NotPersisted(e.to_string()),
                });
            }
        }
        // Collect finished outcomes without waiting (and wait if too many are open).
        while let Some((idx, f)) = pending.front_mut() {
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            match std::pin::Pin::new(f).poll(&mut cx) {
                std::task::Poll::Ready(r) => {
                    let o = outcome(r);
                    if black_hole_done && matches!(o, Outcome::Persisted { .. }) {
                        after_outage_persisted += 1;
                    }
                    sent[*idx].outcome = o;
                    pending.pop_front();
                }
                std::task::Poll::Pending if pending.len() > 500_000 => {
                    if let Some((idx, f)) = pending.pop_front() {
                        sent[idx].outcome = outcome(f.await);
                    }
                }
                std::task::Poll::Pending => break,
            }
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            last_report = Instant::now();
            eprintln!(
                "soak: {:>5.0} s, {} records sent, {} outstanding, peak RSS {} MiB",
                start.elapsed().as_secs_f64(),
                sent.len(),
                pending.len(),
                peak_rss_kib() / 1024
            );
        }
    }
    eprintln!(
        "soak: producing done after {} records; waiting for outcomes",
        sent.len()
    );
    let chaos_summary = kafka.as_mut().and_then(|(_, chaos)| {
        let ch = chaos.as_mut()?;
        ch.stop();
        Some(ch.counts().summary())
    });
    for (idx, f) in pending {
        sent[idx].outcome = match tokio::time::timeout(bound, f).await {
            Ok(r) => outcome(r),
            Err(_) => Outcome::Unresolved,
        };
    }
    if let Some(p) = &proxy {
        p.set(Faults::default());
    }
    if let Some(c) = &fake {
        c.connection_lifetime(None);
        c.clear_hook();
    }
    producer.close(Duration::from_secs(10)).await;
    let rss = peak_rss_kib();
    let log = match (&fake, &kafka) {
        (Some(c), _) => c.records(&topic),
        // The stamps come from one broker; Kafka's partitions have three leaders, so its
        // log is read without them and every order fault counts against the producer.
        (None, Some(_)) => tools.read_back(&bootstrap, &topic, sent.len()),
        (None, None) => tools.read_back_stamped(&bootstrap, &topic, sent.len(), PARTITIONS),
    };
    let report = check(args.seed, &sent, &log);
    let count = |p: &str| report.violations.iter().filter(|v| v.starts_with(p)).count();
    if kafka.is_some() {
        println!(
            "target: kafka  seconds: {}  seed: {}  broker faults: {}",
            args.seconds,
            args.seed,
            if args.no_chaos {
                "none".to_owned()
            } else {
                format!("one every {} s, {} s down", args.fault_every, args.down_for)
            }
        );
    } else {
        println!(
            "target: {}  seconds: {}  seed: {}  chaos: {}  error rate: {}  dropped-answer rate: {}",
            args.target,
            args.seconds,
            args.seed,
            chaos.is_some(),
            args.error_rate,
            args.drop_answers
        );
    }
    println!(
        "records sent: {}  persisted: {}  not persisted: {}  possibly persisted: {} (in log: {})  log records: {}",
        report.sent,
        report.persisted,
        report.not_persisted,
        report.possibly_persisted,
        report.possibly_persisted_found,
        log.len()
    );
    if let Some(s) = &chaos_summary {
        println!("broker faults: {s}");
    }
    if let Some(p) = &proxy {
        let s = p.stats();
        println!(
            "proxy: connections {}  killed {}  answers dropped after append {}",
            s.connections, s.killed, s.dropped_answers
        );
    }
    println!(
        "send errors: {send_errors:?}  longest send wait: {} ms  peak RSS: {} MiB (buffer.memory {} MiB)",
        max_send_wait.as_millis(),
        rss / 1024,
        buffer_memory >> 20
    );
    if args.black_hole_at.is_some() {
        let at = rss_at_outage.unwrap_or(0);
        println!(
            "black-hole {} s: RSS at its start {} MiB, highest during it {} MiB (growth {} MiB); records persisted after it: {after_outage_persisted}",
            args.black_hole_for,
            at / 1024,
            rss_peak_in_outage / 1024,
            rss_peak_in_outage.saturating_sub(at) / 1024
        );
    }
    println!("| invariant | violations |");
    println!("|---|---|");
    for (id, name) in [
        ("I1", "no loss"),
        ("I2", "no duplicates"),
        ("I3", "per-key order"),
        ("I4", "honest failures"),
        ("I5", "liveness"),
        ("I7", "integrity"),
    ] {
        println!("| {id} {name} | {} |", count(id));
    }
    for v in report.violations.iter().take(20) {
        println!("  {v}");
    }
    // tansu's own ordering fault (RELIABILITY.md, scenario 8) is reported, not counted
    // against the producer; against the fake broker it counts.
    println!(
        "broker appended out of sequence order: {} keys",
        report.broker_faults.len()
    );
    for f in report.broker_faults.iter().take(5) {
        println!("  {f}");
    }
    let clean = if fake.is_some() || kafka.is_some() {
        report.ok()
    } else {
        report.ok_for_producer()
    };
    drop(tansu_child);
    drop(kafka);
    std::process::exit(i32::from(!clean));
}

fn p_black(p: &FaultProxy) -> bool {
    p.faults().black_hole
}
