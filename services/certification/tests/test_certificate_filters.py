"""An officer finds one employee's, one course's or the revoked certificates among a state's ~100,000, each with
when and why it was revoked; the order they are paged in and the indexes that make it fast at that scale (0002,
0003), against the real PostgreSQL."""

import asyncio
import json
import uuid

import asyncpg
import pytest
from karmayogi_runtime.migrations import upgrade_to_head
from karmayogi_runtime.testing import database_migrated_to

from certification import repository
from certification.main import MIGRATIONS_DIR
from certification_samples import ADMIN_TOKEN, completed, issued_certificate, publish

LIST = "/v1/states/IN-HR/certificates"


@pytest.mark.unit
def test_only_the_filters_given_become_conditions_on_the_state_s_certificates():
    course = uuid.uuid4()
    assert repository.Filters("IN-HR").where() == ("tenant = $1", ["IN-HR"])
    assert repository.Filters("IN-HR", "HR0412345", course, revoked=True).where() == (
        "tenant = $1 AND employee_id = $2 AND course_id = $3 AND revoked_at IS NOT NULL", ["IN-HR", "HR0412345", course])
    assert repository.Filters("IN-HR", course_id=course, revoked=False).where() == (
        "tenant = $1 AND course_id = $2 AND revoked_at IS NULL", ["IN-HR", course])


@pytest.mark.unit
def test_a_page_resumes_below_the_last_certificate_of_the_page_before_in_the_order_they_were_recorded():
    first, first_arguments = repository.page_of(repository.Filters("IN-HR", "HR0412345"), None, 51)
    assert "WHERE tenant = $1 AND employee_id = $2\n" in first and "ORDER BY seq DESC LIMIT $3" in first
    assert first_arguments == ["IN-HR", "HR0412345", 51]
    following, arguments = repository.page_of(repository.Filters("IN-HR", "HR0412345"), -7, 51)
    assert "WHERE tenant = $1 AND employee_id = $2 AND seq < $3\n" in following and "LIMIT $4" in following
    assert arguments == ["IN-HR", "HR0412345", -7, 51]


@pytest.mark.integration
async def test_an_officer_finds_one_employee_s_or_one_course_s_certificates_and_the_revoked_ones(certifier):
    runtime, client = certifier
    ethics, rti = uuid.uuid4(), uuid.uuid4()
    events = [completed("Asha Rani", employee_id="HR0412345", course_id=ethics),
              completed("Asha Rani", employee_id="HR0412345", course_id=rti),
              completed("Bala Devi", employee_id="HR0499999", course_id=ethics)]
    await publish(runtime, events)
    first, second, other = [(await issued_certificate(client, event))["certificate_id"] for event in events]
    revoked = await client.post(f"/v1/certificates/{second}/revocation", json={"reason": "Issued in error."},
                                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

    async def listed(query: str) -> dict:
        answer = await client.get(f"{LIST}?{query}")
        assert answer.status_code == 200, answer.text
        return {item["certificate_id"]: item for item in answer.json()["items"]}

    employees = await listed("employee_id=HR0412345")
    assert set(employees) == {first, second}
    assert employees[second]["status"] == "revoked" and employees[second]["revocation_reason"] == "Issued in error."
    assert employees[second]["revoked_at"] == revoked.json()["revoked_at"]
    assert employees[first]["revoked_at"] is None and employees[first]["revocation_reason"] is None
    assert set(await listed("employee_id=HR0412345&status=revoked")) == {second}
    assert set(await listed("employee_id=HR0412345&status=valid")) == {first}
    assert set(await listed(f"course_id={ethics}")) == {first, other}
    assert (await listed(f"course_id={ethics}"))[other]["course_id"] == str(ethics)
    assert set(await listed("status=revoked")) == {second}
    assert (await client.get(f"{LIST}/count?employee_id=HR0412345")).json() == {"issued": 2, "revoked": 1}
    assert (await client.get(f"{LIST}/count?course_id={ethics}")).json() == {"issued": 2, "revoked": 0}


@pytest.mark.integration
async def test_a_malformed_filter_is_a_422_sentence_not_an_empty_list(certifier):
    _, client = certifier
    refusals = {
        "employee_id=HR%2F0412345": "query.employee_id: String should match pattern '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'",
        "course_id=ethics": "query.course_id: Input should be a valid UUID",
    }
    for query, sentence in refusals.items():
        for path in (LIST, f"{LIST}/count"):
            refused = await client.get(f"{path}?{query}")
            assert refused.status_code == 422 and refused.json()["detail"][0].startswith(sentence), (path, query)
    # wrong_issuer is decided from each credential, not stored: the list does not pretend to filter on it.
    refused = await client.get(f"{LIST}?status=wrong_issuer")
    assert refused.status_code == 422 and refused.json()["detail"] == ["query.status: Input should be 'valid' or 'revoked'"]

# Certificates as 0001 stored them: 200 of one state, two employees, two courses, every tenth revoked.
ADD_CERTIFICATES = """
    INSERT INTO certificates (certificate_id, tenant, enrolment_id, employee_id, employee_name, course_id,
        course_title, course_family, trains_trainers, competencies, centre, issued_at, credential, kid, revoked_at,
        revocation_reason)
    SELECT gen_random_uuid(), 'IN-HR', gen_random_uuid(), 'HR' || (g % 2), 'Asha Rani',
           CASE WHEN g % 2 = 0 THEN 'c0a8e0d2-3b1f-5c4e-9a7d-1e2f3a4b5c6d'::uuid ELSE gen_random_uuid() END,
           'Ethics in Governance', 'ethics', false, '{}', NULL, now() - g * interval '1 hour', 'jwt', 'k1',
           CASE WHEN g % 10 = 0 THEN now() END, CASE WHEN g % 10 = 0 THEN 'Issued in error.' END
    FROM generate_series(1, 200) g
"""
WRITE_ORDER_INDEXES = ("certificates_in_write_order", "certificates_by_employee_in_write_order",
                       "certificates_by_course_in_write_order", "certificates_revoked_in_write_order")
INDEXES = """
    SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid = 'certificates'::regclass ORDER BY c.relname
"""


@pytest.fixture
async def database_at_0001(postgres_url, tmp_path):
    """A new database migrated to 0001 only, holding 200 certificates: (url, an open connection)."""
    async with database_migrated_to(postgres_url, MIGRATIONS_DIR, ["0001_initial.py"], tmp_path) as (url, connection):
        await connection.execute(ADD_CERTIFICATES)
        yield url, connection


@pytest.mark.integration
@pytest.mark.parametrize("stopped_part_way", [False, True], ids=["from 0001", "after runs stopped part-way"])
async def test_0003_numbers_the_certificates_in_write_order_and_a_filtered_page_is_read_from_its_index(
        database_at_0001, stopped_part_way):
    url, connection = database_at_0001
    if stopped_part_way:  # concurrent builds of 0002 and 0003 failed and left INVALID indexes
        await connection.execute("ALTER TABLE certificates ADD COLUMN seq bigint")
        for name in ("certificates_by_employee", "certificates_in_write_order"):
            with pytest.raises(asyncpg.UniqueViolationError):  # any failed build: here, on duplicate tenants
                await connection.execute(f"CREATE UNIQUE INDEX CONCURRENTLY {name} ON certificates (tenant)")

    await asyncio.to_thread(upgrade_to_head, url, MIGRATIONS_DIR, wait_seconds=0)

    indexes = {r["relname"]: r["indisvalid"] for r in await connection.fetch(INDEXES)}
    assert [indexes.get(name) for name in ("certificates_by_employee", "certificates_by_course", "certificates_revoked",
                                           *WRITE_ORDER_INDEXES)] == [True] * 7
    # The certificates already there, newest issued highest, all below one written after.
    numbered = await connection.fetch("SELECT seq FROM certificates ORDER BY issued_at DESC, certificate_id DESC")
    assert [r["seq"] for r in numbered] == list(range(0, -200, -1))
    await connection.execute(ADD_CERTIFICATES.replace("generate_series(1, 200)", "generate_series(1, 1)"))
    assert await connection.fetchval("SELECT max(seq) FROM certificates") == 1
    with pytest.raises(asyncpg.NotNullViolationError):
        await connection.execute("UPDATE certificates SET seq = NULL WHERE seq = 1")

    await connection.execute("ANALYZE certificates")  # as autovacuum would have, on a state's table
    # 200 rows: the planner would read them all, or a bitmap of them, and sort; not so at a state's scale.
    await connection.execute("SET enable_seqscan = off; SET enable_bitmapscan = off")
    course = uuid.UUID("c0a8e0d2-3b1f-5c4e-9a7d-1e2f3a4b5c6d")
    for filters, index in ((repository.Filters("IN-HR"), "certificates_in_write_order"),
                           (repository.Filters("IN-HR", revoked=False), "certificates_in_write_order"),
                           (repository.Filters("IN-HR", employee_id="HR1"), "certificates_by_employee_in_write_order"),
                           (repository.Filters("IN-HR", course_id=course), "certificates_by_course_in_write_order"),
                           (repository.Filters("IN-HR", revoked=True), "certificates_revoked_in_write_order")):
        for after in (None, -20):
            statement, arguments = repository.page_of(filters, after, 51)
            [plan] = json.loads(await connection.fetchval(f"EXPLAIN (FORMAT JSON) {statement}", *arguments))
            nodes, found = [plan["Plan"]], []
            while nodes:
                node = nodes.pop()
                found.append((node["Node Type"], node.get("Index Name")))
                nodes += node.get("Plans", [])
            assert ("Index Scan", index) in found, (index, after, found)
            assert not any("Sort" in node_type for node_type, _ in found), (index, after, found)
