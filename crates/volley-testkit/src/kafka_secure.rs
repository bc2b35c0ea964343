//! One Apache Kafka node with every security listener, for the TLS and SASL tests, built on
//! [`KafkaCluster::start`]: certificates are generated here at start (rcgen), PEM stores are
//! passed inline (`ssl.keystore.key`, `ssl.keystore.certificate.chain`,
//! `ssl.truststore.certificates`), and SCRAM users are added through the PLAINTEXT listener.
//!
//! Listeners (all on 127.0.0.1): `PLAINTEXT` (inter-broker, no authentication), `SASLP`
//! (SASL_PLAINTEXT: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER with Kafka's unsecured
//! validator), `SSL`, `SASLSSL` (SASL_SSL, the same but SCRAM-SHA-256, to test a mechanism
//! a listener does not enable), `MTLS` (SSL, client certificate
//! required), `EXPIRED` (SSL with an expired server certificate) and `REAUTH` (as `SASLP`, with
//! `connections.max.reauth.ms=10000`: sessions last at most 10 s, KIP-368). The extra
//! settings replace the launcher's `listeners` line, so the ports here are the ones in use
//! (the launcher's own PLAINTEXT port is not).
//!
//! Authorization is on (`StandardAuthorizer`): the principals in [`SUPER_USERS`] may do
//! anything; every other principal (`bob` among [`USERS`]) only what ACLs allow.

use std::path::PathBuf;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use crate::kafka::{KafkaCluster, KafkaError, Layout};
use crate::kafka_admin::reader;

/// Users the broker knows (PLAIN through JAAS, SCRAM through the admin API).
pub const USERS: &[(&str, &str)] = &[
    ("alice", "alice-secret-7f3a"),
    ("bob", "bob-secret-91c2"),
    ("carol", "carol-secret-3e8b"),
];

/// Principals allowed everything: the admin and listener principals of the tests (`ANONYMOUS`
/// is PLAINTEXT and SSL without a client certificate), `alice` over SASL, `CN=alice` over
/// mTLS, and `volley-oidc`, the client of the token endpoint stand-in. `bob` and `carol`
/// are not.
pub const SUPER_USERS: &str = "User:ANONYMOUS;User:admin;User:alice;User:CN=alice;User:volley-oidc";

/// A running secured broker and the files a client needs.
#[derive(Debug)]
pub struct SecureKafka {
    /// The node.
    pub cluster: KafkaCluster,
    /// `host:port` of each listener.
    pub plaintext: String,
    /// SASL_PLAINTEXT.
    pub sasl_plaintext: String,
    /// SSL.
    pub ssl: String,
    /// SASL_SSL.
    pub sasl_ssl: String,
    /// SSL with a client certificate required.
    pub mtls: String,
    /// SSL with an expired server certificate.
    pub expired: String,
    /// SASL_PLAINTEXT with sessions of at most 10 s (re-authentication).
    pub reauth: String,
    /// The CA that signed the broker's and the client's certificates (PEM file).
    pub ca: PathBuf,
    /// Another CA, which signed nothing the broker presents.
    pub wrong_ca: PathBuf,
    /// A client certificate signed by [`SecureKafka::ca`] and its PKCS#8 key (PEM files).
    pub client_cert: PathBuf,
    /// The client certificate's key.
    pub client_key: PathBuf,
    dir: PathBuf,
}

impl Drop for SecureKafka {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn tool(what: &str, e: impl std::fmt::Display) -> KafkaError {
    KafkaError::Tool {
        what: what.into(),
        output: e.to_string(),
    }
}

struct Ca {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
}

fn ca(name: &str) -> Result<Ca, KafkaError> {
    let key = KeyPair::generate().map_err(|e| tool("CA key", e))?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| tool("CA params", e))?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let pem = params.self_signed(&key).map_err(|e| tool("CA cert", e))?.pem();
    Ok(Ca { params, key, pem })
}

/// A leaf certificate signed by `ca`: (certificate PEM, PKCS#8 key PEM).
fn leaf(ca: &Ca, cn: &str, sans: &[&str], expired: bool) -> Result<(String, String), KafkaError> {
    let key = KeyPair::generate().map_err(|e| tool("leaf key", e))?;
    let mut params = CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
        .map_err(|e| tool("leaf params", e))?;
    params.distinguished_name.push(DnType::CommonName, cn);
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let issuer = Issuer::from_params(&ca.params, &ca.key);
    let cert = params.signed_by(&key, &issuer).map_err(|e| tool("leaf cert", e))?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A PEM block as one Java-properties value (`\n` escapes).
fn inline(pem: &str) -> String {
    pem.trim_end().replace('\n', "\\n")
}

fn port() -> Result<u16, KafkaError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| KafkaError::Io {
            what: "binding a free port".into(),
            source,
        })
}

impl SecureKafka {
    /// Generates the certificates, starts the node and adds the SCRAM users.
    ///
    /// # Errors
    /// When Kafka is not installed, a file cannot be written, or the node does not start.
    pub fn start() -> Result<Self, KafkaError> {
        let dir = std::env::temp_dir().join(format!("volley-secure-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|source| KafkaError::Io {
            what: format!("creating {}", dir.display()),
            source,
        })?;
        let good = ca("volley test CA")?;
        let wrong = ca("volley wrong CA")?;
        let (server_cert, server_key) = leaf(&good, "broker", &["127.0.0.1"], false)?;
        let (expired_cert, expired_key) = leaf(&good, "broker", &["127.0.0.1"], true)?;
        let (client_cert, client_key) = leaf(&good, "alice", &["alice.client"], false)?;
        let write = |name: &str, text: &str| -> Result<PathBuf, KafkaError> {
            let p = dir.join(name);
            std::fs::write(&p, text).map_err(|source| KafkaError::Io {
                what: format!("writing {}", p.display()),
                source,
            })?;
            Ok(p)
        };
        let ca_path = write("ca.pem", &good.pem)?;
        let wrong_ca = write("wrong-ca.pem", &wrong.pem)?;
        let client_cert_path = write("client.pem", &client_cert)?;
        let client_key_path = write("client.key", &client_key)?;

        let names = ["PLAINTEXT", "SASLP", "SSL", "SASLSSL", "MTLS", "EXPIRED", "REAUTH"];
        let protos = [
            "PLAINTEXT",
            "SASL_PLAINTEXT",
            "SSL",
            "SASL_SSL",
            "SSL",
            "SSL",
            "SASL_PLAINTEXT",
        ];
        let ports: Vec<u16> = names.iter().map(|_| port()).collect::<Result<_, _>>()?;
        let controller = port()?;
        let addr = |i: usize| format!("127.0.0.1:{}", ports[i]);
        let advertised: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{n}://{}", addr(i)))
            .collect();
        let map: Vec<String> = names
            .iter()
            .zip(protos)
            .map(|(n, p)| format!("{n}:{p}"))
            .chain(std::iter::once("CONTROLLER:PLAINTEXT".to_owned()))
            .collect();
        let plain_jaas = format!(
            "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"admin-secret\" user_admin=\"admin-secret\" {};",
            USERS
                .iter()
                .map(|(u, p)| format!("user_{u}=\"{p}\""))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let scram_jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required;";
        // Without a validator class, Kafka validates OAUTHBEARER tokens as unsecured JWTs.
        let oauth_jaas = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\"admin\";";
        let mut extra: Vec<(String, String)> = vec![
            (
                "listeners".into(),
                format!("{},CONTROLLER://127.0.0.1:{controller}", advertised.join(",")),
            ),
            ("advertised.listeners".into(), advertised.join(",")),
            (
                "controller.quorum.bootstrap.servers".into(),
                format!("127.0.0.1:{controller}"),
            ),
            ("listener.security.protocol.map".into(), map.join(",")),
            (
                "sasl.enabled.mechanisms".into(),
                "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER".into(),
            ),
            (
                "authorizer.class.name".into(),
                "org.apache.kafka.metadata.authorizer.StandardAuthorizer".into(),
            ),
            ("super.users".into(), SUPER_USERS.into()),
            ("allow.everyone.if.no.acl.found".into(), "false".into()),
            ("ssl.keystore.type".into(), "PEM".into()),
            ("ssl.keystore.key".into(), inline(&server_key)),
            ("ssl.keystore.certificate.chain".into(), inline(&server_cert)),
            ("ssl.truststore.type".into(), "PEM".into()),
            ("ssl.truststore.certificates".into(), inline(&good.pem)),
            ("listener.name.mtls.ssl.client.auth".into(), "required".into()),
            ("listener.name.expired.ssl.keystore.key".into(), inline(&expired_key)),
            (
                "listener.name.expired.ssl.keystore.certificate.chain".into(),
                inline(&expired_cert),
            ),
        ];
        for l in ["saslp", "saslssl", "reauth"] {
            extra.push((format!("listener.name.{l}.plain.sasl.jaas.config"), plain_jaas.clone()));
            for m in ["scram-sha-256", "scram-sha-512"] {
                extra.push((format!("listener.name.{l}.{m}.sasl.jaas.config"), scram_jaas.into()));
            }
            extra.push((
                format!("listener.name.{l}.oauthbearer.sasl.jaas.config"),
                oauth_jaas.into(),
            ));
        }
        extra.push((
            "listener.name.saslssl.sasl.enabled.mechanisms".into(),
            "PLAIN,SCRAM-SHA-512,OAUTHBEARER".into(),
        ));
        for m in ["plain", "scram-sha-256", "scram-sha-512", "oauthbearer"] {
            extra.push((
                format!("listener.name.reauth.{m}.connections.max.reauth.ms"),
                "10000".into(),
            ));
        }
        let cluster = KafkaCluster::start(&Layout {
            brokers: 0,
            extra,
            features: Vec::new(),
        })?;
        let plaintext = addr(0);
        for (user, password) in USERS {
            reader("add-scram", &plaintext, &[(*user).to_owned(), (*password).to_owned()])?;
        }
        Ok(Self {
            cluster,
            plaintext,
            sasl_plaintext: addr(1),
            ssl: addr(2),
            sasl_ssl: addr(3),
            mtls: addr(4),
            expired: addr(5),
            reauth: addr(6),
            ca: ca_path,
            wrong_ca,
            client_cert: client_cert_path,
            client_key: client_key_path,
            dir,
        })
    }
}
