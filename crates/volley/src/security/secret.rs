//! [`Secret`]: the one type that holds passwords, JAAS lines, tokens and private keys.
//!
//! Its `Debug` and `Display` print `***`, so a secret cannot reach a log line, an error, a
//! report or a panic message by formatting. The only way to the bytes is
//! [`Secret::expose`], called where the secret goes on the wire or into rustls.

use std::fmt;

/// A string that never prints: `Debug` and `Display` show `***`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the wire or a TLS library; never format it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

/// Whether a configuration key holds a secret (its value is never shown, not even in a
/// configuration error).
#[must_use]
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("password")
        || k.contains("passphrase")
        || k.contains("secret")
        || k.ends_with("jaas.config")
        || k.ends_with("ssl.key.pem")
        || k.ends_with("ssl.keystore.key")
        || k.ends_with("basic.auth.user.info")
        || (k.contains("token") && !k.ends_with("endpoint.url"))
}

/// What a configuration error shows for `value` of `key`.
#[must_use]
pub fn shown(key: &str, value: &str) -> String {
    if is_secret_key(key) {
        "***".to_owned()
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?} {s:#?}"), "*** Secret(***) Secret(***)");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn secret_keys() {
        for k in [
            "sasl.password",
            "ssl.key.password",
            "ssl.truststore.password",
            "sasl.jaas.config",
            "sasl.oauthbearer.client.secret",
            "ssl.key.pem",
            "ssl.keystore.key",
            "basic.auth.user.info",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        assert!(!is_secret_key("sasl.username"));
        assert_eq!(shown("sasl.password", "x"), "***");
    }
}
