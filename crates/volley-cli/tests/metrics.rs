//! `--metrics-addr`: `/metrics` served while `volley produce` runs, scraped mid-run and
//! parsed by prometheus_client's parser (as a Prometheus server would).

#[path = "../../volley/tests/common/mod.rs"]
mod common;
mod support;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{bootstrap, create_topic, topic};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn scrape(addr: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

/// Parses a scrape with the Python parser: (family types, samples).
fn parse(text: &str) -> serde_json::Value {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let py = std::env::var("VOLLEY_PYTHON").map_or_else(|_| root.join(".volley/venv/bin/python"), Into::into);
    let mut child = Command::new(py)
        .arg(root.join("scripts/prom_check.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run prom_check.py");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("prom_check");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

fn value(parsed: &serde_json::Value, name: &str) -> Option<f64> {
    parsed["samples"]
        .as_array()?
        .iter()
        .find(|s| s[0] == name)
        .and_then(|s| s[2].as_f64())
}

#[test]
fn metrics_addr_serves_prometheus_text_while_running() {
    let t = topic("cli-metrics");
    create_topic(&t, 3);
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = support::spawn(&[
        "produce",
        "--bootstrap-servers",
        &bootstrap(),
        "--topic",
        &t,
        "--metrics-addr",
        &addr,
        "-X",
        "client.id=scraped",
        "-X",
        "linger.ms=5",
    ]);
    let mut stdin = child.stdin.take().expect("stdin");
    for i in 0..1000 {
        writeln!(stdin, "{{\"event\": {i}, \"user\": \"u{}\"}}", i % 37).expect("input");
    }
    stdin.flush().expect("flush");
    // Input stays open: the process is running while we scrape.
    let start = Instant::now();
    let parsed = loop {
        if let Some(text) = scrape(&addr) {
            let p = parse(&text);
            if value(&p, "kafka_producer_record_send_total") == Some(1000.0) {
                break p;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "1,000 records sent within 20 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let types = &parsed["types"];
    // prometheus_client names a counter family without its _total suffix.
    assert_eq!(types["kafka_producer_record_send"], "counter", "{types}");
    assert_eq!(types["kafka_producer_buffer_available_bytes"], "gauge");
    assert_eq!(types["kafka_producer_request_latency_seconds"], "histogram");
    assert_eq!(types["kafka_producer_record_queue_time_seconds"], "histogram");
    assert_eq!(types["kafka_producer_bufferpool_wait_time_seconds"], "counter");
    let samples = parsed["samples"].as_array().expect("samples");
    assert!(
        samples.iter().all(|s| s[1]["client_id"] == "scraped"),
        "every series carries client_id"
    );
    assert!(samples
        .iter()
        .any(|s| s[0] == "kafka_producer_topic_record_send_total" && s[1]["topic"] == t.as_str() && s[2] == 1000.0));
    assert!(samples
        .iter()
        .any(|s| s[0] == "kafka_producer_node_request_total" && s[1]["node_id"].is_string()));
    assert!(value(&parsed, "kafka_producer_connection_creation_total").unwrap_or(0.0) >= 1.0);
    assert!(value(&parsed, "kafka_producer_request_latency_seconds_count").unwrap_or(0.0) >= 1.0);
    // Idle clients (a port scanner, a stuck proxy) get 5 s each and cannot wedge the endpoint
    // (review of issue 13: idle connections used to kill it for the rest of the run).
    let idle: Vec<std::net::TcpStream> = (0..100)
        .filter_map(|_| std::net::TcpStream::connect(&addr).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(5500));
    assert!(
        scrape(&addr).is_some(),
        "scrapes are served again after idle clients time out"
    );
    drop(idle);
    drop(stdin);
    let out = child.wait_with_output().expect("volley output");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(scrape(&addr).is_none(), "the endpoint ends with the run");
}

/// `--stats FILE`: one statistics document per line every `statistics.interval.ms`, each valid
/// against the schema kept in the repo (`schemas/statistics.schema.json`, checked by the
/// jsonschema package), and counting what the run did.
#[test]
fn stats_documents_follow_the_schema_and_count_the_run() {
    let t = topic("cli-stats");
    create_topic(&t, 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let stats = dir.path().join("stats.jsonl");
    let mut child = support::spawn(&[
        "produce",
        "--bootstrap-servers",
        &bootstrap(),
        "--topic",
        &t,
        "--stats",
        stats.to_str().expect("path"),
        "-X",
        "statistics.interval.ms=200",
    ]);
    let mut stdin = child.stdin.take().expect("stdin");
    for i in 0..2000 {
        writeln!(stdin, "{{\"n\": {i}}}").expect("input");
    }
    stdin.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(1500));
    drop(stdin);
    let out = child.wait_with_output().expect("volley output");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let py = std::env::var("VOLLEY_PYTHON").map_or_else(|_| root.join(".volley/venv/bin/python"), Into::into);
    let check = Command::new(py)
        .arg(root.join("scripts/validate_json.py"))
        .arg(root.join("schemas/statistics.schema.json"))
        .arg(&stats)
        .output()
        .expect("run validate_json.py");
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    let n: usize = String::from_utf8_lossy(&check.stdout).trim().parse().expect("count");
    assert!(n >= 4, "a document every 200 ms over 1.5 s: {n}");

    let docs: Vec<serde_json::Value> = std::fs::read_to_string(&stats)
        .expect("stats")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let done = docs
        .iter()
        .find(|d| d["txmsgs"] == 2000)
        .expect("a document after every record was sent");
    assert_eq!(done["msg_cnt"], 0, "nothing queued or in flight once delivered");
    assert_eq!(done["eos"]["idemp_state"], "Assigned");
    let parts = done["topics"][t.as_str()]["partitions"]
        .as_object()
        .expect("partitions");
    let sent: u64 = parts.values().map(|p| p["txmsgs"].as_u64().expect("txmsgs")).sum();
    assert_eq!(sent, 2000, "per-partition counts add up");
    let brokers = done["brokers"].as_object().expect("brokers");
    assert!(brokers
        .values()
        .any(|b| b["state"] == "UP" && b["tx"].as_u64() > Some(0)));
    assert!(brokers.values().any(|b| b["rtt"]["cnt"].as_u64().is_some()));
}

/// Issue 13: the broker is killed for 15 s during a `volley produce` run. Standard error shows
/// WARN lines naming the broker and the cause, `/metrics` scraped during the outage shows
/// connection failures rising (and the retries of what was in flight), and when the run ends
/// every line is accounted for: delivered (read back once by librdkafka) or reported failed.
#[test]
fn a_15_s_broker_outage_is_visible_and_loses_nothing() {
    use volley_testkit::kafka::KafkaCluster;
    let k = KafkaCluster::single().unwrap_or_else(|e| panic!("Kafka: {e}"));
    let bs = k.bootstrap().to_owned();
    let t = topic("cli-outage");
    common::create_topic_on(&bs, &t, 3);
    let addr = format!("127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("report.jsonl");
    let mut child = support::spawn(&[
        "produce",
        "--bootstrap-servers",
        &bs,
        "--topic",
        &t,
        "--metrics-addr",
        &addr,
        "--report",
        report.to_str().expect("path"),
        "-X",
        "linger.ms=5",
    ]);
    let mut stdin = child.stdin.take().expect("stdin");
    // 100 lines a second for 26 s; the broker dies at 4 s and comes back at 19 s.
    let start = Instant::now();
    let broker = k.broker_ids()[0];
    let (mut lines, mut killed, mut restarted) = (0usize, false, false);
    let mut scrapes: Vec<(f64, f64, f64)> = Vec::new();
    while start.elapsed() < Duration::from_secs(26) {
        writeln!(stdin, "{{\"seq\": {lines}}}").expect("input");
        lines += 1;
        let s = start.elapsed().as_secs_f64();
        if !killed && s >= 4.0 {
            k.kill(broker).expect("kill the broker");
            killed = true;
        }
        if killed && !restarted && (s >= 8.0 && scrapes.is_empty() || s >= 16.0 && scrapes.len() == 1) {
            let text = scrape(&addr).expect("/metrics during the outage");
            let p = parse(&text);
            let failures = value(&p, "kafka_producer_connection_failure_total").unwrap_or(0.0);
            let retries = value(&p, "kafka_producer_record_retry_total").unwrap_or(0.0);
            eprintln!(
                "outage +{:.1} s: {failures} connection failures, {retries} records retried",
                s - 4.0
            );
            scrapes.push((s, failures, retries));
        }
        if killed && !restarted && s >= 19.0 {
            k.restart(broker).expect("restart the broker");
            restarted = true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(stdin);
    let out = child.wait_with_output().expect("volley output");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(scrapes.len(), 2, "two scrapes during the outage");
    assert!(
        scrapes[1].1 > scrapes[0].1,
        "connection failures rise during the outage: {scrapes:?}"
    );
    assert!(
        scrapes[1].2 >= 1.0,
        "what was in flight when the broker died was retried: {scrapes:?}"
    );
    let warns: Vec<&str> = stderr.lines().filter(|l| l.contains("WARN")).collect();
    for w in warns.iter().take(6) {
        eprintln!("stderr: {w}");
    }
    let host = bs.split(':').next().expect("host");
    assert!(
        warns
            .iter()
            .any(|l| l.contains(host) && (l.contains("refused") || l.contains("lost"))),
        "a WARN line names the broker and the cause:\n{stderr}"
    );
    assert!(warns.len() <= 30, "rate limited: {} WARN lines", warns.len());
    // Every line: one report outcome; the delivered ones are in the log once each.
    let text = std::fs::read_to_string(&report).expect("report");
    let outcomes: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    assert_eq!(outcomes.len(), lines, "one outcome per line read");
    let delivered = outcomes.iter().filter(|o| o.get("offset").is_some()).count();
    let failed = outcomes.len() - delivered;
    eprintln!(
        "{lines} lines: {delivered} delivered, {failed} reported failed; exit {:?}",
        out.status.code()
    );
    let back = common::read_back_on(&bs, &t, delivered);
    let mut seqs: Vec<u64> = back
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_slice(r.value.as_deref().expect("value")).expect("json value");
            v["seq"].as_u64().expect("seq")
        })
        .collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), delivered, "every delivered line is in the log exactly once");
    assert_eq!(failed, 0, "a 15 s outage is within delivery.timeout.ms: nothing fails");
    assert!(out.status.success(), "{stderr}");
}
