"""The payload models: precise types, Unicode names, clear rules, documented fields."""

import unicodedata
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

import contract_samples as samples
from karmayogi_contracts import EVENT_TYPES, EmployeeEnrolled, SessionAttended
from karmayogi_contracts.events import EmployeeProfile
from karmayogi_contracts.fields import NAME_RULE
from karmayogi_contracts.schemas import schema_of

pytestmark = pytest.mark.unit


def profile(**changes):
    return EmployeeProfile.model_validate({**samples.SUNITA.model_dump(), **changes})


def rule_broken(**changes) -> str:
    with pytest.raises(ValidationError) as raised:
        profile(**changes)
    return raised.value.errors()[0]["msg"]


@pytest.mark.parametrize("name", ["सुनीता देवी", "ਗੁਰਪ੍ਰੀਤ ਕੌਰ", "অনিতা দাস", "முருகன் செல்வம்", "O'Brien-Malik", "K. Chandrasekhar Rao"])
def test_names_in_indian_scripts_and_latin_are_accepted(name):
    assert profile(name=name).name == name


def test_names_are_stored_nfc_normalised_and_stripped():
    decomposed = unicodedata.normalize("NFD", "  अंजलि कुमारी  ")
    assert profile(name=decomposed).name == unicodedata.normalize("NFC", "अंजलि कुमारी")


def test_a_name_that_nfc_lengthens_past_the_limit_is_rejected():
    # U+0958 (क़) is a composition exclusion: NFC stores it as two characters.
    assert "at most 200" in rule_broken(name="\u0958" * 150)


@pytest.mark.parametrize("name, rule", [
    ("", "at least 1 character"),
    ("   ", "at least one letter"),
    ("...", "at least one letter"),
    ("Sunita\u0000Devi", "control characters"),
    ("Sunita\nDevi", "control characters"),
    ("Sunita <script>", "only letters, combining marks, spaces"),
])
def test_names_without_letters_or_with_control_characters_are_rejected(name, rule):
    assert rule in rule_broken(name=name)


@pytest.mark.parametrize("field, value, rule", [
    ("email", "sunita.devi@", "not a valid email address"),
    ("mobile", "09812345678", "E.164"),
    ("preferred_language", "Hindi", "BCP 47"),
    ("id", "HR 0412345", "letters, digits"),
    ("district", "", "at least 1 character"),
    ("district", "\u200d\u200c \u200d", "must not be empty or only spaces"),  # zero-width joiners only: blank
])
def test_each_contact_field_names_the_rule_it_breaks(field, value, rule):
    assert rule in rule_broken(**{field: value})


def test_free_text_may_hold_zero_width_joiners_beside_its_letters():
    assert profile(district="पंच\u200dकूला").district == "पंच\u200dकूला"


def test_state_codes_must_be_iso_3166_2_india():
    event = samples.sunita_enrolled()
    with pytest.raises(ValidationError, match="ISO 3166-2:IN"):
        EmployeeEnrolled.model_validate({**event.model_dump(), "tenant": "Haryana"})


def test_datetimes_with_an_offset_are_stored_in_utc():
    ist = timezone(timedelta(hours=5, minutes=30))
    event = samples.sunita_attended().model_dump()
    event["marked_at"] = datetime(2025, 3, 3, 13, 1, tzinfo=ist)
    assert SessionAttended.model_validate(event).marked_at == datetime(2025, 3, 3, 7, 31, tzinfo=timezone.utc)
    assert SessionAttended.model_validate(event).marked_at.tzinfo == timezone.utc


RFC_3339 = "RFC 3339 date-time string with seconds and an offset"


@pytest.mark.parametrize("value, rule", [
    (datetime(2025, 3, 3, 13, 1), "timezone"), (1741000000, RFC_3339), (1741000000.5, RFC_3339),
    ("1740987060", RFC_3339), ("1740987060000", RFC_3339), ("0", RFC_3339),  # not read as Unix time
    ("2025-03-03T13:01+05:30", RFC_3339), ("2025-03-03T13:01:00+0530", RFC_3339), ("2025-03-03 13:01:00Z", RFC_3339),
    ("2025-03-03", RFC_3339), ("2025-03-03T13:01:00", RFC_3339), ("२०२५-03-03T13:01:00Z", RFC_3339),
])
def test_naive_datetimes_epoch_times_and_other_writings_are_rejected(value, rule):
    event = {**samples.sunita_attended().model_dump(), "marked_at": value}
    with pytest.raises(ValidationError, match=rule):
        SessionAttended.model_validate(event)


@pytest.mark.parametrize("value", ["2025-03-03T13:01:00+05:30", "2025-03-03t07:31:00.123456z", "2025-03-03T07:31:00-00:00"])
def test_rfc_3339_date_times_are_read(value):
    event = {**samples.sunita_attended().model_dump(), "marked_at": value}
    assert SessionAttended.model_validate(event).marked_at.replace(microsecond=0) == datetime(2025, 3, 3, 7, 31, tzinfo=timezone.utc)


@pytest.mark.parametrize("value", [20250303, "20250303", "1740987060", "2025-03-03T00:00:00Z", "2025-3-3"])
def test_dates_are_read_only_as_yyyy_mm_dd(value):
    event = samples.sunita_enrolled().model_dump()
    event["batch"]["start_date"] = value
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        EmployeeEnrolled.model_validate(event)


def test_numbers_and_flags_are_not_coerced_from_strings():
    event = samples.sunita_enrolled().model_dump()
    event["course"]["trains_trainers"] = "true"
    with pytest.raises(ValidationError, match="valid boolean"):
        EmployeeEnrolled.model_validate(event)


def test_events_are_frozen():
    event = samples.sunita_enrolled()
    with pytest.raises(ValidationError, match="frozen"):
        event.channel = "bulk"


def test_unknown_fields_from_a_newer_minor_version_are_ignored():
    event = samples.sunita_enrolled()
    newer = {**event.model_dump(), "priority": "high"}
    assert EmployeeEnrolled.model_validate(newer) == event


def test_every_event_knows_its_type_topic_tenant_employee_and_subject():
    for build in samples.ALL:
        event = build()
        assert event.event_type == f"karmayogi.{event.topic}.v1"
        assert event.tenant in ("IN-HR", "IN-BR")
        assert event.employee_id in (samples.SUNITA.id, samples.PRIYA.id, samples.RAKESH.id, samples.ANJALI.id)
        assert event.subject == str(getattr(event, event.subject_field))


def _properties(schema):
    for definition in [schema, *schema.get("$defs", {}).values()]:
        for name, prop in definition.get("properties", {}).items():
            yield f"{definition['title']}.{name}", prop


@pytest.mark.parametrize("type_name", list(EVENT_TYPES))
def test_every_field_is_documented_in_the_json_schema(type_name):
    undocumented = [name for name, prop in _properties(schema_of(EVENT_TYPES[type_name])) if not prop.get("description")]
    assert undocumented == []


@pytest.mark.parametrize("type_name, field", [
    ("karmayogi.employee.enrolled.v1", "EmployeeProfile.name"), ("karmayogi.course.completed.v1", "EmployeeRef.name")])
def test_the_published_schema_states_the_name_rule_it_cannot_express(type_name, field):
    # A publisher in another language sees only the schema, which accepts "Singh, Rakesh"; the description
    # is where it learns that the models refuse the comma.
    description = dict(_properties(schema_of(EVENT_TYPES[type_name])))[field]["description"]
    assert NAME_RULE in description
    allowed = ("letters, combining marks, spaces, the characters . ' \u2019 - and the zero-width (non-)joiners "
               "U+200C and U+200D")
    assert f"otherwise only {allowed}; no control characters" in description
    assert rule_broken(name="Singh, Rakesh") == f"may contain only {allowed}"


@pytest.mark.parametrize("name", ["O\u2019Brien", "\u0930\u093e\u091c\u0947\u0928\u094d\u0926\u094d\u200d\u0930",
                                  "\u0915\u093f\u0930\u0923\u094d\u200c\u092e\u092f\u0940"])
def test_the_characters_the_rule_names_are_accepted(name):
    assert profile(name=name).name == name


@pytest.mark.parametrize("type_name", list(EVENT_TYPES))
def test_every_string_in_the_json_schema_is_bounded(type_name):
    unbounded = [name for name, prop in _properties(schema_of(EVENT_TYPES[type_name]))
                 for variant in prop.get("anyOf", [prop]) if variant.get("type") == "string"
                 and not {"maxLength", "enum", "const"} & variant.keys() and variant.get("format") not in ("uuid", "date-time", "date")]
    assert unbounded == []
