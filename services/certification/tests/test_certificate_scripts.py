"""The PDF draws a name in the script of any of India's scheduled languages, embedding only the fonts it
draws with; a character no font of it draws is never left out without a word: no PDF is made."""

import subprocess
import unicodedata
from datetime import date

import pytest

from certification import page, pdf
from certification_samples import tool

pytestmark = pytest.mark.unit

# A name in each script, and the font the PDF draws it with (as pdffonts names it).
NAMES = {
    "Devanagari": ("क्षितिज द्विवेदी", "NotoSansDevanagari"),
    "Bengali": ("সুমিতা বন্দ্যোপাধ্যায়", "NotoSansBengali"),
    "Assamese": ("ৰঞ্জিত শৰ্মা", "NotoSansBengali"),
    "Gurmukhi": ("ਹਰਜੀਤ ਸਿੰਘ", "NotoSansGurmukhi"),
    "Gujarati": ("ભાવિન પટેલ", "NotoSansGujarati"),
    "Odia": ("ପ୍ରିୟଙ୍କା ମହାପାତ୍ର", "NotoSansOriya"),
    "Tamil": ("தமிழ்செல்வி", "NotoSansTamil"),
    "Telugu": ("శ్రీనివాస్ రెడ్డి", "NotoSansTelugu"),
    "Kannada": ("ಲಕ್ಷ್ಮೀ ನಾರಾಯಣ", "NotoSansKannada"),
    "Malayalam": ("ശ്രീലക്ഷ്മി", "NotoSansMalayalam"),
    "Ol Chiki": ("ᱵᱤᱨᱥᱟ ᱢᱩᱨᱢᱩ", "NotoSansOlChiki"),
    "Meetei Mayek": ("ꯊꯣꯏꯕꯤ ꯗꯦꯕꯤ", "NotoSansMeeteiMayek"),
    "Urdu": ("نصرت فاطمہ", "NotoNaskhArabic"),
    "Sindhi": ("ڪاشف ٻگھيو", "NotoNaskhArabic"),
    "Kashmiri": ("ژٲنۍ بٹ", "NotoNaskhArabic"),
}


def _render(name: str = "Harjeet Singh", **changes) -> bytes:
    return pdf.render(**{"name": name, "course": "Ethics in Governance", "competencies": ["Integrity"],
                         "centre": "District Training Centre, Rewari", "issued_on": date(2026, 12, 3),
                         "issuer": "Haryana Institute of Public Administration", "signatory": "Director General, HIPA",
                         "verify_url": "https://verify.hr.gov.in/verify/0b0b", "certificate_id": "0b0b", **changes})


def _read(content: bytes, tmp_path, command: str = "pdftotext") -> str:
    (tmp_path / "c.pdf").write_bytes(content)
    return subprocess.run([tool(command), str(tmp_path / "c.pdf"), *(["-"] if command == "pdftotext" else [])],
                          capture_output=True, text=True, check=True).stdout


def _letters(text: str) -> str:
    """`text` without spaces and direction marks: extraction puts spaces between shaped clusters (and marks
    around right-to-left text); the letters and their order must all be there."""
    return "".join(c for c in text if not c.isspace() and unicodedata.category(c) != "Cf")


@pytest.mark.parametrize(("name", "font"), NAMES.values(), ids=NAMES.keys())
def test_a_name_in_the_script_of_a_scheduled_language_is_printed_in_its_own_font(name, font, tmp_path):
    content = _render(name)

    text = _read(content, tmp_path)
    assert _letters(f"This certifies that {name} has completed the course") in _letters(text)
    assert f"MPDFAA+{font}Bold" in _read(content, tmp_path, "pdffonts")


def test_a_name_in_two_scripts_keeps_every_letter_of_both(tmp_path):
    text = _read(_render("தமிழ்செல்வி Tamilselvi"), tmp_path)

    assert "Tamilselvi" in text and _letters("தமிழ்செல்வி") in _letters(text)


def test_a_latin_certificate_embeds_only_the_latin_fonts_and_the_heading_s_devanagari(tmp_path):
    content = _render()

    assert content.count(b"/FontFile2") == 3  # NotoSans, NotoSans Bold and the Bold Devanagari of प्रमाणपत्र
    assert len(content) < 30_000


def test_the_date_is_the_day_as_the_e_mail_the_sms_and_the_page_write_it(tmp_path):
    assert "at District Training Centre, Rewari, on 03-12-2026" in _read(_render(), tmp_path)


def test_characters_no_font_draws_are_named_once_each_in_order():
    assert pdf.unprintable("王秀英 Wang", "Ethics", "王 සුනිල්") == "王秀英සුනිල්"
    assert pdf.Unprintable("王秀英සුනිල්").scripts == "HAN, SINHALA"
    assert pdf.unprintable(*(name for name, _ in NAMES.values()), "क्\u200dष", "O'Brien") == ""


def _texts(**changes) -> dict:
    return {"name": "Harjeet Singh", "course": "Ethics in Governance", "competencies": ["Integrity"],
            "centre": "District Training Centre, Rewari", "issuer": "Haryana Institute of Public Administration",
            "signatory": "Director General, HIPA", **changes}


@pytest.mark.parametrize("name", [*(name for name, _ in NAMES.values()), "O'Brien", "तमिलसेल्वी Tamilselvi"])
def test_a_certificate_in_any_script_the_pdf_draws_is_not_refused_without_rendering(name):
    assert pdf.refusal(**_texts(name=name)) is None


@pytest.mark.parametrize("text", ["name", "course", "centre", "competencies", "issuer", "signatory"])
def test_the_refusal_asked_without_rendering_names_the_characters_the_pdf_refuses(text):
    unprintable = {"name": "王秀英", "course": "Ethics 王", "centre": "王 Centre", "competencies": ["Integrity", "王"],
                   "issuer": "王 Institute", "signatory": "王"}[text]
    refused = pdf.refusal(**_texts(**{text: unprintable}))
    with pytest.raises(pdf.Unprintable) as rendering:
        _render(**{text: unprintable})
    assert refused.characters == rendering.value.characters == ("王秀英" if text == "name" else "王")


@pytest.mark.parametrize("text", ["name", "course", "centre", "competencies", "signatory"])
def test_a_certificate_with_a_character_no_font_draws_is_not_made_rather_than_printed_without_it(text):
    unprintable = {"name": "王秀英", "course": "Ethics 王", "centre": "王 Centre", "competencies": ["Integrity", "王"],
                   "signatory": "王"}[text]
    with pytest.raises(pdf.Unprintable) as refused:
        _render(**{text: unprintable})
    assert refused.value.characters == ("王秀英" if text == "name" else "王")
    assert str(refused.value).startswith("王 (U+738B)") and refused.value.scripts == "HAN"


def test_the_hindi_texts_write_certificate_as_one_word_as_the_notifications_do():
    texts = [*page.TEXT["hi"].values(), pdf.HEADING]
    assert not [text for text in texts if "प्रमाण पत्र" in text]
    assert "प्रमाणपत्र" in pdf.HEADING and "प्रमाणपत्र संख्या" == page.TEXT["hi"]["number"]
