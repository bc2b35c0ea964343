//! Record batches (with every codec): no panic, decompression bounded.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = volley_protocol::record_batch::decode_batches(bytes::Bytes::copy_from_slice(data), 1 << 20);
});
