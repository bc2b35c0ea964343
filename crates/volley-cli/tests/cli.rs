//! `volley` end to end against a real broker, read back by librdkafka.

#[path = "../../volley/tests/common/mod.rs"]
mod common;

mod support;

use std::io::Write;
use std::process::{Command, Output};

use common::{bootstrap, create_topic, librdkafka_placement, read_back, topic};
use support::{interrupt, produce, send_signal, spawn, text, volley, wait_within};

/// Writes `input` to `child` and leaves its input open, sends Ctrl-C 1.5 s later, and
/// waits at most 10 s for it to end (`why` names what the wait proves).
fn interrupted_after_input(mut child: std::process::Child, input: &[u8], why: &str) -> Output {
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("write");
    stdin.flush().expect("flush");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    interrupt(&child);
    let out = wait_within(child, std::time::Duration::from_secs(10), why);
    drop(stdin);
    out
}

#[test]
fn produce_json_lines_with_key_field_report_and_headers() {
    let t = topic("cli-json");
    create_topic(&t, 6);
    let input = concat!(
        "{\"user_id\": \"alice\", \"action\": \"click\"}\n",
        "{\"user_id\": 42, \"action\": \"view\"}\n",
        "not json\n",
        "{\"action\": \"keyless\"}\n",
        "{\"user_id\": \"alice\", \"action\": \"buy\"}\r\n",
        "{\"user_id\": {\"a\": [1, 2]}, \"action\": \"nested\"}",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("report.jsonl");
    let bs = bootstrap();
    let out = produce(
        &bs,
        &t,
        &[
            "--key-field",
            "user_id",
            "--header",
            "src=cli",
            "--header",
            "src=twice",
            "--report",
            report.to_str().expect("path"),
            "-",
        ],
        input.as_bytes(),
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "one malformed line makes the exit status 1\n{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("line 3: not valid JSON"),
        "{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("records: 5 delivered, 1 failed, 6 read"), "{stdout}");
    assert!(stdout.contains("records without key: 1"), "{stdout}");
    assert!(stdout.contains("failed (malformed input line): 1"), "{stdout}");
    let rep: Vec<serde_json::Value> = std::fs::read_to_string(&report)
        .expect("report")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(rep.len(), 6);
    assert_eq!(rep[2]["line"], 3);
    assert!(rep[2]["error"].as_str().expect("error").starts_with("not valid JSON"));

    let got = read_back(&t, 5);
    assert_eq!(got.len(), 5);
    let mut values: Vec<Vec<u8>> = got.iter().map(|g| g.value.clone().expect("value")).collect();
    values.sort();
    let mut want: Vec<Vec<u8>> = input
        .split('\n')
        .filter(|l| *l != "not json")
        .map(|l| l.trim_end_matches('\r').as_bytes().to_vec())
        .collect();
    want.sort();
    assert_eq!(values, want, "values are the lines' exact bytes");
    for g in &got {
        assert_eq!(
            g.headers,
            vec![
                ("src".into(), Some(b"cli".to_vec())),
                ("src".into(), Some(b"twice".to_vec()))
            ]
        );
    }
    let keyed: Vec<&common::ReadRecord> = got.iter().filter(|g| g.key.is_some()).collect();
    let mut keys: Vec<Vec<u8>> = keyed.iter().map(|g| g.key.clone().expect("key")).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(
        keys,
        vec![b"42".to_vec(), b"alice".to_vec(), br#"{"a": [1, 2]}"#.to_vec()],
        "strings bare, others compact JSON"
    );
    let placement = librdkafka_placement(&keys, 6);
    for g in keyed {
        assert_eq!(placement[g.key.as_ref().expect("key")], g.partition);
    }
    for r in rep.iter().filter(|r| r.get("offset").is_some()) {
        let p = r["partition"].as_i64().expect("p") as i32;
        let o = r["offset"].as_i64().expect("o");
        assert!(
            got.iter().any(|g| g.partition == p && g.offset == o),
            "report entry {r} matches the log"
        );
    }
}

#[test]
fn key_separator_and_explicit_partition() {
    let t = topic("cli-sep");
    create_topic(&t, 3);
    let bs = bootstrap();
    let out = produce(
        &bs,
        &t,
        &[
            "--key-separator",
            "::",
            "--partition",
            "2",
            "--acks",
            "1",
            "--compression",
            "zstd",
            "--linger-ms",
            "0",
        ],
        b"k1::v1\nk2::v::2\nnosep\n",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("line 3: no key separator found"));
    let got = read_back(&t, 2);
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|g| g.partition == 2));
    assert_eq!(got[0].key.as_deref(), Some(&b"k1"[..]));
    assert_eq!(got[1].value.as_deref(), Some(&b"v::2"[..]));
}

#[test]
fn config_file_and_overrides() {
    let t = topic("cli-props");
    create_topic(&t, 2);
    let dir = tempfile::tempdir().expect("tempdir");
    let props = dir.path().join("producer.properties");
    std::fs::write(&props, "# a comment\nacks = 1\ncompression.type: gzip\nlinger.ms=10\n").expect("write");
    let bs = bootstrap();
    let out = produce(
        &bs,
        &t,
        &[
            "--producer-config",
            props.to_str().expect("path"),
            "-X",
            "batch.size=2048",
            "--acks",
            "all",
        ],
        b"a\nb\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(read_back(&t, 2).len(), 2);
}

/// Issue 14: a Java `producer.properties` shared with a consumer and the Schema Registry
/// runs; each key Volley cannot use is one warning.
#[test]
fn java_producer_properties_file_runs_with_warnings() {
    let t = topic("cli-java-props");
    create_topic(&t, 2);
    let dir = tempfile::tempdir().expect("tempdir");
    let props = dir.path().join("producer.properties");
    std::fs::write(
        &props,
        concat!(
            "key.serializer=org.apache.kafka.common.serialization.StringSerializer\n",
            "value.serializer=io.confluent.kafka.serializers.KafkaAvroSerializer\n",
            "interceptor.classes=com.example.TracingInterceptor\n",
            "metric.reporters=com.example.Reporter\n",
            "group.id=shared\n",
            "session.timeout.ms=45000\n",
            "schema.registry.url=http://registry.invalid:8081\n",
            "basic.auth.credentials.source=USER_INFO\n",
            "send.buffer.bytes=131072\n",
            "client.dns.lookup=use_all_dns_ips\n",
            "partitioner.class=org.apache.kafka.clients.producer.RoundRobinPartitioner\n",
        ),
    )
    .expect("write");
    let bs = bootstrap();
    let out = produce(
        &bs,
        &t,
        &["--producer-config", props.to_str().expect("path")],
        b"a\nb\n",
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{}{stderr}", text(&out.stdout));
    for key in [
        "value.serializer",
        "interceptor.classes",
        "metric.reporters",
        "'group.id'",
        "'session.timeout.ms'",
        "'schema.registry.url'",
        "'basic.auth.credentials.source'",
    ] {
        let n = stderr
            .lines()
            .filter(|l| l.starts_with("warning: ") && l.contains(key))
            .count();
        assert_eq!(n, 1, "{key}: {stderr}");
    }
    assert!(!stderr.contains("key.serializer"), "{stderr}");
    let got = read_back(&t, 2);
    assert_eq!(got.len(), 2);
    let mut parts: Vec<i32> = got.iter().map(|g| g.partition).collect();
    parts.sort_unstable();
    assert_eq!(parts, vec![0, 1], "RoundRobinPartitioner maps to round_robin");
}

#[test]
fn config_errors_exit_2_with_the_key_value_and_what_is_allowed() {
    let cases: &[(&[&str], &str)] = &[
        (&["--acks", "2"], "error: invalid value '2' for 'acks': 0, 1, all or -1"),
        (&["-X", "transactional.id=t", "-X", "enable.idempotence=false"], "error: conflicting configuration: transactional.id=t needs idempotence, but enable.idempotence=false was set"),
        (&["--transaction-records", "5"], "error: --transaction-records needs --transactional-id"),
        (&["-X", "lingr.ms=5"], "error: unknown configuration property 'lingr.ms' (did you mean 'linger.ms'?)"),
        (&["-X", "group.id=g"], "error: unknown configuration property 'group.id'"),
        (&["-X", "socket.timeout.ms=soon"], "error: invalid value 'soon' for 'socket.timeout.ms': an integer from 0 to 2147483647"),
        (&["-X", "enable.idempotence=true", "--acks", "1"], "error: conflicting configuration: enable.idempotence=true requires acks=all, retries > 0 and max.in.flight.requests.per.connection <= 5, but acks=1 was set"),
        (&["--compression", "brotli"], "error: invalid value 'brotli' for 'compression.type': none, gzip, snappy, lz4 or zstd"),
    ];
    for (extra, want) in cases {
        let out = produce("127.0.0.1:9", "t", extra, b"x\n");
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        assert_eq!(text(&out.stderr).trim(), *want);
    }
}

#[test]
fn unreachable_broker_is_reported_within_max_block() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let start = std::time::Instant::now();
    let out = produce(&addr, "clicks", &["-X", "max.block.ms=2000"], b"a\nb\n");
    assert!(start.elapsed() < std::time::Duration::from_secs(6));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("error: topic 'clicks' not present in metadata after 2000 ms: connection to {addr} failed: Connection refused")), "{err}");
}

#[test]
fn partition_of_matches_java_murmur2() {
    let out = Command::new(env!("CARGO_BIN_EXE_volley"))
        .args([
            "partition-of",
            "--topic",
            "t",
            "--partitions",
            "12",
            "foobar",
            "21",
            "abc",
        ])
        .output()
        .expect("run");
    assert!(out.status.success());
    // (murmur2 & 0x7fffffff) % 12 of Kafka's golden values.
    let want: Vec<String> = [("foobar", -790_332_482i32), ("21", -973_932_308), ("abc", 479_470_107)]
        .iter()
        .map(|(k, h)| format!("{k}\t{}", ((*h as u32) & 0x7fff_ffff) % 12))
        .collect();
    assert_eq!(text(&out.stdout).lines().collect::<Vec<_>>(), want);
    let out = Command::new(env!("CARGO_BIN_EXE_volley"))
        .args([
            "partition-of",
            "--topic",
            "t",
            "--partitions",
            "4",
            "--partitioner",
            "consistent",
            "hejsan",
        ])
        .output()
        .expect("run");
    assert_eq!(text(&out.stdout).trim(), format!("hejsan\t{}", 0xd077_037e_u32 % 4));
}

#[test]
fn ctrl_c_stops_reading_flushes_and_reports() {
    // Issue 13 changed the contract: a run stopped by a signal exits with the signal's code
    // (130 for SIGINT, 143 for SIGTERM, as shells report), not 0, so that a script can tell
    // a stopped run from a finished one; the summary and the report are still complete.
    for (sig, code, name) in [("-INT", 130, "SIGINT"), ("-TERM", 143, "SIGTERM")] {
        let t = topic("cli-signal");
        create_topic(&t, 2);
        let bs = bootstrap();
        let dir = tempfile::tempdir().expect("tempdir");
        let report = dir.path().join("report.jsonl");
        let mut child = spawn(&[
            "produce",
            "--bootstrap-servers",
            &bs,
            "--topic",
            &t,
            "-X",
            "linger.ms=100000",
            "-X",
            "delivery.timeout.ms=200000",
            "--report",
            report.to_str().expect("utf-8 path"),
        ]);
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"one\ntwo\nthree\n").expect("write");
        stdin.flush().expect("flush");
        // The input stays open, as a terminal or a pipe from a live process would.
        std::thread::sleep(std::time::Duration::from_millis(1500));
        send_signal(&child, sig);
        let start = std::time::Instant::now();
        let out = child.wait_with_output().expect("output");
        drop(stdin);
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "flush is bounded");
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(code), "{name}: {stdout}{}", text(&out.stderr));
        assert!(stdout.contains("records: 3 delivered, 0 failed, 3 read"), "{stdout}");
        assert!(stdout.contains(&format!("stopped by {name} after line 3")), "{stdout}");
        let lines = std::fs::read_to_string(&report).expect("report");
        assert_eq!(lines.lines().count(), 3, "{name}: the whole report: {lines}");
        assert_eq!(read_back(&t, 3).len(), 3);
    }
}

/// Issue 13: a signal also interrupts a `send` that waits (here for metadata of a topic
/// that never appears, with max.block.ms 60 s): the run ends at once, the waiting line is
/// reported as not sent, and the exit code is 130.
#[test]
fn a_signal_interrupts_a_send_blocked_on_metadata() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let cluster = rt.block_on(volley_testkit::fake::FakeCluster::start(1));
    cluster.auto_create(None);
    let bs = cluster.bootstrap();
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("report.jsonl");
    let child = spawn(&[
        "produce",
        "--bootstrap-servers",
        &bs,
        "--topic",
        "never-created",
        "-X",
        "allow.auto.create.topics=false",
        "-X",
        "max.block.ms=60000",
        "--report",
        report.to_str().expect("utf-8 path"),
    ]);
    let out = interrupted_after_input(child, b"waits\n", "stopped at once, not after max.block.ms");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("records: 0 delivered, 1 failed, 1 read"), "{stdout}");
    let lines = std::fs::read_to_string(&report).expect("report");
    assert!(lines.contains("\"line\":1") && lines.contains("not sent"), "{lines}");
    drop(rt);
}

/// A topic that never appears in metadata (the fake cluster, auto-create off): `volley
/// produce` ends within max.block.ms with an error that names the topic.
#[test]
fn topic_that_never_appears_fails_within_max_block() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let cluster = rt.block_on(volley_testkit::fake::FakeCluster::start(1));
    cluster.auto_create(None);
    let start = std::time::Instant::now();
    let out = produce(
        &cluster.bootstrap(),
        "never-created",
        &["-X", "allow.auto.create.topics=false", "-X", "max.block.ms=3000"],
        b"a\nb\n",
    );
    let took = start.elapsed();
    let err = text(&out.stderr);
    eprintln!(
        "volley produce ended after {took:?}, exit {:?}, stderr:\n{err}",
        out.status.code()
    );
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(took < std::time::Duration::from_millis(4500), "took {took:?}");
    assert!(
        err.contains("error: topic 'never-created' not present in metadata after 3000 ms: the broker answered UNKNOWN_TOPIC_OR_PARTITION (3)"),
        "{err}"
    );
    drop(cluster);
}

/// Issue 14: kcat's short flags, the issue's own command line first.
#[test]
fn kcat_short_flags() {
    let bs = bootstrap();
    let t = topic("cli-kcat");
    create_topic(&t, 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("in.txt");
    std::fs::write(&file, "k1:v1\nk2:v:2\n").expect("write");
    let f = file.to_str().expect("path");
    let out = volley(
        &["produce", "-b", &bs, "-t", &t, "-K:", "-z", "lz4", "-X", "acks=all", f],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    let mut got = read_back(&t, 2);
    got.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(got[0].key.as_deref(), Some(&b"k1"[..]));
    assert_eq!(got[0].value.as_deref(), Some(&b"v1"[..]));
    assert_eq!(got[1].value.as_deref(), Some(&b"v:2"[..]));

    // A fixed key, headers, a record delimiter with an escape, a count, tombstones and a
    // partition: "one", "X", "" (null) are sent; -c 3 stops before "four".
    let t = topic("cli-kcat-2");
    create_topic(&t, 3);
    let args = [
        "produce", "-b", &bs, "-t", &t, "-k", "fixed", "-H", "a=1", "-H", "b=2", "-D", r"\x1e", "-c", "3", "-Z", "-p",
        "1",
    ];
    let out = volley(&args, b"one\x1eX\r\x1e\x1efour\x1efive");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("records: 3 delivered, 0 failed, 3 read"), "{stdout}");
    let got = read_back(&t, 3);
    let values: Vec<Option<&[u8]>> = got.iter().map(|g| g.value.as_deref()).collect();
    assert_eq!(values, vec![Some(&b"one"[..]), Some(&b"X\r"[..]), None]);
    for g in &got {
        assert_eq!(g.partition, 1);
        assert_eq!(g.key.as_deref(), Some(&b"fixed"[..]));
        assert_eq!(
            g.headers,
            vec![("a".into(), Some(b"1".to_vec())), ("b".into(), Some(b"2".to_vec()))]
        );
    }

    // -K with an escape and -p -1 (the partitioner); --key-separator stays literal.
    let t = topic("cli-kcat-3");
    create_topic(&t, 3);
    let out = volley(&["produce", "-b", &bs, "-t", &t, "-K", r"\t", "-p", "-1"], b"a\tb\n");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = volley(&["produce", "-b", &bs, "-t", &t, "--key-separator", r"\t"], b"c\\td\n");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut got = read_back(&t, 2);
    got.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(got[0].key.as_deref(), Some(&b"a"[..]));
    assert_eq!(got[0].value.as_deref(), Some(&b"b"[..]));
    assert_eq!(got[1].key.as_deref(), Some(&b"c"[..]));
    assert_eq!(got[1].value.as_deref(), Some(&b"d"[..]));

    let out = volley(&["produce", "-b", &bs, "-t", &t, "-K", r"\q"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown escape"), "{}", text(&out.stderr));
}

/// Issue 14: --key-path takes an RFC 6901 pointer; non-string keys are their JSON text as
/// written (`1.50` stays `1.50`), strings unescaped.
#[test]
fn key_path_keeps_keys_as_written() {
    let bs = bootstrap();
    let t = topic("cli-key-path");
    create_topic(&t, 3);
    let input = concat!(
        "{\"meta\": {\"user_id\": 1.50}}\n",
        "{\"meta\": {\"user_id\": \"b\\u00e9\"}}\n",
        "{\"items\": []}\n",
    );
    let out = volley(
        &["produce", "-b", &bs, "-t", &t, "--key-path", "/meta/user_id"],
        input.as_bytes(),
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("records without key: 1"), "{stdout}");
    let mut keys: Vec<Option<Vec<u8>>> = read_back(&t, 3).into_iter().map(|g| g.key).collect();
    keys.sort();
    assert_eq!(keys, vec![None, Some(b"1.50".to_vec()), Some("bé".as_bytes().to_vec())]);
}

/// Issue 14: several input files are one stream; a file's end also ends its last record.
#[test]
fn several_input_files_are_one_stream() {
    let bs = bootstrap();
    let t = topic("cli-files");
    create_topic(&t, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let (f1, f2) = (dir.path().join("1.txt"), dir.path().join("2.txt"));
    std::fs::write(&f1, "a\nb").expect("write");
    std::fs::write(&f2, "c\n").expect("write");
    let (p1, p2) = (f1.to_str().expect("path"), f2.to_str().expect("path"));
    let report = dir.path().join("report.jsonl");
    let r = report.to_str().expect("path");
    let out = volley(&["produce", "-b", &bs, "-t", &t, "--report", r, p1, p2], b"");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("records: 3 delivered, 0 failed, 3 read"), "{stdout}");
    // With several inputs, report lines name their file and the line in it.
    let files: Vec<(String, u64, u64)> = std::fs::read_to_string(&report)
        .expect("report")
        .lines()
        .map(|l| {
            let v = serde_json::from_str::<serde_json::Value>(l).expect("json");
            let file = v["file"].as_str().expect("file").to_owned();
            (
                file,
                v["file_line"].as_u64().expect("file_line"),
                v["line"].as_u64().expect("line"),
            )
        })
        .collect();
    assert_eq!(
        files,
        vec![(p1.to_owned(), 1, 1), (p1.to_owned(), 2, 2), (p2.to_owned(), 1, 3)]
    );
    let values: Vec<Vec<u8>> = read_back(&t, 3).into_iter().map(|g| g.value.expect("value")).collect();
    assert_eq!(values, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    let out = volley(&["produce", "-b", &bs, "-t", &t, p1, "no-such-file"], b"");
    assert_eq!(out.status.code(), Some(2));
}

/// Review of issue 18: outcomes go to the collector in chunks, but a chunk is handed over
/// before a read that may wait: from a live pipe, report lines come without 1,024 more
/// lines (or the end of input).
#[test]
fn report_lines_do_not_wait_for_more_input() {
    let t = topic("cli-live");
    create_topic(&t, 1);
    let bs = bootstrap();
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("report.jsonl");
    let mut child = spawn(&[
        "produce",
        "--bootstrap-servers",
        &bs,
        "--topic",
        &t,
        "-X",
        "linger.ms=0",
        "--report",
        report.to_str().expect("utf-8 path"),
    ]);
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"one\ntwo\nthree\n").expect("write");
    stdin.flush().expect("flush");
    let start = std::time::Instant::now();
    let mut lines = 0;
    while start.elapsed() < std::time::Duration::from_secs(15) {
        lines = std::fs::read_to_string(&report).map_or(0, |r| r.lines().count());
        if lines == 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    drop(stdin);
    let out = child.wait_with_output().expect("output");
    assert_eq!(lines, 3, "report lines while the input stays open");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// Review of issue 18: with a delimiter of several bytes, a buffer that ends in part of it
/// is not a whole record: the wait for the rest still yields to Ctrl-C.
#[test]
fn ctrl_c_interrupts_a_wait_with_a_multi_byte_delimiter() {
    let t = topic("cli-delim");
    create_topic(&t, 1);
    let bs = bootstrap();
    let child = spawn(&["produce", "--bootstrap-servers", &bs, "--topic", &t, "-D", "||"]);
    let out = interrupted_after_input(child, b"a||b|", "volley stopped on Ctrl-C");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("records: 1 delivered, 0 failed, 1 read"), "{stdout}");
}
