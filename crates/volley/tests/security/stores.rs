//! Java stores and encrypted keys against Apache Kafka (issue 12): the stores are made at
//! test time by the tools users have (keytool, openssl) from the broker's CA and client
//! certificate, and the producer is given nothing else to trust or present, so each round
//! trip shows the store's contents were used; the reader keeps the PEM settings.

use std::path::Path;
use std::process::Command;

use super::{fails, kafka, round_trip_as};

const PW: &str = "store-pass-3b9d";

fn run(dir: &Path, tool: &str, args: &[&str]) {
    let out = Command::new(tool)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A truststore of `ty` (JKS or PKCS12) holding the PEM certificate `ca`, made by keytool.
fn truststore(dir: &Path, ca: &Path, ty: &str) -> String {
    let store = dir.join(format!(
        "trust-{}.{ty}",
        ca.file_stem().and_then(|s| s.to_str()).unwrap_or("ca")
    ));
    let (ca, path) = (ca.display().to_string(), store.display().to_string());
    run(
        dir,
        "keytool",
        &[
            "-importcert",
            "-noprompt",
            "-alias",
            "ca",
            "-file",
            &ca,
            "-storetype",
            ty,
            "-keystore",
            &path,
            "-storepass",
            PW,
        ],
    );
    path
}

fn ssl(extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut v = vec![("security.protocol", "SSL".to_owned())];
    v.extend_from_slice(extra);
    v
}

#[tokio::test]
async fn jks_truststore() {
    let k = kafka();
    let dir = tempfile::tempdir().expect("dir");
    let trust = |ca: &Path| {
        ssl(&[
            ("ssl.truststore.type", "JKS".to_owned()),
            ("ssl.truststore.location", truststore(dir.path(), ca, "JKS")),
            ("ssl.truststore.password", PW.to_owned()),
        ])
    };
    round_trip_as("ssl", &trust(&k.ca)).await;
    // The store's certificate is what is trusted: the other CA's store fails the handshake.
    fails("jks-wrong-ca", &k.ssl, &trust(&k.wrong_ca), &["unknown issuer"]).await;
}

#[tokio::test]
async fn mtls_pkcs12_keystore_and_truststore() {
    let k = kafka();
    let dir = tempfile::tempdir().expect("dir");
    let keystore = dir.path().join("client.p12").display().to_string();
    let (cert, key, ca) = (
        k.client_cert.display().to_string(),
        k.client_key.display().to_string(),
        k.ca.display().to_string(),
    );
    run(
        dir.path(),
        "openssl",
        &[
            "pkcs12",
            "-export",
            "-in",
            &cert,
            "-inkey",
            &key,
            "-certfile",
            &ca,
            "-name",
            "alice",
            "-out",
            &keystore,
            "-passout",
            &format!("pass:{PW}"),
        ],
    );
    let conf = ssl(&[
        ("ssl.truststore.type", "PKCS12".to_owned()),
        ("ssl.truststore.location", truststore(dir.path(), &k.ca, "PKCS12")),
        ("ssl.truststore.password", PW.to_owned()),
        ("ssl.keystore.type", "PKCS12".to_owned()),
        ("ssl.keystore.location", keystore),
        ("ssl.keystore.password", PW.to_owned()),
        ("ssl.key.password", PW.to_owned()),
    ]);
    round_trip_as("mtls", &conf).await;
}

#[tokio::test]
async fn mtls_encrypted_pkcs8_key() {
    let k = kafka();
    let dir = tempfile::tempdir().expect("dir");
    let encrypted = dir.path().join("client.p8.pem");
    let (key, out) = (k.client_key.display().to_string(), encrypted.display().to_string());
    run(
        dir.path(),
        "openssl",
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            &key,
            "-out",
            &out,
            "-passout",
            &format!("pass:{PW}"),
        ],
    );
    let pem = std::fs::read_to_string(&encrypted).expect("read");
    assert!(pem.contains("BEGIN ENCRYPTED PRIVATE KEY"), "openssl encrypted it");
    // librdkafka's spelling: files.
    round_trip_as(
        "mtls",
        &ssl(&[
            ("ssl.ca.location", k.ca.display().to_string()),
            ("ssl.certificate.location", k.client_cert.display().to_string()),
            ("ssl.key.location", out),
            ("ssl.key.password", PW.to_owned()),
        ]),
    )
    .await;
    // Java's spelling: inline PEM.
    round_trip_as(
        "mtls",
        &ssl(&[
            ("ssl.truststore.type", "PEM".to_owned()),
            ("ssl.truststore.location", k.ca.display().to_string()),
            ("ssl.keystore.type", "PEM".to_owned()),
            (
                "ssl.keystore.certificate.chain",
                std::fs::read_to_string(&k.client_cert).expect("cert"),
            ),
            ("ssl.keystore.key", pem),
            ("ssl.key.password", PW.to_owned()),
        ]),
    )
    .await;
}
