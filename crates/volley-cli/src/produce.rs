//! `volley produce`: one record per input line.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;
use volley::{Error, Header, Producer, ProducerConfig, RecordRef};

/// Arguments of `volley produce`.
#[derive(Debug, clap::Args)]
pub(crate) struct ProduceArgs {
    /// Brokers to bootstrap from: HOST[:PORT][,HOST[:PORT]...] (no port: 9092); may come from
    /// bootstrap.servers in --producer-config or -X instead.
    #[arg(short = 'b', long)]
    bootstrap_servers: Option<String>,
    /// Topic to produce to.
    #[arg(short = 't', long)]
    topic: String,
    /// Input files, read one after another as one stream, or - for standard input. A file's
    /// end also ends its last record.
    #[arg(default_value = "-")]
    input: Vec<String>,
    /// Parse each line as JSON and take the key from this top-level field. A string key is
    /// unescaped; any other value is its JSON text exactly as written (`1.50` stays `1.50`).
    #[arg(long, conflicts_with_all = ["key_separator", "key_delimiter", "key", "key_path"])]
    key_field: Option<String>,
    /// Parse each line as JSON and take the key at this JSON Pointer (RFC 6901:
    /// /meta/user_id, /items/0/sku); keys as with --key-field.
    #[arg(long, value_name = "POINTER", conflicts_with_all = ["key_separator", "key_delimiter", "key"])]
    key_path: Option<String>,
    /// The pointer --key-field/--key-path stand for, as tokens (set by `run`).
    #[arg(skip)]
    key_pointer: Option<Vec<String>>,
    /// Split each line at the first SEP into key and value (SEP taken literally).
    #[arg(long, value_name = "SEP", conflicts_with_all = ["key_delimiter", "key"])]
    key_separator: Option<String>,
    /// Split each record at the first DELIM into key and value; DELIM may hold the escapes
    /// \n, \t, \0, \r, \xNN and \\ (kcat's -K).
    #[arg(short = 'K', long, value_name = "DELIM", conflicts_with = "key")]
    key_delimiter: Option<String>,
    /// One fixed key for every record (kcat's -k).
    #[arg(short = 'k', long, value_name = "KEY")]
    key: Option<String>,
    /// The record delimiter instead of a newline, with the escapes of -K (kcat's -D). With
    /// it, a trailing \r is kept.
    #[arg(short = 'D', long, value_name = "DELIM")]
    delimiter: Option<String>,
    /// Stop after N records read (kcat's -c).
    #[arg(short = 'c', long, value_name = "N")]
    count: Option<u64>,
    /// An empty value is sent as a null value, a tombstone (kcat's -Z).
    #[arg(short = 'Z', long)]
    null_empty: bool,
    /// A value equal to TEXT is sent as a null value (a tombstone).
    #[arg(long, value_name = "TEXT")]
    null_marker: Option<String>,
    /// Empty records are not sent (they are counted as skipped; line numbers still count them).
    #[arg(long)]
    skip_empty: bool,
    /// Each input file is one record's value, read whole and sent as it is (binary-safe).
    #[arg(long, conflicts_with_all = ["delimiter", "key_separator", "key_delimiter", "key_field", "key_path"])]
    value_file_per_record: bool,
    /// Take each record's timestamp from this JSON Pointer: epoch milliseconds, or an ISO-8601
    /// string (2026-12-05T22:22:15.123Z); missing or null: the producer's clock.
    #[arg(long, value_name = "POINTER")]
    timestamp_path: Option<String>,
    /// Add the header NAME with the value at POINTER of each JSON record (strings unescaped,
    /// other values as written; missing or null: no header). Repeatable.
    #[arg(long, value_name = "NAME=POINTER")]
    header_path: Vec<String>,
    /// One record at a time, each acknowledged before the next is read (for debugging: slow).
    #[arg(long)]
    sync: bool,
    /// Parse, serialize and partition each record, print where it would go as one JSON line,
    /// and send nothing (schemas are looked up in the registry, never registered). The
    /// partition count comes from the broker, or from --partitions.
    #[arg(long, conflicts_with_all = ["report", "metrics_addr", "stats", "sync"])]
    dry_run: bool,
    /// With --dry-run: the topic's partition count, so that no broker is asked.
    #[arg(long, value_name = "N", requires = "dry_run")]
    partitions: Option<u32>,
    /// The separator -K/--key-separator stand for, as bytes (set by `run`).
    #[arg(skip)]
    key_split: Option<Vec<u8>>,
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
    #[arg(short = 'z', long)]
    compression: Option<String>,
    /// Shortcut for -X linger.ms=...
    #[arg(long)]
    linger_ms: Option<String>,
    /// Shortcut for -X batch.size=...
    #[arg(long)]
    batch_size: Option<String>,
    /// A header k=v added to every record (repeatable).
    #[arg(short = 'H', long, value_name = "K=V")]
    header: Vec<String>,
    /// Send every record to this partition (-1: the partitioner decides).
    #[arg(short = 'p', long, allow_negative_numbers = true)]
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
    /// How long a stopping signal (or the end of input) may wait for outstanding records, in ms.
    #[arg(long, default_value_t = 30_000)]
    close_timeout_ms: u64,
    /// Serve `/metrics` (Prometheus text format) on HOST:PORT while running.
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: Option<String>,
    /// Write a statistics document (librdkafka's STATISTICS.md shape) per line to FILE every
    /// `statistics.interval.ms` (5 s when not set).
    #[arg(long, value_name = "FILE")]
    stats: Option<std::path::PathBuf>,
    /// Show progress every N ms (default: a live line rewritten every 1000 ms when standard
    /// error is a terminal, else a plain line every 10000 ms).
    #[arg(long, value_name = "N")]
    progress_interval_ms: Option<u64>,
    /// No progress output.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Write the final summary to FILE as one JSON object, on every exit (signals and
    /// errors included).
    #[arg(long, value_name = "FILE")]
    summary_json: Option<PathBuf>,
    /// Load the input exactly once, resumable across crashes: every line goes out inside
    /// Kafka transactions with this `transactional.id`, each committing the run's progress
    /// (group volley-load.ID). Run again with the same id after a crash or a signal: the
    /// earlier run is fenced and the lines it committed are skipped. Inputs must be regular
    /// files.
    #[arg(long, value_name = "ID")]
    transactional_id: Option<String>,
    /// Lines per transaction with a transactional id (default 10000; the last may be smaller).
    #[arg(long, value_name = "N")]
    transaction_records: Option<u64>,
    /// A transaction ends after this many ms even if it has fewer lines (default 5000).
    #[arg(long, value_name = "MS")]
    transaction_duration_ms: Option<u64>,
    /// With a transactional id: ignore the progress an earlier run committed (even for
    /// another input) and load the input from its first line.
    #[arg(long)]
    restart: bool,
}

mod dry_run;
mod fields;
mod input;
mod json_key;
pub(crate) mod progress;
mod record;
mod report;
mod signals;
mod summary;
mod txn;

use progress::{Counters, Progress};
use record::{build_encoders, record_parts, Parts};
use report::{cause_of, collect, Entry};
use summary::End;

fn usage(msg: impl std::fmt::Display) -> End {
    let msg = msg.to_string();
    eprintln!("error: {msg}");
    End::early(2, msg)
}

/// Reads a Java .properties file (Java's syntax: `=`/`:`/space separators, comments,
/// continuations, escapes).
fn read_properties(path: &PathBuf) -> Result<Vec<(String, String)>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read --producer-config {}: {e}", path.display()))?;
    volley::config::parse_properties(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Builds a producer config from the command line: the `--producer-config` file (where
/// other Kafka clients' keys are ignored with a warning), then `-X` (strict), then `extra`
/// (the shortcut flags, the bootstrap servers). Warnings are printed; the `debug` contexts
/// reach the log filter.
pub(crate) fn config_from(
    file: Option<&PathBuf>,
    properties: &[String],
    extra: Vec<(String, String)>,
) -> Result<ProducerConfig, String> {
    let mut b = ProducerConfig::builder();
    if let Some(f) = file {
        for (k, v) in read_properties(f)? {
            b = b.set_shared(&k, &v).map_err(|e| format!("{}: {e}", f.display()))?;
        }
    }
    let mut props: Vec<(String, String)> = Vec::new();
    for x in properties {
        let Some((k, v)) = x.split_once('=') else {
            return Err(format!("invalid -X '{x}': expected key=value"));
        };
        props.push((k.to_owned(), v.to_owned()));
    }
    props.extend(extra);
    for (k, v) in &props {
        b = b.set(k, v).map_err(|e| e.to_string())?;
    }
    let config = b.build().map_err(|e| e.to_string())?;
    crate::apply_debug_contexts(&config);
    for w in &config.warnings {
        eprintln!("warning: {w}");
    }
    Ok(config)
}

/// The producer config of `volley produce`: [`config_from`] with the shortcuts.
fn build_config(a: &ProduceArgs) -> Result<ProducerConfig, String> {
    let mut extra = Vec::new();
    for (k, v) in [
        ("acks", &a.acks),
        ("compression.type", &a.compression),
        ("linger.ms", &a.linger_ms),
        ("batch.size", &a.batch_size),
    ] {
        if let Some(v) = v {
            extra.push((k.to_owned(), v.clone()));
        }
    }
    if let Some(b) = &a.bootstrap_servers {
        extra.push(("bootstrap.servers".into(), b.clone()));
    }
    if let Some(id) = &a.transactional_id {
        extra.push(("transactional.id".into(), id.clone()));
    }
    if a.stats.is_some() && !a.properties.iter().any(|x| x.starts_with("statistics.interval.ms=")) {
        // --stats without an interval: every 5 s.
        extra.push(("statistics.interval.ms".into(), "5000".into()));
    }
    let config = config_from(a.producer_config.as_ref(), &a.properties, extra)?;
    // -X transactional.id (or the --producer-config file) means --transactional-id.
    if config.transactional_id.is_none() {
        for (set, flag) in [
            (a.transaction_records.is_some(), "--transaction-records"),
            (a.transaction_duration_ms.is_some(), "--transaction-duration-ms"),
            (a.restart, "--restart"),
        ] {
            if set {
                return Err(format!("{flag} needs --transactional-id"));
            }
        }
    }
    Ok(config)
}

/// Runs `volley produce`; the summary JSON is written whatever way the run ends.
pub(crate) async fn run(a: ProduceArgs) -> ExitCode {
    let json = a.summary_json.clone();
    let end = produce(a).await;
    let mut code = end.code;
    if let Some(path) = json {
        if let Err(e) = end.write_json(&path) {
            eprintln!("error: {e}");
            code = code.max(1);
        }
    }
    ExitCode::from(code)
}

async fn produce(mut a: ProduceArgs) -> End {
    a.key_split = match (&a.key_separator, &a.key_delimiter) {
        (Some(s), _) => Some(s.as_bytes().to_vec()),
        (None, Some(d)) => match record::unescape("-K", d) {
            Ok(b) => Some(b),
            Err(e) => return usage(e),
        },
        (None, None) => None,
    };
    a.key_pointer = match (&a.key_field, &a.key_path) {
        (Some(f), _) => Some(json_key::field_pointer(f)),
        (None, Some(p)) => match json_key::parse_pointer(p) {
            Ok(t) => Some(t),
            Err(e) => return usage(e),
        },
        (None, None) => None,
    };
    let delimiter = match a.delimiter.as_deref().map(|d| record::unescape("-D", d)).transpose() {
        Ok(Some(d)) if d.is_empty() => return usage("-D is empty"),
        Ok(d) => d,
        Err(e) => return usage(e),
    };
    let partition = match a.partition {
        Some(-1) | None => None,
        Some(p) if p >= 0 => Some(p),
        Some(p) => {
            return usage(format!(
                "invalid value '{p}' for '-p': a partition number, or -1 for the partitioner"
            ))
        }
    };
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
    // Every file is opened before anything is sent, so that a wrong name stops the run at once.
    let fields = match fields::Fields::parse(a.timestamp_path.as_deref(), &a.header_path) {
        Ok(f) => f,
        Err(e) => return usage(e),
    };
    if a.input.iter().filter(|n| *n == "-").count() > 1 {
        return usage("standard input (-) can be read only once");
    }
    if a.key_delimiter.as_deref() == Some("") || a.key_separator.as_deref() == Some("") {
        return usage("the key delimiter (-K / --key-separator) is empty");
    }
    let mut inputs: Vec<input::Source> = Vec::new();
    let mut total_bytes = Some(0u64);
    // A dry run of a load checks its input as the load would (regular files only).
    let progress = match &config.transactional_id {
        Some(id) => match txn::loader_input(&a.input) {
            Ok(f) => (!a.dry_run).then(|| txn::Progress::new(id, &a.topic, f)),
            Err(e) => return usage(e),
        },
        None => None,
    };
    for name in &a.input {
        if name == "-" {
            inputs.push(Box::new(tokio::io::stdin()));
            total_bytes = None;
            continue;
        }
        match tokio::fs::File::open(name).await {
            Ok(f) => {
                let meta = f.metadata().await.ok();
                if meta.as_ref().is_some_and(std::fs::Metadata::is_dir) {
                    return usage(format!("cannot read {name}: it is a directory"));
                }
                let len = meta.map(|m| m.len());
                total_bytes = total_bytes.zip(len).map(|(t, l)| t + l);
                inputs.push(Box::new(f));
            }
            Err(e) => return usage(format!("cannot open {name}: {e}")),
        }
    }
    let Some(mut input) = input::Input::new(inputs, delimiter, a.value_file_per_record) else {
        return usage("no input");
    };
    // Signals are heard from here on: a registry that is slow to answer while the encoders
    // are built, or a broker slow to bind the exporter, can be interrupted too.
    let mut stopped = match signals::install() {
        Ok(rx) => rx,
        Err(e) => return usage(format!("cannot listen for signals: {e}")),
    };
    let mut interrupted = stopped.clone();
    let encoders = tokio::select! {
        r = build_encoders(&a) => match r {
            Ok(e) => e,
            Err((e, code)) => {
                eprintln!("error: {e}");
                return End::early(code, e);
            }
        },
        () = signals::wait(&mut interrupted, 1) => {
            let s = *interrupted.borrow();
            return End {
                code: s.exit_code,
                signal: Some(s.name),
                ..End::default()
            };
        }
    };
    if a.dry_run {
        return dry_run::run(&a, &config, &encoders, &fields, &headers, partition, input, stopped).await;
    }
    // A transactional id (--transactional-id or -X transactional.id) writes in transactions.
    let mut txn = progress.map(|p| {
        let ms = a.transaction_duration_ms.unwrap_or(5_000);
        txn::TxnRun::new(a.transaction_records.unwrap_or(10_000), ms, p)
    });
    let resume_config = txn.is_some().then(|| config.clone());
    let mut builder = Producer::builder(config);
    if let Some(path) = &a.stats {
        let file = match std::fs::File::create(path) {
            Ok(f) => std::sync::Mutex::new(std::io::LineWriter::new(f)),
            Err(e) => return usage(format!("--stats {}: {e}", path.display())),
        };
        builder = builder.on_statistics(move |doc| {
            use std::io::Write;
            let mut f = file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let _ = writeln!(f, "{doc}");
        });
    }
    let producer = match builder.build() {
        Ok(p) => Arc::new(p),
        Err(e) => return usage(e),
    };
    let _exporter = match &a.metrics_addr {
        Some(addr) => match volley::metrics::prometheus::serve(addr, producer.metrics_handle()).await {
            Ok(task) => Some(volley::metrics::prometheus::AbortOnDrop(task)),
            Err(e) => return usage(e),
        },
        None => None,
    };
    let mut resumed = None;
    if let (Some(t), Some(c)) = (&mut txn, &resume_config) {
        // Fences an earlier run (its open transaction is aborted), then reads its progress; a
        // signal stops the wait (a coordinator may be slow to answer for max.block.ms).
        let start = async {
            match producer.init_transactions().await {
                Ok(()) => t.resume(c, a.restart).await,
                Err(e) => Err((1, format!("cannot initialize transactions: {e}"))),
            }
        };
        let mut interrupted = stopped.clone();
        let start = tokio::select! {
            r = start => r,
            () = signals::wait(&mut interrupted, 1) => {
                let s = *interrupted.borrow();
                Err((s.exit_code, format!("stopped by {} before the load started", s.name)))
            }
        };
        match start {
            Ok(n) => resumed = Some(n),
            Err((code, msg)) => {
                eprintln!("error: {msg}");
                producer.close(Duration::from_millis(a.close_timeout_ms)).await;
                let s = *stopped.borrow();
                return End {
                    signal: (s.count > 0).then_some(s.name),
                    ..End::early(code, msg)
                };
            }
        }
    }
    let resume_at = resumed.unwrap_or(0);
    let counters = Arc::new(Counters::default());
    let mode = progress::Mode::choose(a.quiet, a.progress_interval_ms, std::io::stderr().is_terminal());
    // Outcomes go to the collector in chunks (one channel message per CHUNK lines, not one
    // per line); record keys are kept only for the report, which is the only reader.
    const CHUNK: usize = 1024;
    let (tx, rx) = mpsc::channel::<Vec<Entry>>(64);
    let mut chunk: Vec<Entry> = Vec::with_capacity(CHUNK);
    let keep_keys = a.report.is_some();
    let (settled_tx, settled_rx) = mpsc::unbounded_channel();
    producer.on_settled(move |s| {
        tracing::info!(topic = %s.topic, partition = s.partition, records = s.records, "records reported possibly persisted are persisted");
        let _ = settled_tx.send(s.batch);
    });
    let files = input::Files::new(&a.input);
    let collector = tokio::spawn(collect(
        rx,
        settled_rx,
        a.report.clone(),
        Arc::clone(&counters),
        files.clone(),
    ));
    let start = Instant::now();
    let progress = Progress::start(mode, Arc::clone(&counters), total_bytes, producer.metrics_handle());

    let mut buf = Vec::with_capacity(4096);
    let mut line_no = 0u64;
    let mut read_bytes = 0u64;
    let mut fatal: Option<String> = None;
    let mut keyless = 0u64;
    let mut skipped = 0u64;
    loop {
        if stopped.borrow().count > 0 || a.count.is_some_and(|c| line_no >= c) {
            break;
        }
        buf.clear();
        // A signal must also stop a read that waits for input that may never come; a line
        // already in the buffer is read without arming that wait (a `Notified` per line was
        // a few per cent of the CLI's CPU).
        let read = if input.ready() {
            input.next(&mut buf).await
        } else {
            // The next read may wait for input (a pipe from a live process): what was sent
            // so far goes to the collector first, so that its outcomes and report lines do
            // not wait for 1,024 more lines.
            if !chunk.is_empty() && tx.send(std::mem::take(&mut chunk)).await.is_err() {
                break;
            }
            tokio::select! {
                r = input.next(&mut buf) => r,
                () = signals::wait(&mut stopped, 1) => break,
            }
        };
        let n = match read {
            Ok(None) => break,
            Ok(Some(n)) => n,
            Err(e) => {
                fatal = Some(format!("cannot read input: {e}"));
                break;
            }
        };
        read_bytes += n as u64;
        line_no += 1;
        if let Some(f) = &files {
            f.note(line_no, input.index());
        }
        counters.read.store(line_no, Ordering::Relaxed);
        counters.read_bytes.store(read_bytes, Ordering::Relaxed);
        if line_no <= resume_at {
            // Committed by an earlier run.
            continue;
        }
        if a.skip_empty && buf.is_empty() {
            skipped += 1;
            if let Some(t) = &mut txn {
                t.mark(line_no);
            }
            continue;
        }
        let parts = record_parts(&a, &encoders, &fields, &headers, &buf);
        // In a transaction, a record the producer would refuse at once for its size is left
        // out like a malformed line: sent, its refusal would make the transaction
        // abortable, and every run would stop at the same line. (A bad topic name stays a
        // run-level error, from the send.)
        let refused = match (&txn, &parts) {
            (Some(_), Ok(p)) => producer
                .check(&RecordRef {
                    topic: &a.topic,
                    partition,
                    key: p.key.as_deref(),
                    value: p.value.as_deref(),
                    headers: &p.headers,
                    timestamp: p.timestamp,
                })
                .err()
                .filter(|e| matches!(e, Error::RecordTooLarge { .. })),
            _ => None,
        };
        let entry = if let Some(e) = refused {
            Entry::Bad {
                line: line_no,
                cause: cause_of(&e),
                error: e.to_string(),
            }
        } else {
            match parts {
                Err(error) => Entry::Bad {
                    line: line_no,
                    cause: if error.contains("does not fit its schema") {
                        "value does not fit the schema".into()
                    } else {
                        "malformed input line".into()
                    },
                    error,
                },
                Ok(Parts {
                    key,
                    value,
                    timestamp,
                    headers: record_headers,
                }) => {
                    if key.is_none() {
                        keyless += 1;
                    }
                    let bytes = value.as_ref().map_or(0, |v| v.len()) + key.as_ref().map_or(0, |k| k.len());
                    // Borrowed from the line: the producer copies the bytes into the batch.
                    let record = RecordRef {
                        topic: &a.topic,
                        partition,
                        key: key.as_deref(),
                        value: value.as_deref(),
                        headers: &record_headers,
                        timestamp,
                    };
                    if let Err(e) = txn.as_mut().map_or(Ok(()), |t| t.before_send(&producer)) {
                        fatal = Some(e.clone());
                        txn::keep(
                            &mut txn,
                            &mut chunk,
                            Entry::Bad {
                                line: line_no,
                                cause: "transaction not begun".into(),
                                error: e,
                            },
                            false,
                        );
                        break;
                    }
                    // A send that waits (metadata, buffer memory) yields to a signal; the line
                    // it carried is reported as not sent.
                    let sent = tokio::select! {
                        biased;
                        r = producer.send_ref(record) => Some(r),
                        () = signals::wait(&mut stopped, 1) => None,
                    };
                    let Some(sent) = sent else {
                        txn::keep(
                            &mut txn,
                            &mut chunk,
                            Entry::Bad {
                                line: line_no,
                                cause: "stopped by a signal before it was sent".into(),
                                error: "a signal stopped the run while this record waited to be queued: not sent"
                                    .into(),
                            },
                            false,
                        );
                        break;
                    };
                    // --sync: this record is acknowledged (or failed) before the next is read; a
                    // signal stops the wait (the record's outcome is still collected, and the loop
                    // ends at its next turn).
                    if a.sync && sent.is_ok() {
                        tokio::select! {
                            () = producer.flush() => {}
                            () = signals::wait(&mut stopped, 1) => {}
                        }
                    }
                    match sent {
                        Ok(delivery) => Entry::Sent {
                            line: line_no,
                            key: key.filter(|_| keep_keys).map(|k| Bytes::copy_from_slice(&k)),
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
                            txn::keep(
                                &mut txn,
                                &mut chunk,
                                Entry::Bad {
                                    line: line_no,
                                    cause: cause_of(&e),
                                    error: e.to_string(),
                                },
                                false,
                            );
                            break;
                        }
                        Err(e) => Entry::Bad {
                            line: line_no,
                            cause: cause_of(&e),
                            error: e.to_string(),
                        },
                    }
                }
            }
        };
        if txn::keep(&mut txn, &mut chunk, entry, true) {
            if let Some(t) = &mut txn {
                if let Err(e) = t.end(&producer, &mut chunk, true, &mut stopped).await {
                    fatal = Some(e);
                    break;
                }
            }
        }
        if chunk.len() >= CHUNK
            && tx
                .send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)))
                .await
                .is_err()
        {
            break;
        }
    }
    if let Some(t) = &mut txn {
        // The last transaction commits unless an error stopped the run (a signal commits
        // what was read).
        let commit = fatal.is_none();
        if let Err(e) = t.end(&producer, &mut chunk, commit, &mut stopped).await {
            fatal.get_or_insert(e);
        }
    }
    if !chunk.is_empty() {
        let _ = tx.send(chunk).await;
    }
    drop(tx);
    // A second signal stops waiting: the producer closes at once and what is unresolved is
    // failed (reported by the collector like any failure).
    tokio::select! {
        () = producer.close(Duration::from_millis(a.close_timeout_ms)) => {}
        () = signals::wait(&mut stopped, 2) => producer.close(Duration::ZERO).await,
    }
    let stop = *stopped.borrow();
    progress.stop();
    let summary = match collector.await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return End {
                read: line_no,
                ..usage(e)
            }
        }
        Err(e) => {
            return End {
                read: line_no,
                ..usage(format!("internal error: {e}"))
            }
        }
    };
    let elapsed = start.elapsed().as_secs_f64().max(1e-9);
    if let Some(f) = &fatal {
        eprintln!("error: {f}");
    }
    let code = if stop.count > 0 {
        stop.exit_code
    } else if summary.failed > 0 || fatal.is_some() {
        1
    } else {
        0
    };
    let end = End {
        code,
        signal: (stop.count > 0).then_some(stop.name),
        error: fatal,
        read: line_no,
        summary,
        elapsed,
        keyless: a.key_pointer.is_some().then_some(keyless),
        skipped,
        resumed,
    };
    end.print();
    end
}
