"""The tuples a producer returns, with kafka-python's names and fields."""
from typing import NamedTuple, Optional


class TopicPartition(NamedTuple):
    """A topic and one of its partitions."""

    topic: str
    partition: int


class RecordMetadata(NamedTuple):
    """Where a delivered record was written.

    ``offset`` is -1 with ``acks=0`` (the broker does not answer); ``checksum`` is always
    None (record batches v2 keep one CRC per batch); the sizes are -1 when absent.
    """

    topic: str
    partition: int
    topic_partition: TopicPartition
    offset: int
    timestamp: int
    checksum: Optional[int]
    serialized_key_size: int
    serialized_value_size: int
    serialized_header_size: int


class OffsetAndMetadata(NamedTuple):
    """A consumer offset to commit (``send_offsets_to_transaction``)."""

    offset: int
    metadata: Optional[str] = None
    leader_epoch: Optional[int] = None
