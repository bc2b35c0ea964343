//! The API versions Volley speaks and the negotiation with a broker's ApiVersions answer.

use std::collections::HashMap;

/// Kafka API keys Volley uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Api {
    /// Produce (0).
    Produce,
    /// Metadata (3).
    Metadata,
    /// ApiVersions (18).
    ApiVersions,
    /// InitProducerId (22).
    InitProducerId,
    /// FindCoordinator (10).
    FindCoordinator,
    /// AddPartitionsToTxn (24).
    AddPartitionsToTxn,
    /// AddOffsetsToTxn (25).
    AddOffsetsToTxn,
    /// EndTxn (26).
    EndTxn,
    /// TxnOffsetCommit (28).
    TxnOffsetCommit,
    /// OffsetFetch (9), to read a group's committed offsets.
    OffsetFetch,
}

impl Api {
    /// Every API Volley needs from a broker.
    pub const ALL: [Api; 4] = [Api::Produce, Api::Metadata, Api::ApiVersions, Api::InitProducerId];

    /// The numeric API key.
    #[must_use]
    pub fn key(self) -> i16 {
        match self {
            Api::Produce => 0,
            Api::Metadata => 3,
            Api::ApiVersions => 18,
            Api::InitProducerId => 22,
            Api::FindCoordinator => 10,
            Api::AddPartitionsToTxn => 24,
            Api::AddOffsetsToTxn => 25,
            Api::EndTxn => 26,
            Api::TxnOffsetCommit => 28,
            Api::OffsetFetch => 9,
        }
    }

    /// Kafka's name for the API.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Api::Produce => "Produce",
            Api::Metadata => "Metadata",
            Api::ApiVersions => "ApiVersions",
            Api::InitProducerId => "InitProducerId",
            Api::FindCoordinator => "FindCoordinator",
            Api::AddPartitionsToTxn => "AddPartitionsToTxn",
            Api::AddOffsetsToTxn => "AddOffsetsToTxn",
            Api::EndTxn => "EndTxn",
            Api::TxnOffsetCommit => "TxnOffsetCommit",
            Api::OffsetFetch => "OffsetFetch",
        }
    }

    /// The version range Volley implements. Produce starts at v3 (RecordBatch v2, the
    /// only format Kafka 4 accepts) and goes to v12 (KIP-890's transactional produce; the
    /// sender uses v12 only for a transaction on a `transaction.version` 2 cluster);
    /// InitProducerId at v3 (earlier versions are answered with an error by some brokers,
    /// and v3 is where epoch bumps are defined). The transaction APIs stop where the Java
    /// client's TV1 path stops (AddPartitionsToTxn v3: v4+ is for brokers), EndTxn and
    /// TxnOffsetCommit at v5 (KIP-890).
    #[must_use]
    pub fn supported(self) -> (i16, i16) {
        match self {
            Api::Produce => (3, 12),
            Api::FindCoordinator => (1, 6),
            Api::AddPartitionsToTxn => (1, 3),
            Api::AddOffsetsToTxn => (1, 4),
            Api::EndTxn => (1, 5),
            Api::TxnOffsetCommit => (1, 5),
            // v7 is where require_stable starts (KIP-447); v10 names topics by id.
            Api::OffsetFetch => (7, 9),
            Api::Metadata => (4, 13),
            Api::ApiVersions => (0, 3),
            Api::InitProducerId => (3, 4),
        }
    }
}

/// The versions a broker advertised, by API key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerVersions {
    ranges: HashMap<i16, (i16, i16)>,
    /// Finalized features (ApiVersions v3+): name and max version level.
    features: HashMap<String, i16>,
}

/// A broker cannot speak a version of an API that Volley supports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the broker supports {api} versions {theirs}, Volley needs one of {ours_min}..={ours_max}; the broker is too old or not Kafka-compatible")]
pub struct VersionMismatch {
    /// API name.
    pub api: &'static str,
    /// What the broker offers, e.g. `0..=2` or `none`.
    pub theirs: String,
    /// Our minimum.
    pub ours_min: i16,
    /// Our maximum.
    pub ours_max: i16,
}

impl BrokerVersions {
    /// From `(api key, min, max)` triples.
    pub fn new(ranges: impl IntoIterator<Item = (i16, i16, i16)>) -> Self {
        Self {
            ranges: ranges.into_iter().map(|(k, lo, hi)| (k, (lo, hi))).collect(),
            features: HashMap::new(),
        }
    }

    /// With the cluster's finalized features (`name`, max version level).
    #[must_use]
    pub fn with_finalized(mut self, features: impl IntoIterator<Item = (String, i16)>) -> Self {
        self.features = features.into_iter().collect();
        self
    }

    /// The finalized max version level of a feature, `None` when the broker did not list
    /// it (older brokers list no features at all).
    #[must_use]
    pub fn finalized(&self, feature: &str) -> Option<i16> {
        self.features.get(feature).copied()
    }

    /// The broker's `(min, max)` for a raw API key (for APIs outside [`Api`], such as SASL's).
    #[must_use]
    pub fn range(&self, key: i16) -> Option<(i16, i16)> {
        self.ranges.get(&key).copied()
    }

    /// The highest version both sides support.
    ///
    /// # Errors
    /// [`VersionMismatch`] when the ranges do not overlap or the broker lacks the API.
    pub fn negotiate(&self, api: Api) -> Result<i16, VersionMismatch> {
        let (ours_min, ours_max) = api.supported();
        let mismatch = |theirs: String| VersionMismatch {
            api: api.name(),
            theirs,
            ours_min,
            ours_max,
        };
        let &(lo, hi) = self.ranges.get(&api.key()).ok_or_else(|| mismatch("none".into()))?;
        let v = hi.min(ours_max);
        if v < lo.max(ours_min) {
            return Err(mismatch(format!("{lo}..={hi}")));
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_highest_common_version() {
        let b = BrokerVersions::new([(0, 0, 11), (3, 0, 12), (18, 0, 4), (22, 0, 5)]);
        assert_eq!(b.negotiate(Api::Produce), Ok(11));
        assert_eq!(b.negotiate(Api::ApiVersions), Ok(3));
        let kafka4 = BrokerVersions::new([(0, 3, 13), (26, 0, 5), (24, 0, 5)]);
        assert_eq!(kafka4.negotiate(Api::Produce), Ok(12));
        assert_eq!(kafka4.negotiate(Api::EndTxn), Ok(5));
        assert_eq!(kafka4.negotiate(Api::AddPartitionsToTxn), Ok(3));
        assert_eq!(b.negotiate(Api::InitProducerId), Ok(4));
    }

    #[test]
    fn too_old_broker_is_a_clear_error() {
        let b = BrokerVersions::new([(0, 0, 2)]);
        let e = b.negotiate(Api::Produce).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the broker supports Produce versions 0..=2, Volley needs one of 3..=12; the broker is too old or not Kafka-compatible"
        );
        assert!(b
            .negotiate(Api::Metadata)
            .unwrap_err()
            .to_string()
            .contains("versions none"));
    }
}
