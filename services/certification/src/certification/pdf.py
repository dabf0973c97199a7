"""The certificate as a PDF: A4 landscape, the employee's name shaped in its own script (HarfBuzz through
fpdf2, embedded Noto fonts), and a QR code that opens the verification page. Rendered on demand, never
at issue time."""

import io
from datetime import date
from pathlib import Path

import qrcode
from fpdf import FPDF

FONTS = Path("/usr/share/fonts/truetype/noto")
_FAMILIES = {  # family: (regular, bold)
    "NotoSans": ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf"),
    "NotoDeva": ("NotoSansDevanagari-Regular.ttf", "NotoSansDevanagari-Bold.ttf"),
    "NotoGuru": ("NotoSansGurmukhi-Regular.ttf", "NotoSansGurmukhi-Regular.ttf"),
}


def render(*, name: str, course: str, competencies: list[str], centre: str | None, issued_on: date,
           issuer: str, signatory: str, verify_url: str, certificate_id: str) -> bytes:
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(False)
    for family, (regular, bold) in _FAMILIES.items():
        pdf.add_font(family, "", str(FONTS / regular))
        pdf.add_font(family, "B", str(FONTS / bold))
    pdf.set_fallback_fonts(["NotoDeva", "NotoGuru"])
    pdf.set_text_shaping(True)  # HarfBuzz: Devanagari conjuncts and matras as a reader expects
    pdf.add_page()

    pdf.set_draw_color(30, 64, 120)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, 277, 190)
    pdf.set_text_color(30, 64, 120)
    _line(pdf, issuer, "NotoSans", "B", 14, 22)
    _line(pdf, "Certificate of Completion  ·  प्रमाण पत्र", "NotoSans", "B", 26, 38)
    pdf.set_text_color(20, 20, 20)
    _line(pdf, "This certifies that", "NotoSans", "", 13, 58)
    _line(pdf, name, "NotoSans", "B", 30, 68)
    _line(pdf, "has completed the course", "NotoSans", "", 13, 88)
    _line(pdf, course, "NotoSans", "B", 18, 97)
    if competencies:
        _line(pdf, "Competencies: " + ", ".join(competencies), "NotoSans", "", 11, 112)
    where = f"at {centre}, " if centre else ""
    _line(pdf, f"{where}on {issued_on:%d %B %Y}", "NotoSans", "", 12, 122)

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


def _line(pdf: FPDF, text: str, family: str, style: str, size: int, y: float) -> None:
    pdf.set_font(family, style, size)
    pdf.set_xy(20, y)
    pdf.cell(257, size * 0.5, text, align="C")


def _qr(url: str) -> io.BytesIO:
    image = qrcode.make(url, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    buffer.seek(0)
    return buffer
