"""`crawler export`: the current inventory, one row per registered account, as CSV or JSON.

Also the spreadsheet-safe CSV writer that the report's CSV uses: UTF-8 with a BOM (so Excel reads
å, ä, ö), and text that a spreadsheet would run as a formula quoted with '.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from crawler.clock import local_iso
from crawler.errors import CrawlerError
from crawler.store import Store
from crawler.store.records import AccountRecord

EXPORT_COLUMNS = ("id", "unit", "area", "platform", "url", "status", "status_since", "last_post_at",
                  "last_post_estimated", "post_count", "last_checked_at", "announced_move", "reason")


def spreadsheet_cell(value: Any) -> Any:
    """A spreadsheet cell: text that a spreadsheet would run as a formula is quoted with '."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_text(header: tuple[str, ...], rows: list[dict[str, Any]], delimiter: str = ",") -> str:
    """Rows as CSV for spreadsheets: the columns of `header`, formulas neutralised, a UTF-8 BOM."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, delimiter=delimiter, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: spreadsheet_cell("" if v is None else v) for k, v in row.items()})
    # The BOM makes Excel read the file as UTF-8 (å, ä, ö); other readers skip it.
    return "\ufeff" + buf.getvalue()


def export_rows(store: Store) -> list[dict[str, Any]]:
    """The current inventory, one row per registered account (view current_inventory)."""
    return rows_of(store.current_inventory())


def rows_of(accounts: Iterable[AccountRecord]) -> list[dict[str, Any]]:
    """Export rows of account records (times in the inventory's local time, with their offset)."""
    return [{"id": a.id, "unit": a.unit, "area": a.area, "platform": a.platform, "url": a.url, "status": a.status,
             "status_since": local_iso(a.status_since), "last_post_at": local_iso(a.last_post_at),
             "last_post_estimated": a.last_post_estimated, "post_count": a.post_count,
             "last_checked_at": local_iso(a.last_checked_at), "announced_move": a.announced_move, "reason": a.status_reason}
            for a in accounts]


def render_export(rows: list[dict[str, Any]], fmt: str = "csv", excel: bool = False) -> str:
    """CSV (UTF-8 with BOM; ';' separators with `excel`, as Swedish Excel expects) or JSON."""
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    if fmt != "csv":
        raise CrawlerError(f"unknown export format {fmt!r}; use csv or json")
    shown = [{**r, "last_post_estimated": int(r["last_post_estimated"]), "announced_move": int(r["announced_move"])}
             for r in rows]
    return csv_text(EXPORT_COLUMNS, shown, delimiter=";" if excel else ",")


def render_xlsx(rows: list[dict[str, Any]]) -> bytes:
    """The rows as a workbook (one sheet, the CSV's columns; text a spreadsheet would run is quoted)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    sheet = wb.active
    sheet.title = "inventory"
    sheet.append(list(EXPORT_COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([spreadsheet_cell(_xlsx_value(row.get(c))) for c in EXPORT_COLUMNS])
    sheet.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        return "".join(ch for ch in value if ch >= " " or ch in "\t\n")  # XML forbids control characters
    return value


def export(store: Store, fmt: str = "csv", excel: bool = False) -> str:
    """The text `crawler export` writes."""
    return render_export(export_rows(store), fmt, excel=excel)
