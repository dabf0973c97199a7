"""The public verification page, in English and Hindi: VALID, REVOKED or NOT FOUND."""

from datetime import tzinfo
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from karmayogi_runtime import calendar

TEXT = {
    "en": {"title": "Certificate verification", "heading": "Karmayogi training certificate",
           "valid": "VALID", "revoked": "REVOKED", "revoked_on": "Revoked on", "not_found": "NOT FOUND",
           "not_found_help": "No certificate has this number. Check the link or the QR code you scanned.",
           "name": "Name", "course": "Course", "competencies": "Competencies", "issuer": "Issued by", "date": "Date"},
    "hi": {"title": "प्रमाण पत्र सत्यापन", "heading": "कर्मयोगी प्रशिक्षण प्रमाण पत्र",
           "valid": "मान्य", "revoked": "रद्द", "revoked_on": "रद्द करने की तिथि", "not_found": "नहीं मिला",
           "not_found_help": "इस संख्या का कोई प्रमाण पत्र नहीं है। लिंक या स्कैन किया गया QR कोड जाँचें।",
           "name": "नाम", "course": "पाठ्यक्रम", "competencies": "दक्षताएँ", "issuer": "जारीकर्ता", "date": "तिथि"},
}

_environment = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"])
)


def language(requested: str | None, accept_language: str | None) -> str:
    """`?lang=` first, then the browser's preference; English otherwise."""
    if requested in TEXT:
        return requested
    preferred = (accept_language or "").split(",")[0].split(";")[0].strip().lower()
    return "hi" if preferred.startswith("hi") else "en"


def render(certificate, *, lang: str, issuer: str | None, state: tzinfo) -> str:
    """The page of `certificate` (None: not found), in the name of its `issuer`, its dates as they were in the
    state (`state`, its zone)."""
    dates = {} if certificate is None else {
        "issued_on": calendar.day_of(certificate["issued_at"], state),
        "revoked_on": certificate["revoked_at"] and calendar.day_of(certificate["revoked_at"], state)}
    return _environment.get_template("verify.html").render(certificate=certificate, lang=lang, t=TEXT[lang],
                                                           issuer=issuer, **dates)
