//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as a sans-IO client.
//!
//! The client sends `n,,n=USER,r=NONCE`, checks that the server's nonce extends its own,
//! bounds the server's iteration count (RELIABILITY.md rule 9: the broker controls it), and
//! verifies the server signature of the final message in constant time, so a server that
//! does not know the password cannot pass for one that does.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ring::{digest, hmac, pbkdf2};
use std::num::NonZeroU32;

/// Kafka's smallest allowed iteration count (and its default).
pub const MIN_ITERATIONS: u32 = 4096;
/// The largest count accepted: Kafka's own maximum; more would let a broker make each
/// connection burn CPU.
pub const MAX_ITERATIONS: u32 = 16_384;

/// SHA-256 or SHA-512.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramHash {
    /// `SCRAM-SHA-256`.
    Sha256,
    /// `SCRAM-SHA-512`.
    Sha512,
}

impl ScramHash {
    fn algs(self) -> (hmac::Algorithm, pbkdf2::Algorithm, &'static digest::Algorithm) {
        match self {
            ScramHash::Sha256 => (hmac::HMAC_SHA256, pbkdf2::PBKDF2_HMAC_SHA256, &digest::SHA256),
            ScramHash::Sha512 => (hmac::HMAC_SHA512, pbkdf2::PBKDF2_HMAC_SHA512, &digest::SHA512),
        }
    }
}

/// Why a SCRAM exchange failed (never quotes the password or derived keys).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    /// The server's message does not follow RFC 5802.
    #[error("malformed SCRAM server message: {0}")]
    Malformed(&'static str),
    /// The server's nonce does not start with ours.
    #[error("the server's nonce does not extend the client's (possible replay or broken server)")]
    Nonce,
    /// The iteration count is outside the accepted range.
    #[error("the server asked for {0} PBKDF2 iterations; accepted are {MIN_ITERATIONS} to {MAX_ITERATIONS}")]
    Iterations(u64),
    /// The server reported an error (`e=...`).
    #[error("the server rejected the credentials: {0}")]
    Server(String),
    /// The server's signature is wrong: it does not know the password.
    #[error("the server's signature does not verify: the broker does not hold this user's credentials (or the connection is not to the broker)")]
    ServerSignature,
}

/// The client side of one exchange.
#[derive(Debug)]
pub struct ScramClient {
    hash: ScramHash,
    nonce: String,
    first_bare: String,
    state: State,
}

enum State {
    Initial { password: String },
    SentFinal { server_signature: Vec<u8> },
    Done,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            State::Initial { .. } => "Initial",
            State::SentFinal { .. } => "SentFinal",
            State::Done => "Done",
        })
    }
}

/// `=` and `,` in a user name, escaped as RFC 5802 requires.
fn sasl_name(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

/// `SaltedPassword := Hi(password, salt, i)`: PBKDF2 over the password's UTF-8 bytes, with no
/// SASLprep (Kafka's `ScramFormatter.normalize` does none either).
pub(super) fn salted_password(hash: ScramHash, password: &str, salt: &[u8], iterations: NonZeroU32) -> Vec<u8> {
    let (_, pbkdf2_alg, digest_alg) = hash.algs();
    let mut salted = vec![0u8; digest_alg.output_len()];
    pbkdf2::derive(pbkdf2_alg, iterations, salt, password.as_bytes(), &mut salted);
    salted
}

impl ScramClient {
    /// A client with a fresh random nonce.
    #[must_use]
    pub fn new(hash: ScramHash, user: &str, password: &str) -> Self {
        let bytes: [u8; 24] = rand::random();
        Self::with_nonce(hash, user, password, &B64.encode(bytes))
    }

    /// A client with a given nonce, for tests and fuzzing only: a nonce must never be reused,
    /// so real exchanges go through [`ScramClient::new`].
    #[doc(hidden)]
    #[must_use]
    pub fn with_nonce(hash: ScramHash, user: &str, password: &str, nonce: &str) -> Self {
        Self {
            hash,
            nonce: nonce.to_owned(),
            first_bare: format!("n={},r={nonce}", sasl_name(user)),
            state: State::Initial {
                password: password.to_owned(),
            },
        }
    }

    /// The client-first message.
    #[must_use]
    pub fn client_first(&self) -> Vec<u8> {
        format!("n,,{}", self.first_bare).into_bytes()
    }

    /// Takes the server-first message and returns the client-final one.
    ///
    /// # Errors
    /// A malformed message, a foreign nonce, an iteration count out of bounds, or a call in
    /// the wrong state.
    pub fn client_final(&mut self, server_first: &[u8]) -> Result<Vec<u8>, ScramError> {
        let State::Initial { password } = &self.state else {
            return Err(ScramError::Malformed("server-first message out of order"));
        };
        let text = std::str::from_utf8(server_first).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        if let Some(e) = text.strip_prefix("e=") {
            return Err(ScramError::Server(e.chars().take(200).collect()));
        }
        let (mut nonce, mut salt, mut iterations) = (None, None, None);
        for attr in text.split(',') {
            match attr.split_at_checked(2) {
                Some(("r=", v)) => nonce = Some(v),
                Some(("s=", v)) => salt = Some(v),
                Some(("i=", v)) => iterations = Some(v),
                Some(("m=", _)) => return Err(ScramError::Malformed("mandatory extension not supported")),
                _ => {}
            }
        }
        let nonce = nonce.ok_or(ScramError::Malformed("no nonce"))?;
        if !nonce.starts_with(&self.nonce) || nonce.len() <= self.nonce.len() {
            return Err(ScramError::Nonce);
        }
        let salt = B64
            .decode(salt.ok_or(ScramError::Malformed("no salt"))?)
            .map_err(|_| ScramError::Malformed("salt is not base64"))?;
        let iterations: u64 = iterations
            .ok_or(ScramError::Malformed("no iteration count"))?
            .parse()
            .map_err(|_| ScramError::Malformed("iteration count is not a number"))?;
        if !(u64::from(MIN_ITERATIONS)..=u64::from(MAX_ITERATIONS)).contains(&iterations) {
            return Err(ScramError::Iterations(iterations));
        }
        let iters = u32::try_from(iterations)
            .ok()
            .and_then(NonZeroU32::new)
            .ok_or(ScramError::Iterations(iterations))?;
        let (hmac_alg, _, digest_alg) = self.hash.algs();
        let salted = salted_password(self.hash, password, &salt, iters);
        let salted_key = hmac::Key::new(hmac_alg, &salted);
        let client_key = hmac::sign(&salted_key, b"Client Key");
        let stored_key = digest::digest(digest_alg, client_key.as_ref());
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{text},{without_proof}", self.first_bare);
        let client_sig = hmac::sign(&hmac::Key::new(hmac_alg, stored_key.as_ref()), auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .as_ref()
            .iter()
            .zip(client_sig.as_ref())
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = hmac::sign(&salted_key, b"Server Key");
        let server_signature = hmac::sign(&hmac::Key::new(hmac_alg, server_key.as_ref()), auth_message.as_bytes());
        self.state = State::SentFinal {
            server_signature: server_signature.as_ref().to_vec(),
        };
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    /// Verifies the server-final message.
    ///
    /// # Errors
    /// The server's error, a malformed message, or a signature that does not verify.
    pub fn verify_server_final(&mut self, server_final: &[u8]) -> Result<(), ScramError> {
        let State::SentFinal { server_signature } = &self.state else {
            return Err(ScramError::Malformed("server-final message out of order"));
        };
        let text = std::str::from_utf8(server_final).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        if let Some(e) = text.strip_prefix("e=") {
            return Err(ScramError::Server(e.chars().take(200).collect()));
        }
        let v = text
            .split(',')
            .find_map(|a| a.strip_prefix("v="))
            .ok_or(ScramError::Malformed("no server signature"))?;
        let got = B64
            .decode(v)
            .map_err(|_| ScramError::Malformed("signature is not base64"))?;
        // Constant time: the comparison must not tell an attacker how much matched.
        let same = got.len() == server_signature.len()
            && got.iter().zip(server_signature).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        if !same {
            return Err(ScramError::ServerSignature);
        }
        self.state = State::Done;
        Ok(())
    }
}
