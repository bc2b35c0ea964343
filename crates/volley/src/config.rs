//! `ProducerConfig`: Kafka's property names, the Java producer's defaults, and validation.
//!
//! A config is built from a typed builder or from `key=value` properties (Kafka names and
//! the librdkafka aliases). Every problem is a [`ConfigError`] that names the key, the value
//! and what is allowed. Keys of features that are designed for but not built yet fail with
//! "not supported" rather than being silently ignored.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use aliases::{canonical, NOT_YET};
pub use habits::ClientDnsLookup;
pub use kinds::{MetadataRecovery, PartitionerKind};
pub use providers::parse_properties;
pub use volley_protocol::compression::Compression;

/// How many acknowledgements the leader waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Acks {
    /// `acks=0`: no response at all (fire and forget).
    None,
    /// `acks=1`: the leader wrote it.
    Leader,
    /// `acks=all` (`-1`): every in-sync replica has it.
    #[default]
    All,
}

impl Acks {
    /// The wire value.
    #[must_use]
    pub fn wire(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

impl fmt::Display for Acks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        })
    }
}

/// The connection security protocol (`security.protocol`), for every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SecurityProtocol {
    /// Plain TCP.
    #[default]
    Plaintext,
    /// TLS.
    Ssl,
    /// SASL over plain TCP.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

/// A configuration problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The key is not a producer property.
    #[error("unknown configuration property '{key}'{}", aliases::did_you_mean(suggestion.as_deref()))]
    UnknownKey {
        /// The key, as the user typed it.
        key: String,
        /// A known key a typo away, if there is one.
        suggestion: Option<String>,
    },
    /// The value cannot be used for the key.
    #[error("invalid value '{value}' for '{key}': {allowed}")]
    InvalidValue {
        /// The key.
        key: String,
        /// The value given.
        value: String,
        /// What is allowed.
        allowed: String,
    },
    /// The feature behind this key is not built yet.
    #[error("'{key}={value}' is not supported yet: {detail}")]
    NotSupported {
        /// The key.
        key: String,
        /// The value given.
        value: String,
        /// What is supported.
        detail: String,
    },
    /// A key or trust store, or a private key, cannot be read or opened.
    #[error("{key}={value}: {detail}")]
    Store {
        /// The setting naming the file or holding the key.
        key: String,
        /// Its value (a path; an inline key shows as `***`).
        value: String,
        /// What is wrong; never a password or key material.
        detail: String,
    },
    /// Two settings contradict each other.
    #[error("conflicting configuration: {0}")]
    Conflict(String),
}

/// A validated producer configuration. Build it with [`ProducerConfig::builder`] or
/// [`ProducerConfig::from_properties`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducerConfig {
    /// `bootstrap.servers`: `host:port` addresses to start from.
    pub bootstrap_servers: Vec<String>,
    /// `client.id`.
    pub client_id: String,
    /// `acks`.
    pub acks: Acks,
    /// `enable.idempotence` after the conflict rule was applied.
    pub enable_idempotence: bool,
    /// `transactional.id`: makes the producer transactional (and idempotent).
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms`: how long the coordinator lets a transaction stay open
    /// before it aborts it.
    pub transaction_timeout: Duration,
    /// `retries`.
    pub retries: u32,
    /// `retry.backoff.ms`.
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms`.
    pub retry_backoff_max: Duration,
    /// `linger.ms`.
    pub linger: Duration,
    /// `batch.size` in bytes.
    pub batch_size: usize,
    /// `buffer.memory` in bytes.
    pub buffer_memory: usize,
    /// `max.block.ms`.
    pub max_block: Duration,
    /// `delivery.timeout.ms`.
    pub delivery_timeout: Duration,
    /// `request.timeout.ms`.
    pub request_timeout: Duration,
    /// `max.in.flight.requests.per.connection`.
    pub max_in_flight: usize,
    /// `max.request.size` in bytes.
    pub max_request_size: usize,
    /// `compression.type`.
    pub compression: Compression,
    /// `compression.<codec>.level` for the chosen codec (`None` = its default).
    pub compression_level: Option<i32>,
    /// `partitioner`.
    pub partitioner: PartitionerKind,
    /// `partitioner.ignore.keys`.
    pub partitioner_ignore_keys: bool,
    /// `partitioner.adaptive.partitioning.enable` (KIP-794): keyless records go less to
    /// partitions with more batches queued.
    pub partitioner_adaptive: bool,
    /// `partitioner.availability.timeout.ms` (KIP-794): with adaptive partitioning, a
    /// partition whose oldest ready batch has waited this long past `linger.ms` takes no
    /// keyless records; zero turns the check off.
    pub partitioner_availability_timeout: Duration,
    /// `allow.auto.create.topics`.
    pub allow_auto_create_topics: bool,
    /// `metadata.max.age.ms`.
    pub metadata_max_age: Duration,
    /// `metadata.max.idle.ms`: a topic nobody sent to for this long is dropped from the
    /// metadata the producer fetches.
    pub metadata_max_idle: Duration,
    /// `metadata.recovery.strategy`.
    pub metadata_recovery: MetadataRecovery,
    /// `metadata.recovery.rebootstrap.trigger.ms`: how long no known broker may be reachable
    /// before the producer re-bootstraps (with [`MetadataRecovery::Rebootstrap`]).
    pub rebootstrap_trigger: Duration,
    /// `security.protocol`.
    pub security_protocol: SecurityProtocol,
    /// TLS and SASL settings (`ssl.*`, `sasl.*`), loaded and checked at build time.
    pub security: crate::security::Security,
    /// `reconnect.backoff.ms`.
    pub reconnect_backoff: Duration,
    /// `reconnect.backoff.max.ms`.
    pub reconnect_backoff_max: Duration,
    /// `socket.connection.setup.timeout.ms`.
    pub connect_timeout: Duration,
    /// `enable.gapless.guarantee` (librdkafka): a sequence gap stops the producer instead
    /// of failing the affected batch and going on.
    pub gapless: bool,
    /// `client.dns.lookup`.
    pub client_dns_lookup: ClientDnsLookup,
    /// `send.buffer.bytes` (`SO_SNDBUF`; `None` = the OS default, from `-1` or `0`).
    pub send_buffer_bytes: Option<usize>,
    /// `receive.buffer.bytes` (`SO_RCVBUF`; `None` = the OS default, from `-1` or `0`).
    pub receive_buffer_bytes: Option<usize>,
    /// `connections.max.idle.ms`: a connection idle this long is closed (`None`: never,
    /// from a negative value).
    pub connections_max_idle: Option<Duration>,
    /// `socket.keepalive.enable` (librdkafka): `SO_KEEPALIVE` on broker connections.
    pub socket_keepalive: bool,
    /// `TCP_NODELAY` on broker connections: on by default, as in Java; librdkafka's
    /// `socket.nagle.disable=false` turns it off.
    pub tcp_nodelay: bool,
    /// `client.rack`: the rack this client runs in.
    pub client_rack: String,
    /// librdkafka's `debug` contexts (`broker,protocol`, `all`); see
    /// [`ProducerConfig::debug_log_filter`].
    pub debug: Vec<String>,
    /// `queue.buffering.max.messages` (librdkafka): the most records queued at once.
    pub queue_buffering_max_messages: Option<usize>,
    /// `batch.num.messages` (librdkafka): the most records in one batch.
    pub batch_num_messages: Option<usize>,
    /// `metrics.sample.window.ms` (30 s) and `metrics.num.samples` (2): the window of the
    /// rates, averages and maxima in [`Producer::metrics`](crate::Producer::metrics).
    pub metrics_window: (Duration, usize),
    /// `statistics.interval.ms` (librdkafka): how often the statistics callback runs
    /// (`None`: never, the default, from 0).
    pub statistics_interval: Option<Duration>,
    /// What was accepted but has no effect in Volley (Java classes, other clients' keys),
    /// one line per key; also logged at WARN by [`ProducerConfigBuilder::build`].
    pub warnings: Vec<String>,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        Self {
            bootstrap_servers: Vec::new(),
            client_id: String::new(),
            acks: Acks::All,
            enable_idempotence: true,
            transactional_id: None,
            transaction_timeout: Duration::from_millis(60_000),
            retries: i32::MAX as u32,
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_millis(1000),
            linger: Duration::from_millis(5),
            batch_size: 16_384,
            buffer_memory: 33_554_432,
            max_block: Duration::from_millis(60_000),
            delivery_timeout: Duration::from_millis(120_000),
            request_timeout: Duration::from_millis(30_000),
            max_in_flight: 5,
            max_request_size: 1_048_576,
            compression: Compression::None,
            compression_level: None,
            partitioner: PartitionerKind::Default,
            partitioner_ignore_keys: false,
            partitioner_adaptive: true,
            partitioner_availability_timeout: Duration::ZERO,
            allow_auto_create_topics: true,
            metadata_max_age: Duration::from_millis(300_000),
            metadata_max_idle: Duration::from_millis(300_000),
            metadata_recovery: MetadataRecovery::Rebootstrap,
            rebootstrap_trigger: Duration::from_millis(300_000),
            security_protocol: SecurityProtocol::Plaintext,
            security: crate::security::Security::default(),
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_millis(1000),
            connect_timeout: Duration::from_millis(10_000),
            gapless: false,
            client_dns_lookup: ClientDnsLookup::UseAllDnsIps,
            send_buffer_bytes: Some(131_072),
            receive_buffer_bytes: Some(32_768),
            connections_max_idle: Some(Duration::from_millis(540_000)),
            socket_keepalive: false,
            tcp_nodelay: true,
            client_rack: String::new(),
            debug: Vec::new(),
            metrics_window: (Duration::from_secs(30), 2),
            statistics_interval: None,
            queue_buffering_max_messages: None,
            batch_num_messages: None,
            warnings: Vec::new(),
        }
    }
}

impl ProducerConfig {
    /// The delivery timeout `message.timeout.ms=0` (librdkafka's "no limit") stands for: a
    /// century, far enough that no record waits it out and small enough for `Instant` sums.
    pub const NO_DELIVERY_TIMEOUT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

    /// A builder with every property at its default.
    #[must_use]
    pub fn builder() -> ProducerConfigBuilder {
        ProducerConfigBuilder::default()
    }

    /// Builds a config from Kafka properties.
    ///
    /// # Errors
    /// The first bad key or value, or a contradiction.
    pub fn from_properties<K: AsRef<str>, V: AsRef<str>>(
        props: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ConfigError> {
        let mut b = Self::builder();
        for (k, v) in props {
            b = b.set(k.as_ref(), v.as_ref())?;
        }
        b.build()
    }
}

/// Builds a [`ProducerConfig`]; every setter records that the user set the property, which
/// matters for the idempotence rule.
#[derive(Clone, Default)]
pub struct ProducerConfigBuilder {
    props: BTreeMap<&'static str, String>,
    /// The name the user typed for each canonical key, for errors.
    typed: BTreeMap<&'static str, String>,
    /// Keys of other clients ignored by [`ProducerConfigBuilder::set_shared`], with their warning.
    ignored: BTreeMap<String, String>,
    /// The `config.providers*` keys (`providers.rs`).
    providers: BTreeMap<String, String>,
    /// A library user's OAUTHBEARER token source (`setters.rs`).
    token_provider: Option<std::sync::Arc<dyn crate::security::TokenProvider>>,
}

impl fmt::Debug for ProducerConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Passwords, JAAS lines and keys are shown as ***.
        let shown: BTreeMap<&str, String> = self
            .props
            .iter()
            .map(|(k, v)| (*k, crate::security::secret::shown(k, v)))
            .collect();
        f.debug_struct("ProducerConfigBuilder").field("props", &shown).finish()
    }
}

fn invalid(key: &str, value: &str, allowed: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.to_owned(),
        value: value.to_owned(),
        allowed: allowed.into(),
    }
}

fn parse_int(key: &str, value: &str, min: i64, max: i64) -> Result<i64, ConfigError> {
    match value.trim().parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(invalid(key, value, format!("an integer from {min} to {max}"))),
    }
}

/// `true` or `false` in any case, as Java's `ConfigDef` reads a BOOLEAN.
fn parse_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim() {
        v if v.eq_ignore_ascii_case("true") => Ok(true),
        v if v.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(invalid(key, value, "true or false")),
    }
}

fn ms(n: i64) -> Duration {
    Duration::from_millis(u64::try_from(n).unwrap_or(0))
}

impl ProducerConfigBuilder {
    /// Sets one property by its Kafka (or librdkafka alias) name.
    ///
    /// # Errors
    /// An unknown or not-yet-supported key.
    pub fn set(mut self, key: &str, value: &str) -> Result<Self, ConfigError> {
        let key = key.trim();
        if providers::is_provider_key(key) {
            self.providers.insert(key.to_owned(), value.trim().to_owned());
            return Ok(self);
        }
        let not_yet = NOT_YET.iter().find(|(p, _)| key.starts_with(p));
        if let Some((_, detail)) = not_yet.filter(|_| canonical(key).is_none()) {
            return Err(ConfigError::NotSupported {
                key: key.to_owned(),
                value: crate::security::secret::shown(key, value),
                detail: (*detail).to_owned(),
            });
        }
        if key.starts_with("metrics.") && canonical(key).is_none() {
            self.ignored.insert(
                key.to_owned(),
                format!(
                    "{key}={} is accepted and has no effect: Volley has no such metrics setting",
                    value.trim()
                ),
            );
            return Ok(self);
        }
        let canon = canonical(key).ok_or_else(|| ConfigError::UnknownKey {
            key: key.to_owned(),
            suggestion: aliases::near_miss(key).map(str::to_owned),
        })?;
        self.props.insert(canon, value.trim().to_owned());
        self.typed.insert(canon, key.to_owned());
        Ok(self)
    }

    /// Sets one property read from a properties file shared between Kafka clients: a key
    /// that belongs to another client (consumer, admin, Streams, Schema Registry) is ignored
    /// with a warning, as Java does; a key no Kafka client knows is still an error.
    ///
    /// # Errors
    /// As [`ProducerConfigBuilder::set`].
    pub fn set_shared(mut self, key: &str, value: &str) -> Result<Self, ConfigError> {
        let key = key.trim();
        if canonical(key).is_none() && aliases::other_client(key) {
            self.ignored.insert(
                key.to_owned(),
                format!("'{key}' is not a producer property (another Kafka client's); ignored"),
            );
            return Ok(self);
        }
        self.set(key, value)
    }

    fn put(mut self, key: &'static str, value: impl ToString) -> Self {
        self.props.insert(key, value.to_string());
        self
    }

    /// `bootstrap.servers`.
    #[must_use]
    pub fn bootstrap_servers(self, servers: &str) -> Self {
        self.put("bootstrap.servers", servers)
    }
    /// `client.id`.
    #[must_use]
    pub fn client_id(self, id: &str) -> Self {
        self.put("client.id", id)
    }
    /// `acks`.
    #[must_use]
    pub fn acks(self, acks: Acks) -> Self {
        self.put("acks", acks)
    }
    /// `enable.idempotence`.
    #[must_use]
    pub fn enable_idempotence(self, on: bool) -> Self {
        self.put("enable.idempotence", on)
    }
    /// `transactional.id`: a transactional producer (see `Producer::init_transactions`).
    #[must_use]
    pub fn transactional_id(self, id: &str) -> Self {
        self.put("transactional.id", id)
    }
    /// `transaction.timeout.ms`.
    #[must_use]
    pub fn transaction_timeout(self, d: Duration) -> Self {
        self.put("transaction.timeout.ms", d.as_millis())
    }
    /// `linger.ms`.
    #[must_use]
    pub fn linger(self, d: Duration) -> Self {
        self.put("linger.ms", d.as_millis())
    }
    /// `batch.size`.
    #[must_use]
    pub fn batch_size(self, bytes: usize) -> Self {
        self.put("batch.size", bytes)
    }
    /// `buffer.memory`.
    #[must_use]
    pub fn buffer_memory(self, bytes: usize) -> Self {
        self.put("buffer.memory", bytes)
    }
    /// `compression.type`.
    #[must_use]
    pub fn compression(self, c: Compression) -> Self {
        self.put("compression.type", c.name())
    }
    /// `max.block.ms`.
    #[must_use]
    pub fn max_block(self, d: Duration) -> Self {
        self.put("max.block.ms", d.as_millis())
    }
    /// `delivery.timeout.ms`.
    #[must_use]
    pub fn delivery_timeout(self, d: Duration) -> Self {
        self.put("delivery.timeout.ms", d.as_millis())
    }
    /// `request.timeout.ms`.
    #[must_use]
    pub fn request_timeout(self, d: Duration) -> Self {
        self.put("request.timeout.ms", d.as_millis())
    }
    /// `partitioner`.
    #[must_use]
    pub fn partitioner(self, kind: PartitionerKind) -> Self {
        self.put("partitioner", kind.name())
    }

    /// Validates and builds. Errors name the key as the user typed it (an alias, a
    /// `topic.` prefix). Warnings go to [`ProducerConfig::warnings`] and the log.
    ///
    /// # Errors
    /// A bad value or a contradiction.
    pub fn build(self) -> Result<ProducerConfig, ConfigError> {
        let typed = |k: &mut String| {
            if let Some(t) = self.typed.get(k.as_str()) {
                k.clone_from(t);
            }
        };
        let c = self.build_inner().map_err(|mut e| {
            if let ConfigError::InvalidValue { key, .. } | ConfigError::NotSupported { key, .. } = &mut e {
                typed(key);
            }
            e
        })?;
        for w in &c.warnings {
            tracing::warn!("{w}");
        }
        Ok(c)
    }

    fn build_inner(&self) -> Result<ProducerConfig, ConfigError> {
        let mut c = ProducerConfig::default();
        let mut resolved = self.props.clone();
        providers::resolve(&mut resolved, &self.providers, &self.typed)?;
        let p = &resolved;
        let get = |k: &str| p.get(k).map(String::as_str);
        let int = |k: &'static str, min: i64, max: i64| -> Result<Option<i64>, ConfigError> {
            get(k).map(|v| parse_int(k, v, min, max)).transpose()
        };
        // Bounds are those of Java's ConfigDef: an INT property is at most I32, a LONG one
        // at most i64::MAX.
        const I32: i64 = i32::MAX as i64;
        const I64: i64 = i64::MAX;

        if let Some(v) = get("bootstrap.servers") {
            let servers: Vec<String> = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            let servers: Vec<String> = servers.into_iter().map(habits::default_port).collect();
            for s in &servers {
                let ok = s
                    .rsplit_once(':')
                    .is_some_and(|(h, port)| !h.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
                if !ok {
                    return Err(invalid(
                        "bootstrap.servers",
                        v,
                        format!("a comma-separated list of host:port ('{s}' is not)"),
                    ));
                }
            }
            c.bootstrap_servers = servers;
        }
        if c.bootstrap_servers.is_empty() {
            return Err(invalid(
                "bootstrap.servers",
                get("bootstrap.servers").unwrap_or(""),
                "at least one host:port (it is required)",
            ));
        }
        if let Some(v) = get("client.id") {
            c.client_id = v.to_owned();
        }
        if let Some(v) = get("acks") {
            c.acks = match v {
                "0" => Acks::None,
                "1" => Acks::Leader,
                "all" | "-1" => Acks::All,
                _ => return Err(invalid("acks", v, "0, 1, all or -1")),
            };
        }
        if let Some(n) = int("retries", 0, I32)? {
            c.retries = u32::try_from(n).unwrap_or(0);
        }
        if let Some(n) = int("retry.backoff.ms", 0, I64)? {
            c.retry_backoff = ms(n);
        }
        if let Some(n) = int("retry.backoff.max.ms", 0, I64)? {
            c.retry_backoff_max = ms(n);
        }
        if let Some(n) = int("linger.ms", 0, I64)? {
            // A LONG that Java's producer uses as an int.
            c.linger = ms(n.min(I32));
        }
        if let Some(n) = int("batch.size", 0, I32)? {
            c.batch_size = usize::try_from(n).unwrap_or(0);
        }
        if let Some(n) = int("buffer.memory", 0, I64)? {
            c.buffer_memory = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = int("max.block.ms", 0, I64)? {
            c.max_block = ms(n);
        }
        if let Some(n) = int("delivery.timeout.ms", 0, I32)? {
            // librdkafka's message.timeout.ms=0 means no limit.
            let rdkafka = self
                .typed
                .get("delivery.timeout.ms")
                .is_some_and(|t| t.ends_with("message.timeout.ms"));
            c.delivery_timeout = if n == 0 && rdkafka {
                ProducerConfig::NO_DELIVERY_TIMEOUT
            } else {
                ms(n)
            };
        }
        if let Some(n) = int("request.timeout.ms", 0, I32)? {
            c.request_timeout = ms(n);
        }
        if let Some(n) = int("max.in.flight.requests.per.connection", 1, I32)? {
            c.max_in_flight = usize::try_from(n).unwrap_or(1);
        }
        if let Some(n) = int("max.request.size", 0, I32)? {
            c.max_request_size = usize::try_from(n).unwrap_or(0);
        }
        if let Some(n) = int("metadata.max.age.ms", 0, I64)? {
            c.metadata_max_age = ms(n);
        }
        // Java's bounds: at least 5 s idle, any non-negative trigger.
        if let Some(n) = int("metadata.max.idle.ms", 5000, I32)? {
            c.metadata_max_idle = ms(n);
        }
        if let Some(v) = get("metadata.recovery.strategy") {
            // Case-insensitive, as in Java.
            c.metadata_recovery = match v.to_ascii_lowercase().as_str() {
                "rebootstrap" => MetadataRecovery::Rebootstrap,
                "none" => MetadataRecovery::None,
                _ => return Err(invalid("metadata.recovery.strategy", v, "rebootstrap or none")),
            };
        }
        if let Some(n) = int("metadata.recovery.rebootstrap.trigger.ms", 0, I32)? {
            c.rebootstrap_trigger = ms(n);
        }
        if let Some(n) = int("reconnect.backoff.ms", 0, I64)? {
            c.reconnect_backoff = ms(n);
        }
        if let Some(n) = int("reconnect.backoff.max.ms", 0, I64)? {
            c.reconnect_backoff_max = ms(n);
        }
        // Java has no bound here; a connect timeout of 0 or less means nothing (DESIGN.md).
        if let Some(n) = int("socket.connection.setup.timeout.ms", 1, I64)? {
            c.connect_timeout = ms(n);
        }
        if let Some(v) = get("compression.type") {
            c.compression = match v {
                "none" => Compression::None,
                "gzip" => Compression::Gzip,
                "snappy" => Compression::Snappy,
                "lz4" => Compression::Lz4,
                "zstd" => Compression::Zstd,
                _ => return Err(invalid("compression.type", v, "none, gzip, snappy, lz4 or zstd")),
            };
        }
        for (key, codec, min, max) in [
            ("compression.gzip.level", Compression::Gzip, -1, 9),
            ("compression.lz4.level", Compression::Lz4, 1, 17),
            ("compression.zstd.level", Compression::Zstd, -131_072, 22),
        ] {
            let level = match get(key) {
                // Java: 1 to 9, or -1 for the codec's default (0 would store uncompressed).
                Some(v) if codec == Compression::Gzip => match parse_int(key, v, min, max) {
                    Ok(n) if n != 0 => Some(n),
                    _ => return Err(invalid(key, v, "-1 or an integer from 1 to 9")),
                },
                _ => int(key, min, max)?,
            };
            if let Some(n) = level {
                if codec == Compression::Lz4 && n != 9 {
                    return Err(ConfigError::NotSupported {
                        key: key.into(),
                        value: n.to_string(),
                        detail: "only level 9 (the default, LZ4's fast mode) is supported; the high-compression lz4 mode is not built".into(),
                    });
                }
                if codec == c.compression && !(codec == Compression::Gzip && n == -1) && codec != Compression::Lz4 {
                    c.compression_level = i32::try_from(n).ok();
                }
            }
        }
        if let Some(v) = get("compression.level") {
            // librdkafka's codec-independent level: -1 means the codec's default.
            let n = parse_int("compression.level", v, -1, 22)?;
            if n != -1 {
                match c.compression {
                    Compression::Gzip if n <= 9 => c.compression_level = i32::try_from(n).ok(),
                    Compression::Zstd => c.compression_level = i32::try_from(n).ok(),
                    Compression::None | Compression::Snappy => {}
                    _ => {
                        return Err(invalid(
                            "compression.level",
                            v,
                            format!("-1 or a level valid for {}", c.compression.name()),
                        ))
                    }
                }
            }
        }
        if let Some(v) = get("partitioner") {
            c.partitioner =
                PartitionerKind::parse(v).ok_or_else(|| invalid("partitioner", v, PartitionerKind::NAMES))?;
        }
        if let Some(v) = get("partitioner.ignore.keys") {
            c.partitioner_ignore_keys = parse_bool("partitioner.ignore.keys", v)?;
        }
        if let Some(v) = get("partitioner.adaptive.partitioning.enable") {
            c.partitioner_adaptive = parse_bool("partitioner.adaptive.partitioning.enable", v)?;
        }
        if let Some(n) = int("partitioner.availability.timeout.ms", 0, I64)? {
            c.partitioner_availability_timeout = ms(n);
        }
        if let Some(v) = get("enable.gapless.guarantee") {
            c.gapless = parse_bool("enable.gapless.guarantee", v)?;
        }
        if let Some(v) = get("allow.auto.create.topics") {
            c.allow_auto_create_topics = parse_bool("allow.auto.create.topics", v)?;
        }
        if let Some(v) = get("security.protocol") {
            match v.to_ascii_uppercase().as_str() {
                "PLAINTEXT" => c.security_protocol = SecurityProtocol::Plaintext,
                "SSL" => c.security_protocol = SecurityProtocol::Ssl,
                "SASL_PLAINTEXT" => c.security_protocol = SecurityProtocol::SaslPlaintext,
                "SASL_SSL" => c.security_protocol = SecurityProtocol::SaslSsl,
                _ => {
                    return Err(invalid(
                        "security.protocol",
                        v,
                        "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
                    ))
                }
            }
        }
        habits::apply(&mut c, p, &self.ignored)?;
        c.security = crate::security::settings::build(
            &|k| get(k).map(str::to_owned),
            c.security_protocol,
            self.token_provider.clone(),
        )?;

        idempotence::decide(&mut c, &get)?;

        // Java compares in an int: the sum is capped at 2^31-1 ms.
        let needed = (c.linger + c.request_timeout).min(ms(I32));
        if c.delivery_timeout < needed {
            if get("delivery.timeout.ms").is_some() {
                return Err(ConfigError::Conflict(format!(
                    "delivery.timeout.ms ({} ms) must be at least linger.ms + request.timeout.ms ({} ms)",
                    c.delivery_timeout.as_millis(),
                    needed.as_millis()
                )));
            }
            // Like Java: a default delivery timeout grows to fit a user's larger settings.
            c.delivery_timeout = needed;
        }
        if c.retry_backoff_max < c.retry_backoff {
            c.retry_backoff_max = c.retry_backoff;
        }
        if c.reconnect_backoff_max < c.reconnect_backoff {
            c.reconnect_backoff_max = c.reconnect_backoff;
        }
        Ok(c)
    }
}

mod aliases;
mod habits;
#[cfg(test)]
mod habits_tests;
mod idempotence;
mod kinds;
mod providers;
mod setters;
#[cfg(test)]
mod tests;
