"""The test vectors under contracts/examples/ decode exactly as each file says."""

import json
from pathlib import Path

import pytest

from karmayogi_contracts import TOPICS
from karmayogi_contracts.errors import REASONS
from karmayogi_contracts.examples import files, load, main, verify

pytestmark = pytest.mark.unit
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ALL_FILES = files(EXAMPLES)


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda path: str(path.relative_to(EXAMPLES)))
def test_example_decodes_as_expected(path):
    assert verify(load(path)) is None


@pytest.mark.parametrize("topic", TOPICS)
def test_every_topic_has_valid_and_invalid_examples(topic):
    assert list((EXAMPLES / topic / "valid").glob("*.json")) and list((EXAMPLES / topic / "invalid").glob("*.json"))


def test_valid_examples_cover_both_states_both_scripts_and_both_tiers():
    text = "".join(path.read_text(encoding="utf-8") for path in ALL_FILES if path.parent.name == "valid")
    for needle in ('"IN-HR"', '"IN-BR"', '"hub"', '"spoke"', "सुनीता", "Rakesh"):
        assert needle in text


def test_invalid_examples_state_a_known_reason_and_a_message():
    for path in ALL_FILES:
        if path.parent.name == "invalid":
            expect = json.loads(path.read_text(encoding="utf-8"))["expect"]
            assert expect["reason"] in REASONS and expect["message"], path


def test_an_example_with_the_wrong_expectation_is_reported(tmp_path, capsys):
    wrong = json.loads((EXAMPLES / "employee.enrolled" / "invalid" / "bad-email.json").read_text(encoding="utf-8"))
    wrong["expect"]["reason"] = "unknown_type"
    target = tmp_path / "employee.enrolled" / "invalid" / "bad-email.json"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(wrong), encoding="utf-8")
    assert main([str(tmp_path)]) == 1
    assert "FAIL" in capsys.readouterr().out
