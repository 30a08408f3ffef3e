"""Files people open: xlsx (openpyxl) for analysts, DOCX (python-docx) for the administration's
tjänsteskrivelse. Both render the report's one layout (crawler.report.document): the same tables,
numbers and words as the Markdown and HTML, the chart as a PNG (crawler.report.chart, Agg).
"""

from __future__ import annotations

import io
import re
from typing import Any

from crawler import sanitize
from crawler.report import chart
from crawler.report.document import Link, Signed, Table, layout
from crawler.report.model import Report


def _plain(value: Any) -> Any:
    """A cell's value for a document: text without control or bidi characters (crawler.sanitize)."""
    if isinstance(value, Link):
        value = value.text
    if isinstance(value, str):
        return sanitize.text(value)
    return value


def _cell(value: Any) -> Any:
    """A cell's value for a workbook: as _plain, and never a formula (openpyxl writes text starting
    with = as one), whichever sheet or row the text lands in."""
    return sanitize.cell(_plain(value))


# --------------------------------------------------------------------------- xlsx


def render_xlsx(report: Report, lang: str = "en") -> bytes:
    """A workbook: one sheet per table of the report (figures first), the definitions, and the chart."""
    from openpyxl import Workbook
    from openpyxl.drawing.image import Image
    from openpyxl.styles import Alignment, Font

    doc = layout(report, lang)
    wb = Workbook()
    first = wb.active
    wb.remove(first)
    used: dict[str, int] = {}
    for section in doc.sections:
        tables = [b for b in section.blocks if isinstance(b, Table)]
        if not tables and section.name != "definitions":
            continue
        title = _sheet_title(section.short or section.title, used)
        ws = wb.create_sheet(title)
        row = 1
        ws.cell(row, 1, _cell(section.title)).font = Font(bold=True, size=12)
        row += 2
        for n, block in enumerate(section.blocks):
            if isinstance(block, Table):
                for col, h in enumerate(block.header, 1):
                    ws.cell(row, col, _cell(h)).font = Font(bold=True)
                row += 1
                for r, values in enumerate(block.rows):
                    for col, v in enumerate(values, 1):
                        cell = ws.cell(row, col, int(v) if isinstance(v, Signed) else _cell(v))
                        if isinstance(v, Signed):
                            cell.number_format = "+0;-0;0"
                        if isinstance(v, Link) and sanitize.href(v.url):
                            cell.hyperlink = sanitize.href(v.url)
                        if col == 1 and r in block.sub:
                            cell.alignment = Alignment(indent=2)
                    row += 1
                row += 1
            elif isinstance(block, tuple) and block[0] == "dl":
                for term, text in block[1]:
                    ws.cell(row, 1, _cell(term)).font = Font(bold=True)
                    ws.cell(row, 2, _cell(text)).alignment = Alignment(wrap_text=True, vertical="top")
                    row += 1
            elif isinstance(block, str) and block != "chart" and n + 1 < len(section.blocks) \
                    and isinstance(section.blocks[n + 1], Table):
                ws.cell(row, 1, _cell(block)).font = Font(bold=True)
                row += 1
        for col in ws.columns:
            width = max((len(str(c.value)) for c in col if c.value is not None and c.row > 2), default=8)
            ws.column_dimensions[col[0].column_letter].width = min(max(width + 2, 10), 60)
        if section.name == "definitions":
            ws.column_dimensions["B"].width = 100
    ws = wb.create_sheet(_sheet_title(doc.words._("Chart"), used))
    image = Image(io.BytesIO(chart.png(report, lang, dpi=110)))
    ws.add_image(image, "A1")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _sheet_title(title: str, used: dict[str, int]) -> str:
    """An Excel sheet name: at most 31 characters, none of []:*?/\\, unique."""
    name = re.sub(r"[\[\]:*?/\\]", "", _plain(title))[:28].strip() or "Sheet"
    used[name] = used.get(name, 0) + 1
    return name if used[name] == 1 else f"{name} {used[name]}"


# --------------------------------------------------------------------------- DOCX


def render_docx(report: Report, lang: str = "en") -> bytes:
    """A Word document to paste into a tjänsteskrivelse: headings, the tables, the chart, the definitions.
    A4; sections with wide tables (the series, the changed accounts) on landscape pages."""
    from docx import Document as Docx
    from docx.enum.section import WD_ORIENT, WD_SECTION
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm, Pt

    doc = layout(report, lang)
    d = Docx()
    sec = d.sections[0]
    sec.orientation = WD_ORIENT.PORTRAIT
    sec.page_width, sec.page_height = Mm(210), Mm(297)  # A4
    sec.left_margin = sec.right_margin = Mm(20)
    d.styles["Normal"].font.name = "Calibri"
    d.styles["Normal"].font.size = Pt(10)
    d.core_properties.title = doc.title
    d.core_properties.language = lang
    d.add_heading(_plain(doc.title), level=0)
    for line in doc.intro:
        d.add_paragraph(_plain(line), style="List Bullet")
    landscape = False
    for section in doc.sections:
        wide = section.wide
        if wide != landscape:
            page = d.add_section(WD_SECTION.NEW_PAGE)
            page.orientation = WD_ORIENT.LANDSCAPE if wide else WD_ORIENT.PORTRAIT
            page.page_width, page.page_height = (Mm(297), Mm(210)) if wide else (Mm(210), Mm(297))
            landscape = wide
        width = 257 if landscape else 170  # mm between the margins
        d.add_heading(_plain(section.title), level=1)
        for n, block in enumerate(section.blocks):
            if isinstance(block, Table):
                _docx_table(d, block, Pt, WD_ALIGN_PARAGRAPH, width)
            elif block == "chart":
                d.add_picture(io.BytesIO(chart.png(report, lang)), width=Mm(min(width, 200)))
            elif isinstance(block, tuple) and block[0] == "dl":
                for term, text in block[1]:
                    p = d.add_paragraph()
                    p.add_run(_plain(term) + ": ").bold = True
                    p.add_run(_plain(text))
            elif section.name in ("guideline", "notices") and n + 1 < len(section.blocks) \
                    and isinstance(section.blocks[n + 1], Table):
                d.add_heading(_plain(block), level=2)
            else:
                d.add_paragraph(_plain(block))
    d.add_paragraph(_plain(doc.footer)).runs[0].italic = True
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _docx_table(d, t: Table, Pt, align, width_mm: float = 170) -> None:
    """A table on the page's width: the layout's relative column widths, the header repeated on every
    page, rows kept whole."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm

    table = d.add_table(rows=1, cols=len(t.header))
    table.style = "Table Grid"
    table.autofit = not t.widths
    widths = [Mm(width_mm * w / sum(t.widths)) for w in t.widths] if t.widths else []
    for i, h in enumerate(t.header):
        cell = table.rows[0].cells[i]
        cell.text = _plain(h)
        cell.paragraphs[0].runs[0].bold = True
    for r, values in enumerate(t.rows):
        cells = table.add_row().cells
        for i, v in enumerate(values):
            text = str(_plain(v))
            cells[i].text = ("    " + text) if (i == 0 and r in t.sub) else text
            if i in t.numeric:
                cells[i].paragraphs[0].alignment = align.RIGHT
    for i, column in enumerate(table.columns):  # the grid (LibreOffice reads it), and each cell (Word does)
        if widths:
            column.width = widths[i]
    for n, row in enumerate(table.rows):
        properties = row._tr.get_or_add_trPr()
        for flag in (("w:tblHeader",) if n == 0 else ()) + ("w:cantSplit",):
            element = OxmlElement(flag)
            element.set(qn("w:val"), "true")
            properties.append(element)
        for i, cell in enumerate(row.cells):
            if widths:
                cell.width = widths[i]
            for p in cell.paragraphs:
                if n == 0 and i in t.numeric:
                    p.alignment = align.RIGHT
                for run in p.runs:
                    run.font.size = Pt(7.5 if n == 0 else 8.5)
                    if n - 1 in t.marked:  # a start-up crawl, set apart as in the HTML
                        run.italic = True
    d.add_paragraph()
