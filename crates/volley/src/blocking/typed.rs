//! Typed producing without async: [`TypedProducer`], the blocking twin of
//! [`crate::TypedProducer`].

use std::sync::Arc;
use std::time::Duration;

use super::{DeliveryHandle, Producer};
use crate::error::{DeliveryError, Error};
use crate::producer::typed::TypedRecord;
use crate::record::{ProducerRecord, RecordMetadata};
use crate::serializer::Serializer;

/// A [`Producer`] (blocking) that serializes keys of type `K` and values of type `V`: for
/// programs without async what [`crate::TypedProducer`] is for async ones. Clones share one
/// producer; every method may be called from any thread, delivery callbacks included.
///
/// ```no_run
/// use std::time::Duration;
/// use volley::{JsonSerializer, Producer, ProducerConfig, StringSerializer, TypedRecord};
/// #[derive(serde::Serialize)]
/// struct Click { user: String, page: String }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = ProducerConfig::builder().bootstrap_servers("127.0.0.1:9092").build()?;
/// let producer = Producer::builder(config).typed_blocking::<str, Click>(StringSerializer, JsonSerializer)?;
/// let click = Click { user: "alice".into(), page: "/".into() };
/// let meta = producer.send_and_wait(TypedRecord::new("clicks", &click).key("alice"))?;
/// producer.close(Duration::from_secs(5))?;
/// # Ok(()) }
/// ```
pub struct TypedProducer<K: ?Sized, V: ?Sized> {
    producer: Producer,
    typed: crate::TypedProducer<K, V>,
}

impl<K: ?Sized, V: ?Sized> Clone for TypedProducer<K, V> {
    fn clone(&self) -> Self {
        Self {
            producer: self.producer.clone(),
            typed: self.typed.clone(),
        }
    }
}

impl<K: ?Sized, V: ?Sized> std::fmt::Debug for TypedProducer<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedProducer")
            .field("producer", &self.producer)
            .finish_non_exhaustive()
    }
}

impl<K: ?Sized, V: ?Sized> TypedProducer<K, V> {
    /// Wires serializers into a blocking producer (its clones stay usable, untyped).
    pub fn new(
        producer: Producer,
        key: impl Serializer<K> + Send + Sync + 'static,
        value: impl Serializer<V> + Send + Sync + 'static,
    ) -> Self {
        let typed = crate::TypedProducer::from_shared(Arc::clone(producer.as_async()), key, value);
        Self { producer, typed }
    }

    /// The untyped blocking producer underneath: for example to resend a record a
    /// [`DeliveryError`] gave back, which is already serialized.
    #[must_use]
    pub fn producer(&self) -> &Producer {
        &self.producer
    }

    /// Serializes a record's key and value.
    ///
    /// # Errors
    /// [`Error::Serialization`] from either serializer.
    pub fn serialize(&self, r: TypedRecord<'_, K, V>) -> Result<ProducerRecord, Error> {
        self.typed.serialize(r)
    }

    /// Serializes and queues a record (see [`Producer::send`]); wait for the outcome with
    /// the handle.
    ///
    /// # Errors
    /// A serializer's [`Error::Serialization`], or what [`Producer::send`] fails with (the
    /// typed record is the caller's still, so the serialized one is not given back).
    pub fn send(&self, r: TypedRecord<'_, K, V>) -> Result<DeliveryHandle, Error> {
        let record = self.serialize(r)?;
        Ok(self.producer.send(record)?)
    }

    /// Serializes a record and waits for its outcome (see [`Producer::send_and_wait`]).
    ///
    /// # Errors
    /// A [`DeliveryError`]; a serialization failure is a not-persisted one without a record.
    pub fn send_and_wait(&self, r: TypedRecord<'_, K, V>) -> Result<RecordMetadata, DeliveryError> {
        let record = self.serialize(r).map_err(DeliveryError::not_persisted)?;
        self.producer.send_and_wait(record)
    }

    /// Serializes a record and calls `callback` with its outcome on the producer's callback
    /// thread (see [`Producer::send_with_callback`]).
    ///
    /// # Errors
    /// As [`TypedProducer::send`]; then the callback is not called.
    pub fn send_with_callback(
        &self,
        r: TypedRecord<'_, K, V>,
        callback: impl FnOnce(Result<RecordMetadata, DeliveryError>) + Send + 'static,
    ) -> Result<(), Error> {
        let record = self.serialize(r)?;
        Ok(self.producer.send_with_callback(record, callback)?)
    }

    /// See [`Producer::flush`].
    ///
    /// # Errors
    /// As [`Producer::flush`].
    pub fn flush(&self, timeout: Duration) -> Result<(), Error> {
        self.producer.flush(timeout)
    }

    /// See [`Producer::close`]; closes the producer for every clone and for the untyped
    /// producer underneath.
    ///
    /// # Errors
    /// As [`Producer::close`].
    pub fn close(&self, timeout: Duration) -> Result<(), Error> {
        self.producer.close(timeout)
    }
}
