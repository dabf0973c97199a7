"""Every template rendered with the contract test vectors, in Hindi and English, with and without e-mail."""

import unicodedata
from datetime import datetime, timezone
from pathlib import Path

import pytest
from karmayogi_contracts import decode
from karmayogi_contracts.encoding import CLOUDEVENTS_JSON

from notifications.domain import Contact, plan, template_language
from notifications.sms import is_gsm7, sms_segments, starts_letter
from notifications.templates import KINDS, TEMPLATES, centre_with_district, context_for, render, shorten_centre

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
    # One segment always, except the only message of someone without e-mail: a Hindi certificate carries
    # the link, alone longer than a Unicode segment (70); a revocation also the course and the reason, as
    # the e-mail would (two segments in English, three in Hindi); an enrolment the course and the centre,
    # where to attend (up to two in English, three in Hindi).
    if kind == "certificate_issued" and language == "hi" and not email:
        assert event.data.verify_url in sms.text and sms_segments(sms.text) == 2
    elif kind == "certificate_revoked" and not email:
        assert EXTRA[kind]["verify_url"] in sms.text and "Digital Land Records" in sms.text
        assert event.data.reason[:30] in sms.text
        assert sms_segments(sms.text) == (2 if language == "en" else 3), (len(sms.text), sms.text)
    elif kind == "enrolled" and not email:
        assert event.data.course.title[:20] in sms.text and event.data.batch.centre.name[:20] in sms.text
        assert sms_segments(sms.text) <= (2 if language == "en" else 3), (len(sms.text), sms.text)
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


def test_the_completion_e_mail_gives_the_attendance_as_it_was_when_the_course_was_completed():
    """The basis is taken when the rule is met: an employee who attends more sessions afterwards has more in
    their record than the message says, which it must not pass off as their attendance."""
    event = vector(EXAMPLES / "course.completed" / "valid" / "haryana-hub-by-attendance.json")
    percent = event.data.basis.attendance_percent
    said = {"en": f"Your attendance when you completed it: {percent}%", "hi": f"पूरा करते समय आपकी उपस्थिति: {percent}%"}
    for language, words in said.items():
        mail, _ = render("completed", language, context_for(event.type, event.data, contact(event, language, True), {}))
        assert words in mail.text and words in mail.html, language


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


# Contract maxima (karmayogi_contracts.parts): Title 300, District 100, Reason 500 characters, NFC.
def _longest(phrase: str, length: int) -> str:
    return unicodedata.normalize("NFC", phrase * (length // len(phrase) + 1))[:length].strip()


LONGEST = {
    "latin": {"title": _longest("Ethics and Integrity in Governance: District Officers' Programme. ", 300),
              "centre": _longest("Haryana Institute of Public Administration Regional Campus ", 300),
              "district": _longest("Muzaffarpur ", 100),
              "reason": _longest("Issued for the wrong employee after a data-entry error. ", 500)},
    "devanagari": {"title": _longest("सुशासन में नैतिकता एवं सत्यनिष्ठा: ज़िला स्तरीय अधिकारियों हेतु प्रशिक्षण। ", 300),
                   "centre": _longest("ज़िला प्रशिक्षण केंद्र, मुज़फ़्फ़रपुर क्षेत्रीय परिसर ", 300),
                   "district": _longest("मुज़फ़्फ़रपुर ", 100),
                   "reason": _longest("ग़लत कर्मचारी के नाम जारी, डेटा-प्रविष्टि की त्रुटि के बाद। ", 500)},
}
VERIFY_URL = "https://certificates.hry.gov.in/verify/e23fb312-417d-5421-9ba3-2eabfc8a7fba"  # as certification makes it
# The segments README "Messages" allows: one, except the only message of someone without e-mail.
SEGMENTS_WITHOUT_EMAIL = {("enrolled", "en"): 2, ("enrolled", "hi"): 3, ("certificate_issued", "hi"): 2,
                          ("certificate_revoked", "en"): 2, ("certificate_revoked", "hi"): 3}


def _longest_event(kind: str, title: str, centre: str, district: str, reason: str):
    """The kind's first contract vector with its title, centre and reason as long as the contract allows."""
    event = next(vector(p) for p in VECTORS if KINDS[vector(p).type] == kind)
    data, extra = event.data, {**EXTRA[kind]}
    if kind in ("enrolled", "completed"):
        update = {"course": data.course.model_copy(update={"title": title})}
        if data.batch is not None:
            batch = data.batch
            update["batch"] = batch.model_copy(update={"centre": batch.centre.model_copy(
                update={"name": centre, "district": district})})
        data = data.model_copy(update=update)
    elif kind == "certificate_issued":
        data = data.model_copy(update={"course_title": title, "verify_url": VERIFY_URL})
    else:
        data, extra = data.model_copy(update={"reason": reason}), {"course_title": title, "verify_url": VERIFY_URL}
    return event, data, extra


SCRIPT_CASES = [(kind, language, email, title_script, other_script)
                for kind in KINDS.values() for language in ("en", "hi") for email in (True, False)
                for title_script in LONGEST for other_script in LONGEST]


@pytest.mark.parametrize(("kind", "language", "email", "title_script", "other_script"), SCRIPT_CASES,
                         ids=[f"{k}-{lang}-{'email' if e else 'noemail'}-title_{t}-other_{o}"
                              for k, lang, e, t, o in SCRIPT_CASES])
def test_every_sms_stays_within_its_segments_whatever_script_its_title_centre_and_reason_are_in(
        kind, language, email, title_script, other_script):
    title = LONGEST[title_script]["title"]
    centre, district, reason = (LONGEST[other_script][part] for part in ("centre", "district", "reason"))
    event, data, extra = _longest_event(kind, title, centre, district, reason)
    who = contact(event, language, email)

    _, sms = render(kind, language, context_for(event.type, data, who, extra))

    allowed = 1 if email else SEGMENTS_WITHOUT_EMAIL.get((kind, language), 1)
    assert sms_segments(sms.text) <= allowed, (sms_segments(sms.text), len(sms.text), sms.text)
    assert "\u094d..." not in sms.text  # no consonant left half (with its virama) before the dots
    assert "...." not in sms.text
    if language == "en" and title_script == other_script == "latin":
        assert is_gsm7(sms.text), sms.text
    if not email and kind == "enrolled":  # their only notice: which course, and where to attend
        assert title[:12] in sms.text and centre[:12] in sms.text and district.split()[0] in sms.text, sms.text
    if not email and kind == "certificate_revoked":
        assert title.split()[0] in sms.text and reason[:20] in sms.text, sms.text
    if kind == "certificate_issued" and not email:
        assert VERIFY_URL in sms.text


def test_an_english_revocation_with_a_devanagari_title_to_someone_without_e_mail_takes_two_segments():
    # The tester's case: one Devanagari letter makes the SMS Unicode (67 characters a part, not 153).
    event = vector(EXAMPLES / "certificate.revoked" / "valid" / "bihar-after-igot-audit.json")
    data = event.data.model_copy(update={"reason": "Issued for the wrong employee after a data-entry error."})
    extra = {"course_title": "सुशासन में नैतिकता एवं सत्यनिष्ठा: ज़िला स्तरीय अधिकारियों हेतु प्रशिक्षण कार्यक्रम",
             "verify_url": VERIFY_URL}
    _, sms = render("certificate_revoked", "en", context_for(event.type, data, contact(event, "en", False), extra))

    assert sms_segments(sms.text) == 2, (len(sms.text), sms.text)  # 4 before
    assert "for सुशासन में नैतिकता" in sms.text and "Reason: Issued for the wrong employee" in sms.text


def test_the_enrolment_sms_to_someone_without_e_mail_names_the_course_and_the_centre():
    event = vector(EXAMPLES / "employee.enrolled" / "valid" / "haryana-hub-master-trainer-hindi-name.json")
    for language, segments in (("en", 2), ("hi", 3)):
        _, sms = render("enrolled", language, context_for(event.type, event.data, contact(event, language, False), {}))
        assert "Ethics and Integrity in Governance" in sms.text and "Haryana Institute of Public" in sms.text, sms.text
        assert sms_segments(sms.text) <= segments, sms.text
    # With an e-mail, the e-mail names them: the SMS may stay brief.
    _, sms = render("enrolled", "hi", context_for(event.type, event.data, contact(event, "hi", True), {}))
    assert sms_segments(sms.text) == 1


def test_a_centre_shortened_for_an_sms_keeps_its_district():
    assert shorten_centre("Haryana Institute of Public Administration (HIPA)", "Gurugram", 40) == \
        "Haryana Institute of Public..., Gurugram"
    assert shorten_centre("District Training Centre, Muzaffarpur", "Muzaffarpur", 40) == \
        "District Training Centre, Muzaffarpur"
    tight = shorten_centre("ज़िला प्रशिक्षण केंद्र, मुज़फ़्फ़रपुर क्षेत्रीय परिसर", "मुज़फ़्फ़रपुर", 100, room=0.3)
    assert tight.endswith("..., मुज़फ़्फ़रपुर") and len(tight) <= 30, tight


def test_a_course_title_ending_in_a_full_stop_gets_no_second_one_in_the_sms():
    event = vector(EXAMPLES / "course.completed" / "valid" / "haryana-hub-by-attendance.json")
    for title, said in (("Revenue Administration in District.", "completed Revenue Administration in District. Your"),
                        ("Revenue Administration and Land Records Management in the District of Gurugram, Haryana.",
                         "... Your certificate follows shortly.")):
        data = event.data.model_copy(update={"course": event.data.course.model_copy(update={"title": title})})
        _, sms = render("completed", "en", context_for(event.type, data, contact(event, "en", True), {}))
        assert said in sms.text and ".. " not in sms.text.replace("... ", ""), sms.text


def test_the_hindi_templates_write_certificate_as_one_word():
    for path in TEMPLATES.glob("*/hi/*"):
        assert "प्रमाण पत्र" not in path.read_text(encoding="utf-8"), path
    for kind in ("certificate_issued", "certificate_revoked"):
        for name in ("subject.txt", "email.txt", "email.html", "sms.txt"):
            assert "प्रमाणपत्र" in (TEMPLATES / kind / "hi" / name).read_text(encoding="utf-8"), (kind, name)


def _sms_without_e_mail(kind: str, language: str, title: str, verify_url: str = VERIFY_URL) -> str:
    """The SMS of `kind` to someone without e-mail, for a course called `title`."""
    latin = LONGEST["latin"]
    event, data, extra = _longest_event(kind, title, latin["centre"], latin["district"], latin["reason"])
    if kind == "certificate_issued":
        data = data.model_copy(update={"verify_url": verify_url})
    _, sms = render(kind, language, context_for(event.type, data, contact(event, language, False), extra))
    return sms.text


def _named_course(title: str, said: str) -> str:
    """The course as `said` names it, checked to be `title` whole or cut where a letter starts, with "..."."""
    if said == title:
        return said
    kept = said.removesuffix("...")
    assert said.endswith("...") and title.startswith(kept) and starts_letter(title, len(kept)), (title, said)
    assert kept and not kept.endswith(("\u094d", "\u093c")), said
    return said


@pytest.mark.parametrize("title", ["RTI Act Basics", "सूचना का अधिकार", "Digital Land Records"])
def test_the_hindi_certificate_sms_to_someone_without_e_mail_names_a_short_course_whole(title):
    text = _sms_without_e_mail("certificate_issued", "hi", title)

    assert text == f"कर्मयोगी: {title} का प्रमाणपत्र जारी हुआ: {VERIFY_URL}"
    assert sms_segments(text) == 2


# Conjuncts (क्ष, त्र, प्र, स्थ, फ़्फ़), nuktas (ज़, फ़) and vowel signs without a word's end near: led by 0 to 7 letters,
# the cut falls at every place inside them.
JOINED = "क्षेत्रीयप्रशिक्षणसंस्थानमुज़फ़्फ़रपुरक्षेत्रीयप्रशिक्षणसंस्थान"
LONG_TITLES = [LONGEST["latin"]["title"], LONGEST["devanagari"]["title"], *("अ" * lead + JOINED for lead in range(8))]


@pytest.mark.parametrize("title", LONG_TITLES, ids=["latin", "devanagari", *(f"joined-{lead}" for lead in range(8))])
def test_the_hindi_certificate_sms_to_someone_without_e_mail_shortens_a_long_course_between_letters(title):
    text = _sms_without_e_mail("certificate_issued", "hi", title)

    said = text.removeprefix("कर्मयोगी: ").removesuffix(f" का प्रमाणपत्र जारी हुआ: {VERIFY_URL}")
    assert said != text and _named_course(title, said), text
    assert sms_segments(text) == 2, text


def test_a_hindi_certificate_sms_whose_link_leaves_no_room_for_the_course_keeps_the_link():
    url = "https://certificates.training.haryana.gov.in/karmayogi/v/verify/e23fb312-417d-5421-9ba3-2eabfc8a7fba"
    assert len(url) == 100  # with the words around it, no course fits two Unicode segments
    text = _sms_without_e_mail("certificate_issued", "hi", LONGEST["devanagari"]["title"], verify_url=url)

    assert text == f"कर्मयोगी: प्रमाणपत्र जारी हुआ: {url}" and sms_segments(text) == 2


@pytest.mark.parametrize(("language", "before", "after"), [
    ("hi", "कर्मयोगी: बधाई! ", " पूरा हुआ। प्रमाणपत्र शीघ्र आएगा।"),
    ("en", "Karmayogi: you completed ", " Certificate follows."),  # a Devanagari title makes it Unicode
], ids=["hi", "en"])
@pytest.mark.parametrize("title", ["सूचना का अधिकार", LONGEST["devanagari"]["title"]], ids=["short", "longest"])
def test_the_completion_sms_to_someone_without_e_mail_names_the_course_in_one_unicode_segment(
        language, before, after, title):
    text = _sms_without_e_mail("completed", language, title)

    assert text.startswith(before) and text.endswith(after), text
    said = text.removeprefix(before).removesuffix(after)
    if language == "en" and not said.endswith("..."):
        said = said.removesuffix(".")  # the sentence's own stop, left out after "..."
    _named_course(title, said)
    assert sms_segments(text) == 1, text


def test_the_hindi_completion_sms_to_someone_without_e_mail_names_a_latin_course():
    assert _sms_without_e_mail("completed", "hi", "RTI Act Basics") == \
        "कर्मयोगी: बधाई! RTI Act Basics पूरा हुआ। प्रमाणपत्र शीघ्र आएगा।"
