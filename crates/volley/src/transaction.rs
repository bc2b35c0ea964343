//! What `send_offsets_to_transaction` takes: a consumer group's identity and the offsets to
//! commit in the transaction (Java's `ConsumerGroupMetadata` and `OffsetAndMetadata`).
//!
//! The transaction's state machine itself is internal (`sender::transaction`); this module
//! only holds the plain values an application hands over.

/// The consumer group whose offsets a transaction commits, as the consumer reports it
/// (Java's `ConsumerGroupMetadata`). The generation and member id let the group coordinator
/// refuse offsets of a consumer that was kicked out of the group (KIP-447).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupMetadata {
    /// `group.id`.
    pub group_id: String,
    /// The group generation, or -1 when unknown.
    pub generation_id: i32,
    /// The member id, or `""` when unknown.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
}

impl ConsumerGroupMetadata {
    /// A group known by its id only (generation -1, no member id): the coordinator does not
    /// check the sender's membership, as with Java's `new ConsumerGroupMetadata(groupId)`.
    #[must_use]
    pub fn new(group_id: impl Into<String>) -> Self {
        Self {
            group_id: group_id.into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}

/// One partition's offset to commit: the offset of the next record to consume, and
/// optional metadata stored beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    /// The next offset to read.
    pub offset: i64,
    /// Free text kept with the offset.
    pub metadata: Option<String>,
    /// The leader epoch of the last record read, if known.
    pub leader_epoch: Option<i32>,
}

impl OffsetAndMetadata {
    /// An offset without metadata.
    #[must_use]
    pub fn new(offset: i64) -> Self {
        Self {
            offset,
            metadata: None,
            leader_epoch: None,
        }
    }
}

/// Offsets to commit, by topic and partition.
pub type Offsets = Vec<((String, i32), OffsetAndMetadata)>;
