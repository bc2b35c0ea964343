//! No secret in any output (issue 12): `volley produce` runs over every secured listener of
//! one Apache Kafka node (an encrypted client key among them), and with each
//! misconfiguration (wrong password, wrong CA, TLS on a plaintext port, a refused client
//! secret), with `VOLLEY_LOG=trace`, `--report` and `--stats`; every byte it writes (standard
//! output, standard error, the report, the statistics) is searched for the passwords, client
//! secrets, tokens and private key material (plain and encrypted) it was given. Failures exit 1.

mod support;

use std::process::{Command, Output};
use std::time::Duration;

use base64::Engine;
use volley_testkit::kafka_secure::{SecureKafka, USERS};
use volley_testkit::oidc::TokenEndpoint;

const OIDC_SECRET: &str = "oidc-secret-never-shown-4b7c";
const BAD_PASSWORD: &str = "wrong-password-never-shown-2d9a";
const KEY_PASSWORD: &str = "key-password-never-shown-8e1f";

fn run(
    bootstrap: &str,
    topic: &str,
    conf: &[(&str, String)],
    report: &std::path::Path,
    stats: &std::path::Path,
) -> Output {
    let mut args: Vec<String> = [
        "produce",
        "--bootstrap-servers",
        bootstrap,
        "--topic",
        topic,
        "--key-separator",
        ":",
        "--report",
        report.to_str().expect("path"),
        "--stats",
        stats.to_str().expect("path"),
        "-X",
        "statistics.interval.ms=100",
        "-X",
        "max.block.ms=8000",
        "-X",
        "delivery.timeout.ms=40000",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for (k, v) in conf {
        args.push("-X".into());
        args.push(format!("{k}={v}"));
    }
    let mut child = support::spawn_env(&args, &[("VOLLEY_LOG", "trace")]);
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        for i in 0..200 {
            writeln!(stdin, "k{}:v{i}", i % 7).expect("input");
        }
    }
    child.wait_with_output().expect("volley output")
}

/// (name, bootstrap, settings, should succeed).
type Case<'a> = (&'a str, &'a str, Vec<(&'a str, String)>, bool);

/// Base64 lines of a PEM file's body (the key material itself).
fn pem_body_lines(pem: &str) -> Vec<String> {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        .map(str::to_owned)
        .collect()
}

#[test]
fn no_secret_reaches_any_output_at_trace_level() {
    let k = SecureKafka::start().unwrap_or_else(|e| panic!("secure Kafka: {e}"));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let endpoint = rt.block_on(TokenEndpoint::start(
        "volley-oidc",
        OIDC_SECRET,
        Duration::from_secs(3600),
    ));
    let ca = k.ca.display().to_string();
    let (alice, pw) = USERS[0];
    let key_pem = std::fs::read_to_string(&k.client_key).expect("client key");
    let dir = tempfile::tempdir().expect("tempdir");
    // The client key encrypted with KEY_PASSWORD (PBES2, AES-256), as openssl writes it.
    let encrypted = dir.path().join("client-encrypted.key");
    let made = Command::new("openssl")
        .args(["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in"])
        .arg(&k.client_key)
        .arg("-out")
        .arg(&encrypted)
        .args(["-passout", &format!("pass:{KEY_PASSWORD}")])
        .output()
        .expect("run openssl");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let topic = "secrets";
    volley_testkit::kafka_admin::reader("create", &k.plaintext, &[topic.to_owned(), "3".to_owned()])
        .expect("create the topic");

    let sasl = |proto: &str, mech: &str, user: &str, pass: &str| {
        vec![
            ("security.protocol", proto.to_owned()),
            ("sasl.mechanism", mech.to_owned()),
            ("sasl.username", user.to_owned()),
            ("sasl.password", pass.to_owned()),
            ("ssl.ca.location", ca.clone()),
        ]
    };
    let jaas = format!(
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{alice}\" password=\"{pw}\";"
    );
    let oidc = |secret: &str| {
        vec![
            ("security.protocol", "SASL_PLAINTEXT".to_owned()),
            ("sasl.mechanism", "OAUTHBEARER".to_owned()),
            ("sasl.oauthbearer.method", "oidc".to_owned()),
            ("sasl.oauthbearer.token.endpoint.url", endpoint.url().to_owned()),
            ("sasl.oauthbearer.client.id", "volley-oidc".to_owned()),
            ("sasl.oauthbearer.client.secret", secret.to_owned()),
        ]
    };
    let cases: Vec<Case<'_>> = vec![
        (
            "plain",
            &k.sasl_plaintext,
            sasl("SASL_PLAINTEXT", "PLAIN", alice, pw),
            true,
        ),
        (
            "scram-256",
            &k.sasl_plaintext,
            sasl("SASL_PLAINTEXT", "SCRAM-SHA-256", alice, pw),
            true,
        ),
        (
            "sasl-ssl-512",
            &k.sasl_ssl,
            sasl("SASL_SSL", "SCRAM-SHA-512", alice, pw),
            true,
        ),
        (
            "jaas",
            &k.sasl_plaintext,
            vec![
                ("security.protocol", "SASL_PLAINTEXT".to_owned()),
                ("sasl.mechanism", "SCRAM-SHA-512".to_owned()),
                ("sasl.jaas.config", jaas.clone()),
            ],
            true,
        ),
        ("oidc", &k.sasl_plaintext, oidc(OIDC_SECRET), true),
        (
            "mtls-inline-key",
            &k.mtls,
            vec![
                ("security.protocol", "SSL".to_owned()),
                ("ssl.ca.location", ca.clone()),
                ("ssl.certificate.location", k.client_cert.display().to_string()),
                ("ssl.key.pem", key_pem.clone()),
            ],
            true,
        ),
        (
            "mtls-encrypted-key",
            &k.mtls,
            vec![
                ("security.protocol", "SSL".to_owned()),
                ("ssl.ca.location", ca.clone()),
                ("ssl.certificate.location", k.client_cert.display().to_string()),
                ("ssl.key.location", encrypted.display().to_string()),
                ("ssl.key.password", KEY_PASSWORD.to_owned()),
            ],
            true,
        ),
        (
            "wrong-ca",
            &k.ssl,
            vec![
                ("security.protocol", "SSL".to_owned()),
                ("ssl.ca.location", k.wrong_ca.display().to_string()),
            ],
            false,
        ),
        (
            "tls-on-plaintext",
            &k.plaintext,
            vec![("security.protocol", "SSL".to_owned()), ("ssl.ca.location", ca.clone())],
            false,
        ),
        (
            "wrong-password",
            &k.sasl_plaintext,
            sasl("SASL_PLAINTEXT", "SCRAM-SHA-512", alice, BAD_PASSWORD),
            false,
        ),
        (
            "wrong-password-plain",
            &k.sasl_plaintext,
            sasl("SASL_PLAINTEXT", "PLAIN", alice, BAD_PASSWORD),
            false,
        ),
        ("oidc-wrong-secret", &k.sasl_plaintext, oidc(BAD_PASSWORD), false),
    ];
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut secrets: Vec<String> = vec![
        pw.to_owned(),
        USERS[1].1.to_owned(),
        OIDC_SECRET.to_owned(),
        BAD_PASSWORD.to_owned(),
        KEY_PASSWORD.to_owned(),
        b64(&format!("volley-oidc:{OIDC_SECRET}")),
        b64(&format!("\0{alice}\0{pw}")),
        // Every token the endpoint issues starts with the base64 of {"alg":"none"}.
        "eyJhbGciOiJub25lIn0".to_owned(),
    ];
    secrets.extend(pem_body_lines(&key_pem));
    secrets.extend(pem_body_lines(
        &std::fs::read_to_string(&encrypted).expect("encrypted key"),
    ));
    for (name, bs, conf, ok) in cases {
        let report = dir.path().join(format!("{name}.jsonl"));
        let stats = dir.path().join(format!("{name}.stats.jsonl"));
        let out = run(bs, topic, &conf, &report, &stats);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.success(),
            ok,
            "{name}: exit {:?}; last of stderr: {}",
            out.status.code(),
            &stderr[stderr.len().saturating_sub(2000)..]
        );
        if !ok {
            assert_eq!(out.status.code(), Some(1), "{name}: an authentication failure exits 1");
        }
        let mut all = out.stdout.clone();
        all.extend_from_slice(&out.stderr);
        all.extend(std::fs::read(&report).unwrap_or_default());
        all.extend(std::fs::read(&stats).unwrap_or_default());
        let text = String::from_utf8_lossy(&all);
        assert!(
            text.contains("TRACE") || text.contains("DEBUG"),
            "{name}: the log ran at trace level"
        );
        for s in &secrets {
            assert!(
                !text.contains(s.as_str()),
                "{name}: a secret ({}…) appeared in the output",
                &s[..4]
            );
        }
        eprintln!("{name}: {} bytes of output, no secret", all.len());
    }
}
