"""kafka-python's keywords, mapped onto Volley's properties (no broker needed)."""
import logging

import pytest

from volley import KafkaProducer, errors
from volley import _config


def props(**kw):
    return dict(_config.resolve(kw)[1])


def test_defaults_are_kafka_pythons():
    p = props()
    assert p["bootstrap.servers"] == "localhost:9092"
    assert p["acks"] == "all"
    assert p["enable.idempotence"] == "true"
    assert p["linger.ms"] == "0"
    assert p["batch.size"] == "16384"
    assert p["compression.type"] == "none"
    assert p["delivery.timeout.ms"] == "120000"
    assert p["max.block.ms"] == "60000"
    assert "retries" not in p  # inf: Volley's default, unbounded within delivery.timeout.ms
    assert p["client.id"].startswith("volley-python-producer-")


def test_every_default_config_key_is_accepted_at_its_default():
    # api_version given: no bootstrap at construction (there is no broker here).
    p = KafkaProducer(**dict(KafkaProducer.DEFAULT_CONFIG, api_version=(4, 0)))
    p.close(0)


def test_bootstrap_servers_string_list_and_ports():
    assert props(bootstrap_servers="a,b:9093")["bootstrap.servers"] == "a:9092,b:9093"
    assert props(bootstrap_servers=["h1", "h2:1234", "[::1]", "::1"])["bootstrap.servers"] == "h1:9092,h2:1234,[::1]:9092,[::1]:9092"
    with pytest.raises(errors.KafkaConfigurationError):
        props(bootstrap_servers=42)


@pytest.mark.parametrize("acks,want", [(0, "0"), (1, "1"), (-1, "all"), ("all", "all")])
def test_acks(acks, want):
    assert props(acks=acks)["acks"] == want


def test_mapped_keywords():
    p = props(
        linger_ms=20, batch_size=1000, compression_type="zstd", retries=3, max_block_ms=500,
        buffer_memory=1 << 20, client_id="me", max_request_size=2000000, request_timeout_ms=1000,
        delivery_timeout_ms=5000, security_protocol="SASL_SSL", sasl_mechanism="PLAIN",
        sasl_plain_username="u", sasl_plain_password="p", ssl_cafile="ca.pem", ssl_check_hostname=False,
    )
    assert (p["linger.ms"], p["batch.size"], p["compression.type"], p["retries"]) == ("20", "1000", "zstd", "3")
    assert (p["max.block.ms"], p["buffer.memory"], p["client.id"]) == ("500", str(1 << 20), "me")
    assert (p["max.request.size"], p["request.timeout.ms"], p["delivery.timeout.ms"]) == ("2000000", "1000", "5000")
    assert (p["security.protocol"], p["sasl.mechanism"], p["sasl.username"], p["sasl.password"]) == ("SASL_SSL", "PLAIN", "u", "p")
    assert p["ssl.ca.location"] == "ca.pem"
    assert p["ssl.endpoint.identification.algorithm"] == ""


def test_unknown_keyword_is_named():
    with pytest.raises(errors.KafkaConfigurationError, match="lingr_ms"):
        KafkaProducer(lingr_ms=5)


@pytest.mark.parametrize("kw", [{"ssl_context": object()}, {"partitioner": lambda *a: 0}, {"metric_reporters": [object]},
                                {"sasl_kerberos_service_name": "other"}, {"selector": object()}])
def test_keywords_without_a_mapping_only_at_their_default(kw):
    with pytest.raises(errors.KafkaConfigurationError, match=next(iter(kw))):
        KafkaProducer(**kw)


def test_bad_values():
    for kw in ({"acks": 2}, {"compression_type": "brotli"}, {"linger_ms": "5"}, {"key_serializer": 3}):
        with pytest.raises(errors.KafkaConfigurationError):
            KafkaProducer(**kw)
    # A value Volley itself refuses: its message names the property.
    with pytest.raises(errors.KafkaConfigurationError, match="batch.size"):
        KafkaProducer(batch_size=-1)


def test_idempotence_rules(caplog):
    with caplog.at_level(logging.WARNING, logger="volley"):
        assert props(acks=1)["enable.idempotence"] == "false"
    assert "idempotence turned off" in caplog.text
    assert props(retries=0)["enable.idempotence"] == "false"
    assert props(max_in_flight_requests_per_connection=6)["enable.idempotence"] == "false"
    assert props(enable_idempotence=False, acks=1)["enable.idempotence"] == "false"
    for kw in ({"acks": 0}, {"retries": 0}, {"max_in_flight_requests_per_connection": 6}):
        with pytest.raises(errors.KafkaConfigurationError, match="enable_idempotence"):
            KafkaProducer(enable_idempotence=True, **kw)


def test_error_hierarchy():
    assert issubclass(errors.KafkaTimeoutError, errors.RetriableError)
    assert issubclass(errors.RetriableError, errors.KafkaError)
    assert issubclass(errors.MessageSizeTooLargeError, errors.BrokerResponseError)
    assert errors.NotLeaderForPartitionError.errno == 6 and errors.NotLeaderForPartitionError.retriable
    assert isinstance(errors._for_code(10, "x"), errors.MessageSizeTooLargeError)
    assert errors._for_code(9999, "x").errno == 9999


def test_send_argument_errors():
    p = KafkaProducer(bootstrap_servers="127.0.0.1:1", api_version=(4, 0))
    try:
        with pytest.raises(ValueError):
            p.send("t")
        with pytest.raises(TypeError, match="^value must be bytes \\(or set a value_serializer\\), not str$"):
            p.send("t", value="not bytes")
        with pytest.raises(TypeError, match="^key must be bytes \\(or set a key_serializer\\), not int$"):
            p.send("t", b"v", key=3)
        with pytest.raises(TypeError, match="^key must be bytes"):  # the key is reported first
            p.send("t", value="x", key=3)
        with pytest.raises(TypeError, match="^topic must be a str, not bytes$"):
            p.send(b"t", b"v")
        with pytest.raises(TypeError, match="^topic must be a str, not bytes$"):
            p.send(b"t", b"v", headers=[("h", b"x")])
        with pytest.raises(TypeError):
            p.send("t", value=b"v", headers=[("h", "not bytes")])
    finally:
        p.close(0)
    with pytest.raises(errors.IllegalStateError):
        p.send("t", b"v")


# kafka-python 3.0.12's KafkaProducer.DEFAULT_CONFIG keys, written out (not taken from
# Volley's own table, so that a key missing there fails this test).
KAFKA_PYTHON_3_0_KEYS = """
acks allow_auto_create_topics api_version batch_size
bootstrap_servers bootstrap_timeout_ms client_dns_lookup client_id compression_type
connections_max_idle_ms delivery_timeout_ms enable_idempotence kafka_client key_serializer
linger_ms max_block_ms max_in_flight_requests_per_connection max_request_size
metadata_max_age_ms metric_reporters metrics_enabled metrics_num_samples
metrics_sample_window_ms partitioner proxy_url receive_buffer_bytes
receive_message_max_bytes reconnect_backoff_max_ms reconnect_backoff_ms request_timeout_ms
retries retry_backoff_ms sasl_kerberos_domain_name sasl_kerberos_name
sasl_kerberos_service_name sasl_mechanism sasl_oauth_token_provider sasl_plain_password
sasl_plain_username security_protocol selector send_buffer_bytes socket_options socks5_proxy
ssl_cafile ssl_certfile ssl_check_hostname ssl_ciphers ssl_context ssl_crlfile ssl_keyfile
ssl_password transaction_timeout_ms transactional_id value_serializer
""".split()


def test_every_kafka_python_3_0_keyword_is_known():
    assert len(KAFKA_PYTHON_3_0_KEYS) == 55
    missing = [k for k in KAFKA_PYTHON_3_0_KEYS if k not in KafkaProducer.DEFAULT_CONFIG]
    assert missing == []
    p = props(metrics_enabled=False, receive_message_max_bytes=1 << 20, client_dns_lookup="resolve_canonical_bootstrap_servers_only")
    assert p["client.dns.lookup"] == "resolve_canonical_bootstrap_servers_only"


def test_values_of_the_wrong_kind_are_configuration_errors():
    for kw in ({"max_in_flight_requests_per_connection": "5"}, {"max_in_flight_requests_per_connection": None},
               {"metrics_enabled": "yes"}, {"receive_message_max_bytes": 1.5}, {"proxy_url": "http://proxy:3128"}):
        with pytest.raises(errors.KafkaConfigurationError):
            props(**kw)
    with pytest.raises(errors.KafkaConfigurationError, match="bootstrap_timeout_ms"):
        _config.bootstrap_timeout(dict(KafkaProducer.DEFAULT_CONFIG, bootstrap_timeout_ms=-1), {"bootstrap_timeout_ms": -1})


def test_a_scheme_in_bootstrap_servers_is_dropped():
    assert props(bootstrap_servers="PLAINTEXT://broker1:9093,SSL://broker2")["bootstrap.servers"] == "broker1:9093,broker2:9092"


def test_bootstrap_waits_bootstrap_timeout_ms_whatever_max_block_ms():
    # kafka-python bounds its bootstrap by bootstrap_timeout_ms only.
    c = dict(KafkaProducer.DEFAULT_CONFIG, max_block_ms=0)
    assert _config.bootstrap_timeout(c, {"max_block_ms": 0}) == 30000


def test_error_classes_have_kafka_pythons_bases():
    assert issubclass(errors.NotEnoughReplicasError, errors.RetriableError)
    assert issubclass(errors.RequestTimedOutError, errors.RetriableError)
    assert issubclass(errors.UnknownTopicOrPartitionError, errors.InvalidMetadataError)
    assert issubclass(errors.NotLeaderForPartitionError, errors.InvalidMetadataError)
    assert issubclass(errors.UnknownTopicOrPartitionError, errors.BrokerResponseError)
    assert issubclass(errors.KafkaConnectionError, errors.InvalidMetadataError)
    assert issubclass(errors.TopicAuthorizationFailedError, errors.AuthorizationError)
    assert issubclass(errors.KafkaTimeoutError, errors.RetriableError)
    assert not issubclass(errors.MessageSizeTooLargeError, errors.RetriableError)
    # As kafka-python 3.0.12: not retriable.
    assert not errors.KafkaProtocolError.retriable and not errors.TransactionAbortedError.retriable
    assert errors.NotEnoughReplicasError.retriable and not errors.ProducerFencedError.retriable
    assert errors._for_code(120, "x").__class__.__name__ == "TransactionAbortableError"
    assert isinstance(errors._for_code(-1, "x"), errors.UnknownError)
    for name in ("StaleMetadata", "NodeNotReadyError", "TooManyInFlightRequests", "Cancelled", "UnsupportedCodecError"):
        assert issubclass(getattr(errors, name), errors.KafkaError)


def test_default_and_json_serializers_as_kafka_python_3():
    from volley import DefaultSerializer, JsonSerializer
    d = DefaultSerializer()
    assert d.serialize("t", None, "pïng") == "pïng".encode("utf-8")
    assert d.serialize("t", None, b"raw") == b"raw" and d.serialize("t", None, None) is None
    assert d.serialize("t", None, bytearray(b"ba")) == b"ba" and d.serialize("t", None, memoryview(b"mv")) == b"mv"
    assert DefaultSerializer("latin-1").serialize("t", None, "é") == b"\xe9"
    assert JsonSerializer().serialize("t", None, {"a": "é"}) == b'{"a": "\\u00e9"}'
    assert JsonSerializer(encoding="utf-16").serialize("t", None, [1]) == "[1]".encode("utf-16")
    assert JsonSerializer(sort_keys=True).serialize("t", None, {"b": 1, "a": 2}) == b'{"a": 2, "b": 1}'
    assert JsonSerializer().serialize("t", None, None) is None
