//! Size-prefixed frames: every Kafka request and response starts with a 4-byte big-endian
//! length. A peer controls that length, so it is capped before anything is allocated: a
//! plaintext client talking to a TLS port would otherwise read a TLS alert as a length of
//! about 350 MB.

use bytes::{Buf, Bytes, BytesMut};

/// The default cap on a response frame (100 MiB, like the Java client's
/// `socket.receive.buffer` is unbounded but its `max.response.size` for fetches is 50 MiB;
/// a producer never needs more than a few MiB).
pub const DEFAULT_MAX_FRAME: usize = 100 * 1024 * 1024;

/// A frame header announced an impossible size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the peer announced a frame of {len} bytes (allowed 0..={max}); not a Kafka broker, or TLS spoken to a plaintext client?")]
pub struct FrameTooLarge {
    /// The announced length.
    pub len: i64,
    /// The cap.
    pub max: usize,
}

/// Splits one complete frame (without its length prefix) off the front of `buf`, if a
/// whole frame is there.
///
/// # Errors
/// [`FrameTooLarge`] when the announced length is negative or over `max`.
pub fn split_frame(buf: &mut BytesMut, max: usize) -> Result<Option<Bytes>, FrameTooLarge> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let len_usize = usize::try_from(len).map_err(|_| FrameTooLarge {
        len: i64::from(len),
        max,
    })?;
    if len_usize > max {
        return Err(FrameTooLarge {
            len: i64::from(len),
            max,
        });
    }
    if buf.len() < 4 + len_usize {
        buf.reserve(4 + len_usize - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(len_usize).freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_whole_frames_only() {
        let mut b = BytesMut::from(&[0, 0, 0, 3, 1, 2][..]);
        assert_eq!(split_frame(&mut b, 10), Ok(None));
        b.extend_from_slice(&[3, 0, 0]);
        assert_eq!(split_frame(&mut b, 10).unwrap().unwrap(), &[1, 2, 3][..]);
        assert_eq!(split_frame(&mut b, 10), Ok(None));
    }

    #[test]
    fn tls_alert_is_rejected() {
        // A TLS alert record: 0x15 0x03 0x03 ... reads as ~352 MB.
        let mut b = BytesMut::from(&[0x15, 0x03, 0x03, 0x00, 0x02][..]);
        let err = split_frame(&mut b, DEFAULT_MAX_FRAME).unwrap_err();
        assert_eq!(err.len, 0x1503_0300);
    }

    #[test]
    fn negative_length_is_rejected() {
        let mut b = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
        assert!(split_frame(&mut b, 10).is_err());
    }
}
