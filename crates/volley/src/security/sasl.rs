//! The SASL exchange on a fresh connection: SaslHandshake v1, then the mechanism's tokens in
//! SaslAuthenticate requests (KIP-152). Every failure is an [`Error::Authentication`]
//! naming the broker and the mechanism; the broker's own message is quoted.

use bytes::Bytes;
use volley_protocol::sasl::{
    decode_sasl_authenticate, decode_sasl_handshake, encode_sasl_authenticate, encode_sasl_handshake,
    SASL_AUTHENTICATE_KEY, SASL_AUTHENTICATE_VERSIONS,
};
use volley_protocol::versions::BrokerVersions;
use volley_protocol::ErrorCode;

use super::scram::{ScramClient, ScramHash};
use super::settings::{SaslMechanism, SaslSettings};
use crate::error::Error;

/// Something that carries one request frame to the broker and brings back its answer (the
/// body after the correlation id): the fresh stream at connect time, or a live connection's
/// writer and reader when re-authenticating (KIP-368).
pub(crate) trait Transport {
    /// Sends `frame` and waits for the answer with correlation id `corr`.
    async fn round_trip(&mut self, frame: &[u8], corr: i32) -> Result<Bytes, Error>;
}

/// What a successful authentication leaves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Session {
    /// The broker's session lifetime (KIP-368), 0 if it has none.
    pub(crate) lifetime_ms: i64,
}

/// Authenticates over `t`, using correlation ids from `corr` on.
pub(crate) async fn authenticate<T: Transport>(
    t: &mut T,
    addr: &str,
    client_id: Option<&str>,
    versions: &BrokerVersions,
    sasl: &SaslSettings,
    mut corr: i32,
) -> Result<Session, Error> {
    let mech = sasl.mechanism.name();
    let fail = |reason: String| Error::Authentication {
        broker: addr.to_owned(),
        mechanism: mech.to_owned(),
        reason,
    };
    let frame = encode_sasl_handshake(corr, client_id, mech).map_err(|e| fail(e.to_string()))?;
    let body = t.round_trip(&frame, corr).await?;
    corr += 1;
    let hs = decode_sasl_handshake(body).map_err(|e| Error::Protocol {
        broker: addr.to_owned(),
        detail: format!("SaslHandshake answer: {e}"),
    })?;
    if hs.error == ErrorCode(33) {
        return Err(fail(format!(
            "the broker does not enable {mech} on this listener; it offers: {}",
            hs.mechanisms.join(", ")
        )));
    }
    if !hs.error.is_ok() {
        return Err(fail(format!("SaslHandshake failed: {}", hs.error)));
    }
    let version = versions
        .range(SASL_AUTHENTICATE_KEY)
        .map(|(_, hi)| hi.min(SASL_AUTHENTICATE_VERSIONS.1))
        .filter(|v| *v >= SASL_AUTHENTICATE_VERSIONS.0)
        .ok_or_else(|| fail("the broker does not offer SaslAuthenticate".into()))?;
    let mut lifetime_ms = 0;
    let mut exchange = async |token: &[u8], t: &mut T| -> Result<Bytes, Error> {
        let frame = encode_sasl_authenticate(version, corr, client_id, token).map_err(|e| fail(e.to_string()))?;
        let body = t.round_trip(&frame, corr).await?;
        corr += 1;
        let a = decode_sasl_authenticate(version, body).map_err(|e| Error::Protocol {
            broker: addr.to_owned(),
            detail: format!("SaslAuthenticate answer: {e}"),
        })?;
        if !a.error.is_ok() {
            return Err(fail(a.message.unwrap_or_else(|| a.error.to_string())));
        }
        lifetime_ms = a.session_lifetime_ms;
        Ok(a.auth_bytes)
    };
    match sasl.mechanism {
        SaslMechanism::Plain => {
            let mut token = Vec::with_capacity(sasl.username.len() + sasl.password.expose().len() + 2);
            token.push(0);
            token.extend_from_slice(sasl.username.as_bytes());
            token.push(0);
            token.extend_from_slice(sasl.password.expose().as_bytes());
            exchange(&token, t).await?;
        }
        SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => {
            let hash = if sasl.mechanism == SaslMechanism::ScramSha256 {
                ScramHash::Sha256
            } else {
                ScramHash::Sha512
            };
            let mut client = ScramClient::new(hash, &sasl.username, sasl.password.expose());
            let server_first = exchange(&client.client_first(), t).await?;
            let fin = client.client_final(&server_first).map_err(|e| fail(e.to_string()))?;
            let server_final = exchange(&fin, t).await?;
            client
                .verify_server_final(&server_final)
                .map_err(|e| fail(e.to_string()))?;
        }
        SaslMechanism::OAuthBearer => {
            let source = sasl
                .oauth
                .as_ref()
                .ok_or_else(|| fail("no OAUTHBEARER token source configured".into()))?;
            let token = source
                .0
                .current(std::time::SystemTime::now())
                .await
                .map_err(|e| fail(format!("no token: {e}")))?;
            let answer = exchange(&source.0.first_message(&token), t).await?;
            if !answer.is_empty() {
                // RFC 7628 §3.2.2: the server's error comes as a JSON challenge; the client
                // answers with a lone 0x01 and the server then fails the exchange.
                let detail = String::from_utf8_lossy(&answer).chars().take(300).collect::<String>();
                let _ = exchange(b"\x01", t).await;
                return Err(fail(format!("the broker refused the token: {detail}")));
            }
        }
    }
    let _ = exchange;
    Ok(Session { lifetime_ms })
}
