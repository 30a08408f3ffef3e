"""`crawler export`: the current inventory, one row per registered account, as CSV or JSON.

Also the spreadsheet-safe CSV writer that the report's CSV uses: UTF-8 with a BOM (so Excel reads
å, ä, ö), and text that a spreadsheet would run as a formula quoted with '.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from crawler.clock import local_iso
from crawler.errors import CrawlerError
from crawler.store import Store

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
    return [{"id": a.id, "unit": a.unit, "area": a.area, "platform": a.platform, "url": a.url, "status": a.status,
             "status_since": local_iso(a.status_since), "last_post_at": local_iso(a.last_post_at),
             "last_post_estimated": a.last_post_estimated, "post_count": a.post_count,
             "last_checked_at": local_iso(a.last_checked_at), "announced_move": a.announced_move, "reason": a.status_reason}
            for a in store.current_inventory()]


def render_export(rows: list[dict[str, Any]], fmt: str = "csv", excel: bool = False) -> str:
    """CSV (UTF-8 with BOM; ';' separators with `excel`, as Swedish Excel expects) or JSON."""
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    if fmt != "csv":
        raise CrawlerError(f"unknown export format {fmt!r}; use csv or json")
    shown = [{**r, "last_post_estimated": int(r["last_post_estimated"]), "announced_move": int(r["announced_move"])}
             for r in rows]
    return csv_text(EXPORT_COLUMNS, shown, delimiter=";" if excel else ",")


def export(store: Store, fmt: str = "csv", excel: bool = False) -> str:
    """The text `crawler export` writes."""
    return render_export(export_rows(store), fmt, excel=excel)
