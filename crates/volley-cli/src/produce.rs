//! `volley produce`: one record per input line.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use volley::{BatchId, DeliveryFuture, Error, Header, Persistence, Producer, ProducerConfig, ProducerRecord};
use volley_schema::{
    parse_registry_settings, Format, JsonEncoder, MappingOptions, RegistryClient, RegistryOptions, Resolved, Role,
};

/// Arguments of `volley produce`.
#[derive(Debug, clap::Args)]
pub(crate) struct ProduceArgs {
    /// Brokers to bootstrap from: HOST:PORT[,HOST:PORT...].
    #[arg(long)]
    bootstrap_servers: String,
    /// Topic to produce to.
    #[arg(long)]
    topic: String,
    /// Input file, or - for standard input.
    #[arg(default_value = "-")]
    input: String,
    /// Parse each line as JSON and take the key from this top-level field.
    #[arg(long, conflicts_with = "key_separator")]
    key_field: Option<String>,
    /// Split each line at the first SEP into key and value.
    #[arg(long, value_name = "SEP")]
    key_separator: Option<String>,
    /// One producer property, key=value (repeatable).
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    properties: Vec<String>,
    /// Read producer properties from a Java .properties file.
    #[arg(long, value_name = "FILE")]
    producer_config: Option<PathBuf>,
    /// Shortcut for -X acks=...
    #[arg(long)]
    acks: Option<String>,
    /// Shortcut for -X compression.type=...
    #[arg(long)]
    compression: Option<String>,
    /// Shortcut for -X linger.ms=...
    #[arg(long)]
    linger_ms: Option<String>,
    /// Shortcut for -X batch.size=...
    #[arg(long)]
    batch_size: Option<String>,
    /// A header k=v added to every record (repeatable).
    #[arg(long, value_name = "K=V")]
    header: Vec<String>,
    /// Send every record to this partition.
    #[arg(long)]
    partition: Option<i32>,
    /// Write one JSON line per input line with its partition and offset, or its error.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Turn each JSON value into this format: json, avro, avro-confluent or json-confluent
    /// (default: the bytes as they are).
    #[arg(long, value_name = "FORMAT")]
    value_format: Option<String>,
    /// The value's schema: an Avro schema (.avsc) or, for json-confluent, a JSON Schema.
    #[arg(long, value_name = "FILE")]
    value_schema: Option<PathBuf>,
    /// Schema Registry base URL(s), comma-separated (for the -confluent formats).
    #[arg(long, value_name = "URL")]
    schema_registry: Option<String>,
    /// Turn the key (the --key-field value, or the part before --key-separator) into this
    /// format: string (default: its bare bytes), json, avro, avro-confluent or json-confluent.
    #[arg(long, value_name = "FORMAT")]
    key_format: Option<String>,
    /// The key's schema file.
    #[arg(long, value_name = "FILE")]
    key_schema: Option<PathBuf>,
    /// One Schema Registry setting, key=value with Confluent's names (repeatable).
    #[arg(short = 'S', value_name = "KEY=VALUE")]
    registry_settings: Vec<String>,
    /// Avro bytes and fixed values are base64 strings (default: one code point per byte).
    #[arg(long)]
    bytes_base64: bool,
    /// Skip JSON members the Avro record schema does not know (default: reject the line).
    #[arg(long)]
    ignore_unknown_fields: bool,
    /// How long Ctrl-C (or the end of input) may wait for outstanding records, in ms.
    #[arg(long, default_value_t = 30_000)]
    close_timeout_ms: u64,
}

fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

/// Parses a Java .properties file (comments, `=`/`:` separators, trimmed keys/values).
fn read_properties(path: &PathBuf) -> Result<Vec<(String, String)>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read --producer-config {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with('!') {
            continue;
        }
        let Some(idx) = l.find(['=', ':']) else {
            return Err(format!("{}:{}: expected key=value, got '{l}'", path.display(), i + 1));
        };
        out.push((l[..idx].trim().to_owned(), l[idx + 1..].trim().to_owned()));
    }
    Ok(out)
}

/// Builds the producer config: the `--producer-config` file (where other Kafka clients' keys
/// are ignored with a warning), then `-X` (strict), then the shortcuts. Warnings are printed.
fn build_config(a: &ProduceArgs) -> Result<ProducerConfig, String> {
    let mut b = ProducerConfig::builder();
    if let Some(f) = &a.producer_config {
        for (k, v) in read_properties(f)? {
            b = b.set_shared(&k, &v).map_err(|e| format!("{}: {e}", f.display()))?;
        }
    }
    let mut props: Vec<(String, String)> = Vec::new();
    for x in &a.properties {
        let Some((k, v)) = x.split_once('=') else {
            return Err(format!("invalid -X '{x}': expected key=value"));
        };
        props.push((k.to_owned(), v.to_owned()));
    }
    for (k, v) in [
        ("acks", &a.acks),
        ("compression.type", &a.compression),
        ("linger.ms", &a.linger_ms),
        ("batch.size", &a.batch_size),
    ] {
        if let Some(v) = v {
            props.push((k.to_owned(), v.clone()));
        }
    }
    props.push(("bootstrap.servers".into(), a.bootstrap_servers.clone()));
    for (k, v) in &props {
        b = b.set(k, v).map_err(|e| e.to_string())?;
    }
    let config = b.build().map_err(|e| e.to_string())?;
    for w in &config.warnings {
        eprintln!("warning: {w}");
    }
    Ok(config)
}

enum Entry {
    Sent {
        line: u64,
        key: Option<Bytes>,
        bytes: usize,
        delivery: DeliveryFuture,
    },
    Bad {
        line: u64,
        cause: String,
        error: String,
    },
}

#[derive(Default)]
struct Summary {
    delivered: u64,
    bytes: u64,
    keyless: u64,
    per_partition: BTreeMap<i32, u64>,
    failures: BTreeMap<String, u64>,
    failed: u64,
}

fn json_str(b: &[u8]) -> String {
    serde_json::Value::String(String::from_utf8_lossy(b).into_owned()).to_string()
}

/// Batches that failed as possibly persisted, and those a later acknowledgement proved
/// persisted (`Producer::on_settled`): each of their records gets a second report line
/// `{"line": N, "persistence": "persisted_later", "partition": P}`.
#[derive(Default)]
struct Settling {
    waiting: HashMap<BatchId, Vec<(u64, i32)>>,
    settled: HashSet<BatchId>,
}

impl Settling {
    /// Reads the events that came in; returns the report lines they complete.
    fn poll(&mut self, events: &mut mpsc::UnboundedReceiver<BatchId>) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(id) = events.try_recv() {
            self.settled.insert(id);
            for (line, partition) in self.waiting.remove(&id).unwrap_or_default() {
                lines.push(persisted_later(line, partition));
            }
        }
        lines
    }

    /// A record of batch `id` failed possibly persisted: a report line now if its batch was
    /// already proven persisted, else later.
    fn failed(&mut self, id: BatchId, line: u64, partition: i32) -> Option<String> {
        if self.settled.contains(&id) {
            return Some(persisted_later(line, partition));
        }
        self.waiting.entry(id).or_default().push((line, partition));
        None
    }
}

fn persisted_later(line: u64, partition: i32) -> String {
    format!("{{\"line\":{line},\"persistence\":\"persisted_later\",\"partition\":{partition}}}")
}

async fn collect(
    mut rx: mpsc::Receiver<Entry>,
    mut settled_rx: mpsc::UnboundedReceiver<BatchId>,
    report: Option<PathBuf>,
) -> Result<Summary, String> {
    let mut settling = Settling::default();
    let mut out = match &report {
        Some(p) => Some(tokio::io::BufWriter::new(
            tokio::fs::File::create(p)
                .await
                .map_err(|e| format!("cannot create --report {}: {e}", p.display()))?,
        )),
        None => None,
    };
    let mut s = Summary::default();
    while let Some(e) = rx.recv().await {
        let line_json = match e {
            Entry::Bad { line, cause, error } => {
                eprintln!("line {line}: {error}");
                s.failed += 1;
                *s.failures.entry(cause).or_default() += 1;
                format!("{{\"line\":{line},\"error\":{}}}", json_str(error.as_bytes()))
            }
            Entry::Sent {
                line,
                key,
                bytes,
                delivery,
            } => {
                let key_json = key
                    .as_ref()
                    .map(|k| format!(",\"key\":{}", json_str(k)))
                    .unwrap_or_default();
                let partition = delivery.partition();
                match delivery.await {
                    Ok(m) => {
                        s.delivered += 1;
                        s.bytes += bytes as u64;
                        *s.per_partition.entry(m.partition).or_default() += 1;
                        let off = m.offset.map_or("null".to_owned(), |o| o.to_string());
                        format!(
                            "{{\"line\":{line}{key_json},\"partition\":{},\"offset\":{off},\"timestamp\":{}}}",
                            m.partition, m.timestamp
                        )
                    }
                    Err(e) => {
                        s.failed += 1;
                        let cause = cause_of(&e.error);
                        *s.failures.entry(cause).or_default() += 1;
                        let p = match e.persistence {
                            Persistence::NotPersisted => "not_persisted",
                            Persistence::PossiblyPersisted => "possibly_persisted",
                        };
                        let mut text = format!(
                            "{{\"line\":{line}{key_json},\"error\":{},\"persistence\":\"{p}\"}}",
                            json_str(e.error.to_string().as_bytes())
                        );
                        if let Some(later) = e.batch.and_then(|id| settling.failed(id, line, partition)) {
                            text.push('\n');
                            text.push_str(&later);
                        }
                        text
                    }
                }
            }
        };
        let mut lines = vec![line_json];
        lines.extend(settling.poll(&mut settled_rx));
        if let Some(o) = out.as_mut() {
            for l in lines {
                o.write_all(l.as_bytes()).await.map_err(|e| e.to_string())?;
                o.write_all(b"\n").await.map_err(|e| e.to_string())?;
            }
        }
    }
    // Every outcome is in; an event for a batch always comes before the acknowledgement
    // that proved it, so the last ones are in the channel now.
    let rest = settling.poll(&mut settled_rx);
    if let Some(o) = out.as_mut() {
        for l in rest {
            o.write_all(l.as_bytes()).await.map_err(|e| e.to_string())?;
            o.write_all(b"\n").await.map_err(|e| e.to_string())?;
        }
    }
    if let Some(mut o) = out {
        o.flush().await.map_err(|e| e.to_string())?;
    }
    Ok(s)
}

/// A short cause for the summary's failure table.
fn cause_of(e: &Error) -> String {
    match e {
        Error::Broker { code, .. } => code.name().to_owned(),
        Error::DeliveryTimeout { .. } => "delivery timeout".into(),
        Error::Closed { .. } => "producer closed before delivery".into(),
        Error::RecordTooLarge { setting, .. } => format!("record larger than {setting}"),
        Error::TopicNotAvailable { .. } => "topic not available".into(),
        other => other.to_string(),
    }
}

/// The serializers `--key-format`/`--value-format` ask for, with their schemas resolved.
struct Encoders {
    key: Option<(Arc<JsonEncoder>, Arc<Resolved>)>,
    value: Option<(Arc<JsonEncoder>, Arc<Resolved>)>,
}

fn read_schema(flag: &str, path: &Option<PathBuf>) -> Result<Option<String>, String> {
    path.as_ref()
        .map(|p| std::fs::read_to_string(p).map_err(|e| format!("cannot read {flag} {}: {e}", p.display())))
        .transpose()
}

/// Builds the encoders and resolves their schemas for the topic (registering or looking them
/// up once), so that a registry problem stops the run before any line is read.
/// Errors are a usage error (exit 2) or, for the registry's own answers and outages, a
/// failure of the run (exit 1).
async fn build_encoders(a: &ProduceArgs) -> Result<Encoders, (String, u8)> {
    let usage = |e: String| (e, 2u8);
    build_encoders_inner(a).await.map_err(|e| match e {
        Setup::Usage(m) => usage(m),
        Setup::Registry(m) => (m, 1),
    })
}

enum Setup {
    Usage(String),
    Registry(String),
}

impl From<String> for Setup {
    fn from(s: String) -> Self {
        Setup::Usage(s)
    }
}

impl From<&str> for Setup {
    fn from(s: &str) -> Self {
        Setup::Usage(s.to_owned())
    }
}

async fn build_encoders_inner(a: &ProduceArgs) -> Result<Encoders, Setup> {
    let mut settings = Vec::new();
    for s in &a.registry_settings {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| Setup::Usage(format!("invalid -S '{s}': expected key=value")))?;
        settings.push((k.to_owned(), v.to_owned()));
    }
    let value_format = a
        .value_format
        .as_deref()
        .map(|f| Format::parse("--value-format", f))
        .transpose()
        .map_err(|e| e.to_string())?;
    let key_format = match a.key_format.as_deref() {
        None | Some("string") => None,
        Some(f) => Some(Format::parse("--key-format", f).map_err(|e| e.to_string())?),
    };
    if key_format.is_some() && a.key_field.is_none() && a.key_separator.is_none() {
        return Err("--key-format needs a key: --key-field or --key-separator".into());
    }
    if a.value_schema.is_some() && value_format.is_none() {
        return Err("--value-schema needs --value-format".into());
    }
    if a.key_schema.is_some() && key_format.is_none() {
        return Err("--key-schema needs --key-format".into());
    }
    let needs_registry =
        value_format.is_some_and(Format::uses_registry) || key_format.is_some_and(Format::uses_registry);
    let url = a.schema_registry.clone().or_else(|| {
        settings
            .iter()
            .find(|(k, _)| k == "schema.registry.url")
            .map(|(_, v)| v.clone())
    });
    if a.schema_registry.is_some() && !needs_registry {
        return Err("--schema-registry is only used by the -confluent formats".into());
    }
    if !settings.is_empty() && !needs_registry {
        return Err("-S settings are for the Schema Registry, which only the -confluent formats use".into());
    }
    let (registry, options) = match (&url, needs_registry) {
        (Some(u), true) => {
            let (cfg, opts) = parse_registry_settings(u, &settings).map_err(|e| e.to_string())?;
            (
                Some(Arc::new(RegistryClient::new(cfg).map_err(|e| e.to_string())?)),
                opts,
            )
        }
        (None, true) => return Err("the -confluent formats need --schema-registry URL".into()),
        _ => (None, RegistryOptions::default()),
    };
    let mapping = MappingOptions {
        bytes_base64: a.bytes_base64,
        ignore_unknown_fields: a.ignore_unknown_fields,
    };
    let mut out = Encoders { key: None, value: None };
    for (role, format, schema_flag, schema_path) in [
        (Role::Key, key_format, "--key-schema", &a.key_schema),
        (Role::Value, value_format, "--value-schema", &a.value_schema),
    ] {
        let Some(format) = format else { continue };
        let schema = read_schema(schema_flag, schema_path)?;
        let enc = JsonEncoder::new(
            format,
            role,
            schema.as_deref(),
            registry.clone(),
            options.clone(),
            mapping,
        )
        .map_err(|e| e.to_string())?;
        let resolved = enc.prepare(&a.topic).await.map_err(|e| {
            Setup::Registry(format!(
                "cannot resolve the {} schema of topic '{}': {e}",
                role_name(role),
                a.topic
            ))
        })?;
        let slot = Some((Arc::new(enc), resolved));
        match role {
            Role::Key => out.key = slot,
            Role::Value => out.value = slot,
        }
    }
    Ok(out)
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Key => "key",
        Role::Value => "value",
    }
}

/// Encodes one side of a record with its encoder; the error names the field that does not fit.
fn encode_side(
    side: &str,
    enc: &(Arc<JsonEncoder>, Arc<Resolved>),
    json: Option<&serde_json::Value>,
    raw: &[u8],
) -> Result<Bytes, String> {
    let parsed;
    let value = match json {
        Some(v) => v,
        None => {
            parsed = serde_json::from_slice::<serde_json::Value>(raw)
                .map_err(|e| format!("{side} is not valid JSON: {e}"))?;
            &parsed
        }
    };
    let mut out = Vec::with_capacity(raw.len() + 5);
    enc.0
        .encode(&enc.1, value, raw, &mut out)
        .map_err(|e| format!("{side} does not fit its schema: {e}"))?;
    Ok(Bytes::from(out))
}

/// Splits a line into key and value and applies the encoders.
fn make_record(a: &ProduceArgs, enc: &Encoders, line: &[u8]) -> Result<(Option<Bytes>, Bytes), String> {
    if enc.key.is_none() && enc.value.is_none() {
        return split_record(a, line);
    }
    let (key_raw, key_json, value_raw, value_json): (
        Option<Bytes>,
        Option<serde_json::Value>,
        &[u8],
        Option<serde_json::Value>,
    ) = if let Some(field) = &a.key_field {
        let v: serde_json::Value = serde_json::from_slice(line).map_err(|e| format!("not valid JSON: {e}"))?;
        let obj = v.as_object().ok_or("not a JSON object (--key-field needs one)")?;
        let k = obj.get(field).filter(|k| !k.is_null()).cloned();
        let raw = k.as_ref().map(|k| match k {
            serde_json::Value::String(s) => Bytes::copy_from_slice(s.as_bytes()),
            other => Bytes::from(other.to_string()),
        });
        (raw, k, line, Some(v))
    } else {
        let (k, v) = split_record(a, line)?;
        let vlen = v.len();
        (k, None, &line[line.len() - vlen..], None)
    };
    let key = match (&enc.key, key_raw) {
        (Some(e), Some(raw)) => {
            // A --key-field value is re-written as JSON text; a --key-separator key is JSON text.
            let text = key_json.as_ref().map(serde_json::Value::to_string);
            let raw_bytes: &[u8] = text.as_deref().map_or(&raw[..], str::as_bytes);
            Some(encode_side("the key", e, key_json.as_ref(), raw_bytes)?)
        }
        (_, raw) => raw,
    };
    let value = match &enc.value {
        Some(e) => encode_side("the value", e, value_json.as_ref(), value_raw)?,
        None => Bytes::copy_from_slice(value_raw),
    };
    Ok((key, value))
}

fn split_record(a: &ProduceArgs, line: &[u8]) -> Result<(Option<Bytes>, Bytes), String> {
    if let Some(field) = &a.key_field {
        let v: serde_json::Value = serde_json::from_slice(line).map_err(|e| format!("not valid JSON: {e}"))?;
        let obj = v.as_object().ok_or("not a JSON object (--key-field needs one)")?;
        let key = match obj.get(field) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(Bytes::copy_from_slice(s.as_bytes())),
            Some(other) => Some(Bytes::from(other.to_string())),
        };
        return Ok((key, Bytes::copy_from_slice(line)));
    }
    if let Some(sep) = &a.key_separator {
        let sep = sep.as_bytes();
        if sep.is_empty() {
            return Err("--key-separator is empty".into());
        }
        let pos = line
            .windows(sep.len())
            .position(|w| w == sep)
            .ok_or("no key separator found")?;
        return Ok((
            Some(Bytes::copy_from_slice(&line[..pos])),
            Bytes::copy_from_slice(&line[pos + sep.len()..]),
        ));
    }
    Ok((None, Bytes::copy_from_slice(line)))
}

pub(crate) async fn run(a: ProduceArgs) -> ExitCode {
    let config = match build_config(&a) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let mut headers = Vec::new();
    for h in &a.header {
        let Some((k, v)) = h.split_once('=') else {
            return usage(format!("invalid --header '{h}': expected k=v"));
        };
        headers.push(Header::new(k, Bytes::copy_from_slice(v.as_bytes())));
    }
    let (input, total_bytes): (Box<dyn AsyncRead + Unpin + Send>, Option<u64>) = if a.input == "-" {
        (Box::new(tokio::io::stdin()), None)
    } else {
        match tokio::fs::File::open(&a.input).await {
            Ok(f) => {
                let len = f.metadata().await.ok().map(|m| m.len());
                (Box::new(f), len)
            }
            Err(e) => return usage(format!("cannot open {}: {e}", a.input)),
        }
    };
    let encoders = match build_encoders(&a).await {
        Ok(e) => e,
        Err((e, code)) => {
            eprintln!("error: {e}");
            return ExitCode::from(code);
        }
    };
    let producer = match Producer::new(config) {
        Ok(p) => Arc::new(p),
        Err(e) => return usage(e),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let interrupted = Arc::new(tokio::sync::Notify::new());
    {
        let stop = Arc::clone(&stop);
        let interrupted = Arc::clone(&interrupted);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("interrupted: no more input is read; flushing what was sent");
                stop.store(true, Ordering::Release);
                interrupted.notify_one();
            }
        });
    }
    let progress = (std::io::stderr().is_terminal()).then(|| {
        let pb = match total_bytes {
            Some(n) => indicatif::ProgressBar::new(n),
            None => indicatif::ProgressBar::new_spinner(),
        };
        pb.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {bytes}/{total_bytes} read, {msg} [{elapsed_precise}]")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    let (tx, rx) = mpsc::channel::<Entry>(65_536);
    let (settled_tx, settled_rx) = mpsc::unbounded_channel();
    producer.on_settled(move |s| {
        tracing::info!(topic = %s.topic, partition = s.partition, records = s.records, "records reported possibly persisted are persisted");
        let _ = settled_tx.send(s.batch);
    });
    let collector = tokio::spawn(collect(rx, settled_rx, a.report.clone()));
    let start = Instant::now();
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut buf = Vec::with_capacity(4096);
    let mut line_no = 0u64;
    let mut read_bytes = 0u64;
    let mut fatal: Option<String> = None;
    let mut keyless = 0u64;
    loop {
        if stop.load(Ordering::Acquire) {
            break;
        }
        buf.clear();
        // Ctrl-C must also stop a read that waits for input that may never come.
        let read = tokio::select! {
            r = reader.read_until(b'\n', &mut buf) => r,
            () = interrupted.notified() => break,
        };
        let n = match read {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                fatal = Some(format!("cannot read input: {e}"));
                break;
            }
        };
        read_bytes += n as u64;
        line_no += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        let entry = match make_record(&a, &encoders, &buf) {
            Err(error) => Entry::Bad {
                line: line_no,
                cause: if error.contains("does not fit its schema") {
                    "value does not fit the schema".into()
                } else {
                    "malformed input line".into()
                },
                error,
            },
            Ok((key, value)) => {
                if key.is_none() {
                    keyless += 1;
                }
                let bytes = value.len() + key.as_ref().map_or(0, Bytes::len);
                let record = ProducerRecord {
                    topic: a.topic.clone(),
                    partition: a.partition,
                    key: key.clone(),
                    value: Some(value),
                    headers: headers.clone(),
                    timestamp: None,
                };
                match producer.send(record).await.map_err(Error::from) {
                    Ok(delivery) => Entry::Sent {
                        line: line_no,
                        key,
                        bytes,
                        delivery,
                    },
                    Err(
                        e @ (Error::TopicNotAvailable { .. }
                        | Error::Closed { .. }
                        | Error::UnknownPartition { .. }
                        | Error::InvalidTopic { .. }),
                    ) => {
                        fatal = Some(e.to_string());
                        let _ = tx
                            .send(Entry::Bad {
                                line: line_no,
                                cause: cause_of(&e),
                                error: e.to_string(),
                            })
                            .await;
                        break;
                    }
                    Err(e) => Entry::Bad {
                        line: line_no,
                        cause: cause_of(&e),
                        error: e.to_string(),
                    },
                }
            }
        };
        if tx.send(entry).await.is_err() {
            break;
        }
        if let Some(pb) = &progress {
            if line_no.is_multiple_of(4096) {
                pb.set_position(read_bytes);
                pb.set_message(format!("{line_no} lines"));
            }
        }
    }
    drop(tx);
    let stopped_early = stop.load(Ordering::Acquire);
    producer.close(Duration::from_millis(a.close_timeout_ms)).await;
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    let mut summary = match collector.await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return usage(e),
        Err(e) => return usage(format!("internal error: {e}")),
    };
    summary.keyless = keyless;
    let elapsed = start.elapsed().as_secs_f64().max(1e-9);
    if let Some(f) = &fatal {
        eprintln!("error: {f}");
    }
    println!(
        "records: {} delivered, {} failed, {} read",
        summary.delivered, summary.failed, line_no
    );
    println!("bytes delivered: {} (keys and values)", summary.bytes);
    if a.key_field.is_some() {
        println!("records without key: {}", summary.keyless);
    }
    for (p, n) in &summary.per_partition {
        println!("partition {p}: {n} records");
    }
    for (c, n) in &summary.failures {
        println!("failed ({c}): {n}");
    }
    if stopped_early {
        println!("stopped by Ctrl-C after line {line_no}; lines after it were not read");
    }
    println!(
        "throughput: {:.0} records/s, {:.2} MB/s over {:.2} s",
        summary.delivered as f64 / elapsed,
        summary.bytes as f64 / elapsed / 1e6,
        elapsed
    );
    if summary.failed > 0 || fatal.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 10: every record of a possibly-persisted batch that a later acknowledgement
    /// proved persisted gets a `persisted_later` report line, whether the event comes
    /// before or after the collector reads the record's failure.
    #[test]
    fn settled_batches_get_a_persisted_later_line_per_record() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut s = Settling::default();
        // Failure first, event later: the lines come with the event.
        assert_eq!(s.failed(BatchId(7), 3, 1), None);
        assert_eq!(s.failed(BatchId(7), 4, 1), None);
        assert_eq!(s.poll(&mut rx), Vec::<String>::new());
        tx.send(BatchId(7)).expect("send");
        assert_eq!(
            s.poll(&mut rx),
            vec![
                r#"{"line":3,"persistence":"persisted_later","partition":1}"#.to_owned(),
                r#"{"line":4,"persistence":"persisted_later","partition":1}"#.to_owned(),
            ]
        );
        // Event first, failure later: the line comes with the failure.
        tx.send(BatchId(9)).expect("send");
        assert!(s.poll(&mut rx).is_empty());
        assert_eq!(
            s.failed(BatchId(9), 8, 0).as_deref(),
            Some(r#"{"line":8,"persistence":"persisted_later","partition":0}"#)
        );
        // A batch never settled gives nothing.
        assert_eq!(s.failed(BatchId(11), 9, 0), None);
        assert!(s.poll(&mut rx).is_empty());
    }
}
