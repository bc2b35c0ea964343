//! `volley-compare`: runs one competing client through the same workload as `volley perf`
//! and prints the same JSON object, so `bench/run` can put them side by side.
//!
//! Clients here: `librdkafka` (the `rdkafka` crate, bundled librdkafka). kafka-python is
//! driven by `bench/kafka_python_perf.py`. Each run is its own process, so CPU time and
//! peak RSS are the client's alone.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rdkafka::config::ClientConfig;
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;

#[derive(Debug, Parser)]
struct Args {
    /// Client to drive: librdkafka, or `mock-cluster` to host librdkafka's mock cluster.
    #[arg(long)]
    client: String,
    #[arg(long)]
    bootstrap_servers: String,
    #[arg(long)]
    topic: String,
    #[arg(long)]
    num_records: u64,
    #[arg(long)]
    record_size: usize,
    #[arg(long, default_value_t = 0)]
    keys: u64,
    /// Records per second cap; -1 for none.
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    throughput: i64,
    /// Client properties, key=value (librdkafka names).
    #[arg(short = 'X')]
    properties: Vec<String>,
}

struct Ctx {
    hist: Mutex<Histogram<u64>>,
    acked: std::sync::atomic::AtomicU64,
    failed: std::sync::atomic::AtomicU64,
}

impl ClientContext for Ctx {}

impl ProducerContext for Ctx {
    type DeliveryOpaque = Box<Instant>;
    fn delivery(&self, r: &DeliveryResult<'_>, sent_at: Box<Instant>) {
        match r {
            Ok(_) => {
                self.acked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let us = u64::try_from(sent_at.elapsed().as_micros()).unwrap_or(u64::MAX).max(1);
                let _ = self.hist.lock().expect("histogram").record(us);
            }
            Err(_) => {
                self.failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
}

fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return 0.0 };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()))
        .map_or(0, |k| k * 1024)
}

/// Hosts librdkafka's mock cluster (3 brokers, topic `bench` with 6 partitions): prints
/// the bootstrap address, then obeys one command per line on standard input until it closes,
/// answering `ok` or `error: ...` to each:
///
/// ```text
/// topic NAME PARTITIONS        create a topic
/// leader TOPIC PARTITION ID    move a partition's leader
/// down ID | up ID              take a broker down or up
/// errors CODE...               the next Produce requests fail with these Kafka error codes
/// ```
fn mock_cluster() {
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    use std::io::BufRead;
    let mock = rdkafka::mocking::MockCluster::new(3).expect("mock cluster");
    mock.create_topic("bench", 6, 1).expect("create topic");
    println!("{}", mock.bootstrap_servers());
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let code = |n: &str| -> Option<RDKafkaRespErr> {
        Some(match n {
            "5" => RDKafkaRespErr::RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
            "6" => RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            "19" => RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
            "56" => RDKafkaRespErr::RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR,
            _ => return None,
        })
    };
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let w: Vec<&str> = line.split_whitespace().collect();
        let res: Result<(), String> = match w.as_slice() {
            ["topic", name, n] => mock.create_topic(name, n.parse().unwrap_or(1), 1).map_err(|e| e.to_string()),
            ["leader", t, p, b] => mock.partition_leader(t, p.parse().unwrap_or(0), b.parse().ok()).map_err(|e| e.to_string()),
            ["down", b] => mock.broker_down(b.parse().unwrap_or(1)).map_err(|e| e.to_string()),
            ["up", b] => mock.broker_up(b.parse().unwrap_or(1)).map_err(|e| e.to_string()),
            ["errors", codes @ ..] => match codes.iter().map(|c| code(c)).collect::<Option<Vec<_>>>() {
                Some(errs) => {
                    mock.request_errors(RDKafkaApiKey::Produce, &errs);
                    Ok(())
                }
                None => Err("unsupported error code".into()),
            },
            _ => Err(format!("unknown command {line}")),
        };
        match res {
            Ok(()) => println!("ok"),
            Err(e) => println!("error: {e}"),
        }
        let _ = std::io::Write::flush(&mut std::io::stdout());
    }
}

fn main() {
    let a = Args::parse();
    if a.client == "mock-cluster" {
        return mock_cluster();
    }
    assert_eq!(a.client, "librdkafka", "only librdkafka is driven by this binary");
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &a.bootstrap_servers);
    cfg.set("partitioner", "murmur2_random");
    cfg.set("queue.buffering.max.messages", "1000000");
    cfg.set("queue.buffering.max.kbytes", "32768");
    for x in &a.properties {
        let (k, v) = x.split_once('=').expect("key=value");
        cfg.set(k, v);
    }
    let ctx = Arc::new(Ctx {
        hist: Mutex::new(Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("histogram")),
        acked: 0.into(),
        failed: 0.into(),
    });
    let producer: ThreadedProducer<ArcCtx> = cfg.create_with_context(ArcCtx(Arc::clone(&ctx))).expect("producer");
    let mut rng = StdRng::seed_from_u64(0);
    let payload: Vec<u8> = (0..a.record_size).map(|_| b'A' + rng.gen_range(0..26u8)).collect();
    let keys: Vec<String> = (0..a.keys).map(|i| format!("key-{i}")).collect();
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let mut bytes = 0u64;
    for i in 0..a.num_records {
        if a.throughput > 0 {
            let due = start + Duration::from_secs_f64(i as f64 / a.throughput as f64);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        let mut opaque = Box::new(Instant::now());
        loop {
            let mut rec = BaseRecord::with_opaque_to(&a.topic, opaque).payload(&payload[..]);
            if !keys.is_empty() {
                rec = rec.key(keys[(i % keys.len() as u64) as usize].as_str());
            }
            match producer.send(rec) {
                Ok(()) => break,
                Err((_, back)) => {
                    // Queue full: wait for deliveries, as librdkafka's docs recommend.
                    opaque = back.delivery_opaque;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        bytes += a.record_size as u64;
    }
    producer.flush(Duration::from_secs(120)).expect("flush");
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let acked = ctx.acked.load(std::sync::atomic::Ordering::Relaxed);
    let failed = ctx.failed.load(std::sync::atomic::Ordering::Relaxed);
    let h = ctx.hist.lock().expect("histogram");
    let ms = |us: u64| us as f64 / 1000.0;
    let _ = bytes;
    println!(
        "{{\"records\":{acked},\"failed\":{failed},\"seconds\":{elapsed:.3},\"records_per_sec\":{:.1},\"mb_per_sec\":{:.3},\"latency_ms\":{{\"avg\":{:.3},\"p50\":{:.3},\"p95\":{:.3},\"p99\":{:.3},\"p999\":{:.3},\"max\":{:.3}}},\"peak_rss_bytes\":{},\"cpu_seconds\":{cpu:.3},\"cpu_seconds_per_million\":{:.3}}}",
        acked as f64 / elapsed,
        (acked * a.record_size as u64) as f64 / elapsed / (1024.0 * 1024.0),
        h.mean() / 1000.0,
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.95)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
        ms(h.max()),
        peak_rss_bytes(),
        if acked > 0 { cpu / acked as f64 * 1e6 } else { 0.0 }
    );
}

/// The context shared with the producer's threads.
struct ArcCtx(Arc<Ctx>);

impl ClientContext for ArcCtx {}

impl ProducerContext for ArcCtx {
    type DeliveryOpaque = Box<Instant>;
    fn delivery(&self, r: &DeliveryResult<'_>, sent_at: Box<Instant>) {
        self.0.delivery(r, sent_at);
    }
}
