//! `SchemaEncoder`: the native half of `volley.schema`. JSON documents (the Python side turns
//! values into JSON text) become Confluent-framed Avro or JSON Schema bytes through
//! `volley-schema`'s `JsonEncoder`, the encoder of `volley produce`: the same `-S` registry
//! settings, the schema resolved once per topic (registered or looked up) and cached.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use volley_schema::{parse_registry_settings, Format, JsonEncoder, MappingOptions, RegistryClient, Role, SchemaError};

use crate::errors;
use crate::future::SLICE;

/// The runtime registry requests run on, with the process that made it: one current-thread
/// runtime driven by the caller (`block_on`). Its blocking pool (DNS lookups run there) has
/// threads, and a forked child has none of them: a child gets a runtime of its own (the
/// parent's is leaked there, since one whose threads are gone cannot be shut down).
static RT: arc_swap::ArcSwapOption<(u32, tokio::runtime::Runtime)> = arc_swap::ArcSwapOption::const_empty();

fn runtime() -> Result<Arc<(u32, tokio::runtime::Runtime)>, String> {
    let pid = std::process::id();
    if let Some(rt) = RT.load_full().filter(|rt| rt.0 == pid) {
        return Ok(rt);
    }
    let made = Arc::new((
        pid,
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?,
    ));
    let old = RT.swap(Some(Arc::clone(&made)));
    if let Some(old) = old.filter(|o| o.0 != pid) {
        // The parent's runtime: its threads do not exist in this process.
        std::mem::forget(old);
    }
    Ok(made)
}

/// A Schema Registry serializer's encoder for one role (key or value).
#[pyclass(module = "volley._volley", frozen)]
#[derive(Debug)]
pub struct SchemaEncoder {
    encoder: JsonEncoder,
    /// The process that made it: its registry client's connections belong to that process.
    pid: u32,
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
        made.map(|encoder| Self {
            encoder,
            pid: std::process::id(),
        })
        .map_err(|e| schema_error(py, &e))
    }

    /// The record bytes for one JSON document (`json`, UTF-8) written to `topic`: the
    /// topic's schema is resolved on first use (HTTP, with the GIL released), then cached.
    fn encode<'py>(&self, py: Python<'py>, topic: &str, json: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        if self.pid != std::process::id() {
            return Err(errors::exception(
                py,
                "IllegalStateError",
                "this serializer was created in the parent process before os.fork(); create a new one in the child"
                    .into(),
            ));
        }
        let value: serde_json::Value = serde_json::from_slice(json)
            .map_err(|e| errors::exception(py, "SerializationError", format!("not JSON: {e}")))?;
        let rt =
            runtime().map_err(|e| errors::exception(py, "KafkaError", format!("no runtime for the registry: {e}")))?;
        let encoder = &self.encoder;
        let mut preparing = std::pin::pin!(encoder.prepare(topic));
        // A topic seen before is answered from the cache on the first poll, with the GIL
        // held; the first record of a topic asks the registry with the GIL released, in
        // slices so that Ctrl-C interrupts a registry that does not answer.
        let first = {
            let _entered = rt.1.enter();
            preparing.as_mut().poll(&mut Context::from_waker(Waker::noop()))
        };
        let resolved = match first {
            Poll::Ready(r) => r,
            // Signals are checked outside the runtime: a handler may serialize again.
            Poll::Pending => loop {
                // The timer is made inside the runtime (`timeout` registers it at once).
                let slice = py.detach(|| {
                    rt.1.block_on(async { tokio::time::timeout(SLICE, preparing.as_mut()).await })
                });
                if let Ok(r) = slice {
                    break r;
                }
                py.check_signals()?;
            },
        }
        .map_err(|e| schema_error(py, &e))?;
        let mut out = Vec::with_capacity(json.len() + 5);
        encoder
            .encode(&resolved, &value, json, &mut out)
            .map_err(|e| schema_error(py, &e))?;
        Ok(PyBytes::new(py, &out))
    }
}
