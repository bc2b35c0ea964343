//! The native producer behind `volley.KafkaProducer`: records in as bytes (the Python side
//! runs the serializers and checks headers; the topic and the bytes are checked here),
//! futures out.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyMemoryView, PyString};
use volley::{Error, Header, ProducerConfig, RecordRef};

use crate::errors;
use crate::future::{
    callbacks_queued, deadline, expired, lock, on_callback_thread, slice, FutureRecordMetadata, Inflight, Shared, SLICE,
};

/// How long `close()` waits for queued Python callbacks after the producer closed, when its
/// own timeout has run out (every record has its outcome by then; this bounds slow callbacks).
const CALLBACK_GRACE: Duration = Duration::from_secs(5);

/// `close(None)`: no limit (the records were flushed first, interruptibly).
const NO_LIMIT: Duration = Duration::from_secs(365 * 86_400);

/// A Volley producer configured by Java property names (`volley.KafkaProducer` maps
/// kafka-python's keywords onto them).
#[pyclass(module = "volley._volley", frozen)]
#[derive(Debug)]
pub struct Producer {
    inner: volley::blocking::Producer,
    inflight: Arc<Inflight>,
    /// The last topic sent to, as the caller's string and as Rust text: a loop over one
    /// topic converts it once. Each record keeps the `Arc<str>` (no Python object, which
    /// would be released off the GIL on Volley's threads, through PyO3's global
    /// pending-release list and its lock).
    last_topic: Mutex<Option<(Py<PyString>, Arc<str>)>>,
}

/// The bytes of a key or value given as `bytes`, `bytearray` or `memoryview`; otherwise
/// `TypeError`, as kafka-python's message says.
fn to_bytes<'py>(py: Python<'py>, what: &str, data: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    if let Ok(b) = data.cast::<PyBytes>() {
        return Ok(b.clone());
    }
    if data.cast::<PyByteArray>().is_ok() || data.cast::<PyMemoryView>().is_ok() {
        return Ok(py.get_type::<PyBytes>().call1((data,))?.cast_into::<PyBytes>()?);
    }
    Err(PyTypeError::new_err(format!(
        "{what} must be bytes (or set a {what}_serializer), not {}",
        data.get_type().name()?
    )))
}

/// `(topic, partition, offset, metadata, leader_epoch)`: one entry of
/// `send_offsets_to_transaction`.
type PyOffset = (String, i32, i64, Option<String>, Option<i32>);

/// A `(name, value)` header as kafka-python takes it.
type PyHeader = (String, Option<Vec<u8>>);

impl Producer {
    /// `topic` as Rust text, converted once per run of sends to the same string object.
    fn topic_text(&self, topic: &Bound<'_, PyString>) -> PyResult<Arc<str>> {
        let mut last = lock(&self.last_topic);
        if let Some((py_topic, text)) = last.as_ref() {
            if py_topic.is(topic) {
                return Ok(Arc::clone(text));
            }
        }
        let text: Arc<str> = Arc::from(topic.to_cow()?.as_ref());
        *last = Some((topic.clone().unbind(), Arc::clone(&text)));
        Ok(text)
    }
}

#[pymethods]
impl Producer {
    /// Starts a producer from `(property, value)` pairs.
    #[new]
    fn new(py: Python<'_>, properties: Vec<(String, String)>) -> PyResult<Self> {
        let config =
            ProducerConfig::from_properties(properties).map_err(|e| errors::to_pyerr(py, &Error::Config(e)))?;
        let inner = py
            .detach(|| volley::blocking::Producer::new(config))
            .map_err(|e| errors::to_pyerr(py, &e))?;
        Ok(Self {
            inner,
            inflight: Arc::new(Inflight::default()),
            last_topic: Mutex::new(None),
        })
    }

    /// Queues one record; waits at most `max.block.ms` for metadata and buffer room, with
    /// the GIL released. Key and value are serialized already (bytes, bytearray or
    /// memoryview, or `None`); the topic and the bytes are checked here, so that
    /// `KafkaProducer.send` without serializers or headers passes its arguments straight
    /// on (Python-level checks per record were a tenth of a send's cost).
    #[pyo3(signature = (topic, value=None, key=None, headers=None, partition=None, timestamp_ms=None))]
    #[allow(clippy::too_many_arguments)] // kafka-python's send() signature
    fn send(
        &self,
        py: Python<'_>,
        topic: &Bound<'_, PyAny>,
        value: Option<Bound<'_, PyAny>>,
        key: Option<Bound<'_, PyAny>>,
        headers: Option<Vec<PyHeader>>,
        partition: Option<i32>,
        timestamp_ms: Option<i64>,
    ) -> PyResult<FutureRecordMetadata> {
        let Ok(topic) = topic.cast::<PyString>() else {
            return Err(PyTypeError::new_err(format!(
                "topic must be a str, not {}",
                topic.get_type().name()?
            )));
        };
        // The key first, as kafka-python reports a bad key before a bad value.
        let key = key.map(|k| to_bytes(py, "key", k)).transpose()?;
        let value = value.map(|v| to_bytes(py, "value", v)).transpose()?;
        let value = value.as_ref().map(|b| b.as_bytes());
        let key = key.as_ref().map(|b| b.as_bytes());
        let size = |b: Option<&[u8]>| b.map_or(-1, |b| i64::try_from(b.len()).unwrap_or(i64::MAX));
        let headers = headers.unwrap_or_default();
        let header_size = if headers.is_empty() {
            -1
        } else {
            let n: usize = headers
                .iter()
                .map(|(k, v)| k.len() + v.as_ref().map_or(0, Vec::len))
                .sum();
            i64::try_from(n).unwrap_or(i64::MAX)
        };
        let sizes = (size(key), size(value), header_size);
        let headers: Vec<Header> = headers
            .into_iter()
            .map(|(key, value)| Header {
                key,
                value: value.map(Bytes::from),
            })
            .collect();
        let topic_str = self.topic_text(topic)?;
        // Borrowed: the producer copies the bytes into the open batch (no copy of our own).
        let record = RecordRef {
            topic: &topic_str,
            partition,
            key,
            value,
            headers: &headers,
            timestamp: timestamp_ms,
        };
        let shared = Shared::new(Arc::clone(&topic_str), sizes, Arc::clone(&self.inflight));
        let done = Arc::clone(&shared);
        let inner = &self.inner;
        let on_outcome = move |r| done.complete(r);
        let interrupted = || Python::attach(|py| py.check_signals().err());
        // While Python callbacks are queued, the send runs with the GIL released, so the
        // callback thread runs them alongside (measured: about 15 % more records/s with a
        // callback per record); otherwise the record is offered with the GIL held (most
        // sends do not wait: about 10 % more with futures only) and a send that must wait
        // for metadata or buffer room releases it. Either way the wait is in slices, so
        // Ctrl-C interrupts it (the record is then dropped unsent).
        let sent = if callbacks_queued() {
            py.detach(|| {
                inner.send_ref_with_callback_around_wait(record, on_outcome, SLICE, interrupted, |wait| wait())
            })
        } else {
            inner.send_ref_with_callback_around_wait(record, on_outcome, SLICE, interrupted, |wait| py.detach(wait))
        };
        match sent {
            Ok(Ok(())) => Ok(FutureRecordMetadata::new(shared)),
            Ok(Err(e)) => {
                shared.abandon();
                Err(errors::send_error(py, &e))
            }
            Err(interrupted) => {
                shared.abandon();
                Err(interrupted)
            }
        }
    }

    /// Sends everything queued and waits (at most `timeout` seconds) until every record
    /// has its outcome and its callbacks have run; `KafkaTimeoutError` when time runs out.
    /// Inside a callback it does not wait for callbacks (they run on that same thread).
    #[pyo3(signature = (timeout=None))]
    fn flush(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let deadline = deadline(timeout)?;
        if !self.flush_until(py, deadline)? || !self.callbacks_until(py, deadline)? {
            return Err(errors::timeout(
                py,
                format!(
                    "records still pending after flush(timeout={})",
                    timeout.unwrap_or_default()
                ),
            ));
        }
        Ok(())
    }

    /// Flushes (at most `timeout` seconds), closes (records still pending fail) and waits
    /// for their callbacks. Inside a callback the timeout is 0, as in kafka-python.
    #[pyo3(signature = (timeout=None))]
    fn close(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let inside = on_callback_thread();
        let deadline = deadline(if inside { Some(0.0) } else { timeout })?;
        if !inside {
            self.flush_until(py, deadline)?;
        }
        let left = deadline.map_or(NO_LIMIT, |d| d.saturating_duration_since(std::time::Instant::now()));
        let inner = &self.inner;
        py.detach(|| inner.close(left)).map_err(|e| errors::to_pyerr(py, &e))?;
        if !inside {
            let grace = deadline.map(|d| d.max(std::time::Instant::now() + CALLBACK_GRACE));
            self.callbacks_until(py, grace)?;
        }
        Ok(())
    }

    /// Waits (at most `timeout` seconds, in slices with Ctrl-C checked between them) until a
    /// broker answered a metadata request, as kafka-python's constructor does;
    /// `KafkaTimeoutError` when none did.
    fn bootstrap(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        let deadline = deadline(Some(timeout))?;
        let inner = &self.inner;
        loop {
            let d = slice(deadline);
            match py.detach(|| inner.bootstrap(d)) {
                Ok(()) => return Ok(()),
                Err(Error::TimedOut { .. }) => {}
                Err(e) => return Err(errors::to_pyerr(py, &e)),
            }
            py.check_signals()?;
            if expired(deadline) {
                let brokers = inner.config().bootstrap_servers.join(",");
                return Err(errors::timeout(
                    py,
                    format!("no broker of {brokers} answered within {timeout} s (bootstrap)"),
                ));
            }
        }
    }

    /// The partition numbers of `topic` (waits at most `max.block.ms` for metadata).
    fn partitions_for(&self, py: Python<'_>, topic: &str) -> PyResult<HashSet<i32>> {
        let inner = &self.inner;
        // Waits in slices, so Ctrl-C interrupts a wait for a topic that does not exist.
        let parts = py
            .detach(|| {
                inner.partitions_for_interruptible(topic, SLICE, || Python::attach(|py| py.check_signals().err()))
            })?
            .map_err(|e| errors::to_pyerr(py, &e))?;
        Ok(parts.into_iter().map(|p| p.partition).collect())
    }

    /// Volley's metrics as `{group: {name: value}}`: `producer-metrics`,
    /// `producer-topic-metrics.<topic>` and `producer-node-metrics.node-<id>`.
    fn metrics(&self) -> BTreeMap<String, BTreeMap<String, f64>> {
        let m = self.inner.as_async().metrics();
        let mut out = BTreeMap::new();
        out.insert("producer-metrics".to_owned(), m.producer);
        for (topic, values) in m.topics {
            out.insert(format!("producer-topic-metrics.{topic}"), values);
        }
        for (node, values) in m.nodes {
            out.insert(format!("producer-node-metrics.node-{node}"), values);
        }
        out
    }

    /// `init_transactions()`: fences earlier producers with the same `transactional.id` and
    /// gets the producer id (waits at most `max.block.ms`, the GIL released).
    fn init_transactions(&self, py: Python<'_>) -> PyResult<()> {
        let inner = &self.inner;
        py.detach(|| inner.init_transactions())
            .map_err(|e| errors::to_pyerr(py, &e))
    }

    /// `begin_transaction()`.
    fn begin_transaction(&self, py: Python<'_>) -> PyResult<()> {
        self.inner.begin_transaction().map_err(|e| errors::to_pyerr(py, &e))
    }

    /// `send_offsets_to_transaction`: `(topic, partition, offset, metadata, leader_epoch)`
    /// entries committed with the transaction for the consumer group.
    #[pyo3(signature = (offsets, group_id, generation_id=-1, member_id=String::new(), group_instance_id=None))]
    fn send_offsets_to_transaction(
        &self,
        py: Python<'_>,
        offsets: Vec<PyOffset>,
        group_id: String,
        generation_id: i32,
        member_id: String,
        group_instance_id: Option<String>,
    ) -> PyResult<()> {
        let offsets: volley::transaction::Offsets = offsets
            .into_iter()
            .map(|(topic, partition, offset, metadata, leader_epoch)| {
                let mut o = volley::transaction::OffsetAndMetadata::new(offset);
                o.metadata = metadata;
                o.leader_epoch = leader_epoch;
                ((topic, partition), o)
            })
            .collect();
        let mut group = volley::transaction::ConsumerGroupMetadata::new(group_id);
        group.generation_id = generation_id;
        group.member_id = member_id;
        group.group_instance_id = group_instance_id;
        let inner = &self.inner;
        py.detach(|| inner.send_offsets_to_transaction(offsets, &group))
            .map_err(|e| errors::to_pyerr(py, &e))
    }

    /// `commit_transaction()`: flushes, then commits (waits at most `max.block.ms`).
    fn commit_transaction(&self, py: Python<'_>) -> PyResult<()> {
        let inner = &self.inner;
        py.detach(|| inner.commit_transaction())
            .map_err(|e| errors::to_pyerr(py, &e))
    }

    /// `abort_transaction()` (waits at most `max.block.ms`).
    fn abort_transaction(&self, py: Python<'_>) -> PyResult<()> {
        let inner = &self.inner;
        py.detach(|| inner.abort_transaction())
            .map_err(|e| errors::to_pyerr(py, &e))
    }

    /// Whether a broker connection is open now.
    fn bootstrap_connected(&self) -> bool {
        self.inner
            .as_async()
            .metrics()
            .get("connection-count")
            .is_some_and(|n| n > 0.0)
    }
}

impl Producer {
    /// Volley's flush in slices (Ctrl-C is checked between them) until done or `deadline`;
    /// whether it finished.
    fn flush_until(&self, py: Python<'_>, deadline: Option<std::time::Instant>) -> PyResult<bool> {
        let inner = &self.inner;
        loop {
            let d = slice(deadline);
            match py.detach(|| inner.flush(d)) {
                Ok(()) => return Ok(true),
                Err(Error::TimedOut { .. }) => {}
                Err(e) => return Err(errors::to_pyerr(py, &e)),
            }
            py.check_signals()?;
            if expired(deadline) {
                return Ok(false);
            }
        }
    }

    /// Waits until every record's callbacks have run, or `deadline`; whether they have.
    /// On the callback thread itself it does not wait.
    fn callbacks_until(&self, py: Python<'_>, deadline: Option<std::time::Instant>) -> PyResult<bool> {
        if on_callback_thread() {
            return Ok(true);
        }
        let inflight = &self.inflight;
        loop {
            let d = slice(deadline);
            if py.detach(|| inflight.wait_zero(d)) {
                return Ok(true);
            }
            py.check_signals()?;
            if expired(deadline) {
                return Ok(false);
            }
        }
    }
}
