//! Values downstream consumers can decode: JSON and Avro, plain or in Confluent Schema
//! Registry framing, and a Schema Registry client.
//!
//! - [`AvroSchema`] parses a schema (by the `apache-avro` crate) and encodes JSON documents
//!   with Volley's mapping rules; errors name the field that does not fit.
//! - [`RegistryClient`] registers and looks up schemas, caching every answer.
//! - [`JsonEncoder`] turns JSON lines into one [`Format`] (what `volley produce
//!   --value-format` uses); [`AvroSerializer`] serializes Rust values for
//!   [`volley::Producer::send`], [`JsonSchemaSerializer`] JSON in Confluent's framing.
//!
//! Protobuf is not supported yet ([`Format::parse`] says so).

mod avro;
mod error;
mod registry;
mod registry_tls;
mod serializer;
mod subject;

pub use avro::{iso8601_millis, AvroSchema, MappingOptions};
pub use error::{FieldError, SchemaError};
pub use registry::{RegisteredSchema, RegistryClient, RegistryConfig, SchemaType};
pub use serializer::{
    parse_registry_settings, unframe, AvroSerializer, Format, JsonEncoder, JsonSchemaSerializer, RegistryOptions,
    Resolved, Role,
};
pub use subject::SubjectStrategy;

/// The first byte of a Confluent-framed payload.
pub const MAGIC_BYTE: u8 = 0;

/// Appends Confluent's framing: the magic byte and the schema id, big-endian.
pub fn frame_into(id: u32, out: &mut Vec<u8>) {
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&id.to_be_bytes());
}
