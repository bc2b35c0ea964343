//! `volley._volley`: the native half of the `volley` Python package (distribution
//! `volley-kafka`). The Python half (`python/volley/`) gives it kafka-python's
//! `KafkaProducer` API: keyword config, serializers, validation, the exit hook; this crate
//! runs the records through [`volley::blocking::Producer`].
//!
//! Threads (see DESIGN.md): `send`, `flush`, `close` and `FutureRecordMetadata.get` release
//! the GIL while they wait, in slices, checking for signals between slices so Ctrl-C
//! interrupts them. Outcomes arrive on Volley's callback thread, which never takes the GIL:
//! it records the outcome and queues the record for one thread of this module
//! (`volley-py-callbacks`), which runs Python callbacks in completion order, many per GIL
//! acquisition (records without callbacks are settled without the GIL).

use pyo3::prelude::*;

mod errors;
mod future;
mod producer;

/// The module `volley._volley`.
#[pymodule]
fn _volley(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<producer::Producer>()?;
    m.add_class::<future::FutureRecordMetadata>()?;
    Ok(())
}
