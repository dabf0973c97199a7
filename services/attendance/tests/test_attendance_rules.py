"""The pure rules: the attendance percentage, completion, the checks on one attendance, and the file reader."""

import csv
import json
import re
import uuid
from datetime import date, datetime, timedelta, timezone
from fractions import Fraction

import pytest
from attendance import bulk
from attendance.bulk import BadLine, Mark
from attendance.domain import (
    Attended, Rule, attendance_problem, completion_reached, first_met, progress, progress_at, schedule_problem,
    session_within_batch,
)

pytestmark = pytest.mark.unit

S = [uuid.uuid4() for _ in range(8)]
IST = timezone(timedelta(hours=5, minutes=30))


def full(*sessions: int) -> list[Attended]:
    return [Attended(S[n], 90, 90) for n in sessions]


def test_five_of_six_full_sessions_meet_a_75_percent_rule_and_four_do_not():
    rule = Rule(75)
    assert not completion_reached(rule, 6, full(0, 1, 2, 3), withdrawn=False)
    assert completion_reached(rule, 6, full(0, 1, 2, 3, 4), withdrawn=False)
    assert progress(6, full(0, 1, 2, 3, 4)).rounded_percent == 83.33


def test_the_threshold_is_compared_exactly_not_after_rounding():
    # 2 of 3 sessions is 66.666...%: below a 67% rule, although it rounds to 67.
    assert not completion_reached(Rule(67), 3, full(0, 1), withdrawn=False)
    assert completion_reached(Rule(66), 3, full(0, 1), withdrawn=False)
    assert completion_reached(Rule(100), 3, full(0, 1, 2), withdrawn=False)


def test_a_session_reported_many_times_or_by_many_sources_counts_once_at_its_best():
    reports = [Attended(S[0], 30, 90), Attended(S[0], 90, 90), Attended(S[0], 10, 90), Attended(S[1], 45, 90)]
    reached = progress(4, reports)
    assert reached.sessions_attended == 2
    assert reached.credit == Fraction(3, 2)
    assert reached.percent == Fraction(75, 2)


def test_part_of_a_session_counts_in_proportion_and_zero_minutes_is_absent():
    reached = progress(2, [Attended(S[0], 45, 90), Attended(S[1], 0, 90)])
    assert (reached.sessions_attended, reached.percent) == (1, 25)


def test_more_sessions_than_planned_never_make_more_than_100_percent():
    assert progress(2, full(0, 1, 2)).percent == 100


def test_a_withdrawn_enrolment_never_completes():
    assert not completion_reached(Rule(50), 6, full(0, 1, 2, 3, 4, 5), withdrawn=True)


def test_every_mandatory_session_must_be_attended_whatever_the_percentage():
    rule = Rule(50, frozenset({S[5]}))
    assert not completion_reached(rule, 6, full(0, 1, 2, 3, 4), withdrawn=False)
    assert completion_reached(rule, 6, full(0, 1, 5), withdrawn=False)
    assert not completion_reached(rule, 6, [*full(0, 1, 2), Attended(S[5], 0, 90)], withdrawn=False)


def test_a_session_flagged_mandatory_in_the_batch_must_be_attended_besides_the_courses_own():
    course, flagged = Rule(50, frozenset({S[5]})), frozenset({S[4]})
    assert completion_reached(course, 6, full(0, 1, 5), withdrawn=False)
    assert not completion_reached(course, 6, full(0, 1, 5), withdrawn=False, batch_mandatory=flagged)
    assert not completion_reached(course, 6, full(0, 1, 4), withdrawn=False, batch_mandatory=flagged)
    assert completion_reached(course, 6, full(0, 4, 5), withdrawn=False, batch_mandatory=flagged)
    assert not completion_reached(Rule(50), 6, full(0, 1, 2, 3, 5), withdrawn=False, batch_mandatory=flagged)
    assert not completion_reached(Rule(50), 6, [*full(0, 1, 2), Attended(S[4], 0, 90)], withdrawn=False,
                                  batch_mandatory=flagged)
    assert completion_reached(Rule(50), 6, full(0, 1, 4), withdrawn=False, batch_mandatory=flagged)
    assert not completion_reached(Rule(75), 6, full(0, 1, 4), withdrawn=False, batch_mandatory=flagged)


def test_a_zero_percent_rule_still_needs_one_session_attended():
    assert not completion_reached(Rule(0), 6, [], withdrawn=False)
    assert completion_reached(Rule(0), 6, full(0), withdrawn=False)


# --- when the rule was first met: reports taken in the order they were marked, whatever the reading order ---

DAY_1 = datetime(2026, 11, 16, 11, 30, tzinfo=IST)


def day(n: int) -> datetime:
    return DAY_1 + timedelta(days=n - 1)


def report(session: int, marked_on: int, minutes: int = 90) -> Attended:
    """Session S[session] (90 minutes), `minutes` of it marked on day `marked_on` of the batch."""
    return Attended(S[session], minutes, 90, day(marked_on))


def test_reports_read_in_order_complete_when_the_fifth_of_six_sessions_is_marked():
    reports = [report(n, n + 1) for n in range(6)]
    assert first_met(Rule(75), 6, reports) == day(5)
    assert first_met(Rule(75), 6, reports[:4]) is None
    assert first_met(Rule(75), 6, []) is None


def test_reports_read_out_of_order_complete_when_the_rule_was_first_met_not_when_it_was_read():
    # Half of session 6 (day 6) was read first, session 3 (day 3) last: it was met on day 4 (4 of 6 sessions,
    # 66.7% >= 66%), before the half session was attended.
    read = [report(5, 6, minutes=45), report(0, 1), report(1, 2), report(3, 4), report(2, 3)]
    assert first_met(Rule(66), 6, read) == day(4)
    assert first_met(Rule(66), 6, reversed(read)) == day(4)
    assert progress_at(day(4), 6, read).sessions_attended == 4


def test_the_same_attendance_marked_by_two_sources_counts_from_the_earlier_mark():
    # The trainer's app marked session 5 on day 8 and was read first; the biometric device had it on day 5.
    read = [report(4, 8), report(4, 5), report(0, 1), report(1, 2), report(2, 3), report(3, 4)]
    assert first_met(Rule(75), 6, read) == day(5)


def test_a_correction_that_lowers_the_minutes_neither_undoes_nor_moves_the_completion():
    # Session 3's 30 minutes marked on day 7 (read first): the session keeps the most minutes any report gave.
    read = [report(2, 7, minutes=30), *(report(n, n + 1) for n in range(5))]
    assert first_met(Rule(75), 6, read) == day(5)
    assert progress_at(day(5), 6, read).percent == Fraction(250, 3)


def test_a_correction_that_raises_the_minutes_completes_when_it_was_marked():
    # Session 5 first marked with 10 minutes on day 5, corrected to the whole session on day 7.
    read = [report(4, 7), *(report(n, n + 1) for n in range(4)), report(4, 5, minutes=10)]
    assert first_met(Rule(75), 6, read) == day(7)


def test_a_mandatory_session_attended_last_completes_when_it_was_attended():
    mandatory = Rule(75, frozenset({S[5]}))
    assert first_met(mandatory, 6, [report(n, n + 1) for n in range(6)]) == day(6)
    assert first_met(Rule(75), 6, [report(n, n + 1) for n in range(6)], batch_mandatory=frozenset({S[5]})) == day(6)
    # Read last but attended on day 2: the rule was met on day 5, not on day 6 when the sixth was marked.
    read = [report(n, n + 1) for n in (0, 2, 3, 4, 5)] + [report(1, 2)]
    assert first_met(Rule(75, frozenset({S[1]})), 6, read) == day(5)


def test_reports_marked_at_the_same_moment_count_together_whatever_order_they_are_read_in():
    # Sessions 4 and 5 imported from one file with the same marked_at.
    same = [report(3, 5), report(4, 5)]
    reports = [report(n, n + 1) for n in range(3)]
    assert first_met(Rule(75), 6, [*reports, *same]) == day(5)
    assert first_met(Rule(75), 6, [*reversed(same), *reports]) == day(5)
    assert progress_at(day(5), 6, [*reports, *same]).sessions_attended == 5
    # A smaller and a larger report of one session at the same moment: the larger counts.
    assert first_met(Rule(75), 6, [*reports, report(3, 4), report(4, 5, minutes=10), report(4, 5)]) == day(5)


def test_a_session_is_within_its_batch_by_the_states_calendar_day():
    start, end = date(2026, 11, 16), date(2026, 11, 21)
    # 20:00 UTC on the 15th is 01:30 on the 16th in India: inside.
    assert session_within_batch(datetime(2026, 11, 15, 20, tzinfo=timezone.utc), start, end, IST) is None
    outside = session_within_batch(datetime(2026, 11, 22, 4, tzinfo=timezone.utc), start, end, IST)
    assert outside == "The session on 2026-11-22 is outside the batch dates (2026-11-16 to 2026-11-21)."


def test_attendance_for_a_session_not_started_or_marked_in_the_future_is_impossible():
    now = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
    assert attendance_problem(now - timedelta(hours=3), now, now, IST) is None
    assert attendance_problem(now + timedelta(minutes=2), now, now, IST) is None  # clock skew tolerated
    assert attendance_problem(now + timedelta(hours=1), now, now, IST) == (  # in India's time, as it was scheduled
        "The session starts at 2026-11-20T18:30:00+05:30, in the future: attendance can be marked once it has started.")
    assert "is marked at" in attendance_problem(now - timedelta(hours=1), now + timedelta(hours=1), now, IST)


def test_attendance_marked_more_than_an_hour_before_its_session_is_a_wrong_clock():
    now, starts = datetime(2026, 11, 20, 12, tzinfo=timezone.utc), datetime(2026, 11, 20, 10, tzinfo=timezone.utc)
    assert attendance_problem(starts, starts - timedelta(minutes=59), now, IST) is None  # checked in early
    reset = attendance_problem(starts, datetime(2000, 1, 1, tzinfo=timezone.utc), now, IST)
    assert reset == ("The attendance is marked at 2000-01-01T05:30:00+05:30, more than 60 minutes before the "
                     "session starts at 2026-11-20T15:30:00+05:30: check the sender's clock.")
    assert attendance_problem(starts, starts - timedelta(minutes=61), now, IST) is not None


def test_a_report_of_a_scheduled_session_must_give_its_start_and_length():
    session, starts = uuid.uuid4(), datetime(2026, 11, 20, 4, 30, tzinfo=timezone.utc)
    assert schedule_problem(session, (starts, 90), (starts.astimezone(IST), 90)) is None
    assert schedule_problem(session, (starts, 90), (starts, 5)) == (
        f"Session {session} is scheduled for 90 minutes, but the report says 5 minutes.")
    assert schedule_problem(session, (starts, 90), (starts + timedelta(hours=1), 90)) == (
        f"Session {session} is scheduled to start at 2026-11-20T04:30:00+00:00, but the report says "
        "2026-11-20T05:30:00+00:00.")


async def _stream(*chunks: bytes):
    for chunk in chunks:
        yield chunk


async def _read(kind, *chunks: bytes) -> list:
    """The rows of a file received in these chunks, as the import reads them."""
    async with bulk.received(_stream(*chunks)) as stream:
        return [row async for chunk in bulk.rows(stream, kind) for row in chunk]


async def test_a_csv_split_anywhere_is_read_line_by_line_with_numbers():
    session = uuid.uuid4()
    text = f"employee_id,session_id,minutes_attended\r\nHR1,{session},45\r\n\r\nHR2,{session},\r\nHR3,x,\n".encode()
    rows = await _read("csv", *[text[i:i + 7] for i in range(0, len(text), 7)])
    assert rows[:2] == [Mark(2, "HR1", session, 45), Mark(4, "HR2", session, None)]
    assert isinstance(rows[2], BadLine) and rows[2].line == 5


async def test_ndjson_rows_are_checked_one_by_one():
    session = uuid.uuid4()
    rows = await _read("ndjson", b'{"employee_id": "HR1", "session_id": "%s", "marked_at": "2026-11-20T10:00:00+05:30"}\n'
                       % str(session).encode(), b"[1]\n", b'{"employee_id": "HR 2", "session_id": "x"}\n',
                       b'{"employee_id": "HR3", "session_id": "%s", "marked_at": "2026-11-20T10:00:00"}' % str(session).encode())
    assert rows[0] == Mark(1, "HR1", session, None, datetime(2026, 11, 20, 10, tzinfo=IST))
    assert [(r.line, r.reason[:20]) for r in rows[1:]] == [
        (2, "is not a JSON object"), (3, "employee_id must be "), (4, "marked_at must be an")]


async def test_a_file_without_the_required_columns_or_not_utf8_is_refused_as_a_whole():
    with pytest.raises(bulk.MalformedFile, match="lacks the column"):
        await _read("csv", b"employee,session\n")
    with pytest.raises(bulk.MalformedFile, match="Line 2 is not UTF-8 text; nothing was imported"):
        await _read("csv", b"employee_id,session_id\n\xff\xfe,x\n")
    assert bulk.file_format("application/pdf") is None  # answered 415
    assert bulk.file_format("text/csv; charset=utf-8") == "csv"


# The same rule as the enrolment service's bulk files: a file that is empty, or whose first line shows it is
# not what its Content-Type says, is refused whole (400); a bad line after that is a line of the report.
@pytest.mark.parametrize(("kind", "body", "says"), [
    ("csv", b"", "The file is empty: send a header line naming the columns, then one row per line."),
    ("csv", b"\n \r\n\n", "The file is empty: send a header line naming the columns, then one row per line."),
    ("ndjson", b"", "The file is empty: send one JSON object per line."),
    ("ndjson", b"employee_id,session_id\nHR1,x\n", "The first line is not a JSON object; NDJSON needs one JSON "
                                                   "object per line; nothing was imported."),
    ("ndjson", b"[" * 10_000 + b"\n", "The first line is not a JSON object"),
    ("ndjson", b'{"employee_id": "HR1", "minutes_attended": 5}\n', "The first object lacks the field(s) session_id; "
                                                                   "the accepted fields are employee_id and session_id"),
])
async def test_an_empty_file_or_one_whose_first_line_is_not_of_its_format_is_refused_as_a_whole(kind, body, says):
    with pytest.raises(bulk.MalformedFile, match=re.escape(says)):
        await _read(kind, body)


async def test_a_csv_header_with_a_column_the_import_does_not_know_is_refused_as_a_whole():
    session = uuid.uuid4()
    with pytest.raises(bulk.MalformedFile, match='has the column\\(s\\) "minutes_atended", which this import does '
                                                 "not know; the accepted columns are employee_id and session_id "
                                                 "\\(required\\), minutes_attended and marked_at; nothing was "
                                                 "imported."):
        await _read("csv", f"employee_id,session_id,minutes_atended\nHR1,{session},5\n".encode())
    with pytest.raises(bulk.MalformedFile, match='lacks the column\\(s\\) employee_id and has the column\\(s\\) '
                                                 '"employe_id", ""'):
        await _read("csv", b"employe_id,session_id,\n")  # a blank column name is unknown too
    rows = await _read("csv", f" employee_id , session_id,marked_at,minutes_attended\nHR1,{session},,5\n".encode())
    assert rows == [Mark(2, "HR1", session, 5)]  # the known columns, in any order, spaces around them ignored


async def test_an_ndjson_line_with_a_field_the_import_does_not_know_is_a_bad_line():
    session = str(uuid.uuid4())
    rows = await _read("ndjson", json.dumps({"employee_id": "HR1", "session_id": session, "minutes": 5}).encode()
                       + b"\n", json.dumps({"employee_id": "HR2", "session_id": session, "minutes_attended": 5,
                                             "marked_at": "2026-11-20T10:00:00+05:30"}).encode())
    assert rows[0] == BadLine(1, 'has the field(s) "minutes", which this import does not know; the accepted fields '
                                 "are employee_id and session_id (required), minutes_attended and marked_at.",
                              "HR1")  # named, so the state's system can find the record it came from
    assert rows[1] == Mark(2, "HR2", uuid.UUID(session), 5, datetime(2026, 11, 20, 4, 30, tzinfo=timezone.utc))


async def _received(*chunks: bytes) -> bytes:
    async with bulk.received(_stream(*chunks)) as stream:
        return b"".join([block async for block in stream])


async def test_a_file_is_received_whole_and_refused_once_it_has_more_lines_than_one_import_takes(monkeypatch):
    monkeypatch.setattr(bulk, "MAX_FILE_LINES", 3)
    assert await _received(b"a\nb", b"\nc\n") == b"a\nb\nc\n"  # three lines, the last one ended
    assert await _received(b"a\n\nc") == b"a\n\nc"  # three lines, a blank one counted, the last unended
    with pytest.raises(bulk.TooLarge, match="more than 3 lines, the most one import takes; nothing was recorded"):
        await _received(b"a\nb\nc\nd")
    with pytest.raises(bulk.TooLarge):
        await _received(b"a\nb\nc\n", b"\n")
    monkeypatch.setattr(bulk, "MAX_FILE_LINES", 2000)
    monkeypatch.setattr(bulk, "MAX_FILE_BYTES", 2**20)
    line = b"a" * 999 + b"\n"
    with pytest.raises(bulk.TooLarge, match="larger than 1 MiB, the most one import takes"):
        await _received(line * 600, line * 600)



async def test_a_bad_line_anywhere_is_found_while_the_file_is_received_before_anything_is_read():
    good = b"HR1,%s,,\n" % str(uuid.uuid4()).encode()
    file = [b"employee_id,session_id,minutes_attended,marked_at\n", good * 3000]
    with pytest.raises(bulk.MalformedFile, match="Line 3002 is not UTF-8 text"):
        await _received(*file, b"HR\xe9,x,,\n", good)
    with pytest.raises(bulk.MalformedFile, match="Line 3002 is longer than 16,384 bytes; nothing was imported"):
        await _received(*file, b"a" * (bulk.MAX_LINE_BYTES + 1), b"\n", good)


async def test_the_line_limit_does_not_depend_on_how_the_file_is_split():
    longest, too_long = b"a" * bulk.MAX_LINE_BYTES, b"a" * (bulk.MAX_LINE_BYTES + 1)
    for split in (7, 1000, 64 * 1024):
        text = b"x\n" + longest + b"\r\n" + longest
        assert await _received(*[text[i:i + split] for i in range(0, len(text), split)]) == text.replace(b"\r", b"")
        for text in (b"x\n" + too_long + b"\nx\n", b"x\n" + too_long):
            with pytest.raises(bulk.MalformedFile, match="Line 2 is longer than"):
                await _received(*[text[i:i + split] for i in range(0, len(text), split)])


async def test_a_character_split_between_chunks_is_still_utf8():
    text = "employee_id,session_id\nसुनीता,x\n".encode()
    assert await _received(*[text[i:i + 1] for i in range(len(text))]) == text
    with pytest.raises(bulk.MalformedFile, match="Line 3 is not UTF-8"):
        await _received(text, "सुनीता".encode()[:-1], b"\n")  # line 3's last character cut short


async def test_a_lone_cr_ends_a_line_as_in_excels_csv_for_macintosh():
    session = uuid.uuid4()
    text = f"employee_id,session_id,minutes_attended\rHR1,{session},45\rHR2,{session},\r\nHR3,{session},30".encode()
    rows = await _read("csv", *[text[i:i + 5] for i in range(0, len(text), 5)])
    assert rows == [Mark(2, "HR1", session, 45), Mark(3, "HR2", session, None), Mark(4, "HR3", session, 30)]
    # A stray CR inside a line ends it: what follows is a line of its own, not a failed import.
    stray = await _read("csv", f"employee_id,session_id\nHR1,{session}\rx\nHR2,{session}\n".encode())
    assert stray == [Mark(2, "HR1", session), BadLine(3, "has 1 fields; the header has 2."), Mark(4, "HR2", session)]


async def test_a_line_the_csv_module_cannot_read_is_a_bad_line():
    limit = csv.field_size_limit(12)  # shorter than a session id: the csv module raises csv.Error
    try:
        rows = await _read("csv", b"employee_id,session_id\nHR1,%s\nHR2,x\n" % str(uuid.uuid4()).encode())
        with pytest.raises(bulk.MalformedFile, match="header \\(line 1\\) cannot be read as CSV"):
            await _read("csv", b"employee_id,session_id,minutes_attended\n")
    finally:
        csv.field_size_limit(limit)
    assert rows[0] == BadLine(2, "cannot be read as CSV (check its quotes).")
    assert rows[1].line == 3


async def test_text_after_a_closing_quote_is_a_bad_line_rather_than_a_field_read_as_something_else():
    session = str(uuid.uuid4()).encode()
    rows = await _read("csv", b'employee_id,session_id,minutes_attended\nHR1,"%s"0,45\nHR2,%s,45\n' % (session, session))
    assert rows[0] == BadLine(2, "cannot be read as CSV (check its quotes).")
    assert rows[1].line == 3 and not isinstance(rows[1], BadLine)


async def test_hostile_ndjson_and_impossible_dates_are_bad_lines():
    session = str(uuid.uuid4())
    first = json.dumps({"employee_id": "HR0", "session_id": session}).encode() + b"\n"  # a first line of NDJSON
    rows = await _read("ndjson", first, b"[" * 10_000 + b"\n", b"1" * 5000 + b"\n",
                       json.dumps({"employee_id": "HR1", "session_id": session,
                                   "marked_at": "0001-01-01T00:00:00+05:30"}).encode() + b"\n",
                       json.dumps({"employee_id": "HR2", "session_id": session,
                                   "marked_at": "2026-11-20T10:00:00+05:30"}).encode())
    assert rows[1:4] == [BadLine(2, "is not a JSON object."), BadLine(3, "is not a JSON object."),
                         BadLine(4, "marked_at is not a date-time an attendance can have.", "HR1")]
    assert rows[4].marked_at.tzinfo == timezone.utc  # as the event will carry it


NOT_RFC_3339 = "marked_at must be an RFC 3339 date-time with seconds and a UTC offset, e.g. 2026-11-20T10:30:00+05:30."


@pytest.mark.parametrize("marked_at, reason", [
    ("20261120T103000+0530", NOT_RFC_3339),  # ISO 8601's basic form
    ("2026-02-30T10:00:00+05:30", NOT_RFC_3339),
    ("2026-11-20T10:30:00", NOT_RFC_3339),
    ("2026-11-20T10:30+05:30", NOT_RFC_3339),
    ("1795672800", NOT_RFC_3339),  # not read as Unix time
])
def test_a_files_marked_at_is_read_as_the_contract_reads_it(marked_at, reason):
    row = {"employee_id": "HR1", "session_id": str(uuid.uuid4()), "marked_at": marked_at}
    assert bulk.parse(7, row) == BadLine(7, reason, "HR1")
