//! The partitioner and metadata-recovery choices of a [`super::ProducerConfig`].

/// The built-in partitioners (librdkafka's names, plus `round_robin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PartitionerKind {
    /// Java's default: murmur2 of keyed records, uniform sticky (KIP-794) without a key.
    #[default]
    Default,
    /// murmur2 of the key; keyless records sticky. Same placement as Java's default.
    Murmur2Random,
    /// murmur2 of the key; keyless records hashed as an empty key.
    Murmur2,
    /// CRC32 of the key (librdkafka's default); empty and missing keys sticky.
    ConsistentRandom,
    /// CRC32 of the key; empty and missing keys hashed (to one partition).
    Consistent,
    /// FNV-1a of the key; keyless records sticky.
    Fnv1aRandom,
    /// FNV-1a of the key; keyless records hashed as an empty key.
    Fnv1a,
    /// A random partition per record.
    Random,
    /// Partitions in turn, keys ignored (Java's `RoundRobinPartitioner`).
    RoundRobin,
}

impl PartitionerKind {
    /// All names accepted by `partitioner`.
    pub const NAMES: &'static str =
        "default, murmur2_random, murmur2, consistent_random, consistent, fnv1a_random, fnv1a, random, round_robin";

    /// Parses a partitioner name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "default" => Self::Default,
            "murmur2_random" => Self::Murmur2Random,
            "murmur2" => Self::Murmur2,
            "consistent_random" => Self::ConsistentRandom,
            "consistent" => Self::Consistent,
            "fnv1a_random" => Self::Fnv1aRandom,
            "fnv1a" => Self::Fnv1a,
            "random" => Self::Random,
            "round_robin" => Self::RoundRobin,
            _ => return None,
        })
    }
}

/// `metadata.recovery.strategy`: what the producer does when it cannot reach any broker it
/// knows from metadata (Java 4.x, KIP-899).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetadataRecovery {
    /// Dial the `bootstrap.servers` again (after `metadata.recovery.rebootstrap.trigger.ms`
    /// without a reachable broker, or when a broker answers REBOOTSTRAP_REQUIRED).
    #[default]
    Rebootstrap,
    /// Keep trying the brokers last seen in metadata.
    None,
}

impl std::fmt::Display for MetadataRecovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MetadataRecovery::Rebootstrap => "rebootstrap",
            MetadataRecovery::None => "none",
        })
    }
}
