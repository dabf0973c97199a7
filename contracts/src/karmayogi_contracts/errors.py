"""DecodeError: what a consumer gets instead of an exception when a record is not a valid event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pydantic import ValidationError

# Stable reason codes; consumers put them in dead-letter headers and alerts may match on them.
REASONS = (
    "missing_value",      # the record has no value (a tombstone)
    "too_large",          # the value exceeds the size cap
    "invalid_header",     # a header is not UTF-8, is sent twice with different values, or breaks its rule
    "missing_header",     # binary mode without a required ce_ header
    "unsupported_content_type",
    "not_json",           # the value is not UTF-8 JSON
    "invalid_envelope",   # structured mode whose value is not a JSON object
    "missing_attribute",  # structured mode without a required attribute
    "invalid_attribute",  # structured mode attribute that breaks its rule
    "unknown_type",       # a type this version of the contracts does not know
    "wrong_topic",        # a type that belongs on another topic than the one decode was told it was read from
    "invalid_payload",    # data does not satisfy the type's model
    "tenant_mismatch",    # the envelope's tenant differs from data.tenant
)
_MAX_LISTED = 3


@dataclass(frozen=True)
class DecodeError:
    """Why a record could not be decoded. Not an exception: `decode` returns it.

    `message` names the field and the rule it broke but never repeats the offending value, so it
    is safe to log and to put in a dead-letter header.
    """

    reason: str
    message: str
    event_type: str | None = None
    event_id: str | None = None


def describe(error: ValidationError, prefix: str = "", rename: Callable[[str], str] = str) -> str:
    """One sentence per broken rule, `<field path>: <rule>`, at most three.

    `rename` turns the first path element into what the publisher actually sent (a header name).
    """
    parts = []
    for item in error.errors(include_url=False, include_input=False)[:_MAX_LISTED]:
        loc = item["loc"]
        if loc and isinstance(loc[0], str):
            loc = (rename(loc[0]), *loc[1:])
        parts.append(f"{_path(prefix, loc)}: {_rule(item['msg'])}")
    hidden = error.error_count() - _MAX_LISTED
    if hidden > 0:
        parts.append(f"and {hidden} more")
    return "; ".join(parts)


def _path(prefix: str, loc: tuple[int | str, ...]) -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path or "value"


# email-validator explains what is wrong with an address by quoting it: a character, an IDNA label of
# its domain. The message must not repeat the value, so every e-mail error is this one sentence.
_NOT_AN_EMAIL = "value is not a valid email address"


def _rule(message: str) -> str:
    # pydantic prefixes the message of a plain ValueError; the rule reads better without it.
    message = message.removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    return _NOT_AN_EMAIL if message.startswith(_NOT_AN_EMAIL) else message
