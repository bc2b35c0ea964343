//! `SchemaEncoder`: the native half of `volley.schema`. JSON documents (the Python side turns
//! values into JSON text) become Confluent-framed Avro or JSON Schema bytes through
//! `volley-schema`'s `JsonEncoder`, the encoder of `volley produce`: the same `-S` registry
//! settings, the schema resolved once per topic (registered or looked up) and cached.

use std::sync::{Arc, OnceLock};

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use volley_schema::{parse_registry_settings, Format, JsonEncoder, MappingOptions, RegistryClient, Role, SchemaError};

use crate::errors;

/// The runtime registry requests run on: one thread-less runtime driven by the caller
/// (`block_on`), so nothing of it is left behind by `fork()`.
fn runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    static RT: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// A Schema Registry serializer's encoder for one role (key or value).
#[pyclass(module = "volley._volley", frozen)]
#[derive(Debug)]
pub struct SchemaEncoder {
    encoder: JsonEncoder,
}

/// `e` as `volley.errors.SerializationError` (or `KafkaConfigurationError` for settings).
fn schema_error(py: Python<'_>, e: &SchemaError) -> PyErr {
    let class = match e {
        SchemaError::Config { .. } | SchemaError::NotSupported { .. } => "KafkaConfigurationError",
        _ => "SerializationError",
    };
    errors::exception(py, class, e.to_string())
}

#[pymethods]
impl SchemaEncoder {
    /// `format`: `avro-confluent` or `json-confluent`; `schema`: the schema text (None with
    /// `use.latest.version`, `use.schema.id` or `use.schema.version`); `settings`: Confluent's
    /// serializer and registry settings (`volley produce -S`). Python's mapping: `bytes` as
    /// one code point per byte, and keys the record schema does not know are skipped, as
    /// confluent-kafka's writer (fastavro) skips them.
    #[new]
    fn new(
        py: Python<'_>,
        format: &str,
        is_key: bool,
        schema: Option<&str>,
        url: &str,
        settings: Vec<(String, String)>,
    ) -> PyResult<Self> {
        let made = (|| {
            let format = Format::parse("format", format)?;
            let (config, options) = parse_registry_settings(url, &settings)?;
            let registry = Arc::new(RegistryClient::new(config)?);
            let role = if is_key { Role::Key } else { Role::Value };
            let mapping = MappingOptions {
                bytes_base64: false,
                ignore_unknown_fields: true,
            };
            JsonEncoder::new(format, role, schema, Some(registry), options, mapping)
        })();
        made.map(|encoder| Self { encoder }).map_err(|e| schema_error(py, &e))
    }

    /// The record bytes for one JSON document (`json`, UTF-8) written to `topic`: the
    /// topic's schema is resolved on first use (HTTP, with the GIL released), then cached.
    fn encode<'py>(&self, py: Python<'py>, topic: &str, json: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let value: serde_json::Value = serde_json::from_slice(json)
            .map_err(|e| errors::exception(py, "SerializationError", format!("not JSON: {e}")))?;
        let rt =
            runtime().map_err(|e| errors::exception(py, "KafkaError", format!("no runtime for the registry: {e}")))?;
        let encoder = &self.encoder;
        let resolved = py
            .detach(|| rt.block_on(encoder.prepare(topic)))
            .map_err(|e| schema_error(py, &e))?;
        let mut out = Vec::with_capacity(json.len() + 5);
        encoder
            .encode(&resolved, &value, json, &mut out)
            .map_err(|e| schema_error(py, &e))?;
        Ok(PyBytes::new(py, &out))
    }
}
