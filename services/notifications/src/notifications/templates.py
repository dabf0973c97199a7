"""Rendering: templates per event kind x language x channel under `templates/<kind>/<language>/`.

Each kind and language has `subject.txt`, `email.txt`, `email.html` (autoescaped) and `sms.txt`. An SMS
is rendered in full first; when that takes more than one segment it is rendered again with `brief=True`,
where templates leave out the long, variable parts (titles, centre names), so it fits in one segment
whenever the facts allow. A certificate SMS to someone without e-mail is their only message, so it has no
brief form: it carries the link (and for a revocation the course and the reason) in more segments. An SMS
writes typographic quotes and dashes as GSM-7 has them, so an English one stays GSM-7.
"""

from __future__ import annotations

from datetime import date, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from karmayogi_runtime import calendar

from .domain import Contact, Message, plain_punctuation, sms_segments, template_language

TEMPLATES = Path(__file__).parent / "templates"
KINDS = {
    "karmayogi.employee.enrolled.v1": "enrolled",
    "karmayogi.course.completed.v1": "completed",
    "karmayogi.certificate.issued.v1": "certificate_issued",
    "karmayogi.certificate.revoked.v1": "certificate_revoked",
}


def _day(value: date | None) -> str:
    """Dates as Indian readers write them: 03-03-2025."""
    return "" if value is None else value.strftime("%d-%m-%Y")


def centre_with_district(name: str, district: str) -> str:
    """The centre as the employee should find it: its name, and its district only when the name does not
    already say it ("District Training Centre, Gaya" needs no ", Gaya"; "HIPA" gets ", Gurugram")."""
    return name if district.casefold() in name.casefold() else f"{name}, {district}"


# The contract's batch modes in the words of each language's readers; English uses the contract's own.
MODE_NAMES = {"hi": {"classroom": "कक्षा", "online": "ऑनलाइन", "blended": "मिश्रित (कक्षा और ऑनलाइन)"}}


def _mode_in(mode: str, language: str) -> str:
    return MODE_NAMES.get(language, {}).get(mode, mode)


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."  # GSM-7 has no ellipsis character


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["day"] = _day
    env.filters["shorten"] = _shorten
    env.filters["mode_in"] = _mode_in
    return env


def _render(kind: str, language: str, name: str, context: dict[str, Any]) -> str:
    return environment().get_template(f"{kind}/{language}/{name}").render(context).strip()


def render(kind: str, language_tag: str, context: dict[str, Any]) -> list[Message]:
    """The e-mail and the SMS for one event, in the employee's language (English when there is none)."""
    language = template_language(language_tag)
    email = Message(
        "email", language,
        text=_render(kind, language, "email.txt", context),
        subject=" ".join(_render(kind, language, "subject.txt", context).split()),
        html=_render(kind, language, "email.html", context),
    )
    sms = plain_punctuation(_render(kind, language, "sms.txt", {**context, "brief": False}))
    if sms_segments(sms) > 1:
        brief = plain_punctuation(_render(kind, language, "sms.txt", {**context, "brief": True}))
        sms = brief if len(brief) < len(sms) else sms
    return [email, Message("sms", language, text=" ".join(sms.split()))]


def context_for(event_type: str, data: Any, contact: Contact, extra: dict[str, Any],
                state: tzinfo | None = None) -> dict[str, Any]:
    """What the templates of `event_type` may use: the event's facts plus the contact and `extra`. An
    instant becomes the day it was in the state (`state`, its time zone; India's when None)."""
    base = {"name": contact.name, "has_email": bool(contact.email), "has_mobile": bool(contact.mobile),
            "tenant": data.tenant, "brief": False, **extra}
    kind = KINDS[event_type]
    if kind == "enrolled":
        batch = data.batch
        return {**base, "course_title": data.course.title, "centre_name": batch.centre.name,
                "centre": centre_with_district(batch.centre.name, batch.centre.district), "start_date": batch.start_date,
                "end_date": batch.end_date, "mode": batch.mode, "sessions_planned": batch.sessions_planned,
                "trains_trainers": data.course.trains_trainers}
    if kind == "completed":
        basis = data.basis
        return {**base, "course_title": data.course.title,
                "centre_name": data.batch.centre.name if data.batch else None,
                "completed_at": calendar.day_of(data.completed_at, state),
                "attendance_percent": getattr(basis, "attendance_percent", None),
                "external_source": getattr(basis, "source", None),
                "trains_trainers": data.course.trains_trainers}
    if kind == "certificate_issued":
        return {**base, "course_title": data.course_title, "verify_url": data.verify_url,
                "issued_at": calendar.day_of(data.issued_at, state), "trains_trainers": data.trains_trainers,
                "course_family": data.course_family}
    return {"course_title": None, "verify_url": None, **base, "revoked_at": calendar.day_of(data.revoked_at, state), "reason": data.reason,
            "certificate_id": str(data.certificate_id)}
