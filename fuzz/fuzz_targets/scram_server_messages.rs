//! SCRAM server-first and server-final messages, SHA-256 and SHA-512: no panic, and a
//! server-first the client accepts never carries an iteration count outside Kafka's bounds
//! (the broker chooses it; each iteration is CPU spent on every connection).
//!
//! Input: one byte choosing the hash, then the server-first message, a 0 byte (which SCRAM
//! messages never contain), and the server-final message.
#![no_main]
use libfuzzer_sys::fuzz_target;
use volley::security::scram::{ScramClient, ScramHash, MAX_ITERATIONS, MIN_ITERATIONS};

/// Short, so the fuzzer finds server nonces that extend it.
const NONCE: &str = "fz";

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let hash = if sel & 1 == 0 {
        ScramHash::Sha256
    } else {
        ScramHash::Sha512
    };
    let (first, last) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let mut client = ScramClient::with_nonce(hash, "u=s,er", "pässword", NONCE);
    if let Ok(fin) = client.client_final(first) {
        // Accepted: the count the client used (the last `i=`) is within bounds.
        let text = std::str::from_utf8(first).expect("accepted server-first is UTF-8");
        let count: u64 = text
            .rsplit(',')
            .find_map(|a| a.strip_prefix("i="))
            .and_then(|i| i.parse().ok())
            .expect("accepted server-first has an iteration count");
        assert!((u64::from(MIN_ITERATIONS)..=u64::from(MAX_ITERATIONS)).contains(&count));
        assert!(fin.starts_with(format!("c=biws,r={NONCE}").as_bytes()));
        // The client must not accept a final message twice or out of order.
        let _ = client.client_final(first).expect_err("second server-first refused");
    }
    let _ = client.verify_server_final(last);
});
