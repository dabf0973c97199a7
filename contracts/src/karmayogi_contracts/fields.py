"""Precise field types shared by every contract.

Each type's JSON Schema (the snapshot publishers in other languages work from) states every rule that
JSON Schema can express portably: type, length, range, pattern, allowed values. The models check
those and a few more that it cannot, so a value a schema accepts may still be refused as
`invalid_payload` (the name rule is also stated in words in the name fields' descriptions):

- person names: at least one letter, and otherwise only letters, combining marks, spaces, the
  characters . ' ’ - and the zero-width (non-)joiners. A pattern would need Unicode property
  classes (`\\p{L}`), which JSON Schema's regex dialect does not require and many validators lack;
- names and free text (titles, districts, reasons): not blank once stripped, no control characters,
  at most the limit also after NFC normalisation (which can lengthen Devanagari);
- e-mail addresses: email-validator's syntax and domain rules, stricter than the `email` format;
- numbers and flags are strict: `6.0` or `"6"` is not an integer, `"true"` is not a boolean;
- rules across fields, stated on the model: a batch ends on or after its start, minutes attended do
  not exceed the session's duration, and the like.

Error messages name the rule but never echo the input: an event can carry one employee's personal data
(STYLE.md, habit 5).
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, EmailStr, Field, GetCoreSchemaHandler, Strict
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

STATE_CODE_PATTERN = r"^IN-[A-Z]{2}$"
EMPLOYEE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
# Language, optional script, optional region: the subset of BCP 47 that names Indian languages
# ("hi", "en-IN", "sa-Deva-IN"); extensions and private-use subtags are not needed here.
LANGUAGE_TAG_PATTERN = r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$"
E164_PATTERN = r"^\+[1-9][0-9]{7,14}$"
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
# https everywhere, except a developer's own machine (the local stack serves plain http on loopback).
HTTPS_URL_PATTERN = r"^(https://[^\s/?#]+|http://(localhost|127\.0\.0\.1)(:[0-9]{1,5})?/)[^\s]*$"

# Zero-width (non-)joiners are format characters, but Indian scripts need them to choose a
# conjunct or half form, so they are part of a legitimate name.
_JOINERS = ("\u200c", "\u200d")
# Initials, O'Brien (with the typewriter or the typographic apostrophe), double-barrelled names.
_NAME_PUNCTUATION = (".", "'", "\u2019", "-")
_NAME_OTHER_CHARACTERS = frozenset((" ", *_NAME_PUNCTUATION, *_JOINERS))
NAME_MAX_LENGTH = 200
# What a name may hold besides its letters, for the error message and the schema's description alike.
NAME_CHARACTERS = (
    f"letters, combining marks, spaces, the characters {' '.join(_NAME_PUNCTUATION)} and the zero-width "
    f"(non-)joiners {' and '.join(f'U+{ord(char):04X}' for char in _JOINERS)}"
)


@dataclass(frozen=True)
class PatternRule:
    """A string rule (`pattern`, at most `max_length` characters) that fails with our sentence `rule`.

    It runs inside pydantic-core rather than as a Python validator, which would cost a call into the
    interpreter per field and event. The input is first validated as a plain string (a number still
    gets pydantic's "Input should be a valid string"); then the compiled regex accepts it, or, for what
    it rejects, Python's `re.fullmatch` decides, so acceptance is exactly Python's. Any failure is
    `pattern_mismatch` with `rule` (tests: contracts/tests/test_compiled_rules.py).
    """

    pattern: str
    rule: str
    max_length: int | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        compiled = core_schema.str_schema(pattern=rust_pattern(self.pattern), max_length=self.max_length, strict=True)
        exact = core_schema.no_info_plain_validator_function(self._python_check)
        either = core_schema.union_schema([compiled, exact], mode="left_to_right")
        return core_schema.chain_schema([
            handler(source),
            core_schema.custom_error_schema(either, custom_error_type="pattern_mismatch", custom_error_message=self.rule),
        ])

    def _python_check(self, value: str) -> str:
        if (self.max_length is not None and len(value) > self.max_length) or not re.fullmatch(self.pattern, value):
            raise ValueError(self.rule)
        return value


def rust_pattern(pattern: str) -> str:
    """`pattern` for pydantic-core's regex engine, accepting a subset of what Python's `re` accepts.

    Rust cannot name surrogates (pydantic-core rejects a string holding one before matching, and
    Python then decides) and its `\\s` leaves out U+001C-U+001F, which Python counts as space."""
    return pattern.replace(r"\ud800-\udfff", "").replace(r"\s", r"\s\x1c-\x1f")


def _pattern_string(pattern: str, rule: str, description: str, max_length: int) -> Any:
    # Pattern and length reach the schema through json_schema_extra and are checked by one
    # validator, so Python raises our readable rule instead of pydantic's "should match '^...$'".
    return Annotated[
        str,
        Field(description=description, json_schema_extra={"pattern": pattern, "maxLength": max_length}),
        PatternRule(pattern, rule, max_length),
    ]


def _normalised(value: str, max_length: int) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    # NFC can lengthen text (Devanagari nukta letters such as U+0958 decompose), so the limit
    # is checked again on what will actually be stored and sent.
    if len(value) > max_length:
        raise PydanticCustomError("too_long", "must be at most {max_length} characters", {"max_length": max_length})
    for char in value:
        category = unicodedata.category(char)
        if category == "Cs":
            raise PydanticCustomError("surrogate", "must be valid Unicode text (no lone surrogates)")
        if category == "Cc":
            raise PydanticCustomError("control_character", "must not contain control characters")
    return value


def _visible(char: str) -> bool:
    """Not a space and not an invisible format character (a lone zero-width joiner is a blank title too)."""
    return unicodedata.category(char)[0] not in "ZC"


def _normalise_name(value: str) -> str:
    value = _normalised(value, NAME_MAX_LENGTH)
    if not any(unicodedata.category(char)[0] == "L" for char in value):
        raise PydanticCustomError("empty_name", "must contain at least one letter")
    for char in value:
        if unicodedata.category(char)[0] not in "LM" and char not in _NAME_OTHER_CHARACTERS:
            raise PydanticCustomError("name_character", "may contain only {characters}", {"characters": NAME_CHARACTERS})
    return value


# What the models check of a name beyond its JSON Schema (see the module docstring), for its description.
NAME_RULE = (
    f"NFC-normalised and stripped, 1-{NAME_MAX_LENGTH} characters: at least one letter, and otherwise only "
    f"{NAME_CHARACTERS}; no control characters. The contracts' models check this; the schema cannot state it."
)


def text(max_length: int, description: str) -> Any:
    """Free text (titles, districts, reasons): NFC-normalised, stripped, no control characters."""

    def normalise(value: str) -> str:
        value = _normalised(value, max_length)
        if not any(_visible(char) for char in value):
            raise PydanticCustomError("empty_text", "must not be empty or only spaces")
        return value

    return Annotated[
        str, Field(min_length=1, max_length=max_length, description=description), AfterValidator(normalise)
    ]


# How a date-time and a date are written (RFC 3339 section 5.6): seconds and an offset are required. Lax
# pydantic would also read "1740987060" or a JSON number as a Unix timestamp, "2025-03-03T07:31+0530", or a
# date-time at midnight as a date: a publisher sending one has a bug that should surface here, not as a
# date in 1970. [0-9], not \d: in both regex engines \d takes the digits of every script.
DATE_TIME_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
DATE_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"


def _written_as(pattern: str, rule: str) -> Any:
    """A check before pydantic's own: a string must be written as `pattern` says; a number is refused;
    anything else (a `datetime` or `date` a Python producer passes) is left to pydantic."""
    compiled = re.compile(pattern)

    def check(value: Any) -> Any:
        if isinstance(value, str) and compiled.fullmatch(value) or not isinstance(value, (str, int, float)):
            return value
        raise PydanticCustomError("date_format", rule)

    return check


_date_time_written = _written_as(
    DATE_TIME_PATTERN, "must be an RFC 3339 date-time string with seconds and an offset, e.g. '2025-03-03T13:01:00+05:30'"
)
_date_written = _written_as(DATE_PATTERN, "must be a date string written YYYY-MM-DD, e.g. '2025-03-03'")
# Each check and its pattern, which `with_compiled_dates` checks inside pydantic-core instead.
_PATTERN_OF = {_date_time_written: DATE_TIME_PATTERN, _date_written: DATE_PATTERN}


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00:00+05:30 is before the first instant UTC can write
        raise PydanticCustomError("datetime_out_of_range", "must be an instant from year 1 to 9999 in UTC") from None


# An RFC 3339 string whose offset is already zero ("Z" or "+00:00"), parsed inside pydantic-core.
_UTC_STRING = core_schema.chain_schema(
    [core_schema.str_schema(strict=True, pattern=f"^{DATE_TIME_PATTERN}$"), core_schema.datetime_schema(tz_constraint=0)]
)


def with_compiled_dates(schema: Any) -> Any:
    """A copy of the core `schema` in which every `UtcDatetime` first tries `_UTC_STRING`, and every
    `Date` (and `UtcDatetime` otherwise) a string checked against its pattern inside pydantic-core.

    A string `UtcDatetime` accepts with a zero offset is then read without its two calls into Python,
    giving the same instant in UTC (pydantic-core's own UTC tzinfo, equal to `timezone.utc`), and a string
    `Date` accepts without its one call; any other input takes the rule as written. Only for input expected to be valid: when both tries fail, both are reported, so a caller
    re-validates with the model's own schema to say why (see `decoding`)."""
    if isinstance(schema, list):
        return [with_compiled_dates(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    copy = {key: with_compiled_dates(value) for key, value in schema.items()}
    function = schema["function"].get("function") if isinstance(schema.get("function"), dict) else None
    if schema.get("type") == "function-after" and function is _to_utc:
        return core_schema.union_schema([_UTC_STRING, copy], mode="left_to_right")
    if schema.get("type") == "function-before" and function in _PATTERN_OF:
        string = core_schema.chain_schema([core_schema.str_schema(strict=True, pattern=f"^{_PATTERN_OF[function]}$"),
                                           copy["schema"]])
        return core_schema.union_schema([string, copy], mode="left_to_right")
    return copy


@contextlib.contextmanager
def models_built_anew(schema: Any) -> Iterator[None]:
    """While in this block, a validator built of `schema` (a copy from `with_compiled_dates`) builds
    each model in it as the copy says. pydantic-core otherwise reuses the validator a complete model class
    already has (unless it ends in a model validator) wherever that class appears, and the compiled
    dates of a nested model, or of a whole payload, would never be used. The classes are marked
    incomplete only for that time, which no validation reads."""
    classes = {node["cls"] for node in _nodes(schema)
               if node.get("type") == "model" and vars(node["cls"]).get("__pydantic_complete__")}
    for cls in classes:
        cls.__pydantic_complete__ = False
    try:
        yield
    finally:
        for cls in classes:
            cls.__pydantic_complete__ = True


def _nodes(schema: Any) -> Iterator[dict]:
    if isinstance(schema, list):
        for item in schema:
            yield from _nodes(item)
    elif isinstance(schema, dict):
        yield schema
        for value in schema.values():
            yield from _nodes(value)


StateCode = _pattern_string(
    STATE_CODE_PATTERN,
    "must be an ISO 3166-2:IN state code such as 'IN-HR' or 'IN-BR'",
    "The state's ISO 3166-2 code, e.g. 'IN-HR' (Haryana) or 'IN-BR' (Bihar); the tenant of the event.",
    5,
)
EmployeeId = _pattern_string(
    EMPLOYEE_ID_PATTERN,
    "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    "The employee's id in the state HR system (HRMS), unique within the tenant.",
    64,
)
LanguageTag = _pattern_string(
    LANGUAGE_TAG_PATTERN,
    "must be a BCP 47 language tag such as 'hi', 'en' or 'hi-IN'",
    "The employee's preferred language as a BCP 47 tag, e.g. 'hi', 'en', 'hi-IN'.",
    16,
)
Mobile = _pattern_string(
    E164_PATTERN,
    "must be an E.164 number with country code, such as '+919812345678'",
    "Mobile number in E.164 form, e.g. '+919812345678'.",
    16,
)
Slug = _pattern_string(
    SLUG_PATTERN,
    "must be 1-64 lowercase letters, digits or '-', e.g. 'ethics-in-governance'",
    "A lowercase identifier such as 'ethics-in-governance'.",
    64,
)
HttpsUrl = _pattern_string(
    HTTPS_URL_PATTERN,
    "must be an https URL of at most 2000 characters, e.g. 'https://certificates.hry.gov.in/verify/...'",
    "An https URL (plain http only on loopback, for local development).",
    2000,
)
PersonName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=NAME_MAX_LENGTH,
        description=f"A person's name in any script (Latin, Devanagari, Gurmukhi, ...), {NAME_RULE}",
    ),
    AfterValidator(_normalise_name),
]
Email = Annotated[EmailStr, Field(max_length=254, description="E-mail address (RFC 5321 length limit).")]
UtcDatetime = Annotated[
    AwareDatetime,
    BeforeValidator(_date_time_written),
    AfterValidator(_to_utc),
    Field(description="RFC 3339 date-time with an offset; normalised to UTC."),
]
Date = Annotated[date, BeforeValidator(_date_written), Field(description="Calendar date, YYYY-MM-DD.")]
Count = Annotated[int, Strict()]
Flag = Annotated[bool, Strict()]
Percent = Annotated[float, Strict(), Field(ge=0, le=100, allow_inf_nan=False)]
