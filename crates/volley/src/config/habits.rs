//! The keys users bring from the Java client and librdkafka that `config.rs` does not read
//! itself: socket options, DNS lookup, Java class names, librdkafka's queue limits, and the
//! warnings for what Volley accepts but cannot run.

use std::collections::BTreeMap;

use super::aliases::{PASS_THROUGH_SERIALIZERS, WARN_ONLY};
use super::{invalid, ms, parse_bool, parse_int, ConfigError, PartitionerKind, ProducerConfig};

type Props = BTreeMap<&'static str, String>;

/// `client.dns.lookup`: how host names of brokers are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientDnsLookup {
    /// `use_all_dns_ips` (the default): try every address a name resolves to.
    #[default]
    UseAllDnsIps,
    /// `resolve_canonical_bootstrap_servers_only`: bootstrap names are replaced by their
    /// canonical names first, then every address is tried.
    ResolveCanonicalBootstrapServersOnly,
}

/// The Java partitioner classes and the built-in partitioner each stands for (with whether
/// it ignores keys).
const JAVA_PARTITIONERS: &[(&str, PartitionerKind, bool)] = &[
    (
        "org.apache.kafka.clients.producer.RoundRobinPartitioner",
        PartitionerKind::RoundRobin,
        false,
    ),
    (
        "org.apache.kafka.clients.producer.internals.DefaultPartitioner",
        PartitionerKind::Default,
        false,
    ),
    (
        "org.apache.kafka.clients.producer.UniformStickyPartitioner",
        PartitionerKind::Default,
        true,
    ),
];

/// librdkafka's `debug` contexts and the modules whose log each turns on (`None`: a
/// consumer's or admin client's context, with nothing to log in a producer).
const DEBUG_CONTEXTS: &[(&str, Option<&[&str]>)] = &[
    ("generic", Some(&["volley=debug"])),
    ("feature", Some(&["volley::net=debug"])),
    (
        "broker",
        Some(&["volley::net=debug", "volley::dial=debug", "volley::sender::nodes=debug"]),
    ),
    // Metadata answers, topics waited for or dropped, leader moves: the sender's own log.
    ("topic", Some(&["volley::sender=debug"])),
    ("metadata", Some(&["volley::sender=debug"])),
    // Each batch taken from the queue and sent, each answer.
    ("queue", Some(&["volley::sender::drain=trace"])),
    (
        "msg",
        Some(&["volley::sender::drain=trace", "volley::sender::answer=trace"]),
    ),
    ("protocol", Some(&["volley::net=trace", "volley::sender=trace"])),
    ("security", Some(&["volley::security=debug", "volley::net=debug"])),
    // Producer ids and epochs, retries and sequence resets.
    ("eos", Some(&["volley::sender=debug"])),
    ("conf", Some(&["volley::config=debug"])),
    // Interceptor failures are logged at WARN anyway; nothing more to turn on.
    ("interceptor", None),
    ("all", Some(&["volley=trace"])),
    ("cgrp", None),
    ("fetch", None),
    ("consumer", None),
    ("assignor", None),
    ("admin", None),
    ("mock", None),
    ("plugin", None),
    ("telemetry", None),
];

/// The contexts of a `debug` value, checked.
fn debug_contexts(v: &str) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    for name in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !DEBUG_CONTEXTS.iter().any(|(c, _)| *c == name) {
            let names: Vec<&str> = DEBUG_CONTEXTS.iter().map(|(c, _)| *c).collect();
            return Err(invalid(
                "debug",
                v,
                format!("a comma-separated list of {}", names.join(", ")),
            ));
        }
        out.push(name.to_owned());
    }
    Ok(out)
}

impl ProducerConfig {
    /// The `tracing` filter directives (`EnvFilter` syntax) for the `debug` contexts, as
    /// librdkafka's `debug` turns on its log: `None` when no context logs anything. A library
    /// cannot install a subscriber for its program; the `volley` CLI applies this one unless
    /// `VOLLEY_LOG`/`RUST_LOG` is set, and a program can add it to its own filter.
    #[must_use]
    pub fn debug_log_filter(&self) -> Option<String> {
        let mut directives: Vec<&str> = Vec::new();
        for name in &self.debug {
            let targets = DEBUG_CONTEXTS.iter().find(|(c, _)| c == name).and_then(|(_, t)| *t);
            for t in targets.unwrap_or_default() {
                if !directives.contains(t) {
                    directives.push(t);
                }
            }
        }
        (!directives.is_empty()).then(|| directives.join(","))
    }
}

/// `host` or `[v6]` without a port gets Kafka's default port, 9092.
pub(super) fn default_port(server: String) -> String {
    let has_port = match server.strip_prefix('[') {
        Some(rest) => rest.split_once(']').is_some_and(|(_, tail)| tail.starts_with(':')),
        None => server.contains(':'),
    };
    if has_port {
        server
    } else {
        format!("{server}:9092")
    }
}

/// A socket buffer size: `-1` (Java) or `0` (librdkafka) is the OS default.
fn buffer(key: &'static str, props: &Props) -> Result<Option<Option<usize>>, ConfigError> {
    props
        .get(key)
        .map(|v| {
            let n = parse_int(key, v, -1, i64::from(i32::MAX))?;
            Ok(usize::try_from(n).ok().filter(|n| *n > 0))
        })
        .transpose()
}

/// Reads the habit keys into `c` and collects the warnings (with those of `ignored` keys).
pub(super) fn apply(
    c: &mut ProducerConfig,
    props: &Props,
    ignored: &BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    let get = |k: &str| props.get(k).map(String::as_str);
    const I32: i64 = i32::MAX as i64;
    let mut warnings: Vec<String> = ignored.values().cloned().collect();
    if let Some(v) = get("client.dns.lookup") {
        c.client_dns_lookup = match v {
            "use_all_dns_ips" => ClientDnsLookup::UseAllDnsIps,
            "resolve_canonical_bootstrap_servers_only" => ClientDnsLookup::ResolveCanonicalBootstrapServersOnly,
            _ => {
                return Err(invalid(
                    "client.dns.lookup",
                    v,
                    "use_all_dns_ips or resolve_canonical_bootstrap_servers_only",
                ))
            }
        };
    }
    if let Some(b) = buffer("send.buffer.bytes", props)? {
        c.send_buffer_bytes = b;
    }
    if let Some(b) = buffer("receive.buffer.bytes", props)? {
        c.receive_buffer_bytes = b;
    }
    if let Some(v) = get("connections.max.idle.ms") {
        let n = parse_int("connections.max.idle.ms", v, i64::MIN, i64::MAX)?;
        if (0..1000).contains(&n) {
            // Java takes it, and then closes every connection as soon as it is made: a
            // producer that reconnects in a loop and sends nothing.
            return Err(invalid(
                "connections.max.idle.ms",
                v,
                "at least 1000 ms (a connection must live long enough to be used), or negative for never",
            ));
        }
        c.connections_max_idle = (n >= 0).then(|| ms(n));
    }
    if let Some(v) = get("socket.keepalive.enable") {
        c.socket_keepalive = parse_bool("socket.keepalive.enable", v)?;
    }
    if let Some(v) = get("socket.nagle.disable") {
        c.tcp_nodelay = parse_bool("socket.nagle.disable", v)?;
    }
    if let Some(v) = get("metrics.sample.window.ms") {
        c.metrics_window.0 = ms(parse_int("metrics.sample.window.ms", v, 1, I32)?);
    }
    if let Some(v) = get("statistics.interval.ms") {
        let n = parse_int("statistics.interval.ms", v, 0, 86_400_000)?;
        c.statistics_interval = (n > 0).then(|| ms(n));
    }
    if let Some(v) = get("metrics.num.samples") {
        c.metrics_window.1 = usize::try_from(parse_int("metrics.num.samples", v, 1, 1000)?).unwrap_or(2);
    }
    if let Some(v) = get("debug") {
        c.debug = debug_contexts(v)?;
    }
    if let Some(v) = get("client.rack") {
        c.client_rack = v.to_owned();
    }
    if let Some(v) = get("queue.buffering.max.messages") {
        // librdkafka: 0 disables the limit.
        let n = parse_int("queue.buffering.max.messages", v, 0, I32)?;
        c.queue_buffering_max_messages = usize::try_from(n).ok().filter(|n| *n > 0);
    }
    if let Some(v) = get("batch.num.messages") {
        let n = parse_int("batch.num.messages", v, 1, I32)?;
        c.batch_num_messages = usize::try_from(n).ok();
    }
    if let Some(v) = get("queue.buffering.max.kbytes") {
        let kb = parse_int("queue.buffering.max.kbytes", v, 1, I32)?;
        if get("buffer.memory").is_some() {
            return Err(ConfigError::Conflict(
                "buffer.memory and queue.buffering.max.kbytes both set the buffer size; set one".into(),
            ));
        }
        c.buffer_memory = usize::try_from(kb).unwrap_or(0).saturating_mul(1024);
    }
    if let Some(v) = get("partitioner.class").filter(|v| !v.is_empty()) {
        let Some(&(_, kind, ignore_keys)) = JAVA_PARTITIONERS.iter().find(|(class, _, _)| *class == v) else {
            let names: Vec<&str> = JAVA_PARTITIONERS.iter().map(|(n, _, _)| *n).collect();
            return Err(invalid(
                "partitioner.class",
                v,
                format!(
                    "one of Kafka's built-in partitioners ({}); Volley runs no Java classes, its own are chosen with 'partitioner'",
                    names.join(", ")
                ),
            ));
        };
        if get("partitioner").is_some() && c.partitioner != kind {
            return Err(ConfigError::Conflict(format!(
                "partitioner.class={v} is the '{kind}' partitioner, but partitioner={} was set",
                c.partitioner
            )));
        }
        c.partitioner = kind;
        c.partitioner_ignore_keys |= ignore_keys;
    }
    for key in ["key.serializer", "value.serializer"] {
        if let Some(v) = get(key).filter(|v| !PASS_THROUGH_SERIALIZERS.contains(v)) {
            warnings.push(format!(
                "{key}={v}: Volley runs no Java serializer; the bytes given are sent as they are (the CLI sends the input bytes; --key-format/--value-format encode JSON to Avro)"
            ));
        }
    }
    for (key, why) in WARN_ONLY {
        if let Some(v) = get(key).filter(|v| !v.is_empty()) {
            warnings.push(format!("{key}={v} is accepted and has no effect: {why}"));
        }
    }
    c.warnings = warnings;
    Ok(())
}
