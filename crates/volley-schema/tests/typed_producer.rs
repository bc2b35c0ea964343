//! `AvroSerializer` wired into a `TypedProducer`: values go out as Avro binary that
//! apache-avro reads back, against the fake cluster.

use std::time::Duration;

use volley::{Producer, ProducerConfig, StringSerializer, TypedRecord};
use volley_schema::{AvroSchema, AvroSerializer};
use volley_testkit::fake::FakeCluster;

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize, apache_avro::AvroSchema)]
struct Payment {
    account: String,
    cents: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_producer_with_the_avro_serializer() {
    let c = FakeCluster::start(1).await;
    c.create_topic("payments", 2);
    let config = ProducerConfig::builder()
        .bootstrap_servers(&c.bootstrap())
        .build()
        .expect("config");
    let schema: AvroSchema = AvroSerializer::schema_for::<Payment>().expect("schema");
    let producer = Producer::builder(config)
        .typed::<str, Payment>(StringSerializer, AvroSerializer::plain(schema))
        .expect("producer");
    let p = Payment {
        account: "acct-1".into(),
        cents: 1234,
    };
    producer
        .send_and_wait(TypedRecord::new("payments", &p).key("acct-1"))
        .await
        .expect("delivered");
    producer.close(Duration::from_secs(5)).await;
    let records = c.records("payments");
    assert_eq!(records.len(), 1);
    let value = records[0].value.clone().expect("a value");
    let schema = <Payment as apache_avro::AvroSchema>::get_schema();
    let read = apache_avro::reader::datum::GenericDatumReader::builder(&schema)
        .build()
        .expect("reader")
        .read_value(&mut &value[..])
        .expect("Avro binary");
    let back: Payment = apache_avro::from_value(&read).expect("a Payment");
    assert_eq!(back, p);
}
