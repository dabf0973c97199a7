"""The verification page in the reader's language, with the certificate's number and the link to its PDF: the
page the certificate SMS links to is all an employee without e-mail gets."""

from datetime import datetime, timezone
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from certification import page

pytestmark = pytest.mark.unit

INDIA = ZoneInfo("Asia/Kolkata")
PDF = "https://verify.example/verify/x/pdf"


@pytest.mark.parametrize(("requested", "accept_language", "expected"), [
    (None, "en;q=0.1, hi", "hi"),
    (None, "hi;q=0, en", "en"),
    (None, "hi;q=0", "en"),
    (None, "HI", "hi"),
    (None, "fr, hi-IN;q=0.8, en;q=0.5", "hi"),
    (None, "en, hi", "en"),
    (None, "hi;q=abc, en;q=0.2", "en"),
    (None, None, "en"),
    ("hi-IN", "en", "hi"),
    ("HI", None, "hi"),
    ("fr", "hi", "hi"),
    ("en", "hi", "en"),
], ids=str)
def test_the_language_is_the_query_s_then_the_best_acceptable_by_q_value_in_any_case(requested, accept_language,
                                                                                      expected):
    assert page.language(requested, accept_language) == expected


def _certificate(**changes) -> dict:
    return {"certificate_id": uuid4(), "tenant": "IN-BR", "employee_name": "Ravi Kumar",
            "course_title": "Ethics in Governance", "competencies": ["Integrity"], "centre": None,
            "issued_at": datetime(2026, 11, 21, 11, tzinfo=timezone.utc), "revoked_at": None,
            "revocation_reason": None, **changes}


@pytest.mark.parametrize(("lang", "number", "download"), [
    ("en", "Certificate number", "Download the certificate (PDF)"),
    ("hi", "प्रमाणपत्र संख्या", "प्रमाणपत्र डाउनलोड करें (PDF)"),
])
def test_the_page_shows_the_certificate_number_and_links_its_pdf_until_it_is_revoked(lang, number, download):
    certificate = _certificate()
    shown = page.render(certificate, lang=lang, issuer="BIPARD", status="valid", pdf_url=PDF, state=INDIA)
    assert number in shown and str(certificate["certificate_id"]) in shown
    assert f'href="{PDF}"' in shown and download in shown

    revoked = _certificate(revoked_at=datetime(2026, 12, 1, tzinfo=timezone.utc), revocation_reason="Issued in error.")
    shown = page.render(revoked, lang=lang, issuer="BIPARD", status="revoked", pdf_url=None, state=INDIA)
    assert str(revoked["certificate_id"]) in shown and download not in shown and "/pdf" not in shown


@pytest.mark.parametrize(("lang", "status", "why"), [
    ("en", "NOT VALID", "It was issued in the name of HIPA, which is not the issuer of IN-BR&#39;s certificates."),
    ("hi", "मान्य नहीं", "यह HIPA के नाम से जारी किया गया है, जो IN-BR के प्रमाणपत्रों के जारीकर्ता नहीं हैं।"),
])
def test_a_certificate_not_in_its_state_s_issuer_s_name_is_not_shown_as_valid_and_the_page_says_why(lang, status, why):
    shown = page.render(_certificate(), lang=lang, issuer="HIPA", status="wrong_issuer", pdf_url=PDF, state=INDIA)
    assert f'id="status">{status}<' in shown and why in shown
    assert "class=\"status valid\"" not in shown


@pytest.mark.parametrize(("lang", "revoked", "link"), [
    ("en", "This certificate was revoked on 02-12-2026, so its PDF is no longer offered.", "Open the verification page"),
    ("hi", "यह प्रमाणपत्र 02-12-2026 को रद्द कर दिया गया, इसलिए इसका PDF अब उपलब्ध नहीं है।", "सत्यापन पृष्ठ खोलें"),
])
def test_the_pdf_link_of_a_revoked_certificate_says_when_and_why_and_links_the_verification_page(lang, revoked, link):
    certificate = _certificate(revoked_at=datetime(2026, 12, 1, 20, tzinfo=timezone.utc),  # 2 December in India
                               revocation_reason="Issued for <the wrong> employee.")
    shown = page.render_pdf_revoked(certificate, lang=lang, page_url="https://verify.example/verify/x", state=INDIA)
    assert f'lang="{lang}"' in shown and revoked in shown and "Issued for &lt;the wrong&gt; employee." in shown
    assert f'href="https://verify.example/verify/x?lang={lang}"' in shown and link in shown
    assert str(certificate["certificate_id"]) in shown and "class=\"status revoked\"" in shown


@pytest.mark.parametrize(("lang", "why", "download"), [
    ("en", "No PDF can be made of this certificate: its fonts cannot draw 王秀英. This page shows it in full.",
     "Download the certificate (PDF)"),
    ("hi", "इस प्रमाणपत्र का PDF नहीं बन सकता: इसके फ़ॉन्ट 王秀英 नहीं लिख सकते। यह पृष्ठ इसे पूरा दिखाता है।",
     "प्रमाणपत्र डाउनलोड करें (PDF)"),
])
def test_a_certificate_its_pdf_cannot_draw_has_no_pdf_link_and_the_page_names_the_characters(lang, why, download):
    certificate = _certificate(employee_name="王秀英")
    shown = page.render(certificate, lang=lang, issuer="BIPARD", status="valid", pdf_url=None, state=INDIA,
                        unprintable="王秀英")
    assert f'<p id="no-pdf">{why}</p>' in shown and download not in shown and "/pdf" not in shown
    assert 'id="name">王秀英<' in shown and 'class="status valid"' in shown
