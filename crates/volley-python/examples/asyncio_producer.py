"""aiokafka's producer example, on volley.aio."""
import asyncio
import os

from volley.aio import AIOKafkaProducer  # was: from aiokafka import AIOKafkaProducer

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")


async def send_one() -> None:
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP)
    # Get cluster layout and initial topic/partition leadership information
    await producer.start()
    try:
        # Produce message
        await producer.send_and_wait("my_topic", b"Super message")
    finally:
        # Wait for all pending messages to be delivered or expire.
        await producer.stop()


async def send_many() -> None:
    async with AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, linger_ms=5) as producer:
        futures = [await producer.send("my_topic", b"message %d" % i) for i in range(100)]
        for meta in await asyncio.gather(*futures):
            assert meta.topic == "my_topic"


asyncio.run(send_one())
asyncio.run(send_many())
