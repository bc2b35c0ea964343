//! `volley produce --value-format ...` end to end: JSON lines in, Avro (plain or Confluent
//! framing) on a real broker, decoded by confluent-kafka's AvroDeserializer pointed at the
//! in-repo Schema Registry double, or by fastavro (`scripts/avro_check.py`).

#[path = "../../volley/tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{bootstrap, create_topic, python, read_back, root, topic};
use volley_testkit::registry::RegistryDouble;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// A registry double served by its own runtime while the test thread runs processes.
fn registry() -> (tokio::runtime::Runtime, RegistryDouble) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let reg = rt.block_on(RegistryDouble::start());
    (rt, reg)
}

/// A fresh topic with `partitions` partitions on the test broker.
fn new_topic(name: &str, partitions: u32) -> String {
    let t = topic(name);
    create_topic(&t, partitions);
    t
}

/// Writes a schema file into `dir`.
fn schema_file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).expect("schema file");
    p
}

fn produce(topic: &str, extra: &[&str], stdin: &[u8]) -> Output {
    let bs = bootstrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_volley"))
        .args(["produce", "--bootstrap-servers", &bs, "--topic", topic])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run volley");
    child.stdin.take().expect("stdin").write_all(stdin).expect("input");
    child.wait_with_output().expect("output")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `scripts/avro_check.py ARGS`; returns its exit success and its standard output.
fn avro_check(args: &[&str]) -> (bool, String) {
    let out = Command::new(python())
        .arg(root().join("scripts/avro_check.py"))
        .args(args)
        .output()
        .expect("run avro_check.py");
    (
        out.status.success(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

/// `avro_check.py check` of the corpus on `topic` (AvroDeserializer with `registry`, else
/// fastavro), skipping the listed input lines; asserts success and returns the summary.
fn check_corpus(topic: &str, registry: Option<&str>, skip: &str) -> String {
    let schema = data("event.avsc");
    let corpus = data("event.jsonl");
    let bs = bootstrap();
    let mut args = vec!["check", &bs, topic, path(&schema), path(&corpus), "--skip", skip];
    if let Some(url) = registry {
        args.extend(["--registry", url]);
    }
    let (ok, report) = avro_check(&args);
    assert!(ok, "{report}");
    report
}

fn corpus() -> Vec<u8> {
    std::fs::read(data("event.jsonl")).expect("corpus")
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn avro_confluent_corpus_decodes_with_confluents_deserializer() {
    let (_rt, reg) = registry();
    let t = new_topic("avro-confluent", 3);
    let schema = data("event.avsc");
    let out = produce(
        &t,
        &[
            "--value-format",
            "avro-confluent",
            "--value-schema",
            path(&schema),
            "--schema-registry",
            reg.url(),
        ],
        &corpus(),
    );
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    assert!(
        text(&out.stdout).contains("records: 60 delivered, 0 failed"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(reg.requests(), 1, "one register request for 60 records");
    let report = check_corpus(&t, Some(reg.url()), "");
    assert!(report.contains("\"equal\": 60"), "{report}");
}

/// Review of issue 14: `--dry-run` never registers a schema (it only looks it up): against
/// an empty registry it fails naming the schema, and works once a real run registered it.
#[test]
fn a_dry_run_looks_schemas_up_and_never_registers_them() {
    let (_rt, reg) = registry();
    let t = new_topic("avro-dry", 3);
    let schema = data("event.avsc");
    let args = |dry: bool| {
        let mut v = vec![
            "--value-format",
            "avro-confluent",
            "--value-schema",
            path(&schema),
            "--schema-registry",
            reg.url(),
        ];
        if dry {
            v.push("--dry-run");
        }
        v
    };
    let out = produce(&t, &args(true), &corpus());
    assert!(
        !out.status.success(),
        "the schema is not registered: {}",
        text(&out.stdout)
    );
    assert!(text(&out.stderr).contains("schema"), "{}", text(&out.stderr));
    let out = produce(&t, &args(false), &corpus());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = produce(&t, &args(true), &corpus());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 60, "one line per record");
}

#[test]
fn plain_avro_corpus_decodes_with_fastavro() {
    let t = new_topic("avro-plain", 2);
    let schema = data("event.avsc");
    let out = produce(
        &t,
        &["--value-format", "avro", "--value-schema", path(&schema)],
        &corpus(),
    );
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let report = check_corpus(&t, None, "");
    assert!(report.contains("\"equal\": 60"), "{report}");
}

/// Lines that violate the schema fail alone, named by line number and field; the rest of the
/// file is produced.
#[test]
fn bad_lines_are_reported_by_line_and_field_and_the_rest_is_produced() {
    let (_rt, reg) = registry();
    let t = new_topic("avro-bad", 3);
    let schema = data("event.avsc");
    let mut lines: Vec<serde_json::Value> = text(&corpus())
        .lines()
        .map(|l| serde_json::from_str(l).expect("corpus line"))
        .collect();
    lines[4]["n_int"] = serde_json::json!("forty-two");
    lines[8]["bogus"] = serde_json::json!(1);
    lines[11]["items"] = serde_json::json!([{"sku": "a", "qty": 1}, {"sku": "b"}]);
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let args = [
        "--value-format",
        "avro-confluent",
        "--value-schema",
        path(&schema),
        "--schema-registry",
        reg.url(),
    ];
    let out = produce(&t, &args, input.as_bytes());
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("line 5: the value does not fit its schema: field 'n_int': expected an int, got \"forty-two\""),
        "{err}"
    );
    assert!(
        err.contains("line 9: the value does not fit its schema: field 'bogus': unknown field"),
        "{err}"
    );
    assert!(
        err.contains("line 12: the value does not fit its schema: field 'items[1].qty': missing, and the schema gives no default"),
        "{err}"
    );
    assert!(
        text(&out.stdout).contains("records: 57 delivered, 3 failed"),
        "{}",
        text(&out.stdout)
    );
    check_corpus(&t, Some(reg.url()), "5,9,12");
    // --ignore-unknown-fields lets line 9 through (without its unknown member). Kafka does
    // not create topics on produce (tansu did): the test creates it.
    let t2 = new_topic("avro-ignore", 3);
    let mut args2 = args.to_vec();
    args2.push("--ignore-unknown-fields");
    let out = produce(&t2, &args2, input.as_bytes());
    assert!(
        text(&out.stdout).contains("records: 58 delivered, 2 failed"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn schema_evolution_registers_a_new_id_and_old_records_still_decode() {
    let (_rt, reg) = registry();
    let t = new_topic("avro-evolve", 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let v1 = schema_file(
        &dir,
        "v1.avsc",
        r#"{"type":"record","name":"Click","namespace":"ex","fields":[{"name":"user","type":"string"}]}"#,
    );
    let v2 = schema_file(
        &dir,
        "v2.avsc",
        r#"{"type":"record","name":"Click","namespace":"ex","fields":[{"name":"user","type":"string"},{"name":"page","type":["null","string"],"default":null}]}"#,
    );
    let v3 = schema_file(
        &dir,
        "v3.avsc",
        r#"{"type":"record","name":"Click","namespace":"ex","fields":[{"name":"user","type":"string"},{"name":"count","type":"int"}]}"#,
    );
    let run = |schema: &PathBuf, input: &str| {
        produce(
            &t,
            &[
                "--value-format",
                "avro-confluent",
                "--value-schema",
                path(schema),
                "--schema-registry",
                reg.url(),
            ],
            input.as_bytes(),
        )
    };
    let out = run(&v1, "{\"user\":\"a\"}\n{\"user\":\"b\"}\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&v2, "{\"user\":\"c\",\"page\":\"/home\"}\n{\"user\":\"d\"}\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A new required field without a default is not BACKWARD compatible: the registry's 409
    // reaches the user and nothing is produced.
    let out = run(&v3, "{\"user\":\"e\",\"count\":1}\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("HTTP 409 (error code 409)"),
        "{}",
        text(&out.stderr)
    );
    let (ok, dump) = avro_check(&["dump", &bootstrap(), &t, "4", "--registry", reg.url()]);
    assert!(ok, "{dump}");
    let rows: Vec<serde_json::Value> = dump
        .lines()
        .map(|l| serde_json::from_str(l).expect("dump line"))
        .collect();
    let ids: Vec<i64> = rows.iter().map(|r| r["schema_id"].as_i64().expect("id")).collect();
    assert_eq!(ids, vec![1, 1, 2, 2]);
    assert_eq!(rows[0]["value"], serde_json::json!({"user": "a"}));
    assert_eq!(rows[2]["value"], serde_json::json!({"user": "c", "page": "/home"}));
    assert_eq!(rows[3]["value"], serde_json::json!({"user": "d", "page": null}));
}

/// Registry down with a warm cache: production goes on. Registry down with a cold cache: a
/// clear error within the configured timeout.
#[test]
fn registry_outage_warm_cache_goes_on_cold_cache_fails_within_the_timeout() {
    let (rt, mut reg) = registry();
    let t = new_topic("avro-outage", 3);
    let schema = data("event.avsc");
    let bs = bootstrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_volley"))
        .args(["produce", "--bootstrap-servers", &bs, "--topic", &t])
        .args([
            "--value-format",
            "avro-confluent",
            "--value-schema",
            path(&schema),
            "--schema-registry",
            reg.url(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run volley");
    let mut stdin = child.stdin.take().expect("stdin");
    let corpus = corpus();
    let half = corpus
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(29)
        .map_or(0, |(i, _)| i + 1);
    stdin.write_all(&corpus[..half]).expect("first half");
    stdin.flush().expect("flush");
    // Wait until the schema is registered, then take the registry away.
    let start = Instant::now();
    while reg.requests() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "volley never asked the registry"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = read_back(&t, 1);
    reg.stop();
    stdin.write_all(&corpus[half..]).expect("second half");
    drop(stdin);
    let out = child.wait_with_output().expect("output");
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    assert!(
        text(&out.stdout).contains("records: 60 delivered, 0 failed"),
        "{}",
        text(&out.stdout)
    );
    drop(rt);
    // Cold cache: nothing listens at the registry's address any more.
    let t2 = topic("avro-cold");
    let start = Instant::now();
    let out = produce(
        &t2,
        &[
            "--value-format",
            "avro-confluent",
            "--value-schema",
            path(&schema),
            "--schema-registry",
            reg.url(),
            "-S",
            "schema.registry.request.timeout.ms=3000",
            "-S",
            "retries.wait.ms=200",
        ],
        &corpus,
    );
    let took = start.elapsed();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot resolve the value schema of topic"), "{err}");
    assert!(err.contains("not reachable within 3000 ms"), "{err}");
    assert!(
        took < Duration::from_secs(3 + 5),
        "the timeout bounds the wait: {took:?}"
    );
}

/// `--key-format avro-confluent`: the key field's value written with the key schema under
/// the `<topic>-key` subject.
#[test]
fn keys_in_their_own_format() {
    let (_rt, reg) = registry();
    let t = new_topic("avro-keys", 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let key_schema = schema_file(&dir, "key.avsc", "\"string\"");
    let out = produce(
        &t,
        &[
            "--key-field",
            "user",
            "--key-format",
            "avro-confluent",
            "--key-schema",
            path(&key_schema),
            "--value-format",
            "json",
            "--schema-registry",
            reg.url(),
        ],
        b"{\"user\":\"ann\",\"n\":1}\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let recs = read_back(&t, 1);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].key.as_deref(), Some(&b"\x00\x00\x00\x00\x01\x06ann"[..]));
    assert_eq!(recs[0].value.as_deref(), Some(&b"{\"user\":\"ann\",\"n\":1}"[..]));
}

/// `json-confluent`: the JSON Schema is registered with `schemaType: JSON` and each value is
/// the magic byte, the id and the JSON text, as Confluent's JSON serializer writes it.
#[test]
fn json_confluent_framing() {
    let (_rt, reg) = registry();
    let t = new_topic("json-confluent", 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = schema_file(
        &dir,
        "click.json",
        r#"{"title":"Click","type":"object","properties":{"user":{"type":"string"}}}"#,
    );
    let out = produce(
        &t,
        &[
            "--value-format",
            "json-confluent",
            "--value-schema",
            path(&schema),
            "--schema-registry",
            reg.url(),
        ],
        b"{\"user\":\"a\"}\nnot json\n",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("line 2: the value is not valid JSON"),
        "{}",
        text(&out.stderr)
    );
    let recs = read_back(&t, 1);
    assert_eq!(
        recs[0].value.as_deref(),
        Some(&b"\x00\x00\x00\x00\x01{\"user\":\"a\"}"[..])
    );
    let url = format!("{}/subjects/{t}-value/versions/latest", reg.url());
    let got = Command::new(python())
        .args([
            "-c",
            "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())",
            &url,
        ])
        .output()
        .expect("python");
    let latest: serde_json::Value = serde_json::from_slice(&got.stdout).expect("registry answer");
    assert_eq!(latest["schemaType"], "JSON");
    assert_eq!(latest["id"], 1);
}

/// Flag mistakes are usage errors (exit 2) with a clear text, before any broker is asked.
#[test]
fn format_flag_mistakes_are_usage_errors() {
    let schema = data("event.avsc");
    let cases: [(&[&str], &str); 6] = [
        (
            &["--value-schema", path(&schema)],
            "--value-schema needs --value-format",
        ),
        (
            &["--value-format", "protobuf"],
            "'--value-format protobuf' is not supported yet",
        ),
        (&["--value-format", "xml"], "invalid value for '--value-format'"),
        (&["--value-format", "avro"], "this format needs a schema file"),
        (
            &["--value-format", "avro-confluent", "--value-schema", path(&schema)],
            "need --schema-registry URL",
        ),
        (
            &[
                "--value-format",
                "avro",
                "--value-schema",
                path(&schema),
                "--schema-registry",
                "http://127.0.0.1:1",
            ],
            "--schema-registry is only used by the -confluent formats",
        ),
    ];
    for (args, want) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_volley"))
            .args(["produce", "--bootstrap-servers", "127.0.0.1:1", "--topic", "t"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run volley");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
