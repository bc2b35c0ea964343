//! Connection security: TLS (rustls), SASL (the exchange, [`scram`], JAAS lines in [`jaas`])
//! and the redacting [`Secret`] type, with their configuration keys in [`settings`].

pub mod jaas;
pub(crate) mod sasl;
pub mod scram;
pub mod secret;
pub mod settings;
pub(crate) mod stores;
pub(crate) mod tls;

pub use secret::Secret;
pub use settings::{SaslMechanism, SaslSettings, Security, TlsSettings};

#[cfg(test)]
mod settings_tests;
#[cfg(test)]
mod stores_tests;
