"""A certificate is dated by the state's calendar: issued at 00:35 in India is issued on that day, though
it is still the day before in UTC. (The PDF's date: test_certification_issue.py.)"""

from datetime import datetime, timedelta, timezone

import pytest

from certification import page

pytestmark = pytest.mark.unit

IST = timezone(timedelta(hours=5, minutes=30))
LATE_EVENING_UTC = datetime(2026, 11, 23, 19, 5, tzinfo=timezone.utc)


def _certificate(**changes) -> dict:
    return {"employee_name": "Harjeet Singh", "course_title": "Ethics in Governance", "competencies": ["Integrity"],
            "issued_at": LATE_EVENING_UTC, "revoked_at": None, "revocation_reason": None, **changes}


def test_the_verification_page_shows_the_state_s_dates():
    shown = page.render(_certificate(), lang="en", issuer="HIPA", status="valid", pdf_url=None, state=IST)
    assert "24-11-2026" in shown and "23-11-2026" not in shown

    revoked = _certificate(revoked_at=LATE_EVENING_UTC + timedelta(days=2), revocation_reason="Issued in error.")
    shown = page.render(revoked, lang="en", issuer="HIPA", status="revoked", pdf_url=None, state=IST)
    assert "26-11-2026: Issued in error." in shown

