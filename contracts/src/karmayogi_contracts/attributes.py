"""Validation rules for the CloudEvents context attributes read from untrusted input."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from .fields import PatternRule, StateCode, UtcDatetime

# URI-reference without whitespace, e.g. "/services/enrolment" or "urn:state:IN-HR:hrms".
SOURCE_PATTERN = r"^[^\s\x00-\x1f\x7f\ud800-\udfff]{1,512}$"
TRACEPARENT_PATTERN = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
TOKEN_PATTERN = r"^[^\x00-\x1f\x7f\ud800-\udfff]{1,256}$"

Source = Annotated[str, PatternRule(SOURCE_PATTERN, "must be a URI-reference such as '/services/enrolment'")]
Token = Annotated[str, PatternRule(TOKEN_PATTERN, "must be 1-256 characters without control characters")]
Traceparent = Annotated[
    str, PatternRule(TRACEPARENT_PATTERN, "must be a W3C traceparent such as '00-<32 hex>-<16 hex>-01'")
]

REQUIRED = ("specversion", "id", "source", "type", "time", "tenant")
OPTIONAL = ("subject", "correlationid", "causationid", "traceparent")


class Attributes(BaseModel):
    """The context attributes of one received event, named as CloudEvents names them."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    specversion: Literal["1.0"]
    id: Annotated[UUID, Field(description="Event id; our contract requires a UUID.")]
    source: Source
    type: str
    time: UtcDatetime
    tenant: StateCode
    subject: Token | None = None
    correlationid: Token | None = None
    causationid: Token | None = None
    traceparent: Traceparent | None = None


def header_name(attribute: str) -> str:
    """The Kafka header that carries `attribute` in binary mode."""
    return attribute if attribute == "traceparent" else f"ce_{attribute}"
