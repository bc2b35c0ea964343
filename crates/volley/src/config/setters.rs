//! Typed setters for the properties the builder in `config.rs` has none for, so that every
//! key can be set without spelling its name.

use std::path::Path;
use std::time::Duration;

use super::{MetadataRecovery, PartitionerKind, ProducerConfigBuilder, SecurityProtocol};
use crate::security::SaslMechanism;

impl PartitionerKind {
    /// The name `partitioner` takes for this kind.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Murmur2Random => "murmur2_random",
            Self::Murmur2 => "murmur2",
            Self::ConsistentRandom => "consistent_random",
            Self::Consistent => "consistent",
            Self::Fnv1aRandom => "fnv1a_random",
            Self::Fnv1a => "fnv1a",
            Self::Random => "random",
            Self::RoundRobin => "round_robin",
        }
    }
}

impl std::fmt::Display for PartitionerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn millis(d: Duration) -> u128 {
    d.as_millis()
}

impl ProducerConfigBuilder {
    /// `retries`.
    #[must_use]
    pub fn retries(self, n: u32) -> Self {
        self.put("retries", n)
    }
    /// `retry.backoff.ms`.
    #[must_use]
    pub fn retry_backoff(self, d: Duration) -> Self {
        self.put("retry.backoff.ms", millis(d))
    }
    /// `retry.backoff.max.ms`.
    #[must_use]
    pub fn retry_backoff_max(self, d: Duration) -> Self {
        self.put("retry.backoff.max.ms", millis(d))
    }
    /// `max.in.flight.requests.per.connection`.
    #[must_use]
    pub fn max_in_flight(self, n: usize) -> Self {
        self.put("max.in.flight.requests.per.connection", n)
    }
    /// `max.request.size`.
    #[must_use]
    pub fn max_request_size(self, bytes: usize) -> Self {
        self.put("max.request.size", bytes)
    }
    /// `compression.level` (librdkafka's level for whichever codec `compression.type`
    /// names; -1 for the codec's default).
    #[must_use]
    pub fn compression_level(self, level: i32) -> Self {
        self.put("compression.level", level)
    }
    /// `compression.gzip.level`.
    #[must_use]
    pub fn compression_gzip_level(self, level: i32) -> Self {
        self.put("compression.gzip.level", level)
    }
    /// `compression.zstd.level`.
    #[must_use]
    pub fn compression_zstd_level(self, level: i32) -> Self {
        self.put("compression.zstd.level", level)
    }
    /// `compression.lz4.level`.
    #[must_use]
    pub fn compression_lz4_level(self, level: i32) -> Self {
        self.put("compression.lz4.level", level)
    }
    /// `partitioner.ignore.keys`.
    #[must_use]
    pub fn partitioner_ignore_keys(self, on: bool) -> Self {
        self.put("partitioner.ignore.keys", on)
    }
    /// `partitioner.adaptive.partitioning.enable`.
    #[must_use]
    pub fn partitioner_adaptive(self, on: bool) -> Self {
        self.put("partitioner.adaptive.partitioning.enable", on)
    }
    /// `partitioner.availability.timeout.ms`.
    #[must_use]
    pub fn partitioner_availability_timeout(self, d: Duration) -> Self {
        self.put("partitioner.availability.timeout.ms", d.as_millis())
    }
    /// `allow.auto.create.topics`.
    #[must_use]
    pub fn allow_auto_create_topics(self, on: bool) -> Self {
        self.put("allow.auto.create.topics", on)
    }
    /// `metadata.max.age.ms`.
    #[must_use]
    pub fn metadata_max_age(self, d: Duration) -> Self {
        self.put("metadata.max.age.ms", millis(d))
    }
    /// `metadata.max.idle.ms`.
    #[must_use]
    pub fn metadata_max_idle(self, d: Duration) -> Self {
        self.put("metadata.max.idle.ms", millis(d))
    }
    /// `metadata.recovery.strategy`.
    #[must_use]
    pub fn metadata_recovery(self, strategy: MetadataRecovery) -> Self {
        self.put("metadata.recovery.strategy", strategy)
    }
    /// `metadata.recovery.rebootstrap.trigger.ms`.
    #[must_use]
    pub fn rebootstrap_trigger(self, d: Duration) -> Self {
        self.put("metadata.recovery.rebootstrap.trigger.ms", millis(d))
    }
    /// `reconnect.backoff.ms`.
    #[must_use]
    pub fn reconnect_backoff(self, d: Duration) -> Self {
        self.put("reconnect.backoff.ms", millis(d))
    }
    /// `reconnect.backoff.max.ms`.
    #[must_use]
    pub fn reconnect_backoff_max(self, d: Duration) -> Self {
        self.put("reconnect.backoff.max.ms", millis(d))
    }
    /// `socket.connection.setup.timeout.ms`.
    #[must_use]
    pub fn connect_timeout(self, d: Duration) -> Self {
        self.put("socket.connection.setup.timeout.ms", millis(d))
    }
    /// `enable.gapless.guarantee`.
    #[must_use]
    pub fn gapless_guarantee(self, on: bool) -> Self {
        self.put("enable.gapless.guarantee", on)
    }
    /// `security.protocol`.
    #[must_use]
    pub fn security_protocol(self, p: SecurityProtocol) -> Self {
        self.put("security.protocol", p.name())
    }
    /// `sasl.mechanism`.
    #[must_use]
    pub fn sasl_mechanism(self, m: SaslMechanism) -> Self {
        self.put("sasl.mechanism", m.name())
    }
    /// The OAUTHBEARER token source of a library user (a cloud IAM token, say): it wins over
    /// the `sasl.oauthbearer.*` keys. Set `sasl.mechanism=OAUTHBEARER` too.
    #[must_use]
    pub fn oauth_token_provider(mut self, provider: std::sync::Arc<dyn crate::security::TokenProvider>) -> Self {
        self.token_provider = Some(provider);
        self
    }
    /// `sasl.oauthbearer.method`: `default` or `oidc` (client credentials).
    #[must_use]
    pub fn sasl_oauthbearer_method(self, method: &str) -> Self {
        self.put("sasl.oauthbearer.method", method)
    }
    /// `sasl.oauthbearer.token.endpoint.url`.
    #[must_use]
    pub fn sasl_oauthbearer_token_endpoint_url(self, url: &str) -> Self {
        self.put("sasl.oauthbearer.token.endpoint.url", url)
    }
    /// `sasl.oauthbearer.client.id`.
    #[must_use]
    pub fn sasl_oauthbearer_client_id(self, id: &str) -> Self {
        self.put("sasl.oauthbearer.client.id", id)
    }
    /// `sasl.oauthbearer.client.secret` (a secret: never shown).
    #[must_use]
    pub fn sasl_oauthbearer_client_secret(self, secret: &str) -> Self {
        self.put("sasl.oauthbearer.client.secret", secret)
    }
    /// `sasl.oauthbearer.scope`.
    #[must_use]
    pub fn sasl_oauthbearer_scope(self, scope: &str) -> Self {
        self.put("sasl.oauthbearer.scope", scope)
    }
    /// `sasl.oauthbearer.extensions`: `key=value` pairs separated by commas.
    #[must_use]
    pub fn sasl_oauthbearer_extensions(self, extensions: &str) -> Self {
        self.put("sasl.oauthbearer.extensions", extensions)
    }
    /// `enable.sasl.oauthbearer.unsecure.jwt` (tests only).
    #[must_use]
    pub fn enable_sasl_oauthbearer_unsecure_jwt(self, on: bool) -> Self {
        self.put("enable.sasl.oauthbearer.unsecure.jwt", on)
    }
    /// `sasl.oauthbearer.config` (librdkafka's unsecured JWT: `principal=… lifeSeconds=…`).
    #[must_use]
    pub fn sasl_oauthbearer_config(self, config: &str) -> Self {
        self.put("sasl.oauthbearer.config", config)
    }
    /// `metrics.sample.window.ms`: the length of one metrics sample.
    #[must_use]
    pub fn metrics_sample_window(self, d: Duration) -> Self {
        self.put("metrics.sample.window.ms", d.as_millis())
    }
    /// `statistics.interval.ms`: how often the statistics callback runs (zero: never).
    #[must_use]
    pub fn statistics_interval(self, d: Duration) -> Self {
        self.put("statistics.interval.ms", d.as_millis())
    }
    /// `metrics.num.samples`: how many samples the metrics window keeps.
    #[must_use]
    pub fn metrics_num_samples(self, n: usize) -> Self {
        self.put("metrics.num.samples", n)
    }
    /// `sasl.jaas.config` (a secret: never shown in errors or logs).
    #[must_use]
    pub fn sasl_jaas_config(self, jaas: &str) -> Self {
        self.put("sasl.jaas.config", jaas)
    }
    /// `sasl.username` (librdkafka's way to give the SASL user without JAAS).
    #[must_use]
    pub fn sasl_username(self, user: &str) -> Self {
        self.put("sasl.username", user)
    }
    /// `sasl.password` (a secret).
    #[must_use]
    pub fn sasl_password(self, password: &str) -> Self {
        self.put("sasl.password", password)
    }
    /// `ssl.truststore.location`: a PEM file of CA certificates (or a JKS/PKCS12 store,
    /// with `ssl.truststore.type`).
    #[must_use]
    pub fn ssl_truststore_location(self, path: impl AsRef<Path>) -> Self {
        self.put("ssl.truststore.location", path.as_ref().display())
    }
    /// `ssl.truststore.type` (`PEM`, ...).
    #[must_use]
    pub fn ssl_truststore_type(self, kind: &str) -> Self {
        self.put("ssl.truststore.type", kind)
    }
    /// `ssl.truststore.password` (a secret).
    #[must_use]
    pub fn ssl_truststore_password(self, password: &str) -> Self {
        self.put("ssl.truststore.password", password)
    }
    /// `ssl.truststore.certificates`: CA certificates as PEM text.
    #[must_use]
    pub fn ssl_truststore_certificates(self, pem: &str) -> Self {
        self.put("ssl.truststore.certificates", pem)
    }
    /// `ssl.keystore.location`: the client's certificate and key (mutual TLS).
    #[must_use]
    pub fn ssl_keystore_location(self, path: impl AsRef<Path>) -> Self {
        self.put("ssl.keystore.location", path.as_ref().display())
    }
    /// `ssl.keystore.type` (`PEM`, ...).
    #[must_use]
    pub fn ssl_keystore_type(self, kind: &str) -> Self {
        self.put("ssl.keystore.type", kind)
    }
    /// `ssl.keystore.password` (a secret).
    #[must_use]
    pub fn ssl_keystore_password(self, password: &str) -> Self {
        self.put("ssl.keystore.password", password)
    }
    /// `ssl.keystore.key`: the client's private key as PEM text (a secret).
    #[must_use]
    pub fn ssl_keystore_key(self, pem: &str) -> Self {
        self.put("ssl.keystore.key", pem)
    }
    /// `ssl.keystore.certificate.chain`: the client's certificate chain as PEM text.
    #[must_use]
    pub fn ssl_keystore_certificate_chain(self, pem: &str) -> Self {
        self.put("ssl.keystore.certificate.chain", pem)
    }
    /// `ssl.key.password` (a secret).
    #[must_use]
    pub fn ssl_key_password(self, password: &str) -> Self {
        self.put("ssl.key.password", password)
    }
    /// `ssl.endpoint.identification.algorithm`: `https` (the default) checks the broker's
    /// host name against its certificate; empty turns the check off.
    #[must_use]
    pub fn ssl_endpoint_identification_algorithm(self, algorithm: &str) -> Self {
        self.put("ssl.endpoint.identification.algorithm", algorithm)
    }
    /// `ssl.protocol`.
    #[must_use]
    pub fn ssl_protocol(self, protocol: &str) -> Self {
        self.put("ssl.protocol", protocol)
    }
    /// `ssl.enabled.protocols` (comma-separated, e.g. `TLSv1.3,TLSv1.2`).
    #[must_use]
    pub fn ssl_enabled_protocols(self, protocols: &str) -> Self {
        self.put("ssl.enabled.protocols", protocols)
    }
    /// `ssl.ca.location` (librdkafka's name): a PEM file of CA certificates.
    #[must_use]
    pub fn ssl_ca_location(self, path: impl AsRef<Path>) -> Self {
        self.put("ssl.ca.location", path.as_ref().display())
    }
    /// `ssl.ca.pem` (librdkafka's name): CA certificates as PEM text.
    #[must_use]
    pub fn ssl_ca_pem(self, pem: &str) -> Self {
        self.put("ssl.ca.pem", pem)
    }
    /// `ssl.certificate.location` (librdkafka's name): the client's certificate chain file.
    #[must_use]
    pub fn ssl_certificate_location(self, path: impl AsRef<Path>) -> Self {
        self.put("ssl.certificate.location", path.as_ref().display())
    }
    /// `ssl.certificate.pem` (librdkafka's name): the client's certificate chain as PEM text.
    #[must_use]
    pub fn ssl_certificate_pem(self, pem: &str) -> Self {
        self.put("ssl.certificate.pem", pem)
    }
    /// `ssl.key.location` (librdkafka's name): the client's private key file.
    #[must_use]
    pub fn ssl_key_location(self, path: impl AsRef<Path>) -> Self {
        self.put("ssl.key.location", path.as_ref().display())
    }
    /// `ssl.key.pem` (librdkafka's name): the client's private key as PEM text (a secret).
    #[must_use]
    pub fn ssl_key_pem(self, pem: &str) -> Self {
        self.put("ssl.key.pem", pem)
    }
    /// `enable.ssl.certificate.verification` (librdkafka's name; `false` trusts any
    /// certificate: for tests only).
    #[must_use]
    pub fn enable_ssl_certificate_verification(self, on: bool) -> Self {
        self.put("enable.ssl.certificate.verification", on)
    }
    /// `queue.buffering.max.messages` (librdkafka's cap on queued records).
    #[must_use]
    pub fn queue_buffering_max_messages(self, n: u32) -> Self {
        self.put("queue.buffering.max.messages", n)
    }
    /// `batch.num.messages` (librdkafka's cap on records per batch).
    #[must_use]
    pub fn batch_num_messages(self, n: u32) -> Self {
        self.put("batch.num.messages", n)
    }
    /// `client.rack`.
    #[must_use]
    pub fn client_rack(self, rack: &str) -> Self {
        self.put("client.rack", rack)
    }
    /// `client.dns.lookup` (`use_all_dns_ips` or `resolve_canonical_bootstrap_servers_only`).
    #[must_use]
    pub fn client_dns_lookup(self, how: &str) -> Self {
        self.put("client.dns.lookup", how)
    }
    /// `connections.max.idle.ms`.
    #[must_use]
    pub fn connections_max_idle(self, d: Duration) -> Self {
        self.put("connections.max.idle.ms", millis(d))
    }
    /// `send.buffer.bytes` (-1: the system's default).
    #[must_use]
    pub fn send_buffer_bytes(self, bytes: i32) -> Self {
        self.put("send.buffer.bytes", bytes)
    }
    /// `receive.buffer.bytes` (-1: the system's default).
    #[must_use]
    pub fn receive_buffer_bytes(self, bytes: i32) -> Self {
        self.put("receive.buffer.bytes", bytes)
    }
    /// `socket.keepalive.enable` (librdkafka's name).
    #[must_use]
    pub fn socket_keepalive(self, on: bool) -> Self {
        self.put("socket.keepalive.enable", on)
    }
    /// `socket.nagle.disable` (librdkafka's name).
    #[must_use]
    pub fn socket_nagle_disable(self, on: bool) -> Self {
        self.put("socket.nagle.disable", on)
    }
}

impl SecurityProtocol {
    /// The name `security.protocol` takes for this protocol.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Plaintext => "PLAINTEXT",
            Self::Ssl => "SSL",
            Self::SaslPlaintext => "SASL_PLAINTEXT",
            Self::SaslSsl => "SASL_SSL",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Acks, Compression, ProducerConfig};

    /// Every typed setter lands on its key: a config built with them equals one built from
    /// the same values as properties.
    #[test]
    fn typed_setters_match_properties() {
        let s = Duration::from_millis;
        let typed = ProducerConfig::builder()
            .bootstrap_servers("h:1")
            .client_id("c")
            .acks(Acks::All)
            .enable_idempotence(true)
            .retries(7)
            .retry_backoff(s(20))
            .retry_backoff_max(s(200))
            .linger(s(9))
            .batch_size(1000)
            .buffer_memory(1 << 20)
            .compression(Compression::Zstd)
            .compression_zstd_level(5)
            .max_block(s(1500))
            .delivery_timeout(s(50_000))
            .request_timeout(s(20_000))
            .max_in_flight(3)
            .max_request_size(500_000)
            .partitioner(PartitionerKind::RoundRobin)
            .partitioner_ignore_keys(true)
            .partitioner_adaptive(false)
            .partitioner_availability_timeout(s(250))
            .allow_auto_create_topics(false)
            .metadata_max_age(s(60_000))
            .metadata_max_idle(s(70_000))
            .metadata_recovery(MetadataRecovery::None)
            .rebootstrap_trigger(s(80_000))
            .reconnect_backoff(s(30))
            .reconnect_backoff_max(s(300))
            .connect_timeout(s(4000))
            .gapless_guarantee(true)
            .build()
            .unwrap();
        let props = ProducerConfig::from_properties([
            ("bootstrap.servers", "h:1"),
            ("client.id", "c"),
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("retries", "7"),
            ("retry.backoff.ms", "20"),
            ("retry.backoff.max.ms", "200"),
            ("linger.ms", "9"),
            ("batch.size", "1000"),
            ("buffer.memory", "1048576"),
            ("compression.type", "zstd"),
            ("compression.zstd.level", "5"),
            ("max.block.ms", "1500"),
            ("delivery.timeout.ms", "50000"),
            ("request.timeout.ms", "20000"),
            ("max.in.flight.requests.per.connection", "3"),
            ("max.request.size", "500000"),
            ("partitioner", "round_robin"),
            ("partitioner.ignore.keys", "true"),
            ("partitioner.adaptive.partitioning.enable", "false"),
            ("partitioner.availability.timeout.ms", "250"),
            ("allow.auto.create.topics", "false"),
            ("metadata.max.age.ms", "60000"),
            ("metadata.max.idle.ms", "70000"),
            ("metadata.recovery.strategy", "none"),
            ("metadata.recovery.rebootstrap.trigger.ms", "80000"),
            ("reconnect.backoff.ms", "30"),
            ("reconnect.backoff.max.ms", "300"),
            ("socket.connection.setup.timeout.ms", "4000"),
            ("enable.gapless.guarantee", "true"),
        ])
        .unwrap();
        assert_eq!(typed, props);
        assert_eq!(typed.partitioner, PartitionerKind::RoundRobin);
        assert_eq!(typed.compression_level, Some(5));
    }

    #[test]
    fn partitioner_names_round_trip() {
        for name in PartitionerKind::NAMES.split(", ") {
            let k = PartitionerKind::parse(name).unwrap();
            assert_eq!(k.name(), name);
            assert_eq!(k.to_string(), name);
        }
    }

    /// Issue 15: the connection keys have typed setters too (security, TLS, SASL, rack, DNS,
    /// idle close, socket options); each lands on its key.
    #[test]
    fn connection_setters_match_properties() {
        use crate::security::SaslMechanism;
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let typed = ProducerConfig::builder()
            .bootstrap_servers("h:1")
            .security_protocol(SecurityProtocol::SaslSsl)
            .sasl_mechanism(SaslMechanism::ScramSha512)
            .sasl_username("u")
            .sasl_password("p")
            .ssl_endpoint_identification_algorithm("")
            .ssl_enabled_protocols("TLSv1.3")
            .client_rack("r1")
            .client_dns_lookup("use_all_dns_ips")
            .connections_max_idle(Duration::from_millis(60_000))
            .send_buffer_bytes(131_072)
            .receive_buffer_bytes(-1)
            .socket_keepalive(true)
            .socket_nagle_disable(true);
        let expected = [
            ("bootstrap.servers", "h:1"),
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", "u"),
            ("sasl.password", "p"),
            ("ssl.endpoint.identification.algorithm", ""),
            ("ssl.enabled.protocols", "TLSv1.3"),
            ("client.rack", "r1"),
            ("client.dns.lookup", "use_all_dns_ips"),
            ("connections.max.idle.ms", "60000"),
            ("send.buffer.bytes", "131072"),
            ("receive.buffer.bytes", "-1"),
            ("socket.keepalive.enable", "true"),
            ("socket.nagle.disable", "true"),
        ];
        // The TLS settings hold a rustls config (compared by identity), so the typed builder's
        // properties are compared, and both must build the same settings.
        let mut got: Vec<(&str, &str)> = typed.props.iter().map(|(k, v)| (*k, v.as_str())).collect();
        got.sort_unstable();
        let mut want = expected.to_vec();
        want.sort_unstable();
        assert_eq!(got, want);
        let (a, b) = (typed.build(), ProducerConfig::from_properties(expected));
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert!(a.is_ok(), "{a:?}");
        // The keystore and truststore setters spell their keys right: a wrong key would be
        // refused as unknown, a right one reaches the TLS settings (here: unreadable file).
        for b in [
            ProducerConfig::builder().ssl_truststore_location("/nonexistent/ca.pem"),
            ProducerConfig::builder().ssl_keystore_location("/nonexistent/client.pem"),
            ProducerConfig::builder().ssl_ca_location("/nonexistent/ca.pem"),
            ProducerConfig::builder()
                .ssl_certificate_location("/nonexistent/c.pem")
                .ssl_key_location("/nonexistent/k.pem"),
        ] {
            let e = b
                .bootstrap_servers("h:1")
                .security_protocol(SecurityProtocol::Ssl)
                .build()
                .unwrap_err()
                .to_string();
            assert!(e.contains("/nonexistent/"), "{e}");
        }
        let with_pem = ProducerConfig::builder()
            .bootstrap_servers("h:1")
            .security_protocol(SecurityProtocol::Ssl)
            .ssl_truststore_type("PEM")
            .ssl_truststore_certificates(pem)
            .build()
            .map_err(|e| e.to_string());
        let with_pem_props = ProducerConfig::from_properties([
            ("bootstrap.servers", "h:1"),
            ("security.protocol", "SSL"),
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.certificates", pem),
        ])
        .map_err(|e| e.to_string());
        // The same answer both ways; the (not a real) certificate reached the TLS settings.
        assert_eq!(format!("{with_pem:?}"), format!("{with_pem_props:?}"));
        assert!(with_pem.unwrap_err().contains("CA certificate"));
        let names: Vec<&str> = [
            SecurityProtocol::Plaintext,
            SecurityProtocol::Ssl,
            SecurityProtocol::SaslPlaintext,
            SecurityProtocol::SaslSsl,
        ]
        .iter()
        .map(|p| p.name())
        .collect();
        assert_eq!(names, ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]);
        // The remaining security setters land on their keys (secrets included).
        let b = ProducerConfig::builder()
            .ssl_keystore_type("PEM")
            .ssl_keystore_password("x1")
            .ssl_keystore_key("k")
            .ssl_keystore_certificate_chain(pem)
            .ssl_key_password("x2")
            .ssl_truststore_password("x3")
            .ssl_protocol("TLSv1.3")
            .sasl_jaas_config("j")
            .sasl_oauthbearer_method("oidc")
            .sasl_oauthbearer_token_endpoint_url("https://idp/t")
            .sasl_oauthbearer_client_id("id")
            .sasl_oauthbearer_client_secret("x4")
            .sasl_oauthbearer_scope("s")
            .sasl_oauthbearer_extensions("k=v")
            .enable_sasl_oauthbearer_unsecure_jwt(false)
            .sasl_oauthbearer_config("principal=p")
            .queue_buffering_max_messages(7)
            .batch_num_messages(9);
        let mut got: Vec<(&str, &str)> = b.props.iter().map(|(k, v)| (*k, v.as_str())).collect();
        got.sort_unstable();
        assert_eq!(
            got,
            [
                ("batch.num.messages", "9"),
                ("enable.sasl.oauthbearer.unsecure.jwt", "false"),
                ("queue.buffering.max.messages", "7"),
                ("sasl.jaas.config", "j"),
                ("sasl.oauthbearer.client.id", "id"),
                ("sasl.oauthbearer.client.secret", "x4"),
                ("sasl.oauthbearer.config", "principal=p"),
                ("sasl.oauthbearer.extensions", "k=v"),
                ("sasl.oauthbearer.method", "oidc"),
                ("sasl.oauthbearer.scope", "s"),
                ("sasl.oauthbearer.token.endpoint.url", "https://idp/t"),
                ("ssl.key.password", "x2"),
                ("ssl.keystore.certificate.chain", pem),
                ("ssl.keystore.key", "k"),
                ("ssl.keystore.password", "x1"),
                ("ssl.keystore.type", "PEM"),
                ("ssl.protocol", "TLSv1.3"),
                ("ssl.truststore.password", "x3"),
            ]
        );
        // The librdkafka PEM keys land on their own names.
        let b = ProducerConfig::builder()
            .bootstrap_servers("h:1")
            .security_protocol(SecurityProtocol::Ssl)
            .ssl_ca_pem(pem)
            .ssl_certificate_pem(pem)
            .ssl_key_pem("k")
            .enable_ssl_certificate_verification(true);
        let mut got: Vec<(&str, &str)> = b.props.iter().map(|(k, v)| (*k, v.as_str())).collect();
        got.sort_unstable();
        assert_eq!(
            got,
            [
                ("bootstrap.servers", "h:1"),
                ("enable.ssl.certificate.verification", "true"),
                ("security.protocol", "SSL"),
                ("ssl.ca.pem", pem),
                ("ssl.certificate.pem", pem),
                ("ssl.key.pem", "k"),
            ]
        );
    }
}
