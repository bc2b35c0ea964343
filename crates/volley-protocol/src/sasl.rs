//! SASL framing: SaslHandshake (v1) and SaslAuthenticate (v0-v2, KIP-152).
//!
//! Requests are encoded with the generated `kafka-protocol` types; answers are decoded with
//! the bounded [`Reader`], so a hostile mechanism count or byte length is an error, never an
//! allocation. Callers strip the correlation id first (as for the other control answers).

use bytes::Bytes;
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::StrBytes;

use crate::control::{encode, EncodeError};
use crate::error::ErrorCode;
use crate::wire::{DecodeError, Reader};

/// SaslHandshake's API key.
pub const SASL_HANDSHAKE_KEY: i16 = 17;
/// SaslAuthenticate's API key.
pub const SASL_AUTHENTICATE_KEY: i16 = 36;
/// The SaslHandshake version Volley sends (v1: the tokens then travel in SaslAuthenticate).
pub const SASL_HANDSHAKE_VERSION: i16 = 1;
/// The SaslAuthenticate versions Volley speaks.
pub const SASL_AUTHENTICATE_VERSIONS: (i16, i16) = (0, 2);

/// Encodes a SaslHandshake v1 request for `mechanism`.
///
/// # Errors
/// Encoding failure.
pub fn encode_sasl_handshake(
    correlation_id: i32,
    client_id: Option<&str>,
    mechanism: &str,
) -> Result<Bytes, EncodeError> {
    let req = SaslHandshakeRequest::default().with_mechanism(StrBytes::from_string(mechanism.to_owned()));
    encode("SaslHandshake", &req, SASL_HANDSHAKE_VERSION, correlation_id, client_id)
}

/// A decoded SaslHandshake answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslHandshakeAnswer {
    /// `NONE`, or `UNSUPPORTED_SASL_MECHANISM` (33) / `ILLEGAL_SASL_STATE` (34).
    pub error: ErrorCode,
    /// The mechanisms the broker enables on this listener.
    pub mechanisms: Vec<String>,
}

/// Decodes a SaslHandshake v0/v1 answer (never flexible).
///
/// # Errors
/// Malformed input.
pub fn decode_sasl_handshake(body: Bytes) -> Result<SaslHandshakeAnswer, DecodeError> {
    let mut r = Reader::new(body);
    let error = ErrorCode(r.i16("error code")?);
    let n = r.array_len(false, 2, "mechanisms")?.unwrap_or(0);
    let mut mechanisms = Vec::with_capacity(n);
    for _ in 0..n {
        mechanisms.push(r.string(false, "mechanism")?);
    }
    Ok(SaslHandshakeAnswer { error, mechanisms })
}

/// Encodes a SaslAuthenticate request carrying one SASL token.
///
/// # Errors
/// Encoding failure, or a version outside [`SASL_AUTHENTICATE_VERSIONS`].
pub fn encode_sasl_authenticate(
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    token: &[u8],
) -> Result<Bytes, EncodeError> {
    if !(SASL_AUTHENTICATE_VERSIONS.0..=SASL_AUTHENTICATE_VERSIONS.1).contains(&version) {
        return Err(EncodeError {
            api: "SaslAuthenticate",
            version,
            detail: "unsupported version".into(),
        });
    }
    let req = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::copy_from_slice(token));
    encode("SaslAuthenticate", &req, version, correlation_id, client_id)
}

/// A decoded SaslAuthenticate answer.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslAuthenticateAnswer {
    /// `NONE` or `SASL_AUTHENTICATION_FAILED` (58).
    pub error: ErrorCode,
    /// The broker's message (e.g. "Invalid username or password").
    pub message: Option<String>,
    /// The server's SASL token.
    pub auth_bytes: Bytes,
    /// v1+: how long the session may last before re-authentication (0 = no limit).
    pub session_lifetime_ms: i64,
}

impl std::fmt::Debug for SaslAuthenticateAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token may carry key material (SCRAM's server signature): only its length.
        f.debug_struct("SaslAuthenticateAnswer")
            .field("error", &self.error)
            .field("message", &self.message)
            .field("auth_bytes_len", &self.auth_bytes.len())
            .field("session_lifetime_ms", &self.session_lifetime_ms)
            .finish()
    }
}

/// Decodes a SaslAuthenticate answer of `version` (v2 is flexible: its response header has
/// a tagged-field section, read here too).
///
/// # Errors
/// Malformed input.
pub fn decode_sasl_authenticate(version: i16, body: Bytes) -> Result<SaslAuthenticateAnswer, DecodeError> {
    let flexible = version >= 2;
    let mut r = Reader::new(body);
    if flexible {
        r.tagged_fields("response header")?;
    }
    let error = ErrorCode(r.i16("error code")?);
    let message = r.nullable_string(flexible, "error message")?;
    let len = if flexible {
        i64::from(r.uvarint("auth bytes")?) - 1
    } else {
        i64::from(r.i32("auth bytes")?)
    };
    let n = usize::try_from(len).map_err(|_| DecodeError::InvalidLength {
        what: "auth bytes",
        len,
    })?;
    let auth_bytes = r.bytes(n, "auth bytes")?;
    let session_lifetime_ms = if version >= 1 { r.i64("session lifetime")? } else { 0 };
    if flexible {
        r.tagged_fields("sasl authenticate response")?;
    }
    Ok(SaslAuthenticateAnswer {
        error,
        message,
        auth_bytes,
        session_lifetime_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, BytesMut};
    use kafka_protocol::messages::{SaslAuthenticateResponse, SaslHandshakeResponse};
    use kafka_protocol::protocol::Encodable;

    #[test]
    fn handshake_answer_round_trips() {
        let resp = SaslHandshakeResponse::default()
            .with_error_code(33)
            .with_mechanisms(vec![
                StrBytes::from_static_str("PLAIN"),
                StrBytes::from_static_str("SCRAM-SHA-512"),
            ]);
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 1).expect("encode");
        let a = decode_sasl_handshake(buf.freeze()).expect("decode");
        assert_eq!(a.error, ErrorCode(33));
        assert_eq!(a.mechanisms, ["PLAIN", "SCRAM-SHA-512"]);
    }

    #[test]
    fn authenticate_answer_round_trips_every_version() {
        for v in 0..=2i16 {
            let resp = SaslAuthenticateResponse::default()
                .with_error_code(58)
                .with_error_message(Some(StrBytes::from_static_str("Invalid username or password")))
                .with_auth_bytes(Bytes::from_static(b"v=abc"))
                .with_session_lifetime_ms(if v >= 1 { 10_000 } else { 0 });
            let mut buf = BytesMut::new();
            if v >= 2 {
                buf.put_u8(0); // response header v1: no tagged fields
            }
            resp.encode(&mut buf, v).expect("encode");
            let a = decode_sasl_authenticate(v, buf.freeze()).expect("decode");
            assert_eq!(a.error, ErrorCode(58));
            assert_eq!(a.message.as_deref(), Some("Invalid username or password"));
            assert_eq!(&a.auth_bytes[..], b"v=abc");
            assert_eq!(a.session_lifetime_ms, if v >= 1 { 10_000 } else { 0 });
        }
    }

    #[test]
    fn hostile_lengths_are_errors() {
        // A mechanism count of 2^31-1 with no bytes behind it.
        let mut b = BytesMut::new();
        b.put_i16(0);
        b.put_i32(i32::MAX);
        assert!(decode_sasl_handshake(b.freeze()).is_err());
        // An auth-bytes length far past the end.
        let mut b = BytesMut::new();
        b.put_i16(0);
        b.put_i16(-1);
        b.put_i32(1 << 30);
        assert!(decode_sasl_authenticate(1, b.freeze()).is_err());
        let mut b = BytesMut::new();
        b.put_i16(0);
        b.put_i16(-1);
        b.put_i32(-5);
        assert!(decode_sasl_authenticate(0, b.freeze()).is_err());
        for n in 0..12 {
            let _ = decode_sasl_authenticate(2, Bytes::from(vec![0xff; n]));
        }
    }

    #[test]
    fn requests_encode() {
        assert!(encode_sasl_handshake(1, Some("c"), "PLAIN").is_ok());
        for v in 0..=2 {
            assert!(encode_sasl_authenticate(v, 2, None, b"\0u\0p").is_ok());
        }
        assert!(encode_sasl_authenticate(3, 2, None, b"").is_err());
    }
}
