//! Typed producing: a [`Producer`] with a key and a value serializer wired in.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::Producer;
use crate::error::{DeliveryError, Error};
use crate::record::{DeliveryFuture, Header, ProducerRecord, RecordMetadata};
use crate::serializer::Serializer;

/// A record of typed key and value, borrowed for the send (the caller keeps them: nothing
/// needs to be given back when a send fails).
#[derive(Debug)]
pub struct TypedRecord<'a, K: ?Sized, V: ?Sized> {
    /// Topic.
    pub topic: &'a str,
    /// Explicit partition, or `None` for the partitioner's choice.
    pub partition: Option<i32>,
    /// Key, or `None` for a keyless record.
    pub key: Option<&'a K>,
    /// Value, or `None` for a tombstone.
    pub value: Option<&'a V>,
    /// Headers.
    pub headers: Vec<Header>,
    /// CreateTime in ms since the epoch, or `None` for now.
    pub timestamp: Option<i64>,
}

impl<'a, K: ?Sized, V: ?Sized> TypedRecord<'a, K, V> {
    /// A keyless record.
    #[must_use]
    pub fn new(topic: &'a str, value: &'a V) -> Self {
        Self {
            topic,
            partition: None,
            key: None,
            value: Some(value),
            headers: Vec::new(),
            timestamp: None,
        }
    }
    /// A tombstone (null value) for `key`.
    #[must_use]
    pub fn tombstone(topic: &'a str, key: &'a K) -> Self {
        Self {
            topic,
            partition: None,
            key: Some(key),
            value: None,
            headers: Vec::new(),
            timestamp: None,
        }
    }
    /// Sets the key.
    #[must_use]
    pub fn key(mut self, key: &'a K) -> Self {
        self.key = Some(key);
        self
    }
    /// Sets an explicit partition.
    #[must_use]
    pub fn partition(mut self, p: i32) -> Self {
        self.partition = Some(p);
        self
    }
    /// Adds a header.
    #[must_use]
    pub fn header(mut self, key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.headers.push(Header::new(key, value));
        self
    }
    /// Sets the timestamp (ms since the epoch).
    #[must_use]
    pub fn timestamp(mut self, ms: i64) -> Self {
        self.timestamp = Some(ms);
        self
    }
}

/// A [`Producer`] that serializes keys of type `K` and values of type `V` (Java's
/// `KafkaProducer<K, V>`). The untyped producer stays available
/// ([`TypedProducer::producer`]), for example to resend a record a [`DeliveryError`] gave
/// back, which is already serialized.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use volley::{JsonSerializer, Producer, ProducerConfig, StringSerializer, TypedRecord};
/// #[derive(serde::Serialize)]
/// struct Click { user: String, page: String }
///
/// let config = ProducerConfig::builder().bootstrap_servers("127.0.0.1:9092").build()?;
/// let producer = Producer::builder(config).typed::<str, Click>(StringSerializer, JsonSerializer)?;
/// let click = Click { user: "alice".into(), page: "/".into() };
/// let meta = producer.send_and_wait(TypedRecord::new("clicks", &click).key("alice")).await?;
/// # Ok(()) }
/// ```
pub struct TypedProducer<K: ?Sized, V: ?Sized> {
    producer: Arc<Producer>,
    key: Arc<dyn Serializer<K> + Send + Sync>,
    value: Arc<dyn Serializer<V> + Send + Sync>,
}

impl<K: ?Sized, V: ?Sized> Clone for TypedProducer<K, V> {
    fn clone(&self) -> Self {
        Self {
            producer: Arc::clone(&self.producer),
            key: Arc::clone(&self.key),
            value: Arc::clone(&self.value),
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
    /// Wires serializers into a producer.
    pub fn new(
        producer: Producer,
        key: impl Serializer<K> + Send + Sync + 'static,
        value: impl Serializer<V> + Send + Sync + 'static,
    ) -> Self {
        Self::from_shared(Arc::new(producer), key, value)
    }

    /// Wires serializers into a shared producer (several typed views of one producer).
    pub fn from_shared(
        producer: Arc<Producer>,
        key: impl Serializer<K> + Send + Sync + 'static,
        value: impl Serializer<V> + Send + Sync + 'static,
    ) -> Self {
        Self {
            producer,
            key: Arc::new(key),
            value: Arc::new(value),
        }
    }

    /// The untyped producer underneath.
    #[must_use]
    pub fn producer(&self) -> &Arc<Producer> {
        &self.producer
    }

    /// Serializes a record's key and value.
    ///
    /// # Errors
    /// [`Error::Serialization`] from either serializer.
    pub fn serialize(&self, r: TypedRecord<'_, K, V>) -> Result<ProducerRecord, Error> {
        let key = r.key.map(|k| self.key.serialize(r.topic, k)).transpose()?;
        let value = r.value.map(|v| self.value.serialize(r.topic, v)).transpose()?;
        Ok(ProducerRecord {
            topic: r.topic.to_owned(),
            partition: r.partition,
            key,
            value,
            headers: r.headers,
            timestamp: r.timestamp,
        })
    }

    /// Serializes and queues a record (see [`Producer::send`]).
    ///
    /// # Errors
    /// A serializer's [`Error::Serialization`], or what [`Producer::send`] fails with (the
    /// typed record is the caller's still, so the serialized one is not given back).
    pub async fn send(&self, r: TypedRecord<'_, K, V>) -> Result<DeliveryFuture, Error> {
        let record = self.serialize(r)?;
        Ok(self.producer.send(record).await?)
    }

    /// Serializes a record and waits for its outcome (see [`Producer::send_and_wait`]).
    ///
    /// # Errors
    /// A [`DeliveryError`]; a serialization failure is a not-persisted one without a record.
    pub async fn send_and_wait(&self, r: TypedRecord<'_, K, V>) -> Result<RecordMetadata, DeliveryError> {
        let record = self.serialize(r).map_err(DeliveryError::not_persisted)?;
        self.producer.send_and_wait(record).await
    }

    /// Serializes a record and calls `callback` with its outcome (see
    /// [`Producer::send_with_callback`]).
    ///
    /// # Errors
    /// As [`TypedProducer::send`]; then the callback is not called.
    pub async fn send_with_callback(
        &self,
        r: TypedRecord<'_, K, V>,
        callback: impl FnOnce(Result<RecordMetadata, DeliveryError>) + Send + 'static,
    ) -> Result<(), Error> {
        let record = self.serialize(r)?;
        Ok(self.producer.send_with_callback(record, callback).await?)
    }

    /// See [`Producer::flush`].
    pub async fn flush(&self) {
        self.producer.flush().await;
    }

    /// See [`Producer::close`].
    pub async fn close(&self, timeout: Duration) {
        self.producer.close(timeout).await;
    }
}
