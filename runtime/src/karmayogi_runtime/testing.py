"""Pytest fixtures every suite shares (loaded by the root `conftest.py`): real Kafka and PostgreSQL,
isolated per test.

Kafka and PostgreSQL come from `KAFKA_BOOTSTRAP_SERVERS` and `DATABASE_URL` (an administrative URL;
`make test` exports the local stack's), otherwise from testcontainers where Docker runs. Under
`CI=true` missing infrastructure fails the run; it is never skipped.

Isolation: each test gets its own topic prefix (every topic and dead-letter topic created under it)
and its own databases, cloned from a migrated template, so tests never see each other's data.
"""

import asyncio
import contextlib
import functools
import hashlib
import inspect
import os
import re
import shutil
import socket
import subprocess
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import asyncpg
import httpx
import pytest
from karmayogi_contracts import TOPICS, dead_letter_topic

from karmayogi_runtime import topics
from karmayogi_runtime.migrations import upgrade_to_head
from karmayogi_runtime.service import ServiceDefinition, ServiceRuntime, create_http_app, running

TEST_PARTITIONS = 3
# The API keys services under test are given (`api_keys=TEST_API_KEYS`): one for every state, which
# `service_client` sends unless told otherwise, and one of Haryana's and one of Bihar's.
ALL_STATES_KEY = "test-key-of-every-state-0123456789abcdef"
STATE_KEYS = {"IN-HR": "test-key-of-haryana-0123456789abcdef01", "IN-BR": "test-key-of-bihar-0123456789abcdef0123"}
TEST_API_KEYS = ",".join([f"*:{ALL_STATES_KEY}", *(f"{state}:{key}" for state, key in STATE_KEYS.items())])


# A test that awaits something that never comes must fail, saying where it waited, and let the run go on.
# pytest-timeout's signal cannot be relied on for that inside an event loop (raised in a callback, asyncio
# logs its exception and carries on), so each coroutine test runs under an asyncio deadline this far inside
# pytest-timeout's limit, which stays as the last resort (its thread method ends the run with every stack).
DEADLINE_MARGIN_SECONDS = 60


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    seconds = float(config.getini("timeout") or 0) - DEADLINE_MARGIN_SECONDS
    if seconds <= 0:
        return
    for item in items:
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj):
            item.obj = _with_deadline(item.obj, seconds)


def _with_deadline(test: Callable[..., Awaitable[Any]], seconds: float) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(test)
    async def run(*args: Any, **kwargs: Any) -> Any:
        deadline = asyncio.timeout(seconds)
        try:
            async with deadline:
                return await test(*args, **kwargs)
        except TimeoutError:
            if not deadline.expired():
                raise
            raise AssertionError(f"the test did not finish within {seconds:.0f} s; the traceback above shows "
                                 "what it was waiting for")
    return run


def missing(message: str) -> NoReturn:
    """Something a test needs is not here: a failure under CI=true (CI must never skip it), a skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unavailable(what: str) -> NoReturn:
    missing(f"{what} is not available: run `make test` (it starts the local stack), or set the URL.")


def _docker_available() -> bool:
    return shutil.which("docker") is not None and subprocess.run(
        ["docker", "info"], capture_output=True, check=False
    ).returncode == 0


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    if servers := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield servers
    elif _docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
    else:
        _unavailable("Kafka (KAFKA_BOOTSTRAP_SERVERS)")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    if url := os.environ.get("DATABASE_URL"):
        yield url
    elif _docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:15", driver=None) as postgres:
            yield postgres.get_connection_url()
    else:
        _unavailable("PostgreSQL (DATABASE_URL)")


@pytest.fixture
async def topic_prefix(kafka_bootstrap: str) -> AsyncIterator[str]:
    """A fresh prefix with every project topic and its dead-letter topic created under it."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    names = [prefix + t for t in TOPICS] + [prefix + dead_letter_topic(t) for t in TOPICS]
    await topics.create(kafka_bootstrap, names, TEST_PARTITIONS)
    yield prefix
    try:
        await topics.delete(kafka_bootstrap, names)
    except Exception:  # a broker restarted by the test may still be settling; the topics are harmless
        pass


DatabaseFactory = Callable[[Path], Awaitable[str]]


def _with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")


def _template_name(migrations_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(migrations_dir.rglob("*.py")):
        digest.update(path.read_bytes())
    return f"tmpl_{migrations_dir.parent.name}_{digest.hexdigest()[:12]}"


@pytest.fixture
async def database_factory(postgres_url: str) -> AsyncIterator[DatabaseFactory]:
    """`await database_factory(migrations_dir)` returns the URL of a new, migrated, private database."""
    admin = await asyncpg.connect(postgres_url)
    created: list[str] = []

    async def create(migrations_dir: Path) -> str:
        template = _template_name(migrations_dir)
        await admin.execute("SELECT pg_advisory_lock(hashtext($1))", template)
        try:
            if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", template):
                await admin.execute(f'CREATE DATABASE "{template}"')
                await asyncio.to_thread(upgrade_to_head, _with_database(postgres_url, template), migrations_dir)
        finally:
            await admin.execute("SELECT pg_advisory_unlock(hashtext($1))", template)
        name = f"test_{uuid.uuid4().hex[:16]}"
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        created.append(name)
        return _with_database(postgres_url, name)

    yield create
    for name in created:
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except Exception:
            pass
    await admin.close()


@contextlib.asynccontextmanager
async def database_migrated_to(postgres_url: str, migrations_dir: Path, revisions: Sequence[str],
                               scratch: Path) -> AsyncIterator[tuple[str, asyncpg.Connection]]:
    """A new database migrated by `revisions` (file names under `migrations_dir`/versions) alone, as an older
    release left it, and a connection to it: (url, connection). Dropped afterwards. `scratch`: a folder
    of the test's for the migrations copied."""
    older = scratch / "migrations"
    (older / "versions").mkdir(parents=True)
    shutil.copy(migrations_dir / "env.py", older / "env.py")
    for revision in revisions:
        shutil.copy(migrations_dir / "versions" / revision, older / "versions")
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        await asyncio.to_thread(upgrade_to_head, url, older, wait_seconds=0)
        connection = await asyncpg.connect(url)
        try:
            yield url, connection
        finally:
            await connection.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


class LocalStack:
    """The project's own stack scripts, for tests that restart Kafka or PostgreSQL as an operator would."""

    def __init__(self, script: Path) -> None:
        self.script = script
        self.restarts: Counter[str] = Counter()  # component -> restarts the script reported done

    def run(self, *args: str) -> None:
        subprocess.run([str(self.script), *args], check=True, capture_output=True, timeout=300)

    def restart(self, component: str) -> None:
        self.run("restart", component)
        self.restarts[component] += 1


@pytest.fixture(scope="session")
def local_stack(request: pytest.FixtureRequest, kafka_bootstrap: str) -> LocalStack:
    script = Path(request.config.rootpath) / "deploy" / "local" / "stack.sh"
    if not kafka_bootstrap.startswith("127.0.0.1:29092") or not script.exists():
        _unavailable("The local stack (deploy/local/stack.sh, started by `make test`)")
    return LocalStack(script)


@contextlib.asynccontextmanager
async def service_client(definition: ServiceDefinition, key: str | None = ALL_STATES_KEY,
                         ) -> AsyncIterator[tuple[ServiceRuntime, httpx.AsyncClient]]:
    """Run a service in-process (consumers, relay, API) and give an HTTP client bound to its API, sending
    `key` as its bearer token (None: no key). Every answer the client gets must be one the service's OpenAPI
    document declares (`undeclared`)."""
    async with running(definition) as runtime:
        app = create_http_app(definition, runtime)
        document = app.openapi()

        async def declared(response: httpx.Response) -> None:
            if problem := undeclared(document, response.request.method, response.url.path, response.status_code):
                raise AssertionError(problem)

        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        async with httpx.AsyncClient(transport=transport, base_url="http://service", headers=headers,
                                     event_hooks={"response": [declared]}) as client:
            yield runtime, client


async def send_with_key(client: httpx.AsyncClient, method: str, path: str, key: str | None,
                        **options: Any) -> httpx.Response:
    """A request with `key` as its bearer token (None: no Authorization header at all) in place of the one
    the client sends (`service_client`'s all-states key)."""
    request = client.build_request(method, path, **options)
    request.headers.pop("Authorization", None)
    if key is not None:
        request.headers["Authorization"] = f"Bearer {key}"
    return await client.send(request)


def undeclared(document: Mapping[str, Any], method: str, path: str, status: int) -> str | None:
    """Why an answer is missing from the OpenAPI `document`, as a sentence, or None when its route declares
    `status` (or the path is none of the document's routes). Service tests call it on every answer they
    get (`service_client` does), so a refusal added to a route without its `problem_answer` fails the
    test that meets it."""
    operation = _operation(document, method.lower(), path)
    if operation is None or str(status) in operation[1]["responses"]:
        return None
    return (f"{method.upper()} {operation[0]} answered {status}, which its OpenAPI responses do not declare "
            f"(they declare {', '.join(sorted(operation[1]['responses']))}).")


def _operation(document: Mapping[str, Any], method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    """The route template `path` is an instance of, and its operation; a literal segment beats a parameter."""
    matches = [(template.count("{"), template) for template, operations in document.get("paths", {}).items()
               if method in operations and re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), path)]
    if not matches:
        return None
    template = min(matches)[1]
    return template, document["paths"][template][method]



def declared_answers(document: Mapping[str, Any]) -> dict[tuple[str, str], set[int]]:
    """Each API route's (path, method) in the OpenAPI `document` and the statuses it declares besides 422,
    for a service's test to compare with the answers its code can give."""
    return {(path, method): {int(code) for code in operation["responses"]} - {422}
            for path, operations in document["paths"].items() if path.startswith("/v1/")
            for method, operation in operations.items()}


def refusals_not_in_sentences(document: Mapping[str, Any]) -> list[str]:
    """Each 4xx a route declares besides 422 whose description does not say when it is given, or whose body
    is not the `{"detail": [sentence, ...]}` of `Problems`: a state's IT team integrates from the document."""
    problems = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for code, answer in operation["responses"].items():
                if not code.startswith("4") or code == "422":
                    continue
                described = answer["description"][:1].isupper() and "Successful" not in answer["description"]
                in_sentences = answer.get("content", {}).get("application/json", {}).get("schema") == {
                    "$ref": "#/components/schemas/Problems"}
                if not (described and in_sentences):
                    problems.append(f"{method.upper()} {path} {code}")
    return problems
