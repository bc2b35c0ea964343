"""kafka-python's usage guide, the KafkaProducer part, on Volley."""
import json
import logging
import os

from volley import KafkaProducer  # was: from kafka import KafkaProducer
from volley.errors import KafkaError  # was: from kafka.errors import KafkaError
from volley.structs import RecordMetadata

log = logging.getLogger(__name__)
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")

producer = KafkaProducer(bootstrap_servers=[BOOTSTRAP])

# Asynchronous by default
future = producer.send("my-topic", b"raw_bytes")

# Block for 'synchronous' sends
try:
    record_metadata = future.get(timeout=10)
except KafkaError:
    # Decide what to do if produce request failed...
    log.exception("send failed")
    raise

# Successful result returns assigned partition and offset
print(record_metadata.topic)
print(record_metadata.partition)
print(record_metadata.offset)

# produce keyed messages to enable hashed partitioning
producer.send("my-topic", key=b"foo", value=b"bar")

# produce json messages (the guide reuses `producer` here, and then sends bytes through
# the JSON serializer below, which fails with kafka-python too: a name of its own)
json_producer = KafkaProducer(bootstrap_servers=[BOOTSTRAP], value_serializer=lambda m: json.dumps(m).encode("ascii"))
json_producer.send("json-topic", {"key": "value"})

# produce asynchronously
for _ in range(100):
    producer.send("my-topic", b"msg")


def on_send_success(record_metadata: RecordMetadata) -> None:
    print(record_metadata.topic)
    print(record_metadata.partition)
    print(record_metadata.offset)


def on_send_error(excp: BaseException) -> None:
    log.error("I am an errback", exc_info=excp)
    # handle exception


# produce asynchronously with callbacks
producer.send("my-topic", b"raw_bytes").add_callback(on_send_success).add_errback(on_send_error)

# block until all async messages are sent
producer.flush()

# configure multiple retries
producer = KafkaProducer(bootstrap_servers=[BOOTSTRAP], retries=5)
