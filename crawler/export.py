"""`crawler export`: the inventory, one row per registered account, as CSV, JSON or xlsx: as it
stands now, or with `as_of` as it stood then (store.inventory_as_of: the status history, the last
post and post count known then, the accounts registered then).

Also the spreadsheet-safe CSV writer that the report's CSV uses: UTF-8 with a BOM (so Excel reads
å, ä, ö), control and bidi characters removed, and text that a spreadsheet would run as a formula
quoted with ' (crawler.sanitize). JSON carries the same text, cleaned the same way.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from crawler import reasons, sanitize
from crawler.clock import local_iso, time_text
from crawler.errors import CrawlerError
from crawler.locale import check_lang
from crawler.store import Store
from crawler.store.records import AccountAsOf, AccountRecord

EXPORT_COLUMNS = ("id", "unit", "area", "platform", "url", "status", "status_since", "last_post_at",
                  "last_post_estimated", "post_count", "last_checked_at", "announced_move", "reason", "reason_kind")
FORMATS = ("csv", "json", "xlsx")



def spreadsheet_cell(value: Any) -> Any:
    """A spreadsheet cell: control and bidi characters removed, text that a spreadsheet would run as
    a formula quoted with ' (crawler.sanitize.cell)."""
    return sanitize.cell(value)


def csv_text(header: tuple[str, ...], rows: list[dict[str, Any]], delimiter: str = ",") -> str:
    """Rows as CSV for spreadsheets: the columns of `header`, formulas neutralised, a UTF-8 BOM."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, delimiter=delimiter, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: spreadsheet_cell("" if v is None else v) for k, v in row.items()})
    # The BOM makes Excel read the file as UTF-8 (å, ä, ö); other readers skip it.
    return "\ufeff" + buf.getvalue()


def as_of_moment(text: str, zone: str | None = None, now: datetime | None = None) -> datetime:
    """The moment `--as-of` stands for: the end of a day of the inventory's time zone (YYYY-MM-DD),
    or an instant (ISO 8601 with a time); an Error for a date in the future."""
    from crawler.report.build import parse_when

    moment = parse_when(text, zone)[1]
    if now is not None and parse_when(text, zone)[0] > now:
        raise CrawlerError(f"--as-of {text.strip()} lies in the future; without --as-of the export is the "
                           "inventory as it stands now")
    return moment


def export_rows(store: Store, as_of: datetime | None = None, *, lang: str = "en",
                zone: str | None = None) -> list[dict[str, Any]]:
    """The inventory, one row per registered account, by area, unit and id: now (view
    current_inventory), or as it stood at `as_of`."""
    accounts = store.current_inventory() if as_of is None else store.inventory_as_of(as_of)
    return rows_of(accounts, lang=lang, zone=zone)


def rows_of(accounts: Iterable[AccountRecord | AccountAsOf], *, lang: str = "en",
            zone: str | None = None) -> list[dict[str, Any]]:
    """Export rows of account records (times in the inventory's local time, with their offset; the
    reason written in `lang`, its kind as data)."""
    check_lang(lang)
    return [{"id": a.id, "unit": a.unit, "area": a.area, "platform": a.platform, "url": a.url, "status": a.status,
             "status_since": local_iso(a.status_since, zone), "last_post_at": local_iso(a.last_post_at, zone),
             "last_post_estimated": a.last_post_estimated, "post_count": a.post_count,
             "last_checked_at": local_iso(a.last_checked_at, zone), "announced_move": a.announced_move,
             "reason": reasons.render(a.why, lang) or None, "reason_kind": a.why.kind if a.why else None}
            for a in accounts]


def render_export(rows: list[dict[str, Any]], fmt: str = "csv", excel: bool = False) -> str:
    """CSV (UTF-8 with BOM; ';' separators with `excel`, as Swedish Excel expects) or JSON."""
    if fmt == "json":
        return json.dumps(sanitize.data(rows), ensure_ascii=False, indent=2) + "\n"
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


def export(store: Store, fmt: str = "csv", excel: bool | None = None, *, as_of: datetime | None = None,
           lang: str = "en", zone: str | None = None) -> str | bytes:
    """What `crawler export` writes (xlsx as bytes). CSV is ';'-separated in Swedish or with `excel`."""
    if fmt not in FORMATS:
        raise CrawlerError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    rows = export_rows(store, as_of, lang=lang, zone=zone)
    if as_of is not None and not rows:
        first = min((a.registered_at for a in store.accounts()), default=None)
        since = f"; the first was registered at {time_text(first, zone)}" if first else ""
        raise CrawlerError(f"the inventory held no registered account at {time_text(as_of, zone)}{since}")
    if fmt == "xlsx":
        return render_xlsx(rows)
    return render_export(rows, fmt, excel=lang == "sv" if excel is None else excel)
