"""A state system reads all its certificates page by page while more are issued, and gets each once; against the
real Kafka and PostgreSQL."""

import uuid
from datetime import timedelta

import pytest

from certification_samples import COMPLETED_AT, completed, issued_certificate, publish

pytestmark = pytest.mark.integration

LIST = "/v1/states/IN-HR/certificates"


async def _issue(runtime, client, events) -> list[str]:
    await publish(runtime, events)
    return [(await issued_certificate(client, event))["certificate_id"] for event in events]


async def _page(client, query: str) -> dict:
    answer = await client.get(f"{LIST}?{query}")
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_paging_while_certificates_are_issued_gives_each_certificate_once_and_the_last_page_says_so(certifier):
    runtime, client = certifier
    course = uuid.uuid4()
    before = await _issue(runtime, client, [completed(course_id=course) for _ in range(5)])

    read, after, pages = [], None, 0
    while True:
        page = await _page(client, f"course_id={course}&limit=2" + (f"&after={after}" if after else ""))
        read += [item["certificate_id"] for item in page["items"]]
        pages += 1
        if pages == 1:  # issued between pages; one of them a completion reported late, dated before all the others
            meanwhile = await _issue(runtime, client, [
                completed(course_id=course), completed(course_id=course, completed_at=COMPLETED_AT - timedelta(days=7))])
        after = page["next"]
        if after is None:
            break

    assert sorted(read) == sorted(before) and pages == 3
    # The next read from the first page gives the ones issued meanwhile first, the late one too.
    first = await _page(client, f"course_id={course}&limit=2")
    assert {item["certificate_id"] for item in first["items"]} == set(meanwhile) and first["next"]


async def test_a_last_page_that_is_full_has_no_next_and_a_filtered_list_pages_as_the_whole_one(certifier):
    runtime, client = certifier
    course = uuid.uuid4()
    issued = await _issue(runtime, client, [completed(course_id=course, employee_id="HR0412345") for _ in range(4)])

    whole = await _page(client, f"course_id={course}&limit=4")
    assert [item["certificate_id"] for item in whole["items"]] == issued[::-1] and whole["next"] is None
    first = await _page(client, "employee_id=HR0412345&status=valid&limit=2")
    last = await _page(client, f"employee_id=HR0412345&status=valid&limit=2&after={first['next']}")
    assert [item["certificate_id"] for item in first["items"] + last["items"]] == issued[::-1]
    assert last["next"] is None


async def test_an_after_that_is_no_page_s_next_is_a_422_sentence_and_offset_is_a_400(certifier):
    _, client = certifier
    for after in ("abc", "1.5", "-", "0x1F", "9999999999999999999", ""):
        refused = await client.get(f"{LIST}?after={after}")
        assert refused.status_code == 422, after
        assert refused.json()["detail"] == [
            f"query.after: {after!r} is not the `next` of a page; pass the `next` of the page before as it was given, "
            "or no `after` for the first page."], after
    assert (await client.get(f"{LIST}?after=-12")).json() == {"items": [], "next": None}
    refused = await client.get(f"{LIST}?offset=50")
    assert refused.status_code == 400
    assert refused.json()["detail"] == ["This route takes no query parameter 'offset'; it takes after, course_id, "
                                        "employee_id, limit, status."]
