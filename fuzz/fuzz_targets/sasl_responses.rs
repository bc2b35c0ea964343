//! SaslHandshake (v1) and SaslAuthenticate (v0-v2) responses: no panic, no unbounded
//! allocation, and what decodes survives a round trip through kafka-protocol's encoder.
#![no_main]
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{SaslAuthenticateResponse, SaslHandshakeResponse};
use kafka_protocol::protocol::{Encodable, StrBytes};
use libfuzzer_sys::fuzz_target;
use volley_protocol::sasl::{decode_sasl_authenticate, decode_sasl_handshake, SASL_HANDSHAKE_VERSION};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let body = Bytes::copy_from_slice(rest);
    if sel % 4 == 0 {
        if let Ok(a) = decode_sasl_handshake(body) {
            let resp = SaslHandshakeResponse::default()
                .with_error_code(a.error.0)
                .with_mechanisms(a.mechanisms.iter().map(|m| StrBytes::from_string(m.clone())).collect());
            let mut buf = BytesMut::new();
            resp.encode(&mut buf, SASL_HANDSHAKE_VERSION).expect("encode");
            assert_eq!(decode_sasl_handshake(buf.freeze()).expect("round trip"), a);
        }
        return;
    }
    let version = i16::from(sel % 4) - 1;
    if let Ok(a) = decode_sasl_authenticate(version, body) {
        let _ = format!("{a:?}");
        let resp = SaslAuthenticateResponse::default()
            .with_error_code(a.error.0)
            .with_error_message(a.message.clone().map(StrBytes::from_string))
            .with_auth_bytes(a.auth_bytes.clone())
            .with_session_lifetime_ms(a.session_lifetime_ms);
        let mut buf = BytesMut::new();
        if version >= 2 {
            buf.put_u8(0); // response header v1: no tagged fields
        }
        resp.encode(&mut buf, version).expect("encode");
        assert_eq!(decode_sasl_authenticate(version, buf.freeze()).expect("round trip"), a);
    }
});
