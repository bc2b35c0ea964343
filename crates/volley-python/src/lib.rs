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
mod schema;

/// The module `volley._volley`.
#[pymodule]
fn _volley(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<producer::Producer>()?;
    m.add_class::<future::FutureRecordMetadata>()?;
    m.add_class::<schema::SchemaEncoder>()?;
    m.add_function(wrap_pyfunction!(after_fork_in_child, m)?)?;
    Ok(())
}

/// Called in the child after `os.fork()` (registered by `volley.producer` with
/// `os.register_at_fork`): the parent's I/O and callback threads do not exist in the child,
/// so the next producer starts new ones. Producers inherited from the parent are refused by
/// the Python side.
#[pyfunction]
fn after_fork_in_child() {
    volley::blocking::after_fork_in_child();
    future::after_fork_in_child();
}

/// mimalloc for the extension's own allocations (see Cargo.toml).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
