//! Which property names Volley reads: Kafka's, the librdkafka aliases, the Java keys it accepts
//! with nothing to run, the keys of other Kafka clients that shared properties files carry,
//! and the near-miss suggestion for a key nobody knows.

/// Canonical keys, with aliases mapped onto them. `topic.`-prefixed librdkafka topic keys map
/// to the key without the prefix.
pub(super) fn canonical(key: &str) -> Option<&'static str> {
    if let Some(c) = direct(key) {
        return Some(c);
    }
    let rest = key.strip_prefix("topic.")?;
    TOPIC_KEYS.contains(&rest).then(|| direct(rest)).flatten()
}

/// librdkafka's topic-level producer keys, which may carry a `topic.` prefix.
const TOPIC_KEYS: &[&str] = &[
    "acks",
    "request.required.acks",
    "request.timeout.ms",
    "message.timeout.ms",
    "delivery.timeout.ms",
    "partitioner",
    "compression.codec",
    "compression.type",
    "compression.level",
];

fn direct(key: &str) -> Option<&'static str> {
    Some(match key {
        "bootstrap.servers" | "metadata.broker.list" => "bootstrap.servers",
        "client.id" => "client.id",
        "acks" | "request.required.acks" => "acks",
        "enable.idempotence" => "enable.idempotence",
        "transactional.id" => "transactional.id",
        "transaction.timeout.ms" => "transaction.timeout.ms",
        "retries" | "message.send.max.retries" => "retries",
        "retry.backoff.ms" => "retry.backoff.ms",
        "retry.backoff.max.ms" => "retry.backoff.max.ms",
        "linger.ms" | "queue.buffering.max.ms" => "linger.ms",
        "batch.size" => "batch.size",
        "buffer.memory" => "buffer.memory",
        "queue.buffering.max.kbytes" => "queue.buffering.max.kbytes",
        "queue.buffering.max.messages" => "queue.buffering.max.messages",
        "batch.num.messages" => "batch.num.messages",
        "max.block.ms" => "max.block.ms",
        "delivery.timeout.ms" | "message.timeout.ms" => "delivery.timeout.ms",
        "request.timeout.ms" | "socket.timeout.ms" => "request.timeout.ms",
        "max.in.flight.requests.per.connection" | "max.in.flight" => "max.in.flight.requests.per.connection",
        "max.request.size" | "message.max.bytes" => "max.request.size",
        "compression.type" | "compression.codec" => "compression.type",
        "compression.gzip.level" => "compression.gzip.level",
        "compression.lz4.level" => "compression.lz4.level",
        "compression.zstd.level" => "compression.zstd.level",
        "compression.level" => "compression.level",
        "partitioner" => "partitioner",
        "partitioner.class" => "partitioner.class",
        "partitioner.ignore.keys" => "partitioner.ignore.keys",
        "partitioner.adaptive.partitioning.enable" => "partitioner.adaptive.partitioning.enable",
        "partitioner.availability.timeout.ms" => "partitioner.availability.timeout.ms",
        "allow.auto.create.topics" => "allow.auto.create.topics",
        "metadata.max.age.ms" | "topic.metadata.refresh.interval.ms" => "metadata.max.age.ms",
        "metadata.max.idle.ms" => "metadata.max.idle.ms",
        "metadata.recovery.strategy" => "metadata.recovery.strategy",
        "metadata.recovery.rebootstrap.trigger.ms" => "metadata.recovery.rebootstrap.trigger.ms",
        "security.protocol" => "security.protocol",
        "reconnect.backoff.ms" => "reconnect.backoff.ms",
        "reconnect.backoff.max.ms" => "reconnect.backoff.max.ms",
        "socket.connection.setup.timeout.ms" => "socket.connection.setup.timeout.ms",
        "socket.connection.setup.timeout.max.ms" => "socket.connection.setup.timeout.max.ms",
        "enable.gapless.guarantee" => "enable.gapless.guarantee",
        "client.dns.lookup" => "client.dns.lookup",
        "send.buffer.bytes" | "socket.send.buffer.bytes" => "send.buffer.bytes",
        "receive.buffer.bytes" | "socket.receive.buffer.bytes" => "receive.buffer.bytes",
        "connections.max.idle.ms" => "connections.max.idle.ms",
        "socket.keepalive.enable" => "socket.keepalive.enable",
        "socket.nagle.disable" => "socket.nagle.disable",
        "client.rack" => "client.rack",
        "debug" => "debug",
        "metrics.sample.window.ms" => "metrics.sample.window.ms",
        "metrics.num.samples" => "metrics.num.samples",
        "statistics.interval.ms" => "statistics.interval.ms",
        "key.serializer" => "key.serializer",
        "value.serializer" => "value.serializer",
        "interceptor.classes" => "interceptor.classes",
        "metric.reporters" => "metric.reporters",
        "auto.include.jmx.reporter" => "auto.include.jmx.reporter",
        "ssl.keymanager.algorithm" => "ssl.keymanager.algorithm",
        "ssl.trustmanager.algorithm" => "ssl.trustmanager.algorithm",
        "ssl.provider" => "ssl.provider",
        "ssl.secure.random.implementation" => "ssl.secure.random.implementation",
        "ssl.engine.factory.class" => "ssl.engine.factory.class",
        "ssl.cipher.suites" => "ssl.cipher.suites",
        "security.providers" => "security.providers",
        "sasl.client.callback.handler.class" => "sasl.client.callback.handler.class",
        "enable.metrics.push" => "enable.metrics.push",
        "partitioner.rack.aware" => "partitioner.rack.aware",
        "metadata.cluster.check.enable" => "metadata.cluster.check.enable",
        "bootstrap.resolve.timeout.ms" => "bootstrap.resolve.timeout.ms",
        _ => return crate::security::settings::canonical(key),
    })
}

/// Prefixes of features designed for but not built yet.
pub(super) const NOT_YET: &[(&str, &str)] = &[
    (
        "sasl.oauthbearer.",
        "this OAUTHBEARER setting is not supported: Volley fetches tokens by OIDC client credentials \
         (sasl.oauthbearer.method=oidc, .token.endpoint.url, .client.id, .client.secret, .scope, .extensions), \
         from unsecured test JWTs, or from a TokenProvider",
    ),
    (
        "sasl.kerberos.",
        "GSSAPI (Kerberos) is not supported; PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER are",
    ),
    (
        "sasl.login.",
        "login callbacks are not supported; set sasl.username/sasl.password or sasl.jaas.config",
    ),
];

/// Java keys Volley accepts but has nothing to run for: each set one gives a warning.
pub(super) const WARN_ONLY: &[(&str, &str)] = &[
    (
        "interceptor.classes",
        "Java interceptor classes cannot run in Volley (the library takes Rust interceptors)",
    ),
    ("metric.reporters", "Java metric reporters cannot run in Volley"),
    ("auto.include.jmx.reporter", "Volley has no JMX"),
    (
        "socket.connection.setup.timeout.max.ms",
        "Volley's connect timeout does not grow; socket.connection.setup.timeout.ms is used",
    ),
    (
        "ssl.keymanager.algorithm",
        "a JSSE key manager algorithm: Volley's TLS is rustls, which reads the key store itself",
    ),
    (
        "ssl.trustmanager.algorithm",
        "a JSSE trust manager algorithm: Volley's TLS is rustls, which verifies against the trust store itself",
    ),
    (
        "ssl.provider",
        "a Java security provider: Volley's TLS is rustls",
    ),
    (
        "ssl.secure.random.implementation",
        "a Java SecureRandom: rustls uses the operating system's random source",
    ),
    (
        "ssl.engine.factory.class",
        "a Java SSLEngine factory: Volley's TLS is rustls",
    ),
    (
        "ssl.cipher.suites",
        "rustls's own suites are used (TLS 1.3, and TLS 1.2 with ECDHE and AES-GCM or ChaCha20-Poly1305 only); this list is not applied",
    ),
    (
        "security.providers",
        "Java security providers cannot run in Volley",
    ),
    (
        "sasl.client.callback.handler.class",
        "a Java SASL callback handler cannot run in Volley (the library takes a TokenProvider for OAUTHBEARER)",
    ),
    (
        "enable.metrics.push",
        "KIP-714 client metrics push is not built; Volley's metrics are read with Producer::metrics() or /metrics",
    ),
    (
        "partitioner.rack.aware",
        "rack-aware partitioning (KIP-1123) is not built; the partitioner ignores racks",
    ),
    (
        "metadata.cluster.check.enable",
        "Volley does not compare cluster ids across metadata answers",
    ),
    (
        "bootstrap.resolve.timeout.ms",
        "names are resolved at each connection attempt, bounded by socket.connection.setup.timeout.ms",
    ),
];

/// The Java serializers whose bytes are what Volley sends anyway (the CLI's input bytes, the
/// library's `Bytes`/`String` values).
pub(super) const PASS_THROUGH_SERIALIZERS: &[&str] = &[
    "org.apache.kafka.common.serialization.ByteArraySerializer",
    "org.apache.kafka.common.serialization.StringSerializer",
    "org.apache.kafka.common.serialization.BytesSerializer",
    "org.apache.kafka.common.serialization.ByteBufferSerializer",
];

/// Keys of other Kafka clients (consumer, admin, Streams, Connect, Schema Registry and its
/// serializers) that a properties file shared between clients may hold.
const OTHER_CLIENTS: &[&str] = &[
    // Consumer.
    "group.id",
    "group.instance.id",
    "group.protocol",
    "group.remote.assignor",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "auto.offset.reset",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "fetch.min.bytes",
    "fetch.max.bytes",
    "fetch.max.wait.ms",
    "max.partition.fetch.bytes",
    "max.poll.records",
    "max.poll.interval.ms",
    "isolation.level",
    "key.deserializer",
    "value.deserializer",
    "partition.assignment.strategy",
    "check.crcs",
    "exclude.internal.topics",
    "default.api.timeout.ms",
    "internal.leave.group.on.close",
    // Streams.
    "application.id",
    "application.server",
    "num.stream.threads",
    "state.dir",
    "processing.guarantee",
    "replication.factor",
    "default.key.serde",
    "default.value.serde",
    "commit.interval.ms",
    "cache.max.bytes.buffering",
    "statestore.cache.max.bytes",
    "topology.optimization",
    "num.standby.replicas",
    "default.deserialization.exception.handler",
    "default.production.exception.handler",
    "default.timestamp.extractor",
    // Schema Registry serializers.
    "schema.registry.url",
    "basic.auth.credentials.source",
    "basic.auth.user.info",
    "bearer.auth.credentials.source",
    "bearer.auth.token",
    "auto.register.schemas",
    "use.latest.version",
    "use.schema.id",
    "latest.compatibility.strict",
    "normalize.schemas",
    "key.subject.name.strategy",
    "value.subject.name.strategy",
    "specific.avro.reader",
    "avro.use.logical.type.converters",
    "json.fail.invalid.schema",
];

/// Prefixes of other clients' keys (Streams' per-client prefixes, the registry's TLS keys).
const OTHER_CLIENT_PREFIXES: &[&str] = &[
    "schema.registry.",
    "consumer.",
    "main.consumer.",
    "restore.consumer.",
    "global.consumer.",
    "admin.",
    "producer.",
    "topic.auto.",
    "topic.offset.",
];

/// Whether a key Volley does not read belongs to another Kafka client.
pub(super) fn other_client(key: &str) -> bool {
    OTHER_CLIENTS.contains(&key) || OTHER_CLIENT_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Every name `canonical` knows, for suggestions.
const KNOWN: &[&str] = &[
    "bootstrap.servers",
    "metadata.broker.list",
    "client.id",
    "acks",
    "request.required.acks",
    "enable.idempotence",
    "transactional.id",
    "transaction.timeout.ms",
    "retries",
    "message.send.max.retries",
    "retry.backoff.ms",
    "retry.backoff.max.ms",
    "linger.ms",
    "queue.buffering.max.ms",
    "batch.size",
    "buffer.memory",
    "queue.buffering.max.kbytes",
    "queue.buffering.max.messages",
    "batch.num.messages",
    "max.block.ms",
    "delivery.timeout.ms",
    "message.timeout.ms",
    "request.timeout.ms",
    "socket.timeout.ms",
    "max.in.flight.requests.per.connection",
    "max.in.flight",
    "max.request.size",
    "message.max.bytes",
    "compression.type",
    "compression.codec",
    "compression.gzip.level",
    "compression.lz4.level",
    "compression.zstd.level",
    "compression.level",
    "partitioner",
    "partitioner.class",
    "partitioner.ignore.keys",
    "partitioner.adaptive.partitioning.enable",
    "partitioner.availability.timeout.ms",
    "allow.auto.create.topics",
    "metadata.max.age.ms",
    "topic.metadata.refresh.interval.ms",
    "metadata.max.idle.ms",
    "metadata.recovery.strategy",
    "metadata.recovery.rebootstrap.trigger.ms",
    "security.protocol",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "socket.connection.setup.timeout.ms",
    "enable.gapless.guarantee",
    "client.dns.lookup",
    "send.buffer.bytes",
    "receive.buffer.bytes",
    "connections.max.idle.ms",
    "socket.keepalive.enable",
    "socket.nagle.disable",
    "client.rack",
    "debug",
    "key.serializer",
    "value.serializer",
    "interceptor.classes",
    "metric.reporters",
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.provider",
    "ssl.secure.random.implementation",
    "ssl.engine.factory.class",
    "ssl.cipher.suites",
    "security.providers",
    "sasl.client.callback.handler.class",
    "enable.metrics.push",
    "partitioner.rack.aware",
    "metadata.cluster.check.enable",
    "bootstrap.resolve.timeout.ms",
    "ssl.ca.location",
    "ssl.ca.pem",
    "ssl.certificate.location",
    "ssl.certificate.pem",
    "ssl.key.location",
    "ssl.key.pem",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
    "enable.ssl.certificate.verification",
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.truststore.certificates",
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.keystore.key",
    "ssl.keystore.certificate.chain",
    "ssl.enabled.protocols",
    "ssl.protocol",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
    "sasl.jaas.config",
];

/// The known key nearest to `key`, if it is near enough to be a typo.
pub(super) fn near_miss(key: &str) -> Option<&'static str> {
    let limit = (key.chars().count() / 4).clamp(1, 3);
    KNOWN
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// The tail of an unknown-key message: ` (did you mean 'linger.ms'?)` or nothing.
pub(super) fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion
        .map(|s| format!(" (did you mean '{s}'?)"))
        .unwrap_or_default()
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb { prev } else { 1 + prev.min(cur).min(row[j]) };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_name_is_canonical_and_suggestions_are_near() {
        for k in KNOWN {
            assert!(canonical(k).is_some(), "{k}");
        }
        assert_eq!(near_miss("lingr.ms"), Some("linger.ms"));
        assert_eq!(near_miss("bootstrap.server"), Some("bootstrap.servers"));
        assert_eq!(near_miss("ack"), Some("acks"));
        assert_eq!(near_miss("completely.different"), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
