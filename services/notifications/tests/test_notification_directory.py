"""The contact directory, without I/O: the newest details win by the time they are as of, whether an
enrolment or an update of the employee's directory entry gave them (domain.newer, Directory.take_contact)."""

import dataclasses
from datetime import datetime, timezone

import pytest

from notifications.domain import Contact, Directory, newer

pytestmark = pytest.mark.unit

MARCH = datetime(2025, 3, 1, 9, 30, tzinfo=timezone.utc)
APRIL = datetime(2025, 4, 2, 6, 45, tzinfo=timezone.utc)
EMPLOYEE = ("IN-HR", "HR0412345")

enrolment = Contact(*EMPLOYEE, "सुनीता देवी", "sunita@hry.gov.in", "+919812345678", "hi", as_of=MARCH)
update = dataclasses.replace(enrolment, name="Sunita Devi", email="sunita.devi@hry.gov.in", language="en", as_of=APRIL)


def directory(*contacts: Contact) -> Directory:
    """A directory as a batch starts: these contacts read from the database, no opt-outs, no certificates."""
    return Directory({(c.tenant, c.employee_id): c for c in contacts}, {}, {})


def test_details_as_of_a_later_time_are_newer_and_as_of_an_earlier_time_are_not():
    assert newer(enrolment, update)
    assert not newer(update, enrolment)
    assert newer(None, enrolment)


def test_the_same_details_given_again_count_as_newest_and_change_nothing():
    assert newer(update, update)
    known = directory(update)
    known.take_contact(update)
    assert known.contacts[EMPLOYEE] == update


def test_an_update_older_than_the_enrolment_changes_nothing():
    older = dataclasses.replace(update, as_of=datetime(2025, 2, 1, tzinfo=timezone.utc))
    known = directory(enrolment)

    known.take_contact(older)

    assert known.contacts[EMPLOYEE] == enrolment
    assert known.recorded == {}  # nothing to write
    assert known.contacts_given == [EMPLOYEE]  # yet the employee has a contact: events waiting for it may go


def test_an_enrolment_consumed_after_a_later_update_keeps_the_updated_details():
    known = directory()

    known.take_contact(update)
    known.take_contact(enrolment)

    assert known.contacts[EMPLOYEE] == known.recorded[EMPLOYEE] == update
    assert known.contacts_given == [EMPLOYEE, EMPLOYEE]


def test_a_later_update_replaces_the_enrolments_details_and_is_recorded():
    known = directory(enrolment)

    known.take_contact(update)

    assert known.contacts[EMPLOYEE] == known.recorded[EMPLOYEE] == update
