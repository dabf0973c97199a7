"""A service on authenticated Kafka: SCRAM-SHA-512 logins (with and without TLS), per-user ACLs, PostgreSQL over
verified TLS, and a start-up refused in one sentence when a password or a certificate is wrong.

The local stack's SCRAM listeners come from `stack.sh env` (LOCAL_KAFKA_SCRAM_SERVERS, ...). Each test gets
its own SCRAM user, granted exactly the ACLs `kafka_access` derives from the ledger service for the test's
topic prefix (the same derivation the stack uses for the four services' users).
"""

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import TopicAuthorizationFailedError
from karmayogi_contracts import KafkaRecord
from karmayogi_runtime import database
from karmayogi_runtime.broker import aiokafka_security, check_login
from karmayogi_runtime.dead_letter_topics import read_records
from karmayogi_runtime.service import kafka_access
from karmayogi_runtime.settings import CannotStart, KafkaSettings
from karmayogi_runtime.testing import free_port, missing

from ledger.events import attended, employee, enrolled
from ledger.service import MIGRATIONS, LedgerSettings, definition
from ledger_harness import publish, until_ready, wait_for_count

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SERVICE = Path(__file__).parent / "ledger" / "service.py"


@dataclass(frozen=True)
class Listeners:
    scram: str  # SASL_PLAINTEXT
    scram_tls: str  # SASL_SSL
    ca_file: str


@dataclass(frozen=True)
class User:
    name: str
    password: str


@pytest.fixture(scope="session")
def listeners() -> Listeners:
    names = ("LOCAL_KAFKA_SCRAM_SERVERS", "LOCAL_KAFKA_SCRAM_TLS_SERVERS", "LOCAL_TLS_CA_FILE")
    if not all(os.environ.get(name) for name in names):
        missing("the SCRAM listeners are not known: run `source <(deploy/local/stack.sh env)` after `make infra-up`.")
    return Listeners(*(os.environ[name] for name in names))


def grant(spec: str) -> None:
    """Create SCRAM users and ACLs through the local stack (format in deploy/local/kafka/LocalKafkaAdmin.java)."""
    subprocess.run([str(ROOT / "deploy" / "local" / "stack.sh"), "kafka-access"], input=spec, text=True,
                   check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def users_made() -> Iterator[list[str]]:
    """The SCRAM users the tests make; forgotten (credentials and ACLs) in one call at the end."""
    names: list[str] = []
    yield names
    if names:
        grant("\n".join(f"forget {name}" for name in names))


@pytest.fixture
def ledger_user(topic_prefix: str, kafka_bootstrap: str, users_made: list[str]) -> User:
    """A user of its own for this test's ledger, with exactly the ACLs the ledger needs under the prefix."""
    user = User(f"ledger-{topic_prefix.rstrip('.')}", secrets.token_urlsafe(18))
    users_made.append(user.name)
    placeholder = LedgerSettings(database_url="postgresql://unused@127.0.0.1/unused",
                                 kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_prefix=topic_prefix)
    access = kafka_access(definition(placeholder))
    lines = [f"user {user.name} {user.password} new"]
    lines += [f"allow {user.name} read topic literal {topic}" for topic in access.reads]
    lines += [f"allow {user.name} write topic literal {topic}" for topic in access.writes]
    lines += [f"allow {user.name} read group literal {group}" for group in access.groups]
    grant("\n".join(lines))
    return user


def scram(listeners: Listeners, user: User, *, tls: bool, password: str | None = None) -> dict[str, str]:
    """The Kafka settings of a service logging in as `user`."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": listeners.scram_tls if tls else listeners.scram,
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL" if tls else "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_USERNAME": user.name,
        "KAFKA_PASSWORD": password or user.password,
    }
    if tls:
        env["KAFKA_CA_FILE"] = listeners.ca_file
    return env


def with_tls(database_url: str, ca_file: str) -> str:
    return f"{database_url}?sslmode=verify-full&sslrootcert={ca_file}"


def ledger_env(database_url: str, prefix: str, kafka: dict[str, str]) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "DATABASE_", "LEDGER_"))}
    return {**inherited, **kafka, "DATABASE_URL": database_url, "KAFKA_TOPIC_PREFIX": prefix,
            "LEDGER_HTTP_PORT": str(free_port()), "LEDGER_CONSUMER_BATCH_SIZE": "100"}


@pytest.mark.parametrize("tls", [False, True], ids=["SASL_PLAINTEXT", "SASL_SSL+PostgreSQL_TLS"])
async def test_a_service_logged_in_with_scram_consumes_and_publishes_through_its_outbox(
    tls, listeners, ledger_user, topic_prefix, kafka_bootstrap, database_factory, tmp_path
):
    url = await database_factory(MIGRATIONS)
    service_url = with_tls(url, listeners.ca_file) if tls else url
    env = ledger_env(service_url, topic_prefix, scram(listeners, ledger_user, tls=tls))
    log = tmp_path / "ledger.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, str(SERVICE), "run", "--no-migrate"], env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        await until_ready(process, env["LEDGER_HTTP_PORT"], log)
        someone = employee("SCRAM")
        attendance = attended(someone)
        await publish(kafka_bootstrap, topic_prefix, [enrolled(someone), attendance])

        # Consumed (effects), published by the outbox relay as certificate.revoked, and consumed back (audit).
        assert await wait_for_count(url, "SELECT count(*) FROM effects WHERE employee_id = $1", 1, someone) == 1
        assert await wait_for_count(url, "SELECT count(*) FROM audit", 1) == 1
        revoked = await read_records(kafka_bootstrap, [f"{topic_prefix}certificate.revoked"])
        assert [dict(r.record.headers)["ce_id"].decode() for r in revoked] == [str(attendance.data.attendance_id)]
        if tls:
            assert await _encrypted_connections(url) > 0
    finally:
        process.terminate()
        process.wait(timeout=60)


async def _encrypted_connections(url: str) -> int:
    """Connections to this test's database that use TLS (the ledger's pool; the query's own is excluded)."""
    import asyncpg

    connection = await asyncpg.connect(url, ssl=False)
    try:
        return await connection.fetchval(
            "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) "
            "WHERE datname = current_database() AND ssl AND pid <> pg_backend_pid()")
    finally:
        await connection.close()


async def test_a_wrong_password_stops_the_service_at_start_up_with_one_sentence(
    listeners, ledger_user, topic_prefix, database_factory
):
    url = await database_factory(MIGRATIONS)
    env = ledger_env(url, topic_prefix, scram(listeners, ledger_user, tls=False, password="not-the-password"))

    done = subprocess.run([sys.executable, str(SERVICE), "run", "--no-migrate"], env=env,
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"ledger: Kafka at {listeners.scram} refused the SCRAM-SHA-512 login of user '{ledger_user.name}': "
        "check KAFKA_USERNAME and KAFKA_PASSWORD.")


async def test_a_certificate_from_an_unknown_authority_stops_the_service_with_one_sentence(
    listeners, ledger_user, topic_prefix, database_factory, tmp_path
):
    url = await database_factory(MIGRATIONS)
    stranger = tmp_path / "other-ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(tmp_path / "other-ca.key"), "-out", str(stranger), "-days", "1",
                    "-subj", "/CN=Somebody else's CA"], check=True, capture_output=True)
    kafka = scram(listeners, ledger_user, tls=True) | {"KAFKA_CA_FILE": str(stranger)}

    done = subprocess.run([sys.executable, str(SERVICE), "run", "--no-migrate"],
                          env=ledger_env(url, topic_prefix, kafka), capture_output=True, text=True, timeout=120)

    assert done.returncode == 1
    assert done.stderr.strip().startswith(f"ledger: Kafka at {listeners.scram_tls} presented a TLS certificate that "
                                          "cannot be verified")
    assert done.stderr.strip().endswith("check KAFKA_CA_FILE and the host names in KAFKA_BOOTSTRAP_SERVERS.")
    with pytest.raises(CannotStart, match="PostgreSQL at .* presented a TLS certificate that cannot be verified"):
        await database.check_connection(with_tls(url, str(stranger)))


async def test_a_user_cannot_touch_topics_outside_its_acls(listeners, ledger_user, topic_prefix):
    settings = KafkaSettings(**{k.lower(): v for k, v in scram(listeners, ledger_user, tls=False).items()})
    security = aiokafka_security(settings)

    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, **security)
    await consumer.start()
    try:
        visible = await consumer.topics()
    finally:
        await consumer.stop()
    assert f"{topic_prefix}session.attended" in visible
    assert "session.attended" not in visible  # the real topic exists, but this user may not even see it

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, **security)
    await producer.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait("employee.enrolled", b"{}")
    finally:
        await producer.stop()

    with pytest.raises(CannotStart, match=f"does not allow user '{ledger_user.name}' to use the topics session.attended"):
        await check_login(settings, ["session.attended", f"{topic_prefix}session.attended"])


async def test_the_local_stack_gives_each_service_a_user_with_only_its_own_topics(listeners):
    stack = subprocess.run([str(ROOT / "deploy" / "local" / "stack.sh"), "env", "enrolment"],
                           capture_output=True, text=True, check=True)
    exported = dict(line.removeprefix("export ").split("=", 1) for line in stack.stdout.splitlines()
                    if line.startswith("export KAFKA_"))
    enrolment = KafkaSettings(**{k.lower(): v for k, v in exported.items()})
    assert enrolment.kafka_security_protocol == "SASL_SSL" and enrolment.kafka_username == "enrolment"

    await check_login(enrolment, ["employee.enrolled", "enrolment.withdrawn", "certificate.issued"])
    with pytest.raises(CannotStart, match="to use the topics course.completed, session.attended"):
        await check_login(enrolment, ["employee.enrolled", "session.attended", "course.completed"])


async def test_the_operator_tool_reads_dead_letters_through_scram_and_refuses_a_wrong_password(
    listeners, topic_prefix, kafka_bootstrap, users_made
):
    operator = User(f"ops-{topic_prefix.rstrip('.')}", secrets.token_urlsafe(18))
    users_made.append(operator.name)
    grant(f"user {operator.name} {operator.password} new\n"
          f"allow {operator.name} read topic prefixed {topic_prefix}\n"
          f"allow {operator.name} write topic prefixed {topic_prefix}")
    await publish(kafka_bootstrap, topic_prefix, [KafkaRecord("session.attended.dlq", b"IN-HR:E1", (), b"{}")])
    tool = str(Path(sys.executable).parent / "karmayogi-ops")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")}
    env |= scram(listeners, operator, tls=True) | {"KAFKA_TOPIC_PREFIX": topic_prefix}

    listed = subprocess.run([tool, "dead-letters", "list", "session.attended"], env=env,
                            capture_output=True, text=True, timeout=120)
    refused = subprocess.run([tool, "dead-letters", "list", "session.attended"], env=env | {"KAFKA_PASSWORD": "wrong"},
                             capture_output=True, text=True, timeout=120)

    assert listed.returncode == 0, listed.stderr
    assert "1 dead-lettered events" in listed.stdout
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"karmayogi-ops: Kafka at {listeners.scram_tls} refused the SCRAM-SHA-512 login of user '{operator.name}': "
        "check KAFKA_USERNAME and KAFKA_PASSWORD.")


async def test_the_operator_tool_run_as_a_user_that_may_not_use_the_topics_names_the_user_to_use(
    listeners, ledger_user, topic_prefix, kafka_bootstrap, users_made
):
    """A service's own user (the likely mistake in a service's pod) may write the dead-letter topics but not
    read them; a user that may read them, and write other topics, but not the original ones cannot replay."""
    reader = User(f"reader-{topic_prefix.rstrip('.')}", secrets.token_urlsafe(18))
    users_made.append(reader.name)
    grant(f"user {reader.name} {reader.password} new\n"
          f"allow {reader.name} read topic literal {topic_prefix}session.attended.dlq\n"
          f"allow {reader.name} write topic literal {topic_prefix}course.completed")
    await publish(kafka_bootstrap, topic_prefix, [KafkaRecord("session.attended.dlq", b"IN-HR:E1", (
        ("dlq_id", b"g/session.attended/0/1"), ("dlq_original_topic", b"session.attended")), b"{}")])
    tool = str(Path(sys.executable).parent / "karmayogi-ops")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")} | {"KAFKA_TOPIC_PREFIX": topic_prefix}

    def run(user: User, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([tool, "dead-letters", *args], env=env | scram(listeners, user, tls=True),
                              capture_output=True, text=True, timeout=120)

    listed, replayed = run(ledger_user, "list", "session.attended"), run(reader, "replay", "session.attended", "--all")

    advice = ("dead letters are read and replayed as the dead-letter-replay user "
              "(deploy/k8s/operations/dead-letter-replay/kafka-user.yaml), not a service's own; set KAFKA_USERNAME "
              "and KAFKA_PASSWORD to it.\n")
    assert (listed.returncode, listed.stdout, listed.stderr) == (1, "", (
        f"karmayogi-ops: Kafka at {listeners.scram_tls} does not allow user '{ledger_user.name}' to read "
        f"session.attended.dlq: {advice}"))
    assert (replayed.returncode, replayed.stderr) == (1, (
        f"karmayogi-ops: Kafka at {listeners.scram_tls} does not allow user '{reader.name}' to write "
        f"session.attended: {advice}"))
