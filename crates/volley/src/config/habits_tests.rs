//! Unit tests of the keys users bring from the Java client and librdkafka (issue 14).

use super::*;

fn base() -> ProducerConfigBuilder {
    ProducerConfig::builder().bootstrap_servers("127.0.0.1:9092")
}

/// A typical Java `producer.properties`, shared with a consumer and the Schema Registry,
/// read as the CLI reads `--producer-config`.
#[test]
fn a_java_producer_properties_file_builds_with_one_warning_per_foreign_key() {
    let file = [
        ("bootstrap.servers", "localhost"),
        (
            "key.serializer",
            "org.apache.kafka.common.serialization.StringSerializer",
        ),
        ("value.serializer", "io.confluent.kafka.serializers.KafkaAvroSerializer"),
        ("interceptor.classes", "com.example.TracingInterceptor"),
        ("metric.reporters", "com.example.Reporter"),
        ("metrics.num.samples", "3"),
        ("metrics.recording.level", "INFO"),
        ("metrics.whatever.new", "x"),
        ("group.id", "g"),
        ("session.timeout.ms", "45000"),
        ("schema.registry.url", "http://registry:8081"),
        ("basic.auth.credentials.source", "USER_INFO"),
        ("send.buffer.bytes", "262144"),
        ("receive.buffer.bytes", "-1"),
        ("connections.max.idle.ms", "60000"),
        ("client.dns.lookup", "resolve_canonical_bootstrap_servers_only"),
        (
            "partitioner.class",
            "org.apache.kafka.clients.producer.RoundRobinPartitioner",
        ),
    ];
    let mut b = ProducerConfig::builder();
    for (k, v) in file {
        b = b.set_shared(k, v).unwrap();
    }
    let c = b.build().unwrap();
    assert_eq!(c.bootstrap_servers, vec!["localhost:9092"]);
    assert_eq!(c.send_buffer_bytes, Some(262_144));
    assert_eq!(c.receive_buffer_bytes, None);
    assert_eq!(c.connections_max_idle, Some(Duration::from_secs(60)));
    assert_eq!(
        c.client_dns_lookup,
        ClientDnsLookup::ResolveCanonicalBootstrapServersOnly
    );
    assert_eq!(c.partitioner, PartitionerKind::RoundRobin);
    assert_eq!(
        c.metrics_window,
        (Duration::from_secs(30), 3),
        "metrics.num.samples is kept"
    );
    let w = c.warnings.join("\n");
    for key in [
        "value.serializer",
        "interceptor.classes",
        "metric.reporters",
        "metrics.recording.level",
        "metrics.whatever.new",
        "'group.id'",
        "'session.timeout.ms'",
        "'schema.registry.url'",
        "'basic.auth.credentials.source'",
    ] {
        assert_eq!(c.warnings.iter().filter(|l| l.contains(key)).count(), 1, "{key}: {w}");
    }
    assert!(
        !w.contains("key.serializer"),
        "the string serializer is what Volley does: {w}"
    );
    assert!(w.contains("the CLI sends the input bytes"), "{w}");
    assert_eq!(c.warnings.len(), 9, "{w}");

    // A key no Kafka client knows stays an error in a file, and so do other clients' keys
    // given to `set` (the CLI's -X).
    let e = ProducerConfig::builder().set_shared("lingr.ms", "5").unwrap_err();
    assert!(matches!(e, ConfigError::UnknownKey { .. }));
    let e = base().set("group.id", "g").unwrap_err();
    assert_eq!(e.to_string(), "unknown configuration property 'group.id'");
}

#[test]
fn unknown_keys_suggest_a_near_miss() {
    let e = base().set("lingr.ms", "5").unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown configuration property 'lingr.ms' (did you mean 'linger.ms'?)"
    );
    let e = base().set("compresion.type", "lz4").unwrap_err();
    assert!(e.to_string().ends_with("(did you mean 'compression.type'?)"), "{e}");
}

#[test]
fn errors_name_the_key_as_typed() {
    for (k, v) in [
        ("socket.timeout.ms", "soon"),
        ("message.timeout.ms", "-5"),
        ("topic.request.required.acks", "7"),
        ("metadata.broker.list", "h:99999"),
        ("queue.buffering.max.ms", "x"),
    ] {
        let e = base().set(k, v).unwrap().build().unwrap_err();
        assert!(e.to_string().contains(&format!("for '{k}'")), "{k}: {e}");
    }
}

#[test]
fn hosts_without_a_port_mean_9092() {
    let c = ProducerConfig::builder()
        .bootstrap_servers("localhost, broker-1,10.0.0.1,[::1],[::1]:9093,b:1")
        .build()
        .unwrap();
    assert_eq!(
        c.bootstrap_servers,
        vec![
            "localhost:9092",
            "broker-1:9092",
            "10.0.0.1:9092",
            "[::1]:9092",
            "[::1]:9093",
            "b:1"
        ]
    );
}

#[test]
fn librdkafka_keys_map_onto_volleys() {
    let c = ProducerConfig::from_properties([
        ("bootstrap.servers", "a:1"),
        ("queue.buffering.max.messages", "1000"),
        ("queue.buffering.max.kbytes", "2048"),
        ("batch.num.messages", "500"),
        ("socket.timeout.ms", "20000"),
        ("socket.keepalive.enable", "true"),
        ("socket.nagle.disable", "false"),
        ("client.rack", "use1-az1"),
        ("topic.acks", "1"),
        ("topic.compression.codec", "lz4"),
    ])
    .unwrap();
    assert_eq!(c.queue_buffering_max_messages, Some(1000));
    assert_eq!(c.buffer_memory, 2048 * 1024);
    assert_eq!(c.batch_num_messages, Some(500));
    assert_eq!(c.request_timeout, Duration::from_secs(20));
    assert!(c.socket_keepalive);
    assert!(!c.tcp_nodelay);
    assert_eq!(c.client_rack, "use1-az1");
    assert_eq!(c.acks, Acks::Leader);
    assert_eq!(c.compression, Compression::Lz4);
    assert!(c.warnings.is_empty());
    let d = base().build().unwrap();
    assert!(d.tcp_nodelay && !d.socket_keepalive);
    assert_eq!(
        (d.send_buffer_bytes, d.receive_buffer_bytes),
        (Some(131_072), Some(32_768))
    );
    assert_eq!(d.connections_max_idle, Some(Duration::from_secs(540)));
    assert_eq!(d.client_dns_lookup, ClientDnsLookup::UseAllDnsIps);

    // message.timeout.ms=0 is librdkafka's "no limit"; delivery.timeout.ms=0 stays 0.
    let c = base().set("message.timeout.ms", "0").unwrap().build().unwrap();
    assert_eq!(c.delivery_timeout, ProducerConfig::NO_DELIVERY_TIMEOUT);
    let c = base().set("topic.message.timeout.ms", "0").unwrap().build().unwrap();
    assert_eq!(c.delivery_timeout, ProducerConfig::NO_DELIVERY_TIMEOUT);
    assert!(base().set("delivery.timeout.ms", "0").unwrap().build().is_err());

    let e = base()
        .set("queue.buffering.max.kbytes", "1")
        .unwrap()
        .set("buffer.memory", "1")
        .unwrap()
        .build()
        .unwrap_err();
    assert!(matches!(e, ConfigError::Conflict(_)), "{e}");
    assert!(base().set("topic.no.such", "1").is_err());
}

#[test]
fn java_class_and_enum_values_are_checked() {
    let e = base()
        .set("partitioner.class", "com.example.MyPartitioner")
        .unwrap()
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("RoundRobinPartitioner"), "{e}");
    let c = base()
        .set(
            "partitioner.class",
            "org.apache.kafka.clients.producer.UniformStickyPartitioner",
        )
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(c.partitioner, PartitionerKind::Default);
    assert!(c.partitioner_ignore_keys);
    let e = base()
        .set(
            "partitioner.class",
            "org.apache.kafka.clients.producer.RoundRobinPartitioner",
        )
        .unwrap()
        .set("partitioner", "murmur2")
        .unwrap()
        .build()
        .unwrap_err();
    assert!(matches!(e, ConfigError::Conflict(_)), "{e}");
    let e = base().set("client.dns.lookup", "default").unwrap().build().unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid value 'default' for 'client.dns.lookup': use_all_dns_ips or resolve_canonical_bootstrap_servers_only"
    );
    for (k, v) in [
        ("send.buffer.bytes", "-2"),
        ("socket.keepalive.enable", "yes"),
        ("batch.num.messages", "0"),
    ] {
        assert!(base().set(k, v).unwrap().build().is_err(), "{k}={v}");
    }
    let c = base().set("connections.max.idle.ms", "-1").unwrap().build().unwrap();
    assert_eq!(c.connections_max_idle, None);
}

/// librdkafka's `debug` turns on the log of the modules each context stands for; a
/// consumer's context is accepted with nothing to log; an unknown one is refused.
#[test]
fn debug_contexts_become_a_log_filter() {
    let c = base().set("debug", "broker, protocol").unwrap().build().unwrap();
    let f = c.debug_log_filter().expect("filter");
    assert!(
        f.contains("volley::net=debug") && f.contains("volley::net=trace"),
        "{f}"
    );
    assert!(f.contains("volley::sender=trace"), "{f}");
    tracing_subscriber::EnvFilter::try_new(&f).expect("a valid EnvFilter");
    let c = base().set("debug", "all").unwrap().build().unwrap();
    assert_eq!(c.debug_log_filter().as_deref(), Some("volley=trace"));
    let c = base().set("debug", "cgrp,fetch").unwrap().build().unwrap();
    assert_eq!(c.debug_log_filter(), None);
    assert_eq!(base().build().unwrap().debug_log_filter(), None);
    let e = base().set("debug", "broker,brokr").unwrap().build().unwrap_err();
    assert!(
        e.to_string().contains("'debug'") && e.to_string().contains("protocol"),
        "{e}"
    );
}

/// Review of issue 14: `connections.max.idle.ms` below a second closed every connection as
/// soon as it was made (a reconnect loop that sent nothing): refused; librdkafka's
/// `queue.buffering.max.messages=0` means no limit.
#[test]
fn idle_below_a_second_is_refused_and_a_zero_queue_limit_is_none() {
    for v in ["0", "999"] {
        let e = base().set("connections.max.idle.ms", v).unwrap().build().unwrap_err();
        assert!(e.to_string().contains("at least 1000"), "{e}");
    }
    let c = base().set("connections.max.idle.ms", "1000").unwrap().build().unwrap();
    assert_eq!(c.connections_max_idle, Some(Duration::from_secs(1)));
    let c = base()
        .set("queue.buffering.max.messages", "0")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(c.queue_buffering_max_messages, None);
}

/// Review of issue 14: Java producer keys typical of TLS properties files are accepted with
/// a warning saying why they have no effect, never "unknown".
#[test]
fn java_tls_and_client_keys_are_warnings() {
    let mut b = base();
    for (k, v) in [
        ("ssl.keymanager.algorithm", "SunX509"),
        ("ssl.trustmanager.algorithm", "PKIX"),
        ("ssl.cipher.suites", "TLS_AES_128_GCM_SHA256"),
        ("enable.metrics.push", "true"),
        ("partitioner.rack.aware", "false"),
    ] {
        b = b.set(k, v).unwrap();
    }
    let c = b.build().unwrap();
    for k in ["ssl.keymanager.algorithm", "ssl.cipher.suites", "enable.metrics.push"] {
        assert!(c.warnings.iter().any(|w| w.starts_with(k)), "{k}: {:?}", c.warnings);
    }
}
