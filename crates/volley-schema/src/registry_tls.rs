//! TLS of the registry client from `schema.registry.ssl.*`: the CAs to trust, the client
//! identity for mTLS, hostname verification, and what a refused handshake means for the
//! user. Errors name the setting and the file, never key material.

use std::path::Path;

use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{AlertDescription, CertificateError};

use volley::security::{decrypt_private_key, java_stores, PrivateKeyError, Secret};

use crate::error::SchemaError;
use crate::registry::RegistryConfig;

const CA: &str = "schema.registry.ssl.ca.location";
const CERT: &str = "schema.registry.ssl.certificate.location";
const KEY: &str = "schema.registry.ssl.key.location";
const KEY_PASSWORD: &str = "schema.registry.ssl.key.password";
const HOSTNAME: &str = "schema.registry.ssl.endpoint.identification.algorithm";
const TRUSTSTORE: &str = "schema.registry.ssl.truststore.location";
const KEYSTORE: &str = "schema.registry.ssl.keystore.location";

fn config_error(key: &str, reason: impl Into<String>) -> SchemaError {
    SchemaError::Config {
        key: key.into(),
        reason: reason.into(),
    }
}

fn read(key: &str, path: &Path) -> Result<Vec<u8>, SchemaError> {
    std::fs::read(path).map_err(|e| config_error(key, format!("cannot read {}: {e}", path.display())))
}

/// Applies the TLS settings of `config` to the HTTP client being built.
pub(crate) fn configure(
    mut builder: reqwest::ClientBuilder,
    config: &RegistryConfig,
) -> Result<reqwest::ClientBuilder, SchemaError> {
    let mut roots = Vec::new();
    if let Some(ca) = &config.ca_location {
        let pem = read(CA, ca)?;
        roots = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| config_error(CA, format!("{} is not a PEM certificate bundle: {e}", ca.display())))?;
        if roots.is_empty() {
            return Err(config_error(CA, format!("no CERTIFICATE block in {}", ca.display())));
        }
    }
    // Java's stores, read by the producer's own readers; errors renamed to the registry's keys.
    let get = |k: &str| -> Option<String> {
        let from_key_password = (k == "ssl.key.password")
            .then(|| config.key_password.as_ref().map(|p| p.expose().to_owned()))
            .flatten();
        from_key_password.or_else(|| {
            config
                .stores
                .iter()
                .rev()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.expose().to_owned())
        })
    };
    let stores = java_stores(&get).map_err(|e| {
        let text = e
            .to_string()
            .replace("ssl.truststore.", "schema.registry.ssl.truststore.")
            .replace("ssl.keystore.", "schema.registry.ssl.keystore.")
            .replace(" ssl.key.password", " schema.registry.ssl.key.password");
        config_error("schema.registry.ssl", text)
    })?;
    if let Some(pem) = &stores.trust_pem {
        let from_store = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| config_error(TRUSTSTORE, format!("its certificates are not usable: {e}")))?;
        roots.extend(from_store);
    }
    if config.verify_hostname {
        // In addition to the platform's trust store.
        builder = builder.tls_certs_merge(roots);
    } else {
        // reqwest skips the name check only against roots it is given (not the platform's).
        if roots.is_empty() {
            return Err(config_error(
                HOSTNAME,
                format!("turning hostname verification off needs {CA}: the CA that signed the registry's certificate"),
            ));
        }
        builder = builder.tls_certs_only(roots).tls_danger_accept_invalid_hostnames(true);
    }
    if let Some((chain, key)) = stores.identity {
        if config.certificate_location.is_some() || config.key_location.is_some() {
            return Err(config_error(
                KEYSTORE,
                format!("give the client identity once: {KEYSTORE}, or {CERT} with {KEY}"),
            ));
        }
        return Ok(builder.identity(identity_from(config, &chain, key, KEYSTORE, KEYSTORE)?));
    }
    match (&config.certificate_location, &config.key_location) {
        (None, None) => {}
        (Some(_), None) => {
            return Err(config_error(
                CERT,
                format!("a client certificate needs its key: set {KEY}"),
            ))
        }
        (None, Some(_)) => {
            return Err(config_error(
                KEY,
                format!("a private key needs its certificate: set {CERT}"),
            ))
        }
        (Some(cert), Some(key)) => builder = builder.identity(identity(config, cert, key)?),
    }
    Ok(builder)
}

/// The client certificate chain and its key as one PEM document made only of the blocks
/// that were understood (reqwest refuses any other block, such as `EC PARAMETERS`).
fn identity(config: &RegistryConfig, cert: &Path, key: &Path) -> Result<reqwest::Identity, SchemaError> {
    let cert_pem = read(CERT, cert)?;
    let key_pem = Secret::new(String::from_utf8_lossy(&read(KEY, key)?).into_owned());
    let (cert_name, key_name) = (cert.display().to_string(), key.display().to_string());
    identity_from(config, &cert_pem, key_pem, &cert_name, &key_name)
}

/// [`identity`] from PEM in memory; `cert_name` and `key_name` say where they came from.
fn identity_from(
    config: &RegistryConfig,
    cert_pem: &[u8],
    key_pem: Secret,
    cert_name: &str,
    key_name: &str,
) -> Result<reqwest::Identity, SchemaError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| config_error(CERT, format!("{cert_name} is not valid PEM: {e}")))?;
    if chain.is_empty() {
        return Err(config_error(CERT, format!("no CERTIFICATE block in {cert_name}")));
    }
    let key_pem = decrypt_private_key(&key_pem, config.key_password.as_ref()).map_err(|e| match e {
        PrivateKeyError::NoPassword => config_error(
            KEY_PASSWORD,
            format!("the private key {key_name} is encrypted: set {KEY_PASSWORD}"),
        ),
        PrivateKeyError::WrongPassword => {
            config_error(KEY_PASSWORD, format!("it does not decrypt the private key {key_name}"))
        }
        other => config_error(KEY, format!("{key_name}: {other}")),
    })?;
    // Only the kind of failure: a parser's message could quote key bytes.
    let parsed = PrivateKeyDer::from_pem_slice(key_pem.expose().as_bytes()).map_err(|_| {
        config_error(
            KEY,
            format!("{key_name} holds no PEM PRIVATE KEY (PKCS#8), RSA PRIVATE KEY or EC PRIVATE KEY block"),
        )
    })?;
    let label = match &parsed {
        PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
        PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
        _ => "PRIVATE KEY",
    };
    let mut doc = String::new();
    for c in &chain {
        pem_block(&mut doc, "CERTIFICATE", c.as_ref());
    }
    pem_block(&mut doc, label, parsed.secret_der());
    reqwest::Identity::from_pem(doc.as_bytes()).map_err(|e| {
        config_error(
            CERT,
            format!("the certificate {cert_name} and the key {key_name} cannot be used together: {e}"),
        )
    })
}

fn pem_block(out: &mut String, label: &str, der: &[u8]) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    out.push_str(&format!("-----BEGIN {label}-----\n"));
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
}

/// What a failed TLS handshake means for the user, or `None` when the failure is not a TLS
/// verdict (a refused connection, a timeout). A verdict does not change by retrying.
pub(crate) fn verdict(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<rustls::Error>() {
            return Some(explain(t));
        }
        // An io::Error's source() skips the error it wraps (which may wrap another io::Error).
        cur = match err.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

fn explain(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => {
                format!("the registry's certificate is not signed by a trusted CA (unknown issuer): set {CA} to the CA that signed it")
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                let names = match c {
                    CertificateError::NotValidForNameContext { presented, .. } => {
                        format!(" (it names {})", presented.join(", "))
                    }
                    _ => String::new(),
                };
                format!(
                    "the registry's certificate is not valid for the URL's host{names}: use a name the certificate \
                     lists, or set {HOSTNAME}=none (not recommended)"
                )
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the registry's certificate has expired".to_owned()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the registry's certificate is not valid yet (check the clocks)".to_owned()
            }
            other => format!("the registry's certificate was rejected: {other:?}"),
        },
        rustls::Error::AlertReceived(
            alert @ (AlertDescription::CertificateRequired
            | AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::HandshakeFailure
            | AlertDescription::AccessDenied
            | AlertDescription::CertificateUnknown),
        ) => format!(
            "the registry refused the TLS session (alert {alert:?}): it requires a client certificate it trusts \
             (mTLS): set {CERT} and {KEY} to a certificate signed by a CA the registry trusts"
        ),
        rustls::Error::AlertReceived(alert) => format!("the registry ended the TLS session with alert {alert:?}"),
        other => format!("TLS error: {other}"),
    }
}
