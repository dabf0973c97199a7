"""The publishing example in contracts/README.md runs and produces what the README says."""

import re
from pathlib import Path

import pytest

from karmayogi_contracts import ids

pytestmark = pytest.mark.unit
README = Path(__file__).resolve().parents[1] / "README.md"


class RecordingProducer:
    def __init__(self) -> None:
        self.sent: list[tuple] = []

    def send(self, topic, *, key, value, headers) -> None:
        self.sent.append((topic, key, value, dict(headers)))


def test_the_python_publishing_example_sends_a_keyed_binary_mode_record():
    snippet = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
    producer = RecordingProducer()
    exec(compile(snippet, str(README), "exec"), {"producer": producer})
    [(topic, key, _, headers)] = producer.sent
    assert (topic, key) == ("employee.enrolled", b"IN-HR:HR0412345")
    assert headers["ce_id"] == headers["ce_subject"] == b"2b6ce336-5fd0-5aa8-a15b-afc65e38ac3a"


def test_the_identity_vectors_in_the_readme_are_the_ones_the_code_computes():
    text = README.read_text(encoding="utf-8")
    enrolment = ids.enrolment_id("IN-HR", "HR0412345", "3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b")
    for value in (enrolment, ids.attendance_id("IN-HR", "HR0412345", "7c9e6679-7425-40de-944b-e07fc1f90ae7"),
                  ids.completion_id("IN-HR", enrolment), ids.certificate_id("IN-HR", enrolment), ids.NAMESPACE):
        assert str(value) in text
