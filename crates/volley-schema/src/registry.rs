//! A Confluent Schema Registry client: register and look up schemas over its REST API, with a
//! cache so that no record costs an HTTP request and an outage of the registry does not stop
//! records whose schema is already known.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;
use volley::security::Secret;

use crate::error::SchemaError;

/// The schema languages a registry knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaType {
    /// Avro (the registry's default; `schemaType` absent).
    Avro,
    /// JSON Schema.
    Json,
    /// Protobuf.
    Protobuf,
}

impl SchemaType {
    fn wire_name(self) -> Option<&'static str> {
        match self {
            SchemaType::Avro => None,
            SchemaType::Json => Some("JSON"),
            SchemaType::Protobuf => Some("PROTOBUF"),
        }
    }

    fn from_wire(s: Option<&str>) -> Result<Self, SchemaError> {
        match s {
            None | Some("AVRO") => Ok(SchemaType::Avro),
            Some("JSON") => Ok(SchemaType::Json),
            Some("PROTOBUF") => Ok(SchemaType::Protobuf),
            Some(other) => Err(SchemaError::BadAnswer(format!("unknown schemaType {other}"))),
        }
    }
}

/// A schema as the registry knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredSchema {
    /// The global schema id (what the Confluent framing carries).
    pub id: u32,
    /// The subject's version, when the answer names one.
    pub version: Option<i32>,
    /// The schema text.
    pub schema: String,
    /// Its language.
    pub schema_type: SchemaType,
}

/// Connection settings of the registry client (Confluent's property names).
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Base URLs (`schema.registry.url`, comma-separated); tried in turn.
    pub urls: Vec<String>,
    /// `basic.auth.user.info`: `user:password` (the password never prints).
    pub basic_auth: Option<(String, Secret)>,
    /// `schema.registry.ssl.ca.location`: a PEM file of CA certificates to trust for https URLs
    /// (in addition to the system's).
    pub ca_location: Option<PathBuf>,
    /// `schema.registry.ssl.certificate.location`: the client certificate chain (PEM) presented
    /// when the registry requires one (mTLS); needs [`key_location`](Self::key_location).
    pub certificate_location: Option<PathBuf>,
    /// `schema.registry.ssl.key.location`: the client certificate's private key (PEM: PKCS#8,
    /// RSA or EC; encrypted PKCS#8 with [`key_password`](Self::key_password)).
    pub key_location: Option<PathBuf>,
    /// `schema.registry.ssl.key.password`: decrypts an encrypted PKCS#8 key
    /// (`ENCRYPTED PRIVATE KEY`, PBES2).
    pub key_password: Option<Secret>,
    /// Java's stores for the registry, Confluent's spelling: `schema.registry.ssl.truststore.*`
    /// and `schema.registry.ssl.keystore.*` (`location`, `password`, `type`; JKS, PKCS12 or
    /// PEM, read as the producer's `ssl.truststore.*` / `ssl.keystore.*` are), by the
    /// producer's key name (`ssl.truststore.location`, ...). Values never print.
    pub stores: Vec<(String, Secret)>,
    /// `schema.registry.ssl.endpoint.identification.algorithm`: `https` (default) checks the
    /// registry's certificate against the URL's host; `none` (or empty) only checks the chain,
    /// against [`ca_location`](Self::ca_location), which is then required.
    pub verify_hostname: bool,
    /// `schema.registry.request.timeout.ms`: the bound on one lookup, retries included
    /// (default 30,000, Java's read timeout).
    pub timeout: Duration,
    /// `max.retries`: further attempts after a failed one (connection errors, timeouts,
    /// HTTP 5xx and 429; default 3).
    pub max_retries: u32,
    /// `retries.wait.ms`: the first wait between attempts, doubled each time (default 1,000).
    pub retry_wait: Duration,
    /// `retries.max.wait.ms`: the longest wait between attempts (default 20,000).
    pub retry_max_wait: Duration,
}

impl RegistryConfig {
    /// Settings for one or more comma-separated base URLs, with the defaults.
    pub fn new(urls: &str) -> Self {
        RegistryConfig {
            urls: urls
                .split(',')
                .map(|u| u.trim().trim_end_matches('/').to_owned())
                .filter(|u| !u.is_empty())
                .collect(),
            basic_auth: None,
            ca_location: None,
            certificate_location: None,
            key_location: None,
            key_password: None,
            stores: Vec::new(),
            verify_hostname: true,
            timeout: Duration::from_millis(30_000),
            max_retries: 3,
            retry_wait: Duration::from_millis(1_000),
            retry_max_wait: Duration::from_millis(20_000),
        }
    }
}

#[derive(Default)]
struct Cache {
    /// (subject, schema text, type) → id, from register or lookup.
    ids: HashMap<(String, String, SchemaType), RegisteredSchema>,
    /// id → schema.
    by_id: HashMap<u32, RegisteredSchema>,
    /// subject → latest (fetched once; Confluent's `latest.cache.ttl.sec` = -1).
    latest: HashMap<String, RegisteredSchema>,
    /// (subject, version) → schema.
    versions: HashMap<(String, i32), RegisteredSchema>,
}

/// The registry client. Cheap to share behind an `Arc`; every answer is cached.
pub struct RegistryClient {
    http: reqwest::Client,
    config: RegistryConfig,
    cache: Mutex<Cache>,
    requests: AtomicU64,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("urls", &self.config.urls)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error_code: i64,
    message: String,
}

#[derive(Deserialize)]
struct IdBody {
    id: u32,
}

#[derive(Deserialize)]
struct SchemaBody {
    #[serde(default)]
    id: Option<u32>,
    #[serde(default)]
    version: Option<i32>,
    schema: String,
    #[serde(rename = "schemaType", default)]
    schema_type: Option<String>,
}

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

enum Attempt {
    Done(reqwest::StatusCode, Vec<u8>),
    Retry(String),
    /// The TLS handshake was refused: retrying would not change it.
    Tls(String),
}

impl RegistryClient {
    /// A client for these settings.
    ///
    /// # Errors
    /// [`SchemaError::Config`] for no URL, a URL scheme other than http/https, or TLS files
    /// that cannot be read or used (a private key that does not decrypt included).
    pub fn new(config: RegistryConfig) -> Result<Self, SchemaError> {
        if config.urls.is_empty() {
            return Err(SchemaError::Config {
                key: "schema.registry.url".into(),
                reason: "no URL given".into(),
            });
        }
        for u in &config.urls {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(SchemaError::Config {
                    key: "schema.registry.url".into(),
                    reason: format!("'{u}' is not an http:// or https:// URL"),
                });
            }
        }
        // One process-wide TLS provider; a second install is refused harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("volley/", env!("CARGO_PKG_VERSION")));
        let builder = crate::registry_tls::configure(builder, &config)?;
        let http = builder.build().map_err(|e| SchemaError::Config {
            key: "schema.registry.url".into(),
            reason: e.to_string(),
        })?;
        Ok(RegistryClient {
            http,
            config,
            cache: Mutex::new(Cache::default()),
            requests: AtomicU64::new(0),
        })
    }

    /// HTTP requests sent so far (attempts included): the cache keeps this flat while records flow.
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers `schema` under `subject` (or finds it already registered) and returns its id.
    ///
    /// # Errors
    /// [`SchemaError::Registry`] with the registry's code (409 incompatible, 422 invalid), or
    /// [`SchemaError::Unreachable`].
    pub async fn register(
        &self,
        subject: &str,
        schema: &str,
        schema_type: SchemaType,
        normalize: bool,
    ) -> Result<RegisteredSchema, SchemaError> {
        self.post_schema(subject, schema, schema_type, normalize, true).await
    }

    /// Finds `schema` among the versions of `subject` without registering it.
    ///
    /// # Errors
    /// [`SchemaError::Registry`] 404 (40401 unknown subject, 40403 schema not found), or
    /// [`SchemaError::Unreachable`].
    pub async fn lookup(
        &self,
        subject: &str,
        schema: &str,
        schema_type: SchemaType,
        normalize: bool,
    ) -> Result<RegisteredSchema, SchemaError> {
        self.post_schema(subject, schema, schema_type, normalize, false).await
    }

    /// `POST /subjects/{s}/versions` (register) or `POST /subjects/{s}` (look up); both
    /// answers are cached under the subject and schema, and by id.
    async fn post_schema(
        &self,
        subject: &str,
        schema: &str,
        schema_type: SchemaType,
        normalize: bool,
        register: bool,
    ) -> Result<RegisteredSchema, SchemaError> {
        let key = (subject.to_owned(), schema.to_owned(), schema_type);
        if let Some(hit) = self.cache().ids.get(&key) {
            return Ok(hit.clone());
        }
        let body = Self::schema_request(schema, schema_type);
        let q = if normalize { "?normalize=true" } else { "" };
        let reg = if register {
            let bytes = self
                .call(reqwest::Method::POST, &["subjects", subject, "versions"], q, Some(body))
                .await?;
            let id: IdBody = parse(&bytes)?;
            RegisteredSchema {
                id: id.id,
                version: None,
                schema: schema.to_owned(),
                schema_type,
            }
        } else {
            let bytes = self
                .call(reqwest::Method::POST, &["subjects", subject], q, Some(body))
                .await?;
            to_registered(parse(&bytes)?, None)?
        };
        let mut c = self.cache();
        c.ids.insert(key, reg.clone());
        c.by_id.entry(reg.id).or_insert_with(|| reg.clone());
        Ok(reg)
    }

    /// The latest version of `subject` (fetched once, then cached).
    ///
    /// # Errors
    /// [`SchemaError::Registry`] 404 for an unknown subject, or [`SchemaError::Unreachable`].
    pub async fn latest(&self, subject: &str) -> Result<RegisteredSchema, SchemaError> {
        if let Some(hit) = self.cache().latest.get(subject) {
            return Ok(hit.clone());
        }
        let bytes = self
            .call(
                reqwest::Method::GET,
                &["subjects", subject, "versions", "latest"],
                "",
                None,
            )
            .await?;
        let reg = to_registered(parse(&bytes)?, None)?;
        self.cache().latest.insert(subject.to_owned(), reg.clone());
        Ok(reg)
    }

    /// Version `version` of `subject`.
    ///
    /// # Errors
    /// [`SchemaError::Registry`] 404 for an unknown subject or version, or [`SchemaError::Unreachable`].
    pub async fn version(&self, subject: &str, version: i32) -> Result<RegisteredSchema, SchemaError> {
        let key = (subject.to_owned(), version);
        if let Some(hit) = self.cache().versions.get(&key) {
            return Ok(hit.clone());
        }
        let v = version.to_string();
        let bytes = self
            .call(reqwest::Method::GET, &["subjects", subject, "versions", &v], "", None)
            .await?;
        let reg = to_registered(parse(&bytes)?, None)?;
        self.cache().versions.insert(key, reg.clone());
        Ok(reg)
    }

    /// The schema with global id `id`.
    ///
    /// # Errors
    /// [`SchemaError::Registry`] 404 (40403) for an unknown id, or [`SchemaError::Unreachable`].
    pub async fn schema_by_id(&self, id: u32) -> Result<RegisteredSchema, SchemaError> {
        if let Some(hit) = self.cache().by_id.get(&id) {
            return Ok(hit.clone());
        }
        let sid = id.to_string();
        let bytes = self
            .call(reqwest::Method::GET, &["schemas", "ids", &sid], "", None)
            .await?;
        let reg = to_registered(parse(&bytes)?, Some(id))?;
        self.cache().by_id.insert(id, reg.clone());
        Ok(reg)
    }

    fn schema_request(schema: &str, schema_type: SchemaType) -> Vec<u8> {
        let mut body = serde_json::Map::new();
        body.insert("schema".into(), serde_json::Value::String(schema.to_owned()));
        if let Some(t) = schema_type.wire_name() {
            body.insert("schemaType".into(), serde_json::Value::String(t.to_owned()));
        }
        serde_json::Value::Object(body).to_string().into_bytes()
    }

    /// One REST call with retries, bounded as a whole by the configured timeout.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &[&str],
        query: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, SchemaError> {
        let deadline = Instant::now() + self.config.timeout;
        let mut wait = self.config.retry_wait;
        let mut attempts = 0u32;
        loop {
            let base = &self.config.urls[attempts as usize % self.config.urls.len()];
            let mut url = reqwest::Url::parse(base).map_err(|e| SchemaError::Config {
                key: "schema.registry.url".into(),
                reason: format!("'{base}': {e}"),
            })?;
            if let Ok(mut segs) = url.path_segments_mut() {
                segs.pop_if_empty().extend(path);
            }
            if !query.is_empty() {
                url.set_query(Some(query.trim_start_matches('?')));
            }
            let url_text = base.clone();
            attempts += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            let last = match self.attempt(method.clone(), url, body.clone(), left).await {
                Attempt::Done(status, bytes) => {
                    if status.is_success() {
                        return Ok(bytes);
                    }
                    let (error_code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
                        Ok(e) => (e.error_code, e.message),
                        Err(_) => (i64::from(status.as_u16()), String::from_utf8_lossy(&bytes).into_owned()),
                    };
                    if !(status.is_server_error() || status.as_u16() == 429) {
                        return Err(SchemaError::Registry {
                            status: status.as_u16(),
                            error_code,
                            message,
                        });
                    }
                    format!("HTTP {status} (error code {error_code}): {message}")
                }
                Attempt::Retry(reason) => reason,
                Attempt::Tls(reason) => return Err(SchemaError::Tls { url: url_text, reason }),
            };
            let now = Instant::now();
            if attempts > self.config.max_retries || now + wait >= deadline {
                return Err(SchemaError::Unreachable {
                    url: url_text,
                    timeout_ms: self.config.timeout.as_millis() as u64,
                    attempts,
                    reason: last,
                });
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(self.config.retry_max_wait);
        }
    }

    async fn attempt(
        &self,
        method: reqwest::Method,
        url: reqwest::Url,
        body: Option<Vec<u8>>,
        left: Duration,
    ) -> Attempt {
        if left.is_zero() {
            return Attempt::Retry("timed out".into());
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut req = self
            .http
            .request(method, url)
            .timeout(left)
            .header("Accept", CONTENT_TYPE);
        if let Some((user, pass)) = &self.config.basic_auth {
            req = req.basic_auth(user, Some(pass.expose()));
        }
        if let Some(b) = body {
            req = req.header("Content-Type", CONTENT_TYPE).body(b);
        }
        match req.send().await {
            Ok(resp) => {
                let status = resp.status();
                match resp.bytes().await {
                    Ok(b) => Attempt::Done(status, b.to_vec()),
                    Err(e) => failed(&e),
                }
            }
            Err(e) => failed(&e),
        }
    }
}

fn failed(e: &reqwest::Error) -> Attempt {
    match crate::registry_tls::verdict(e) {
        Some(reason) => Attempt::Tls(reason),
        None => Attempt::Retry(error_chain(e)),
    }
}

/// An error with its causes ("error sending request: connection refused").
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

fn parse<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, SchemaError> {
    serde_json::from_slice(bytes).map_err(|e| {
        SchemaError::BadAnswer(format!(
            "{e}: {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
        ))
    })
}

fn to_registered(b: SchemaBody, id: Option<u32>) -> Result<RegisteredSchema, SchemaError> {
    Ok(RegisteredSchema {
        id: b
            .id
            .or(id)
            .ok_or_else(|| SchemaError::BadAnswer("the answer has no schema id".into()))?,
        version: b.version,
        schema_type: SchemaType::from_wire(b.schema_type.as_deref())?,
        schema: b.schema,
    })
}
