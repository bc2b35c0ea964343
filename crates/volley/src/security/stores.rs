//! Java key and trust stores and encrypted private keys, read into the PEM inputs of
//! [`super::tls`].
//!
//! * The format of `ssl.truststore.location` / `ssl.keystore.location` is read from the file
//!   (JKS magic `FE ED FE ED`, a PEM `-----BEGIN ` line, otherwise PKCS12); a configured
//!   `ssl.*store.type` that says otherwise is an error naming both.
//! * JKS truststores are read here: the format is a few length-prefixed fields, and its
//!   integrity digest is SHA-1 (ring) over the password, a fixed phrase and the file. Every
//!   length is checked against the bytes left, so a truncated or hostile file is an error,
//!   never a panic or a large allocation. JKS keystores are refused with the keytool command
//!   that converts them (their keys use Sun's own key protection).
//! * PKCS12 stores are opened by the `p12-keystore` crate (MAC checked, PBES1 and PBES2 bags).
//! * Encrypted PKCS#8 keys (`ENCRYPTED PRIVATE KEY`, PBES2 with PBKDF2 or scrypt) are
//!   decrypted by the RustCrypto `pkcs8` crate with `ssl.key.password`.
//!
//! Errors never hold a password or key material.

use base64::Engine as _;
use rustls::pki_types::CertificateDer;

use super::secret::{shown, Secret};
use crate::config::ConfigError;

/// What a store file is, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreFormat {
    /// PEM text (`-----BEGIN `).
    Pem,
    /// Java's JKS (magic `FE ED FE ED`).
    Jks,
    /// PKCS12 (anything else).
    Pkcs12,
}

const JKS_MAGIC: [u8; 4] = [0xFE, 0xED, 0xFE, 0xED];

impl StoreFormat {
    /// The format the file's bytes show.
    pub(crate) fn detect(bytes: &[u8]) -> Self {
        if bytes.starts_with(&JKS_MAGIC) {
            StoreFormat::Jks
        } else if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
            StoreFormat::Pem
        } else {
            StoreFormat::Pkcs12
        }
    }

    fn name(self) -> &'static str {
        match self {
            StoreFormat::Pem => "PEM",
            StoreFormat::Jks => "JKS",
            StoreFormat::Pkcs12 => "PKCS12",
        }
    }
}

/// Why a store or an encrypted key cannot be used. Holds no password and no key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StoreError {
    /// A field runs past the end of the file.
    #[error("the file ends inside {what} at byte {offset} ({missing} more bytes needed): it is truncated or damaged")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Where it starts.
        offset: usize,
        /// How many bytes are missing.
        missing: u64,
    },
    /// The file does not start with the JKS magic.
    #[error("it does not start with the JKS magic FE ED FE ED")]
    NotJks,
    /// A JKS version other than 1 and 2.
    #[error("JKS version {0} is unknown (1 and 2 are)")]
    JksVersion(u32),
    /// An entry tag other than 1 (private key) and 2 (trusted certificate).
    #[error(
        "the JKS entry at byte {offset} has tag {tag}, which is neither 1 (private key) nor 2 (trusted certificate)"
    )]
    JksTag {
        /// The tag read.
        tag: u32,
        /// Where the entry starts.
        offset: usize,
    },
    /// A certificate that is not X.509.
    #[error("the JKS entry at byte {offset} holds a '{kind}' certificate, not X.509")]
    CertificateType {
        /// The type named in the file (shortened).
        kind: String,
        /// Where the entry starts.
        offset: usize,
    },
    /// The password does not match the store's integrity check.
    #[error("{password_key} does not open it ({check} does not match: wrong password, or the file was altered)")]
    WrongPassword {
        /// The setting holding the password.
        password_key: &'static str,
        /// Which check failed.
        check: &'static str,
    },
    /// The store has no certificate to trust.
    #[error("it holds no trusted certificate")]
    NoTrustedCertificate,
    /// The keystore has no private key with its certificate.
    #[error("it holds no private key with its certificate")]
    NoPrivateKey,
    /// The PKCS12 file cannot be read.
    #[error("it is not a PKCS12 store Volley can read ({0})")]
    Pkcs12(String),
    /// The encrypted key is not a PKCS#8 `EncryptedPrivateKeyInfo` Volley can read.
    #[error("the encrypted private key cannot be read: {0}")]
    EncryptedKey(String),
}

/// Reads a big-endian field stream, every read bounded by the bytes left.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: u64, what: &'static str) -> Result<&'a [u8], StoreError> {
        let left = self.data.len() - self.pos;
        let truncated = StoreError::Truncated {
            what,
            offset: self.pos,
            missing: n.saturating_sub(left as u64),
        };
        let n = usize::try_from(n).map_err(|_| truncated.clone())?;
        let out = self
            .data
            .get(self.pos..)
            .and_then(|rest| rest.get(..n))
            .ok_or(truncated)?;
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], StoreError> {
        let b = self.bytes(N as u64, what)?;
        b.first_chunk::<N>().copied().ok_or(StoreError::Truncated {
            what,
            offset: self.pos,
            missing: N as u64,
        })
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, StoreError> {
        self.array::<4>(what).map(u32::from_be_bytes)
    }

    /// Java's `writeUTF`: a u16 length, then modified UTF-8.
    fn utf(&mut self, what: &'static str) -> Result<&'a [u8], StoreError> {
        let n = u16::from_be_bytes(self.array::<2>(what)?);
        self.bytes(u64::from(n), what)
    }

    /// A u32 length, then that many bytes.
    fn blob(&mut self, what: &'static str) -> Result<&'a [u8], StoreError> {
        let n = self.u32(what)?;
        self.bytes(u64::from(n), what)
    }
}

/// What a JKS truststore holds.
#[derive(Debug, Default)]
pub(crate) struct JksTrust {
    /// The trusted certificate entries, DER.
    pub(crate) certificates: Vec<CertificateDer<'static>>,
    /// How many private key entries were skipped.
    pub(crate) private_keys: usize,
}

/// The JKS integrity digest: SHA-1 over the password (UTF-16BE), "Mighty Aphrodite" and
/// the file up to the digest.
pub(crate) fn jks_digest(password: &str, body: &[u8]) -> [u8; 20] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    for unit in password.encode_utf16() {
        ctx.update(&unit.to_be_bytes());
    }
    ctx.update(b"Mighty Aphrodite");
    ctx.update(body);
    let mut out = [0; 20];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Reads a JKS truststore. With a password the integrity digest is checked; without one it
/// is not (as Java does), though it must be there.
pub(crate) fn read_jks(
    data: &[u8],
    password: Option<&Secret>,
    password_key: &'static str,
) -> Result<JksTrust, StoreError> {
    let mut r = Reader { data, pos: 0 };
    if r.array::<4>("the JKS magic")? != JKS_MAGIC {
        return Err(StoreError::NotJks);
    }
    let version = r.u32("the JKS version")?;
    if version != 1 && version != 2 {
        return Err(StoreError::JksVersion(version));
    }
    let count = r.u32("the JKS entry count")?;
    let mut out = JksTrust::default();
    let cert_type = |r: &mut Reader<'_>, offset: usize| -> Result<(), StoreError> {
        if version == 2 {
            let kind = r.utf("a certificate type")?;
            if kind != b"X.509" {
                return Err(StoreError::CertificateType {
                    kind: String::from_utf8_lossy(kind).chars().take(40).collect(),
                    offset,
                });
            }
        }
        Ok(())
    };
    // No allocation from `count`: each entry is read from bytes that are there.
    for _ in 0..count {
        let offset = r.pos;
        let tag = r.u32("an entry tag")?;
        r.utf("an entry alias")?;
        r.array::<8>("an entry timestamp")?;
        match tag {
            1 => {
                r.blob("a protected private key")?;
                let chain = r.u32("a certificate chain length")?;
                for _ in 0..chain {
                    cert_type(&mut r, offset)?;
                    r.blob("a chain certificate")?;
                }
                out.private_keys += 1;
            }
            2 => {
                cert_type(&mut r, offset)?;
                let der = r.blob("a trusted certificate")?;
                out.certificates.push(CertificateDer::from(der.to_vec()));
            }
            tag => return Err(StoreError::JksTag { tag, offset }),
        }
    }
    let body = r.pos;
    let digest = r.array::<20>("the JKS integrity digest")?;
    if let Some(pw) = password {
        if jks_digest(pw.expose(), &data[..body]) != digest {
            return Err(StoreError::WrongPassword {
                password_key,
                check: "the JKS integrity digest",
            });
        }
    }
    Ok(out)
}

fn pkcs12_error(e: &p12_keystore::error::Error, password_key: &'static str) -> StoreError {
    match e {
        p12_keystore::error::Error::MacError(_) => StoreError::WrongPassword {
            password_key,
            check: "the PKCS12 MAC",
        },
        // Without a MAC a wrong password shows as a bag that does not decrypt.
        p12_keystore::error::Error::UnpadError | p12_keystore::error::Error::Pkcs5Error(_) => {
            StoreError::Pkcs12(format!("a bag does not decrypt with {password_key}"))
        }
        other => StoreError::Pkcs12(other.to_string()),
    }
}

/// The certificates a PKCS12 truststore trusts: those marked trusted (keytool) and those
/// that belong to no private key (openssl `-nokeys`).
pub(crate) fn read_pkcs12_trust(
    data: &[u8],
    password: &Secret,
    password_key: &'static str,
) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let archive = p12_keystore::Pkcs12Archive::from_pkcs12(data, password.expose())
        .map_err(|e| pkcs12_error(&e, password_key))?;
    let certs: Vec<_> = archive
        .certs
        .iter()
        .filter(|c| c.trusted || c.local_key_id.is_none())
        .map(|c| CertificateDer::from(c.cert.as_der().to_vec()))
        .collect();
    if certs.is_empty() {
        return Err(StoreError::NoTrustedCertificate);
    }
    Ok(certs)
}

/// A client identity: the certificate chain (leaf first) and the PKCS#8 key.
#[derive(Debug)]
pub(crate) struct Identity {
    /// The chain, DER.
    pub(crate) chain: Vec<CertificateDer<'static>>,
    /// The private key as a PEM `PRIVATE KEY` block.
    pub(crate) key_pem: Secret,
}

/// The first private key of a PKCS12 keystore with its certificate chain.
pub(crate) fn read_pkcs12_identity(
    data: &[u8],
    password: &Secret,
    password_key: &'static str,
) -> Result<Identity, StoreError> {
    let store = p12_keystore::KeyStore::from_pkcs12(data, password.expose(), p12_keystore::Pkcs12ImportPolicy::Strict)
        .map_err(|e| pkcs12_error(&e, password_key))?;
    let (alias, chain) = store.private_key_chain().ok_or(StoreError::NoPrivateKey)?;
    let keys = store
        .entries()
        .filter(|(_, e)| matches!(e, p12_keystore::KeyStoreEntry::PrivateKeyChain(_)))
        .count();
    if keys > 1 {
        tracing::warn!("the PKCS12 keystore holds {keys} private keys; Volley presents the one named '{alias}'");
    }
    if chain.certs().is_empty() {
        return Err(StoreError::NoPrivateKey);
    }
    Ok(Identity {
        chain: chain
            .certs()
            .iter()
            .map(|c| CertificateDer::from(c.as_der().to_vec()))
            .collect(),
        key_pem: Secret::new(pem_block("PRIVATE KEY", chain.key().as_der())),
    })
}

/// A PEM block of `der`, 64 characters a line.
pub(crate) fn pem_block(label: &str, der: &[u8]) -> String {
    let mut out = format!("-----BEGIN {label}-----\n");
    // 48 bytes encode to exactly 64 characters.
    for chunk in der.chunks(48) {
        out.push_str(&base64::engine::general_purpose::STANDARD.encode(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The certificates as PEM text.
pub(crate) fn certificates_pem(certs: &[CertificateDer<'_>]) -> Vec<u8> {
    certs
        .iter()
        .map(|c| pem_block("CERTIFICATE", c.as_ref()))
        .collect::<String>()
        .into_bytes()
}

// Bounds on the work an encrypted key may ask for (a hostile file must not hang the producer).
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
const MAX_SCRYPT_MEMORY: u64 = 1 << 30;
const MAX_SCRYPT_PARALLELISM: u16 = 16;

const ENCRYPTED_BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";

/// What an encrypted key needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum KeyError {
    /// Encrypted, and no `ssl.key.password`.
    #[error("the private key is encrypted: set ssl.key.password")]
    NoPassword,
    /// The password does not decrypt it.
    #[error("ssl.key.password does not decrypt the encrypted private key")]
    WrongPassword,
    /// Old OpenSSL encryption (`Proc-Type: 4,ENCRYPTED`).
    #[error("the private key uses OpenSSL's legacy PEM encryption (Proc-Type: 4,ENCRYPTED), which Volley does not read: convert it to encrypted PKCS#8 with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key.p8.pem` (or to PKCS12)")]
    Legacy,
    /// Not a readable `EncryptedPrivateKeyInfo`.
    #[error(transparent)]
    Unreadable(#[from] StoreError),
}

/// The key PEM with an `ENCRYPTED PRIVATE KEY` block decrypted into a `PRIVATE KEY` block;
/// an unencrypted key is returned as it is.
pub(crate) fn decrypt_key_pem(pem: &Secret, password: Option<&Secret>) -> Result<Secret, KeyError> {
    let text = pem.expose();
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(KeyError::Legacy);
    }
    let Some(start) = text.find(ENCRYPTED_BEGIN) else {
        return Ok(pem.clone());
    };
    let unreadable = |what: &str| KeyError::Unreadable(StoreError::EncryptedKey(what.to_owned()));
    let end = text[start..]
        .find(ENCRYPTED_END)
        .map(|e| start + e + ENCRYPTED_END.len())
        .ok_or_else(|| unreadable("no END ENCRYPTED PRIVATE KEY line"))?;
    let password = password.ok_or(KeyError::NoPassword)?;
    // Only the kind of a parse failure is shown: its text could quote the input.
    let (_, der) = pkcs8::der::pem::decode_vec(&text.as_bytes()[start..end])
        .map_err(|_| unreadable("the PEM block is not valid base64"))?;
    let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der.as_slice())
        .map_err(|_| unreadable("it is not a PKCS#8 EncryptedPrivateKeyInfo"))?;
    let pkcs8::pkcs5::EncryptionScheme::Pbes2(params) = &info.encryption_algorithm else {
        return Err(unreadable(
            "it uses PBES1, which Volley does not read: re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc`",
        ));
    };
    match &params.kdf {
        pkcs8::pkcs5::pbes2::Kdf::Pbkdf2(p) if p.iteration_count > MAX_PBKDF2_ITERATIONS => {
            return Err(unreadable("its PBKDF2 iteration count is over 10,000,000"));
        }
        pkcs8::pkcs5::pbes2::Kdf::Scrypt(s) => {
            let memory = 128u64
                .checked_mul(s.cost_parameter)
                .and_then(|m| m.checked_mul(u64::from(s.block_size)));
            if memory.is_none_or(|m| m > MAX_SCRYPT_MEMORY) || s.parallelization > MAX_SCRYPT_PARALLELISM {
                return Err(unreadable("its scrypt parameters ask for over 1 GiB or 16 lanes"));
            }
        }
        _ => {}
    }
    // A wrong password shows as bad padding, or (rarely) as plaintext that is no PKCS#8 key.
    let plain = info.decrypt(password.expose()).map_err(|e| match e {
        pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::AlgorithmParametersInvalid { .. })
        | pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::UnsupportedAlgorithm { .. }) => {
            unreadable("its encryption scheme is not one Volley reads (PBES2 with PBKDF2 or scrypt, and AES or 3DES)")
        }
        _ => KeyError::WrongPassword,
    })?;
    if pkcs8::PrivateKeyInfoRef::try_from(plain.as_bytes()).is_err() {
        return Err(KeyError::WrongPassword);
    }
    Ok(Secret::new(pem_block("PRIVATE KEY", plain.as_bytes())))
}

/// Why [`decrypt_private_key`] failed. Never holds the password or key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrivateKeyError {
    /// The key is encrypted and no password was given.
    #[error("the private key is encrypted and no password is given")]
    NoPassword,
    /// The password does not decrypt the key.
    #[error("the password does not decrypt the encrypted private key")]
    WrongPassword,
    /// The key cannot be read (OpenSSL's legacy encryption, PBES1, a damaged block); the
    /// text says how to convert it.
    #[error("{0}")]
    Unreadable(String),
}

/// Decrypts the `ENCRYPTED PRIVATE KEY` block (PKCS#8, PBES2 with PBKDF2 or scrypt) of a PEM
/// private key into a `PRIVATE KEY` block, as `ssl.key.password` does for the brokers' TLS;
/// an unencrypted key is returned as it is. For clients that take the same kind of key
/// settings, such as the Schema Registry client's `schema.registry.ssl.key.password`.
///
/// # Errors
/// No password for an encrypted key, a password that does not decrypt it, or a key that
/// cannot be read.
pub fn decrypt_private_key(pem: &Secret, password: Option<&Secret>) -> Result<Secret, PrivateKeyError> {
    decrypt_key_pem(pem, password).map_err(|e| match e {
        KeyError::NoPassword => PrivateKeyError::NoPassword,
        KeyError::WrongPassword => PrivateKeyError::WrongPassword,
        other => PrivateKeyError::Unreadable(other.to_string()),
    })
}

/// The store settings of one side (`ssl.truststore.*` or `ssl.keystore.*`).
struct StoreKeys {
    location: &'static str,
    kind: &'static str,
    password: &'static str,
}

const TRUSTSTORE: StoreKeys = StoreKeys {
    location: "ssl.truststore.location",
    kind: "ssl.truststore.type",
    password: "ssl.truststore.password",
};

const KEYSTORE: StoreKeys = StoreKeys {
    location: "ssl.keystore.location",
    kind: "ssl.keystore.type",
    password: "ssl.keystore.password",
};

fn store_error(key: &str, value: &str, detail: impl ToString) -> ConfigError {
    ConfigError::Store {
        key: key.to_owned(),
        value: shown(key, value),
        detail: detail.to_string(),
    }
}

/// Reads the store at `path` and settles its format with the configured type.
fn open(
    get: &dyn Fn(&str) -> Option<String>,
    keys: &StoreKeys,
    path: &str,
) -> Result<(Vec<u8>, StoreFormat), ConfigError> {
    let bytes = super::tls::read_pem_path(keys.location, path).map_err(|e| store_error(keys.location, path, e))?;
    let detected = StoreFormat::detect(&bytes);
    if let Some(ty) = get(keys.kind) {
        let configured = match ty.to_ascii_uppercase().as_str() {
            "PEM" => StoreFormat::Pem,
            "JKS" => StoreFormat::Jks,
            "PKCS12" => StoreFormat::Pkcs12,
            _ => {
                return Err(ConfigError::InvalidValue {
                    key: keys.kind.to_owned(),
                    value: ty,
                    allowed: "PEM, JKS or PKCS12 (the format is also read from the file when this is not set)"
                        .to_owned(),
                })
            }
        };
        if configured != detected {
            return Err(ConfigError::Conflict(format!(
                "{}={ty}, but {}={path} is a {} file",
                keys.kind,
                keys.location,
                detected.name()
            )));
        }
    }
    Ok((bytes, detected))
}

/// Java's stores read into PEM: what [`java_stores`] returns.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct JavaStores {
    /// The trusted certificates of `ssl.truststore.location` (PEM), if set.
    pub trust_pem: Option<Vec<u8>>,
    /// The client certificate chain (PEM) and its private key (PEM, possibly still
    /// encrypted: see [`decrypt_private_key`]) of `ssl.keystore.location`, if set.
    pub identity: Option<(Vec<u8>, Secret)>,
}

/// Reads Java's trust and key stores (`ssl.truststore.location` / `.password` / `.type`,
/// `ssl.keystore.location` / `.password` / `.type`, `ssl.key.password`; JKS, PKCS12 or PEM,
/// the format read from the file) the way the producer's connections do, for another
/// client of the same program (the Schema Registry's). `get` answers those key names.
///
/// # Errors
/// A missing or unreadable file, a wrong password, a JKS keystore, a type that contradicts
/// the file; the error names the key, never a password.
pub fn java_stores(get: &dyn Fn(&str) -> Option<String>) -> Result<JavaStores, ConfigError> {
    Ok(JavaStores {
        trust_pem: truststore_pem(get)?,
        identity: keystore_pem(get)?,
    })
}

/// The PEM certificates of `ssl.truststore.location`, if set.
pub(crate) fn truststore_pem(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<Vec<u8>>, ConfigError> {
    let Some(path) = get(TRUSTSTORE.location) else {
        return Ok(None);
    };
    let (bytes, format) = open(get, &TRUSTSTORE, &path)?;
    let password = get(TRUSTSTORE.password).map(Secret::new);
    let certs = match format {
        StoreFormat::Pem => return Ok(Some(bytes)),
        StoreFormat::Jks => {
            let jks = read_jks(&bytes, password.as_ref(), TRUSTSTORE.password);
            let jks = jks.and_then(|j| {
                if j.certificates.is_empty() {
                    Err(StoreError::NoTrustedCertificate)
                } else {
                    Ok(j)
                }
            });
            let jks = jks.map_err(|e| store_error(TRUSTSTORE.location, &path, e))?;
            if jks.private_keys > 0 {
                tracing::debug!(
                    "{}: {} private key entries ignored (a truststore only gives trust anchors)",
                    TRUSTSTORE.location,
                    jks.private_keys
                );
            }
            jks.certificates
        }
        StoreFormat::Pkcs12 => read_pkcs12_trust(&bytes, &password.unwrap_or_default(), TRUSTSTORE.password)
            .map_err(|e| store_error(TRUSTSTORE.location, &path, e))?,
    };
    Ok(Some(certificates_pem(&certs)))
}

/// The client certificate chain (PEM) and key (PEM, maybe still encrypted) of
/// `ssl.keystore.location`, if set.
pub(crate) fn keystore_pem(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<(Vec<u8>, Secret)>, ConfigError> {
    let Some(path) = get(KEYSTORE.location) else {
        return Ok(None);
    };
    let (bytes, format) = open(get, &KEYSTORE, &path)?;
    match format {
        StoreFormat::Pem => {
            let key = Secret::new(String::from_utf8_lossy(&bytes).into_owned());
            Ok(Some((bytes, key)))
        }
        StoreFormat::Jks => Err(store_error(
            KEYSTORE.location,
            &path,
            format!("this is a JKS keystore, which Volley does not read (its keys use Sun's own protection): convert it with keytool to PKCS12 (keytool -importkeystore -srckeystore {path} -destkeystore client.p12 -deststoretype PKCS12) and point ssl.keystore.location at the result"),
        )),
        StoreFormat::Pkcs12 => {
            // The key bag is opened with the store's password, as keytool and openssl write
            // it; ssl.key.password stands in when no store password is set.
            let (password, password_key) = match (get(KEYSTORE.password), get("ssl.key.password")) {
                (Some(p), _) => (Secret::new(p), KEYSTORE.password),
                (None, Some(p)) => (Secret::new(p), "ssl.key.password"),
                (None, None) => (Secret::default(), KEYSTORE.password),
            };
            let id = read_pkcs12_identity(&bytes, &password, password_key).map_err(|e| {
                let own_key_password = matches!(e, StoreError::Pkcs12(_))
                    && get("ssl.key.password").is_some_and(|k| k != password.expose());
                let hint = if own_key_password {
                    " (Volley opens the key with ssl.keystore.password, as keytool and openssl write PKCS12 keystores; a key with a password of its own must be re-exported with one password)"
                } else {
                    ""
                };
                store_error(KEYSTORE.location, &path, format!("{e}{hint}"))
            })?;
            Ok(Some((certificates_pem(&id.chain), id.key_pem)))
        }
    }
}

/// Decrypts the client key if it is encrypted (`ssl.key.password`); `source` is the setting
/// it came from and `value` its value (a path, or the inline key, which is never shown).
pub(crate) fn plain_key(
    key: &Secret,
    source: &str,
    value: &str,
    password: Option<&Secret>,
) -> Result<Secret, ConfigError> {
    decrypt_key_pem(key, password).map_err(|e| store_error(source, value, e))
}
