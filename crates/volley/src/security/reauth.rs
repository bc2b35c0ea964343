//! SASL re-authentication on a live connection (KIP-368).
//!
//! A broker with `connections.max.reauth.ms` (or an OAUTHBEARER token's expiry) announces a
//! session lifetime in its SaslAuthenticate answer, and closes a connection whose session has
//! ended at the next request it receives, whatever it is. So the writer re-authenticates at a
//! random moment between 85 % and 95 % of the lifetime (as the Java client), whether or not
//! there is anything to send: it stops writing new requests, sends SaslHandshake and
//! SaslAuthenticate on the same socket with negative correlation ids (the sender's are never
//! negative), and the reader hands those answers back to it. Answers to requests already in
//! flight keep flowing to the sender meanwhile: the broker answers a connection's requests in
//! order, so nothing in flight is failed or sent twice.

use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;
use volley_protocol::versions::BrokerVersions;

use super::sasl::{authenticate, Transport};
use super::settings::SaslSettings;
use crate::error::Error;

/// When and how one connection re-authenticates.
#[derive(Debug)]
pub(crate) struct Reauth {
    /// When to start the next re-authentication.
    pub(crate) due: Instant,
    addr: String,
    client_id: Option<String>,
    versions: BrokerVersions,
    sasl: SaslSettings,
    /// How long one answer may take (answers to requests in flight come first).
    timeout: Duration,
    /// Re-authentications done so far; also spaces their correlation ids.
    pub(crate) done: u32,
}

/// The shortest time between two re-authentications: a broker announcing a session of a
/// millisecond (an OAUTHBEARER token about to expire) must not make the writer spin.
pub(crate) const MIN_RENEWAL: Duration = Duration::from_secs(1);

/// The moment, from `start`, at which a session of `lifetime_ms` is renewed: a random point
/// between 85 % and 95 % of it (spreading the connections of many clients), at least
/// [`MIN_RENEWAL`] (a session shorter than that ends, and the broker closes the connection,
/// which is then dialled again with backoff).
pub(crate) fn renew_after(lifetime_ms: i64, fraction: f64) -> Duration {
    let ms = u64::try_from(lifetime_ms).unwrap_or(0) as f64 * fraction.clamp(0.85, 0.95);
    Duration::from_millis(ms as u64).max(MIN_RENEWAL)
}

impl Reauth {
    /// A plan for a connection authenticated at `start` with a session of `lifetime_ms`
    /// (`None` when the broker announced no lifetime).
    pub(crate) fn plan(
        start: Instant,
        lifetime_ms: i64,
        addr: &str,
        client_id: Option<&str>,
        versions: BrokerVersions,
        sasl: &SaslSettings,
        timeout: Duration,
    ) -> Option<Self> {
        (lifetime_ms > 0).then(|| Self {
            due: start + renew_after(lifetime_ms, rand::thread_rng().gen_range(0.85..0.95)),
            addr: addr.to_owned(),
            client_id: client_id.map(str::to_owned),
            versions,
            sasl: sasl.clone(),
            timeout: timeout.max(Duration::from_secs(30)),
            done: 0,
        })
    }

    /// Re-authenticates over the connection's write half, reading answers from `answers`.
    /// Returns whether the broker wants another one later (it announced a lifetime again).
    pub(crate) async fn run<W: AsyncWrite + Unpin>(
        &mut self,
        wr: &mut W,
        answers: &mut mpsc::UnboundedReceiver<(i32, Bytes)>,
    ) -> Result<bool, Error> {
        let start = Instant::now();
        // Four ids per round (a handshake and up to three tokens), all negative.
        let first = i32::MIN + i32::try_from((self.done % (1 << 20)) * 4).unwrap_or(0);
        let mut t = Live {
            wr,
            answers,
            timeout: self.timeout,
            addr: &self.addr,
        };
        let session = authenticate(
            &mut t,
            &self.addr,
            self.client_id.as_deref(),
            &self.versions,
            &self.sasl,
            first,
        )
        .await?;
        self.done += 1;
        tracing::debug!(
            broker = %self.addr,
            mechanism = self.sasl.mechanism.name(),
            session_lifetime_ms = session.lifetime_ms,
            reauthentications = self.done,
            "re-authenticated"
        );
        if session.lifetime_ms <= 0 {
            return Ok(false);
        }
        self.due = start + renew_after(session.lifetime_ms, rand::thread_rng().gen_range(0.85..0.95));
        Ok(true)
    }
}

/// The SASL exchange over a live connection: frames go out through the writer, answers come
/// back from the reader by correlation id.
struct Live<'a, W> {
    wr: &'a mut W,
    answers: &'a mut mpsc::UnboundedReceiver<(i32, Bytes)>,
    timeout: Duration,
    addr: &'a str,
}

impl<W: AsyncWrite + Unpin> Transport for Live<'_, W> {
    async fn round_trip(&mut self, frame: &[u8], corr: i32) -> Result<Bytes, Error> {
        let io = |e: std::io::Error| Error::Connection {
            broker: self.addr.to_owned(),
            detail: format!("re-authentication: {e}"),
        };
        self.wr.write_all(frame).await.map_err(io)?;
        self.wr.flush().await.map_err(io)?;
        let deadline = Instant::now() + self.timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.answers.recv()).await {
                Ok(Some((c, body))) if c == corr => return Ok(body),
                // An answer to an earlier round that timed out: not ours.
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Err(Error::Connection {
                        broker: self.addr.to_owned(),
                        detail: "the connection closed during re-authentication".into(),
                    })
                }
                Err(_) => {
                    return Err(Error::Connection {
                        broker: self.addr.to_owned(),
                        detail: format!("no re-authentication answer within {} ms", self.timeout.as_millis()),
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_falls_between_85_and_95_percent_of_the_lifetime() {
        assert_eq!(renew_after(10_000, 0.85), Duration::from_millis(8_500));
        assert_eq!(renew_after(10_000, 0.95), Duration::from_millis(9_500));
        assert_eq!(renew_after(10_000, 0.5), Duration::from_millis(8_500), "clamped");
        assert_eq!(renew_after(-1, 0.9), MIN_RENEWAL);
        assert_eq!(
            renew_after(1, 0.9),
            MIN_RENEWAL,
            "a 1 ms session does not make the writer spin"
        );
    }
}
