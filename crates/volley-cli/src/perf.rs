//! `volley perf`: the counterpart of Kafka's `kafka-producer-perf-test`.
//!
//! Records are queued as fast as `--throughput` allows; outcomes are taken per partition
//! (a partition's records complete in send order) without waiting, and each record's
//! send-to-acknowledgement latency comes from the moment the producer handled the answer,
//! so it is exact without a task or channel message per record. CPU time and peak RSS come from the kernel's accounting of this
//! process (/proc/self/stat and /proc/self/status, the numbers getrusage reports).

use std::collections::VecDeque;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use volley::{DeliveryFuture, Producer, ProducerConfig, RecordRef};

/// Arguments of `volley perf`.
#[derive(Debug, clap::Args)]
pub(crate) struct PerfArgs {
    /// Brokers to bootstrap from: HOST:PORT[,HOST:PORT...].
    #[arg(long)]
    bootstrap_servers: String,
    /// Topic to produce to; several, comma-separated, take records in turn (record i goes
    /// to topic i mod T).
    #[arg(long)]
    topic: String,
    /// Records to send.
    #[arg(long)]
    num_records: u64,
    /// Value size in bytes (random uppercase letters from a fixed seed).
    #[arg(long, conflicts_with = "payload_file")]
    record_size: Option<usize>,
    /// Values: record i takes line i mod N of this file (distinct, realistic values).
    #[arg(long)]
    payload_file: Option<PathBuf>,
    /// Keys key-0..key-(N-1) in turn; 0 = no keys.
    #[arg(long, default_value_t = 0)]
    keys: u64,
    /// Records per second cap; -1 for none.
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    throughput: i64,
    /// One producer property, key=value (repeatable).
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    properties: Vec<String>,
    /// Print the final result as one JSON object.
    #[arg(long)]
    json: bool,
    /// Serve `/metrics` (Prometheus text format) on HOST:PORT while running.
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: Option<String>,
    /// Send in transactions with this transactional.id (as Kafka's perf tool); each commits
    /// after --transaction-duration-ms or --transaction-records, whichever comes first.
    #[arg(long, value_name = "ID")]
    transactional_id: Option<String>,
    /// The longest a transaction stays open before it is committed (Kafka's perf tool's
    /// flag; 3000 when only --transactional-id is given, as there).
    #[arg(long, value_name = "MS")]
    transaction_duration_ms: Option<u64>,
    /// Records per transaction (Volley's: a transaction commits after this many records).
    #[arg(long, value_name = "N")]
    transaction_records: Option<u64>,
}

/// When a perf transaction commits: after `records` records or `duration`, whichever first.
#[derive(Debug, Clone, Copy)]
struct TxnPlan {
    records: Option<u64>,
    duration: Option<Duration>,
}

impl TxnPlan {
    /// The plan the flags ask for (`None`: no transactions); a transactional id with neither
    /// limit commits every 3 s, as Kafka's perf tool does.
    fn of(a: &PerfArgs) -> Result<Option<Self>, String> {
        if a.transactional_id.is_none() {
            if a.transaction_duration_ms.is_some() || a.transaction_records.is_some() {
                return Err("--transaction-duration-ms and --transaction-records need --transactional-id".into());
            }
            return Ok(None);
        }
        if a.transaction_records == Some(0) || a.transaction_duration_ms == Some(0) {
            return Err("--transaction-records and --transaction-duration-ms must be at least 1".into());
        }
        let duration = match (a.transaction_duration_ms, a.transaction_records) {
            (Some(ms), _) => Some(Duration::from_millis(ms)),
            (None, Some(_)) => None,
            (None, None) => Some(Duration::from_millis(3000)),
        };
        Ok(Some(Self {
            records: a.transaction_records,
            duration,
        }))
    }

    fn due(&self, records: u64, begun: Instant) -> bool {
        self.records.is_some_and(|n| records >= n) || self.duration.is_some_and(|d| begun.elapsed() >= d)
    }
}

/// CPU seconds (user + system) of this process so far.
pub(crate) fn cpu_seconds() -> f64 {
    // Fields 14 and 15 of /proc/self/stat, in clock ticks (100 per second on Linux).
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident set size of this process in bytes.
pub(crate) fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

#[derive(Default)]
struct Stats {
    acked: u64,
    failed: u64,
    /// Sends that found no room in buffer.memory within max.block.ms.
    send_timeouts: u64,
    bytes: u64,
    first_error: Option<String>,
}

/// Outstanding records, one queue per partition (a partition's records complete in send
/// order). Latency is the time from `send` to the moment the producer handled the answer
/// (`DeliveryFuture::completed_at`), so it is exact however late this tool looks.
/// Indexed by partition (a vector, not a map: no hashing per record).
#[derive(Default)]
struct Outstanding {
    queues: Vec<VecDeque<(Instant, usize, DeliveryFuture)>>,
}

impl Outstanding {
    fn push(&mut self, sent_at: Instant, size: usize, f: DeliveryFuture) {
        let p = usize::try_from(f.partition()).unwrap_or(0);
        if p >= self.queues.len() {
            self.queues.resize_with(p + 1, VecDeque::new);
        }
        self.queues[p].push_back((sent_at, size, f));
    }

    fn record(
        stats: &mut Stats,
        hist: &mut Histogram<u64>,
        sent_at: Instant,
        size: usize,
        f: &DeliveryFuture,
        r: Result<volley::RecordMetadata, volley::DeliveryError>,
    ) {
        match r {
            Ok(_) => {
                stats.acked += 1;
                stats.bytes += size as u64;
                let done = f.completed_at().unwrap_or_else(Instant::now);
                let us = u64::try_from(done.saturating_duration_since(sent_at).as_micros()).unwrap_or(u64::MAX);
                let _ = hist.record(us.max(1));
            }
            Err(e) => {
                stats.failed += 1;
                stats.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }

    /// Takes every record whose outcome is known, without waiting.
    fn harvest(&mut self, stats: &mut Stats, hist: &mut Histogram<u64>) {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        for q in &mut self.queues {
            while let Some((sent_at, size, f)) = q.front_mut() {
                if f.completed_at().is_none() {
                    break;
                }
                let Poll::Ready(r) = Pin::new(&mut *f).poll(&mut cx) else {
                    break;
                };
                let (sent_at, size) = (*sent_at, *size);
                Self::record(stats, hist, sent_at, size, f, r);
                q.pop_front();
            }
        }
    }

    /// Waits for every remaining record.
    async fn finish(self, stats: &mut Stats, hist: &mut Histogram<u64>) {
        for q in self.queues {
            for (sent_at, size, mut f) in q {
                let r = (&mut f).await;
                Self::record(stats, hist, sent_at, size, &f, r);
            }
        }
    }
}

fn payloads(a: &PerfArgs) -> Result<Vec<Bytes>, String> {
    if let Some(f) = &a.payload_file {
        let text = std::fs::read(f).map_err(|e| format!("cannot read --payload-file {}: {e}", f.display()))?;
        let lines: Vec<Bytes> = text
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(Bytes::copy_from_slice)
            .collect();
        if lines.is_empty() {
            return Err(format!("--payload-file {} has no lines", f.display()));
        }
        return Ok(lines);
    }
    let size = a
        .record_size
        .ok_or("either --record-size or --payload-file is required")?;
    let mut rng = StdRng::seed_from_u64(0);
    Ok(vec![Bytes::from(
        (0..size).map(|_| b'A' + rng.gen_range(0..26u8)).collect::<Vec<u8>>(),
    )])
}

pub(crate) async fn run(a: PerfArgs) -> ExitCode {
    let fail = |m: String| {
        eprintln!("error: {m}");
        ExitCode::from(2)
    };
    let payloads = match payloads(&a) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let mut props: Vec<(String, String)> = Vec::new();
    for x in &a.properties {
        let Some((k, v)) = x.split_once('=') else {
            return fail(format!("invalid -X '{x}': expected key=value"));
        };
        props.push((k.to_owned(), v.to_owned()));
    }
    props.push(("bootstrap.servers".into(), a.bootstrap_servers.clone()));
    let plan = match TxnPlan::of(&a) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    if let Some(id) = &a.transactional_id {
        props.push(("transactional.id".into(), id.clone()));
    }
    let config = match ProducerConfig::from_properties(props) {
        Ok(c) => c,
        Err(e) => return fail(e.to_string()),
    };
    crate::apply_debug_contexts(&config);
    let producer = match Producer::new(config) {
        Ok(p) => p,
        Err(e) => return fail(e.to_string()),
    };
    let _exporter = match &a.metrics_addr {
        Some(addr) => match volley::metrics::prometheus::serve(addr, producer.metrics_handle()).await {
            Ok(task) => Some(volley::metrics::prometheus::AbortOnDrop(task)),
            Err(e) => return fail(e),
        },
        None => None,
    };
    let keys: Vec<Bytes> = (0..a.keys).map(|i| Bytes::from(format!("key-{i}"))).collect();
    // Several topics, comma-separated: record i goes to topic i mod T (as every driver does).
    let topics: Vec<&str> = a.topic.split(',').filter(|t| !t.is_empty()).collect();
    if topics.is_empty() {
        return fail("--topic names no topic".into());
    }
    if plan.is_some() {
        if let Err(e) = producer.init_transactions().await {
            eprintln!("error: {e}");
            producer.close(Duration::ZERO).await;
            return ExitCode::from(1);
        }
    }
    // Records in the open transaction, when it began, and how many committed.
    let (mut in_txn, mut txn_begun, mut commits) = (0u64, Instant::now(), 0u64);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds");
    let mut stats = Stats::default();
    let mut outstanding = Outstanding::default();
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let mut last = start;
    let mut last_count = 0u64;
    for i in 0..a.num_records {
        if a.throughput > 0 {
            let due = start + Duration::from_secs_f64(i as f64 / a.throughput as f64);
            let now = Instant::now();
            if due > now {
                tokio::time::sleep(due - now).await;
            }
        }
        // Line i mod N: the sequence every benchmark driver sends (bench/compare, the Java
        // and franz-go drivers), so clients compress the same data.
        // Borrowed: nothing is cloned or allocated per record (the producer copies the
        // bytes into the batch).
        let value = &payloads[(i % payloads.len() as u64) as usize];
        let size = value.len();
        let mut rec = RecordRef::new(topics[(i % topics.len() as u64) as usize], value);
        if !keys.is_empty() {
            rec = rec.key(&keys[(i % keys.len() as u64) as usize]);
        }
        if plan.is_some() && in_txn == 0 {
            if let Err(e) = producer.begin_transaction() {
                eprintln!("error: {e}");
                producer.close(Duration::ZERO).await;
                return ExitCode::from(1);
            }
            txn_begun = Instant::now();
        }
        let sent_at = Instant::now();
        match producer.send_ref(rec).await {
            Ok(f) => {
                outstanding.push(sent_at, size, f);
                if i % 256 == 255 {
                    outstanding.harvest(&mut stats, &mut hist);
                }
            }
            // No room in buffer.memory (or no queue.buffering.max.messages slot) within max.block.ms: counted, and the run goes on
            // (an outage is something to measure, not a reason to stop).
            Err(e @ (volley::Error::BufferFull { .. } | volley::Error::QueueFull { .. })) => {
                stats.failed += 1;
                stats.send_timeouts += 1;
                if stats.send_timeouts == 1 {
                    eprintln!("{e}");
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                producer.close(Duration::from_secs(5)).await;
                return ExitCode::from(1);
            }
        }
        if let Some(plan) = plan {
            in_txn += 1;
            if plan.due(in_txn, txn_begun) || i + 1 == a.num_records {
                if let Err(e) = producer.commit_transaction().await {
                    eprintln!("error: the commit of transaction {} failed: {e}", commits + 1);
                    producer.close(Duration::ZERO).await;
                    return ExitCode::from(1);
                }
                commits += 1;
                in_txn = 0;
            }
        }
        if sent_at.saturating_duration_since(last) >= Duration::from_secs(5) {
            let n = i + 1 - last_count;
            eprintln!(
                "{} records sent, {:.1} records/sec",
                i + 1,
                n as f64 / last.elapsed().as_secs_f64()
            );
            last = Instant::now();
            last_count = i + 1;
        }
    }
    outstanding.finish(&mut stats, &mut hist).await;
    let elapsed = start.elapsed().as_secs_f64().max(1e-9);
    producer.close(Duration::from_secs(30)).await;
    let cpu = cpu_seconds() - cpu0;
    let rss = peak_rss_bytes();
    let ms = |us: u64| us as f64 / 1000.0;
    let rps = stats.acked as f64 / elapsed;
    let mbps = stats.bytes as f64 / elapsed / (1024.0 * 1024.0);
    let cpu_per_m = if stats.acked > 0 {
        cpu / stats.acked as f64 * 1e6
    } else {
        0.0
    };
    if a.json {
        println!(
            "{{\"records\":{},\"failed\":{},\"transactions\":{},\"seconds\":{:.3},\"records_per_sec\":{:.1},\"mb_per_sec\":{:.3},\"latency_ms\":{{\"avg\":{:.3},\"p50\":{:.3},\"p95\":{:.3},\"p99\":{:.3},\"p999\":{:.3},\"max\":{:.3}}},\"peak_rss_bytes\":{},\"cpu_seconds\":{:.3},\"cpu_seconds_per_million\":{:.3}}}",
            stats.acked, stats.failed, commits, elapsed, rps, mbps,
            hist.mean() / 1000.0, ms(hist.value_at_quantile(0.5)), ms(hist.value_at_quantile(0.95)), ms(hist.value_at_quantile(0.99)), ms(hist.value_at_quantile(0.999)), ms(hist.max()),
            rss, cpu, cpu_per_m
        );
    } else {
        println!(
            "{} records sent, {:.1} records/sec ({:.2} MB/sec), {:.2} ms avg latency, {:.2} ms max latency, {:.2} ms 50th, {:.2} ms 95th, {:.2} ms 99th, {:.2} ms 99.9th; peak RSS {:.1} MiB; CPU {:.2} s ({:.2} s per million records)",
            stats.acked, rps, mbps, hist.mean() / 1000.0, ms(hist.max()), ms(hist.value_at_quantile(0.5)), ms(hist.value_at_quantile(0.95)), ms(hist.value_at_quantile(0.99)), ms(hist.value_at_quantile(0.999)),
            rss as f64 / (1024.0 * 1024.0), cpu, cpu_per_m
        );
    }
    if stats.failed > 0 {
        eprintln!(
            "{} records failed ({} sends found no room in buffer.memory within max.block.ms); first delivery error: {}",
            stats.failed,
            stats.send_timeouts,
            stats.first_error.unwrap_or_else(|| "none".into())
        );
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
