"""The certificate's text stays on the page: a long name or course title is set smaller, then wrapped,
never cut off at the page edges (the contract allows names of 200 and titles of 300 characters)."""

import subprocess
from datetime import date

import pytest

from certification import pdf
from certification_samples import tool

pytestmark = pytest.mark.unit

LONG_NAME = " ".join(["Venkata", "Satyanarayana", "Lakshminarasimha", "Raghavendra", "Subrahmanyam", "Chakravarthy",
                      "Mallikarjuna"] * 6)[:200].strip()
LONG_TITLE = " ".join(["Advanced", "Certificate", "Programme", "in", "Public", "Financial", "Management", "and",
                       "Governance", "for", "District", "Administration", "Officers"] * 5)[:300].strip()
CENTRE = "District Training Centre, Rewari"
ISSUER = "Haryana Institute of Public Administration, on behalf of the Government of Haryana"


def _layout(name: str, course: str, competencies=("Integrity", "Citizen centricity")) -> list[pdf.Line]:
    return pdf.layout(pdf.document(), issuer=ISSUER, name=name, course=course, competencies=list(competencies),
                      centre=CENTRE, issued_on=date(2026, 11, 21))


def _widths(lines: list[pdf.Line]) -> list[float]:
    measure = pdf.document()
    widths = []
    for line in lines:
        measure.set_font("NotoSans", line.style, line.size)
        widths.append(measure.get_string_width(line.text))
    return widths


def _printed(lines: list[pdf.Line], text: str) -> str:
    """The lines that hold parts of `text`, joined again."""
    return " ".join(line.text for line in lines if line.text in text)


def test_a_200_character_name_and_a_300_character_title_are_wrapped_within_the_page():
    lines = _layout(LONG_NAME, LONG_TITLE)

    assert max(_widths(lines)) <= pdf.WIDTH
    assert _printed(lines, LONG_NAME) == LONG_NAME and _printed(lines, LONG_TITLE) == LONG_TITLE
    assert len([line for line in lines if line.text in LONG_NAME]) > 1
    tops = [line.y for line in lines]
    assert tops == sorted(tops) and len(set(tops)) == len(tops)  # one below the other, none on top of another


def test_a_name_slightly_too_wide_for_its_size_is_set_smaller_on_one_line():
    name = "Venkata Satyanarayana Lakshminarasimha Murthy"  # 272 mm wide at 30 points: past both edges
    lines = _layout(name, "Ethics in Governance")

    [printed] = [line for line in lines if line.text == name]
    assert 16 <= printed.size < 30
    assert max(_widths(lines)) <= pdf.WIDTH


def test_fifty_competencies_take_at_most_two_lines_ending_in_an_ellipsis():
    competencies = [f"Competency {n} in citizen-centric public service delivery" for n in range(50)]
    lines = _layout("Harjeet Singh", "Ethics in Governance", competencies)

    listed = "Competencies: " + ", ".join(competencies)
    printed = [line for line in lines if line.text.removesuffix(" …") in listed]
    assert len(printed) == 2 and printed[-1].text.endswith("…")
    assert max(_widths(lines)) <= pdf.WIDTH


def test_the_pdf_of_the_longest_name_and_title_renders_with_every_word(tmp_path):
    content = pdf.render(name=LONG_NAME, course=LONG_TITLE, competencies=["Integrity"], centre=CENTRE,
                         issued_on=date(2026, 11, 21), issuer=ISSUER, signatory="Director General, HIPA",
                         verify_url="https://verify.hr.gov.in/verify/0b0b", certificate_id="0b0b")
    assert content.startswith(b"%PDF")
    (tmp_path / "c.pdf").write_bytes(content)
    text = subprocess.run([tool("pdftotext"), str(tmp_path / "c.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert " ".join(text.split()).count(" ".join(LONG_NAME.split())) == 1
