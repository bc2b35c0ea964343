"""Volley for Python: kafka-python's ``KafkaProducer`` API, backed by Volley's Rust producer.

    from volley import KafkaProducer
"""
from . import errors, serializer
from ._volley import FutureRecordMetadata
from .producer import KafkaProducer
from .serializer import DefaultSerializer, JsonSerializer, Serializer
from .structs import OffsetAndMetadata, RecordMetadata, TopicPartition

__all__ = [
    "DefaultSerializer",
    "FutureRecordMetadata",
    "JsonSerializer",
    "KafkaProducer",
    "OffsetAndMetadata",
    "RecordMetadata",
    "Serializer",
    "TopicPartition",
    "errors",
    "serializer",
]
