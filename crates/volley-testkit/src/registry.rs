//! A Schema Registry test double: the documented REST subset of Confluent's Schema Registry,
//! served over real HTTP/1.1 on 127.0.0.1, strict about request and answer shapes.
//!
//! Endpoints: `POST /subjects/{s}/versions` (register; the same schema gets the same id; an
//! Avro schema must be BACKWARD compatible with the subject's latest, else 409), `POST
//! /subjects/{s}` (look up), `GET /subjects/{s}/versions/{n|latest}`, `GET /schemas/ids/{id}`,
//! `GET /subjects`. Errors carry `{"error_code", "message"}` with the registry's codes: 40401
//! unknown subject, 40402 unknown version, 40403 unknown schema, 409 incompatible, 42201
//! invalid schema, 415 wrong content type, 422 unknown request field, 401 bad credentials.
//! [`RegistryDouble::stop`] closes the port (an outage); [`RegistryDouble::requests`] counts
//! requests served. Over https with [`RegistryDouble::start_tls`] (a self-signed certificate)
//! or [`RegistryDouble::start_tls_with`] (the test's certificate, and optionally client
//! certificates required: mTLS).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Default)]
struct State {
    /// id → (schema text, schemaType or None for Avro).
    schemas: Vec<(String, Option<String>)>,
    /// subject → ids by version (version = index + 1).
    subjects: HashMap<String, Vec<u32>>,
    /// Required `user:password`, if any.
    auth: Option<String>,
}

/// A running registry double.
pub struct RegistryDouble {
    url: String,
    state: Arc<Mutex<State>>,
    requests: Arc<AtomicU64>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RegistryDouble {
    /// Starts the double on a free port of 127.0.0.1.
    ///
    /// # Panics
    /// If no port can be bound (test set-up).
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// Starts the double behind TLS with a fresh self-signed certificate for 127.0.0.1;
    /// returns it and the certificate (PEM) a client must trust.
    ///
    /// # Panics
    /// If the certificate cannot be made or no port bound (test set-up).
    pub async fn start_tls() -> (Self, String) {
        let (cert, key, pem) = server_certificate();
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .expect("server config");
        let me = Self::start_with(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))).await;
        (me, pem)
    }

    /// Starts the double behind TLS with the certificate `server` (the test chooses its CA
    /// and names). With `client_ca_pem`, a client certificate signed by that CA is required
    /// (mTLS): a client without one, or with one from another CA, fails the handshake.
    ///
    /// # Panics
    /// If the certificates do not parse or no port can be bound (test set-up).
    pub async fn start_tls_with(server: &crate::pki::Leaf, client_ca_pem: Option<&str>) -> Self {
        let chain = rustls::pki_types::CertificateDer::pem_slice_iter(server.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("server certificate PEM");
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(server.key_pem.as_bytes()).expect("server key PEM");
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions");
        let builder = match client_ca_pem {
            None => builder.with_no_client_auth(),
            Some(pem) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
                    roots.add(c.expect("client CA PEM")).expect("client CA");
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                    .build()
                    .expect("client certificate verifier");
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder.with_single_cert(chain, key).expect("server config");
        Self::start_with(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))).await
    }

    async fn start_with(tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind registry double");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}", listener.local_addr().expect("local addr"));
        let state = Arc::new(Mutex::new(State::default()));
        let requests = Arc::new(AtomicU64::new(0));
        let (st, rq) = (Arc::clone(&state), Arc::clone(&requests));
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((sock, _)) = listener.accept().await {
                let (st, rq) = (Arc::clone(&st), Arc::clone(&rq));
                match &tls {
                    None => {
                        conns.spawn(serve(sock, st, rq));
                    }
                    Some(acceptor) => {
                        let acceptor = acceptor.clone();
                        conns.spawn(async move {
                            // A client that does not trust the certificate ends the handshake.
                            if let Ok(stream) = acceptor.accept(sock).await {
                                serve(stream, st, rq).await;
                            }
                        });
                    }
                }
            }
        });
        RegistryDouble {
            url,
            state,
            requests,
            task: Some(task),
        }
    }

    /// The base URL, `http://127.0.0.1:PORT` (`https://` behind TLS).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Requests served so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Requires HTTP basic auth with these credentials from now on.
    pub fn require_basic_auth(&self, user: &str, password: &str) {
        lock(&self.state).auth = Some(format!("{user}:{password}"));
    }

    /// Stops serving: the port closes and open connections end (a registry outage).
    pub fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

impl Drop for RegistryDouble {
    fn drop(&mut self) {
        self.stop();
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A self-signed server certificate for 127.0.0.1 and localhost: (DER, key, PEM).
fn server_certificate() -> (
    rustls::pki_types::CertificateDer<'static>,
    rustls::pki_types::PrivateKeyDer<'static>,
    String,
) {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("self-signed certificate");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    (ck.cert.der().clone(), key, ck.cert.pem())
}

fn lock(s: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One HTTP/1.1 request of the subset the test doubles speak (the token endpoint too).
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) content_type: Option<String>,
    pub(crate) authorization: Option<String>,
    pub(crate) body: Vec<u8>,
}

/// Reads one request (Content-Length bodies only); `None` at the end of the stream or on
/// anything outside the subset.
pub(crate) async fn read_request<R: AsyncRead + Unpin>(r: &mut BufReader<R>) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut content_length = 0usize;
    let mut content_type = None;
    let mut authorization = None;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).await.ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        let value = value.trim().to_owned();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => content_length = value.parse().ok()?,
            "content-type" => content_type = Some(value),
            "authorization" => authorization = Some(value),
            "transfer-encoding" => return None, // chunked bodies are not part of the subset
            _ => {}
        }
    }
    if content_length > 16 << 20 {
        return None;
    }
    let mut body = vec![0; content_length];
    r.read_exact(&mut body).await.ok()?;
    let path = target.split('?').next().unwrap_or("").to_owned();
    Some(Request {
        method,
        path,
        content_type,
        authorization,
        body,
    })
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(sock: S, state: Arc<Mutex<State>>, requests: Arc<AtomicU64>) {
    let (rd, mut wr) = tokio::io::split(sock);
    let mut rd = BufReader::new(rd);
    while let Some(req) = read_request(&mut rd).await {
        requests.fetch_add(1, Ordering::Relaxed);
        let (status, body) = handle(&req, &state);
        let reason = match status {
            200 => "OK",
            401 => "Unauthorized",
            404 => "Not Found",
            409 => "Conflict",
            415 => "Unsupported Media Type",
            422 => "Unprocessable Entity",
            _ => "Error",
        };
        let text = body.to_string();
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\n\r\n",
            text.len()
        );
        if wr.write_all(head.as_bytes()).await.is_err() || wr.write_all(text.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn error(status: u16, code: i64, message: impl Into<String>) -> (u16, Value) {
    (status, json!({"error_code": code, "message": message.into()}))
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Whether an `Authorization: Basic` header carries exactly `expected` (`user:password`).
pub(crate) fn basic_auth_ok(expected: &str, header: Option<&str>) -> bool {
    use base64::Engine;
    header
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
        .is_some_and(|d| d == expected.as_bytes())
}

/// The body of a register or lookup request: `schema`, optional `schemaType` and `references`.
fn schema_body(req: &Request) -> Result<(String, Option<String>), (u16, Value)> {
    let ct = req.content_type.as_deref().unwrap_or("");
    let media = ct.split(';').next().unwrap_or("").trim();
    if !matches!(
        media,
        "application/vnd.schemaregistry.v1+json" | "application/vnd.schemaregistry+json" | "application/json"
    ) {
        return Err(error(415, 415, format!("HTTP 415 Unsupported Media Type: '{ct}'")));
    }
    let v: Value =
        serde_json::from_slice(&req.body).map_err(|e| error(422, 422, format!("Unrecognized request: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| error(422, 422, "the request body must be an object"))?;
    for k in obj.keys() {
        if !matches!(
            k.as_str(),
            "schema" | "schemaType" | "references" | "metadata" | "ruleSet"
        ) {
            return Err(error(422, 422, format!("Unrecognized field: {k}")));
        }
    }
    let schema = obj
        .get("schema")
        .and_then(Value::as_str)
        .ok_or_else(|| error(422, 42201, "Invalid schema: the 'schema' field must be a string"))?;
    let ty = match obj.get("schemaType") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if t == "AVRO" => None,
        Some(Value::String(t)) if t == "JSON" || t == "PROTOBUF" => Some(t.clone()),
        Some(other) => return Err(error(422, 42201, format!("Invalid schema type {other}"))),
    };
    match &ty {
        None => {
            apache_avro::Schema::parse_str(schema)
                .map_err(|e| error(422, 42201, format!("Invalid schema {schema}: {e}")))?;
        }
        Some(t) if t == "JSON" => {
            serde_json::from_str::<Value>(schema).map_err(|e| error(422, 42201, format!("Invalid schema: {e}")))?;
        }
        Some(_) => {}
    }
    Ok((schema.to_owned(), ty))
}

fn schema_json(s: &State, subject: Option<&str>, version: Option<usize>, id: u32) -> Value {
    let (text, ty) = &s.schemas[(id - 1) as usize];
    let mut v = json!({"id": id, "schema": text});
    if let Some(sub) = subject {
        v["subject"] = json!(sub);
    }
    if let Some(ver) = version {
        v["version"] = json!(ver);
    }
    if let Some(t) = ty {
        v["schemaType"] = json!(t);
    }
    v
}

fn handle(req: &Request, state: &Mutex<State>) -> (u16, Value) {
    let mut s = lock(state);
    if let Some(expected) = &s.auth {
        if !basic_auth_ok(expected, req.authorization.as_deref()) {
            return error(401, 401, "Unauthorized");
        }
    }
    let segs: Option<Vec<String>> = req.path.trim_matches('/').split('/').map(percent_decode).collect();
    let Some(segs) = segs else {
        return error(404, 404, "HTTP 404 Not Found");
    };
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match (req.method.as_str(), segs.as_slice()) {
        ("GET", ["subjects"]) => {
            let mut names: Vec<&String> = s.subjects.keys().collect();
            names.sort();
            (200, json!(names))
        }
        ("POST", ["subjects", subject, "versions"]) => {
            let (schema, ty) = match schema_body(req) {
                Ok(x) => x,
                Err(e) => return e,
            };
            let existing = s.subjects.get(*subject).and_then(|ids| {
                ids.iter()
                    .find(|id| s.schemas[(**id - 1) as usize] == (schema.clone(), ty.clone()))
            });
            if let Some(id) = existing {
                return (200, json!({"id": id}));
            }
            if ty.is_none() {
                if let Some(latest) = s.subjects.get(*subject).and_then(|ids| ids.last()) {
                    let (old_text, old_ty) = &s.schemas[(*latest - 1) as usize];
                    if old_ty.is_none() {
                        let (Ok(old), Ok(new)) = (
                            apache_avro::Schema::parse_str(old_text),
                            apache_avro::Schema::parse_str(&schema),
                        ) else {
                            return error(422, 42201, "Invalid schema");
                        };
                        if let Err(e) = apache_avro::schema_compatibility::SchemaCompatibility::can_read(&old, &new) {
                            return error(
                                409,
                                409,
                                format!(
                                    "Schema being registered is incompatible with an earlier schema for subject \"{subject}\"; \
                                     details: [{e}]"
                                ),
                            );
                        }
                    }
                }
            }
            let id = match s.schemas.iter().position(|x| *x == (schema.clone(), ty.clone())) {
                Some(i) => (i + 1) as u32,
                None => {
                    s.schemas.push((schema, ty));
                    s.schemas.len() as u32
                }
            };
            s.subjects.entry((*subject).to_owned()).or_default().push(id);
            (200, json!({"id": id}))
        }
        ("POST", ["subjects", subject]) => {
            let (schema, ty) = match schema_body(req) {
                Ok(x) => x,
                Err(e) => return e,
            };
            let Some(ids) = s.subjects.get(*subject) else {
                return error(404, 40401, format!("Subject '{subject}' not found."));
            };
            match ids
                .iter()
                .position(|id| s.schemas[(*id - 1) as usize] == (schema.clone(), ty.clone()))
            {
                Some(i) => (200, schema_json(&s, Some(subject), Some(i + 1), ids[i])),
                None => error(404, 40403, "Schema not found"),
            }
        }
        ("GET", ["subjects", subject, "versions", v]) => {
            let Some(ids) = s.subjects.get(*subject) else {
                return error(404, 40401, format!("Subject '{subject}' not found."));
            };
            let idx = if *v == "latest" || *v == "-1" {
                ids.len().checked_sub(1)
            } else {
                v.parse::<usize>()
                    .ok()
                    .and_then(|n| n.checked_sub(1))
                    .filter(|i| *i < ids.len())
            };
            match idx {
                Some(i) => (200, schema_json(&s, Some(subject), Some(i + 1), ids[i])),
                None => error(404, 40402, format!("Version {v} not found.")),
            }
        }
        ("GET", ["schemas", "ids", id]) => match id.parse::<u32>() {
            Ok(n) if n >= 1 && (n as usize) <= s.schemas.len() => {
                let mut v = schema_json(&s, None, None, n);
                if let Some(o) = v.as_object_mut() {
                    o.remove("id");
                }
                (200, v)
            }
            _ => error(404, 40403, format!("Schema {id} not found")),
        },
        _ => error(404, 404, "HTTP 404 Not Found"),
    }
}
