"""The public verification page, in English and Hindi: VALID, NOT VALID (not in its state's issuer's name),
REVOKED or NOT FOUND; the certificate's number, and the link to its PDF for an employee with only a phone (or,
when the PDF's fonts cannot draw a character of it, which ones, in place of the link). Also what that link
answers once the certificate is revoked, or when the PDF's fonts cannot draw its text, in the same language and
layout (templates/layout.html)."""

from datetime import tzinfo
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from karmayogi_runtime import calendar

TEXT = {
    "en": {"title": "Certificate verification", "heading": "Karmayogi training certificate",
           "valid": "VALID", "revoked": "REVOKED", "revoked_on": "Revoked on", "not_found": "NOT FOUND",
           "not_found_help": "No certificate has this number. Check the link or the QR code you scanned.",
           "name": "Name", "course": "Course", "competencies": "Competencies", "issuer": "Issued by", "date": "Date",
           "wrong_issuer": "NOT VALID",
           "wrong_issuer_help": "It was issued in the name of {issuer}, which is not the issuer of {state}'s certificates.",
           "number": "Certificate number", "pdf": "Download the certificate (PDF)",
           "pdf_revoked": "This certificate was revoked on {date}, so its PDF is no longer offered.",
           "reason": "Reason", "see_page": "Open the verification page",
           "pdf_unprintable": "This certificate cannot be made into a PDF: its fonts cannot draw {characters}. "
                              "Its verification page shows it in full and proves it.",
           "no_pdf": "No PDF can be made of this certificate: its fonts cannot draw {characters}. This page shows it "
                     "in full."},
    "hi": {"title": "प्रमाणपत्र सत्यापन", "heading": "कर्मयोगी प्रशिक्षण प्रमाणपत्र",
           "valid": "मान्य", "revoked": "रद्द", "revoked_on": "रद्द करने की तिथि", "not_found": "नहीं मिला",
           "not_found_help": "इस संख्या का कोई प्रमाणपत्र नहीं है। लिंक या स्कैन किया गया QR कोड जाँचें।",
           "name": "नाम", "course": "पाठ्यक्रम", "competencies": "दक्षताएँ", "issuer": "जारीकर्ता", "date": "तिथि",
           "wrong_issuer": "मान्य नहीं",
           "wrong_issuer_help": "यह {issuer} के नाम से जारी किया गया है, जो {state} के प्रमाणपत्रों के जारीकर्ता नहीं हैं।",
           "number": "प्रमाणपत्र संख्या", "pdf": "प्रमाणपत्र डाउनलोड करें (PDF)",
           "pdf_revoked": "यह प्रमाणपत्र {date} को रद्द कर दिया गया, इसलिए इसका PDF अब उपलब्ध नहीं है।",
           "reason": "कारण", "see_page": "सत्यापन पृष्ठ खोलें",
           "pdf_unprintable": "इस प्रमाणपत्र का PDF नहीं बन सकता: इसके फ़ॉन्ट {characters} नहीं लिख सकते। "
                              "इसका सत्यापन पृष्ठ इसे पूरा दिखाता है और प्रमाणित करता है।",
           "no_pdf": "इस प्रमाणपत्र का PDF नहीं बन सकता: इसके फ़ॉन्ट {characters} नहीं लिख सकते। यह पृष्ठ इसे पूरा "
                     "दिखाता है।"},
}

_environment = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"])
)


def language(requested: str | None, accept_language: str | None) -> str:
    """`?lang=` first, then the browser's most preferred language the page has (RFC 9110 12.5.4: the highest
    q-value, q=0 meaning not acceptable, the first listed on a tie); English otherwise. Tags are matched by
    their primary subtag in any case, so hi-IN and HI are Hindi."""
    if (chosen := _supported(requested or "")) is not None:
        return chosen
    preferences = []
    for position, entry in enumerate((accept_language or "").split(",")):
        tag, _, parameters = entry.partition(";")
        chosen, weight = _supported(tag), _quality(parameters)
        if chosen is not None and weight > 0:
            preferences.append((-weight, position, chosen))
    return min(preferences)[2] if preferences else "en"


def _supported(tag: str) -> str | None:
    primary = tag.strip().split("-")[0].lower()
    return primary if primary in TEXT else None


def _quality(parameters: str) -> float:
    """The q-value of one Accept-Language entry: 1 when not given, 0 (not acceptable) when not a number."""
    name, _, value = parameters.partition("=")
    if name.strip().lower() != "q":
        return 1.0
    try:
        return min(max(float(value.strip()), 0.0), 1.0)
    except ValueError:
        return 0.0


def render(certificate, *, lang: str, issuer: str | None, status: str | None, pdf_url: str | None,
           state: tzinfo, unprintable: str = "") -> str:
    """The page of `certificate` (None: not found), in the name of its `issuer`, with its `status` (valid,
    wrong_issuer or revoked: what the credential check answers), its dates as they were in the state (`state`,
    its zone), and the link to its PDF (None when the PDF is not offered: once revoked, or when its fonts cannot
    draw the `unprintable` characters, which the page then names)."""
    dates = {} if certificate is None else {
        "issued_on": calendar.day_of(certificate["issued_at"], state),
        "revoked_on": certificate["revoked_at"] and calendar.day_of(certificate["revoked_at"], state)}
    return _environment.get_template("verify.html").render(certificate=certificate, lang=lang, t=TEXT[lang],
                                                           issuer=issuer, status=status, pdf_url=pdf_url,
                                                           unprintable=unprintable, **dates)


def render_pdf_revoked(certificate, *, lang: str, page_url: str, state: tzinfo) -> str:
    """What the PDF's link (in the employee's e-mail and SMS, opened in a phone's browser) answers once
    `certificate` is revoked: when, on the state's calendar (`state`, its zone), and why, in the reader's
    language, with the link to its verification page (`page_url`)."""
    return _environment.get_template("pdf_revoked.html").render(
        certificate=certificate, lang=lang, t=TEXT[lang], page_url=page_url,
        revoked_on=calendar.day_of(certificate["revoked_at"], state))


def render_pdf_unprintable(certificate, *, lang: str, page_url: str, characters: str) -> str:
    """What the PDF's link answers when the PDF's fonts cannot draw `characters` of `certificate`'s text (a
    script the PDF has no font for): which, in the reader's language, with the link to its verification page
    (`page_url`), which shows the certificate in full (a browser has fonts the PDF does not)."""
    return _environment.get_template("pdf_unprintable.html").render(
        certificate=certificate, lang=lang, t=TEXT[lang], page_url=page_url, characters=characters)
