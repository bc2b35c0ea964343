//! The security keys through `ProducerConfig`: both spellings, errors, redaction.

use crate::config::{ConfigError, ProducerConfig, SecurityProtocol};

fn props(extra: &[(&str, &str)]) -> Result<ProducerConfig, ConfigError> {
    let mut p = vec![("bootstrap.servers", "127.0.0.1:9092")];
    p.extend_from_slice(extra);
    ProducerConfig::from_properties(p)
}

fn ca() -> (tempfile::TempDir, String, String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).expect("cert");
    let dir = tempfile::tempdir().expect("dir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, cert.pem()).expect("write");
    (dir, ca.display().to_string(), cert.pem(), key.serialize_pem())
}

#[test]
fn sasl_both_spellings() {
    let c = props(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanisms", "SCRAM-SHA-512"),
        ("sasl.username", "alice"),
        ("sasl.password", "alice-secret"),
    ])
    .expect("librdkafka spelling");
    assert_eq!(c.security_protocol, SecurityProtocol::SaslPlaintext);
    let s = c.security.sasl.as_ref().expect("sasl");
    assert_eq!((s.username.as_str(), s.password.expose()), ("alice", "alice-secret"));
    let c = props(&[
        ("security.protocol", "sasl_plaintext"),
        ("sasl.mechanism", "PLAIN"),
        (
            "sasl.jaas.config",
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="bob" password="bob-secret";"#,
        ),
    ])
    .expect("Java spelling");
    let s = c.security.sasl.as_ref().expect("sasl");
    assert_eq!((s.username.as_str(), s.password.expose()), ("bob", "bob-secret"));
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("bob-secret"), "{dbg}");
}

#[test]
fn sasl_errors() {
    let e = props(&[("security.protocol", "SASL_SSL"), ("sasl.mechanism", "GSSAPI")]).unwrap_err();
    assert!(e.to_string().contains("GSSAPI is not supported"), "{e}");
    let e = props(&[("security.protocol", "SASL_PLAINTEXT"), ("sasl.mechanism", "PLAIN")]).unwrap_err();
    assert!(e.to_string().contains("needs a user name and password"), "{e}");
    let e = props(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "SCRAM-SHA-256"),
        ("sasl.jaas.config", r#"x.Krb5LoginModule required password="hunter2";"#),
    ])
    .unwrap_err();
    assert!(
        e.to_string().contains("Krb5LoginModule") && !e.to_string().contains("hunter2"),
        "{e}"
    );
    let e = props(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "SCRAM-SHA-256"),
        (
            "sasl.jaas.config",
            r#"x.PlainLoginModule required username="u" password="hunter2";"#,
        ),
    ])
    .unwrap_err();
    assert!(e.to_string().contains("does not serve"), "{e}");
}

#[test]
fn tls_pem_both_spellings_and_redaction() {
    let (_dir, ca_path, cert_pem, key_pem) = ca();
    let c = props(&[("security.protocol", "SSL"), ("ssl.ca.location", &ca_path)]).expect("librdkafka CA");
    let t = c.security.tls.as_ref().expect("tls");
    assert!(t.verify_hostname && t.verify_certificates && !t.client_certificate);
    let c = props(&[
        ("security.protocol", "SSL"),
        ("ssl.truststore.location", &ca_path),
        ("ssl.keystore.type", "PEM"),
        ("ssl.keystore.certificate.chain", &cert_pem),
        ("ssl.keystore.key", &key_pem),
        ("ssl.endpoint.identification.algorithm", ""),
        ("ssl.enabled.protocols", "TLSv1.3"),
    ])
    .expect("Java spelling");
    let t = c.security.tls.as_ref().expect("tls");
    assert!(!t.verify_hostname && t.client_certificate);
    let b = crate::ProducerConfig::builder()
        .set("ssl.key.pem", &key_pem)
        .expect("set");
    assert!(!format!("{b:?}").contains("PRIVATE KEY"));
    assert!(!format!("{c:?}").contains("PRIVATE KEY"));
}

#[test]
fn tls_errors() {
    let (dir, ca_path, _, _) = ca();
    let e = props(&[("security.protocol", "SSL"), ("ssl.ca.location", "/nonexistent/ca.pem")]).unwrap_err();
    assert!(e.to_string().contains("cannot read /nonexistent/ca.pem"), "{e}");
    let jks = dir.path().join("trust.jks");
    std::fs::write(&jks, [0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2]).expect("write");
    let jks = jks.display().to_string();
    let e = props(&[("security.protocol", "SSL"), ("ssl.truststore.location", &jks)]).unwrap_err();
    assert!(
        e.to_string().contains("the file ends inside the JKS entry count"),
        "{e}"
    );
    let e = props(&[("security.protocol", "SSL"), ("ssl.keystore.location", &jks)]).unwrap_err();
    assert!(e.to_string().contains("convert it with keytool to PKCS12"), "{e}");
    let e = props(&[
        ("security.protocol", "SSL"),
        ("ssl.ca.location", &ca_path),
        (
            "ssl.key.pem",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        ),
        ("ssl.certificate.location", &ca_path),
    ])
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("the private key is encrypted: set ssl.key.password"),
        "{e}"
    );
    let e = props(&[
        ("security.protocol", "SSL"),
        ("ssl.ca.location", &ca_path),
        ("ssl.key.pem", "garbage that is secret"),
        ("ssl.certificate.location", &ca_path),
    ])
    .unwrap_err();
    assert!(!e.to_string().contains("garbage"), "{e}");
    let e = props(&[("security.protocol", "SSL"), ("ssl.enabled.protocols", "TLSv1.1")]).unwrap_err();
    assert!(e.to_string().contains("TLSv1.2 and TLSv1.3"), "{e}");
}

/// Review of issue 12: Java's OIDC configuration as users write it (KIP-768 names Kafka's
/// login callback handler) builds; another handler class is refused by name.
#[test]
fn java_oidc_configuration_with_kafkas_login_handler() {
    let base = || {
        crate::ProducerConfig::builder()
            .set("bootstrap.servers", "h:1")
            .and_then(|b| b.set("security.protocol", "SASL_SSL"))
            .and_then(|b| b.set("sasl.mechanism", "OAUTHBEARER"))
            .and_then(|b| b.set("sasl.oauthbearer.token.endpoint.url", "https://idp.example/token"))
            .and_then(|b| {
                b.set(
                    "sasl.jaas.config",
                    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId='id' clientSecret='s3cret';",
                )
            })
            .expect("keys")
    };
    let ok = base()
        .set(
            "sasl.login.callback.handler.class",
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler",
        )
        .expect("key")
        .build();
    assert!(ok.is_ok(), "{ok:?}");
    let e = base()
        .set("sasl.login.callback.handler.class", "com.example.MyHandler")
        .expect("key")
        .build()
        .expect_err("another class");
    assert!(e.to_string().contains("com.example.MyHandler"), "{e}");
    assert!(!e.to_string().contains("s3cret"), "{e}");
}
