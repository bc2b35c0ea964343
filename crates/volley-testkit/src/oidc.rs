//! An OAuth 2 token endpoint stand-in for the OAUTHBEARER tests: the client-credentials grant
//! (RFC 6749 §4.4) over real HTTP/1.1 on 127.0.0.1, issuing unsecured JWTs (`{"alg":"none"}`)
//! that Apache Kafka's default OAUTHBEARER validator accepts.
//!
//! `POST /token` with `grant_type=client_credentials` and the client's id and secret in
//! HTTP Basic authentication answers `{"access_token", "token_type", "expires_in"}`; the
//! token's `sub` is the client id and it lives [`TokenEndpoint::start`]'s lifetime. Wrong
//! credentials get 401 `{"error":"invalid_client"}`; another grant 400
//! `{"error":"unsupported_grant_type"}`. [`TokenEndpoint::issued`] counts tokens handed out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::json;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::registry::{basic_auth_ok, read_request};

/// A running token endpoint.
pub struct TokenEndpoint {
    url: String,
    issued: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TokenEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An unsecured JWT for `sub`, valid for `lifetime` from now.
#[must_use]
pub fn unsecured_jwt(sub: &str, lifetime: Duration) -> String {
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let iat = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let claims = json!({"sub": sub, "iat": iat, "exp": iat + lifetime.as_secs(), "scope": "kafka"});
    format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(claims.to_string().as_bytes()))
}

impl TokenEndpoint {
    /// Starts the endpoint on a free port; it accepts `client_id` with `client_secret` and
    /// issues tokens living `lifetime`.
    ///
    /// # Panics
    /// When no port of 127.0.0.1 can be bound (a broken test machine).
    pub async fn start(client_id: &str, client_secret: &str, lifetime: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind token endpoint");
        let url = format!("http://{}/token", listener.local_addr().expect("address"));
        let issued = Arc::new(AtomicU64::new(0));
        let (id, credentials) = (client_id.to_owned(), format!("{client_id}:{client_secret}"));
        let counter = Arc::clone(&issued);
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (id, credentials, counter) = (id.clone(), credentials.clone(), Arc::clone(&counter));
                tokio::spawn(async move {
                    let (rd, mut wr) = tokio::io::split(sock);
                    let mut rd = BufReader::new(rd);
                    while let Some(req) = read_request(&mut rd).await {
                        let body = String::from_utf8_lossy(&req.body).into_owned();
                        let (status, answer) = if req.method != "POST" || req.path != "/token" {
                            (404, json!({"error": "not_found"}))
                        } else if !basic_auth_ok(&credentials, req.authorization.as_deref()) {
                            (
                                401,
                                json!({"error": "invalid_client", "error_description": "bad client credentials"}),
                            )
                        } else if !body.split('&').any(|p| p == "grant_type=client_credentials") {
                            (400, json!({"error": "unsupported_grant_type"}))
                        } else {
                            counter.fetch_add(1, Ordering::SeqCst);
                            (
                                200,
                                json!({
                                    "access_token": unsecured_jwt(&id, lifetime),
                                    "token_type": "Bearer",
                                    "expires_in": lifetime.as_secs(),
                                }),
                            )
                        };
                        let text = answer.to_string();
                        let head = format!(
                            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                            text.len()
                        );
                        if wr.write_all(head.as_bytes()).await.is_err() || wr.write_all(text.as_bytes()).await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        Self { url, issued, task }
    }

    /// The endpoint's URL (`http://127.0.0.1:port/token`).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Tokens issued so far.
    #[must_use]
    pub fn issued(&self) -> u64 {
        self.issued.load(Ordering::SeqCst)
    }
}
