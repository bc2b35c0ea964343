//! The registry client and the serializers against the in-repo Schema Registry double,
//! over real HTTP on 127.0.0.1.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use volley_schema::{
    parse_registry_settings, unframe, AvroSchema, Format, JsonEncoder, MappingOptions, RegistryClient, RegistryConfig,
    RegistryOptions, Role, SchemaError, SchemaType,
};
use volley_testkit::pki::TestCa;
use volley_testkit::registry::RegistryDouble;

const V1: &str = r#"{"type":"record","name":"Click","namespace":"ex","fields":[{"name":"user","type":"string"}]}"#;
const V2: &str = r#"{"type":"record","name":"Click","namespace":"ex","fields":[{"name":"user","type":"string"},{"name":"page","type":["null","string"],"default":null}]}"#;
const V3_INCOMPATIBLE: &str = r#"{"type":"record","name":"Click","namespace":"ex","fields":[{"name":"user","type":"string"},{"name":"required","type":"int"}]}"#;

fn client(url: &str, settings: &[(&str, &str)]) -> (Arc<RegistryClient>, RegistryOptions) {
    let s: Vec<(String, String)> = settings.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    let (cfg, opts) = parse_registry_settings(url, &s).expect("settings");
    (Arc::new(RegistryClient::new(cfg).expect("client")), opts)
}

fn registry_code(e: SchemaError) -> (u16, i64) {
    match e {
        SchemaError::Registry { status, error_code, .. } => (status, error_code),
        other => panic!("expected a registry error, got {other}"),
    }
}

#[tokio::test]
async fn register_lookup_and_the_registry_error_codes() {
    let reg = RegistryDouble::start().await;
    let (c, _) = client(reg.url(), &[]);
    let a = c.register("clicks-value", V1, SchemaType::Avro, false).await.unwrap();
    assert_eq!(a.id, 1);
    // The same schema under another subject keeps its id; a new one gets a new id.
    let other = client(reg.url(), &[]).0;
    assert_eq!(
        other
            .register("views-value", V1, SchemaType::Avro, false)
            .await
            .unwrap()
            .id,
        1
    );
    assert_eq!(
        other
            .register("clicks-value", V2, SchemaType::Avro, false)
            .await
            .unwrap()
            .id,
        2
    );
    let latest = other.latest("clicks-value").await.unwrap();
    assert_eq!((latest.id, latest.version, latest.schema.as_str()), (2, Some(2), V2));
    assert_eq!(other.version("clicks-value", 1).await.unwrap().schema, V1);
    assert_eq!(other.schema_by_id(2).await.unwrap().schema, V2);
    assert_eq!(
        other
            .lookup("clicks-value", V1, SchemaType::Avro, false)
            .await
            .unwrap()
            .version,
        Some(1)
    );
    // 409 incompatible, 422 invalid, 404 unknown subject / schema / version.
    let e = other
        .register("clicks-value", V3_INCOMPATIBLE, SchemaType::Avro, false)
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert_eq!(registry_code(e), (409, 409), "{msg}");
    assert!(msg.contains("incompatible"), "{msg}");
    let e = other
        .register("x-value", "{\"type\": \"nope\"}", SchemaType::Avro, false)
        .await
        .unwrap_err();
    assert_eq!(registry_code(e), (422, 42201));
    assert_eq!(
        registry_code(other.latest("unknown-value").await.unwrap_err()),
        (404, 40401)
    );
    assert_eq!(registry_code(other.schema_by_id(99).await.unwrap_err()), (404, 40403));
    assert_eq!(
        registry_code(other.version("clicks-value", 7).await.unwrap_err()),
        (404, 40402)
    );
    let e = other
        .lookup("clicks-value", V3_INCOMPATIBLE, SchemaType::Avro, false)
        .await
        .unwrap_err();
    assert_eq!(registry_code(e), (404, 40403));
    // JSON Schemas carry schemaType.
    let j = other
        .register("j-value", r#"{"type":"object","title":"J"}"#, SchemaType::Json, false)
        .await
        .unwrap();
    assert_eq!(other.schema_by_id(j.id).await.unwrap().schema_type, SchemaType::Json);
}

#[tokio::test]
async fn answers_are_cached_and_a_warm_cache_outlives_the_registry() {
    let mut reg = RegistryDouble::start().await;
    let (c, opts) = client(
        reg.url(),
        &[
            ("schema.registry.request.timeout.ms", "2000"),
            ("retries.wait.ms", "50"),
        ],
    );
    let enc = JsonEncoder::new(
        Format::AvroConfluent,
        Role::Value,
        Some(V1),
        Some(Arc::clone(&c)),
        opts,
        MappingOptions::default(),
    )
    .unwrap();
    let r = enc.prepare("clicks").await.unwrap();
    let served = reg.requests();
    assert_eq!(served, 1, "one register request");
    let mut out = Vec::new();
    for i in 0..1000 {
        out.clear();
        let v = json!({"user": format!("u{i}")});
        enc.encode(&r, &v, b"", &mut out).unwrap();
        let r2 = enc.prepare("clicks").await.unwrap();
        assert_eq!(r2.id, Some(1));
    }
    assert_eq!(reg.requests(), served, "no request per record");
    let (id, body) = unframe(&out).unwrap();
    assert_eq!((id, body), (1, &b"\x08u999"[..]));
    reg.stop();
    // Warm cache: the registry is gone and records still serialize.
    let r = enc.prepare("clicks").await.unwrap();
    out.clear();
    enc.encode(&r, &json!({"user": "after"}), b"", &mut out).unwrap();
    assert_eq!(unframe(&out).unwrap().0, 1);
    // Cold cache: a new topic needs the registry, and the error comes within the timeout.
    let start = Instant::now();
    let e = enc.prepare("other").await.unwrap_err();
    let took = start.elapsed();
    assert!(matches!(e, SchemaError::Unreachable { timeout_ms: 2000, .. }), "{e}");
    assert!(e.to_string().contains("not reachable within 2000 ms"), "{e}");
    assert!(
        took < Duration::from_millis(2000 + 1000),
        "bounded by the timeout: {took:?}"
    );
}

#[tokio::test]
async fn basic_auth() {
    let reg = RegistryDouble::start().await;
    reg.require_basic_auth("ml", "s3cret");
    let (anon, _) = client(reg.url(), &[]);
    let e = anon.register("a-value", V1, SchemaType::Avro, false).await.unwrap_err();
    assert_eq!(registry_code(e), (401, 401));
    let (authed, _) = client(reg.url(), &[("basic.auth.user.info", "ml:s3cret")]);
    // The password reaches the wire, never a log line: the settings print it as ***.
    let (cfg, _) =
        parse_registry_settings(reg.url(), &[("basic.auth.user.info".into(), "ml:s3cret".into())]).expect("settings");
    let shown = format!("{cfg:?}");
    assert!(!shown.contains("s3cret") && shown.contains("ml"), "{shown}");
    assert_eq!(
        authed
            .register("a-value", V1, SchemaType::Avro, false)
            .await
            .unwrap()
            .id,
        1
    );
}

#[tokio::test]
async fn latest_version_fixed_id_and_subject_strategies() {
    let reg = RegistryDouble::start().await;
    let (c, _) = client(reg.url(), &[]);
    c.register("t-value", V1, SchemaType::Avro, false).await.unwrap();
    c.register("t-value", V2, SchemaType::Avro, false).await.unwrap();
    // use.latest.version: writes with v2 although no schema is given locally.
    let (c2, opts) = client(
        reg.url(),
        &[("auto.register.schemas", "false"), ("use.latest.version", "true")],
    );
    let enc = JsonEncoder::new(
        Format::AvroConfluent,
        Role::Value,
        None,
        Some(c2),
        opts,
        MappingOptions::default(),
    )
    .unwrap();
    let r = enc.prepare("t").await.unwrap();
    assert_eq!(r.id, Some(2));
    let mut out = Vec::new();
    enc.encode(&r, &json!({"user": "a", "page": {"string": "/"}}), b"", &mut out)
        .unwrap();
    assert_eq!(unframe(&out).unwrap().1, b"\x02a\x02\x02/");
    // use.schema.id
    let (c3, opts) = client(reg.url(), &[("auto.register.schemas", "false"), ("use.schema.id", "1")]);
    let enc = JsonEncoder::new(
        Format::AvroConfluent,
        Role::Value,
        None,
        Some(c3),
        opts,
        MappingOptions::default(),
    )
    .unwrap();
    assert_eq!(enc.prepare("anything").await.unwrap().id, Some(1));
    // RecordNameStrategy registers under the record's full name; TopicRecordName under topic-name.
    for (strategy, subject) in [
        ("RecordNameStrategy", "ex.Click"),
        ("TopicRecordNameStrategy", "t2-ex.Click"),
    ] {
        let (c4, opts) = client(reg.url(), &[("subject.name.strategy", strategy)]);
        let enc = JsonEncoder::new(
            Format::AvroConfluent,
            Role::Value,
            Some(V1),
            Some(Arc::clone(&c4)),
            opts,
            MappingOptions::default(),
        )
        .unwrap();
        enc.prepare("t2").await.unwrap();
        assert_eq!(c4.latest(subject).await.unwrap().schema, V1);
    }
    // Settings that conflict, or that are not supported yet, are typed errors.
    let conflict = parse_registry_settings(reg.url(), &[("use.latest.version".into(), "true".into())]);
    assert!(matches!(conflict, Err(SchemaError::Config { .. })));
    // Java stores are read (issue 12); a store file that is not there fails the client's
    // construction, naming the registry's setting.
    let (keystore, _) = parse_registry_settings(
        reg.url(),
        &[("schema.registry.ssl.keystore.location".into(), "no-such-k.jks".into())],
    )
    .expect("a Java store is a setting");
    match RegistryClient::new(keystore) {
        Err(SchemaError::Config { reason, .. }) => {
            assert!(reason.contains("schema.registry.ssl.keystore.location"), "{reason}");
        }
        Err(other) => panic!("a configuration error, not {other}"),
        Ok(_) => panic!("a missing keystore is refused"),
    }
    assert!(matches!(
        Format::parse("--value-format", "protobuf"),
        Err(SchemaError::NotSupported { .. })
    ));
    assert!(RegistryClient::new(RegistryConfig::new("ftp://x")).is_err());
}

#[test]
fn rust_types_with_a_derived_schema() {
    #[derive(serde::Serialize, apache_avro::AvroSchema)]
    struct Feature {
        user: String,
        score: f64,
        tags: Vec<String>,
    }
    let schema = volley_schema::AvroSerializer::schema_for::<Feature>().unwrap();
    let ser = volley_schema::AvroSerializer::plain(schema.clone());
    let bytes = ser
        .to_bytes(
            "t",
            &Feature {
                user: "u".into(),
                score: 0.5,
                tags: vec!["a".into()],
            },
        )
        .unwrap();
    // The same bytes as the JSON route.
    let mut out = Vec::new();
    schema
        .encode_json(
            &json!({"user": "u", "score": 0.5, "tags": ["a"]}),
            MappingOptions::default(),
            &mut out,
        )
        .unwrap();
    assert_eq!(&bytes[..], &out[..]);
    let _ = AvroSchema::parse(V1).unwrap();
}

#[tokio::test]
async fn https_with_the_ca_from_settings() {
    let (reg, pem) = RegistryDouble::start_tls().await;
    assert!(reg.url().starts_with("https://127.0.0.1:"));
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pem).expect("ca file");
    let ca = ca.to_str().expect("path");
    let (trusting, _) = client(reg.url(), &[("schema.registry.ssl.ca.location", ca)]);
    assert_eq!(
        trusting
            .register("s-value", V1, SchemaType::Avro, false)
            .await
            .expect("https register")
            .id,
        1
    );
    // Without the CA the certificate is not trusted: a clear error at once (a TLS verdict is
    // not retried until the timeout).
    let (untrusting, _) = client(
        reg.url(),
        &[
            ("schema.registry.request.timeout.ms", "1500"),
            ("retries.wait.ms", "100"),
        ],
    );
    let e = untrusting
        .register("s-value", V1, SchemaType::Avro, false)
        .await
        .unwrap_err();
    assert!(matches!(e, SchemaError::Tls { .. }), "{e}");
    assert!(e.to_string().contains("schema.registry.ssl.ca.location"), "{e}");
    // An unreadable CA file is a configuration error.
    let bad = parse_registry_settings(
        reg.url(),
        &[("schema.registry.ssl.ca.location".into(), "/nonexistent.pem".into())],
    )
    .map(|(cfg, _)| RegistryClient::new(cfg));
    assert!(matches!(bad, Ok(Err(SchemaError::Config { .. }))));
}

/// `key_pem` (PKCS#8) encrypted with `password` (PBES2: PBKDF2-SHA256, AES-256-CBC).
fn encrypt_key(key_pem: &str, password: &str) -> String {
    let (_, der) = pkcs8::der::pem::decode_vec(key_pem.as_bytes()).expect("key PEM");
    let info = pkcs8::PrivateKeyInfoRef::try_from(der.as_slice()).expect("PKCS#8");
    let params =
        pkcs8::pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(2048, &[7; 16], [9; 16]).expect("params");
    let doc = info.encrypt_with_params(params, password).expect("encrypt");
    doc.to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
        .expect("PEM")
        .as_str()
        .to_owned()
}

/// Writes `text` to `name` in `dir` and returns the path as a setting value.
fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).expect("write");
    p.to_str().expect("path").to_owned()
}

#[tokio::test]
async fn mtls_client_certificates() {
    let servers = TestCa::new("registry servers CA");
    let clients = TestCa::new("registry clients CA");
    let stranger = TestCa::new("another CA");
    let reg = RegistryDouble::start_tls_with(&servers.leaf("registry", &["127.0.0.1"]), Some(clients.pem())).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = file(&dir, "ca.pem", servers.pem());
    let good = clients.leaf("producer", &["producer.client"]);
    let (cert, key) = (file(&dir, "c.pem", &good.cert_pem), file(&dir, "c.key", &good.key_pem));
    let bad = stranger.leaf("producer", &["producer.client"]);
    let (bad_cert, bad_key) = (file(&dir, "b.pem", &bad.cert_pem), file(&dir, "b.key", &bad.key_pem));
    let mtls = [
        ("schema.registry.ssl.ca.location", ca.as_str()),
        ("schema.registry.ssl.certificate.location", cert.as_str()),
        ("schema.registry.ssl.key.location", key.as_str()),
    ];

    // The right certificate: register, then fetch with a second client (no cache).
    let (c, _) = client(reg.url(), &mtls);
    let id = c
        .register("m-value", V1, SchemaType::Avro, false)
        .await
        .expect("register over mTLS")
        .id;
    let (fresh, _) = client(reg.url(), &mtls);
    assert_eq!(fresh.schema_by_id(id).await.expect("fetch over mTLS").schema, V1);
    assert_eq!(fresh.latest("m-value").await.expect("latest over mTLS").id, id);
    // The same key, encrypted (PKCS#8, PBES2), with schema.registry.ssl.key.password.
    let sealed = file(&dir, "c.p8.pem", &encrypt_key(&good.key_pem, "key-pass-5e1f"));
    let (c, _) = client(
        reg.url(),
        &[
            ("schema.registry.ssl.ca.location", ca.as_str()),
            ("schema.registry.ssl.certificate.location", cert.as_str()),
            ("schema.registry.ssl.key.location", sealed.as_str()),
            ("schema.registry.ssl.key.password", "key-pass-5e1f"),
        ],
    );
    assert_eq!(
        c.schema_by_id(id).await.expect("fetch with an encrypted key").schema,
        V1
    );
    let served = reg.requests();

    // No certificate, or one from a CA the registry does not trust: the handshake fails, the
    // error names the URL and the settings, at once (no retry until the 20 s timeout).
    let without = [
        ("schema.registry.ssl.ca.location", ca.as_str()),
        ("schema.registry.request.timeout.ms", "20000"),
    ];
    let foreign = [
        ("schema.registry.ssl.ca.location", ca.as_str()),
        ("schema.registry.ssl.certificate.location", bad_cert.as_str()),
        ("schema.registry.ssl.key.location", bad_key.as_str()),
        ("schema.registry.request.timeout.ms", "20000"),
    ];
    for settings in [&without[..], &foreign[..]] {
        let (c, _) = client(reg.url(), settings);
        let t0 = Instant::now();
        let e = c.register("m-value", V1, SchemaType::Avro, false).await.unwrap_err();
        assert!(t0.elapsed() < Duration::from_secs(10), "{e}");
        assert!(matches!(e, SchemaError::Tls { .. }), "{e}");
        let text = e.to_string();
        assert!(text.contains(reg.url()), "{text}");
        assert!(text.contains("client certificate"), "{text}");
        assert!(text.contains("schema.registry.ssl.certificate.location"), "{text}");
    }
    assert_eq!(reg.requests(), served, "no request got past the handshake");
}

#[tokio::test]
async fn tls_settings_errors_and_hostname_verification() {
    let servers = TestCa::new("registry servers CA");
    // The certificate names another host than the URL's 127.0.0.1.
    let reg = RegistryDouble::start_tls_with(&servers.leaf("registry", &["registry.example"]), None).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = file(&dir, "ca.pem", servers.pem());
    let (strict, _) = client(reg.url(), &[("schema.registry.ssl.ca.location", &ca)]);
    let e = strict
        .register("h-value", V1, SchemaType::Avro, false)
        .await
        .unwrap_err();
    assert!(matches!(e, SchemaError::Tls { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("schema.registry.ssl.endpoint.identification.algorithm=none"),
        "{e}"
    );
    let (lax, _) = client(
        reg.url(),
        &[
            ("schema.registry.ssl.ca.location", &ca),
            ("schema.registry.ssl.endpoint.identification.algorithm", "none"),
        ],
    );
    lax.register("h-value", V1, SchemaType::Avro, false)
        .await
        .expect("the chain verifies; the name is not checked");

    // Settings that cannot work are configuration errors naming the setting.
    let leaf = servers.leaf("producer", &["producer.client"]);
    let cert = file(&dir, "c.pem", &leaf.cert_pem);
    let key = file(&dir, "c.key", &leaf.key_pem);
    let key_body = leaf.key_pem.lines().nth(1).expect("a base64 line").to_owned();
    let encrypted = file(&dir, "enc.key", &encrypt_key(&leaf.key_pem, "hunter2-key-pass"));
    let garbage = file(&dir, "g.key", &format!("not a key\n{key_body}\n"));
    let build = |settings: &[(&str, &str)]| {
        let s: Vec<(String, String)> = settings.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        parse_registry_settings(reg.url(), &s).and_then(|(cfg, _)| RegistryClient::new(cfg))
    };
    let config_key = |r: Result<RegistryClient, SchemaError>| match r {
        Err(SchemaError::Config { key, reason }) => {
            assert!(!reason.contains(&key_body), "key material in the error: {reason}");
            key
        }
        other => panic!("expected a configuration error, got {other:?}"),
    };
    assert_eq!(
        config_key(build(&[("schema.registry.ssl.certificate.location", &cert)])),
        "schema.registry.ssl.certificate.location"
    );
    assert_eq!(
        config_key(build(&[("schema.registry.ssl.key.location", &key)])),
        "schema.registry.ssl.key.location"
    );
    assert_eq!(
        config_key(build(&[
            ("schema.registry.ssl.certificate.location", &cert),
            ("schema.registry.ssl.key.location", &garbage),
        ])),
        "schema.registry.ssl.key.location"
    );
    assert_eq!(
        config_key(build(&[
            ("schema.registry.ssl.certificate.location", &key),
            ("schema.registry.ssl.key.location", &key),
        ])),
        "schema.registry.ssl.certificate.location"
    );
    assert_eq!(
        config_key(build(&[(
            "schema.registry.ssl.endpoint.identification.algorithm",
            "none"
        )])),
        "schema.registry.ssl.endpoint.identification.algorithm"
    );
    assert_eq!(
        config_key(build(&[(
            "schema.registry.ssl.endpoint.identification.algorithm",
            "dns"
        )])),
        "schema.registry.ssl.endpoint.identification.algorithm"
    );
    // An encrypted key without its password, or with a wrong one: the error names the
    // password setting and never shows a password.
    for password in [None, Some("wrong-pass-77")] {
        let mut settings = vec![
            ("schema.registry.ssl.certificate.location", cert.as_str()),
            ("schema.registry.ssl.key.location", encrypted.as_str()),
        ];
        settings.extend(password.map(|p| ("schema.registry.ssl.key.password", p)));
        let e = build(&settings).unwrap_err();
        assert!(
            matches!(&e, SchemaError::Config { key, .. } if key == "schema.registry.ssl.key.password"),
            "{e}"
        );
        assert!(!format!("{e} {e:?}").contains("wrong-pass"), "{e}");
    }
    build(&[
        ("schema.registry.ssl.certificate.location", &cert),
        ("schema.registry.ssl.key.location", &encrypted),
        ("schema.registry.ssl.key.password", "hunter2-key-pass"),
    ])
    .expect("the right password decrypts the key");
    let (cfg, _) = parse_registry_settings(
        reg.url(),
        &[("schema.registry.ssl.key.password".into(), "hunter2-key-pass".into())],
    )
    .expect("settings");
    assert!(!format!("{cfg:?}").contains("hunter2"));
}

#[tokio::test]
async fn framed_serializers_for_rust_values() {
    use volley::Serializer;
    #[derive(serde::Serialize, apache_avro::AvroSchema)]
    struct Click {
        user: String,
    }
    let reg = RegistryDouble::start().await;
    let (c, opts) = client(reg.url(), &[]);
    let avro = volley_schema::AvroSerializer::confluent(
        volley_schema::AvroSerializer::schema_for::<Click>().expect("schema"),
        Arc::clone(&c),
        opts.clone(),
        Role::Value,
    );
    let v = Click { user: "a".into() };
    assert!(avro.serialize("t", &v).is_err(), "not prepared yet");
    avro.prepare("t").await.expect("prepare");
    assert_eq!(
        &avro.serialize("t", &v).expect("avro")[..],
        b"\x00\x00\x00\x00\x01\x02a"
    );
    let json = volley_schema::JsonSchemaSerializer::new(r#"{"title":"Click","type":"object"}"#, c, opts, Role::Value)
        .expect("json schema");
    json.prepare("t").await.expect("prepare");
    assert_eq!(
        &json.serialize("t", &json!({"user": "a"})).expect("json")[..],
        b"\x00\x00\x00\x00\x02{\"user\":\"a\"}"
    );
}

/// Confluent's Java serializer spells its TLS with Java stores only: a JKS truststore
/// (keytool) and a PKCS12 keystore (openssl) for the registry work as they do for the
/// producer's connections, read by the same code; a wrong store password names the setting.
#[tokio::test]
async fn java_stores_for_the_registry() {
    let servers = TestCa::new("registry servers CA");
    let clients = TestCa::new("registry clients CA");
    let reg = RegistryDouble::start_tls_with(&servers.leaf("registry", &["127.0.0.1"]), Some(clients.pem())).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = file(&dir, "ca.pem", servers.pem());
    let good = clients.leaf("producer", &["producer.client"]);
    let (cert, key) = (file(&dir, "c.pem", &good.cert_pem), file(&dir, "c.key", &good.key_pem));
    let jks = dir.path().join("trust.jks");
    let p12 = dir.path().join("client.p12");
    let run = |cmd: &mut std::process::Command| {
        let out = cmd.output().expect("run the store tool");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    run(std::process::Command::new("keytool")
        .args([
            "-importcert",
            "-noprompt",
            "-storetype",
            "JKS",
            "-alias",
            "ca",
            "-file",
            &ca,
            "-keystore",
        ])
        .arg(&jks)
        .args(["-storepass", "trust-pass-1a"]));
    run(std::process::Command::new("openssl")
        .args(["pkcs12", "-export", "-in", &cert, "-inkey", &key, "-out"])
        .arg(&p12)
        .args(["-passout", "pass:store-pass-2b"]));
    let (jks, p12) = (jks.display().to_string(), p12.display().to_string());
    let stores = [
        ("schema.registry.ssl.truststore.location", jks.as_str()),
        ("schema.registry.ssl.truststore.password", "trust-pass-1a"),
        ("schema.registry.ssl.keystore.location", p12.as_str()),
        ("schema.registry.ssl.keystore.password", "store-pass-2b"),
        ("schema.registry.ssl.keystore.type", "PKCS12"),
    ];
    let (c, _) = client(reg.url(), &stores);
    let id = c
        .register("j-value", V1, SchemaType::Avro, false)
        .await
        .expect("register with Java stores")
        .id;
    assert!(id > 0);
    // A wrong keystore password: a configuration error naming the registry's setting.
    let mut wrong = stores;
    wrong[3].1 = "not-it";
    let s: Vec<(String, String)> = wrong.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    let (cfg, _) = parse_registry_settings(reg.url(), &s).expect("settings");
    let Err(e) = RegistryClient::new(cfg) else {
        panic!("a wrong password is refused")
    };
    let text = e.to_string();
    assert!(text.contains("schema.registry.ssl.keystore.password"), "{text}");
    assert!(!text.contains("not-it"), "{text}");
}
