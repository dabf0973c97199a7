"""What an SMS can hold: segments in the encoding it is sent in, shortening at letter boundaries, fitting."""

import unicodedata

import pytest

from notifications.sms import fit, shorten, single_stops, sms_segments, starts_letter

pytestmark = pytest.mark.unit

NUKTA, VIRAMA = "\u093c", "\u094d"


def test_sms_segments_count_gsm7_septets_and_unicode_code_units():
    assert sms_segments("a" * 160) == 1 and sms_segments("a" * 161) == 2
    assert sms_segments("€" * 80) == 1 and sms_segments("€" * 81) == 2  # extension characters take two septets
    assert sms_segments("क" * 70) == 1 and sms_segments("क" * 71) == 2 and sms_segments("क" * 135) == 3
    # One Devanagari letter makes an English text Unicode: 153 characters a part become 67.
    assert sms_segments("a" * 300) == 2 and sms_segments("a" * 299 + "क") == 5


def test_shortening_keeps_a_nukta_with_its_letter():
    # NFC writes फ़ as फ + nukta: cutting between them would make it another letter (फ).
    assert shorten("कारण: फ़ाइल क़ानूनी ज़मीन", 10) == "कारण..."
    assert shorten("फ़ाइल क़ानूनी", 6) == "फ़ा..."  # फ़ा is फ, nukta and the vowel sign ा: one letter
    assert shorten("फ़ाइल क़ानूनी", 5) == "..."  # rather than half of it


@pytest.mark.parametrize("text", [
    "कारण: फ़ाइल क़ानूनी ज़मीन का विवाद",
    "क्षेत्रीय प्रशिक्षण संस्थान, मुज़फ़्फ़रपुर",  # conjuncts joined by a virama: क्ष, त्र, प्र, स्थ, फ़्फ़
    "Café Ñandú: formação prática em governança",  # a letter and its combining accent (NFD)
])
def test_shortening_never_cuts_inside_a_letter(text):
    for source in (text, unicodedata.normalize("NFD", text)):
        for width in range(4, len(source)):
            short = shorten(source, width)
            kept = short.removesuffix("...")
            assert short.endswith("...") and len(short) <= width, (width, short)
            assert source.startswith(kept) and (not kept or starts_letter(source, len(kept))), (width, short)
            assert not kept.endswith(VIRAMA) and not kept.endswith(NUKTA)


def test_shortening_cuts_at_a_word_s_end_when_one_is_near_and_leaves_no_comma_before_the_dots():
    assert shorten("Digital Land Records (Bhu-Naksha)", 20) == "Digital Land..."
    assert shorten("District Training Centre, Muzaffarpur", 28) == "District Training Centre..."
    assert shorten("Ethics and Integrity in Governance", 20) == "Ethics and..."
    assert shorten("Supercalifragilistic", 10) == "Superca..."  # no word's end near: cut inside the word
    assert shorten("Digital Land Records", 20) == "Digital Land Records"  # fits: unchanged


def test_a_sentence_ended_by_the_text_gets_no_second_stop():
    assert single_stops("you have completed Ethics in District.... Your certificate") == \
        "you have completed Ethics in District... Your certificate"
    assert single_stops("you have completed Ethics in District.. Your") == "you have completed Ethics in District. Your"
    assert single_stops("completed What is RTI?. Your") == "completed What is RTI? Your"
    unchanged = "Reason: wait... then see https://certificates.hry.gov.in/verify/1. Done."
    assert single_stops(unchanged) == unchanged


def test_fitting_takes_the_most_room_that_fits_the_segments():
    def render(room: float) -> str:
        return "a" * round(100 + 200 * room)  # 300 characters with all the room, 100 with none

    assert fit(render, 2) == "a" * 300
    assert fit(render, 1) == "a" * 160  # room 0.3, the most that fits one segment
    assert fit(lambda room: "क" * round(50 + 100 * room), 1) == "क" * 70  # Unicode: 70 a segment
    assert fit(lambda room: "a" * 200, 1) is None  # even its least does not fit
