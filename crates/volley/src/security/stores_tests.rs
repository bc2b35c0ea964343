//! The store readers: JKS built byte by byte here (digest, wrong password, every truncation,
//! every flipped byte, hostile lengths, private key entries) and written by keytool; PKCS12
//! written by keytool, openssl and the p12-keystore crate; encrypted PKCS#8 keys written by
//! the pkcs8 crate and openssl; and all of them through `ProducerConfig`.

use std::path::Path;
use std::process::Command;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use super::secret::Secret;
use super::stores::{decrypt_key_pem, read_jks, read_pkcs12_identity, read_pkcs12_trust, KeyError, StoreError};
use crate::config::{ConfigError, ProducerConfig};

const PW: &str = "store-pass-5e1f";

struct Cert {
    der: Vec<u8>,
    pem: String,
    key: KeyPair,
}

fn ca(cn: &str) -> (Cert, CertificateParams) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).expect("cert");
    (
        Cert {
            der: cert.der().to_vec(),
            pem: cert.pem(),
            key,
        },
        params,
    )
}

fn leaf(ca: &Cert, ca_params: &CertificateParams, cn: &str) -> Cert {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec![format!("{cn}.test")]).expect("params");
    params.distinguished_name.push(DnType::CommonName, cn);
    let cert = params
        .signed_by(&key, &Issuer::from_params(ca_params, &ca.key))
        .expect("leaf");
    Cert {
        der: cert.der().to_vec(),
        pem: cert.pem(),
        key,
    }
}

/// A JKS entry for [`jks`].
enum Entry<'a> {
    /// Tag 1: protected key bytes and a chain.
    Key(&'a [u8], Vec<&'a [u8]>),
    /// Tag 2: a trusted certificate.
    Trusted(&'a [u8]),
}

fn utf(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&u16::try_from(s.len()).expect("short").to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn blob(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&u32::try_from(b.len()).expect("short").to_be_bytes());
    out.extend_from_slice(b);
}

/// A JKS file as Java writes it; its digest is built here from the spelled-out preimage
/// (password chars as two big-endian bytes each), not with the reader's function.
fn jks(version: u32, entries: &[Entry<'_>], password: &str) -> Vec<u8> {
    let mut out = vec![0xFE, 0xED, 0xFE, 0xED];
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&u32::try_from(entries.len()).expect("few").to_be_bytes());
    for (i, e) in entries.iter().enumerate() {
        let cert = |out: &mut Vec<u8>, der: &[u8]| {
            if version == 2 {
                utf(out, "X.509");
            }
            blob(out, der);
        };
        match e {
            Entry::Key(key, chain) => {
                out.extend_from_slice(&1u32.to_be_bytes());
                utf(&mut out, &format!("key{i}"));
                out.extend_from_slice(&1_700_000_000_000u64.to_be_bytes());
                blob(&mut out, key);
                out.extend_from_slice(&u32::try_from(chain.len()).expect("few").to_be_bytes());
                for c in chain {
                    cert(&mut out, c);
                }
            }
            Entry::Trusted(der) => {
                out.extend_from_slice(&2u32.to_be_bytes());
                utf(&mut out, &format!("ca{i}"));
                out.extend_from_slice(&1_700_000_000_000u64.to_be_bytes());
                cert(&mut out, der);
            }
        }
    }
    let mut preimage: Vec<u8> = password.chars().flat_map(|c| [0, c as u8]).collect();
    preimage.extend_from_slice(b"Mighty Aphrodite");
    preimage.extend_from_slice(&out);
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &preimage);
    out.extend_from_slice(digest.as_ref());
    out
}

fn secret(s: &str) -> Secret {
    Secret::new(s)
}

#[test]
fn jks_trusted_certificates_with_and_without_password() {
    let (a, _) = ca("a");
    let (b, _) = ca("b");
    for version in [1, 2] {
        let file = jks(
            version,
            &[
                Entry::Trusted(&a.der),
                Entry::Key(b"opaque key", vec![&b.der, &a.der]),
                Entry::Trusted(&b.der),
            ],
            PW,
        );
        let t = read_jks(&file, Some(&secret(PW)), "ssl.truststore.password").expect("opens");
        let got: Vec<&[u8]> = t.certificates.iter().map(AsRef::as_ref).collect();
        assert_eq!(
            got,
            vec![&a.der[..], &b.der[..]],
            "v{version}: the trusted entries, in order"
        );
        assert_eq!(t.private_keys, 1);
        // No password: Java skips the digest, so does Volley.
        let t = read_jks(&file, None, "ssl.truststore.password").expect("no password");
        assert_eq!(t.certificates.len(), 2);
    }
}

#[test]
fn jks_wrong_password_is_refused() {
    let (a, _) = ca("a");
    let file = jks(2, &[Entry::Trusted(&a.der)], PW);
    let e = read_jks(&file, Some(&secret("not-it")), "ssl.truststore.password").unwrap_err();
    assert!(matches!(e, StoreError::WrongPassword { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.starts_with("ssl.truststore.password does not open it"), "{msg}");
    assert!(!msg.contains("not-it") && !msg.contains(PW), "{msg}");
    // The empty password is a password (Java checks it).
    let e = read_jks(&file, Some(&secret("")), "ssl.truststore.password").unwrap_err();
    assert!(matches!(e, StoreError::WrongPassword { .. }), "{e:?}");
    let empty = jks(2, &[Entry::Trusted(&a.der)], "");
    read_jks(&empty, Some(&secret("")), "ssl.truststore.password").expect("empty password");
}

#[test]
fn jks_every_truncation_and_every_flipped_byte_fail() {
    let (a, _) = ca("a");
    let (b, _) = ca("b");
    let file = jks(
        2,
        &[
            Entry::Key(b"opaque key bytes", vec![&b.der, &a.der]),
            Entry::Trusted(&a.der),
            Entry::Trusted(&b.der),
        ],
        PW,
    );
    for len in 0..file.len() {
        for pw in [Some(secret(PW)), None] {
            let r = read_jks(&file[..len], pw.as_ref(), "ssl.truststore.password");
            assert!(
                matches!(r, Err(StoreError::Truncated { .. } | StoreError::NotJks)),
                "{len} bytes: {r:?}"
            );
        }
    }
    // Trailing bytes after the digest are ignored, as by Java.
    let mut longer = file.clone();
    longer.extend_from_slice(b"tail");
    read_jks(&longer, Some(&secret(PW)), "ssl.truststore.password").expect("trailing bytes");
    for i in 0..file.len() {
        let mut bad = file.clone();
        bad[i] ^= 0x01;
        let r = read_jks(&bad, Some(&secret(PW)), "ssl.truststore.password");
        assert!(r.is_err(), "byte {i} flipped yet opened");
    }
}

#[test]
fn jks_hostile_lengths_are_errors() {
    let head = |version: u32, count: u32| {
        let mut v = vec![0xFE, 0xED, 0xFE, 0xED];
        v.extend_from_slice(&version.to_be_bytes());
        v.extend_from_slice(&count.to_be_bytes());
        v
    };
    let e = read_jks(&head(2, u32::MAX), None, "p").unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Truncated {
                what: "an entry tag",
                ..
            }
        ),
        "{e:?}"
    );
    let e = read_jks(&head(3, 0), None, "p").unwrap_err();
    assert_eq!(e, StoreError::JksVersion(3));
    // A trusted certificate of 4 GiB - 1 in a file of a few bytes.
    let mut f = head(1, 1);
    f.extend_from_slice(&2u32.to_be_bytes());
    utf(&mut f, "x");
    f.extend_from_slice(&0u64.to_be_bytes());
    f.extend_from_slice(&u32::MAX.to_be_bytes());
    f.extend_from_slice(&[0; 40]);
    let e = read_jks(&f, None, "p").unwrap_err();
    assert!(
        matches!(e, StoreError::Truncated { what: "a trusted certificate", missing, .. } if missing == u64::from(u32::MAX) - 40),
        "{e:?}"
    );
    // A chain of 4 billion certificates.
    let mut f = head(1, 1);
    f.extend_from_slice(&1u32.to_be_bytes());
    utf(&mut f, "k");
    f.extend_from_slice(&0u64.to_be_bytes());
    blob(&mut f, b"key");
    f.extend_from_slice(&u32::MAX.to_be_bytes());
    let e = read_jks(&f, None, "p").unwrap_err();
    assert!(matches!(e, StoreError::Truncated { .. }), "{e:?}");
    // A JCEKS secret key entry (tag 3) and a certificate type other than X.509.
    let mut f = head(2, 1);
    f.extend_from_slice(&3u32.to_be_bytes());
    f.extend_from_slice(&[0; 40]);
    assert_eq!(
        read_jks(&f, None, "p").unwrap_err(),
        StoreError::JksTag { tag: 3, offset: 12 }
    );
    let mut f = head(2, 1);
    f.extend_from_slice(&2u32.to_be_bytes());
    utf(&mut f, "x");
    f.extend_from_slice(&0u64.to_be_bytes());
    utf(&mut f, "PGP");
    blob(&mut f, b"cert");
    let e = read_jks(&f, None, "p").unwrap_err();
    assert!(
        matches!(e, StoreError::CertificateType { ref kind, .. } if kind == "PGP"),
        "{e:?}"
    );
}

proptest::proptest! {
    #[test]
    fn jks_reader_never_panics(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600), version in 1u32..=2) {
        let mut f = vec![0xFE, 0xED, 0xFE, 0xED];
        f.extend_from_slice(&version.to_be_bytes());
        f.extend_from_slice(&tail);
        let _ = read_jks(&f, Some(&secret(PW)), "p");
        let _ = read_jks(&f, None, "p");
    }
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (keytool comes with the JDK that runs Kafka; openssl with the OS)"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn keytool(dir: &Path, args: &[&str]) {
    run(Command::new("keytool").current_dir(dir).args(args));
}

#[test]
fn keytool_jks_and_pkcs12() {
    let dir = tempfile::tempdir().expect("dir");
    let (a, _) = ca("a");
    std::fs::write(dir.path().join("ca.pem"), &a.pem).expect("write");
    let import = |store: &str, ty: &str| {
        keytool(
            dir.path(),
            &[
                "-importcert",
                "-noprompt",
                "-alias",
                "ca",
                "-file",
                "ca.pem",
                "-storetype",
                ty,
                "-keystore",
                store,
                "-storepass",
                PW,
            ],
        );
    };
    import("trust.jks", "JKS");
    // A private key entry next to the certificate (keytool writes its chain with types).
    keytool(
        dir.path(),
        &[
            "-genkeypair",
            "-alias",
            "me",
            "-keyalg",
            "EC",
            "-groupname",
            "secp256r1",
            "-dname",
            "CN=me",
            "-storetype",
            "JKS",
            "-keystore",
            "trust.jks",
            "-storepass",
            PW,
            "-keypass",
            PW,
        ],
    );
    let file = std::fs::read(dir.path().join("trust.jks")).expect("read");
    let t = read_jks(&file, Some(&secret(PW)), "ssl.truststore.password").expect("keytool's JKS");
    assert_eq!(t.certificates.len(), 1);
    assert_eq!(t.certificates[0].as_ref(), &a.der[..]);
    assert_eq!(t.private_keys, 1);
    let e = read_jks(&file, Some(&secret("wrong")), "ssl.truststore.password").unwrap_err();
    assert!(matches!(e, StoreError::WrongPassword { .. }), "{e:?}");

    import("trust.p12", "PKCS12");
    let file = std::fs::read(dir.path().join("trust.p12")).expect("read");
    let certs = read_pkcs12_trust(&file, &secret(PW), "ssl.truststore.password").expect("keytool's PKCS12");
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0].as_ref(), &a.der[..]);
    let e = read_pkcs12_trust(&file, &secret("wrong"), "ssl.truststore.password").unwrap_err();
    assert!(
        e.to_string().contains("ssl.truststore.password does not open it"),
        "{e}"
    );
}

fn openssl(dir: &Path, args: &[&str]) {
    run(Command::new("openssl").current_dir(dir).args(args));
}

#[test]
fn pkcs12_keystore_from_openssl_and_the_crate() {
    let dir = tempfile::tempdir().expect("dir");
    let (a, a_params) = ca("a");
    let me = leaf(&a, &a_params, "me");
    for (name, text) in [
        ("ca.pem", &a.pem),
        ("me.pem", &me.pem),
        ("me.key", &me.key.serialize_pem()),
    ] {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    openssl(
        dir.path(),
        &[
            "pkcs12",
            "-export",
            "-in",
            "me.pem",
            "-inkey",
            "me.key",
            "-certfile",
            "ca.pem",
            "-out",
            "me.p12",
            "-passout",
            &format!("pass:{PW}"),
        ],
    );
    let file = std::fs::read(dir.path().join("me.p12")).expect("read");
    let id = read_pkcs12_identity(&file, &secret(PW), "ssl.keystore.password").expect("openssl's PKCS12");
    let chain: Vec<&[u8]> = id.chain.iter().map(AsRef::as_ref).collect();
    assert_eq!(chain, vec![&me.der[..], &a.der[..]], "leaf first, then its CA");
    assert_eq!(key_der(&id.key_pem), me.key.serialize_der(), "the same key");
    assert!(!format!("{:?}", id.key_pem).contains("PRIVATE"));
    let e = read_pkcs12_identity(&file, &secret("wrong"), "ssl.keystore.password").unwrap_err();
    assert!(matches!(e, StoreError::WrongPassword { .. }), "{e:?}");

    // Written by the crate, holding a certificate only: no identity, but trust.
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry(
        "ca",
        p12_keystore::KeyStoreEntry::Certificate(p12_keystore::Certificate::from_der(&a.der).expect("cert")),
    );
    let p12 = store.writer(PW).write().expect("write");
    assert_eq!(
        read_pkcs12_identity(&p12, &secret(PW), "ssl.keystore.password").err(),
        Some(StoreError::NoPrivateKey)
    );
    let certs = read_pkcs12_trust(&p12, &secret(PW), "ssl.truststore.password").expect("trust");
    assert_eq!(certs[0].as_ref(), &a.der[..]);
    for len in [0, 1, 10, p12.len() / 2, p12.len() - 1] {
        let e = read_pkcs12_trust(&p12[..len], &secret(PW), "p").unwrap_err();
        assert!(matches!(e, StoreError::Pkcs12(_)), "{len}: {e:?}");
    }
}

fn encrypted(key: &KeyPair, password: &str, scrypt: bool) -> Secret {
    use pkcs8::pkcs5::pbes2::Parameters;
    let info = pkcs8::PrivateKeyInfoRef::try_from(key.serialized_der()).expect("pkcs8");
    let params = if scrypt {
        let p = pkcs8::pkcs5::scrypt::Params::new(10, 8, 1).expect("scrypt");
        Parameters::generate_scrypt_aes256cbc(p, &[7; 16], [9; 16])
    } else {
        Parameters::generate_pbkdf2_sha256_aes256cbc(2048, &[7; 16], [9; 16])
    }
    .expect("params");
    let doc = info.encrypt_with_params(params, password).expect("encrypt");
    Secret::new(
        doc.to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
            .expect("pem")
            .as_str(),
    )
}

fn key_der(pem: &Secret) -> Vec<u8> {
    let (label, der) = pkcs8::der::pem::decode_vec(pem.expose().as_bytes()).expect("pem");
    assert_eq!(label, "PRIVATE KEY");
    der
}

#[test]
fn encrypted_pkcs8_keys() {
    let key = KeyPair::generate().expect("key");
    for scrypt in [false, true] {
        let enc = encrypted(&key, PW, scrypt);
        let plain = decrypt_key_pem(&enc, Some(&secret(PW))).expect("decrypts");
        assert_eq!(key_der(&plain), key.serialize_der(), "scrypt {scrypt}");
        assert_eq!(decrypt_key_pem(&enc, None).unwrap_err(), KeyError::NoPassword);
        let e = decrypt_key_pem(&enc, Some(&secret("wrong-password"))).unwrap_err();
        assert_eq!(e, KeyError::WrongPassword);
        assert!(!e.to_string().contains("wrong-password"));
    }
    // An unencrypted key passes as it is; a damaged one is an error, not a panic.
    let plain = Secret::new(key.serialize_pem());
    assert_eq!(decrypt_key_pem(&plain, None).expect("plain"), plain);
    let enc = encrypted(&key, PW, false);
    let damaged = enc.expose().replacen("MI", "AA", 1);
    let e = decrypt_key_pem(&Secret::new(damaged), Some(&secret(PW))).unwrap_err();
    assert!(matches!(e, KeyError::Unreadable(_)), "{e:?}");
    let legacy = "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nAAAA\n-----END EC PRIVATE KEY-----\n";
    let e = decrypt_key_pem(&Secret::new(legacy), Some(&secret(PW))).unwrap_err();
    assert!(e.to_string().contains("openssl pkcs8 -topk8 -v2 aes-256-cbc"), "{e}");
}

#[test]
fn encrypted_pkcs8_keys_from_openssl() {
    let dir = tempfile::tempdir().expect("dir");
    let key = KeyPair::generate().expect("key");
    std::fs::write(dir.path().join("k.pem"), key.serialize_pem()).expect("write");
    let pass = format!("pass:{PW}");
    for (out, scheme) in [
        ("aes.pem", &["-v2", "aes-256-cbc"][..]),
        ("scrypt.pem", &["-scrypt"][..]),
    ] {
        let mut args = vec!["pkcs8", "-topk8", "-in", "k.pem", "-out", out, "-passout", &pass];
        args.extend_from_slice(scheme);
        openssl(dir.path(), &args);
        let enc = Secret::new(std::fs::read_to_string(dir.path().join(out)).expect("read"));
        assert!(enc.expose().contains("ENCRYPTED PRIVATE KEY"), "{out}");
        let plain = decrypt_key_pem(&enc, Some(&secret(PW))).unwrap_or_else(|e| panic!("{out}: {e}"));
        assert_eq!(key_der(&plain), key.serialize_der(), "{out}");
        assert_eq!(
            decrypt_key_pem(&enc, Some(&secret("x"))).unwrap_err(),
            KeyError::WrongPassword
        );
    }
}

fn props(extra: &[(&str, &str)]) -> Result<ProducerConfig, ConfigError> {
    let mut p = vec![("bootstrap.servers", "127.0.0.1:9092"), ("security.protocol", "SSL")];
    p.extend_from_slice(extra);
    ProducerConfig::from_properties(p)
}

#[test]
fn stores_through_the_config() {
    let dir = tempfile::tempdir().expect("dir");
    let path = |n: &str| dir.path().join(n).display().to_string();
    let (a, a_params) = ca("a");
    let me = leaf(&a, &a_params, "me");
    std::fs::write(path("trust.jks"), jks(2, &[Entry::Trusted(&a.der)], PW)).expect("write");
    std::fs::write(path("keys.jks"), jks(2, &[Entry::Key(b"k", vec![&a.der])], PW)).expect("write");
    let jks_path = path("trust.jks");
    let trust = |extra: &[(&str, &str)]| {
        let mut v = vec![("ssl.truststore.location", jks_path.as_str())];
        v.extend_from_slice(extra);
        props(&v)
    };
    trust(&[("ssl.truststore.password", PW)]).expect("JKS with password");
    trust(&[]).expect("JKS without password");
    trust(&[("ssl.truststore.type", "jks"), ("ssl.truststore.password", PW)]).expect("type JKS");
    let e = trust(&[("ssl.truststore.password", "nope")]).unwrap_err();
    assert!(matches!(e, ConfigError::Store { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("ssl.truststore.password does not open it") && msg.contains(&jks_path) && !msg.contains("nope"),
        "{msg}"
    );
    let e = trust(&[("ssl.truststore.type", "PKCS12")]).unwrap_err();
    assert!(matches!(e, ConfigError::Conflict(_)), "{e:?}");
    assert!(
        e.to_string().contains("ssl.truststore.type=PKCS12") && e.to_string().contains("is a JKS file"),
        "{e}"
    );
    let e = trust(&[("ssl.truststore.type", "BCFKS")]).unwrap_err();
    assert!(e.to_string().contains("PEM, JKS or PKCS12"), "{e}");
    let e = props(&[("ssl.truststore.location", &path("keys.jks"))]).unwrap_err();
    assert!(e.to_string().contains("holds no trusted certificate"), "{e}");
    let e = props(&[
        ("ssl.keystore.location", &path("keys.jks")),
        ("ssl.truststore.location", &jks_path),
    ])
    .unwrap_err();
    assert!(
        e.to_string().contains("convert it with keytool to PKCS12")
            && e.to_string().contains("keytool -importkeystore -srckeystore"),
        "{e}"
    );

    // A PKCS12 keystore (the crate writes the key bag under the store's password).
    let mut store = p12_keystore::KeyStore::new();
    let chain = p12_keystore::PrivateKeyChain::new(
        vec![1u8, 2, 3],
        p12_keystore::PrivateKey::from_der(&me.key.serialize_der()).expect("key"),
        [
            p12_keystore::Certificate::from_der(&me.der).expect("cert"),
            p12_keystore::Certificate::from_der(&a.der).expect("cert"),
        ],
    );
    store.add_entry("me", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
    std::fs::write(path("me.p12"), store.writer(PW).write().expect("p12")).expect("write");
    let ks = path("me.p12");
    let keystore = |extra: &[(&str, &str)]| {
        let mut v = vec![
            ("ssl.truststore.location", jks_path.as_str()),
            ("ssl.keystore.location", ks.as_str()),
        ];
        v.extend_from_slice(extra);
        props(&v)
    };
    let c = keystore(&[("ssl.keystore.type", "PKCS12"), ("ssl.keystore.password", PW)]).expect("PKCS12 keystore");
    assert!(c.security.tls.as_ref().is_some_and(|t| t.client_certificate));
    keystore(&[("ssl.key.password", PW)]).expect("ssl.key.password stands in for the store's");
    let e = keystore(&[("ssl.keystore.password", "nope")]).unwrap_err();
    assert!(e.to_string().contains("ssl.keystore.password does not open it"), "{e}");
    let e = keystore(&[]).unwrap_err();
    assert!(e.to_string().contains("does not open it"), "{e}");
    let e = keystore(&[("ssl.keystore.type", "JKS"), ("ssl.keystore.password", PW)]).unwrap_err();
    assert!(e.to_string().contains("is a PKCS12 file"), "{e}");
}

#[test]
fn encrypted_keys_through_the_config() {
    let dir = tempfile::tempdir().expect("dir");
    let path = |n: &str| dir.path().join(n).display().to_string();
    let (a, a_params) = ca("a");
    let me = leaf(&a, &a_params, "me");
    let enc = encrypted(&me.key, PW, false);
    std::fs::write(path("ca.pem"), &a.pem).expect("write");
    std::fs::write(path("me.pem"), &me.pem).expect("write");
    std::fs::write(path("me.key"), enc.expose()).expect("write");
    let (ca_path, cert, key) = (path("ca.pem"), path("me.pem"), path("me.key"));
    let librdkafka = |extra: &[(&str, &str)]| {
        let mut v = vec![
            ("ssl.ca.location", ca_path.as_str()),
            ("ssl.certificate.location", cert.as_str()),
            ("ssl.key.location", key.as_str()),
        ];
        v.extend_from_slice(extra);
        props(&v)
    };
    let c = librdkafka(&[("ssl.key.password", PW)]).expect("decrypted");
    assert!(c.security.tls.as_ref().is_some_and(|t| t.client_certificate));
    let e = librdkafka(&[]).unwrap_err();
    assert!(
        e.to_string().contains("set ssl.key.password") && e.to_string().contains(&key),
        "{e}"
    );
    let e = librdkafka(&[("ssl.key.password", "nope-7c1")]).unwrap_err();
    assert!(
        e.to_string().contains("ssl.key.password does not decrypt") && !e.to_string().contains("nope-7c1"),
        "{e}"
    );
    // Java's inline spelling: the key never shows, not even as the setting's value.
    let java = |pw: &str| {
        props(&[
            ("ssl.truststore.location", ca_path.as_str()),
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.certificate.chain", &me.pem),
            ("ssl.keystore.key", enc.expose()),
            ("ssl.key.password", pw),
        ])
    };
    java(PW).expect("inline encrypted key");
    let e = java("nope").unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("ssl.keystore.key=***: ssl.key.password does not decrypt"),
        "{msg}"
    );
    assert!(!msg.contains("ENCRYPTED PRIVATE KEY") && !msg.contains("nope"), "{msg}");
}
