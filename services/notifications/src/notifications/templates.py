"""Rendering: templates per event kind x language x channel under `templates/<kind>/<language>/`.

Each kind and language has `subject.txt`, `email.txt`, `email.html` (autoescaped) and `sms.txt`. An SMS
may take the segments `sms_segments_allowed` gives: one, except the only message of an employee without
e-mail, which carries what they cannot read elsewhere. It is measured in the encoding it will be sent in (one
Devanagari letter makes it Unicode: 70 characters a segment rather than 160). Its variable parts (titles,
centre names, reasons: `shorten(width, room)` and `shorten_centre` in the templates) are shortened as far as
needed to fit, and when even their least does not, it is rendered again with `brief=True`, where templates
leave out what can be left out (the title when an e-mail says the rest; without e-mail, words around the title
or the link, so that the message still says which course it is about). An SMS writes typographic quotes and
dashes as GSM-7 has them, so an English one stays GSM-7.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from karmayogi_runtime import calendar

from .domain import Contact, Message, template_language
from .sms import fit, plain_punctuation, shorten, single_stops, sms_units

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


# Segments the only SMS of an employee without e-mail may take (README "Messages"); every other SMS takes one.
SEGMENTS_WITHOUT_EMAIL = {
    ("enrolled", "en"): 2, ("enrolled", "hi"): 3,  # the course and the centre: where to attend
    ("certificate_issued", "hi"): 2,  # the course, and the link, which alone fills a Unicode segment
    ("certificate_revoked", "en"): 2, ("certificate_revoked", "hi"): 3,  # the course and the reason
}
LEAST_WIDTH = 12  # a title or a name cut shorter than this no longer tells which it is


def sms_segments_allowed(kind: str, language: str, has_email: bool) -> int:
    return 1 if has_email else SEGMENTS_WITHOUT_EMAIL.get((kind, language), 1)


def _width(width: int, room: float) -> int:
    """`width` characters when the SMS has all its room, down to LEAST_WIDTH when it has none."""
    return max(min(width, LEAST_WIDTH), round(width * room))


def _shorten(text: str, width: int, room: float = 1.0) -> str:
    return shorten(text, _width(width, room))


def shorten_centre(name: str, district: str, width: int, room: float = 1.0) -> str:
    """The centre with its district (centre_with_district), shortened from its name: the district is what
    tells an employee without e-mail where to go ("Haryana Institute of Public..., Gurugram")."""
    whole, width = centre_with_district(name, district), _width(width, room)
    if len(whole) <= width:
        return whole
    place = shorten(district, max(width // 2, LEAST_WIDTH))
    return centre_with_district(shorten(name, max(width - len(place) - 2, LEAST_WIDTH)), place)


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
    env.filters["shorten_centre"] = shorten_centre
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
    return [email, Message("sms", language, text=_sms(kind, language, context))]


def _sms(kind: str, language: str, context: dict[str, Any]) -> str:
    """The full form fitted to the segments allowed, else the brief form fitted; when neither fits (a
    verification link of hundreds of characters), the shorter of the two at their least."""
    segments = sms_segments_allowed(kind, language, context["has_email"])

    def form(brief: bool) -> Callable[[float], str]:
        def at(room: float) -> str:
            text = _render(kind, language, "sms.txt", {**context, "brief": brief, "room": room})
            return single_stops(" ".join(plain_punctuation(text).split()))
        return at

    full, brief = form(False), form(True)
    return fit(full, segments) or fit(brief, segments) or min(full(0.0), brief(0.0), key=sms_units)


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
                "district": batch.centre.district,
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
