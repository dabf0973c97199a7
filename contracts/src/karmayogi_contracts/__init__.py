"""Karmayogi event contracts: CloudEvents 1.0 over Kafka, shared by every service and state system.

Publish: `encode(new_event(EmployeeEnrolled(...), source="/services/enrolment"))` gives a
KafkaRecord. Consume: `decode(value, headers)` gives a CloudEvent or a DecodeError, never raises.
"""

from . import ids
from .decoding import MAX_BYTES, decode
from .encoding import KafkaRecord, encode, encode_structured
from .envelope import CloudEvent, new_event
from .errors import DecodeError
from .events import (
    CertificateIssued, CertificateRevoked, CourseCompleted, EmployeeEnrolled, EmployeeUpdated, EnrolmentWithdrawn,
    SessionAttended,
)
from .parts import Event
from .registry import EVENT_TYPES, TOPICS, EventType, dead_letter_topic

__all__ = [
    "EVENT_TYPES", "MAX_BYTES", "TOPICS", "CertificateIssued", "CertificateRevoked", "CloudEvent",
    "CourseCompleted", "DecodeError", "EmployeeEnrolled", "EmployeeUpdated", "EnrolmentWithdrawn", "Event", "EventType",
    "KafkaRecord", "SessionAttended", "dead_letter_topic", "decode", "encode", "encode_structured", "ids",
    "new_event",
]
