//! The compression codecs of Kafka record batches.
//!
//! Compression covers the records section of a batch only. Snappy uses the xerial framing
//! that the Java client writes (the `snap` crate's own frame format is different, so its raw
//! encoder is wrapped here); lz4 uses the LZ4 frame format.

use std::io::{Read, Write};

use bytes::BufMut;

/// A batch compression codec, as stored in the low three bits of the batch attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression.
    #[default]
    None,
    /// gzip (deflate), level 1..=9 or -1 for the default (6).
    Gzip,
    /// Snappy in xerial framing.
    Snappy,
    /// LZ4 frame format (fast mode).
    Lz4,
    /// Zstandard.
    Zstd,
}

impl Compression {
    /// Every codec, `None` first.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The attribute bits of this codec.
    #[must_use]
    pub fn attribute_bits(self) -> i16 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// The codec named by attribute bits.
    #[must_use]
    pub fn from_attribute_bits(bits: i16) -> Option<Self> {
        Some(match bits & 0x07 {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            _ => return None,
        })
    }

    /// Kafka's name (`none`, `gzip`, `snappy`, `lz4`, `zstd`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// Compression or decompression failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompressionError {
    /// The codec library reported an error.
    #[error("{codec} failed: {detail}")]
    Codec {
        /// Codec name.
        codec: &'static str,
        /// Library message.
        detail: String,
    },
    /// Decompressed output would exceed the allowed size.
    #[error("decompressed data exceeds {0} bytes")]
    TooLarge(usize),
}

fn err(codec: Compression, e: impl std::fmt::Display) -> CompressionError {
    CompressionError::Codec {
        codec: codec.name(),
        detail: e.to_string(),
    }
}

const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const XERIAL_BLOCK: usize = 32 * 1024;

/// The LZ4 frame header Kafka's Java client writes: magic, FLG (version 1, independent
/// blocks, no block or content checksum, no content size), BD (64 KiB blocks) and the
/// header checksum (second byte of the xxHash32 of FLG and BD), constant for these flags.
const LZ4_FRAME_HEADER: [u8; 7] = [0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82];
const LZ4_BLOCK: usize = 64 * 1024;
/// Set in a block's size when the block is stored uncompressed.
const LZ4_UNCOMPRESSED: u32 = 0x8000_0000;

thread_local! {
    /// One block's compressed output, reused: a fresh encoder per batch allocated (and the
    /// kernel zeroed) about 200 KiB of buffers each time, a sixth of the producer's CPU with
    /// 1 KiB values.
    static LZ4_SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Writes `input` as an LZ4 frame of independent 64 KiB blocks, each compressed by
/// `lz4_flex`'s block compressor (or stored, if that is not smaller).
fn lz4_frame(input: &[u8], out: &mut impl BufMut) -> Result<(), CompressionError> {
    out.put_slice(&LZ4_FRAME_HEADER);
    LZ4_SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        let need = lz4_flex::block::get_maximum_output_size(LZ4_BLOCK);
        if scratch.len() < need {
            scratch.resize(need, 0);
        }
        for block in input.chunks(LZ4_BLOCK) {
            let n = lz4_flex::block::compress_into(block, &mut scratch).map_err(|e| err(Compression::Lz4, e))?;
            // Both lengths are at most 64 KiB plus a little.
            if n < block.len() {
                out.put_u32_le(u32::try_from(n).unwrap_or(u32::MAX));
                out.put_slice(&scratch[..n]);
            } else {
                out.put_u32_le(u32::try_from(block.len()).unwrap_or(0) | LZ4_UNCOMPRESSED);
                out.put_slice(block);
            }
        }
        Ok::<(), CompressionError>(())
    })?;
    out.put_u32_le(0); // end mark
    Ok(())
}

/// Compresses `input` with `codec` at `level` (`None` = the codec's default), appending to
/// `out`.
///
/// # Errors
/// A codec failure.
pub fn compress_into(
    codec: Compression,
    level: Option<i32>,
    input: &[u8],
    out: &mut impl BufMut,
) -> Result<(), CompressionError> {
    match codec {
        Compression::None => out.put_slice(input),
        Compression::Gzip => {
            let lvl = match level {
                None | Some(-1) => flate2::Compression::default(),
                Some(l) => flate2::Compression::new(u32::try_from(l.clamp(0, 9)).unwrap_or(6)),
            };
            let mut enc = flate2::write::GzEncoder::new(out.writer(), lvl);
            enc.write_all(input).map_err(|e| err(codec, e))?;
            enc.finish().map_err(|e| err(codec, e))?;
        }
        Compression::Snappy => {
            out.put_slice(&XERIAL_MAGIC);
            out.put_i32(1);
            out.put_i32(1);
            let mut enc = snap::raw::Encoder::new();
            let mut block = vec![0u8; snap::raw::max_compress_len(XERIAL_BLOCK)];
            for chunk in input.chunks(XERIAL_BLOCK) {
                let n = enc.compress(chunk, &mut block).map_err(|e| err(codec, e))?;
                out.put_u32(u32::try_from(n).unwrap_or(u32::MAX));
                out.put_slice(&block[..n]);
            }
        }
        Compression::Lz4 => lz4_frame(input, out)?,
        Compression::Zstd => {
            out.put_slice(&zstd::bulk::compress(input, level.unwrap_or(3)).map_err(|e| err(codec, e))?);
        }
    }
    Ok(())
}

/// Compresses `input` with `codec` at `level` (`None` = the codec's default).
///
/// # Errors
/// A codec failure.
pub fn compress(codec: Compression, level: Option<i32>, input: &[u8]) -> Result<Vec<u8>, CompressionError> {
    let mut out = Vec::with_capacity(input.len() / 2 + 64);
    compress_into(codec, level, input, &mut out)?;
    Ok(out)
}

/// Decompresses `input`, refusing to produce more than `max_out` bytes.
///
/// # Errors
/// A codec failure or output over `max_out`.
pub fn decompress(codec: Compression, input: &[u8], max_out: usize) -> Result<Vec<u8>, CompressionError> {
    fn read_bounded(mut r: impl Read, codec: Compression, max_out: usize) -> Result<Vec<u8>, CompressionError> {
        let mut out = Vec::new();
        let limit = u64::try_from(max_out).unwrap_or(u64::MAX).saturating_add(1);
        (&mut r).take(limit).read_to_end(&mut out).map_err(|e| err(codec, e))?;
        if out.len() > max_out {
            return Err(CompressionError::TooLarge(max_out));
        }
        Ok(out)
    }
    match codec {
        Compression::None => Ok(input.to_vec()),
        Compression::Gzip => read_bounded(flate2::read::GzDecoder::new(input), codec, max_out),
        Compression::Lz4 => read_bounded(lz4_flex::frame::FrameDecoder::new(input), codec, max_out),
        Compression::Zstd => read_bounded(
            zstd::stream::read::Decoder::new(input).map_err(|e| err(codec, e))?,
            codec,
            max_out,
        ),
        Compression::Snappy => {
            let mut dec = snap::raw::Decoder::new();
            if input.len() >= 16 && input[..8] == XERIAL_MAGIC {
                let mut out = Vec::new();
                let mut rest = &input[16..];
                while !rest.is_empty() {
                    if rest.len() < 4 {
                        return Err(err(codec, "truncated xerial block header"));
                    }
                    let n = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                    rest = &rest[4..];
                    if n > rest.len() {
                        return Err(err(codec, "truncated xerial block"));
                    }
                    let block = &rest[..n];
                    let len = snap::raw::decompress_len(block).map_err(|e| err(codec, e))?;
                    if out.len() + len > max_out {
                        return Err(CompressionError::TooLarge(max_out));
                    }
                    out.extend_from_slice(&dec.decompress_vec(block).map_err(|e| err(codec, e))?);
                    rest = &rest[n..];
                }
                Ok(out)
            } else {
                let len = snap::raw::decompress_len(input).map_err(|e| err(codec, e))?;
                if len > max_out {
                    return Err(CompressionError::TooLarge(max_out));
                }
                dec.decompress_vec(input).map_err(|e| err(codec, e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..100_000)) {
            for c in Compression::ALL {
                let z = compress(c, None, &data).unwrap();
                prop_assert_eq!(decompress(c, &z, data.len()).unwrap(), data.clone());
            }
        }
    }

    #[test]
    fn xerial_header_is_what_java_writes() {
        let z = compress(Compression::Snappy, None, b"hello").unwrap();
        assert_eq!(
            &z[..16],
            &[0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1]
        );
    }

    #[test]
    fn decompression_bomb_is_bounded() {
        let data = vec![0u8; 1_000_000];
        for c in &Compression::ALL[1..] {
            let c = *c;
            let z = compress(c, None, &data).unwrap();
            assert!(decompress(c, &z, 1000).is_err(), "{c:?}");
        }
    }

    #[test]
    fn lz4_frames_match_the_reference_header_and_store_incompressible_blocks() {
        // The header lz4_flex's own frame encoder writes for the same settings.
        let info = lz4_flex::frame::FrameInfo::new()
            .block_size(lz4_flex::frame::BlockSize::Max64KB)
            .block_mode(lz4_flex::frame::BlockMode::Independent);
        let mut reference = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
        reference.write_all(b"x").unwrap();
        let reference = reference.finish().unwrap();
        assert_eq!(&reference[..7], &LZ4_FRAME_HEADER);
        // Three blocks: a compressible one, an incompressible one (stored), a short tail.
        let mut data = vec![b'A'; LZ4_BLOCK];
        let mut x: u32 = 7;
        data.extend((0..LZ4_BLOCK).map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        }));
        data.extend_from_slice(b"tail");
        let z = compress(Compression::Lz4, None, &data).unwrap();
        let first = u32::from_le_bytes(z[7..11].try_into().unwrap());
        assert!(first < 1000, "compressed: {first}");
        let second_at = 11 + first as usize;
        let second = u32::from_le_bytes(z[second_at..second_at + 4].try_into().unwrap());
        assert_eq!(second, LZ4_UNCOMPRESSED | 65_536, "stored as is");
        assert_eq!(&z[z.len() - 4..], &[0, 0, 0, 0], "end mark");
        assert_eq!(decompress(Compression::Lz4, &z, data.len()).unwrap(), data);
    }
}
