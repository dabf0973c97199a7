"""A completion that cannot be true is not certified: one dated in the future (beyond the clock skew attendance
also allows), or whose completion_id is not its enrolment's. (Dead-lettered: test_state_issuers.py.)"""

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from karmayogi_contracts import ids

from certification.completions import completion_problem
from certification_samples import TENANT, completed

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=timezone.utc)


def test_a_completion_dated_now_or_within_five_minutes_ahead_is_certified():
    for ahead in (timedelta(0), timedelta(minutes=5), -timedelta(days=400)):
        assert completion_problem(completed(completed_at=NOW + ahead).data, NOW) is None


def test_a_completion_dated_more_than_five_minutes_ahead_is_refused_as_in_the_future():
    event = completed(completed_at=datetime(2030, 1, 1, tzinfo=timezone.utc))

    assert completion_problem(event.data, NOW) == (
        "The course is completed at 2030-01-01T00:00:00+00:00, in the future (more than 5 minutes ahead of this "
        "service's clock): check the sender's clock.")
    assert completion_problem(completed(completed_at=NOW + timedelta(minutes=5, seconds=1)).data, NOW) is not None


def test_a_completion_id_that_is_not_the_enrolment_s_is_refused_naming_the_right_one():
    enrolment, other = uuid.uuid4(), uuid.uuid4()
    event = completed(enrolment_id=enrolment, completion_id=ids.completion_id(TENANT, other))

    assert completion_problem(event.data, NOW) == (
        f"completion_id {ids.completion_id(TENANT, other)} is not the id of the completion of enrolment {enrolment} "
        f"in {TENANT} (ids.completion_id gives {ids.completion_id(TENANT, enrolment)}).")
    another_state = completed(enrolment_id=enrolment, completion_id=ids.completion_id("IN-BR", enrolment))
    assert completion_problem(another_state.data, NOW) is not None
