"""A document (domain.documents.Document) printed as an A4 PDF with reportlab, its Chinese
set in WenQuanYi Micro Hei (文泉驿微米黑, TrueType outlines, Apache License 2.0 as the
font's own name table says), embedded as a subset.

The font comes from the PyPI package paperang-p2-fonts-cjk (a wheel holding only the
font): reportlab embeds TrueType (glyf) outlines only, and the Noto/Source Han CJK fonts
on PyPI are CFF-based OpenType it cannot load.

Rendering is deterministic, so a document issued once can be made again byte for byte
instead of being stored (its bytes would be personal data at rest, outside the sealed
store): reportlab's invariant mode (fixed document id, no comments) with the creation
and modification dates set to the time of the event that backs the document.
"""
from __future__ import annotations

import hashlib
import io
import time
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources

from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer
from xml.sax.saxutils import escape

from ..domain.documents import Document

FONT = "WenQuanYiMicroHei"
FONT_PACKAGE, FONT_FILE = "paperang_p2_fonts_cjk", "fonts/wqy-microhei.ttc"
MEDIA_TYPE = "application/pdf"


@lru_cache(maxsize=1)
def font() -> str:
    """Register the CJK font once per process (parsing the 5 MB collection takes ~0.3 s)."""
    path = resources.files(FONT_PACKAGE).joinpath(FONT_FILE)
    with resources.as_file(path) as file:
        pdfmetrics.registerFont(TTFont(FONT, str(file), subfontIndex=0))
    return FONT


def _styles():
    name = font()
    body = ParagraphStyle("body", fontName=name, fontSize=12, leading=21,
                          wordWrap="CJK", firstLineIndent=24, alignment=TA_LEFT,
                          spaceAfter=4)
    return {
        "title": ParagraphStyle("title", fontName=name, fontSize=20, leading=30,
                                alignment=TA_CENTER, spaceAfter=6),
        "issuer": ParagraphStyle("issuer", fontName=name, fontSize=13, leading=20,
                                 alignment=TA_CENTER),
        "number": ParagraphStyle("number", fontName=name, fontSize=10.5, leading=16,
                                 alignment=TA_RIGHT, spaceAfter=10),
        "body": body,
        "flush": ParagraphStyle("flush", parent=body, firstLineIndent=0),
        "sign": ParagraphStyle("sign", parent=body, firstLineIndent=0, leading=30,
                               leftIndent=200),
        "date": ParagraphStyle("date", parent=body, firstLineIndent=0, alignment=TA_RIGHT,
                               spaceBefore=12),
    }


def _stamped_canvas(moment: datetime):
    """A canvas whose document dates are `moment` (UTC), not the clock's."""
    moment = moment.astimezone(timezone.utc)

    class StampedCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            kwargs["invariant"] = 1
            kwargs["initialFontName"] = font()  # no unused, unembedded Helvetica
            super().__init__(*args, **kwargs)
            stamp = self._doc._timeStamp
            stamp.t = moment.timestamp()
            stamp.lt = time.gmtime(stamp.t)
            stamp.YMDhms = tuple(stamp.lt)[:6]
            stamp.dhh = stamp.dmm = 0
            stamp.tzname = "UTC"

    return StampedCanvas


def render(doc: Document) -> bytes:
    """The document as PDF bytes: the same bytes for the same document, every time."""
    styles = _styles()
    out = io.BytesIO()
    template = SimpleDocTemplate(
        out, pagesize=A4, leftMargin=28 * mm, rightMargin=26 * mm, topMargin=30 * mm,
        bottomMargin=25 * mm, title=doc.title, author=doc.issuer, subject=doc.number,
        creator="Grand Mediation Linkage (gm-mediation)", producer="ReportLab",
        invariant=1)

    def para(text: str, style: str) -> Paragraph:
        return Paragraph(escape(text).replace("\n", "<br/>"), styles[style])

    story = [para(doc.issuer, "issuer"), para(doc.title, "title"),
             para(f"编号：{doc.number}", "number")]
    if doc.addressee:
        story.append(para(doc.addressee, "flush"))
    story += [para(text, "body") for text in doc.paragraphs]
    if doc.closing:
        story.append(Spacer(1, 6))
        story.append(para(doc.closing[0], "body"))
        story += [para(line, "flush") for line in doc.closing[1:]]
    story.append(Spacer(1, 18))
    story += [para(line, "sign") for line in doc.signatures]
    if doc.dated:
        story.append(para(doc.dated, "date"))
    template.build(story, canvasmaker=_stamped_canvas(doc.drawn_up_at))
    return out.getvalue()


def digest(pdf: bytes) -> str:
    return hashlib.sha256(pdf).hexdigest()
