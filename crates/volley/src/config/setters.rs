//! Typed setters for the properties the builder in `config.rs` has none for, so that every
//! key can be set without spelling its name.

use std::time::Duration;

use super::{MetadataRecovery, PartitionerKind, ProducerConfigBuilder};

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
}
