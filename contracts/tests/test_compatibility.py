"""Schema evolution: the committed snapshots, and the checker that guards them."""

import json
from pathlib import Path
from typing import Literal
from uuid import UUID

import pytest
from pydantic import BaseModel, Field

from karmayogi_contracts import EVENT_TYPES
from karmayogi_contracts.compat import incompatibilities
from karmayogi_contracts.schemas import IncompatibleChange, check, main, schema_of, snapshot_path, write

pytestmark = pytest.mark.unit
SNAPSHOTS = Path(__file__).resolve().parents[1] / "schemas"


@pytest.mark.parametrize("type_name", list(EVENT_TYPES))
def test_the_current_model_is_compatible_with_its_committed_snapshot(type_name):
    committed = json.loads(snapshot_path(SNAPSHOTS, type_name).read_text(encoding="utf-8"))
    assert incompatibilities(committed, schema_of(EVENT_TYPES[type_name])) == []


def test_the_committed_snapshots_are_current():
    # Fails after a compatible change too, so the published schemas never lag behind the models;
    # run `python -m karmayogi_contracts.schemas` from the repository root to refresh them.
    assert check(SNAPSHOTS) == []


def test_regenerating_writes_one_snapshot_per_type(tmp_path):
    written = write(tmp_path)
    assert sorted(path.name for path in written) == sorted(f"{name}.json" for name in EVENT_TYPES)
    assert check(tmp_path) == []


def test_regenerating_refuses_an_incompatible_change_and_writes_nothing(tmp_path, capsys):
    # The committed snapshot had a field the model has since dropped, and a looser limit: regenerating
    # must not turn that into a snapshot that agrees with the model (and a compatibility test that passes).
    write(tmp_path)
    path = snapshot_path(tmp_path, "karmayogi.certificate.issued.v1")
    committed = json.loads(path.read_text(encoding="utf-8"))
    committed["properties"]["qr_png_url"] = {"type": "string", "maxLength": 2000, "description": "QR image"}
    committed["properties"]["course_title"]["maxLength"] = 1000
    path.write_text(json.dumps(committed), encoding="utf-8")
    before = {file.name: file.read_bytes() for file in tmp_path.iterdir()}

    assert main([str(tmp_path)]) == 1

    refusal = capsys.readouterr().err
    assert "karmayogi.certificate.issued.v1: $.qr_png_url: field removed" in refusal
    assert "karmayogi.certificate.issued.v1: $.course_title: maxLength changed from 1000 to 300" in refusal
    assert "add karmayogi.certificate.issued.v2 beside it" in refusal
    assert {file.name: file.read_bytes() for file in tmp_path.iterdir()} == before
    with pytest.raises(IncompatibleChange):
        write(tmp_path)


def _edit_snapshot(directory: Path, type_name: str, edit) -> Path:
    """Change a snapshot written in `directory` as if it had been committed so; returns its path."""
    path = snapshot_path(directory, type_name)
    committed = json.loads(path.read_text(encoding="utf-8"))
    edit(committed)
    path.write_text(json.dumps(committed), encoding="utf-8")
    return path


def _looser_course_title(snapshot: dict) -> None:
    snapshot["properties"]["course_title"]["maxLength"] = 1000


def test_check_does_not_advise_regenerating_an_incompatible_snapshot(tmp_path):
    write(tmp_path)
    _edit_snapshot(tmp_path, "karmayogi.certificate.issued.v1", _looser_course_title)

    problems = check(tmp_path)

    assert problems[0] == "karmayogi.certificate.issued.v1: $.course_title: maxLength changed from 1000 to 300"
    assert "karmayogi.certificate.issued.v2" in problems[1]
    assert not any("run python -m karmayogi_contracts.schemas" in problem for problem in problems)


def test_checking_lists_incompatible_changes_before_stale_files(tmp_path):
    write(tmp_path)
    stale = _edit_snapshot(tmp_path, "karmayogi.employee.enrolled.v1",  # the first type checked
                           lambda snapshot: snapshot.update(description="An older wording"))
    _edit_snapshot(tmp_path, "karmayogi.certificate.issued.v1", _looser_course_title)

    problems = check(tmp_path)

    assert problems[0] == "karmayogi.certificate.issued.v1: $.course_title: maxLength changed from 1000 to 300"
    assert problems[-1] == f"{stale}: stale; run python -m karmayogi_contracts.schemas"
    assert len(problems) == 3


def test_regenerating_writes_a_compatible_change(tmp_path):
    write(tmp_path)
    path = snapshot_path(tmp_path, "karmayogi.certificate.issued.v1")
    committed = json.loads(path.read_text(encoding="utf-8"))
    committed["properties"]["course_title"]["description"] = "An older wording"
    path.write_text(json.dumps(committed), encoding="utf-8")

    assert check(tmp_path) == [f"{path}: stale; run python -m karmayogi_contracts.schemas"]
    write(tmp_path)
    assert check(tmp_path) == []


class Centre(BaseModel):
    id: UUID = Field(description="centre")
    tier: Literal["hub", "spoke"] = Field(description="tier")


class V1(BaseModel):
    enrolment_id: UUID = Field(description="id")
    name: str = Field(max_length=200, description="name")
    email: str | None = Field(default=None, description="email")
    centre: Centre = Field(description="centre")
    sessions: list[int] = Field(description="sessions")


def changed(**fields) -> list[str]:
    """Incompatibilities between V1 and a copy of it with `fields` replaced (None removes one)."""
    annotations = {**V1.__annotations__}
    namespace = {name: value for name, value in V1.model_fields.items()}
    for name, spec in fields.items():
        if spec is None:
            annotations.pop(name), namespace.pop(name)
        else:
            annotations[name], namespace[name] = spec
    v2 = type("V1", (BaseModel,), {"__annotations__": annotations, **namespace})
    return incompatibilities(V1.model_json_schema(), v2.model_json_schema())


def test_an_unchanged_schema_is_compatible():
    assert changed() == []


def test_adding_an_optional_field_is_compatible():
    assert changed(mobile=(str | None, Field(default=None, description="mobile"))) == []


def test_rewording_a_description_is_compatible():
    assert changed(name=(str, Field(max_length=200, description="the employee's name"))) == []


def test_removing_a_field_is_caught():
    assert changed(email=None) == ["$.email: field removed"]


def test_making_an_optional_field_required_is_caught():
    assert changed(email=(str, Field(description="email"))) == [
        "$.email: no longer accepts null", "$.email: optional field made required"]


def test_adding_a_required_field_is_caught():
    assert changed(district=(str, Field(description="district"))) == ["$.district: new field is required"]


def test_making_a_required_field_optional_is_caught():
    assert "$.name: required field made optional" in changed(name=(str, Field("x", max_length=200, description="n")))


def test_changing_a_type_is_caught():
    assert changed(enrolment_id=(int, Field(description="id"))) == [
        "$.enrolment_id: format changed from 'uuid' to None", "$.enrolment_id: type changed from 'string' to 'integer'"]


def test_changing_a_constraint_is_caught():
    assert changed(name=(str, Field(max_length=100, description="name"))) == [
        "$.name: maxLength changed from 200 to 100"]


def test_changing_an_array_item_type_is_caught():
    assert changed(sessions=(list[str], Field(description="sessions"))) == [
        "$.sessions[]: type changed from 'integer' to 'string'"]


def test_changing_allowed_values_inside_a_nested_model_is_caught():
    class WiderCentre(BaseModel):
        id: UUID = Field(description="centre")
        tier: Literal["hub", "spoke", "district"] = Field(description="tier")

    assert changed(centre=(WiderCentre, Field(description="centre"))) == [
        "$.centre.tier: enum changed from ['hub', 'spoke'] to ['hub', 'spoke', 'district']"]
