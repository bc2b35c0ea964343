//! Unit tests of the config rules (kept apart so that config.rs stays readable).

use super::*;

fn base() -> ProducerConfigBuilder {
    ProducerConfig::builder().bootstrap_servers("127.0.0.1:9092")
}

#[test]
fn defaults_follow_the_java_producer() {
    let c = base().build().unwrap();
    assert_eq!(c.acks, Acks::All);
    assert!(c.enable_idempotence);
    assert_eq!(c.linger, Duration::from_millis(5));
    assert_eq!(c.batch_size, 16_384);
    assert_eq!(c.buffer_memory, 33_554_432);
    assert_eq!(c.max_block, Duration::from_secs(60));
    assert_eq!(c.delivery_timeout, Duration::from_secs(120));
    assert_eq!(c.request_timeout, Duration::from_secs(30));
    assert_eq!(c.retries, 2_147_483_647);
    assert_eq!(c.max_in_flight, 5);
    assert_eq!(c.max_request_size, 1_048_576);
    assert_eq!(c.compression, Compression::None);
    assert!(c.allow_auto_create_topics);
    assert_eq!(c.metadata_max_age, Duration::from_secs(300));
}

#[test]
fn aliases_map_to_kafka_names() {
    let c = ProducerConfig::from_properties([
        ("bootstrap.servers", "a:1,b:2"),
        ("queue.buffering.max.ms", "50"),
        ("message.timeout.ms", "40000"),
        ("compression.codec", "zstd"),
        ("request.required.acks", "1"),
        ("message.max.bytes", "2000"),
    ])
    .unwrap();
    assert_eq!(c.bootstrap_servers, vec!["a:1", "b:2"]);
    assert_eq!(c.linger, Duration::from_millis(50));
    assert_eq!(c.delivery_timeout, Duration::from_millis(40_000));
    assert_eq!(c.compression, Compression::Zstd);
    assert_eq!(c.acks, Acks::Leader);
    assert_eq!(c.max_request_size, 2000);
    assert!(!c.enable_idempotence, "acks=1 quietly turns idempotence off");
}

#[test]
fn explicit_idempotence_with_conflict_is_an_error() {
    let e = base()
        .set("enable.idempotence", "true")
        .unwrap()
        .acks(Acks::Leader)
        .build()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "conflicting configuration: enable.idempotence=true requires acks=all, retries > 0 and max.in.flight.requests.per.connection <= 5, but acks=1 was set"
    );
}

#[test]
fn errors_name_key_value_and_allowed() {
    let e = base().set("acks", "2").unwrap().build().unwrap_err();
    assert_eq!(e.to_string(), "invalid value '2' for 'acks': 0, 1, all or -1");
    let e = base().set("linger.ms", "soon").unwrap().build().unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid value 'soon' for 'linger.ms': an integer from 0 to 9223372036854775807"
    );
    let e = base().set("lingr.ms", "5").unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown configuration property 'lingr.ms' (did you mean 'linger.ms'?)"
    );
    let e = base()
        .set("security.protocol", "SASL_PLAINTEXT")
        .unwrap()
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("GSSAPI is not supported"), "{e}");
    let e = base()
        .set("sasl.oauthbearer.assertion.private.key.passphrase", "hunter2")
        .unwrap_err();
    assert!(matches!(e, ConfigError::NotSupported { .. }));
    assert!(!e.to_string().contains("hunter2"), "{e}");
    let e = ProducerConfig::builder().build().unwrap_err();
    assert!(e.to_string().contains("'bootstrap.servers'"));
    let e = ProducerConfig::builder()
        .bootstrap_servers("nohost:x")
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("'nohost:x' is not"));
    let e = base().set("compression.lz4.level", "3").unwrap().build().unwrap_err();
    assert!(matches!(e, ConfigError::NotSupported { .. }));
    let e = base().set("partitioner", "crc").unwrap().build().unwrap_err();
    assert!(e.to_string().contains("murmur2_random"));
}

#[test]
fn delivery_timeout_must_cover_linger_and_request_timeout() {
    let e = base().set("delivery.timeout.ms", "1000").unwrap().build().unwrap_err();
    assert!(matches!(e, ConfigError::Conflict(_)));
    let c = base().set("request.timeout.ms", "200000").unwrap().build().unwrap();
    assert_eq!(c.delivery_timeout, Duration::from_millis(200_005));
}

#[test]
fn metadata_idle_and_recovery_keys() {
    let c = base().build().unwrap();
    assert_eq!(c.metadata_max_idle, Duration::from_millis(300_000));
    assert_eq!(c.metadata_recovery, MetadataRecovery::Rebootstrap);
    assert_eq!(c.rebootstrap_trigger, Duration::from_millis(300_000));
    let c = ProducerConfig::from_properties([
        ("bootstrap.servers", "a:1"),
        ("metadata.max.idle.ms", "5000"),
        ("metadata.recovery.strategy", "NONE"),
        ("metadata.recovery.rebootstrap.trigger.ms", "0"),
    ])
    .unwrap();
    assert_eq!(c.metadata_max_idle, Duration::from_secs(5));
    assert_eq!(c.metadata_recovery, MetadataRecovery::None);
    assert_eq!(c.metadata_recovery.to_string(), "none");
    assert_eq!(c.rebootstrap_trigger, Duration::ZERO);
    let c = base()
        .set("metadata.recovery.strategy", "Rebootstrap")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(c.metadata_recovery, MetadataRecovery::Rebootstrap);

    let e = base().set("metadata.max.idle.ms", "4999").unwrap().build().unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid value '4999' for 'metadata.max.idle.ms': an integer from 5000 to 2147483647"
    );
    let e = base()
        .set("metadata.recovery.strategy", "retry")
        .unwrap()
        .build()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid value 'retry' for 'metadata.recovery.strategy': rebootstrap or none"
    );
    let e = base()
        .set("metadata.recovery.rebootstrap.trigger.ms", "-1")
        .unwrap()
        .build()
        .unwrap_err();
    assert!(matches!(e, ConfigError::InvalidValue { .. }), "{e}");
}

#[test]
fn codec_levels() {
    let c = base()
        .set("compression.type", "gzip")
        .unwrap()
        .set("compression.gzip.level", "9")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(c.compression_level, Some(9));
    let c = base()
        .set("compression.type", "zstd")
        .unwrap()
        .set("compression.zstd.level", "7")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(c.compression_level, Some(7));
    let c = base()
        .set("compression.type", "lz4")
        .unwrap()
        .set("compression.lz4.level", "9")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(c.compression_level, None);
}

// The rules below were found by crates/volley/tests/java_compat.rs, which asks kafka-clients
// 4.4 the same questions.

#[test]
fn booleans_ignore_case_as_in_java() {
    let c = base()
        .set("enable.idempotence", "TRUE")
        .unwrap()
        .set("allow.auto.create.topics", " False ")
        .unwrap()
        .set("partitioner.ignore.keys", "True")
        .unwrap()
        .build()
        .unwrap();
    assert!(c.enable_idempotence);
    assert!(!c.allow_auto_create_topics);
    assert!(c.partitioner_ignore_keys);
    let e = base().set("enable.idempotence", "yes").unwrap().build().unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid value 'yes' for 'enable.idempotence': true or false"
    );
}

#[test]
fn ranges_follow_javas_config_def() {
    let long = i64::MAX.to_string();
    for (k, v) in [
        ("buffer.memory", "0"),
        ("buffer.memory", long.as_str()),
        ("max.request.size", "0"),
        ("request.timeout.ms", "0"),
        ("linger.ms", "1000000"),
        ("linger.ms", long.as_str()),
        ("max.block.ms", long.as_str()),
        ("metadata.max.age.ms", long.as_str()),
        ("retry.backoff.ms", long.as_str()),
        ("retry.backoff.max.ms", long.as_str()),
        ("reconnect.backoff.ms", long.as_str()),
        ("reconnect.backoff.max.ms", long.as_str()),
        ("socket.connection.setup.timeout.ms", long.as_str()),
    ] {
        let built = base().set(k, v).unwrap().build();
        assert!(built.is_ok(), "{k}={v}: {built:?}");
    }
    let c = base()
        .set("enable.idempotence", "false")
        .unwrap()
        .set("max.in.flight.requests.per.connection", "2147483647")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(c.max_in_flight, 2_147_483_647);
    // Java keeps linger.ms in an int: a larger value means 2^31-1 ms, and the default
    // delivery timeout grows to min(linger + request timeout, 2^31-1).
    let c = base().set("linger.ms", &long).unwrap().build().unwrap();
    assert_eq!(c.linger, Duration::from_millis(2_147_483_647));
    assert_eq!(c.delivery_timeout, Duration::from_millis(2_147_483_647));
    let c = ProducerConfig::from_properties([
        ("bootstrap.servers", "127.0.0.1:9092"),
        ("linger.ms", "0"),
        ("request.timeout.ms", "0"),
        ("delivery.timeout.ms", "0"),
    ])
    .unwrap();
    assert_eq!(c.delivery_timeout, Duration::ZERO);
    for (k, v) in [
        ("compression.gzip.level", "0"),
        ("max.in.flight.requests.per.connection", "2147483648"),
        ("socket.connection.setup.timeout.ms", "0"),
    ] {
        assert!(base().set(k, v).unwrap().build().is_err(), "{k}={v}");
    }
}

#[test]
fn max_in_flight_over_five_is_an_error_unless_idempotence_is_set_off() {
    // Kafka 4.x turns idempotence off quietly for acks and retries, but not for this: the
    // check runs whenever idempotence is on by default, even after acks=1 turned it off.
    for extra in [None, Some(("acks", "1")), Some(("retries", "0"))] {
        let mut b = base().set("max.in.flight.requests.per.connection", "6").unwrap();
        if let Some((k, v)) = extra {
            b = b.set(k, v).unwrap();
        }
        let e = b.build().unwrap_err();
        assert!(
            e.to_string().contains("max.in.flight.requests.per.connection=6"),
            "{extra:?}: {e}"
        );
    }
    let c = base()
        .set("max.in.flight.requests.per.connection", "6")
        .unwrap()
        .set("enable.idempotence", "false")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(c.max_in_flight, 6);
    assert!(!c.enable_idempotence);
}

/// Issue 17: a transactional id is real, implies idempotence, and conflicts as in Java.
#[test]
fn transactional_settings() {
    let c = base().set("transactional.id", "t-1").unwrap().build().unwrap();
    assert_eq!(c.transactional_id.as_deref(), Some("t-1"));
    assert!(c.enable_idempotence);
    assert_eq!(c.transaction_timeout, Duration::from_millis(60_000));
    let c = base()
        .transactional_id("t-2")
        .transaction_timeout(Duration::from_millis(9000))
        .build()
        .unwrap();
    assert_eq!(c.transactional_id.as_deref(), Some("t-2"));
    assert_eq!(c.transaction_timeout, Duration::from_millis(9000));
    assert_eq!(base().build().unwrap().transactional_id, None);
    // enable.idempotence=false with a transactional id is an error, as in Java.
    let e = base()
        .set("transactional.id", "t")
        .unwrap()
        .set("enable.idempotence", "false")
        .unwrap()
        .build()
        .unwrap_err();
    assert!(matches!(e, ConfigError::Conflict(_)), "{e}");
    assert!(e.to_string().contains("enable.idempotence=false"), "{e}");
    // So is a setting that quietly turns the default idempotence off.
    let e = base()
        .set("transactional.id", "t")
        .unwrap()
        .set("acks", "1")
        .unwrap()
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("acks=1"), "{e}");
    let e = base().set("transactional.id", " ").unwrap().build().unwrap_err();
    assert!(matches!(e, ConfigError::InvalidValue { .. }), "{e}");
    // Java accepts any INT here; a negative timeout cannot mean anything.
    let e = base().set("transaction.timeout.ms", "-1").unwrap().build().unwrap_err();
    assert!(e.to_string().contains("transaction.timeout.ms"), "{e}");
}
