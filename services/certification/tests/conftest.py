"""The certification service in-process over the real Kafka and PostgreSQL, and the tools tests look with."""

import json

import pytest
from karmayogi_runtime.testing import TEST_API_KEYS, service_client

from certification.keys import new_key
from certification.main import MIGRATIONS_DIR, definition
from certification.settings import CertificationSettings

from certification_samples import ADMIN_TOKEN


@pytest.fixture
def make_settings(kafka_bootstrap, topic_prefix, tmp_path):
    async def make(database_url: str, **overrides) -> CertificationSettings:
        return CertificationSettings(database_url=database_url, kafka_bootstrap_servers=kafka_bootstrap,
                                     kafka_topic_prefix=topic_prefix, local_data_dir=str(tmp_path),
                                     admin_token=ADMIN_TOKEN, api_keys=TEST_API_KEYS, **overrides)
    return make


@pytest.fixture
async def certifier(database_factory, make_settings):
    settings = await make_settings(await database_factory(MIGRATIONS_DIR))
    async with service_client(definition(settings)) as (runtime, client):
        yield runtime, client


@pytest.fixture
def keys_file(tmp_path):
    from datetime import datetime, timedelta, timezone

    def write(count: int):
        now = datetime(2026, 1, 1, tzinfo=timezone.utc)
        path = tmp_path / f"keys-{count}.json"
        existing = json.loads((tmp_path / "keys.json").read_text())["keys"] if (tmp_path / "keys.json").exists() else []
        keys = existing + [new_key(now + timedelta(days=len(existing) + n)) for n in range(count - len(existing))]
        (tmp_path / "keys.json").write_text(json.dumps({"keys": keys}))
        path.write_text(json.dumps({"keys": keys}))
        return str(path)
    return write
