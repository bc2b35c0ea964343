"""Exceptions, with kafka-python's class names and hierarchy.

Every exception of a failed delivery (``FutureRecordMetadata.exception``, the errback's
argument, what ``get()`` raises) carries ``persistence``: ``"not_persisted"`` (certainly
not written; safe to send again) or ``"possibly_persisted"`` (Volley gave up after an
uncertain failure: the record may be in the log once). It is None on exceptions raised by
``send()`` itself (the record was never queued).
"""
from typing import Dict, Optional, Type


class KafkaError(Exception):
    """Base class of every error the producer raises."""

    retriable = False
    invalid_metadata = False
    persistence: Optional[str] = None

    def __str__(self) -> str:
        if not self.args:
            return self.__class__.__name__
        return f"{self.__class__.__name__}: {super().__str__()}"


class IllegalStateError(KafkaError):
    """The producer cannot do this now (it is closed)."""


class IllegalArgumentError(KafkaError):
    """An argument has a value the producer cannot use."""


class KafkaConfigurationError(KafkaError):
    """A keyword argument is unknown, or its value cannot be used."""


class SerializationError(KafkaError):
    """A key or value could not be serialized."""


class AuthenticationFailedError(KafkaError):
    """TLS or SASL authentication with a broker failed."""


class RetriableError(KafkaError):
    """A failure that may pass if the operation is tried again."""

    retriable = True


class KafkaTimeoutError(RetriableError):
    """A wait ran out of time: metadata (``max_block_ms``), delivery
    (``delivery_timeout_ms``), ``get(timeout)`` or ``flush(timeout)``."""


class KafkaConnectionError(RetriableError):
    """Connecting or talking to a broker failed."""

    invalid_metadata = True


class KafkaProtocolError(KafkaError):
    """A broker sent something the producer cannot understand."""

    retriable = True


class BrokerResponseError(KafkaError):
    """An error code in a broker's answer; ``errno`` is the Kafka error code."""

    errno: Optional[int] = None
    message: Optional[str] = None
    description = "an error code from the broker"


_BY_CODE: Dict[int, Type[BrokerResponseError]] = {}


def _broker(name: str, errno: int, message: str, retriable: bool = False, invalid_metadata: bool = False) -> Type[BrokerResponseError]:
    cls = type(
        name,
        (BrokerResponseError,),
        {"errno": errno, "message": message, "retriable": retriable, "invalid_metadata": invalid_metadata, "__module__": __name__},
    )
    _BY_CODE[errno] = cls
    return cls


# Kafka's error codes a producer can meet, by kafka-python's class names.
OffsetOutOfRangeError = _broker("OffsetOutOfRangeError", 1, "OFFSET_OUT_OF_RANGE")
CorruptRecordError = _broker("CorruptRecordError", 2, "CORRUPT_MESSAGE", retriable=True)
UnknownTopicOrPartitionError = _broker("UnknownTopicOrPartitionError", 3, "UNKNOWN_TOPIC_OR_PARTITION", True, True)
InvalidFetchRequestError = _broker("InvalidFetchRequestError", 4, "INVALID_FETCH_SIZE")
LeaderNotAvailableError = _broker("LeaderNotAvailableError", 5, "LEADER_NOT_AVAILABLE", True, True)
NotLeaderForPartitionError = _broker("NotLeaderForPartitionError", 6, "NOT_LEADER_OR_FOLLOWER", True, True)
RequestTimedOutError = _broker("RequestTimedOutError", 7, "REQUEST_TIMED_OUT", retriable=True)
BrokerNotAvailableError = _broker("BrokerNotAvailableError", 8, "BROKER_NOT_AVAILABLE")
ReplicaNotAvailableError = _broker("ReplicaNotAvailableError", 9, "REPLICA_NOT_AVAILABLE", True, True)
MessageSizeTooLargeError = _broker("MessageSizeTooLargeError", 10, "MESSAGE_TOO_LARGE")
NetworkExceptionError = _broker("NetworkExceptionError", 13, "NETWORK_EXCEPTION", True, True)
InvalidTopicError = _broker("InvalidTopicError", 17, "INVALID_TOPIC_EXCEPTION")
RecordListTooLargeError = _broker("RecordListTooLargeError", 18, "RECORD_LIST_TOO_LARGE")
NotEnoughReplicasError = _broker("NotEnoughReplicasError", 19, "NOT_ENOUGH_REPLICAS", retriable=True)
NotEnoughReplicasAfterAppendError = _broker("NotEnoughReplicasAfterAppendError", 20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", retriable=True)
InvalidRequiredAcksError = _broker("InvalidRequiredAcksError", 21, "INVALID_REQUIRED_ACKS")
TopicAuthorizationFailedError = _broker("TopicAuthorizationFailedError", 29, "TOPIC_AUTHORIZATION_FAILED")
ClusterAuthorizationFailedError = _broker("ClusterAuthorizationFailedError", 31, "CLUSTER_AUTHORIZATION_FAILED")
InvalidTimestampError = _broker("InvalidTimestampError", 32, "INVALID_TIMESTAMP")
UnsupportedVersionError = _broker("UnsupportedVersionError", 35, "UNSUPPORTED_VERSION")
InvalidRequestError = _broker("InvalidRequestError", 42, "INVALID_REQUEST")
UnsupportedForMessageFormatError = _broker("UnsupportedForMessageFormatError", 43, "UNSUPPORTED_FOR_MESSAGE_FORMAT")
PolicyViolationError = _broker("PolicyViolationError", 44, "POLICY_VIOLATION")
OutOfOrderSequenceNumberError = _broker("OutOfOrderSequenceNumberError", 45, "OUT_OF_ORDER_SEQUENCE_NUMBER")
DuplicateSequenceNumberError = _broker("DuplicateSequenceNumberError", 46, "DUPLICATE_SEQUENCE_NUMBER")
InvalidProducerEpochError = _broker("InvalidProducerEpochError", 47, "INVALID_PRODUCER_EPOCH")
InvalidTxnStateError = _broker("InvalidTxnStateError", 48, "INVALID_TXN_STATE")
InvalidProducerIdMappingError = _broker("InvalidProducerIdMappingError", 49, "INVALID_PRODUCER_ID_MAPPING")
TransactionalIdAuthorizationFailedError = _broker("TransactionalIdAuthorizationFailedError", 53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED")
SaslAuthenticationFailedError = _broker("SaslAuthenticationFailedError", 58, "SASL_AUTHENTICATION_FAILED")
UnknownProducerIdError = _broker("UnknownProducerIdError", 59, "UNKNOWN_PRODUCER_ID")
KafkaStorageError = _broker("KafkaStorageError", 56, "KAFKA_STORAGE_ERROR", True, True)
FencedLeaderEpochError = _broker("FencedLeaderEpochError", 74, "FENCED_LEADER_EPOCH", True, True)
UnknownLeaderEpochError = _broker("UnknownLeaderEpochError", 75, "UNKNOWN_LEADER_EPOCH", retriable=True)
UnsupportedCompressionTypeError = _broker("UnsupportedCompressionTypeError", 76, "UNSUPPORTED_COMPRESSION_TYPE")
InvalidRecordError = _broker("InvalidRecordError", 87, "INVALID_RECORD")
ProducerFencedError = _broker("ProducerFencedError", 90, "PRODUCER_FENCED")


def _for_code(errno: int, text: str) -> BrokerResponseError:
    """The exception for Kafka error code ``errno`` (the native module calls this)."""
    cls = _BY_CODE.get(errno)
    if cls is None:
        exc = BrokerResponseError(text)
        exc.errno = errno
        return exc
    return cls(text)
