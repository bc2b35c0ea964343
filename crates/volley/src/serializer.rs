//! Serializers: how keys and values become record bytes. [`crate::TypedProducer`] wires a
//! key and a value serializer into a producer; `volley_schema` adds Avro and JSON Schema.

use bytes::Bytes;

use crate::error::Error;

/// Turns values into bytes for records.
///
/// Implement it for your own formats; `Send + Sync` lets one serializer serve every task
/// and thread that shares the producer.
///
/// ```
/// use bytes::Bytes;
/// use volley::{Error, Serializer};
///
/// /// Big-endian u64 keys.
/// struct U64Key;
/// impl Serializer<u64> for U64Key {
///     fn serialize(&self, _topic: &str, value: &u64) -> Result<Bytes, Error> {
///         Ok(Bytes::copy_from_slice(&value.to_be_bytes()))
///     }
/// }
/// assert_eq!(U64Key.serialize("t", &1).unwrap().len(), 8);
/// ```
pub trait Serializer<T: ?Sized> {
    /// Serializes `value` for `topic`.
    ///
    /// # Errors
    /// [`Error::Serialization`] when the value cannot be represented.
    fn serialize(&self, topic: &str, value: &T) -> Result<Bytes, Error>;
}

/// Bytes as they are.
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesSerializer;

impl<T: AsRef<[u8]> + ?Sized> Serializer<T> for BytesSerializer {
    fn serialize(&self, _topic: &str, value: &T) -> Result<Bytes, Error> {
        Ok(Bytes::copy_from_slice(value.as_ref()))
    }
}

/// UTF-8 strings.
#[derive(Debug, Clone, Copy, Default)]
pub struct StringSerializer;

impl<T: AsRef<str> + ?Sized> Serializer<T> for StringSerializer {
    fn serialize(&self, _topic: &str, value: &T) -> Result<Bytes, Error> {
        Ok(Bytes::copy_from_slice(value.as_ref().as_bytes()))
    }
}

/// Compact JSON via serde.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonSerializer;

impl<T: serde::Serialize + ?Sized> Serializer<T> for JsonSerializer {
    fn serialize(&self, _topic: &str, value: &T) -> Result<Bytes, Error> {
        serde_json::to_vec(value)
            .map(Bytes::from)
            .map_err(|e| Error::Serialization(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializers() {
        assert_eq!(StringSerializer.serialize("t", "hé").unwrap(), Bytes::from("hé"));
        assert_eq!(
            BytesSerializer.serialize("t", &[1u8, 2][..]).unwrap(),
            Bytes::from_static(&[1, 2])
        );
        let v = serde_json::json!({"user_id": 7, "action": "click"});
        assert_eq!(
            JsonSerializer.serialize("t", &v).unwrap(),
            Bytes::from(r#"{"action":"click","user_id":7}"#)
        );
    }
}
