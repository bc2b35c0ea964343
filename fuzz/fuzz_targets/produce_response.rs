//! Produce responses of every version we speak: no panic, no unbounded allocation.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((&v, rest)) = data.split_first() {
        let version = 3 + i16::from(v % 9);
        let _ = volley_protocol::produce::decode_produce_response(version, bytes::Bytes::copy_from_slice(rest));
    }
});
