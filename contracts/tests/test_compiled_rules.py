"""Pattern rules run in pydantic-core's regex engine, yet accept exactly what Python's `re` accepts."""

import re
from typing import Annotated

import pytest
from pydantic import TypeAdapter, ValidationError

from karmayogi_contracts import attributes, fields
from karmayogi_contracts.fields import PatternRule

pytestmark = pytest.mark.unit

# Every pattern rule, with a value it accepts and its length limit.
RULES = [
    (attributes.SOURCE_PATTERN, "/services/enrolment", None),
    (attributes.TOKEN_PATTERN, "a b", None),
    (attributes.TRACEPARENT_PATTERN, f"00-{'a1' * 16}-{'b2' * 8}-01", None),
    (fields.STATE_CODE_PATTERN, "IN-HR", 5),
    (fields.EMPLOYEE_ID_PATTERN, "A9._-z", 64),
    (fields.LANGUAGE_TAG_PATTERN, "sa-Deva-IN", 16),
    (fields.E164_PATTERN, "+919812345678", 16),
    (fields.SLUG_PATTERN, "a-9", 64),
    (fields.HTTPS_URL_PATTERN, "https://h.in/v?a=1#x", 2000),
    (fields.HTTPS_URL_PATTERN, "http://127.0.0.1:8080/v", 2000),
]
# Where regex engines disagree: ASCII and Latin-1, every character either engine calls a space, the
# surrogates, the byte-order mark, and a sample of the rest of Unicode.
CODE_POINTS = sorted(
    {*range(0x300), *range(0x2000, 0x2070), 0xD7FF, 0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xE000, 0xFEFF, 0xFFFD,
     *range(0x300, 0x110000, 997)}
    | {c for c in range(0x110000) if chr(c).isspace()}
)


def accepted(adapter: TypeAdapter, value: str) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError as error:
        assert [e["type"] for e in error.errors()] == ["pattern_mismatch"]
        return False
    return True


@pytest.mark.parametrize(("pattern", "example", "max_length"), RULES)
def test_the_compiled_rule_accepts_what_python_re_accepts_at_every_position(pattern, example, max_length):
    adapter = TypeAdapter(Annotated[str, PatternRule(pattern, "the rule", max_length)])
    python = re.compile(pattern)
    assert accepted(adapter, example)
    disagreements = []
    for position in range(len(example)):
        for code_point in CODE_POINTS:
            value = example[:position] + chr(code_point) + example[position + 1:]
            if accepted(adapter, value) != bool(python.fullmatch(value)):
                disagreements.append((position, hex(code_point)))
    assert disagreements == []


@pytest.mark.parametrize(("pattern", "example", "max_length"), [r for r in RULES if r[2]])
def test_the_length_limit_is_part_of_the_rule(pattern, example, max_length):
    adapter = TypeAdapter(Annotated[str, PatternRule(pattern, "the rule", max_length)])
    filler = example[-1]
    longest = example + filler * (max_length - len(example))
    assert accepted(adapter, longest) == bool(re.fullmatch(pattern, longest))
    assert not accepted(adapter, longest + filler)


def test_a_broken_rule_is_our_sentence_and_a_non_string_is_pydantics():
    adapter = TypeAdapter(Annotated[str, PatternRule(fields.STATE_CODE_PATTERN, "must be a state code", 5)])
    with pytest.raises(ValidationError) as broken:
        adapter.validate_python("Haryana")
    assert broken.value.errors(include_url=False) == [
        {"type": "pattern_mismatch", "loc": (), "msg": "must be a state code", "input": "Haryana"}
    ]
    with pytest.raises(ValidationError) as not_text:
        adapter.validate_python(5)
    assert not_text.value.errors()[0]["type"] == "string_type"
