//! RecordBatch v2 (magic 2): the builder the producer appends records to, and a decoder.
//!
//! The builder encodes each record straight into one growing buffer when it is appended
//! (no per-record allocation); the 61-byte header is reserved up front and written when the
//! batch is sealed, because the producer id, epoch and base sequence are only known when the
//! batch is drained for sending. Sealing compresses the records section if asked and
//! computes the CRC32C over everything after the CRC field. A sealed batch is immutable
//! [`Bytes`]: every retry sends exactly the same bytes (the idempotence rules depend on it).
//!
//! This is hand-written rather than taken from the `kafka-protocol` crate because it is the
//! per-record hot path: that crate builds an owned `Record` value per record and encodes in a
//! second pass.

use bytes::{BufMut, Bytes, BytesMut};

use crate::compression::{compress_into, decompress, Compression, CompressionError};
use crate::wire::{put_varint, put_varlong, varint_len, varlong_len, DecodeError, Reader};

/// Size of the RecordBatch v2 header.
pub const BATCH_HEADER_LEN: usize = 61;
/// Offset of the CRC field; the CRC covers everything after it.
const CRC_OFFSET: usize = 17;
const ATTRIBUTES_OFFSET: usize = 21;
/// Producer id of a non-idempotent producer.
pub const NO_PRODUCER_ID: i64 = -1;
/// Producer epoch of a non-idempotent producer.
pub const NO_PRODUCER_EPOCH: i16 = -1;
/// Base sequence of a non-idempotent producer.
pub const NO_SEQUENCE: i32 = -1;

/// One record header: a UTF-8 key and an optional value. Names may repeat; order is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header name.
    pub key: String,
    /// Header value (`None` is a null value).
    pub value: Option<Bytes>,
}

impl Header {
    /// A header with a value.
    pub fn new(key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        Self {
            key: key.into(),
            value: Some(value.into()),
        }
    }
}

/// The bytes one record takes inside a batch, including its length prefix.
#[must_use]
pub fn record_size(
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[Header],
) -> usize {
    let body = record_body_size(timestamp_delta, offset_delta, key, value, headers);
    varint_len(i32::try_from(body).unwrap_or(i32::MAX)) + body
}

fn bytes_field_size(b: Option<&[u8]>) -> usize {
    match b {
        None => 1,
        Some(b) => varint_len(i32::try_from(b.len()).unwrap_or(i32::MAX)) + b.len(),
    }
}

fn record_body_size(
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[Header],
) -> usize {
    let mut n = 1 + varlong_len(timestamp_delta) + varint_len(offset_delta);
    n += bytes_field_size(key) + bytes_field_size(value);
    n += varint_len(i32::try_from(headers.len()).unwrap_or(i32::MAX));
    for h in headers {
        n += bytes_field_size(Some(h.key.as_bytes())) + bytes_field_size(h.value.as_deref());
    }
    n
}

/// An upper bound of the bytes a batch with a single such record takes, used for the
/// client-side `max.request.size` check.
#[must_use]
pub fn single_record_batch_size(key: Option<&[u8]>, value: Option<&[u8]>, headers: &[Header]) -> usize {
    BATCH_HEADER_LEN + record_size(0, 0, key, value, headers)
}

/// An open batch that records are appended to. `Clone` copies its records (Volley does so
/// only on failure paths, to give records back).
#[derive(Debug, Clone)]
pub struct BatchBuilder {
    buf: BytesMut,
    count: i32,
    /// The largest record appended, in bytes (Java's `maxRecordSize`).
    max_record: usize,
    base_timestamp: i64,
    max_timestamp: i64,
}

impl BatchBuilder {
    /// Starts a batch whose buffer can hold `capacity` bytes before it grows.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        let mut buf = BytesMut::with_capacity(capacity.max(BATCH_HEADER_LEN));
        buf.put_bytes(0, BATCH_HEADER_LEN);
        Self {
            buf,
            count: 0,
            max_record: 0,
            base_timestamp: 0,
            max_timestamp: i64::MIN,
        }
    }

    /// Number of records appended.
    #[must_use]
    pub fn record_count(&self) -> i32 {
        self.count
    }

    /// The largest record appended so far, in bytes.
    #[must_use]
    pub fn max_record_size(&self) -> usize {
        self.max_record
    }

    /// Bytes the batch takes uncompressed, header included.
    #[must_use]
    pub fn size(&self) -> usize {
        self.buf.len()
    }

    /// Bytes the buffer holds before it must grow.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The base timestamp (the first record's), valid once a record was appended.
    #[must_use]
    pub fn base_timestamp(&self) -> i64 {
        self.base_timestamp
    }

    /// Bytes the next record would add.
    #[must_use]
    pub fn size_of_next(&self, timestamp: i64, key: Option<&[u8]>, value: Option<&[u8]>, headers: &[Header]) -> usize {
        let delta = if self.count == 0 {
            0
        } else {
            timestamp.wrapping_sub(self.base_timestamp)
        };
        record_size(delta, self.count, key, value, headers)
    }

    /// Appends a record; returns its offset delta within the batch.
    pub fn append(&mut self, timestamp: i64, key: Option<&[u8]>, value: Option<&[u8]>, headers: &[Header]) -> i32 {
        self.try_append(usize::MAX, timestamp, key, value, headers)
            .unwrap_or(self.count - 1)
    }

    /// Appends a record if the batch stays within `limit` bytes (a first record always goes
    /// in); returns its offset delta, or `None` if it does not fit. The record's size is
    /// computed once, for the check and the encoding.
    pub fn try_append(
        &mut self,
        limit: usize,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> Option<i32> {
        let base = if self.count == 0 {
            timestamp
        } else {
            self.base_timestamp
        };
        let delta = timestamp.wrapping_sub(base);
        let offset_delta = self.count;
        let body = record_body_size(delta, offset_delta, key, value, headers);
        let body_len = i32::try_from(body).unwrap_or(i32::MAX);
        if self.count > 0 && self.buf.len() + varint_len(body_len) + body > limit {
            return None;
        }
        self.base_timestamp = base;
        let buf = &mut self.buf;
        buf.reserve(body + 5);
        put_varint(buf, body_len);
        buf.put_i8(0);
        put_varlong(buf, delta);
        put_varint(buf, offset_delta);
        put_bytes_field(buf, key);
        put_bytes_field(buf, value);
        put_varint(buf, i32::try_from(headers.len()).unwrap_or(i32::MAX));
        for h in headers {
            put_bytes_field(buf, Some(h.key.as_bytes()));
            put_bytes_field(buf, h.value.as_deref());
        }
        self.max_timestamp = self.max_timestamp.max(timestamp);
        self.max_record = self.max_record.max(varint_len(body_len) + body);
        self.count += 1;
        Some(offset_delta)
    }

    /// Closes the batch: compresses the records section if asked and writes every header
    /// field except the producer id, epoch, base sequence and CRC. Compression is the bulk of
    /// the work of sealing, so it can run away from the task that assigns sequence numbers;
    /// [`ClosedBatch::seal`] then stamps and computes the CRC over the (compressed) bytes.
    ///
    /// # Errors
    /// The codec failed.
    pub fn close(
        self,
        compression: Compression,
        level: Option<i32>,
        transactional: bool,
    ) -> Result<ClosedBatch, CompressionError> {
        let uncompressed = self.buf.len();
        let mut buf = self.buf;
        let mut attributes = compression.attribute_bits();
        if transactional {
            attributes |= 0x10;
        }
        if compression != Compression::None {
            // Into a new buffer: the appending one (up to `max.request.size` for records that
            // compress well) is freed now rather than held until the batch is acknowledged.
            let records = buf.len() - BATCH_HEADER_LEN;
            let mut out = BytesMut::with_capacity(BATCH_HEADER_LEN + records / 4 + 64);
            out.extend_from_slice(&buf[..BATCH_HEADER_LEN]);
            compress_into(compression, level, &buf[BATCH_HEADER_LEN..], &mut out)?;
            buf = out;
        }
        let total = buf.len();
        let max_ts = if self.count == 0 {
            self.base_timestamp
        } else {
            self.max_timestamp
        };
        {
            let mut h = &mut buf[..BATCH_HEADER_LEN];
            h.put_i64(0); // base offset, assigned by the broker
            h.put_i32(i32::try_from(total - 12).unwrap_or(i32::MAX));
            h.put_i32(-1); // partition leader epoch
            h.put_i8(2); // magic
            h.put_u32(0); // CRC, when sealed
            h.put_i16(attributes);
            h.put_i32((self.count - 1).max(0));
            h.put_i64(self.base_timestamp);
            h.put_i64(max_ts);
            h.put_i64(NO_PRODUCER_ID);
            h.put_i16(NO_PRODUCER_EPOCH);
            h.put_i32(NO_SEQUENCE);
            h.put_i32(self.count);
        }
        Ok(ClosedBatch {
            buf,
            count: self.count,
            uncompressed,
            max_record: self.max_record,
        })
    }

    /// Closes and seals in one step (see [`BatchBuilder::close`] and [`ClosedBatch::seal`]).
    ///
    /// # Errors
    /// The codec failed.
    pub fn seal(self, params: &SealParams) -> Result<Bytes, CompressionError> {
        Ok(self
            .close(params.compression, params.level, params.transactional)?
            .seal(params.producer_id, params.producer_epoch, params.base_sequence))
    }
}

/// A batch whose bytes are final except for its producer id, epoch, base sequence and CRC
/// (see [`BatchBuilder::close`]). `Clone` copies its bytes.
#[derive(Debug, Clone)]
pub struct ClosedBatch {
    buf: BytesMut,
    count: i32,
    /// The size before compression, header included.
    uncompressed: usize,
    max_record: usize,
}

impl ClosedBatch {
    /// The largest record of the batch, in bytes (uncompressed, as encoded in the batch).
    #[must_use]
    pub fn max_record_size(&self) -> usize {
        self.max_record
    }

    /// Number of records.
    #[must_use]
    pub fn record_count(&self) -> i32 {
        self.count
    }

    /// Bytes the batch takes on the wire.
    #[must_use]
    pub fn size(&self) -> usize {
        self.buf.len()
    }

    /// Compressed records bytes per uncompressed records byte (1.0 without compression).
    #[must_use]
    pub fn compression_ratio(&self) -> f32 {
        let before = self.uncompressed.saturating_sub(BATCH_HEADER_LEN);
        if before == 0 {
            return 1.0;
        }
        #[allow(clippy::cast_precision_loss)]
        let ratio = (self.buf.len() - BATCH_HEADER_LEN) as f32 / before as f32;
        ratio
    }

    /// Stamps the producer id, epoch and first sequence and writes the CRC. The CRC runs
    /// over the batch as sent (compressed records are few bytes); computing the records'
    /// part when closing and combining it here was tried and measured slower: the crc32c
    /// crate's combine took a quarter of the sender's time with uncompressed 64 KiB batches.
    #[must_use]
    pub fn seal(self, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> Bytes {
        let mut buf = self.buf;
        stamp(&mut buf, producer_id, producer_epoch, base_sequence);
        buf.freeze()
    }
}

/// Writes the producer id, epoch and base sequence into a whole batch and then its CRC32C
/// (which covers them).
fn stamp(batch: &mut [u8], producer_id: i64, producer_epoch: i16, base_sequence: i32) {
    batch[43..51].copy_from_slice(&producer_id.to_be_bytes());
    batch[51..53].copy_from_slice(&producer_epoch.to_be_bytes());
    batch[53..57].copy_from_slice(&base_sequence.to_be_bytes());
    let crc = crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..]);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

fn put_bytes_field(buf: &mut BytesMut, b: Option<&[u8]>) {
    match b {
        None => put_varint(buf, -1),
        Some(b) => {
            put_varint(buf, i32::try_from(b.len()).unwrap_or(i32::MAX));
            buf.put_slice(b);
        }
    }
}

/// What is stamped on a batch when it is sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealParams {
    /// Codec for the records section.
    pub compression: Compression,
    /// Codec level (`None` = the codec's default).
    pub level: Option<i32>,
    /// Producer id, or [`NO_PRODUCER_ID`].
    pub producer_id: i64,
    /// Producer epoch, or [`NO_PRODUCER_EPOCH`].
    pub producer_epoch: i16,
    /// Sequence of the first record, or [`NO_SEQUENCE`].
    pub base_sequence: i32,
    /// Whether the batch belongs to a transaction.
    pub transactional: bool,
}

impl Default for SealParams {
    fn default() -> Self {
        Self {
            compression: Compression::None,
            level: None,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            base_sequence: NO_SEQUENCE,
            transactional: false,
        }
    }
}

/// A record read back from a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedRecord {
    /// Absolute offset (base offset + delta).
    pub offset: i64,
    /// Absolute timestamp.
    pub timestamp: i64,
    /// Key, if any.
    pub key: Option<Bytes>,
    /// Value, if any.
    pub value: Option<Bytes>,
    /// Headers in order.
    pub headers: Vec<Header>,
}

/// A batch read back, with its header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedBatch {
    /// Base offset.
    pub base_offset: i64,
    /// Attributes.
    pub attributes: i16,
    /// Last offset delta.
    pub last_offset_delta: i32,
    /// Base timestamp.
    pub base_timestamp: i64,
    /// Max timestamp.
    pub max_timestamp: i64,
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// Base sequence.
    pub base_sequence: i32,
    /// Records.
    pub records: Vec<DecodedRecord>,
}

/// Decodes every batch in `data` (a Produce partition's `records` field or a log segment),
/// verifying magic and CRC32C. Decompressed sizes are bounded by `max_decompressed`.
///
/// # Errors
/// Any malformed or corrupt input.
pub fn decode_batches(data: Bytes, max_decompressed: usize) -> Result<Vec<DecodedBatch>, DecodeError> {
    let mut r = Reader::new(data);
    let mut out = Vec::new();
    while r.remaining() > 0 {
        let base_offset = r.i64("base offset")?;
        let len = r.i32("batch length")?;
        let len = usize::try_from(len).map_err(|_| DecodeError::InvalidLength {
            what: "batch length",
            len: i64::from(len),
        })?;
        if len < BATCH_HEADER_LEN - 12 {
            return Err(DecodeError::InvalidLength {
                what: "batch length",
                len: len as i64,
            });
        }
        let mut b = Reader::new(r.bytes(len, "batch")?);
        let _leader_epoch = b.i32("partition leader epoch")?;
        let magic = b.i8("magic")?;
        if magic != 2 {
            return Err(DecodeError::InvalidValue {
                what: "magic",
                detail: format!("{magic} (only 2 is supported)"),
            });
        }
        let crc = b.u32("crc")?;
        let covered = b.rest();
        let actual = crc32c::crc32c(&covered);
        if crc != actual {
            return Err(DecodeError::InvalidValue {
                what: "crc",
                detail: format!("stored {crc:#010x}, computed {actual:#010x}"),
            });
        }
        let attributes = b.i16("attributes")?;
        let last_offset_delta = b.i32("last offset delta")?;
        let base_timestamp = b.i64("base timestamp")?;
        let max_timestamp = b.i64("max timestamp")?;
        let producer_id = b.i64("producer id")?;
        let producer_epoch = b.i16("producer epoch")?;
        let base_sequence = b.i32("base sequence")?;
        let count = b.i32("record count")?;
        let codec = Compression::from_attribute_bits(attributes).ok_or_else(|| DecodeError::InvalidValue {
            what: "compression",
            detail: format!("attribute bits {}", attributes & 7),
        })?;
        let records_bytes = if codec == Compression::None {
            b.rest()
        } else {
            Bytes::from(
                decompress(codec, &b.rest(), max_decompressed).map_err(|e| DecodeError::InvalidValue {
                    what: "compressed records",
                    detail: e.to_string(),
                })?,
            )
        };
        let mut rr = Reader::new(records_bytes);
        let n = usize::try_from(count).map_err(|_| DecodeError::InvalidLength {
            what: "record count",
            len: i64::from(count),
        })?;
        if n > rr.remaining() {
            return Err(DecodeError::InvalidLength {
                what: "record count",
                len: i64::from(count),
            });
        }
        let mut records = Vec::with_capacity(n);
        for _ in 0..n {
            let rlen = rr.varint("record length")?;
            let rlen = usize::try_from(rlen).map_err(|_| DecodeError::InvalidLength {
                what: "record length",
                len: i64::from(rlen),
            })?;
            let mut rec = Reader::new(rr.bytes(rlen, "record")?);
            let _attr = rec.i8("record attributes")?;
            let ts_delta = rec.varlong("timestamp delta")?;
            let off_delta = rec.varint("offset delta")?;
            let key = read_bytes_field(&mut rec, "key")?;
            let value = read_bytes_field(&mut rec, "value")?;
            let hcount = rec.varint("header count")?;
            let hcount = usize::try_from(hcount).map_err(|_| DecodeError::InvalidLength {
                what: "header count",
                len: i64::from(hcount),
            })?;
            if hcount > rec.remaining() {
                return Err(DecodeError::InvalidLength {
                    what: "header count",
                    len: hcount as i64,
                });
            }
            let mut headers = Vec::with_capacity(hcount);
            for _ in 0..hcount {
                let k = read_bytes_field(&mut rec, "header key")?.ok_or(DecodeError::InvalidLength {
                    what: "header key",
                    len: -1,
                })?;
                let key = String::from_utf8(k.to_vec()).map_err(|_| DecodeError::InvalidUtf8("header key"))?;
                let value = read_bytes_field(&mut rec, "header value")?;
                headers.push(Header { key, value });
            }
            records.push(DecodedRecord {
                offset: base_offset + i64::from(off_delta),
                timestamp: base_timestamp.wrapping_add(ts_delta),
                key,
                value,
                headers,
            });
        }
        out.push(DecodedBatch {
            base_offset,
            attributes,
            last_offset_delta,
            base_timestamp,
            max_timestamp,
            producer_id,
            producer_epoch,
            base_sequence,
            records,
        });
    }
    Ok(out)
}

fn read_bytes_field(r: &mut Reader, what: &'static str) -> Result<Option<Bytes>, DecodeError> {
    let len = r.varint(what)?;
    if len == -1 {
        return Ok(None);
    }
    let n = usize::try_from(len).map_err(|_| DecodeError::InvalidLength {
        what,
        len: i64::from(len),
    })?;
    r.bytes(n, what).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn params(c: Compression) -> SealParams {
        SealParams {
            compression: c,
            producer_id: 7,
            producer_epoch: 1,
            base_sequence: 42,
            ..SealParams::default()
        }
    }

    /// Golden bytes: one record (key "k", value "v", no headers) at timestamp 1000,
    /// producer id 7, epoch 1, sequence 42, uncompressed. The CRC was cross-checked by
    /// decoding with the `kafka-protocol` crate (see `kafka_protocol_decodes_our_batches`).
    #[test]
    fn golden_single_record() {
        let mut b = BatchBuilder::with_capacity(128);
        b.append(1000, Some(b"k"), Some(b"v"), &[]);
        let bytes = b.seal(&params(Compression::None)).unwrap();
        let expected_records: &[u8] = &[
            0x10, // length 8 (zigzag)
            0x00, // attributes
            0x00, // timestamp delta
            0x00, // offset delta
            0x02, b'k', 0x02, b'v', 0x00,
        ];
        assert_eq!(&bytes[BATCH_HEADER_LEN..], expected_records);
        assert_eq!(&bytes[8..12], &(61 - 12 + 9i32).to_be_bytes());
        assert_eq!(bytes[16], 2);
        assert_eq!(&bytes[43..51], &7i64.to_be_bytes());
        assert_eq!(&bytes[53..57], &42i32.to_be_bytes());
        assert_eq!(&bytes[57..61], &1i32.to_be_bytes());
    }

    fn kafka_protocol_decode(bytes: &Bytes) -> Vec<kafka_protocol::records::Record> {
        let mut b = bytes.clone();
        kafka_protocol::records::RecordBatchDecoder::decode(&mut b)
            .unwrap()
            .records
    }

    type Rec = (i64, Option<Vec<u8>>, Option<Vec<u8>>, Vec<(String, Option<Vec<u8>>)>);

    fn arb_record() -> impl Strategy<Value = Rec> {
        (
            0i64..4_000_000_000_000,
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..512)),
            proptest::collection::vec(
                (
                    "[a-z]{0,8}",
                    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16)),
                ),
                0..3,
            ),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Our encoder, checked against an independent decoder (the `kafka-protocol` crate)
        /// and our own, for every codec.
        #[test]
        fn kafka_protocol_decodes_our_batches(recs in proptest::collection::vec(arb_record(), 1..20), codec in 0usize..5) {
            let c = [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd][codec];
            let mut b = BatchBuilder::with_capacity(64);
            let mut predicted = BATCH_HEADER_LEN;
            for (ts, k, v, h) in &recs {
                let headers: Vec<Header> = h.iter().map(|(k, v)| Header { key: k.clone(), value: v.clone().map(Bytes::from) }).collect();
                predicted += b.size_of_next(*ts, k.as_deref(), v.as_deref(), &headers);
                b.append(*ts, k.as_deref(), v.as_deref(), &headers);
            }
            prop_assert_eq!(b.size(), predicted);
            let sealed = b.seal(&params(c)).unwrap();
            let theirs = kafka_protocol_decode(&sealed);
            let ours = decode_batches(sealed, 1 << 24).unwrap();
            prop_assert_eq!(theirs.len(), recs.len());
            prop_assert_eq!(ours[0].records.len(), recs.len());
            for (i, (ts, k, v, h)) in recs.iter().enumerate() {
                let t = &theirs[i];
                prop_assert_eq!(t.timestamp, *ts);
                prop_assert_eq!(t.offset, i as i64);
                prop_assert_eq!(t.key.as_deref(), k.as_deref());
                prop_assert_eq!(t.value.as_deref(), v.as_deref());
                prop_assert_eq!(t.sequence, 42 + i as i32);
                prop_assert_eq!(t.producer_id, 7);
                let o = &ours[0].records[i];
                prop_assert_eq!(o.timestamp, *ts);
                prop_assert_eq!(o.key.as_deref(), k.as_deref());
                prop_assert_eq!(o.value.as_deref(), v.as_deref());
                prop_assert_eq!(o.headers.len(), h.len());
                for (j, (hk, hv)) in h.iter().enumerate() {
                    prop_assert_eq!(&o.headers[j].key, hk);
                    prop_assert_eq!(o.headers[j].value.as_deref(), hv.as_deref());
                }
            }
        }

        #[test]
        fn decoder_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_batches(Bytes::from(data), 1 << 20);
        }
    }

    #[test]
    fn corrupt_crc_is_detected() {
        let mut b = BatchBuilder::with_capacity(64);
        b.append(1, None, Some(b"x"), &[]);
        let mut v = b.seal(&SealParams::default()).unwrap().to_vec();
        let last = v.len() - 2;
        v[last] ^= 1;
        let e = decode_batches(Bytes::from(v), 1 << 20).unwrap_err();
        assert!(matches!(e, DecodeError::InvalidValue { what: "crc", .. }));
    }
}

/// Re-stamps a sealed batch with a new producer id, epoch and base sequence, recomputing
/// the CRC. Only for a batch that was certainly not written (RELIABILITY.md rule 2): the
/// records section, compressed or not, is unchanged.
///
/// # Errors
/// The input is shorter than a batch header.
pub fn restamp(batch: &Bytes, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> Result<Bytes, DecodeError> {
    if batch.len() < BATCH_HEADER_LEN {
        return Err(DecodeError::Truncated {
            what: "batch header",
            needed: BATCH_HEADER_LEN - batch.len(),
        });
    }
    let mut b = BytesMut::from(&batch[..]);
    stamp(&mut b, producer_id, producer_epoch, base_sequence);
    Ok(b.freeze())
}

#[cfg(test)]
mod restamp_tests {
    use super::*;

    #[test]
    fn restamped_batch_decodes_with_new_identity() {
        let mut b = BatchBuilder::with_capacity(64);
        b.append(5, Some(b"k"), Some(b"v"), &[]);
        b.append(6, None, Some(b"w"), &[]);
        let sealed = b
            .seal(&SealParams {
                compression: Compression::Zstd,
                producer_id: 1,
                producer_epoch: 0,
                base_sequence: 10,
                transactional: false,
                level: None,
            })
            .unwrap();
        let again = restamp(&sealed, 9, 3, 0).unwrap();
        let d = &decode_batches(again, 1 << 20).unwrap()[0];
        assert_eq!((d.producer_id, d.producer_epoch, d.base_sequence), (9, 3, 0));
        assert_eq!(d.records[1].value.as_deref(), Some(&b"w"[..]));
        assert!(restamp(&Bytes::from_static(b"short"), 1, 1, 1).is_err());
    }

    #[test]
    fn a_closed_then_sealed_batch_has_the_crc_of_its_bytes() {
        for codec in Compression::ALL {
            let mut b = BatchBuilder::with_capacity(256);
            for i in 0..50u8 {
                b.append(i64::from(i), Some(&[i; 3]), Some(&[b'A' + i % 26; 40]), &[]);
            }
            let closed = b.close(codec, None, false).unwrap();
            assert_eq!(closed.record_count(), 50);
            let size = closed.size();
            let sealed = closed.seal(77, 2, 1_000);
            assert_eq!(sealed.len(), size);
            let whole = crc32c::crc32c(&sealed[ATTRIBUTES_OFFSET..]);
            assert_eq!(&sealed[CRC_OFFSET..CRC_OFFSET + 4], &whole.to_be_bytes(), "{codec:?}");
            let d = &decode_batches(sealed, 1 << 20).unwrap()[0];
            assert_eq!((d.producer_id, d.producer_epoch, d.base_sequence), (77, 2, 1_000));
            assert_eq!(d.records.len(), 50);
        }
    }
}
