//! Kafka primitive types: a bounded reader over received bytes and writers for requests.
//!
//! Every length read from the network is checked against the bytes that remain before
//! anything is allocated, so a hostile or corrupt frame yields a [`DecodeError`], never a
//! panic or a huge allocation.

use bytes::{Buf, BufMut, Bytes};

/// Why a frame or message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the field was complete.
    #[error("truncated input: needed {needed} more bytes while reading {what}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// How many bytes were missing.
        needed: usize,
    },
    /// A varint ran over its maximum width.
    #[error("varint too long while reading {0}")]
    VarintTooLong(&'static str),
    /// A length or count is negative where that is not allowed, or larger than the input.
    #[error("invalid length {len} for {what}")]
    InvalidLength {
        /// What was being read.
        what: &'static str,
        /// The length found.
        len: i64,
    },
    /// A string is not valid UTF-8.
    #[error("invalid UTF-8 in {0}")]
    InvalidUtf8(&'static str),
    /// A field has a value the protocol does not allow.
    #[error("invalid value for {what}: {detail}")]
    InvalidValue {
        /// What was being read.
        what: &'static str,
        /// Why it is invalid.
        detail: String,
    },
}

/// A cursor over received bytes that never reads past its end.
#[derive(Debug, Clone)]
pub struct Reader {
    buf: Bytes,
}

impl Reader {
    /// Wraps received bytes.
    #[must_use]
    pub fn new(buf: Bytes) -> Self {
        Self { buf }
    }

    /// Bytes not yet read.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.buf.remaining()
    }

    /// The unread bytes (cheap clone).
    #[must_use]
    pub fn rest(&self) -> Bytes {
        self.buf.clone()
    }

    fn need(&self, n: usize, what: &'static str) -> Result<(), DecodeError> {
        if self.buf.remaining() < n {
            Err(DecodeError::Truncated {
                what,
                needed: n - self.buf.remaining(),
            })
        } else {
            Ok(())
        }
    }

    /// Reads a big-endian `i8`.
    pub fn i8(&mut self, what: &'static str) -> Result<i8, DecodeError> {
        self.need(1, what)?;
        Ok(self.buf.get_i8())
    }
    /// Reads a big-endian `i16`.
    pub fn i16(&mut self, what: &'static str) -> Result<i16, DecodeError> {
        self.need(2, what)?;
        Ok(self.buf.get_i16())
    }
    /// Reads a big-endian `i32`.
    pub fn i32(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        self.need(4, what)?;
        Ok(self.buf.get_i32())
    }
    /// Reads a big-endian `u32`.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        self.need(4, what)?;
        Ok(self.buf.get_u32())
    }
    /// Reads a big-endian `i64`.
    pub fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        self.need(8, what)?;
        Ok(self.buf.get_i64())
    }

    /// Takes the next `n` bytes without copying.
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<Bytes, DecodeError> {
        self.need(n, what)?;
        Ok(self.buf.split_to(n))
    }

    /// Reads an unsigned varint (at most 5 bytes).
    pub fn uvarint(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let mut value: u32 = 0;
        for i in 0..5 {
            self.need(1, what)?;
            let b = self.buf.get_u8();
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::VarintTooLong(what))
    }

    /// Reads an unsigned varlong (at most 10 bytes).
    pub fn uvarlong(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let mut value: u64 = 0;
        for i in 0..10 {
            self.need(1, what)?;
            let b = self.buf.get_u8();
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::VarintTooLong(what))
    }

    /// Reads a zigzag-encoded signed varint.
    pub fn varint(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        let v = self.uvarint(what)?;
        Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
    }

    /// Reads a zigzag-encoded signed varlong.
    pub fn varlong(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        let v = self.uvarlong(what)?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// Reads a length and checks it against what remains (`-1` gives `None`).
    fn checked_len(&self, len: i64, what: &'static str) -> Result<Option<usize>, DecodeError> {
        if len == -1 {
            return Ok(None);
        }
        if len < 0 {
            return Err(DecodeError::InvalidLength { what, len });
        }
        let len = usize::try_from(len).map_err(|_| DecodeError::InvalidLength { what, len })?;
        self.need(len, what)?;
        Ok(Some(len))
    }

    /// Reads a nullable string (`flexible` selects the compact form).
    pub fn nullable_string(&mut self, flexible: bool, what: &'static str) -> Result<Option<String>, DecodeError> {
        let len = if flexible {
            i64::from(self.uvarint(what)?) - 1
        } else {
            i64::from(self.i16(what)?)
        };
        match self.checked_len(len, what)? {
            None => Ok(None),
            Some(n) => {
                let b = self.buf.split_to(n);
                String::from_utf8(b.to_vec())
                    .map(Some)
                    .map_err(|_| DecodeError::InvalidUtf8(what))
            }
        }
    }

    /// Reads a non-null string.
    pub fn string(&mut self, flexible: bool, what: &'static str) -> Result<String, DecodeError> {
        self.nullable_string(flexible, what)?
            .ok_or(DecodeError::InvalidLength { what, len: -1 })
    }

    /// Reads an array length (`None` for a null array). Each element needs at least
    /// `min_element_size` bytes, which bounds the count by the input length.
    pub fn array_len(
        &mut self,
        flexible: bool,
        min_element_size: usize,
        what: &'static str,
    ) -> Result<Option<usize>, DecodeError> {
        let len = if flexible {
            i64::from(self.uvarint(what)?) - 1
        } else {
            i64::from(self.i32(what)?)
        };
        if len == -1 {
            return Ok(None);
        }
        if len < 0 {
            return Err(DecodeError::InvalidLength { what, len });
        }
        let n = usize::try_from(len).map_err(|_| DecodeError::InvalidLength { what, len })?;
        if n.saturating_mul(min_element_size.max(1)) > self.remaining() {
            return Err(DecodeError::InvalidLength { what, len });
        }
        Ok(Some(n))
    }

    /// Skips a tagged-field section (flexible versions), returning the tags seen with
    /// their raw bytes.
    pub fn tagged_fields(&mut self, what: &'static str) -> Result<Vec<(u32, Bytes)>, DecodeError> {
        let count = self.uvarint(what)?;
        if count as usize > self.remaining() {
            return Err(DecodeError::InvalidLength {
                what,
                len: i64::from(count),
            });
        }
        let mut out = Vec::new();
        for _ in 0..count {
            let tag = self.uvarint(what)?;
            let size = self.uvarint(what)? as usize;
            out.push((tag, self.bytes(size, what)?));
        }
        Ok(out)
    }
}

/// Appends an unsigned varint.
pub fn put_uvarint(buf: &mut impl BufMut, mut v: u32) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Appends an unsigned varlong.
pub fn put_uvarlong(buf: &mut impl BufMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Appends a zigzag signed varint.
pub fn put_varint(buf: &mut impl BufMut, v: i32) {
    put_uvarint(buf, ((v << 1) ^ (v >> 31)) as u32);
}

/// Appends a zigzag signed varlong.
pub fn put_varlong(buf: &mut impl BufMut, v: i64) {
    put_uvarlong(buf, ((v << 1) ^ (v >> 63)) as u64);
}

/// Bytes a zigzag varint of `v` takes.
#[must_use]
pub fn varint_len(v: i32) -> usize {
    uvarint_len(((v << 1) ^ (v >> 31)) as u32)
}

/// Bytes an unsigned varint of `v` takes.
#[must_use]
pub fn uvarint_len(v: u32) -> usize {
    match v {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0xfff_ffff => 4,
        _ => 5,
    }
}

/// Bytes a zigzag varlong of `v` takes.
#[must_use]
pub fn varlong_len(v: i64) -> usize {
    let mut u = ((v << 1) ^ (v >> 63)) as u64;
    let mut n = 1;
    while u >= 0x80 {
        u >>= 7;
        n += 1;
    }
    n
}

/// Appends a string in the classic (`i16` length) or compact (uvarint length + 1) form.
pub fn put_string(buf: &mut impl BufMut, s: Option<&str>, flexible: bool) {
    match (s, flexible) {
        (None, false) => buf.put_i16(-1),
        (None, true) => put_uvarint(buf, 0),
        (Some(s), false) => {
            // Kafka strings are at most i16::MAX bytes; callers validate names earlier.
            buf.put_i16(i16::try_from(s.len()).unwrap_or(i16::MAX));
            buf.put_slice(&s.as_bytes()[..s.len().min(i16::MAX as usize)]);
        }
        (Some(s), true) => {
            put_uvarint(buf, u32::try_from(s.len() + 1).unwrap_or(u32::MAX));
            buf.put_slice(s.as_bytes());
        }
    }
}

/// Appends an array length in the classic or compact form.
pub fn put_array_len(buf: &mut impl BufMut, len: usize, flexible: bool) {
    if flexible {
        put_uvarint(buf, u32::try_from(len + 1).unwrap_or(u32::MAX));
    } else {
        buf.put_i32(i32::try_from(len).unwrap_or(i32::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varint_round_trip(v: i32) {
            let mut b = BytesMut::new();
            put_varint(&mut b, v);
            prop_assert_eq!(b.len(), varint_len(v));
            let mut r = Reader::new(b.freeze());
            prop_assert_eq!(r.varint("v").unwrap(), v);
            prop_assert_eq!(r.remaining(), 0);
        }

        #[test]
        fn varlong_round_trip(v: i64) {
            let mut b = BytesMut::new();
            put_varlong(&mut b, v);
            prop_assert_eq!(b.len(), varlong_len(v));
            let mut r = Reader::new(b.freeze());
            prop_assert_eq!(r.varlong("v").unwrap(), v);
        }

        #[test]
        fn reader_never_panics(data: Vec<u8>) {
            let mut r = Reader::new(Bytes::from(data));
            let _ = r.nullable_string(true, "s");
            let _ = r.array_len(false, 4, "a");
            let _ = r.tagged_fields("t");
            let _ = r.varlong("l");
        }
    }

    #[test]
    fn golden_varints() {
        let mut b = BytesMut::new();
        put_varint(&mut b, -1);
        put_varint(&mut b, 1);
        put_varint(&mut b, 300);
        assert_eq!(&b[..], &[0x01, 0x02, 0xd8, 0x04]);
    }

    #[test]
    fn too_long_varint_is_an_error() {
        let mut r = Reader::new(Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]));
        assert_eq!(r.uvarint("x"), Err(DecodeError::VarintTooLong("x")));
    }

    #[test]
    fn huge_array_count_is_rejected_before_allocating() {
        let mut r = Reader::new(Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff]));
        assert!(matches!(
            r.array_len(false, 4, "a"),
            Err(DecodeError::InvalidLength { .. })
        ));
    }
}
