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


class InvalidMetadataError(RetriableError):
    """The cluster's metadata changed under the request (kafka-python's base of the
    leadership and topic errors)."""

    invalid_metadata = True


class KafkaConnectionError(InvalidMetadataError):
    """Connecting or talking to a broker failed."""


class StaleMetadata(InvalidMetadataError):
    """The metadata the request relied on is out of date."""


class NodeNotReadyError(RetriableError):
    """A broker connection is not ready yet."""


class TooManyInFlightRequests(RetriableError):
    """Too many requests are waiting on a connection."""


class Cancelled(RetriableError):
    """A request was cancelled."""


class MetadataEmptyBrokerList(RetriableError):
    """A metadata answer listed no broker."""


class UnsupportedCodecError(KafkaError):
    """A compression codec is not available."""


class UnrecognizedBrokerVersion(KafkaError):
    """A broker's version could not be recognized."""


class QuotaViolationError(KafkaError):
    """A quota was exceeded."""


class KafkaProtocolError(KafkaError):
    """A broker sent something the producer cannot understand."""


class TransactionAbortedError(KafkaError):
    """The record was still queued when ``abort_transaction()`` was called (kafka-python
    3.0, Java's ``TransactionAbortedException``); the producer goes on."""

    message = "Failing batch since transaction was aborted"


class BrokerResponseError(KafkaError):
    """An error code in a broker's answer; ``errno`` is the Kafka error code."""

    errno: Optional[int] = None
    message: Optional[str] = None
    description = "an error code from the broker"


class AuthorizationError(BrokerResponseError):
    """A broker refused the request for lack of permission (kafka-python's base of the
    ``...AuthorizationFailedError`` classes)."""


class UnknownError(BrokerResponseError):
    """A broker answered an error it did not name (code -1)."""

    errno = -1
    message = "UNKNOWN"


_BY_CODE: Dict[int, Type[BrokerResponseError]] = {-1: UnknownError}


def _broker(name: str, errno: int, message: str, *bases: type) -> Type[BrokerResponseError]:
    cls = type(name, bases, {"errno": errno, "message": message, "__module__": __name__})
    _BY_CODE[errno] = cls
    return cls


# Kafka's error codes by kafka-python 3.0's class names and bases: retriable errors derive
# from RetriableError (those about metadata from InvalidMetadataError), permission errors
# from AuthorizationError, so an ``except RetriableError:`` loop catches what it caught with
# kafka-python.
OffsetOutOfRangeError = _broker("OffsetOutOfRangeError", 1, "OFFSET_OUT_OF_RANGE", BrokerResponseError)
CorruptRecordError = _broker("CorruptRecordError", 2, "CORRUPT_MESSAGE", BrokerResponseError)
UnknownTopicOrPartitionError = _broker("UnknownTopicOrPartitionError", 3, "UNKNOWN_TOPIC_OR_PARTITION", InvalidMetadataError, BrokerResponseError)
InvalidFetchRequestError = _broker("InvalidFetchRequestError", 4, "INVALID_FETCH_SIZE", BrokerResponseError)
LeaderNotAvailableError = _broker("LeaderNotAvailableError", 5, "LEADER_NOT_AVAILABLE", InvalidMetadataError, BrokerResponseError)
NotLeaderForPartitionError = _broker("NotLeaderForPartitionError", 6, "NOT_LEADER_FOR_PARTITION", InvalidMetadataError, BrokerResponseError)
RequestTimedOutError = _broker("RequestTimedOutError", 7, "REQUEST_TIMED_OUT", RetriableError, BrokerResponseError)
BrokerNotAvailableError = _broker("BrokerNotAvailableError", 8, "BROKER_NOT_AVAILABLE", BrokerResponseError)
ReplicaNotAvailableError = _broker("ReplicaNotAvailableError", 9, "REPLICA_NOT_AVAILABLE", InvalidMetadataError, BrokerResponseError)
MessageSizeTooLargeError = _broker("MessageSizeTooLargeError", 10, "MESSAGE_SIZE_TOO_LARGE", BrokerResponseError)
StaleControllerEpochError = _broker("StaleControllerEpochError", 11, "STALE_CONTROLLER_EPOCH", BrokerResponseError)
OffsetMetadataTooLargeError = _broker("OffsetMetadataTooLargeError", 12, "OFFSET_METADATA_TOO_LARGE", BrokerResponseError)
NetworkExceptionError = _broker("NetworkExceptionError", 13, "NETWORK_EXCEPTION", InvalidMetadataError, BrokerResponseError)
CoordinatorLoadInProgressError = _broker("CoordinatorLoadInProgressError", 14, "COORDINATOR_LOAD_IN_PROGRESS", RetriableError, BrokerResponseError)
CoordinatorNotAvailableError = _broker("CoordinatorNotAvailableError", 15, "COORDINATOR_NOT_AVAILABLE", RetriableError, BrokerResponseError)
NotCoordinatorError = _broker("NotCoordinatorError", 16, "NOT_COORDINATOR", RetriableError, BrokerResponseError)
InvalidTopicError = _broker("InvalidTopicError", 17, "INVALID_TOPIC", BrokerResponseError)
RecordListTooLargeError = _broker("RecordListTooLargeError", 18, "RECORD_LIST_TOO_LARGE", BrokerResponseError)
NotEnoughReplicasError = _broker("NotEnoughReplicasError", 19, "NOT_ENOUGH_REPLICAS", RetriableError, BrokerResponseError)
NotEnoughReplicasAfterAppendError = _broker("NotEnoughReplicasAfterAppendError", 20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", RetriableError, BrokerResponseError)
InvalidRequiredAcksError = _broker("InvalidRequiredAcksError", 21, "INVALID_REQUIRED_ACKS", BrokerResponseError)
IllegalGenerationError = _broker("IllegalGenerationError", 22, "ILLEGAL_GENERATION", BrokerResponseError)
InconsistentGroupProtocolError = _broker("InconsistentGroupProtocolError", 23, "INCONSISTENT_GROUP_PROTOCOL", BrokerResponseError)
InvalidGroupIdError = _broker("InvalidGroupIdError", 24, "INVALID_GROUP_ID", BrokerResponseError)
UnknownMemberIdError = _broker("UnknownMemberIdError", 25, "UNKNOWN_MEMBER_ID", BrokerResponseError)
InvalidSessionTimeoutError = _broker("InvalidSessionTimeoutError", 26, "INVALID_SESSION_TIMEOUT", BrokerResponseError)
RebalanceInProgressError = _broker("RebalanceInProgressError", 27, "REBALANCE_IN_PROGRESS", BrokerResponseError)
InvalidCommitOffsetSizeError = _broker("InvalidCommitOffsetSizeError", 28, "INVALID_COMMIT_OFFSET_SIZE", BrokerResponseError)
TopicAuthorizationFailedError = _broker("TopicAuthorizationFailedError", 29, "TOPIC_AUTHORIZATION_FAILED", AuthorizationError)
GroupAuthorizationFailedError = _broker("GroupAuthorizationFailedError", 30, "GROUP_AUTHORIZATION_FAILED", AuthorizationError)
ClusterAuthorizationFailedError = _broker("ClusterAuthorizationFailedError", 31, "CLUSTER_AUTHORIZATION_FAILED", AuthorizationError)
InvalidTimestampError = _broker("InvalidTimestampError", 32, "INVALID_TIMESTAMP", BrokerResponseError)
UnsupportedSaslMechanismError = _broker("UnsupportedSaslMechanismError", 33, "UNSUPPORTED_SASL_MECHANISM", BrokerResponseError)
IllegalSaslStateError = _broker("IllegalSaslStateError", 34, "ILLEGAL_SASL_STATE", BrokerResponseError)
UnsupportedVersionError = _broker("UnsupportedVersionError", 35, "UNSUPPORTED_VERSION", BrokerResponseError)
TopicAlreadyExistsError = _broker("TopicAlreadyExistsError", 36, "TOPIC_ALREADY_EXISTS", BrokerResponseError)
InvalidPartitionsError = _broker("InvalidPartitionsError", 37, "INVALID_PARTITIONS", BrokerResponseError)
InvalidReplicationFactorError = _broker("InvalidReplicationFactorError", 38, "INVALID_REPLICATION_FACTOR", BrokerResponseError)
InvalidReplicationAssignmentError = _broker("InvalidReplicationAssignmentError", 39, "INVALID_REPLICATION_ASSIGNMENT", BrokerResponseError)
InvalidConfigurationError = _broker("InvalidConfigurationError", 40, "INVALID_CONFIG", BrokerResponseError)
NotControllerError = _broker("NotControllerError", 41, "NOT_CONTROLLER", RetriableError, BrokerResponseError)
InvalidRequestError = _broker("InvalidRequestError", 42, "INVALID_REQUEST", BrokerResponseError)
UnsupportedForMessageFormatError = _broker("UnsupportedForMessageFormatError", 43, "UNSUPPORTED_FOR_MESSAGE_FORMAT", BrokerResponseError)
PolicyViolationError = _broker("PolicyViolationError", 44, "POLICY_VIOLATION", BrokerResponseError)
OutOfOrderSequenceNumberError = _broker("OutOfOrderSequenceNumberError", 45, "OUT_OF_ORDER_SEQUENCE_NUMBER", BrokerResponseError)
DuplicateSequenceNumberError = _broker("DuplicateSequenceNumberError", 46, "DUPLICATE_SEQUENCE_NUMBER", BrokerResponseError)
InvalidProducerEpochError = _broker("InvalidProducerEpochError", 47, "INVALID_PRODUCER_EPOCH", BrokerResponseError)
InvalidTxnStateError = _broker("InvalidTxnStateError", 48, "INVALID_TXN_STATE", BrokerResponseError)
InvalidProducerIdMappingError = _broker("InvalidProducerIdMappingError", 49, "INVALID_PRODUCER_ID_MAPPING", BrokerResponseError)
InvalidTransactionTimeoutError = _broker("InvalidTransactionTimeoutError", 50, "INVALID_TRANSACTION_TIMEOUT", BrokerResponseError)
ConcurrentTransactionsError = _broker("ConcurrentTransactionsError", 51, "CONCURRENT_TRANSACTIONS", RetriableError, BrokerResponseError)
TransactionCoordinatorFencedError = _broker("TransactionCoordinatorFencedError", 52, "TRANSACTION_COORDINATOR_FENCED", BrokerResponseError)
TransactionalIdAuthorizationFailedError = _broker("TransactionalIdAuthorizationFailedError", 53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", AuthorizationError)
SecurityDisabledError = _broker("SecurityDisabledError", 54, "SECURITY_DISABLED", BrokerResponseError)
OperationNotAttemptedError = _broker("OperationNotAttemptedError", 55, "OPERATION_NOT_ATTEMPTED", BrokerResponseError)
KafkaStorageError = _broker("KafkaStorageError", 56, "KAFKA_STORAGE_ERROR", InvalidMetadataError, BrokerResponseError)
LogDirNotFoundError = _broker("LogDirNotFoundError", 57, "LOG_DIR_NOT_FOUND", BrokerResponseError)
SaslAuthenticationFailedError = _broker("SaslAuthenticationFailedError", 58, "SASL_AUTHENTICATION_FAILED", BrokerResponseError)
UnknownProducerIdError = _broker("UnknownProducerIdError", 59, "UNKNOWN_PRODUCER_ID", BrokerResponseError)
ReassignmentInProgressError = _broker("ReassignmentInProgressError", 60, "REASSIGNMENT_IN_PROGRESS", BrokerResponseError)
DelegationTokenAuthDisabledError = _broker("DelegationTokenAuthDisabledError", 61, "DELEGATION_TOKEN_AUTH_DISABLED", BrokerResponseError)
DelegationTokenNotFoundError = _broker("DelegationTokenNotFoundError", 62, "DELEGATION_TOKEN_NOT_FOUND", BrokerResponseError)
DelegationTokenOwnerMismatchError = _broker("DelegationTokenOwnerMismatchError", 63, "DELEGATION_TOKEN_OWNER_MISMATCH", BrokerResponseError)
DelegationTokenRequestNotAllowedError = _broker("DelegationTokenRequestNotAllowedError", 64, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", BrokerResponseError)
DelegationTokenAuthorizationFailedError = _broker("DelegationTokenAuthorizationFailedError", 65, "DELEGATION_TOKEN_AUTHORIZATION_FAILED", AuthorizationError)
DelegationTokenExpiredError = _broker("DelegationTokenExpiredError", 66, "DELEGATION_TOKEN_EXPIRED", BrokerResponseError)
InvalidPrincipalTypeError = _broker("InvalidPrincipalTypeError", 67, "INVALID_PRINCIPAL_TYPE", BrokerResponseError)
NonEmptyGroupError = _broker("NonEmptyGroupError", 68, "NON_EMPTY_GROUP", BrokerResponseError)
GroupIdNotFoundError = _broker("GroupIdNotFoundError", 69, "GROUP_ID_NOT_FOUND", BrokerResponseError)
FetchSessionIdNotFoundError = _broker("FetchSessionIdNotFoundError", 70, "FETCH_SESSION_ID_NOT_FOUND", RetriableError, BrokerResponseError)
InvalidFetchSessionEpochError = _broker("InvalidFetchSessionEpochError", 71, "INVALID_FETCH_SESSION_EPOCH", RetriableError, BrokerResponseError)
ListenerNotFoundError = _broker("ListenerNotFoundError", 72, "LISTENER_NOT_FOUND", InvalidMetadataError, BrokerResponseError)
TopicDeletionDisabledError = _broker("TopicDeletionDisabledError", 73, "TOPIC_DELETION_DISABLED", BrokerResponseError)
FencedLeaderEpochError = _broker("FencedLeaderEpochError", 74, "FENCED_LEADER_EPOCH", InvalidMetadataError, BrokerResponseError)
UnknownLeaderEpochError = _broker("UnknownLeaderEpochError", 75, "UNKNOWN_LEADER_EPOCH", InvalidMetadataError, BrokerResponseError)
UnsupportedCompressionTypeError = _broker("UnsupportedCompressionTypeError", 76, "UNSUPPORTED_COMPRESSION_TYPE", BrokerResponseError)
StaleBrokerEpochError = _broker("StaleBrokerEpochError", 77, "STALE_BROKER_EPOCH", BrokerResponseError)
OffsetNotAvailableError = _broker("OffsetNotAvailableError", 78, "OFFSET_NOT_AVAILABLE", RetriableError, BrokerResponseError)
MemberIdRequiredError = _broker("MemberIdRequiredError", 79, "MEMBER_ID_REQUIRED", BrokerResponseError)
PreferredLeaderNotAvailableError = _broker("PreferredLeaderNotAvailableError", 80, "PREFERRED_LEADER_NOT_AVAILABLE", InvalidMetadataError, BrokerResponseError)
GroupMaxSizeReachedError = _broker("GroupMaxSizeReachedError", 81, "GROUP_MAX_SIZE_REACHED", BrokerResponseError)
FencedInstanceIdError = _broker("FencedInstanceIdError", 82, "FENCED_INSTANCE_ID", BrokerResponseError)
EligibleLeadersNotAvailableError = _broker("EligibleLeadersNotAvailableError", 83, "ELIGIBLE_LEADERS_NOT_AVAILABLE", InvalidMetadataError, BrokerResponseError)
ElectionNotNeededError = _broker("ElectionNotNeededError", 84, "ELECTION_NOT_NEEDED", InvalidMetadataError, BrokerResponseError)
NoReassignmentInProgressError = _broker("NoReassignmentInProgressError", 85, "NO_REASSIGNMENT_IN_PROGRESS", BrokerResponseError)
GroupSubscribedToTopicError = _broker("GroupSubscribedToTopicError", 86, "GROUP_SUBSCRIBED_TO_TOPIC", BrokerResponseError)
InvalidRecordError = _broker("InvalidRecordError", 87, "INVALID_RECORD", BrokerResponseError)
UnstableOffsetCommitError = _broker("UnstableOffsetCommitError", 88, "UNSTABLE_OFFSET_COMMIT", RetriableError, BrokerResponseError)
ThrottlingQuotaExceededError = _broker("ThrottlingQuotaExceededError", 89, "THROTTLING_QUOTA_EXCEEDED", RetriableError, BrokerResponseError)
ProducerFencedError = _broker("ProducerFencedError", 90, "PRODUCER_FENCED", BrokerResponseError)
ResourceNotFoundError = _broker("ResourceNotFoundError", 91, "RESOURCE_NOT_FOUND", BrokerResponseError)
DuplicateResourceError = _broker("DuplicateResourceError", 92, "DUPLICATE_RESOURCE", BrokerResponseError)
UnacceptableCredentialError = _broker("UnacceptableCredentialError", 93, "UNACCEPTABLE_CREDENTIAL", BrokerResponseError)
InconsistentVoterSetError = _broker("InconsistentVoterSetError", 94, "INCONSISTENT_VOTER_SET", BrokerResponseError)
InvalidUpdateVersionError = _broker("InvalidUpdateVersionError", 95, "INVALID_UPDATE_VERSION", BrokerResponseError)
FeatureUpdateFailedError = _broker("FeatureUpdateFailedError", 96, "FEATURE_UPDATE_FAILED", BrokerResponseError)
PrincipalDeserializationFailureError = _broker("PrincipalDeserializationFailureError", 97, "PRINCIPAL_DESERIALIZATION_FAILURE", BrokerResponseError)
SnapshotNotFoundError = _broker("SnapshotNotFoundError", 98, "SNAPSHOT_NOT_FOUND", BrokerResponseError)
PositionOutOfRangeError = _broker("PositionOutOfRangeError", 99, "POSITION_OUT_OF_RANGE", BrokerResponseError)
UnknownTopicIdError = _broker("UnknownTopicIdError", 100, "UNKNOWN_TOPIC_ID", InvalidMetadataError, BrokerResponseError)
DuplicateBrokerRegistrationError = _broker("DuplicateBrokerRegistrationError", 101, "DUPLICATE_BROKER_REGISTRATION", BrokerResponseError)
BrokerIdNotRegisteredError = _broker("BrokerIdNotRegisteredError", 102, "BROKER_ID_NOT_REGISTERED", BrokerResponseError)
InconsistentTopicIdError = _broker("InconsistentTopicIdError", 103, "INCONSISTENT_TOPIC_ID", InvalidMetadataError, BrokerResponseError)
InconsistentClusterIdError = _broker("InconsistentClusterIdError", 104, "INCONSISTENT_CLUSTER_ID", BrokerResponseError)
TransactionalIdNotFoundError = _broker("TransactionalIdNotFoundError", 105, "TRANSACTIONAL_ID_NOT_FOUND", BrokerResponseError)
FetchSessionTopicIdError = _broker("FetchSessionTopicIdError", 106, "FETCH_SESSION_TOPIC_ID_ERROR", RetriableError, BrokerResponseError)
IneligibleReplicaError = _broker("IneligibleReplicaError", 107, "INELIGIBLE_REPLICA", BrokerResponseError)
NewLeaderElectedError = _broker("NewLeaderElectedError", 108, "NEW_LEADER_ELECTED", BrokerResponseError)
OffsetMovedToTieredStorageError = _broker("OffsetMovedToTieredStorageError", 109, "OFFSET_MOVED_TO_TIERED_STORAGE", BrokerResponseError)
FencedMemberEpochError = _broker("FencedMemberEpochError", 110, "FENCED_MEMBER_EPOCH", BrokerResponseError)
UnreleasedInstanceIdError = _broker("UnreleasedInstanceIdError", 111, "UNRELEASED_INSTANCE_ID", BrokerResponseError)
UnsupportedAssignorError = _broker("UnsupportedAssignorError", 112, "UNSUPPORTED_ASSIGNOR", BrokerResponseError)
StaleMemberEpochError = _broker("StaleMemberEpochError", 113, "STALE_MEMBER_EPOCH", BrokerResponseError)
MismatchedEndpointTypeError = _broker("MismatchedEndpointTypeError", 114, "MISMATCHED_ENDPOINT_TYPE", BrokerResponseError)
UnsupportedEndpointTypeError = _broker("UnsupportedEndpointTypeError", 115, "UNSUPPORTED_ENDPOINT_TYPE", BrokerResponseError)
UnknownControllerIdError = _broker("UnknownControllerIdError", 116, "UNKNOWN_CONTROLLER_ID", BrokerResponseError)
UnknownSubscriptionIdError = _broker("UnknownSubscriptionIdError", 117, "UNKNOWN_SUBSCRIPTION_ID", BrokerResponseError)
TelemetryTooLargeError = _broker("TelemetryTooLargeError", 118, "TELEMETRY_TOO_LARGE", BrokerResponseError)
InvalidRegistrationError = _broker("InvalidRegistrationError", 119, "INVALID_REGISTRATION", BrokerResponseError)
TransactionAbortableError = _broker("TransactionAbortableError", 120, "TRANSACTION_ABORTABLE", BrokerResponseError)
InvalidRecordStateError = _broker("InvalidRecordStateError", 121, "INVALID_RECORD_STATE", BrokerResponseError)
ShareSessionNotFoundError = _broker("ShareSessionNotFoundError", 122, "SHARE_SESSION_NOT_FOUND", RetriableError, BrokerResponseError)
InvalidShareSessionEpochError = _broker("InvalidShareSessionEpochError", 123, "INVALID_SHARE_SESSION_EPOCH", RetriableError, BrokerResponseError)
FencedStateEpochError = _broker("FencedStateEpochError", 124, "FENCED_STATE_EPOCH", BrokerResponseError)
InvalidVoterKeyError = _broker("InvalidVoterKeyError", 125, "INVALID_VOTER_KEY", BrokerResponseError)
DuplicateVoterError = _broker("DuplicateVoterError", 126, "DUPLICATE_VOTER", BrokerResponseError)
VoterNotFoundError = _broker("VoterNotFoundError", 127, "VOTER_NOT_FOUND", BrokerResponseError)


def _for_code(errno: int, text: str) -> BrokerResponseError:
    """The exception for Kafka error code ``errno`` (the native module calls this)."""
    cls = _BY_CODE.get(errno)
    if cls is None:
        exc = BrokerResponseError(text)
        exc.errno = errno
        return exc
    return cls(text)
