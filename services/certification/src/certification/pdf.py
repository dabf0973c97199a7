"""The certificate as a PDF: A4 landscape, the employee's name shaped in its own script (HarfBuzz through
fpdf2, embedded Noto fonts), and a QR code that opens the verification page. Rendered on demand, never
at issue time."""

import io
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import NamedTuple

import qrcode
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.unicode_script import get_unicode_script

FONTS = Path("/usr/share/fonts/truetype/noto")  # Debian's fonts-noto-core
LATIN = ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf")  # regular, bold: the certificate's own text
# The scripts of India's scheduled languages, one Noto family each (regular, bold), in the order a character
# several of them have (the danda, say) is looked for. A family is loaded only for a style in which a text
# needs it, so a PDF embeds the subsets of the fonts it draws with and no other.
SCRIPTS = {
    "NotoDeva": ("NotoSansDevanagari-Regular.ttf", "NotoSansDevanagari-Bold.ttf"),  # Hindi, Marathi, Nepali, ...
    "NotoBeng": ("NotoSansBengali-Regular.ttf", "NotoSansBengali-Bold.ttf"),  # Bengali, Assamese
    "NotoGuru": ("NotoSansGurmukhi-Regular.ttf", "NotoSansGurmukhi-Bold.ttf"),  # Punjabi
    "NotoGujr": ("NotoSansGujarati-Regular.ttf", "NotoSansGujarati-Bold.ttf"),
    "NotoOrya": ("NotoSansOriya-Regular.ttf", "NotoSansOriya-Bold.ttf"),  # Odia
    "NotoTaml": ("NotoSansTamil-Regular.ttf", "NotoSansTamil-Bold.ttf"),
    "NotoTelu": ("NotoSansTelugu-Regular.ttf", "NotoSansTelugu-Bold.ttf"),
    "NotoKnda": ("NotoSansKannada-Regular.ttf", "NotoSansKannada-Bold.ttf"),
    "NotoMlym": ("NotoSansMalayalam-Regular.ttf", "NotoSansMalayalam-Bold.ttf"),
    "NotoOlck": ("NotoSansOlChiki-Regular.ttf", "NotoSansOlChiki-Bold.ttf"),  # Santali
    "NotoMtei": ("NotoSansMeeteiMayek-Regular.ttf", "NotoSansMeeteiMayek-Bold.ttf"),  # Manipuri
    "NotoArab": ("NotoNaskhArabic-Regular.ttf", "NotoNaskhArabic-Bold.ttf"),  # Urdu, Kashmiri, Sindhi
}
HEADING = "Certificate of Completion  ·  प्रमाणपत्र"


class Unprintable(ValueError):
    """A text of the certificate holds characters that no embedded font draws: rather than a PDF that leaves
    them out without a word (a name with letters missing), no PDF."""

    def __init__(self, characters: str) -> None:
        super().__init__(", ".join(f"{c} (U+{ord(c):04X})" for c in characters))  # a lone mark is hard to read
        self.characters = characters

    @property
    def scripts(self) -> str:
        """The Unicode scripts of the characters, e.g. "HAN, SINHALA": which fonts are missing, for the log,
        which must not hold a person's name."""
        return ", ".join(sorted({get_unicode_script(c).name for c in self.characters}))


class _Document(FPDF):
    """fpdf2's document, loading a script's font the first time a text needs it in a style (fpdf2 embeds
    every font loaded, used or not, and each one loaded and subset costs some 50 ms)."""

    def get_fallback_font(self, char: str, style: str = "") -> str | None:
        """The font of `char`'s script in `style` (fpdf2 asks for each character NotoSans has not)."""
        family = next((name for name, (regular, _) in SCRIPTS.items() if ord(char) in _drawn_by(regular)), None)
        if family is None:
            return None
        key = family.lower() + style  # fpdf2's name for the font of `family` in `style`
        if key not in self.fonts:
            self.add_font(family, style, str(FONTS / SCRIPTS[family][1 if "B" in style else 0]))
            # fpdf2 keeps the page's own font apart from the fallback fonts it knows of: tell it of this one
            loaded = {loaded_key.rstrip("BI") for loaded_key in self.fonts}
            self.set_fallback_fonts([name for name in SCRIPTS if name.lower() in loaded])
        return key


@cache
def _drawn_by(font: str) -> frozenset[int]:
    """The characters `font` (a file in FONTS) has a glyph for: its cmap, read once."""
    return frozenset(TTFont(FONTS / font, lazy=True).getBestCmap())


def unprintable(*texts: str) -> str:
    """The characters of `texts` that no font of the certificate draws, each once, in order. Spaces and
    format characters (the zero-width joiners) are shaping instructions, not glyphs. (Each script's bold face
    covers what its regular one does.)"""
    fonts = [LATIN[0], *(regular for regular, _ in SCRIPTS.values())]
    missing = dict.fromkeys(c for text in texts for c in text if not c.isspace() and unicodedata.category(c) != "Cf"
                            and not any(ord(c) in _drawn_by(font) for font in fonts))
    return "".join(missing)


def refusal(*, name: str, course: str, competencies: list[str], centre: str | None, issuer: str,
            signatory: str) -> Unprintable | None:
    """Why the certificate with these texts gets no PDF (`Unprintable`: the characters no font of it draws), or
    None when it can be made: what `render` refuses, asked without rendering. Cheap enough for every view of the
    verification page: each character is looked up in the fonts' character tables, read once per process. (The
    PDF's other texts, its day, link and number, are digits and Latin letters.)"""
    missing = unprintable(name, course, *competencies, centre or "", issuer, signatory)
    return Unprintable(missing) if missing else None


WIDTH = 257  # mm between the side margins of A4 landscape: what a line may take
_LEFT = 20
BLUE, BLACK = (30, 64, 120), (20, 20, 20)


@dataclass(frozen=True)
class Line:
    """One centred line of the certificate: its text, style ("" or "B"), size in points, top in mm and colour."""

    text: str
    style: str
    size: float
    y: float
    colour: tuple[int, int, int] = BLACK


class _Text(NamedTuple):
    text: str
    style: str
    size: int
    smallest: int
    top: float  # mm, when every text above fits on one line at its size
    colour: tuple[int, int, int] = BLACK
    most_lines: int | None = None


def render(*, name: str, course: str, competencies: list[str], centre: str | None, issued_on: date,
           issuer: str, signatory: str, verify_url: str, certificate_id: str) -> bytes:
    """The certificate's PDF; `Unprintable` when a text holds a character that no font of it draws."""
    if refused := refusal(name=name, course=course, competencies=competencies, centre=centre, issuer=issuer,
                          signatory=signatory):
        raise refused
    pdf = document()
    pdf.set_draw_color(*BLUE)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, 277, 190)
    lines = layout(pdf, issuer=issuer, name=name, course=course, competencies=competencies, centre=centre,
                   issued_on=issued_on)
    for line in lines:
        pdf.set_text_color(*line.colour)
        pdf.set_font("NotoSans", line.style, line.size)
        pdf.set_xy(_LEFT, line.y)
        pdf.cell(WIDTH, _height(line.size), line.text, align="C")

    pdf.set_text_color(*BLACK)
    pdf.set_font("NotoSans", "", 11)
    pdf.line(30, 172, 110, 172)
    pdf.set_xy(30, 174)
    pdf.cell(80, 6, signatory, align="C")
    pdf.image(_qr(verify_url), x=232, y=142, w=42, h=42)
    pdf.set_font("NotoSans", "", 8)
    pdf.set_xy(150, 186)
    pdf.cell(124, 5, f"Verify: {verify_url}", align="R")
    pdf.set_xy(150, 191)
    pdf.cell(124, 5, f"Certificate {certificate_id}", align="R")
    return bytes(pdf.output())


def document() -> FPDF:
    """An empty A4 landscape page with the Latin fonts loaded (a script's font is loaded when a text needs it):
    where lines are measured and drawn."""
    pdf = _Document(orientation="landscape", format="A4")
    pdf.set_margins(_LEFT, 18, _LEFT)
    pdf.set_auto_page_break(False)
    pdf.add_font("NotoSans", "", str(FONTS / LATIN[0]))
    pdf.add_font("NotoSans", "B", str(FONTS / LATIN[1]))
    # HarfBuzz: conjuncts, vowel signs and joined Arabic letters as a reader expects, right to left where
    # the script runs so
    pdf.set_text_shaping(True)
    pdf.add_page()
    return pdf


def layout(pdf: FPDF, *, issuer: str, name: str, course: str, competencies: list[str], centre: str | None,
           issued_on: date) -> list[Line]:
    """The certificate's text as lines no wider than WIDTH (measured with `pdf`'s fonts). A text too wide
    for its size is set smaller, down to its smallest size; still too wide there, it is wrapped, and what
    follows moves down. A name may have 200 characters and a course title 300 (the contract's limits)."""
    where = f"at {centre}, " if centre else ""
    texts = [
        _Text(issuer, "B", 14, 9, 22, BLUE),
        _Text(HEADING, "B", 26, 26, 38, BLUE),
        _Text("This certifies that", "", 13, 13, 58),
        _Text(name, "B", 30, 16, 68),
        _Text("has completed the course", "", 13, 13, 88),
        _Text(course, "B", 18, 12, 97),
        # fifty competencies would fill the page: two lines at most, the full list is in the credential and
        # on the verification page
        *([_Text("Competencies: " + ", ".join(competencies), "", 11, 9, 112, most_lines=2)] if competencies else []),
        _Text(f"{where}on {issued_on:%d-%m-%Y}", "", 12, 9, 122),  # the day as the e-mail, SMS and page write it
    ]
    lines: list[Line] = []
    moved = 0.0  # how far the wrapped texts so far pushed the rest down
    for text in texts:
        size, rows = _fit(pdf, text.text, text.style, text.size, text.smallest)
        rows = _at_most(pdf, rows, text.most_lines)
        height, slot = _height(size), _height(text.size)
        first = text.top + moved + max(0.0, (slot - height * len(rows)) / 2)  # a smaller single line stays centred
        lines += [Line(row, text.style, size, first + n * height, text.colour) for n, row in enumerate(rows)]
        moved += max(0.0, height * len(rows) - slot)
    return lines


def _fit(pdf: FPDF, text: str, style: str, size: float, smallest: float) -> tuple[float, list[str]]:
    """The largest size from `size` down to `smallest` at which `text` fits on one line; else its lines at `smallest`."""
    for candidate in range(int(size), int(smallest) - 1, -1):
        pdf.set_font("NotoSans", style, candidate)
        if pdf.get_string_width(text) <= WIDTH - 2 * pdf.c_margin:
            return candidate, [text]
    return smallest, pdf.multi_cell(WIDTH, _height(smallest), text, dry_run=True, output="LINES")


def _at_most(pdf: FPDF, rows: list[str], most: int | None) -> list[str]:
    """The first `most` rows, the last one ending in an ellipsis when some were left out (font already set)."""
    if most is None or len(rows) <= most:
        return rows
    last = rows[most - 1]
    while last and pdf.get_string_width(last + " …") > WIDTH - 2 * pdf.c_margin:
        last = last[:-1]
    return [*rows[:most - 1], last.rstrip(" ,") + " …"]


def _height(size: float) -> float:
    return size * 0.5  # mm per line at `size` points: about 1.4 times the font's height


def _qr(url: str) -> io.BytesIO:
    image = qrcode.make(url, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    buffer.seek(0)
    return buffer
