//! `volley-compare`: runs one competing client through the same workload as `volley perf`
//! and prints the same JSON object, so `bench/run` can put them side by side.
//!
//! Clients: `librdkafka` (the `rdkafka` crate, bundled librdkafka), `confluent` (Confluent's
//! Rust client, the `confluent-kafka` crate), `krafka` and `rskafka`; `mock-cluster` hosts
//! librdkafka's mock cluster instead. kafka-python is driven by `bench/kafka_python_perf.py`.
//! Each run is its own process, so CPU time and peak RSS are the client's alone. Properties
//! come as `-X key=value` with the Java names; each driver maps them onto its client, and a
//! client that cannot honour one exits with status 3 and the reason on standard error.

mod confluent;
mod krafka_client;
mod librdkafka;
mod rskafka_client;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt;
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The command line, the same flags as `volley perf`.
#[derive(Debug, Parser)]
pub struct Args {
    /// Client to drive: librdkafka, confluent, krafka, rskafka, or `mock-cluster`.
    #[arg(long)]
    client: String,
    #[arg(long)]
    bootstrap_servers: String,
    #[arg(long)]
    topic: String,
    #[arg(long)]
    num_records: u64,
    #[arg(long, default_value_t = 0)]
    record_size: usize,
    /// Values: record i takes line i mod N of this file (as `volley perf --payload-file`).
    #[arg(long)]
    payload_file: Option<std::path::PathBuf>,
    #[arg(long, default_value_t = 0)]
    keys: u64,
    /// Records per second cap; -1 for none.
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    throughput: i64,
    /// Client properties, key=value (Java names).
    #[arg(short = 'X')]
    properties: Vec<String>,
}

/// The workload every driver runs: payload bytes, keys and pacing, as `volley perf` makes them.
pub struct Workload {
    /// Bootstrap servers.
    pub bootstrap: String,
    /// Topic (as given: several, comma-separated, for the librdkafka driver).
    pub topic: String,
    /// The topics `topic` names.
    pub topics: Vec<String>,
    /// Records to send.
    pub records: u64,
    /// Random uppercase letters from seed 0 (one value for every record), or the lines of
    /// `--payload-file`, record i taking line i mod N.
    pub payloads: Vec<Vec<u8>>,
    /// `key-0` … `key-(N-1)`, empty for no keys.
    pub keys: Vec<String>,
    /// Records per second cap, or none.
    pub throughput: Option<f64>,
    /// The `-X` properties.
    pub props: BTreeMap<String, String>,
}

impl Workload {
    fn from_args(a: &Args) -> Self {
        let mut rng = StdRng::seed_from_u64(0);
        let mut props = BTreeMap::new();
        for x in &a.properties {
            match x.split_once('=') {
                Some((k, v)) => props.insert(k.to_string(), v.to_string()),
                None => cannot(&format!("property {x} is not key=value")),
            };
        }
        Workload {
            bootstrap: a.bootstrap_servers.clone(),
            topic: a.topic.clone(),
            topics: a.topic.split(',').map(str::to_owned).collect(),
            records: a.num_records,
            payloads: match &a.payload_file {
                Some(f) => {
                    let text = std::fs::read(f).unwrap_or_else(|e| cannot(&format!("{}: {e}", f.display())));
                    let lines: Vec<Vec<u8>> = text
                        .split(|b| *b == b'\n')
                        .filter(|l| !l.is_empty())
                        .map(<[u8]>::to_vec)
                        .collect();
                    if lines.is_empty() {
                        cannot("the payload file has no lines");
                    }
                    lines
                }
                None => vec![(0..a.record_size).map(|_| b'A' + rng.gen_range(0..26u8)).collect()],
            },
            keys: (0..a.keys).map(|i| format!("key-{i}")).collect(),
            throughput: (a.throughput > 0).then_some(a.throughput as f64),
            props,
        }
    }

    /// The topic of record `i`: `--topic` may name several, comma-separated (i mod T).
    pub fn topic(&self, i: u64) -> &str {
        &self.topics[(i % self.topics.len() as u64) as usize]
    }

    /// The value of record `i`.
    pub fn payload(&self, i: u64) -> &[u8] {
        &self.payloads[(i % self.payloads.len() as u64) as usize]
    }

    /// Mean value size in bytes.
    pub fn mean_size(&self) -> f64 {
        self.payloads.iter().map(Vec::len).sum::<usize>() as f64 / self.payloads.len() as f64
    }

    /// The key of record `i`, if the workload has keys.
    pub fn key(&self, i: u64) -> Option<&str> {
        if self.keys.is_empty() {
            None
        } else {
            Some(self.keys[(i % self.keys.len() as u64) as usize].as_str())
        }
    }

    /// A property, or `default`.
    pub fn prop(&self, key: &str, default: &str) -> String {
        self.props.get(key).cloned().unwrap_or_else(|| default.to_string())
    }

    /// When record `i` is due under the throughput cap.
    pub fn due(&self, start: Instant, i: u64) -> Option<Instant> {
        self.throughput.map(|r| start + Duration::from_secs_f64(i as f64 / r))
    }
}

/// Delivery outcomes and latencies, shared with the clients' callbacks and tasks.
pub struct Recorder {
    hist: Mutex<Histogram<u64>>,
    acked: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Recorder {
    fn new() -> Self {
        Recorder {
            hist: Mutex::new(Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("histogram")),
            acked: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            first_error: Mutex::new(None),
        }
    }

    /// One record's outcome; `sent_at` is when it was handed to the client.
    pub fn done(&self, sent_at: Instant, error: Option<String>) {
        match error {
            None => {
                self.acked.fetch_add(1, Ordering::Relaxed);
                let us = u64::try_from(sent_at.elapsed().as_micros()).unwrap_or(u64::MAX).max(1);
                let _ = self.hist.lock().expect("histogram").record(us);
            }
            Some(e) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                self.first_error.lock().expect("error").get_or_insert(e);
            }
        }
    }
}

/// A delivery still to be awaited, with the time its record was handed over.
pub type Pending = (Instant, Pin<Box<dyn Future<Output = Option<String>> + Send>>);

/// Awaits deliveries concurrently (as they complete, not in send order) and records each
/// as it completes; for clients whose outcome is a future rather than a callback.
pub fn collector(
    recorder: Arc<Recorder>,
) -> (tokio::sync::mpsc::UnboundedSender<Pending>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Pending>();
    let task = tokio::spawn(async move {
        let mut waiting = futures::stream::FuturesUnordered::new();
        let mut open = true;
        loop {
            tokio::select! {
                got = rx.recv(), if open => match got {
                    Some((at, f)) => waiting.push(async move { (at, f.await) }),
                    None => open = false,
                },
                Some((at, err)) = waiting.next(), if !waiting.is_empty() => recorder.done(at, err),
                else => break,
            }
        }
    });
    (tx, task)
}

/// Ends the run because the client cannot run this workload.
pub fn cannot(reason: &str) -> ! {
    eprintln!("cannot: {reason}");
    std::process::exit(3)
}

/// A client that has not finished a single delivery after 30 s is stuck (some cannot talk to
/// some brokers and retry forever): end the run with "cannot" instead of hanging the bench.
fn watchdog(recorder: Arc<Recorder>) {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(30));
        if recorder.acked.load(Ordering::Relaxed) == 0 && recorder.failed.load(Ordering::Relaxed) == 0 {
            cannot("no delivery outcome within 30 s (run with RUST_LOG=info to see why)");
        }
    });
}

fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |k| k * 1024)
}

fn main() {
    env_logger::init();
    let a = Args::parse();
    if a.client == "mock-cluster" {
        return librdkafka::mock_cluster();
    }
    let w = Workload::from_args(&a);
    let recorder = Arc::new(Recorder::new());
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    watchdog(Arc::clone(&recorder));
    match a.client.as_str() {
        "librdkafka" => librdkafka::run(&w, &recorder, start),
        "confluent" => confluent::run(&w, &recorder, start),
        "krafka" => krafka_client::run(&w, &recorder, start),
        "rskafka" => rskafka_client::run(&w, &recorder, start),
        other => cannot(&format!("unknown client {other}")),
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let acked = recorder.acked.load(Ordering::Relaxed);
    let failed = recorder.failed.load(Ordering::Relaxed);
    if let Some(e) = recorder.first_error.lock().expect("error").as_ref() {
        eprintln!("first delivery error: {e}");
    }
    let h = recorder.hist.lock().expect("histogram");
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "{{\"records\":{acked},\"failed\":{failed},\"seconds\":{elapsed:.3},\"records_per_sec\":{:.1},\"mb_per_sec\":{:.3},\"latency_ms\":{{\"avg\":{:.3},\"p50\":{:.3},\"p95\":{:.3},\"p99\":{:.3},\"p999\":{:.3},\"max\":{:.3}}},\"peak_rss_bytes\":{},\"cpu_seconds\":{cpu:.3},\"cpu_seconds_per_million\":{:.3}}}",
        acked as f64 / elapsed,
        acked as f64 * w.mean_size() / elapsed / (1024.0 * 1024.0),
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
