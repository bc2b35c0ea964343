//! Size-prefixed framing: never allocates past the cap.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = bytes::BytesMut::from(data);
    while let Ok(Some(_)) = volley_protocol::frame::split_frame(&mut buf, 1 << 16) {}
});
