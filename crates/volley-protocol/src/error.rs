//! Kafka error codes: name, number and whether a producer may retry.

use std::fmt;

/// A Kafka protocol error code as returned by a broker.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub i16);

macro_rules! codes {
    ($( $name:ident = $num:expr, $text:expr, $retriable:expr; )*) => {
        impl ErrorCode {
            $(
                #[doc = concat!("`", $text, "` (", stringify!($num), ")")]
                pub const $name: ErrorCode = ErrorCode($num);
            )*

            /// Kafka's name for the code, e.g. `NOT_LEADER_OR_FOLLOWER`.
            #[must_use]
            pub fn name(self) -> &'static str {
                match self.0 {
                    $( $num => $text, )*
                    _ => "UNKNOWN_ERROR_CODE",
                }
            }

            /// Whether Kafka marks the error retriable.
            #[must_use]
            pub fn is_retriable(self) -> bool {
                match self.0 {
                    $( $num => $retriable, )*
                    _ => false,
                }
            }
        }
    };
}

codes! {
    UNKNOWN_SERVER_ERROR = -1, "UNKNOWN_SERVER_ERROR", false;
    NONE = 0, "NONE", false;
    OFFSET_OUT_OF_RANGE = 1, "OFFSET_OUT_OF_RANGE", false;
    CORRUPT_MESSAGE = 2, "CORRUPT_MESSAGE", true;
    UNKNOWN_TOPIC_OR_PARTITION = 3, "UNKNOWN_TOPIC_OR_PARTITION", true;
    INVALID_FETCH_SIZE = 4, "INVALID_FETCH_SIZE", false;
    LEADER_NOT_AVAILABLE = 5, "LEADER_NOT_AVAILABLE", true;
    NOT_LEADER_OR_FOLLOWER = 6, "NOT_LEADER_OR_FOLLOWER", true;
    REQUEST_TIMED_OUT = 7, "REQUEST_TIMED_OUT", true;
    BROKER_NOT_AVAILABLE = 8, "BROKER_NOT_AVAILABLE", false;
    REPLICA_NOT_AVAILABLE = 9, "REPLICA_NOT_AVAILABLE", true;
    MESSAGE_TOO_LARGE = 10, "MESSAGE_TOO_LARGE", false;
    NETWORK_EXCEPTION = 13, "NETWORK_EXCEPTION", true;
    COORDINATOR_LOAD_IN_PROGRESS = 14, "COORDINATOR_LOAD_IN_PROGRESS", true;
    COORDINATOR_NOT_AVAILABLE = 15, "COORDINATOR_NOT_AVAILABLE", true;
    NOT_COORDINATOR = 16, "NOT_COORDINATOR", true;
    INVALID_TOPIC_EXCEPTION = 17, "INVALID_TOPIC_EXCEPTION", false;
    RECORD_LIST_TOO_LARGE = 18, "RECORD_LIST_TOO_LARGE", false;
    NOT_ENOUGH_REPLICAS = 19, "NOT_ENOUGH_REPLICAS", true;
    NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true;
    INVALID_REQUIRED_ACKS = 21, "INVALID_REQUIRED_ACKS", false;
    ILLEGAL_GENERATION = 22, "ILLEGAL_GENERATION", false;
    UNKNOWN_MEMBER_ID = 25, "UNKNOWN_MEMBER_ID", false;
    TOPIC_AUTHORIZATION_FAILED = 29, "TOPIC_AUTHORIZATION_FAILED", false;
    GROUP_AUTHORIZATION_FAILED = 30, "GROUP_AUTHORIZATION_FAILED", false;
    CLUSTER_AUTHORIZATION_FAILED = 31, "CLUSTER_AUTHORIZATION_FAILED", false;
    INVALID_TIMESTAMP = 32, "INVALID_TIMESTAMP", false;
    UNSUPPORTED_VERSION = 35, "UNSUPPORTED_VERSION", false;
    INVALID_REQUEST = 42, "INVALID_REQUEST", false;
    UNSUPPORTED_FOR_MESSAGE_FORMAT = 43, "UNSUPPORTED_FOR_MESSAGE_FORMAT", false;
    POLICY_VIOLATION = 44, "POLICY_VIOLATION", false;
    OUT_OF_ORDER_SEQUENCE_NUMBER = 45, "OUT_OF_ORDER_SEQUENCE_NUMBER", false;
    DUPLICATE_SEQUENCE_NUMBER = 46, "DUPLICATE_SEQUENCE_NUMBER", false;
    INVALID_PRODUCER_EPOCH = 47, "INVALID_PRODUCER_EPOCH", false;
    INVALID_TXN_STATE = 48, "INVALID_TXN_STATE", false;
    INVALID_PRODUCER_ID_MAPPING = 49, "INVALID_PRODUCER_ID_MAPPING", false;
    INVALID_TRANSACTION_TIMEOUT = 50, "INVALID_TRANSACTION_TIMEOUT", false;
    CONCURRENT_TRANSACTIONS = 51, "CONCURRENT_TRANSACTIONS", true;
    TRANSACTION_COORDINATOR_FENCED = 52, "TRANSACTION_COORDINATOR_FENCED", false;
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", false;
    OPERATION_NOT_ATTEMPTED = 55, "OPERATION_NOT_ATTEMPTED", false;
    KAFKA_STORAGE_ERROR = 56, "KAFKA_STORAGE_ERROR", true;
    UNKNOWN_PRODUCER_ID = 59, "UNKNOWN_PRODUCER_ID", false;
    GROUP_ID_NOT_FOUND = 69, "GROUP_ID_NOT_FOUND", false;
    FENCED_LEADER_EPOCH = 74, "FENCED_LEADER_EPOCH", true;
    UNKNOWN_LEADER_EPOCH = 75, "UNKNOWN_LEADER_EPOCH", true;
    UNSUPPORTED_COMPRESSION_TYPE = 76, "UNSUPPORTED_COMPRESSION_TYPE", false;
    OFFSET_NOT_AVAILABLE = 78, "OFFSET_NOT_AVAILABLE", true;
    PREFERRED_LEADER_NOT_AVAILABLE = 80, "PREFERRED_LEADER_NOT_AVAILABLE", true;
    FENCED_INSTANCE_ID = 82, "FENCED_INSTANCE_ID", false;
    INVALID_RECORD = 87, "INVALID_RECORD", false;
    UNSTABLE_OFFSET_COMMIT = 88, "UNSTABLE_OFFSET_COMMIT", true;
    THROTTLING_QUOTA_EXCEEDED = 89, "THROTTLING_QUOTA_EXCEEDED", true;
    PRODUCER_FENCED = 90, "PRODUCER_FENCED", false;
    TRANSACTION_ABORTABLE = 120, "TRANSACTION_ABORTABLE", false;
    REBOOTSTRAP_REQUIRED = 129, "REBOOTSTRAP_REQUIRED", false;
}

impl ErrorCode {
    /// `true` for `NONE`.
    #[must_use]
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_flags() {
        assert_eq!(ErrorCode(6).name(), "NOT_LEADER_OR_FOLLOWER");
        assert!(ErrorCode::NOT_LEADER_OR_FOLLOWER.is_retriable());
        assert!(!ErrorCode::MESSAGE_TOO_LARGE.is_retriable());
        assert_eq!(ErrorCode(9999).name(), "UNKNOWN_ERROR_CODE");
        assert_eq!(ErrorCode(45).to_string(), "OUT_OF_ORDER_SEQUENCE_NUMBER (45)");
    }
}
