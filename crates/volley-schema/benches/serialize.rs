//! Serialization of a 1 KiB nested record: JSON (serde_json) and Avro (JSON document to Avro
//! binary through Volley's encoder, and a Rust value through apache-avro), plain and framed.

#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use serde::Serialize;
use serde_json::json;
use volley_schema::{frame_into, AvroSchema, AvroSerializer, MappingOptions};

const SCHEMA: &str = r#"{"type":"record","name":"Features","namespace":"ml","fields":[
  {"name":"user_id","type":"string"},
  {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
  {"name":"session","type":{"type":"record","name":"Session","fields":[
    {"name":"id","type":"string"},{"name":"device","type":"string"},{"name":"country","type":["null","string"],"default":null}]}},
  {"name":"embedding","type":{"type":"array","items":"float"}},
  {"name":"counters","type":{"type":"map","values":"long"}},
  {"name":"events","type":{"type":"array","items":{"type":"record","name":"Ev","fields":[
    {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["CLICK","VIEW","BUY"]}},
    {"name":"item","type":"string"},{"name":"price","type":"double"}]}}}]}"#;

#[derive(Serialize)]
struct Session {
    id: String,
    device: String,
    country: Option<String>,
}

#[derive(Serialize)]
enum Kind {
    #[serde(rename = "CLICK")]
    Click,
    #[serde(rename = "VIEW")]
    View,
}

#[derive(Serialize)]
struct Ev {
    kind: Kind,
    item: String,
    price: f64,
}

#[derive(Serialize)]
struct Features {
    user_id: String,
    ts: i64,
    session: Session,
    embedding: Vec<f32>,
    counters: std::collections::BTreeMap<String, i64>,
    events: Vec<Ev>,
}

fn value() -> Features {
    Features {
        user_id: "user-000123".into(),
        ts: 1_714_564_800_000,
        session: Session {
            id: "3f1c9a8e-0c1d-4e55-9b51-7d8f2a6b9c10".into(),
            device: "android".into(),
            country: Some("DE".into()),
        },
        embedding: (0..64).map(|i| i as f32 * 0.015_625).collect(),
        counters: (0..8).map(|i| (format!("c{i}"), i * 1000)).collect(),
        events: (0..6)
            .map(|i| Ev {
                kind: if i % 2 == 0 { Kind::Click } else { Kind::View },
                item: format!("sku-{i:05}"),
                price: 9.99 + f64::from(i),
            })
            .collect(),
    }
}

fn bench(c: &mut Criterion) {
    let v = value();
    let doc = serde_json::to_value(&v).expect("json value");
    let mut doc_avro = doc.clone();
    doc_avro["session"]["country"] = json!({"string": "DE"});
    let text = serde_json::to_vec(&v).expect("json");
    let schema = AvroSchema::parse(SCHEMA).expect("schema");
    let mut out = Vec::with_capacity(2048);
    schema
        .encode_json(&doc_avro, MappingOptions::default(), &mut out)
        .expect("encodes");
    let mut g = c.benchmark_group("serialize_1k_record");
    g.throughput(Throughput::Elements(1));
    eprintln!("JSON {} bytes, Avro {} bytes", text.len(), out.len());
    g.bench_function("json_serde_to_vec", |b| {
        let mut buf = Vec::with_capacity(2048);
        b.iter(|| {
            buf.clear();
            serde_json::to_writer(&mut buf, black_box(&v)).expect("json");
            black_box(buf.len())
        })
    });
    g.bench_function("avro_from_json_document_confluent_framed", |b| {
        let mut buf = Vec::with_capacity(2048);
        b.iter(|| {
            buf.clear();
            frame_into(1, &mut buf);
            schema
                .encode_json(black_box(&doc_avro), MappingOptions::default(), &mut buf)
                .expect("avro");
            black_box(buf.len())
        })
    });
    g.bench_function("avro_from_json_line_parse_and_encode", |b| {
        let line = serde_json::to_vec(&doc_avro).expect("line");
        let mut buf = Vec::with_capacity(2048);
        b.iter(|| {
            buf.clear();
            let d: serde_json::Value = serde_json::from_slice(black_box(&line)).expect("parse");
            schema
                .encode_json(&d, MappingOptions::default(), &mut buf)
                .expect("avro");
            black_box(buf.len())
        })
    });
    let ser = AvroSerializer::plain(schema.clone());
    g.bench_function("avro_from_rust_value_apache_avro", |b| {
        b.iter(|| black_box(ser.to_bytes("t", black_box(&v)).expect("avro").len()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
