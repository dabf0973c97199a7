"""Every template rendered with the contract test vectors, in Hindi and English, with and without e-mail."""

from datetime import datetime, timezone
from pathlib import Path

import pytest
from karmayogi_contracts import decode
from karmayogi_contracts.encoding import CLOUDEVENTS_JSON

from notifications.domain import Contact, is_gsm7, plan, sms_segments, template_language
from notifications.templates import KINDS, TEMPLATES, centre_with_district, context_for, render

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).resolve().parents[3] / "contracts" / "examples"
VECTORS = sorted(p for topic in ("employee.enrolled", "course.completed", "certificate.issued",
                                 "certificate.revoked") for p in (EXAMPLES / topic / "valid").glob("*.json"))
EXTRA = {
    "enrolled": {}, "completed": {},
    "certificate_issued": {"download_url": "https://certificates.example.gov.in/v/1/pdf"},
    "certificate_revoked": {"course_title": "Digital Land Records (Bhu-Naksha)",
                            "verify_url": "https://certificates.hry.gov.in/verify/e23fb312-417d-5421-9ba3-2eabfc8a7fba"},
}


def vector(path: Path):
    event = decode(path.read_bytes(), (("content-type", CLOUDEVENTS_JSON.encode()),))
    assert not hasattr(event, "reason"), f"{path} does not decode: {event}"
    return event


def contact(event, language: str, email: bool) -> Contact:
    return Contact(event.tenant, event.data.employee_id, "सुनीता देवी" if language == "hi" else "Rakesh Kumar Singh",
                   "someone@hry.gov.in" if email else None, "+919812345678", language,
                   datetime(2025, 3, 1, tzinfo=timezone.utc))


CASES = [(path, language, email) for path in VECTORS for language in ("en", "hi") for email in (True, False)]


def test_there_are_vectors_for_every_event_kind_and_templates_for_every_language():
    assert {vector(p).type for p in VECTORS} == set(KINDS)
    for kind in KINDS.values():
        for language in ("en", "hi"):
            names = {p.name for p in (TEMPLATES / kind / language).iterdir()}
            assert names == {"subject.txt", "email.txt", "email.html", "sms.txt"}, (kind, language)


@pytest.mark.parametrize(("path", "language", "email"), CASES,
                         ids=[f"{p.parent.parent.name}/{p.stem}-{lang}-{'email' if e else 'noemail'}" for p, lang, e in CASES])
def test_every_template_renders_in_the_employees_language_and_sms_fits_one_segment(path, language, email):
    event = vector(path)
    kind = KINDS[event.type]
    who = contact(event, language, email)
    mail, sms = render(kind, language, context_for(event.type, event.data, who, EXTRA[kind]))

    assert mail.subject and "\n" not in mail.subject and mail.text and mail.html.startswith("<!DOCTYPE html>")
    assert f'lang="{language}"' in mail.html
    devanagari = any("\u0900" <= ch <= "\u097f" for ch in mail.subject)
    assert devanagari == (language == "hi")  # titles in the vectors are English: Devanagari means Hindi text
    assert any("\u0900" <= ch <= "\u097f" for ch in sms.text) == (language == "hi")
    if kind == "certificate_issued":
        assert event.data.verify_url in mail.text and event.data.verify_url in mail.html
        assert EXTRA[kind]["download_url"] in mail.text
    if language == "en":
        assert is_gsm7(sms.text), sms.text
    # One segment always, except a certificate SMS to someone without e-mail, their only message: a Hindi
    # one carries the link, alone longer than a Unicode segment (70); a revocation also the course and
    # the reason, as the e-mail would (two segments in English, three in Hindi).
    if kind == "certificate_issued" and language == "hi" and not email:
        assert event.data.verify_url in sms.text and sms_segments(sms.text) == 2
    elif kind == "certificate_revoked" and not email:
        assert EXTRA[kind]["verify_url"] in sms.text and "Digital Land Records" in sms.text
        assert event.data.reason[:30] in sms.text
        assert sms_segments(sms.text) == (2 if language == "en" else 3), (len(sms.text), sms.text)
    else:
        assert sms_segments(sms.text) == 1, (len(sms.text), sms.text)


def test_html_part_escapes_what_the_event_carries():
    event = vector(EXAMPLES / "employee.enrolled" / "valid" / "bihar-spoke-bulk-english-name.json")
    who = Contact("IN-BR", "BR-1", "<script>alert(1)</script>", "a@b.in", None, "en",
                  datetime(2025, 3, 1, tzinfo=timezone.utc))
    mail, _ = render("enrolled", "en", context_for(event.type, event.data, who, {}))
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html
    assert "<script>alert(1)</script>" in mail.text  # the plain-text part is not HTML


def test_a_language_without_templates_falls_back_to_english():
    assert template_language("hi-IN") == "hi"
    assert template_language("ta") == "en"
    event = vector(EXAMPLES / "certificate.revoked" / "valid" / "bihar-after-igot-audit.json")
    mail, sms = render("certificate_revoked", "ta", context_for(event.type, event.data, contact(event, "ta", True), {}))
    assert mail.language == sms.language == "en" and mail.subject.startswith("Your certificate")


def test_sms_segments_count_gsm7_septets_and_unicode_code_units():
    assert sms_segments("a" * 160) == 1 and sms_segments("a" * 161) == 2
    assert sms_segments("€" * 80) == 1 and sms_segments("€" * 81) == 2  # extension characters take two septets
    assert sms_segments("क" * 70) == 1 and sms_segments("क" * 71) == 2 and sms_segments("क" * 135) == 3


def test_no_address_or_opt_out_plans_a_recorded_delivery_not_a_send():
    event = vector(EXAMPLES / "employee.enrolled" / "valid" / "bihar-spoke-bulk-english-name.json")
    who = contact(event, "en", email=False)
    messages = render("enrolled", "en", context_for(event.type, event.data, who, {}))
    by_channel = {d.channel: d for d in plan(event.id, event.type, event.data.subject, who, messages, opted_out={"sms"})}
    assert by_channel["email"].status == "undeliverable" and "no e-mail address" in by_channel["email"].reason
    assert by_channel["sms"].status == "opted_out"
    again = {d.channel: d.id for d in plan(event.id, event.type, event.data.subject, who, messages, opted_out=set())}
    assert again == {c: d.id for c, d in by_channel.items()}  # the delivery id depends only on event, channel, employee


def test_a_certificate_issued_late_in_the_evening_utc_is_dated_by_the_state_s_calendar():
    event = next(vector(p) for p in VECTORS if p.parent.parent.name == "certificate.issued")
    data = event.data.model_copy(update={"issued_at": datetime(2026, 11, 23, 19, 5, tzinfo=timezone.utc)})
    who = contact(event, "en", True)

    mail, _ = render("certificate_issued", "en", context_for(event.type, data, who, EXTRA["certificate_issued"]))
    in_utc, _ = render("certificate_issued", "en",
                       context_for(event.type, data, who, EXTRA["certificate_issued"], state=timezone.utc))

    assert "issued on 24-11-2026" in mail.text  # 00:35 in India
    assert "issued on 23-11-2026" in in_utc.text


def test_a_revocation_whose_issue_was_not_seen_still_gives_the_reason_to_someone_without_e_mail():
    event = vector(EXAMPLES / "certificate.revoked" / "valid" / "bihar-after-igot-audit.json")
    for language in ("en", "hi"):
        _, sms = render("certificate_revoked", language,
                        context_for(event.type, event.data, contact(event, language, False), {}))
        assert event.data.reason[:30] in sms.text and sms_segments(sms.text) <= 2, sms.text


def test_a_reason_pasted_with_curly_quotes_and_dashes_keeps_an_english_sms_in_gsm7():
    event = vector(EXAMPLES / "certificate.revoked" / "valid" / "bihar-after-igot-audit.json")
    reason = "The employee\u2019s attendance sheet was signed by someone else \u2014 see the centre\u2019s \u201cinquiry\u201d report\u2026"
    data = event.data.model_copy(update={"reason": reason})
    _, sms = render("certificate_revoked", "en", context_for(event.type, data, contact(event, "en", False), {}))

    assert "The employee's attendance sheet was signed by someone else - see the centre's" in sms.text
    assert is_gsm7(sms.text) and sms_segments(sms.text) == 1, sms.text  # 3 segments in Unicode


def test_the_revocation_e_mail_says_the_course_can_be_taken_again_in_another_batch():
    event = vector(EXAMPLES / "certificate.revoked" / "valid" / "bihar-after-igot-audit.json")
    said = {"en": "enrol you in another batch of this course, where you can earn the certificate again",
            "hi": "इस पाठ्यक्रम के किसी अन्य बैच में नामांकित कर सकता है"}
    for language, words in said.items():
        mail, _ = render("certificate_revoked", language, context_for(event.type, event.data, contact(event, language, True), {}))
        assert words in mail.text and words in mail.html, language


def test_the_revocation_e_mail_gives_the_verification_link_where_it_names_the_page():
    event = vector(EXAMPLES / "certificate.revoked" / "valid" / "bihar-after-igot-audit.json")
    url = EXTRA["certificate_revoked"]["verify_url"]
    english, _ = render("certificate_revoked", "en", context_for(event.type, event.data, contact(event, "en", True),
                                                                 EXTRA["certificate_revoked"]))
    hindi, _ = render("certificate_revoked", "hi", context_for(event.type, event.data, contact(event, "hi", True),
                                                               EXTRA["certificate_revoked"]))
    assert f"verification page shows it as revoked: {url}\n\n" in english.text
    assert f"सत्यापन पृष्ठ पर यह रद्द दिखाई देगा: {url}\n\n" in hindi.text


def test_the_centre_is_named_with_its_district_once():
    assert centre_with_district("District Training Centre, Faridabad", "Faridabad") == "District Training Centre, Faridabad"
    assert centre_with_district("HIPA", "Gurugram") == "HIPA, Gurugram"
    event = vector(EXAMPLES / "employee.enrolled" / "valid" / "bihar-spoke-bulk-english-name.json")
    for language in ("en", "hi"):
        mail, _ = render("enrolled", language, context_for(event.type, event.data, contact(event, language, True), {}))
        assert "District Training Centre, Muzaffarpur\n" in mail.text, mail.text
        assert "Muzaffarpur, Muzaffarpur" not in mail.text + mail.html


def test_the_hindi_enrolment_e_mail_names_the_mode_in_hindi():
    event = vector(EXAMPLES / "employee.enrolled" / "valid" / "haryana-hub-master-trainer-hindi-name.json")
    assert event.data.batch.mode == "classroom"
    mail, _ = render("enrolled", "hi", context_for(event.type, event.data, contact(event, "hi", True), {}))
    assert "माध्यम: कक्षा," in mail.text and "classroom" not in mail.text + mail.html
