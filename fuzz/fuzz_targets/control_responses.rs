//! ApiVersions, Metadata and InitProducerId responses of every version we speak.
#![no_main]
use libfuzzer_sys::fuzz_target;
use volley_protocol::control::{decode_api_versions, decode_init_producer_id, decode_metadata};

fuzz_target!(|data: &[u8]| {
    if let Some((&v, rest)) = data.split_first() {
        let body = bytes::Bytes::copy_from_slice(rest);
        match v % 3 {
            0 => drop(decode_api_versions(i16::from(v / 3 % 4), body)),
            1 => drop(decode_metadata(4 + i16::from(v / 3 % 9), body)),
            _ => drop(decode_init_producer_id(i16::from(v / 3 % 5), body)),
        }
    }
});
