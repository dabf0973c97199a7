"""One row of a bulk enrolment file: its columns, and its validation with the contract's own rules.

A valid row carries the employee's profile and the batch id; an invalid one, the reason in sentences a
training officer can act on. Every accepted row makes a valid `employee.enrolled` event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from karmayogi_contracts.errors import describe
from karmayogi_contracts.events import EmployeeProfile
from pydantic import TypeAdapter, ValidationError

COLUMNS = ("employee_id", "name", "email", "mobile", "preferred_language", "department", "designation",
           "district", "batch_id")
OPTIONAL = frozenset({"email", "mobile"})


@dataclass(frozen=True)
class BulkRow:
    """One data line: either a valid profile and batch id, or the reason it was rejected."""

    line: int
    employee_id: str | None
    batch_id: UUID | None
    profile: EmployeeProfile | None = None
    problem: str | None = None


def validated_row(line: int, fields: dict[str, Any]) -> BulkRow:
    """Validate one row's directory fields with the contract's own rules, so every accepted row makes a valid event."""
    employee_id = fields.get("employee_id")
    employee_id = employee_id if isinstance(employee_id, str) else None
    problems = []
    batch_id = None
    try:
        batch_id = UUID(str(fields.get("batch_id")).strip())
    except ValueError:
        problems.append("batch_id: must be a UUID such as '3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b'")
    profile = None
    data = {"id": fields.get("employee_id"), **{k: fields.get(k) for k in COLUMNS[1:-1]}}
    for optional in OPTIONAL:
        if data[optional] == "":
            data[optional] = None
    try:
        profile = _profile(data)
    except ValidationError as error:
        problems.append(describe(error, rename=_column))
    if problems:
        return rejected(line, "; ".join(problems) + ".", employee_id, batch_id)
    return BulkRow(line, profile.id, batch_id, profile)  # type: ignore[union-attr]


def rejected(line: int, reason: str, employee_id: Any = None, batch_id: UUID | None = None) -> BulkRow:
    """A row that is not enrolled; what its report line keeps of the file is made storable here."""
    employee_id = storable(employee_id, MAX_REPORTED_ID) if isinstance(employee_id, str) else None
    return BulkRow(line, employee_id, batch_id, problem=storable(reason, MAX_REPORTED_REASON))


# A rejected row's report keeps its employee_id and a reason that may quote the file (NDJSON key names)
# exactly as received. PostgreSQL text holds neither NUL nor a lone surrogate (NDJSON "\ud800" decodes to
# one), and one such row would roll back its whole chunk: NUL is dropped, a lone surrogate becomes U+FFFD
# (the replacement character), and the length is bounded.
MAX_REPORTED_ID = 100
MAX_REPORTED_REASON = 2000
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str, limit: int) -> str:
    text = _LONE_SURROGATE.sub("\ufffd", text.replace("\x00", ""))
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# Each field is validated with its own type from the contract, and the values a state's file repeats
# (names, languages, departments, designations, districts) are validated once: the same rules as
# `EmployeeProfile.model_validate`, at a third of the cost per row. A row with any invalid field is
# validated again as a whole, so its report carries the contract's own sentences.
_FIELD_TYPES = {name: TypeAdapter(Annotated[info.annotation, info]) for name, info in EmployeeProfile.model_fields.items()}
_REPEATED = frozenset({"name", "preferred_language", "department", "designation", "district"})
_SEEN: dict[tuple[str, Any], Any] = {}
# E-mail validation is the costliest check of a row (~40 us). An address whose domain has already passed
# the full check and whose local part is a plain lowercase dot-atom is valid and already normalised, so
# the full check is skipped for it: same result, a fraction of the time, on 300,000 rows of one state.
_PLAIN_EMAIL = re.compile(r"([a-z0-9]+(?:[._+-][a-z0-9]+)*)@([a-z0-9.-]+)")
_CHECKED_DOMAINS: set[str] = set()


def _profile(data: dict[str, Any]) -> EmployeeProfile:
    try:
        return EmployeeProfile.model_construct(**{name: _valid(name, value) for name, value in data.items()})
    except ValidationError:
        return EmployeeProfile.model_validate(data)  # raises, with every problem of the row


def _valid(name: str, value: Any) -> Any:
    if not isinstance(value, str):  # null, or a JSON number, list or object from an NDJSON line
        return _FIELD_TYPES[name].validate_python(value)
    if name in _REPEATED:
        if (name, value) not in _SEEN:
            if len(_SEEN) >= 100_000:
                _SEEN.clear()
            _SEEN[(name, value)] = _FIELD_TYPES[name].validate_python(value)
        return _SEEN[(name, value)]
    if name == "email" and len(value) <= 254:
        return _valid_email(value)
    return _FIELD_TYPES[name].validate_python(value)


def _valid_email(email: str) -> str:
    plain = _PLAIN_EMAIL.fullmatch(email)
    if plain and len(plain[1]) <= 64 and plain[2] in _CHECKED_DOMAINS:
        return email
    valid = _FIELD_TYPES["email"].validate_python(email)
    if plain and valid == email and len(_CHECKED_DOMAINS) < 10_000:
        _CHECKED_DOMAINS.add(plain[2])
    return valid


def _column(field: str) -> str:
    """The file's column of a profile field: the contract's `id` is the file's `employee_id`."""
    return "employee_id" if field == "id" else field
