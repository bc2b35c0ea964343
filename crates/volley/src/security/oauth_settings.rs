//! The OAUTHBEARER configuration keys, in librdkafka's and Java's spellings, and the
//! [`TokenSource`] they build.
//!
//! - OIDC client credentials: librdkafka's `sasl.oauthbearer.method=oidc` with
//!   `sasl.oauthbearer.token.endpoint.url`, `.client.id`, `.client.secret`, `.scope`; Java's
//!   `sasl.oauthbearer.token.endpoint.url` with the JAAS options `clientId`, `clientSecret`,
//!   `scope` (or Kafka 4.1's `sasl.oauthbearer.client.credentials.client.id` / `.secret`).
//! - Unsecured JWTs for tests: librdkafka's `enable.sasl.oauthbearer.unsecure.jwt=true` with
//!   `sasl.oauthbearer.config` (`principal=… scope=… lifeSeconds=… extension_k=v`); Java's
//!   JAAS line with `unsecuredLoginStringClaim_sub` and no endpoint.
//! - A library user's [`TokenProvider`], which wins over both.
//!
//! Extensions: `sasl.oauthbearer.extensions` (`k=v,k=v`), JAAS `extension_k="v"` options, or
//! `extension_k=v` in `sasl.oauthbearer.config`.

use std::sync::Arc;
use std::time::Duration;

use super::jaas::Jaas;
use super::oauth::{check_extension, parse_extensions, ClientCredentials, TokenProvider, TokenSource, UnsecuredJwt};
use super::secret::{shown, Secret};
use crate::config::ConfigError;

/// Kafka's login callback handlers for OIDC client credentials (Kafka 3.1+ and the older
/// `secured` package name), which Java's OIDC configurations must name.
const KAFKA_LOGIN_HANDLERS: &[&str] = &[
    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler",
    "org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerLoginCallbackHandler",
];

/// How long one token endpoint request may take.
const ENDPOINT_TIMEOUT: Duration = Duration::from_secs(10);

fn invalid(key: &str, value: &str, allowed: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.to_owned(),
        value: shown(key, value),
        allowed: allowed.into(),
    }
}

fn needs(what: &str) -> ConfigError {
    ConfigError::Conflict(format!("sasl.mechanism=OAUTHBEARER {what}"))
}

/// Builds the token source from the keys, the parsed JAAS line and a user's provider.
pub(crate) fn build(
    get: &dyn Fn(&str) -> Option<String>,
    jaas: Option<&Jaas>,
    provider: Option<Arc<dyn TokenProvider>>,
) -> Result<TokenSource, ConfigError> {
    let opt = |name: &str| jaas.and_then(|j| j.options.get(name)).map(|v| v.expose().to_owned());
    let mut extensions = match get("sasl.oauthbearer.extensions") {
        Some(v) => parse_extensions(&v).map_err(|e| invalid("sasl.oauthbearer.extensions", &v, e))?,
        None => Vec::new(),
    };
    if let Some(j) = jaas {
        for (k, v) in &j.options {
            if let Some(name) = k
                .strip_prefix("extension_")
                .or_else(|| k.strip_prefix("unsecuredLoginExtension_"))
            {
                check_extension(name, v.expose()).map_err(|e| invalid("sasl.jaas.config", "", e))?;
                extensions.push((name.to_owned(), v.expose().to_owned()));
            }
        }
    }
    // Java's OIDC configurations name Kafka's own login handler (KIP-768); Volley does what it
    // does. Any other class is code Volley cannot run.
    if let Some(class) = get("sasl.login.callback.handler.class") {
        if !KAFKA_LOGIN_HANDLERS.contains(&class.as_str()) {
            return Err(ConfigError::NotSupported {
                key: "sasl.login.callback.handler.class".into(),
                value: class,
                detail: "only Kafka's own OAuthBearerLoginCallbackHandler is understood (Volley fetches \
                         OIDC tokens itself); for another source, implement volley::security::TokenProvider"
                    .into(),
            });
        }
    }
    if let Some(p) = provider {
        return Ok(TokenSource::new(p, extensions));
    }
    let method = get("sasl.oauthbearer.method").map(|m| m.to_ascii_lowercase());
    let endpoint = get("sasl.oauthbearer.token.endpoint.url");
    let unsecure = match get("enable.sasl.oauthbearer.unsecure.jwt") {
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(invalid("enable.sasl.oauthbearer.unsecure.jwt", &v, "true or false")),
        },
        None => false,
    };
    match method.as_deref() {
        None | Some("default" | "oidc") => {}
        Some(m) => return Err(invalid("sasl.oauthbearer.method", m, "default or oidc")),
    }
    if method.as_deref() == Some("oidc") || (method.is_none() && endpoint.is_some()) {
        let url = endpoint
            .ok_or_else(|| needs("with sasl.oauthbearer.method=oidc needs sasl.oauthbearer.token.endpoint.url"))?;
        let id = get("sasl.oauthbearer.client.id")
            .or_else(|| opt("clientId"))
            .ok_or_else(|| needs("needs a client id: sasl.oauthbearer.client.id, or clientId in sasl.jaas.config"))?;
        let secret = get("sasl.oauthbearer.client.secret")
            .or_else(|| opt("clientSecret"))
            .ok_or_else(|| {
                needs("needs a client secret: sasl.oauthbearer.client.secret, or clientSecret in sasl.jaas.config")
            })?;
        let scope = get("sasl.oauthbearer.scope").or_else(|| opt("scope"));
        let c = ClientCredentials::new(url.clone(), id, Secret::new(secret), scope, ENDPOINT_TIMEOUT)
            .map_err(|e| invalid("sasl.oauthbearer.token.endpoint.url", &url, e))?;
        return Ok(TokenSource::new(Arc::new(c), extensions));
    }
    if unsecure {
        let mut jwt = UnsecuredJwt {
            subject: String::new(),
            lifetime: Duration::from_secs(3600),
            scope: None,
        };
        let config = get("sasl.oauthbearer.config").unwrap_or_default();
        for item in config.split_whitespace() {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| invalid("sasl.oauthbearer.config", &config, "space-separated name=value pairs"))?;
            match k {
                "principal" => jwt.subject = v.to_owned(),
                "scope" => jwt.scope = Some(v.replace(',', " ")),
                "lifeSeconds" => {
                    let s: u64 = v
                        .parse()
                        .map_err(|_| invalid("sasl.oauthbearer.config", &config, "lifeSeconds=<seconds>"))?;
                    jwt.lifetime = Duration::from_secs(s.max(1));
                }
                _ => match k.strip_prefix("extension_") {
                    Some(name) => {
                        check_extension(name, v).map_err(|e| invalid("sasl.oauthbearer.config", &config, e))?;
                        extensions.push((name.to_owned(), v.to_owned()));
                    }
                    None => {
                        return Err(invalid(
                            "sasl.oauthbearer.config",
                            &config,
                            "principal=, scope=, lifeSeconds= and extension_<name>=",
                        ))
                    }
                },
            }
        }
        if jwt.subject.is_empty() {
            return Err(needs(
                "with enable.sasl.oauthbearer.unsecure.jwt needs principal=<name> in sasl.oauthbearer.config",
            ));
        }
        warn_unsecured();
        return Ok(TokenSource::new(Arc::new(jwt), extensions));
    }
    if let Some(sub) = opt("unsecuredLoginStringClaim_sub") {
        let lifetime = match opt("unsecuredLoginLifetimeSeconds") {
            Some(v) => Duration::from_secs(
                v.parse::<u64>()
                    .map_err(|_| {
                        invalid(
                            "sasl.jaas.config",
                            "",
                            "unsecuredLoginLifetimeSeconds must be a number of seconds",
                        )
                    })?
                    .max(1),
            ),
            None => Duration::from_secs(3600),
        };
        let scope = opt("unsecuredLoginStringClaim_scope");
        warn_unsecured();
        return Ok(TokenSource::new(
            Arc::new(UnsecuredJwt {
                subject: sub,
                lifetime,
                scope,
            }),
            extensions,
        ));
    }
    Err(needs(
        "needs a token source: sasl.oauthbearer.method=oidc with sasl.oauthbearer.token.endpoint.url, client id and secret; \
         enable.sasl.oauthbearer.unsecure.jwt=true with sasl.oauthbearer.config=principal=<name> (tests only); \
         or a TokenProvider (ProducerConfigBuilder::oauth_token_provider)",
    ))
}

fn warn_unsecured() {
    tracing::warn!("OAUTHBEARER with unsecured JWTs (no signature): for tests only; a production broker refuses them");
}
