//! `volley produce --dry-run`: every record is read, serialized and partitioned as a real
//! run would, and where it would go is printed as one JSON line; nothing is sent. The
//! partition count is the broker's (one Metadata request, no topic created) or
//! `--partitions N` (then no broker is asked).

use std::io::Write;

use base64::Engine;
use serde_json::{json, Map, Value};
use tokio::sync::watch;
use volley::{BuiltinPartitioner, Header, Partitioner, ProducerConfig};

use super::fields::Fields;
use super::input::{Files, Input};
use super::record::{record_parts, Encoders, Parts};
use super::report::Summary;
use super::signals::{self, Stopped};
use super::summary::End;
use super::ProduceArgs;

/// Bytes as text when they are UTF-8, else as base64 (with `"…_base64": true`).
fn bytes_json(o: &mut Map<String, Value>, name: &str, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(s) => {
            o.insert(name.into(), Value::from(s));
        }
        Err(_) => {
            o.insert(
                name.into(),
                Value::from(base64::engine::general_purpose::STANDARD.encode(b)),
            );
            o.insert(format!("{name}_base64"), Value::from(true));
        }
    }
}

/// Standard output cannot be written (a closed pipe, a full disk): the run stops, exit 1.
fn output_failed(e: &std::io::Error, read: u64) -> End {
    let msg = format!("cannot write the dry run's lines to standard output: {e}");
    eprintln!("error: {msg}");
    End {
        read,
        ..End::early(1, msg)
    }
}

/// The partition count: `--partitions`, or the broker's.
async fn partition_count(a: &ProduceArgs, config: &ProducerConfig) -> Result<u32, String> {
    if let Some(n) = a.partitions {
        return if n == 0 {
            Err("invalid value '0' for '--partitions': at least 1".into())
        } else {
            Ok(n)
        };
    }
    let topics = [a.topic.clone()];
    let d = volley::describe_cluster(config, Some(&topics)).await.map_err(|e| {
        format!(
            "cannot learn the partition count of '{}' (or give --partitions N): {e}",
            a.topic
        )
    })?;
    let t = d
        .topics
        .iter()
        .find(|t| t.name == a.topic)
        .ok_or_else(|| format!("the broker did not describe topic '{}'", a.topic))?;
    if let Some(e) = &t.error {
        return Err(format!("topic '{}': {e} (give --partitions N to run offline)", a.topic));
    }
    u32::try_from(t.partitions.len())
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("topic '{}' has no partitions", a.topic))
}

/// Runs the dry run over `input`; exit 0, or 1 if a record could not be made.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run(
    a: &ProduceArgs,
    config: &ProducerConfig,
    encoders: &Encoders,
    fields: &Fields,
    headers: &[Header],
    partition: Option<i32>,
    mut input: Input,
    mut stopped: watch::Receiver<Stopped>,
) -> End {
    let asked = tokio::select! {
        r = partition_count(a, config) => Some(r),
        () = signals::wait(&mut stopped, 1) => None,
    };
    let count = match asked {
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return End::early(1, e);
        }
        None => {
            let s = *stopped.borrow();
            return End {
                code: s.exit_code,
                signal: Some(s.name),
                ..End::default()
            };
        }
    };
    let partitioner = BuiltinPartitioner::new(config.partitioner, config.partitioner_ignore_keys);
    let start = std::time::Instant::now();
    let (mut read, mut failed, mut skipped, mut keyless) = (0u64, 0u64, 0u64, 0u64);
    let mut summary = Summary::default();
    let mut buf = Vec::new();
    let files = Files::new(&a.input);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    loop {
        if a.count.is_some_and(|c| read >= c) {
            break;
        }
        buf.clear();
        let next = tokio::select! {
            r = input.next(&mut buf) => r,
            () = signals::wait(&mut stopped, 1) => break,
        };
        match next {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => {
                let _ = out.flush();
                drop(out);
                eprintln!("error: cannot read input: {e}");
                return End::early(1, format!("cannot read input: {e}"));
            }
        }
        read += 1;
        if let Some(f) = &files {
            f.note(read, input.index());
        }
        if a.skip_empty && buf.is_empty() {
            skipped += 1;
            continue;
        }
        let mut o = Map::new();
        o.insert("line".into(), Value::from(read));
        if let Some((name, file_line)) = files.as_ref().and_then(|f| f.locate(read)) {
            o.insert("file".into(), Value::from(name));
            o.insert("file_line".into(), Value::from(file_line));
        }
        match record_parts(a, encoders, fields, headers, &buf) {
            Err(e) => {
                failed += 1;
                o.insert("error".into(), Value::from(e));
            }
            Ok(Parts {
                key,
                value,
                timestamp,
                headers,
            }) => {
                let p = match partition {
                    Some(p) if u32::try_from(p).is_ok_and(|p| p >= count) => {
                        failed += 1;
                        o.insert(
                            "error".into(),
                            Value::from(format!("partition {p} does not exist: the topic has {count}")),
                        );
                        None
                    }
                    Some(p) => Some(p),
                    None => partitioner
                        .partition(&a.topic, key.as_deref(), count)
                        .and_then(|p| i32::try_from(p).ok()),
                };
                if !o.contains_key("error") {
                    o.insert("partition".into(), p.map_or(Value::Null, Value::from));
                    if p.is_none() {
                        // The sticky partitioner picks a partition per batch when it is sent.
                        o.insert("sticky".into(), Value::from(true));
                    } else if let Some(p) = p {
                        *summary.per_partition.entry(p).or_insert(0) += 1;
                    }
                    match &key {
                        Some(k) => bytes_json(&mut o, "key", k),
                        None => {
                            keyless += 1;
                            o.insert("key".into(), Value::Null);
                        }
                    }
                    o.insert(
                        "value_bytes".into(),
                        value.as_ref().map_or(Value::Null, |v| Value::from(v.len())),
                    );
                    o.insert("timestamp".into(), timestamp.map_or(Value::Null, Value::from));
                    if !headers.is_empty() {
                        let hs: Vec<Value> = headers
                            .iter()
                            .map(|h| {
                                let v = h.value.as_deref().map(String::from_utf8_lossy);
                                json!([h.key, v])
                            })
                            .collect();
                        o.insert("headers".into(), Value::from(hs));
                    }
                }
            }
        }
        if let Err(e) = writeln!(out, "{}", Value::Object(o)) {
            return output_failed(&e, read);
        }
    }
    if let Err(e) = out.flush() {
        return output_failed(&e, read);
    }
    drop(out);
    summary.failed = failed;
    let stop = *stopped.borrow();
    // On standard error: standard output is only the records' JSON lines.
    eprintln!(
        "dry run: {read} records read, {} would be sent, {failed} could not be made, {skipped} skipped; nothing was sent",
        read - failed - skipped
    );
    End {
        code: if stop.count > 0 {
            stop.exit_code
        } else {
            u8::from(failed > 0)
        },
        signal: (stop.count > 0).then_some(stop.name),
        read,
        summary,
        elapsed: start.elapsed().as_secs_f64(),
        keyless: a.key_pointer.is_some().then_some(keyless),
        skipped,
        resumed: None,
        error: None,
    }
}
