"""The enrolment rules and the bulk-file reader, without infrastructure."""

import asyncio
import contextlib
import csv
import uuid
from datetime import date, datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from karmayogi_contracts import decode, encode, ids
from karmayogi_contracts.events import EmployeeProfile
from pydantic import ValidationError

from enrolment import bulk, bulk_file, bulk_rows, domain, events
from enrolment.domain import BatchSeats, Existing

pytestmark = pytest.mark.unit

TENANT = "IN-BR"
TODAY = date(2026, 3, 1)
COURSE = uuid.uuid4()


def batch(**changes) -> BatchSeats:
    values = {"id": uuid.uuid4(), "course_id": COURSE, "start_date": date(2026, 3, 10), "capacity": 2,
              "enrolment_open": True, **changes}
    return BatchSeats(**values)


def req(line, employee_id, batch_id):
    return domain.request(TENANT, line, employee_id, batch_id)


def decide(requests, batches, existing=None, active=None, today=TODAY):
    return domain.decide_enrolments(TENANT, requests, {b.id: b for b in batches}, existing or {}, active or {}, today)


def test_seats_go_to_the_first_requests_and_the_rest_are_waitlisted():
    b = batch()
    outcomes, seated = decide([req(n, f"BR{n}", b.id) for n in range(4)], [b])
    assert [o.status for o in outcomes] == ["enrolled", "enrolled", "waitlisted", "waitlisted"]
    assert (seated[b.id].enrolled_count, seated[b.id].waitlisted_count) == (2, 2)


def test_the_same_employee_and_batch_is_one_enrolment_with_a_deterministic_id():
    b = batch()
    outcomes, seated = decide([req(2, "BR1", b.id), req(3, "BR1", b.id)], [b])
    assert [o.outcome for o in outcomes] == ["accepted", "duplicate"]
    assert outcomes[0].enrolment_id == outcomes[1].enrolment_id == ids.enrolment_id(TENANT, "BR1", b.id)
    assert seated[b.id].enrolled_count == 1


def test_a_batch_the_employee_withdrew_from_cannot_be_rejoined():
    b = batch()
    enrolment_id = ids.enrolment_id(TENANT, "BR1", b.id)
    [outcome], _ = decide([req(0, "BR1", b.id)], [b], existing={enrolment_id: Existing(enrolment_id, b.id, "withdrawn")})
    assert outcome.outcome == "rejected" and "withdrew" in outcome.reason


def test_one_active_enrolment_per_course_even_within_one_file():
    one, two = batch(), batch()
    outcomes, _ = decide([req(2, "BR1", one.id), req(3, "BR1", two.id)], [one, two])
    assert [o.outcome for o in outcomes] == ["accepted", "rejected"]
    assert f"active enrolment (enrolled) in batch {one.id}" in outcomes[1].reason


def test_another_course_is_no_obstacle():
    one, two = batch(), batch(course_id=uuid.uuid4())
    outcomes, _ = decide([req(2, "BR1", one.id), req(3, "BR1", two.id)], [one, two])
    assert [o.outcome for o in outcomes] == ["accepted", "accepted"]


@pytest.mark.parametrize(("changes", "today", "open_"), [
    ({}, date(2026, 3, 10), True),  # the start date itself still takes enrolments
    ({}, date(2026, 3, 11), False),
    ({"enrolment_open": False}, TODAY, False),
])
def test_a_batch_takes_enrolments_while_open_and_until_its_start_date(changes, today, open_):
    assert (domain.closed_reason(batch(**changes), today) is None) is open_


def test_an_unknown_batch_is_rejected_with_its_id():
    missing = uuid.uuid4()
    [outcome], _ = decide([req(7, "BR1", missing)], [])
    assert outcome.reason == f"Batch {missing} does not exist in {TENANT}."


@pytest.mark.parametrize(("capacity", "enrolled", "waitlisted", "promoted"), [(2, 1, 5, 1), (10, 1, 3, 3), (2, 2, 4, 0), (1, 0, 0, 0)])
def test_freed_seats_promote_as_many_waitlisted_as_fit(capacity, enrolled, waitlisted, promoted):
    seats = batch(capacity=capacity, enrolled_count=enrolled, waitlisted_count=waitlisted)
    assert domain.seats_to_promote(seats, TODAY) == promoted


@pytest.mark.parametrize(("changes", "today", "promoted"), [
    ({}, date(2026, 3, 10), 1),  # the start date itself still promotes
    ({}, date(2026, 3, 11), 0),  # the batch has started: nobody joins it now
    ({"enrolment_open": False}, TODAY, 1),  # closed to new requests, but the waitlisted asked while it was open
])
def test_a_freed_seat_promotes_the_waitlist_only_until_the_batch_starts(changes, today, promoted):
    seats = batch(enrolled_count=1, waitlisted_count=3, **changes)
    assert domain.seats_to_promote(seats, today) == promoted


def test_capacity_cannot_drop_below_the_enrolled():
    assert "below the 5 employees already enrolled" in domain.capacity_problem(4, 5)
    assert domain.capacity_problem(5, 5) is None


def test_spoke_trainers_must_be_master_trainers_of_the_family_and_hub_trainers_need_not():
    problems = domain.ineligible_trainers("spoke", "gem-procurement", ["BR1", "BR2"], ["BR2"])
    assert problems == ["Trainer BR1 holds no master-trainer certificate for course family 'gem-procurement'; "
                        "a spoke batch can only be taught by master trainers certified at a hub."]
    assert domain.ineligible_trainers("hub", "gem-procurement", ["BR1"], []) == []


def test_a_trainer_whose_certificates_are_all_revoked_is_told_so_and_when():
    problems = domain.ineligible_trainers("spoke", "gem-procurement", ["BR1", "BR2"], [],
                                          {"BR1": date(2026, 11, 30)})
    assert problems == [
        "Trainer BR1's master-trainer certificate for course family 'gem-procurement' was revoked on 2026-11-30; "
        "a spoke batch can only be taught by master trainers certified at a hub.",
        "Trainer BR2 holds no master-trainer certificate for course family 'gem-procurement'; "
        "a spoke batch can only be taught by master trainers certified at a hub."]


def test_a_spoke_belongs_to_a_hub_and_a_hub_to_nothing():
    hub = uuid.uuid4()
    assert domain.centre_problems("IN-HR", "spoke", hub, "hub") == []
    assert domain.centre_problems("IN-HR", "spoke", hub, "spoke") == [f"hub_id: centre {hub} is a spoke, not a hub."]
    assert domain.centre_problems("IN-HR", "spoke", hub, None) == [f"hub_id: no centre {hub} exists in IN-HR."]
    assert domain.centre_problems("IN-HR", "spoke", None, None) == ["hub_id: a spoke must name the hub it belongs to."]
    assert domain.centre_problems("IN-HR", "hub", hub, "hub")


def test_the_enrolled_event_built_without_revalidation_is_a_valid_contract_event():
    b = uuid.uuid4()
    snapshot = events.batch_snapshot({
        "id": b, "course_id": uuid.uuid4(), "course_title": "GeM Procurement", "competencies": [{"name": "Procurement", "kind": "functional"}],
        "trains_trainers": False, "family": "gem-procurement", "centre_id": uuid.uuid4(), "centre_name": "DTC Gaya",
        "tier": "spoke", "centre_district": "Gaya", "start_date": date(2026, 3, 10), "end_date": date(2026, 3, 12),
        "mode": "blended", "sessions_planned": 3, "minimum_attendance_percent": 80, "mandatory_session_ids": [],
    })
    profile = events.profile_from_row({"id": "BR7", "name": "राम प्रसाद यादव", "email": None, "mobile": "+919430012345",
                                       "preferred_language": "hi", "department": "Rural Development",
                                       "designation": "Block Development Officer", "district": "Gaya"})
    enrolment_id = ids.enrolment_id(TENANT, "BR7", b)
    event = events.enrolled(TENANT, enrolment_id, profile, snapshot, at=datetime(2026, 3, 1, tzinfo=timezone.utc), channel="bulk")
    record = encode(event)
    decoded = decode(record.value, record.headers)
    assert decoded.data == event.data
    assert record.key == b"IN-BR:BR7" and decoded.id == enrolment_id


@pytest.mark.parametrize("email", ["sunita.devi@hry.gov.in", "a+b@hry.gov.in", "Upper.Case@hry.gov.in", "x..y@hry.gov.in",
                                   "x@hry..gov.in", "x@localhost", "x@hry.gov.in.", ".x@hry.gov.in", "a" * 65 + "@hry.gov.in"])
def test_the_e_mail_shortcut_agrees_with_the_full_check(email):
    from pydantic import TypeAdapter, ValidationError
    from karmayogi_contracts.fields import Email

    fields = {"employee_id": "HR1", "name": "Asha", "mobile": "", "preferred_language": "hi", "department": "Revenue",
              "designation": "Patwari", "district": "Hisar", "batch_id": str(uuid.uuid4())}
    bulk_rows.validated_row(2, {**fields, "email": "warm.up@hry.gov.in"})  # the domain has passed the full check once
    try:
        expected = TypeAdapter(Email).validate_python(email)
    except ValidationError:
        expected = None
    row = bulk_rows.validated_row(3, {**fields, "email": email})
    assert (row.profile.email if row.profile else None) == expected


def test_a_rejected_row_keeps_only_text_postgresql_can_store():
    row = bulk_rows.rejected(9, "unknown fields: r\ud800nk\x00." + "x" * 5000, "HR\x00\udfff" + "1" * 500)
    assert row.employee_id == "HR\ufffd" + "1" * 96 + "\u2026"
    assert row.problem.startswith("unknown fields: r\ufffdnk.x") and len(row.problem) == bulk_rows.MAX_REPORTED_REASON
    assert bulk_rows.rejected(9, "the line is not a JSON object.", 42).employee_id is None


async def _read(body: bytes, fmt: str = "csv", piece: int = 7) -> list[bulk_rows.BulkRow]:
    async def stream():
        for start in range(0, len(body), piece):  # tiny pieces: lines are cut anywhere
            yield body[start:start + piece]

    return [row async for chunk in await bulk.open_file(stream(), fmt) for row in chunk]


HEADER = b"batch_id,employee_id,name,email,mobile,preferred_language,department,designation,district\r\n"
BATCH = b"3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b"


async def test_csv_rows_are_read_in_any_column_order_with_line_numbers_and_reasons():
    body = (HEADER + BATCH + b",BR1,\xe0\xa4\xb0\xe0\xa4\xbe\xe0\xa4\xae,,,hi,Revenue,\"Clerk, Grade II\",Patna\r\n"
            + b"\r\n" + BATCH + b",BR2,Sita,bad,,hi,Revenue,Clerk,Patna\n" + BATCH + b",BR3,Gita,,,hi,Revenue,\"Clerk\n")
    rows = await _read(body)
    assert [(r.line, r.employee_id) for r in rows] == [(2, "BR1"), (4, "BR2"), (5, None)]
    assert rows[0].profile.name == "राम" and rows[0].profile.designation == "Clerk, Grade II"
    assert rows[1].problem == "email: value is not a valid email address."  # never the library's words, which quote it
    assert rows[2].problem == "a quoted field opened on line 5 is not closed before the end of the file."


async def test_a_quote_inside_a_plain_field_is_a_character_and_the_next_lines_are_rows_of_their_own():
    rows = await _read(HEADER + BATCH + b',BR1,Ram,,,hi,Revenue,Patwari 5",Patna\n'
                       + b"".join(BATCH + b",BR%d,Sita,,,hi,Revenue,Clerk,Patna\n" % n for n in range(2, 30)))
    assert [(r.line, r.employee_id, r.problem) for r in rows][:2] == [(2, "BR1", None), (3, "BR2", None)]
    assert len(rows) == 29 and rows[0].profile.designation == 'Patwari 5"'


async def test_text_after_a_closing_quote_rejects_the_row_with_the_reason_rather_than_joining_it():
    rows = await _read(HEADER + BATCH + b',BR1,"Ram"ji,,,hi,Revenue,Clerk,Patna\n' + BATCH + b",BR2,Sita,,,hi,Revenue,Clerk,Patna\n")
    assert (rows[0].line, rows[0].problem) == (2, "the line is not valid CSV (',' expected after '\"').")
    assert (rows[1].line, rows[1].problem) == (3, None)


async def test_a_quoted_field_left_open_names_every_line_it_took_and_the_lines_after_it_are_read():
    body = (HEADER + BATCH + b",BR1,Ram,,,hi,Revenue,\"Clerk,Patna\n"
            + b"".join(BATCH + b",BR%d,Sita,,,hi,Revenue,Clerk,Patna\n" % n for n in range(2, 30)))
    rows = await _read(body)
    assert (rows[0].line, rows[0].problem) == (2, f"lines 2-{1 + bulk_file.MAX_RECORD_LINES} are not enrolled: a quoted "
                                                  f"field opened on line 2 is not closed within {bulk_file.MAX_RECORD_LINES} lines.")
    assert [r.line for r in rows[1:]] == list(range(2 + bulk_file.MAX_RECORD_LINES, 31))
    assert all(r.profile is not None for r in rows[1:])


async def test_a_quoted_field_left_open_to_the_end_names_the_line_it_opened_on():
    rows = await _read(HEADER + BATCH + b',BR1,"Ram","Ji"",,,hi,Revenue,Clerk,Patna\nmore\n')
    assert (rows[0].line, rows[0].problem) == (
        2, "lines 2-3 are not enrolled: a quoted field opened on line 2 is not closed before the end of the file.")


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["a", ",", '"', " ", '""']), max_size=8).map("".join), min_size=1, max_size=6))
def test_lines_are_grouped_into_records_where_the_csv_module_groups_them(lines):
    reader = csv.reader(line + "\n" for line in lines)
    expected = [(reader.line_num, record) for record in reader]
    grouped, parts = [], []
    for number, line in enumerate(lines, 1):
        parts.append(line)
        if bulk_file.open_quote_at(record := "\n".join(parts)) is None:
            grouped.append((number, next(csv.reader([record]), [])))
            parts = []
    # at the end of the data the csv module ends a quoted field left open; the import rejects it instead
    assert grouped == expected[:len(grouped)] and len(expected) == len(grouped) + (1 if parts else 0)


async def test_a_file_with_a_bom_and_no_final_newline_is_read():
    rows = await _read(b"\xef\xbb\xbf" + HEADER + BATCH + b",BR1,Ram,,,hi,Revenue,Clerk,Patna")
    assert rows[0].profile is not None


@pytest.mark.parametrize(("body", "says"), [
    (b"\xff\xfe" + HEADER, "not UTF-8"),
    (b"employee_id,name\n", "missing columns"),
    (b"%PDF-1.7\n", "missing columns"),
    (b"", "empty"),
])
async def test_a_wrong_first_line_refuses_the_whole_file(body, says):
    with pytest.raises(bulk_file.MalformedFile, match=says):
        await _read(body)


_TRICKY = st.text(st.sampled_from(list("aZ09 .'-_+@\t\u200d\u0915\u093f\u0958\u0301\u2019,\"") + ["\x00", "\ud800"]), max_size=12)
_FIELD_VALUES = {
    "id": st.one_of(st.just("HR0412345"), _TRICKY, st.none()),
    "name": st.one_of(st.sampled_from(["सुनीता देवी", "Rajesh D'Souza", "क़ासिम", " Asha "]), _TRICKY, st.none()),
    "email": st.one_of(st.sampled_from(["sunita.devi@hry.gov.in", "Upper@hry.gov.in", "x@hry..gov.in"]), _TRICKY, st.none()),
    "mobile": st.one_of(st.just("+919812345678"), _TRICKY, st.none()),
    "preferred_language": st.one_of(st.sampled_from(["hi", "en-IN", "HI"]), _TRICKY, st.none()),
    "department": st.one_of(st.just("Revenue"), _TRICKY, st.integers(), st.lists(st.integers(), max_size=2),
                            st.dictionaries(st.just("x"), st.integers()), st.none()),
    "designation": st.one_of(st.just("Patwari"), _TRICKY, st.none()),
    "district": st.one_of(st.sampled_from(["Rohtak", " Hisar "]), _TRICKY, st.none()),
}


@settings(max_examples=400, deadline=None)
@given(st.fixed_dictionaries(_FIELD_VALUES), st.booleans())
def test_a_row_validated_field_by_field_is_the_profile_the_whole_contract_model_makes(data, seen_before):
    if seen_before:  # the repeated values come from memory the second time
        with contextlib.suppress(ValidationError):
            bulk_rows._profile(data)
    try:
        expected = EmployeeProfile.model_validate(data)
    except ValidationError as error:
        with pytest.raises(ValidationError) as raised:
            bulk_rows._profile(data)
        assert raised.value.errors() == error.errors()
    else:
        assert bulk_rows._profile(data) == expected


@pytest.mark.parametrize("line", ["HR1,सुनीता देवी,,+919812345678,hi,Revenue and Disaster Management,Patwari,Rohtak,x",
                                  ",,,", " a , b ", "a,b\tc,d", "D'Souza,  ,x'"])
def test_a_line_without_quotes_splits_as_the_csv_module_splits_it(line):
    assert bulk_file._plain_csv(line) and line.split(",") == next(csv.reader([line]))


@pytest.mark.parametrize("line", ['a,"b,c",d', "a,b\rc", "a\x00b", 'a,b"c', ""])
def test_a_line_with_quotes_carriage_returns_or_nul_goes_through_the_csv_module(line):
    assert not bulk_file._plain_csv(line)


async def test_reading_ahead_gives_every_chunk_in_order_and_reads_at_most_one_chunk_ahead():
    read: list[int] = []

    async def chunks():
        for n in range(5):
            read.append(n)
            yield [bulk_rows.rejected(n, "just a chunk")]

    seen = []
    async with bulk.read_ahead(chunks()) as ahead:
        async for chunk in ahead:
            await asyncio.sleep(0.01)  # the import of this chunk
            assert len(read) <= chunk[0].line + 3  # this one, the next one waiting, and one ready to wait
            seen.append(chunk[0].line)
    assert seen == [0, 1, 2, 3, 4]


async def test_a_failure_while_reading_ahead_is_raised_where_the_next_chunk_is_asked_for():
    async def chunks():
        yield [bulk_rows.rejected(2, "fine")]
        raise ConnectionResetError("the client went away")

    seen = []
    with pytest.raises(ConnectionResetError):
        async with bulk.read_ahead(chunks()) as ahead:
            async for chunk in ahead:
                seen.append(chunk[0].line)
    assert seen == [2]


async def test_an_import_that_stops_early_stops_the_reading_too():
    finished = asyncio.Event()

    async def chunks():
        try:
            for n in range(1000):
                yield [bulk_rows.rejected(n, "chunk")]
        finally:
            finished.set()

    with pytest.raises(RuntimeError):
        async with bulk.read_ahead(chunks()) as ahead:
            async for _ in ahead:
                raise RuntimeError("the database went away")
    assert finished.is_set()


def test_a_batch_s_dates_and_plan_change_only_while_nobody_is_enrolled_and_the_same_values_are_no_change():
    plan = {"start_date": date(2026, 3, 10), "end_date": date(2026, 3, 12), "sessions_planned": 4, "capacity": 40}
    more_sessions, later = {**plan, "sessions_planned": 6}, {**plan, "start_date": date(2026, 3, 11), "end_date": date(2026, 3, 13)}

    assert domain.plan_change_problem(plan, more_sessions, has_enrolments=False) is None
    assert domain.plan_change_problem(plan, {**plan, "capacity": 60}, has_enrolments=True) is None
    assert domain.plan_change_problem(plan, dict(plan), has_enrolments=True) is None
    assert domain.plan_change_problem(plan, more_sessions, has_enrolments=True).startswith(
        "sessions_planned: cannot change once the batch has enrolments")
    assert domain.plan_change_problem(plan, later, has_enrolments=True).startswith("start_date, end_date: ")


def test_only_a_row_that_is_not_rejected_updates_the_directory():
    b = batch(enrolment_open=False)
    one, two = batch(), batch()
    outcomes, _ = decide([req(2, "BR1", one.id), req(3, "BR1", one.id), req(4, "BR1", two.id), req(5, "BR2", b.id)],
                         [b, one, two])
    assert [(o.outcome, domain.updates_directory(o)) for o in outcomes] == [
        ("accepted", True), ("duplicate", True), ("rejected", False), ("rejected", False)]


def test_a_trainer_named_twice_is_reported_once():
    assert len(domain.ineligible_trainers("spoke", "gem-procurement", ["BR1", "BR1", "BR2"], [])) == 2


def test_a_batch_s_trainer_is_refused_as_its_trainee_but_may_be_a_trainee_of_another_batch():
    taught, other = batch(trainers=("BR7",)), batch(course_id=uuid.uuid4())
    outcomes, seated = decide([req(2, "BR7", taught.id), req(3, "BR7", other.id), req(4, "BR8", taught.id)], [taught, other])

    assert [(o.outcome, o.conflict) for o in outcomes] == [("rejected", True), ("accepted", False), ("accepted", False)]
    assert outcomes[0].reason == (
        f"Employee BR7 is a trainer of batch {taught.id} and cannot also be enrolled in it as a trainee; enrol them in "
        "another batch of the course, or remove them from this batch's trainers first.")
    assert seated[taught.id].enrolled_count == 1


def test_a_batch_s_trainee_is_refused_as_its_trainer_unless_they_withdrew_or_their_waitlist_lapsed():
    batch_id = uuid.uuid4()
    trainees = {"BR1": "enrolled", "BR2": "waitlisted", "BR3": "completed", "BR4": "withdrawn", "BR5": "lapsed"}

    problems = domain.trainees_named_trainers(batch_id, trainees)

    assert problems == [
        f"Employee BR1 is a trainee of batch {batch_id} (enrolled) and cannot also be its trainer; withdraw their "
        "enrolment first, or name another trainer.",
        f"Employee BR2 is a trainee of batch {batch_id} (waitlisted) and cannot also be its trainer; withdraw their "
        "enrolment first, or name another trainer.",
        f"Employee BR3 is a trainee of batch {batch_id} (completed) and cannot also be its trainer; name another trainer."]


@pytest.mark.parametrize(("open_", "today", "takes"), [
    (True, date(2026, 3, 10), True),  # the start date itself
    (True, date(2026, 3, 11), False),  # started: the flag no longer opens it
    (False, TODAY, False),
])
def test_a_batch_shows_as_open_for_enrolment_exactly_when_an_enrolment_would_be_accepted(open_, today, takes):
    b = batch(enrolment_open=open_)
    assert domain.takes_enrolments(b.enrolment_open, b.start_date, today) is takes
    assert (domain.closed_reason(b, today) is None) is takes
