//! Connection security: TLS (rustls), SASL (the exchange, [`scram`], OAUTHBEARER tokens in
//! [`oauth`], JAAS lines in [`jaas`])
//! and the redacting [`Secret`] type, with their configuration keys in [`settings`].

pub mod jaas;
pub mod oauth;
mod oauth_settings;
pub(crate) mod reauth;
pub(crate) mod sasl;
pub mod scram;
pub mod secret;
pub mod settings;
pub(crate) mod stores;
pub(crate) mod tls;

pub use oauth::{ClientCredentials, OAuthToken, TokenFuture, TokenProvider, UnsecuredJwt};
pub use secret::Secret;
pub use settings::{SaslMechanism, SaslSettings, Security, TlsSettings};
pub use stores::{decrypt_private_key, java_stores, JavaStores, PrivateKeyError};

#[cfg(test)]
mod scram_tests;
#[cfg(test)]
mod settings_tests;
#[cfg(test)]
mod stores_tests;
