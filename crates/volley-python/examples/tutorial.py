"""kafka-python 3.0's README producer tutorial, on Volley: each block as the README has it,
with the import changed (and the broker's address from the environment)."""
import os

from volley import DefaultSerializer, JsonSerializer, KafkaProducer  # was: from kafka import ...

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")

producer = KafkaProducer(bootstrap_servers=BOOTSTRAP)
for _ in range(100):
    # Fire-and-forget: send() is async and returns before delivery
    producer.send("foobar", b"some_message_bytes")

# To check the status of an async message delivery, use .get()
future = producer.send("foobar", b"another_message")
# future.get() will block until it can return the result or raise on error
result = future.get(timeout=60)

# Block until all pending messages are at least put on the network
# NOTE: This does not guarantee delivery or success! It is really
# only useful if you configure internal batching using linger_ms
producer.flush()

# Use a key for hashed-partitioning
producer.send("foobar", key=b"foo", value=b"bar")

# Serialize json messages
producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, value_serializer=JsonSerializer())
producer.send("fizzbuzz", {"foo": "bar"})

# Serialize string keys
producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, key_serializer=DefaultSerializer())
producer.send("flipflap", key="ping", value=b"1234")

# Compress messages
producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, compression_type="gzip")
for i in range(1000):
    producer.send("foobar", b"msg %d" % i)

# Include record headers. The format is list of tuples with string key
# and bytes value.
producer.send("foobar", value=b"c29tZSB2YWx1ZQ==", headers=[("content-encoding", b"base64")])

# Get producer performance metrics
metrics = producer.metrics()

# Use transactions (the README's block comes before the headers one; it runs last here:
# a transactional producer sends only inside a transaction, in kafka-python as in Volley)
producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, transactional_id="fizzbuzz")
producer.init_transactions()
producer.begin_transaction()
future = producer.send("txn_topic", value=b"yes")
future.get()  # wait for successful produce
producer.commit_transaction()  # commit the transaction

producer.begin_transaction()
future = producer.send("txn_topic", value=b"no")
future.get()  # wait for successful produce
producer.abort_transaction()  # abort the transaction
print(result.topic, result.partition, result.offset, len(metrics))
