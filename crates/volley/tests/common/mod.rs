//! Test harness: real brokers on 127.0.0.1 and the independent reader.
//!
//! [`bootstrap`] is the reference broker, Apache Kafka: `VOLLEY_BOOTSTRAP` if set, else one
//! KRaft node started here (volley-testkit's launcher, jars from `scripts/install`), shared
//! by the tests of one test binary. [`tansu_bootstrap`] is a tansu broker (a second
//! implementation, for the smaller tansu suite) from `VOLLEY_TANSU` or `.volley/bin/tansu`.
//! The reader is `scripts/reader.py` run by `VOLLEY_PYTHON` or `.volley/venv/bin/python`.
//! Nothing is skipped: a missing broker or reader fails the test with what to run.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Broker {
    bootstrap: String,
    _child: Option<Child>,
}

static BROKER: OnceLock<Broker> = OnceLock::new();
static KAFKA: OnceLock<(String, Option<volley_testkit::kafka::KafkaCluster>)> = OnceLock::new();

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The Apache Kafka broker's bootstrap address (started once per test binary; it prints
/// Kafka's version to stderr when it starts).
pub fn bootstrap() -> String {
    KAFKA
        .get_or_init(|| {
            if let Ok(b) = std::env::var("VOLLEY_BOOTSTRAP") {
                return (b, None);
            }
            let k = volley_testkit::kafka::KafkaCluster::single()
                .unwrap_or_else(|e| panic!("{e} (or set VOLLEY_BOOTSTRAP to a running broker)"));
            (k.bootstrap().to_owned(), Some(k))
        })
        .0
        .clone()
}

/// The tansu broker's bootstrap address (started once per test binary).
pub fn tansu_bootstrap() -> String {
    BROKER
        .get_or_init(|| {
            if let Ok(b) = std::env::var("VOLLEY_TANSU_BOOTSTRAP") {
                return Broker {
                    bootstrap: b,
                    _child: None,
                };
            }
            let tansu = std::env::var("VOLLEY_TANSU")
                .map(PathBuf::from)
                .unwrap_or_else(|_| root().join(".volley/bin/tansu"));
            assert!(
                tansu.exists(),
                "no tansu broker at {} (run scripts/install, or set VOLLEY_TANSU or VOLLEY_TANSU_BOOTSTRAP)",
                tansu.display()
            );
            let port = free_port();
            let url = format!("tcp://127.0.0.1:{port}");
            // The shell stops tansu when this test process exits and its stdin closes, so no
            // broker outlives the tests.
            let child = Command::new("sh")
                .arg("-c")
                .arg("\"$0\" \"$@\" & child=$!; cat >/dev/null; kill $child")
                .arg(&tansu)
                .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start tansu");
            let addr = format!("127.0.0.1:{port}");
            let start = Instant::now();
            while std::net::TcpStream::connect(&addr).is_err() {
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "tansu did not listen on {addr} within 20 s"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            Broker {
                bootstrap: addr,
                _child: Some(child),
            }
        })
        .bootstrap
        .clone()
}

pub fn python() -> PathBuf {
    let p = std::env::var("VOLLEY_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join(".volley/venv/bin/python"));
    assert!(
        p.exists(),
        "no reader environment at {} (run scripts/install, or set VOLLEY_PYTHON)",
        p.display()
    );
    p
}

fn reader(args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(python())
        .arg(root().join("scripts/reader.py"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the reader");
    {
        let mut si = child.stdin.take().expect("stdin");
        if let Some(s) = stdin {
            si.write_all(s.as_bytes()).expect("write to reader");
        }
    }
    let out = child.wait_with_output().expect("reader output");
    assert!(
        out.status.success(),
        "reader {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn counter() -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A topic name unique to this test run.
pub fn topic(name: &str) -> String {
    static RUN: OnceLock<u128> = OnceLock::new();
    let run = RUN.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    });
    format!("{name}-{run}-{}", counter())
}

/// Creates a topic with `partitions` partitions on the Kafka broker through librdkafka's
/// AdminClient.
pub fn create_topic(topic: &str, partitions: u32) {
    create_topic_on(&bootstrap(), topic, partitions);
}

/// [`create_topic`] on the broker at `bs`.
pub fn create_topic_on(bs: &str, topic: &str, partitions: u32) {
    reader(&["create", bs, topic, &partitions.to_string()], None);
}

/// [`create_topic`] with topic configs (`name=value`), replication factor 1.
pub fn create_topic_with(topic: &str, partitions: u32, configs: &[&str]) {
    let (bs, n) = (bootstrap(), partitions.to_string());
    let mut args = vec!["create", bs.as_str(), topic, n.as_str(), "1"];
    args.extend_from_slice(configs);
    reader(&args, None);
}

/// A record as librdkafka read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp: i64,
}

fn unb64(v: &serde_json::Value) -> Option<Vec<u8>> {
    v.as_str()
        .map(|s| base64::engine::general_purpose::STANDARD.decode(s).expect("base64"))
}

/// Reads `count` records back from the Kafka broker (stops earlier when the topic is
/// idle), sorted by partition and offset.
pub fn read_back(topic: &str, count: usize) -> Vec<ReadRecord> {
    read_back_on(&bootstrap(), topic, count)
}

/// [`read_back`] from the broker at `bs`.
pub fn read_back_on(bs: &str, topic: &str, count: usize) -> Vec<ReadRecord> {
    read_back_isolated(bs, topic, count, "read_committed")
}

/// [`read_back_on`] with librdkafka's `isolation.level` (`read_committed`, its default, or
/// `read_uncommitted`).
pub fn read_back_isolated(bs: &str, topic: &str, count: usize, isolation: &str) -> Vec<ReadRecord> {
    let out = reader(&["read", bs, topic, &count.to_string(), isolation], None);
    let mut recs: Vec<ReadRecord> = out
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            ReadRecord {
                partition: v["p"].as_i64().expect("p") as i32,
                offset: v["o"].as_i64().expect("o"),
                key: unb64(&v["k"]),
                value: unb64(&v["v"]),
                headers: v["h"]
                    .as_array()
                    .expect("h")
                    .iter()
                    .map(|h| (h[0].as_str().expect("header key").to_owned(), unb64(&h[1])))
                    .collect(),
                timestamp: v["ts"].as_i64().expect("ts"),
            }
        })
        .collect();
    recs.sort_by_key(|r| (r.partition, r.offset));
    recs
}

/// A transactional producer's producer id, epoch and transaction state, from its statistics
/// (`eos`).
pub async fn txn_identity(p: &volley::Producer) -> (i64, i64, String) {
    let s: serde_json::Value = serde_json::from_str(&p.statistics().await.expect("statistics")).expect("json");
    let eos = &s["eos"];
    (
        eos["producer_id"].as_i64().expect("producer_id"),
        eos["producer_epoch"].as_i64().expect("producer_epoch"),
        eos["txn_state"].as_str().expect("txn_state").to_owned(),
    )
}

/// Per partition of `topic`, librdkafka's (last stable offset, high watermark): the first is
/// below the second while a transaction that wrote to the partition is open.
pub fn watermarks(bs: &str, topic: &str) -> Vec<(i64, i64)> {
    reader(&["watermarks", bs, topic], None)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            (
                v["committed"].as_i64().expect("committed"),
                v["high"].as_i64().expect("high"),
            )
        })
        .collect()
}

/// Where librdkafka's `murmur2_random` partitioner puts each key, observed by producing
/// probes with librdkafka to a fresh topic with `partitions` partitions.
pub fn librdkafka_placement(keys: &[Vec<u8>], partitions: u32) -> HashMap<Vec<u8>, i32> {
    librdkafka_placement_on(&bootstrap(), keys, partitions)
}

/// [`librdkafka_placement`] on the broker at `bs`.
pub fn librdkafka_placement_on(bs: &str, keys: &[Vec<u8>], partitions: u32) -> HashMap<Vec<u8>, i32> {
    let input: String = keys
        .iter()
        .map(|k| base64::engine::general_purpose::STANDARD.encode(k) + "\n")
        .collect();
    let probe = topic(&format!("probe-{partitions}"));
    let out = reader(&["placement", bs, &probe, &partitions.to_string()], Some(&input));
    out.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            (unb64(&v["k"]).expect("key"), v["p"].as_i64().expect("p") as i32)
        })
        .collect()
}
