//! TLS client settings: PEM trust anchors and client identity loaded into a rustls
//! `ClientConfig` (ring provider), and the broker-facing reasons of a failed handshake.
//!
//! Hostname (or IP SAN) verification is on unless `ssl.endpoint.identification.algorithm`
//! turns it off (the chain is then still verified); `enable.ssl.certificate.verification=false`
//! accepts any certificate. Both log a warning once per producer configuration.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Where the trust anchors and client identity come from, already read into memory.
#[derive(Debug, Default)]
pub(crate) struct TlsInputs {
    /// PEM certificates to trust (`None`: the platform's trust store).
    pub(crate) ca_pem: Option<Vec<u8>>,
    /// Client certificate chain, PEM.
    pub(crate) cert_pem: Option<Vec<u8>>,
    /// Client private key, PEM (PKCS#8, or PKCS#1/SEC1).
    pub(crate) key_pem: Option<super::Secret>,
    /// Verify the broker's name against its certificate.
    pub(crate) verify_hostname: bool,
    /// Verify the certificate at all.
    pub(crate) verify_certificates: bool,
    /// TLS versions allowed (`ssl.enabled.protocols`).
    pub(crate) tls12: bool,
    /// TLS 1.3 allowed.
    pub(crate) tls13: bool,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a file, or every regular file of a directory, as PEM (librdkafka's `ssl.ca.location`).
pub(crate) fn read_pem_path(key: &str, path: &str) -> Result<Vec<u8>, String> {
    let p = Path::new(path);
    if p.is_dir() {
        let mut out = Vec::new();
        let mut entries: Vec<_> = std::fs::read_dir(p)
            .map_err(|e| format!("{key}: cannot read directory {path}: {e}"))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        entries.sort();
        for f in entries {
            if let Ok(b) = std::fs::read(&f) {
                out.extend_from_slice(&b);
                out.push(b'\n');
            }
        }
        Ok(out)
    } else {
        std::fs::read(p).map_err(|e| format!("{key}: cannot read {path}: {e}"))
    }
}

/// Builds the rustls configuration. Errors name the setting and never show key material.
pub(crate) fn build(inputs: &TlsInputs) -> Result<Arc<ClientConfig>, String> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    match &inputs.ca_pem {
        Some(pem) => {
            let mut n = 0;
            for c in CertificateDer::pem_slice_iter(pem) {
                let c = c.map_err(|e| format!("the CA certificates are not valid PEM: {e}"))?;
                roots
                    .add(c)
                    .map_err(|e| format!("a CA certificate cannot be used as a trust anchor: {e}"))?;
                n += 1;
            }
            if n == 0 {
                return Err("no CERTIFICATE block in the configured CA certificates".into());
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 && inputs.verify_certificates {
                return Err("no CA is configured (ssl.ca.location, ssl.truststore.location) and the platform trust store is empty".into());
            }
        }
    }
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        inputs.tls13.then_some(&rustls::version::TLS13),
        inputs.tls12.then_some(&rustls::version::TLS12),
    ]
    .into_iter()
    .flatten()
    .collect();
    if versions.is_empty() {
        return Err("ssl.enabled.protocols allows no version Volley speaks (TLSv1.2, TLSv1.3)".into());
    }
    let verifier: Arc<dyn ServerCertVerifier> = if inputs.verify_certificates {
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .build()
            .map_err(|e| format!("cannot build the certificate verifier: {e}"))?;
        if inputs.verify_hostname {
            inner
        } else {
            Arc::new(NoHostname { inner })
        }
    } else {
        Arc::new(AcceptAny(Arc::clone(&provider)))
    };
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| format!("TLS versions: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match (&inputs.cert_pem, &inputs.key_pem) {
        (None, None) => builder.with_no_client_auth(),
        (Some(_), None) => return Err("a client certificate is configured without its private key (ssl.key.location / ssl.keystore.key)".into()),
        (None, Some(_)) => return Err("a private key is configured without its certificate (ssl.certificate.location / ssl.keystore.certificate.chain)".into()),
        (Some(cert), Some(key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("the client certificate is not valid PEM: {e}"))?;
            if chain.is_empty() {
                return Err("no CERTIFICATE block in the client certificate".into());
            }
            let key_bytes = key.expose().as_bytes();
            // Only the kind of failure: the parser's message could echo key bytes.
            let key = PrivateKeyDer::from_pem_slice(key_bytes)
                .map_err(|_| "the private key is not a PEM PRIVATE KEY (PKCS#8), RSA PRIVATE KEY or EC PRIVATE KEY block".to_owned())?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("the client certificate and key cannot be used: {e}"))?
        }
    };
    Ok(Arc::new(config))
}

/// Verifies the chain but not the name (`ssl.endpoint.identification.algorithm` off).
#[derive(Debug)]
struct NoHostname {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for NoHostname {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            r => r,
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(m, c, d)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(m, c, d)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Accepts any certificate (`enable.ssl.certificate.verification=false`); handshake
/// signatures are still checked.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// What a failed TLS handshake (or a TLS alert during the first request) means for the
/// user, or `None` when the I/O error is not a TLS verdict (an ordinary connection failure).
pub(crate) fn reason(e: &std::io::Error, host: &str) -> Option<String> {
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())?;
    Some(match inner {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => "the broker's certificate is not signed by a trusted CA (unknown issuer): set ssl.ca.location (or ssl.truststore.location) to the CA that signed it".to_owned(),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                let names = match c {
                    CertificateError::NotValidForNameContext { presented, .. } => format!(" (it names {})", presented.join(", ")),
                    _ => String::new(),
                };
                format!("the broker's certificate is not valid for '{host}'{names}: hostname verification failed; connect by a name the certificate lists, or set ssl.endpoint.identification.algorithm=none (not recommended)")
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => "the broker's certificate has expired".to_owned(),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => "the broker's certificate is not valid yet (check the clocks)".to_owned(),
            other => format!("the broker's certificate was rejected: {other:?}"),
        },
        rustls::Error::AlertReceived(alert) => {
            use rustls::AlertDescription as A;
            match alert {
                A::CertificateRequired | A::BadCertificate | A::HandshakeFailure | A::UnknownCA | A::AccessDenied => format!(
                    "the broker refused the TLS session (alert {alert:?}): it requires a client certificate it trusts (mTLS): set ssl.certificate.location and ssl.key.location (or ssl.keystore.*)"
                ),
                _ => format!("the broker ended the TLS session with alert {alert:?}"),
            }
        }
        other => format!("TLS error: {other}"),
    })
}
