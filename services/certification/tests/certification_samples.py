"""Completions to certify, as attendance or iGOT publish them."""

import asyncio
import shutil
import time
import uuid
from datetime import datetime, timezone

from karmayogi_contracts import CourseCompleted, encode, ids, new_event
from karmayogi_runtime.broker import create_producer
from karmayogi_runtime.testing import ALL_STATES_KEY, TEST_API_KEYS, missing, send_with_key

TENANT = "IN-HR"
ADMIN_TOKEN = "a-test-admin-token-that-is-long-enough"
COMPLETED_AT = datetime(2026, 11, 21, 11, 0, tzinfo=timezone.utc)


def tool(name: str) -> str:
    """A command-line tool the test needs; missing is a failure under CI, a skip elsewhere."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed (make prerequisites installs it)")
    return path


def completed(name: str = "क्षितिज द्विवेदी", *, igot: bool = False, enrolment_id: uuid.UUID | None = None,
              employee_id: str | None = None, tenant: str = TENANT, completed_at: datetime = COMPLETED_AT,
              completion_id: uuid.UUID | None = None, course_id: uuid.UUID | None = None):
    enrolment_id = enrolment_id or uuid.uuid4()
    employee_id = employee_id or f"{tenant[3:]}-{uuid.uuid4().hex[:8]}"
    data = {
        "tenant": tenant, "completion_id": str(completion_id or ids.completion_id(tenant, enrolment_id)),
        "enrolment_id": str(enrolment_id), "employee": {"id": employee_id, "name": name},
        "course": {"id": str(course_id or uuid.uuid4()), "title": "Ethics in Governance", "trains_trainers": False,
                   "family": "ethics-in-governance",
                   "competencies": [{"name": "Integrity", "kind": "behavioural"},
                                    {"name": "Citizen centricity", "kind": "behavioural"}]},
        "completed_at": completed_at.isoformat(),
    }
    if igot:
        data["basis"] = {"kind": "external", "source": "igot", "reference": "do_1138"}
    else:
        data["batch"] = {"id": str(uuid.uuid4()), "centre": {"id": str(uuid.uuid4()), "name": "District Training Centre, Rewari",
                                                             "tier": "spoke", "district": "Rewari"}}
        data["basis"] = {"kind": "attendance", "sessions_attended": 5, "sessions_planned": 6, "attendance_percent": 83.3}
    model = CourseCompleted.model_validate(data)
    return new_event(model, source="/services/attendance", id=model.completion_id)


async def publish(runtime, events):
    """Publish `events` to the running service's topics, as the other services would."""
    settings = runtime.definition.settings
    producer = create_producer(settings, client_id="test-publisher")
    await producer.start()
    try:
        sends = []
        for record in map(encode, events):
            sends.append(await producer.send(settings.kafka_topic_prefix + record.topic, record.value, key=record.key,
                                             headers=list(record.headers)))
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def issued_certificate(client, event, timeout: float = 30) -> dict:
    """The certificate issued for the completion `event`, once the service has issued it (asked with the
    all-states key, whichever key `client` sends)."""
    certificate_id = ids.certificate_id(event.data.tenant, event.data.enrolment_id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = await send_with_key(client, "GET", f"/v1/certificates/{certificate_id}", ALL_STATES_KEY)
        if response.status_code == 200:
            return response.json()
        await asyncio.sleep(0.2)
    raise AssertionError(f"no certificate {certificate_id} after {timeout}s")


def openapi_paths(data_dir) -> dict:
    """The paths of the service's OpenAPI document, built from settings alone (no database or Kafka)."""
    return openapi_document(data_dir)["paths"]


def openapi_document(data_dir) -> dict:
    """The service's OpenAPI document, built from settings alone (no database or Kafka)."""
    from karmayogi_runtime.service import create_http_app

    from certification.main import definition
    from certification.settings import CertificationSettings

    settings = CertificationSettings(database_url="postgresql://certification@db/certification",
                                     kafka_bootstrap_servers="kafka:9092", admin_token=ADMIN_TOKEN,
                                     api_keys=TEST_API_KEYS, local_data_dir=str(data_dir))
    return create_http_app(definition(settings)).openapi()
