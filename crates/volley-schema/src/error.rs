//! Typed errors of serialization and of the Schema Registry client.

use std::fmt;

/// Where in a value a mismatch was found, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Path segments, innermost first (built while the error travels outwards).
    segments: Vec<Segment>,
    /// Why the value does not fit.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Field(String),
    Index(usize),
}

impl FieldError {
    /// A mismatch at the current position.
    pub fn new(reason: impl Into<String>) -> Self {
        FieldError {
            segments: Vec::new(),
            reason: reason.into(),
        }
    }

    /// The error happened inside field (or map key) `name`.
    pub fn at_field(mut self, name: &str) -> Self {
        self.segments.push(Segment::Field(name.to_owned()));
        self
    }

    /// The error happened inside array item `i`.
    pub fn at_index(mut self, i: usize) -> Self {
        self.segments.push(Segment::Index(i));
        self
    }

    /// The field path, such as `items[1].price`; empty for the top-level value.
    pub fn path(&self) -> String {
        let mut s = String::new();
        for seg in self.segments.iter().rev() {
            match seg {
                Segment::Field(f) => {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push_str(f);
                }
                Segment::Index(i) => s.push_str(&format!("[{i}]")),
            }
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path();
        if path.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "field '{path}': {}", self.reason)
        }
    }
}

/// Everything that can go wrong between a value and its serialized bytes.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The value does not fit its schema; names the field.
    #[error("{0}")]
    Value(FieldError),
    /// The input is not JSON.
    #[error("not valid JSON: {0}")]
    Json(String),
    /// The schema itself is invalid.
    #[error("invalid schema: {0}")]
    InvalidSchema(String),
    /// The registry answered with an error.
    #[error("schema registry answered HTTP {status} (error code {error_code}): {message}")]
    Registry {
        /// HTTP status.
        status: u16,
        /// The registry's own error code (40401 unknown subject, 409 incompatible, 42201 invalid schema, ...).
        error_code: i64,
        /// The registry's message.
        message: String,
    },
    /// The registry could not be reached within the configured time.
    #[error("schema registry {url} not reachable within {timeout_ms} ms ({attempts} attempts): {reason}")]
    Unreachable {
        /// The last URL tried.
        url: String,
        /// The configured bound, `schema.registry.request.timeout.ms`.
        timeout_ms: u64,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
    /// The TLS handshake with the registry failed: its certificate is not trusted, or it
    /// refused ours (mTLS). Not retried: the same settings would fail the same way.
    #[error("schema registry {url}: TLS handshake failed: {reason}")]
    Tls {
        /// The URL tried.
        url: String,
        /// What failed and which setting fixes it.
        reason: String,
    },
    /// The registry's answer does not have the documented shape.
    #[error("schema registry answer not understood: {0}")]
    BadAnswer(String),
    /// A setting is invalid.
    #[error("invalid value for '{key}': {reason}")]
    Config {
        /// The setting.
        key: String,
        /// Why.
        reason: String,
    },
    /// A setting or format Volley does not support yet.
    #[error("'{what}' is not supported yet: {detail}")]
    NotSupported {
        /// The setting or format.
        what: String,
        /// What is supported instead.
        detail: String,
    },
    /// A serializer was used for a topic whose schema it has not resolved yet.
    #[error("no schema resolved for topic '{0}': call prepare(topic) first")]
    NotPrepared(String),
}

impl From<SchemaError> for volley::Error {
    fn from(e: SchemaError) -> Self {
        volley::Error::Serialization(e.to_string())
    }
}
