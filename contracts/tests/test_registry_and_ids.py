"""One registry of types and topics; identities that make duplicates impossible by construction."""

import subprocess
import sys
from uuid import UUID

import pytest

from karmayogi_contracts import EVENT_TYPES, TOPICS, dead_letter_topic, ids

pytestmark = pytest.mark.unit
BATCH = UUID("3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b")
SESSION = UUID("7c9e6679-7425-40de-944b-e07fc1f90ae7")


def test_the_seven_topics_of_the_design_are_registered_with_their_models():
    assert TOPICS == ("employee.enrolled", "session.attended", "course.completed", "certificate.issued",
                      "certificate.revoked", "enrolment.withdrawn", "employee.updated")
    for name, registered in EVENT_TYPES.items():
        assert (registered.type, registered.model.event_type) == (name, name)
        assert name == f"karmayogi.{registered.topic}.v1" and registered.model.topic == registered.topic


def test_the_registry_cannot_be_changed_at_run_time():
    with pytest.raises(TypeError):
        EVENT_TYPES["karmayogi.x.v1"] = EVENT_TYPES["karmayogi.employee.enrolled.v1"]  # type: ignore[index]


def test_each_topic_has_a_dead_letter_topic():
    assert dead_letter_topic("course.completed") == "course.completed.dlq"


def test_the_topics_command_prints_every_topic_and_its_dead_letter_topic():
    printed = subprocess.run([sys.executable, "-m", "karmayogi_contracts.topics"], capture_output=True, text=True,
                             check=True).stdout.split()
    assert printed == [name for topic in TOPICS for name in (topic, f"{topic}.dlq")]


def test_identities_match_the_published_vectors_other_languages_test_against():
    # The same vectors are in contracts/README.md; a change here re-identifies every fact ever published.
    enrolment = ids.enrolment_id("IN-HR", "HR0412345", BATCH)
    assert enrolment == UUID("2b6ce336-5fd0-5aa8-a15b-afc65e38ac3a")
    assert ids.attendance_id("IN-HR", "HR0412345", SESSION) == UUID("a30a4f5c-8e7d-575f-a89e-1ab920339849")
    report = ids.attendance_report_id(UUID("a30a4f5c-8e7d-575f-a89e-1ab920339849"), 90, "biometric")
    assert report == UUID("cd8c1b3a-c7e7-5d71-bac2-37b2b0c92350")
    assert ids.completion_id("IN-HR", enrolment) == UUID("b74f50ac-11d6-561c-8a86-f20094e9819f")
    assert ids.certificate_id("IN-HR", enrolment) == UUID("5319c043-7f52-52fc-9e74-43749269f1c7")


def test_a_report_is_one_event_whatever_its_time_and_a_report_of_more_minutes_another():
    attendance = ids.attendance_id("IN-HR", "HR0412345", SESSION)
    assert ids.attendance_report_id(attendance, 45, "trainer") == ids.attendance_report_id(str(attendance).upper(), 45, "trainer")
    assert len({ids.attendance_report_id(attendance, 45, "trainer"), ids.attendance_report_id(attendance, 90, "trainer"),
                ids.attendance_report_id(attendance, 45, "biometric"),
                ids.attendance_report_id(ids.attendance_id("IN-HR", "HR0412346", SESSION), 45, "trainer")}) == 4


def test_enrolling_the_same_employee_in_the_same_batch_twice_gives_one_identity():
    assert ids.enrolment_id("IN-HR", "HR0412345", BATCH) == ids.enrolment_id("IN-HR", "HR0412345", str(BATCH).upper())


def test_identities_differ_by_tenant_employee_batch_and_kind():
    enrolment = ids.enrolment_id("IN-HR", "HR0412345", BATCH)
    others = {
        ids.enrolment_id("IN-BR", "HR0412345", BATCH), ids.enrolment_id("IN-HR", "HR0412346", BATCH),
        ids.enrolment_id("IN-HR", "HR0412345", SESSION), ids.completion_id("IN-HR", enrolment),
        ids.certificate_id("IN-HR", enrolment), ids.certificate_id("IN-BR", enrolment),
    }
    assert enrolment not in others and len(others) == 6
