//! Volley's errors as the exceptions of `volley.errors` (kafka-python's classes).

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyAnyMethods, PyType};
use volley::{DeliveryError, Error, Persistence};

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The module `volley.errors`.
fn errors_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    ERRORS
        .get_or_try_init(py, || py.import("volley.errors").map(Bound::unbind))
        .map(|m| m.bind(py))
}

/// The class `volley.errors.<name>`.
pub(crate) fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    Ok(errors_module(py)?.getattr(name)?.cast_into::<PyType>()?)
}

/// An exception instance of `volley.errors.<name>` with `message`.
fn instance<'py>(py: Python<'py>, name: &str, message: String) -> PyResult<Bound<'py, PyAny>> {
    class(py, name)?.call1((message,))
}

/// The kafka-python class that stands for `e`, or the broker error for its code.
fn exception_for<'py>(py: Python<'py>, e: &Error) -> PyResult<Bound<'py, PyAny>> {
    let message = e.to_string();
    let name = match e {
        Error::Config(_) => "KafkaConfigurationError",
        Error::RecordTooLarge { .. } => "MessageSizeTooLargeError",
        Error::BufferFull { .. }
        | Error::QueueFull { .. }
        | Error::TopicNotAvailable { .. }
        | Error::DeliveryTimeout { .. }
        | Error::TimedOut { .. }
        | Error::WouldBlock { .. } => "KafkaTimeoutError",
        Error::InvalidTopic { .. } => "InvalidTopicError",
        Error::Broker { code, .. }
        | Error::SequenceGap { code, .. }
        | Error::Transaction(volley::TransactionError { code: Some(code), .. }) => {
            return errors_module(py)?.getattr("_for_code")?.call1((code.0, message));
        }
        Error::Transaction(volley::TransactionError {
            kind: volley::TransactionErrorKind::InvalidState,
            ..
        }) => "IllegalStateError",
        Error::Transaction(t) if t.is_aborted_before_sent() => "TransactionAbortedError",
        Error::Connection { .. } | Error::Tls { .. } => "KafkaConnectionError",
        Error::Authentication { .. } => "AuthenticationFailedError",
        Error::Protocol { .. } => "KafkaProtocolError",
        Error::Closed { .. } => "IllegalStateError",
        Error::Serialization(_) => "SerializationError",
        _ => "KafkaError",
    };
    instance(py, name, message)
}

/// A `send`-time error as a Python exception (an unknown partition is a `ValueError`, as in
/// kafka-python).
pub(crate) fn send_error(py: Python<'_>, e: &Error) -> PyErr {
    if let Error::UnknownPartition { .. } = e {
        return pyo3::exceptions::PyValueError::new_err(e.to_string());
    }
    to_pyerr(py, e)
}

/// `e` as a Python exception.
pub(crate) fn to_pyerr(py: Python<'_>, e: &Error) -> PyErr {
    match exception_for(py, e) {
        Ok(exc) => PyErr::from_value(exc),
        Err(err) => err,
    }
}

/// A failed delivery as an exception instance carrying `persistence`
/// (`"not_persisted"` or `"possibly_persisted"`).
pub(crate) fn delivery_exception<'py>(py: Python<'py>, e: &DeliveryError) -> PyResult<Bound<'py, PyAny>> {
    let exc = exception_for(py, &e.error)?;
    let persistence = match e.persistence {
        Persistence::NotPersisted => "not_persisted",
        Persistence::PossiblyPersisted => "possibly_persisted",
    };
    exc.setattr("persistence", persistence)?;
    Ok(exc)
}

/// `volley.errors.<name>(message)` as a Python exception.
pub(crate) fn exception(py: Python<'_>, name: &str, message: String) -> PyErr {
    match instance(py, name, message) {
        Ok(exc) => PyErr::from_value(exc),
        Err(err) => err,
    }
}

/// `volley.errors.KafkaTimeoutError(message)`.
pub(crate) fn timeout(py: Python<'_>, message: String) -> PyErr {
    match instance(py, "KafkaTimeoutError", message) {
        Ok(exc) => PyErr::from_value(exc),
        Err(err) => err,
    }
}
