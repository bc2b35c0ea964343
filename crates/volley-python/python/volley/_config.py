"""kafka-python's keyword configuration, mapped onto Volley's (Java) property names."""
import itertools
import logging
import selectors
import socket
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from .errors import KafkaConfigurationError

log = logging.getLogger("volley")

_ids = itertools.count(1)

# Every keyword of kafka-python 3.0's KafkaProducer.DEFAULT_CONFIG with its default, plus
# kafka-python 2.x's buffer_memory and api_version_auto_timeout_ms (old tutorials pass them).
DEFAULT_CONFIG: Dict[str, Any] = {
    "bootstrap_servers": "localhost",
    "client_id": None,
    "key_serializer": None,
    "value_serializer": None,
    "enable_idempotence": True,
    "transactional_id": None,
    "transaction_timeout_ms": 60000,
    "delivery_timeout_ms": 120000,
    "acks": -1,
    "retries": float("inf"),
    "compression_type": None,
    "batch_size": 16384,
    "linger_ms": 0,
    "partitioner": None,
    "connections_max_idle_ms": 540000,
    "max_block_ms": 60000,
    "max_request_size": 1048576,
    "allow_auto_create_topics": True,
    "metadata_max_age_ms": 300000,
    "retry_backoff_ms": 100,
    "request_timeout_ms": 30000,
    "receive_buffer_bytes": None,
    "send_buffer_bytes": None,
    "socket_options": [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
    "reconnect_backoff_ms": 50,
    "reconnect_backoff_max_ms": 30000,
    "max_in_flight_requests_per_connection": 5,
    "security_protocol": "PLAINTEXT",
    "ssl_context": None,
    "ssl_check_hostname": True,
    "ssl_cafile": None,
    "ssl_certfile": None,
    "ssl_keyfile": None,
    "ssl_crlfile": None,
    "ssl_password": None,
    "ssl_ciphers": None,
    "api_version": None,
    "api_version_auto_timeout_ms": 2000,
    "bootstrap_timeout_ms": 30000,
    "metric_reporters": [],
    "metrics_num_samples": 2,
    "metrics_sample_window_ms": 30000,
    "selector": selectors.DefaultSelector,
    "sasl_mechanism": None,
    "sasl_plain_username": None,
    "sasl_plain_password": None,
    "sasl_kerberos_name": None,
    "sasl_kerberos_service_name": "kafka",
    "sasl_kerberos_domain_name": None,
    "sasl_oauth_token_provider": None,
    "buffer_memory": 33554432,
    "metrics_enabled": True,
    "client_dns_lookup": "use_all_dns_ips",
    "receive_message_max_bytes": 100000000,
    "proxy_url": None,
    "socks5_proxy": None,
    "kafka_client": None,
}

# Keywords Volley has nothing to map to: accepted at their default only.
_DEFAULT_ONLY = {
    "partitioner": "a custom partitioner (Volley places keys by murmur2, as kafka-python's default does)",
    "ssl_context": "an ssl.SSLContext (use ssl_cafile, ssl_certfile, ssl_keyfile, ssl_password)",
    "ssl_crlfile": "certificate revocation lists",
    "ssl_ciphers": "a cipher list (Volley uses rustls' safe defaults)",
    "metric_reporters": "metric reporters (read producer.metrics())",
    "sasl_kerberos_name": "Kerberos (GSSAPI)",
    "sasl_kerberos_service_name": "Kerberos (GSSAPI)",
    "sasl_kerberos_domain_name": "Kerberos (GSSAPI)",
    "sasl_oauth_token_provider": "a Python OAUTHBEARER token provider",
    "selector": "a custom selector (Volley does its I/O in Rust)",
    "socket_options": "socket options",
    "proxy_url": "a proxy",
    "socks5_proxy": "a SOCKS5 proxy",
    "kafka_client": "a Python network client (Volley's is in Rust)",
}

# Keywords that only tune kafka-python's version probing and bootstrap: not Volley
# properties (Volley negotiates API versions with each broker itself). The constructor
# bootstraps as kafka-python does unless api_version is given, bounded by bootstrap_timeout().
_NO_EFFECT = {"api_version", "api_version_auto_timeout_ms", "bootstrap_timeout_ms"}

# Keywords accepted with any valid value that change nothing in Volley: metrics are always
# kept (``metrics()``), and answers are bounded by the protocol decoder's own frame limit.
_ACCEPTED: Dict[str, type] = {"metrics_enabled": bool, "receive_message_max_bytes": int}


def bootstrap_timeout(config: Dict[str, Any], given: Dict[str, Any]) -> int:
    """Milliseconds the constructor waits for a broker: kafka-python 3.0's
    ``bootstrap_timeout_ms``, or 2.x's ``api_version_auto_timeout_ms`` when only that was
    given (``max_block_ms`` does not bound it, as in kafka-python 3.0)."""
    name = "bootstrap_timeout_ms"
    if "api_version_auto_timeout_ms" in given and "bootstrap_timeout_ms" not in given:
        name = "api_version_auto_timeout_ms"
    wait = int(_int(name, config[name]))
    if wait < 0:
        raise KafkaConfigurationError(f"{name} must not be negative, not {wait}")
    return wait

# Keywords copied to a Volley property as a whole number of the same meaning.
_INTS = {
    "delivery_timeout_ms": "delivery.timeout.ms",
    "batch_size": "batch.size",
    "linger_ms": "linger.ms",
    "connections_max_idle_ms": "connections.max.idle.ms",
    "max_block_ms": "max.block.ms",
    "max_request_size": "max.request.size",
    "metadata_max_age_ms": "metadata.max.age.ms",
    "retry_backoff_ms": "retry.backoff.ms",
    "request_timeout_ms": "request.timeout.ms",
    "reconnect_backoff_ms": "reconnect.backoff.ms",
    "reconnect_backoff_max_ms": "reconnect.backoff.max.ms",
    "max_in_flight_requests_per_connection": "max.in.flight.requests.per.connection",
    "metrics_num_samples": "metrics.num.samples",
    "metrics_sample_window_ms": "metrics.sample.window.ms",
    "buffer_memory": "buffer.memory",
    "receive_buffer_bytes": "receive.buffer.bytes",
    "send_buffer_bytes": "send.buffer.bytes",
}

# Keywords copied as strings.
_STRINGS = {
    "security_protocol": "security.protocol",
    "ssl_cafile": "ssl.ca.location",
    "ssl_certfile": "ssl.certificate.location",
    "ssl_keyfile": "ssl.key.location",
    "ssl_password": "ssl.key.password",
    "sasl_mechanism": "sasl.mechanism",
    "sasl_plain_username": "sasl.username",
    "sasl_plain_password": "sasl.password",
    "client_dns_lookup": "client.dns.lookup",
}

_COMPRESSION = {None: "none", "gzip": "gzip", "snappy": "snappy", "lz4": "lz4", "zstd": "zstd"}


def _int(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise KafkaConfigurationError(f"{name} must be an integer, not {value!r}")
    return str(value)


def _server(entry: str) -> str:
    """host[:port] with kafka-python's default port 9092 ([v6]:port for IPv6); a
    ``PLAINTEXT://``-style scheme is dropped, as kafka-python and Java do."""
    entry = entry.strip()
    if "://" in entry:
        entry = entry.split("://", 1)[1]
    if entry.startswith("["):
        return entry if "]:" in entry else f"{entry}:9092"
    if entry.count(":") == 1:
        return entry
    if ":" in entry:  # a bare IPv6 address
        return f"[{entry}]:9092"
    return f"{entry}:9092"


def _bootstrap(value: Any) -> str:
    if isinstance(value, str):
        entries = value.split(",")
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        entries = list(value)
    else:
        raise KafkaConfigurationError(f"bootstrap_servers must be a string or a list of strings, not {value!r}")
    servers = [_server(e) for e in entries if e.strip()]
    if not servers:
        raise KafkaConfigurationError("bootstrap_servers is empty")
    return ",".join(servers)


def _acks(value: Any) -> str:
    if value == "all" or value == -1 or value == "-1":
        return "all"
    if value in (0, 1, "0", "1") and not isinstance(value, bool):
        return str(value)
    raise KafkaConfigurationError(f"acks must be 0, 1, -1 or 'all', not {value!r}")


def _serializer(name: str, value: Any) -> Optional[Callable[..., Any]]:
    if value is None or callable(value) or callable(getattr(value, "serialize", None)):
        return value  # type: ignore[no-any-return]  # checked just above
    raise KafkaConfigurationError(f"{name} must be a callable or have serialize(topic, headers, data), not {value!r}")


def _idempotence(config: Dict[str, Any], explicit: Set[str]) -> str:
    """kafka-python 3.0's rule: acks 0/1, retries=0 or more than 5 requests in flight turn
    the default idempotence off (with a warning); asked for explicitly, or with a
    transactional_id, they are an error."""
    wanted = config["enable_idempotence"]
    if not isinstance(wanted, bool):
        raise KafkaConfigurationError(f"enable_idempotence must be True or False, not {wanted!r}")
    transactional = config["transactional_id"] is not None
    if not wanted:
        if transactional:
            raise KafkaConfigurationError("transactional_id needs idempotence: enable_idempotence=False cannot be used with it")
        return "false"
    conflicts = []
    if _acks(config["acks"]) != "all":
        conflicts.append(f"acks={config['acks']!r}")
    if config["retries"] == 0:
        conflicts.append("retries=0")
    if int(_int("max_in_flight_requests_per_connection", config["max_in_flight_requests_per_connection"])) > 5:
        conflicts.append(f"max_in_flight_requests_per_connection={config['max_in_flight_requests_per_connection']}")
    if not conflicts:
        return "true"
    if "enable_idempotence" in explicit or transactional:
        raise KafkaConfigurationError(
            f"{'transactional_id' if transactional else 'enable_idempotence=True'} needs acks='all', retries > 0 and "
            f"max_in_flight_requests_per_connection <= 5, but {', '.join(conflicts)} was given"
        )
    log.warning("idempotence turned off because %s was given (pass enable_idempotence=False to silence this)", ", ".join(conflicts))
    return "false"


def resolve(configs: Dict[str, Any]) -> Tuple[Dict[str, Any], List[Tuple[str, str]]]:
    """The full config (defaults filled in) and Volley's properties for it.

    Raises KafkaConfigurationError for an unknown keyword, a value of the wrong kind, or a
    value Volley cannot honour."""
    unknown = sorted(set(configs) - set(DEFAULT_CONFIG))
    if unknown:
        raise KafkaConfigurationError(f"Unrecognized configs: {', '.join(unknown)}")
    config = dict(DEFAULT_CONFIG)
    config.update(configs)
    for name, why in _DEFAULT_ONLY.items():
        if config[name] != DEFAULT_CONFIG[name]:
            raise KafkaConfigurationError(f"{name}={config[name]!r} is not supported: Volley has no {why}; leave it at its default")
    for name in ("key_serializer", "value_serializer"):
        _serializer(name, config[name])
    for name, kind in _ACCEPTED.items():
        if not isinstance(config[name], kind) or (kind is int and isinstance(config[name], bool)):
            raise KafkaConfigurationError(f"{name} must be {kind.__name__}, not {config[name]!r}")
    client_id = config["client_id"]
    if client_id is None:
        client_id = config["client_id"] = f"volley-python-producer-{next(_ids)}"
    props: List[Tuple[str, str]] = [
        ("bootstrap.servers", _bootstrap(config["bootstrap_servers"])),
        ("client.id", str(client_id)),
        ("acks", _acks(config["acks"])),
        ("enable.idempotence", _idempotence(config, set(configs))),
        ("allow.auto.create.topics", "true" if config["allow_auto_create_topics"] else "false"),
    ]
    compression = config["compression_type"]
    if compression not in _COMPRESSION:
        raise KafkaConfigurationError(f"compression_type must be None, 'gzip', 'snappy', 'lz4' or 'zstd', not {compression!r}")
    props.append(("compression.type", _COMPRESSION[compression]))
    retries = config["retries"]
    if retries != float("inf"):
        # Volley counts retries in a Java int, as the Java client does.
        props.append(("retries", str(min(int(_int("retries", retries)), 2**31 - 1))))
    for name, key in _INTS.items():
        if config[name] is not None:
            props.append((key, _int(name, config[name])))
    for name, key in _STRINGS.items():
        if config[name] is not None:
            props.append((key, str(config[name])))
    if config["transactional_id"] is not None:
        if not isinstance(config["transactional_id"], str) or not config["transactional_id"]:
            raise KafkaConfigurationError(f"transactional_id must be a non-empty str, not {config['transactional_id']!r}")
        props.append(("transactional.id", config["transactional_id"]))
        props.append(("transaction.timeout.ms", _int("transaction_timeout_ms", config["transaction_timeout_ms"])))
    if not config["ssl_check_hostname"]:
        props.append(("ssl.endpoint.identification.algorithm", ""))
    return config, props
