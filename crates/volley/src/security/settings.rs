//! The security configuration keys (librdkafka's and Java's spellings) and what they build.

use std::sync::Arc;

use super::oauth::{TokenProvider, TokenSource};
use super::secret::{shown, Secret};
use super::stores;
use super::tls::{self, TlsInputs};
use crate::config::{ConfigError, SecurityProtocol};

/// The TLS side of a connection, loaded and checked when the config is built.
#[derive(Clone)]
#[non_exhaustive]
pub struct TlsSettings {
    pub(crate) client: Arc<rustls::ClientConfig>,
    /// Hostname / IP SAN verification (`ssl.endpoint.identification.algorithm`).
    pub verify_hostname: bool,
    /// Certificate verification (`enable.ssl.certificate.verification`).
    pub verify_certificates: bool,
    /// Whether a client certificate is presented (mTLS).
    pub client_certificate: bool,
}

impl PartialEq for TlsSettings {
    fn eq(&self, o: &Self) -> bool {
        Arc::ptr_eq(&self.client, &o.client)
    }
}
impl Eq for TlsSettings {}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("verify_hostname", &self.verify_hostname)
            .field("verify_certificates", &self.verify_certificates)
            .field("client_certificate", &self.client_certificate)
            .finish_non_exhaustive()
    }
}

/// The SASL mechanisms Volley speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SaslMechanism {
    /// `PLAIN` (RFC 4616).
    Plain,
    /// `SCRAM-SHA-256` (RFC 7677).
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
    /// `OAUTHBEARER` (RFC 7628, KIP-255): a bearer token from a [`TokenProvider`].
    OAuthBearer,
}

impl SaslMechanism {
    /// Kafka's name of the mechanism.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanism::OAuthBearer => "OAUTHBEARER",
        }
    }
}

/// SASL credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SaslSettings {
    /// The mechanism.
    pub mechanism: SaslMechanism,
    /// The user name (PLAIN and SCRAM).
    pub username: String,
    /// The password (never printed; PLAIN and SCRAM).
    pub password: Secret,
    /// Where OAUTHBEARER tokens come from.
    pub(crate) oauth: Option<OAuth>,
}

/// The token source of an OAUTHBEARER producer; equal only to itself.
#[derive(Debug, Clone)]
pub(crate) struct OAuth(pub(crate) Arc<TokenSource>);

impl PartialEq for OAuth {
    fn eq(&self, o: &Self) -> bool {
        Arc::ptr_eq(&self.0, &o.0)
    }
}
impl Eq for OAuth {}

/// Everything about how connections are secured; applies to every connection, bootstrap
/// included.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Security {
    /// TLS, for `SSL` and `SASL_SSL`.
    pub tls: Option<TlsSettings>,
    /// SASL, for `SASL_PLAINTEXT` and `SASL_SSL`.
    pub sasl: Option<SaslSettings>,
}

/// The security keys, with librdkafka's aliases mapped onto one name.
pub(crate) fn canonical(key: &str) -> Option<&'static str> {
    Some(match key {
        "ssl.ca.location" => "ssl.ca.location",
        "ssl.ca.pem" => "ssl.ca.pem",
        "ssl.certificate.location" => "ssl.certificate.location",
        "ssl.certificate.pem" => "ssl.certificate.pem",
        "ssl.key.location" => "ssl.key.location",
        "ssl.key.pem" => "ssl.key.pem",
        "ssl.key.password" => "ssl.key.password",
        "ssl.endpoint.identification.algorithm" => "ssl.endpoint.identification.algorithm",
        "enable.ssl.certificate.verification" => "enable.ssl.certificate.verification",
        "ssl.truststore.type" => "ssl.truststore.type",
        "ssl.truststore.location" => "ssl.truststore.location",
        "ssl.truststore.password" => "ssl.truststore.password",
        "ssl.truststore.certificates" => "ssl.truststore.certificates",
        "ssl.keystore.type" => "ssl.keystore.type",
        "ssl.keystore.location" => "ssl.keystore.location",
        "ssl.keystore.password" => "ssl.keystore.password",
        "ssl.keystore.key" => "ssl.keystore.key",
        "ssl.keystore.certificate.chain" => "ssl.keystore.certificate.chain",
        "ssl.enabled.protocols" => "ssl.enabled.protocols",
        "ssl.protocol" => "ssl.protocol",
        "sasl.mechanism" | "sasl.mechanisms" => "sasl.mechanism",
        "sasl.username" => "sasl.username",
        "sasl.password" => "sasl.password",
        "sasl.jaas.config" => "sasl.jaas.config",
        "sasl.oauthbearer.method" => "sasl.oauthbearer.method",
        "sasl.oauthbearer.token.endpoint.url" => "sasl.oauthbearer.token.endpoint.url",
        "sasl.oauthbearer.client.id" | "sasl.oauthbearer.client.credentials.client.id" => "sasl.oauthbearer.client.id",
        "sasl.oauthbearer.client.secret" | "sasl.oauthbearer.client.credentials.client.secret" => {
            "sasl.oauthbearer.client.secret"
        }
        "sasl.oauthbearer.scope" => "sasl.oauthbearer.scope",
        "sasl.oauthbearer.extensions" => "sasl.oauthbearer.extensions",
        "enable.sasl.oauthbearer.unsecure.jwt" => "enable.sasl.oauthbearer.unsecure.jwt",
        "sasl.oauthbearer.config" => "sasl.oauthbearer.config",
        "sasl.login.callback.handler.class" => "sasl.login.callback.handler.class",
        _ => return None,
    })
}

fn invalid(key: &str, value: &str, allowed: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.to_owned(),
        value: shown(key, value),
        allowed: allowed.into(),
    }
}

fn unsupported(key: &str, value: &str, detail: impl Into<String>) -> ConfigError {
    ConfigError::NotSupported {
        key: key.to_owned(),
        value: shown(key, value),
        detail: detail.into(),
    }
}

fn pem_setting(
    get: &dyn Fn(&str) -> Option<String>,
    location: &str,
    inline: &str,
) -> Result<Option<Vec<u8>>, ConfigError> {
    if let Some(v) = get(inline) {
        return Ok(Some(v.into_bytes()));
    }
    get(location)
        .map(|p| tls::read_pem_path(location, &p).map_err(|e| invalid(location, &p, e)))
        .transpose()
}

fn parse_bool(key: &str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(key, v, "true or false")),
    }
}

/// Builds the security settings for `protocol` from the canonical keys. TLS files are read
/// and parsed here, so a missing file or a bad key fails at configuration time.
/// A library user's [`TokenProvider`] serves OAUTHBEARER instead of the configured one.
pub(crate) fn build(
    get: &dyn Fn(&str) -> Option<String>,
    protocol: SecurityProtocol,
    provider: Option<Arc<dyn TokenProvider>>,
) -> Result<Security, ConfigError> {
    let mut out = Security::default();
    let (uses_tls, uses_sasl) = match protocol {
        SecurityProtocol::Ssl => (true, false),
        SecurityProtocol::SaslPlaintext => (false, true),
        SecurityProtocol::SaslSsl => (true, true),
        _ => (false, false),
    };
    if uses_tls {
        out.tls = Some(build_tls(get)?);
    }
    if uses_sasl {
        let sasl = build_sasl(get, provider)?;
        if sasl.mechanism == SaslMechanism::Plain && !uses_tls {
            tracing::warn!(
                "sasl.mechanism=PLAIN over SASL_PLAINTEXT: the password travels in clear text; use SASL_SSL"
            );
        }
        out.sasl = Some(sasl);
    }
    Ok(out)
}

fn build_tls(get: &dyn Fn(&str) -> Option<String>) -> Result<TlsSettings, ConfigError> {
    let mut inputs = TlsInputs {
        verify_hostname: true,
        verify_certificates: true,
        tls12: true,
        tls13: true,
        ..TlsInputs::default()
    };
    let mut ca = pem_setting(get, "ssl.ca.location", "ssl.ca.pem")?;
    if let Some(pem) = get("ssl.truststore.certificates") {
        ca.get_or_insert_with(Vec::new).extend_from_slice(pem.as_bytes());
    }
    if let Some(pem) = stores::truststore_pem(get)? {
        ca.get_or_insert_with(Vec::new).extend_from_slice(&pem);
    }
    inputs.ca_pem = ca;
    inputs.cert_pem = pem_setting(get, "ssl.certificate.location", "ssl.certificate.pem")?;
    let key_pem = pem_setting(get, "ssl.key.location", "ssl.key.pem")?;
    // Where the key came from, for its errors: (setting, value as shown).
    let mut key_source = match (get("ssl.key.pem"), get("ssl.key.location")) {
        (Some(_), _) => ("ssl.key.pem", String::new()),
        (None, location) => ("ssl.key.location", location.unwrap_or_default()),
    };
    inputs.key_pem = key_pem.map(|b| Secret::new(String::from_utf8_lossy(&b).into_owned()));
    if let Some((chain, key)) = stores::keystore_pem(get)? {
        inputs.cert_pem = Some(chain);
        inputs.key_pem = Some(key);
        key_source = (
            "ssl.keystore.location",
            get("ssl.keystore.location").unwrap_or_default(),
        );
    }
    if let Some(chain) = get("ssl.keystore.certificate.chain") {
        inputs.cert_pem = Some(chain.into_bytes());
    }
    if let Some(key) = get("ssl.keystore.key") {
        inputs.key_pem = Some(Secret::new(key));
        key_source = ("ssl.keystore.key", String::new());
    }
    if let Some(key) = &inputs.key_pem {
        let password = get("ssl.key.password").map(Secret::new);
        inputs.key_pem = Some(stores::plain_key(key, key_source.0, &key_source.1, password.as_ref())?);
    }
    if let Some(v) = get("ssl.endpoint.identification.algorithm") {
        inputs.verify_hostname = match v.to_ascii_lowercase().as_str() {
            "https" => true,
            "" | "none" => false,
            _ => {
                return Err(invalid(
                    "ssl.endpoint.identification.algorithm",
                    &v,
                    "https, or none (or empty) to disable hostname verification",
                ))
            }
        };
    }
    if let Some(v) = get("enable.ssl.certificate.verification") {
        inputs.verify_certificates = parse_bool("enable.ssl.certificate.verification", &v)?;
    }
    if let Some(v) = get("ssl.enabled.protocols") {
        inputs.tls12 = false;
        inputs.tls13 = false;
        for p in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match p {
                "TLSv1.2" => inputs.tls12 = true,
                "TLSv1.3" => inputs.tls13 = true,
                _ => return Err(invalid("ssl.enabled.protocols", &v, "a list of TLSv1.2 and TLSv1.3")),
            }
        }
    }
    if let Some(v) = get("ssl.protocol") {
        if !matches!(v.as_str(), "TLS" | "TLSv1.2" | "TLSv1.3") {
            return Err(invalid("ssl.protocol", &v, "TLS, TLSv1.2 or TLSv1.3"));
        }
    }
    if !inputs.verify_certificates {
        tracing::warn!("enable.ssl.certificate.verification=false: any certificate is accepted, so the broker is not authenticated");
    } else if !inputs.verify_hostname {
        tracing::warn!("ssl.endpoint.identification.algorithm is off: broker certificates are not checked against the broker's name");
    }
    let client_certificate = inputs.cert_pem.is_some();
    let client = tls::build(&inputs).map_err(|e| ConfigError::Conflict(format!("TLS settings: {e}")))?;
    Ok(TlsSettings {
        client,
        verify_hostname: inputs.verify_hostname,
        verify_certificates: inputs.verify_certificates,
        client_certificate,
    })
}

fn build_sasl(
    get: &dyn Fn(&str) -> Option<String>,
    provider: Option<Arc<dyn TokenProvider>>,
) -> Result<SaslSettings, ConfigError> {
    // Java's and librdkafka's default is GSSAPI.
    let mech = get("sasl.mechanism").unwrap_or_else(|| "GSSAPI".to_owned());
    let mechanism = match mech.to_ascii_uppercase().as_str() {
        "PLAIN" => SaslMechanism::Plain,
        "SCRAM-SHA-256" => SaslMechanism::ScramSha256,
        "SCRAM-SHA-512" => SaslMechanism::ScramSha512,
        "OAUTHBEARER" => SaslMechanism::OAuthBearer,
        _ => return Err(unsupported("sasl.mechanism", &mech, format!("the SASL mechanism {mech} is not supported (it is the default when sasl.mechanism is not set); use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"))),
    };
    let jaas = get("sasl.jaas.config")
        .map(|line| super::jaas::parse(&line).map_err(|e| invalid("sasl.jaas.config", &line, e)))
        .transpose()?;
    if let Some(j) = &jaas {
        let fits = match j.module {
            super::jaas::LoginModule::Plain => mechanism == SaslMechanism::Plain,
            super::jaas::LoginModule::Scram => {
                matches!(mechanism, SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512)
            }
            super::jaas::LoginModule::OAuthBearer => mechanism == SaslMechanism::OAuthBearer,
        };
        if !fits {
            return Err(ConfigError::Conflict(format!(
                "sasl.jaas.config names a {:?} login module, which does not serve sasl.mechanism={}",
                j.module,
                mechanism.name()
            )));
        }
    }
    if mechanism == SaslMechanism::OAuthBearer {
        let source = super::oauth_settings::build(get, jaas.as_ref(), provider)?;
        return Ok(SaslSettings {
            mechanism,
            username: String::new(),
            password: Secret::default(),
            oauth: Some(OAuth(Arc::new(source))),
        });
    }
    let (mut username, mut password) = (get("sasl.username"), get("sasl.password").map(Secret::new));
    if let Some(j) = jaas {
        username = username.or_else(|| j.options.get("username").map(|u| u.expose().to_owned()));
        password = password.or_else(|| j.options.get("password").cloned());
    }
    match (username, password) {
        (Some(username), Some(password)) => Ok(SaslSettings {
            mechanism,
            username,
            password,
            oauth: None,
        }),
        _ => Err(ConfigError::Conflict(format!(
            "sasl.mechanism={} needs a user name and password: set sasl.username and sasl.password, or sasl.jaas.config",
            mechanism.name()
        ))),
    }
}
