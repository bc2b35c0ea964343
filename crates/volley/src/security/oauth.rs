//! SASL/OAUTHBEARER tokens (KIP-255, KIP-768): where a token comes from ([`TokenProvider`]:
//! an OIDC client-credentials grant, an unsecured test JWT, or the library user's own code,
//! e.g. a cloud IAM token), and the cache that hands every connection a token with time left
//! on it, refreshing it once 80 % of its lifetime has passed (Java's
//! `sasl.login.refresh.window.factor`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;

use super::secret::Secret;

/// A bearer token and how long it is good for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthToken {
    /// The token sent to the broker (a JWT for Kafka's validators). Never printed.
    pub value: Secret,
    /// When the token stops being valid.
    pub expires_at: SystemTime,
    /// The principal the token names (`sub`), for logs; not secret.
    pub principal: Option<String>,
}

/// The future a [`TokenProvider`] returns.
pub type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<OAuthToken, String>> + Send + 'a>>;

/// A source of OAUTHBEARER tokens. Volley asks it for a token when a connection
/// authenticates or re-authenticates and the cached one has used 80 % of its lifetime.
/// Errors are words for the user (never the secret); they fail the authentication.
pub trait TokenProvider: Send + Sync + 'static {
    /// Fetches a fresh token.
    fn token(&self) -> TokenFuture<'_>;
}

/// Seconds since the epoch.
fn epoch_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The longest token lifetime Volley believes (a year): anything beyond is clamped, so no
/// claim or endpoint answer can overflow a clock (review of issue 12: `exp: 1e300` panicked).
const MAX_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// `t + d`, with `d` clamped to [`MAX_LIFETIME`].
fn later(t: SystemTime, d: Duration) -> SystemTime {
    t.checked_add(d.min(MAX_LIFETIME)).unwrap_or(t)
}

/// The instant `secs` seconds after the epoch, clamped to a year from `now`.
fn at_epoch_secs(secs: u64, now: SystemTime) -> SystemTime {
    let cap = later(now, MAX_LIFETIME);
    UNIX_EPOCH
        .checked_add(Duration::from_secs(secs))
        .map_or(cap, |t| t.min(cap))
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Unsecured JWTs (`{"alg":"none"}`, empty signature), which Kafka's default OAUTHBEARER
/// validator accepts: for tests and development only, as librdkafka's
/// `enable.sasl.oauthbearer.unsecure.jwt` and Java's `unsecuredLoginStringClaim_sub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsecuredJwt {
    /// The `sub` claim (the principal).
    pub subject: String,
    /// How long each token lives (Java's `unsecuredLoginLifetimeSeconds`, 3600 s by default).
    pub lifetime: Duration,
    /// The `scope` claim, space-separated, if any.
    pub scope: Option<String>,
}

impl UnsecuredJwt {
    /// A token issued at `now`.
    #[must_use]
    pub fn issue(&self, now: SystemTime) -> OAuthToken {
        let iat = epoch_secs(now);
        let exp = iat.saturating_add(self.lifetime.min(MAX_LIFETIME).as_secs().max(1));
        let mut claims = serde_json::json!({ "sub": self.subject, "iat": iat, "exp": exp });
        if let Some(s) = &self.scope {
            claims["scope"] = s.as_str().into();
        }
        let value = format!(
            "{}.{}.",
            b64url(br#"{"alg":"none"}"#),
            b64url(claims.to_string().as_bytes())
        );
        OAuthToken {
            value: Secret::new(value),
            expires_at: at_epoch_secs(exp, now),
            principal: Some(self.subject.clone()),
        }
    }
}

impl TokenProvider for UnsecuredJwt {
    fn token(&self) -> TokenFuture<'_> {
        let t = self.issue(SystemTime::now());
        Box::pin(async move { Ok(t) })
    }
}

/// The claims of a JWT's payload Volley reads: `exp` and `sub`. `None` when the token is not
/// a JWT (an opaque token: its lifetime then comes from the endpoint's `expires_in`).
pub(crate) fn jwt_claims(token: &str) -> Option<(Option<u64>, Option<String>)> {
    let mut parts = token.split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    parts.next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = v
        .get("exp")
        .and_then(|e| e.as_u64().or_else(|| e.as_f64().map(|f| f as u64)));
    let sub = v.get("sub").and_then(|s| s.as_str()).map(str::to_owned);
    Some((exp, sub))
}

/// OIDC client credentials (RFC 6749 §4.4): a POST to the token endpoint with the client id
/// and secret in HTTP Basic authentication, as Java's `ClientCredentialsJwtRetriever` and
/// librdkafka's `sasl.oauthbearer.method=oidc` do.
#[derive(Clone)]
pub struct ClientCredentials {
    /// The token endpoint (`sasl.oauthbearer.token.endpoint.url`).
    pub endpoint: String,
    /// The client id.
    pub client_id: String,
    /// The client secret (never printed).
    pub client_secret: Secret,
    /// The requested scope, if any.
    pub scope: Option<String>,
    http: reqwest::Client,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("endpoint", &without_userinfo(&self.endpoint))
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// A URL as it may be shown: without `user:password@`.
pub(crate) fn without_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find('/').unwrap_or(rest.len());
            match rest[..end].rfind('@') {
                Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

/// An error and its causes, joined ("error sending request: connection refused").
fn causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(c) = next {
        out.push_str(": ");
        out.push_str(&c.to_string());
        next = c.source();
    }
    out
}

/// `application/x-www-form-urlencoded` escaping of one value.
fn form_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl ClientCredentials {
    /// A client for `endpoint`, with the timeout of one request.
    ///
    /// # Errors
    /// When the URL is not http(s) or the HTTP client cannot be built.
    pub fn new(
        endpoint: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Secret,
        scope: Option<String>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let endpoint = endpoint.into();
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
            return Err(format!("'{endpoint}' is not an http:// or https:// URL"));
        }
        // One process-wide TLS provider; a second install is refused harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("volley/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            endpoint: endpoint.clone(),
            client_id: client_id.into(),
            client_secret,
            scope,
            http,
        })
    }

    /// The request body.
    fn body(&self) -> String {
        let mut body = "grant_type=client_credentials".to_owned();
        if let Some(s) = self.scope.as_deref().filter(|s| !s.is_empty()) {
            body.push_str("&scope=");
            body.push_str(&form_escape(s));
        }
        body
    }

    async fn fetch(&self) -> Result<OAuthToken, String> {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            form_escape(&self.client_id),
            form_escape(self.client_secret.expose())
        ));
        let at = |what: String| format!("token endpoint {}: {what}", without_userinfo(&self.endpoint));
        let answer = self
            .http
            .post(&self.endpoint)
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(self.body())
            .send()
            .await
            .map_err(|e| at(format!("unreachable: {}", causes(&e.without_url()))))?;
        let status = answer.status();
        let text = answer.text().await.map_err(|e| at(causes(&e.without_url())))?;
        if !status.is_success() {
            // OAuth error bodies carry `error` and `error_description`, never the secret.
            let detail: String = text.chars().take(300).collect();
            return Err(at(format!("HTTP {status}: {detail}")));
        }
        parse_token_answer(&text, SystemTime::now()).map_err(at)
    }
}

/// Reads a token endpoint's JSON answer: `access_token`, and its lifetime from the JWT's
/// `exp` claim or else `expires_in` (seconds).
pub(crate) fn parse_token_answer(text: &str, now: SystemTime) -> Result<OAuthToken, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("the answer is not JSON: {e}"))?;
    let token = v
        .get("access_token")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .ok_or("the answer has no access_token")?;
    let claims = jwt_claims(token);
    let expires_at = match (
        claims.as_ref().and_then(|c| c.0),
        v.get("expires_in").and_then(serde_json::Value::as_u64),
    ) {
        (Some(exp), _) => at_epoch_secs(exp, now),
        (None, Some(secs)) => later(now, Duration::from_secs(secs)),
        (None, None) => return Err("the token has no exp claim and the answer no expires_in".into()),
    };
    Ok(OAuthToken {
        value: Secret::new(token),
        expires_at,
        principal: claims.and_then(|c| c.1),
    })
}

impl TokenProvider for ClientCredentials {
    fn token(&self) -> TokenFuture<'_> {
        Box::pin(async move {
            // Java retries a failed login with backoff (sasl.login.retry.backoff.ms); three
            // tries 0.1 s and 0.4 s apart ride over a blip without hiding a real outage.
            let mut last = String::new();
            for wait in [0u64, 100, 400] {
                tokio::time::sleep(Duration::from_millis(wait)).await;
                match self.fetch().await {
                    Ok(t) => return Ok(t),
                    Err(e) => last = e,
                }
            }
            Err(last)
        })
    }
}

/// The token of every connection of one producer: one provider, one cached token, and the
/// SASL extensions sent with it.
pub(crate) struct TokenSource {
    provider: Arc<dyn TokenProvider>,
    /// The cached token and when to replace it.
    cached: tokio::sync::Mutex<Option<(OAuthToken, SystemTime)>>,
    /// SASL extensions (`key=value`), sent after the token.
    pub(crate) extensions: Vec<(String, String)>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field(
                "extensions",
                &self.extensions.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// When a token fetched at `fetched` should be replaced: after 80 % of its lifetime.
fn refresh_at(fetched: SystemTime, expires_at: SystemTime) -> SystemTime {
    let life = expires_at.duration_since(fetched).unwrap_or_default();
    later(fetched, life.mul_f64(0.8))
}

impl TokenSource {
    /// A source over `provider`.
    pub(crate) fn new(provider: Arc<dyn TokenProvider>, extensions: Vec<(String, String)>) -> Self {
        Self {
            provider,
            cached: tokio::sync::Mutex::new(None),
            extensions,
        }
    }

    /// A token with time left on it: the cached one until 80 % of its lifetime has passed,
    /// then a fresh one (callers at the same moment share one fetch).
    pub(crate) async fn current(&self, now: SystemTime) -> Result<OAuthToken, String> {
        let mut cached = self.cached.lock().await;
        if let Some((t, refresh)) = cached.as_ref() {
            if now < *refresh {
                return Ok(t.clone());
            }
        }
        let t = self.provider.token().await?;
        if t.expires_at <= now {
            return Err("the token provider returned a token that has already expired".into());
        }
        tracing::debug!(
            principal = t.principal.as_deref().unwrap_or("?"),
            lifetime_s = t.expires_at.duration_since(now).unwrap_or_default().as_secs(),
            "OAUTHBEARER token fetched"
        );
        *cached = Some((t.clone(), refresh_at(now, t.expires_at)));
        Ok(t)
    }

    /// The client's first (and only) message: `n,,\x01auth=Bearer <token>\x01` then each
    /// extension as `key=value\x01`, then `\x01` (RFC 7628).
    pub(crate) fn first_message(&self, token: &OAuthToken) -> Vec<u8> {
        let mut m = Vec::with_capacity(token.value.expose().len() + 32);
        m.extend_from_slice(b"n,,\x01auth=Bearer ");
        m.extend_from_slice(token.value.expose().as_bytes());
        m.push(1);
        for (k, v) in &self.extensions {
            m.extend_from_slice(k.as_bytes());
            m.push(b'=');
            m.extend_from_slice(v.as_bytes());
            m.push(1);
        }
        m.push(1);
        m
    }
}

/// Parses SASL extensions, `key=value` pairs separated by commas (librdkafka's
/// `sasl.oauthbearer.extensions`). Keys are letters only and `auth` is reserved (RFC 7628).
pub(crate) fn parse_extensions(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("'{pair}' is not key=value"))?;
        check_extension(k, v)?;
        out.push((k.to_owned(), v.to_owned()));
    }
    Ok(out)
}

/// RFC 7628's rules for an extension: key `[A-Za-z]+`, not `auth`; value printable ASCII,
/// space, tab, CR or LF.
pub(crate) fn check_extension(k: &str, v: &str) -> Result<(), String> {
    if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(format!("extension key '{k}' must be letters only"));
    }
    if k == "auth" {
        return Err("the extension key 'auth' is reserved".into());
    }
    if v.is_empty()
        || !v
            .bytes()
            .all(|b| (0x21..=0x7E).contains(&b) || matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
    {
        return Err(format!("the value of extension '{k}' must be printable ASCII"));
    }
    Ok(())
}

#[cfg(test)]
#[path = "oauth_tests.rs"]
mod tests;
