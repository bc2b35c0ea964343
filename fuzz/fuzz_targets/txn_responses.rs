//! The transaction responses (FindCoordinator, AddPartitionsToTxn, AddOffsetsToTxn,
//! TxnOffsetCommit, EndTxn) of every version we speak.
#![no_main]
use libfuzzer_sys::fuzz_target;
use volley_protocol::txn::{
    decode_add_offsets, decode_add_partitions, decode_end_txn, decode_find_coordinator, decode_txn_offset_commit,
};

fuzz_target!(|data: &[u8]| {
    if let Some((&v, rest)) = data.split_first() {
        let body = bytes::Bytes::copy_from_slice(rest);
        let version = |n: u8, lo: i16| lo + i16::from(v / 5 % n);
        match v % 5 {
            0 => drop(decode_find_coordinator(version(6, 1), body)),
            1 => drop(decode_add_partitions(version(3, 1), body)),
            2 => drop(decode_add_offsets(version(4, 1), body)),
            3 => drop(decode_txn_offset_commit(version(5, 1), body)),
            _ => drop(decode_end_txn(version(5, 1), body)),
        }
    }
});
