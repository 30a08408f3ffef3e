"""Analysts' pages: the inventory (filtered, sorted, counted), one account with its history and
evidence, the board's report for any two dates (the templates of `crawler report --format html`),
and downloads: the inventory and the report as CSV (`;` for Swedish Excel) and xlsx."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from crawler import export as export_mod
from crawler import report as report_mod
from crawler.clock import to_local
from crawler.errors import CrawlerError, NotFound
from crawler.report import chart
from crawler.report.document import layout
from crawler.store import Store
from crawler.store.reads import INVENTORY_SORTS
from crawler.web.history import timeline
from crawler.web.templating import words
from crawler.web.views import needs, read, render

PAGE = 50
DOWNLOADS = {"csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "html": "text/html; charset=utf-8", "docx":
             "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             "md": "text/markdown; charset=utf-8", "json": "application/json"}


def _filters(request: Request) -> dict[str, Any]:
    q = request.query_params
    sort = q.get("sort", "unit")
    try:
        page = max(1, int(q.get("page", "1")))
    except ValueError:
        page = 1
    return {"statuses": tuple(v for v in q.getlist("status") if v), "platforms": tuple(v for v in q.getlist("platform") if v),
            "areas": tuple(v for v in q.getlist("area") if v), "routes": tuple(v for v in q.getlist("route") if v),
            "sort": sort if sort in INVENTORY_SORTS else "unit",
            "descending": q.get("desc") == "1", "page": page}


def _query(f: dict[str, Any], **changes: Any) -> str:
    """The inventory's query string with `changes` (for sort links and pages)."""
    merged = {**f, **changes}
    pairs = [("status", s) for s in merged["statuses"]] + [("platform", p) for p in merged["platforms"]]
    pairs += [("area", a) for a in merged["areas"]] + [("route", r) for r in merged["routes"]]
    pairs += [("sort", merged["sort"])]
    if merged["descending"]:
        pairs.append(("desc", "1"))
    if merged["page"] != 1:
        pairs.append(("page", str(merged["page"])))
    return urlencode(pairs)


def _inventory(store: Store, f: dict[str, Any], limit: int = PAGE):
    page = store.inventory(statuses=f["statuses"], platforms=f["platforms"], areas=f["areas"], routes=f["routes"],
                           sort=f["sort"], descending=f["descending"], limit=limit,
                           offset=(f["page"] - 1) * limit if limit else 0)
    return page


@needs("read")
async def inventory(request: Request) -> Response:
    f = _filters(request)

    def gather(store: Store) -> dict[str, Any]:
        everything = store.inventory(limit=0)  # the choices: every status, platform and area there is
        return {"page": _inventory(store, f), "choices": everything}

    data = await read(request, gather)
    pages = max(1, -(-data["page"].total // PAGE))
    areas = sorted(data["choices"].by_area.items(), key=lambda item: report_mod.natural_key(item[0]))
    return render(request, "web/inventory.html", f=f, pages=pages, query=_query, areas=areas,
                  sorts=INVENTORY_SORTS, download=_query(f, page=1), **data)


def _export_rows(store: Store, f: dict[str, Any], request: Request) -> list[dict[str, Any]]:
    """The filtered inventory as export rows: reasons in the page's language, times in the inventory's zone."""
    page = store.inventory(statuses=f["statuses"], platforms=f["platforms"], areas=f["areas"], routes=f["routes"],
                           sort=f["sort"], descending=f["descending"], limit=10_000_000, offset=0)
    return export_mod.rows_of(page.rows, lang=request.state.lang, zone=request.app.state.config.settings.timezone)


def _attachment(body: str | bytes, fmt: str, name: str) -> Response:
    return Response(body, media_type=DOWNLOADS[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


@needs("read")
async def inventory_csv(request: Request) -> Response:
    """The inventory as filtered, as CSV for Swedish Excel (`;`, UTF-8 with a BOM)."""
    rows = await read(request, lambda store: _export_rows(store, _filters(request), request))
    return _attachment(export_mod.render_export(rows, "csv", excel=True), "csv", _name(request))


@needs("read")
async def inventory_xlsx(request: Request) -> Response:
    rows = await read(request, lambda store: _export_rows(store, _filters(request), request))
    return _attachment(export_mod.render_xlsx(rows), "xlsx", _name(request))


def _name(request: Request) -> str:
    config = request.app.state.config
    return f"inventory-{to_local(config.clock(), config.settings.timezone):%Y-%m-%d}"


@needs("read")
async def account(request: Request) -> Response:
    account_id = request.path_params["account_id"]
    config = request.app.state.config

    def gather(store: Store) -> Any:
        try:
            return store.account_detail(account_id, checks=30)
        except NotFound:
            raise HTTPException(404) from None

    detail = await read(request, gather)
    lang = request.state.lang
    svg = timeline(detail.status_history, detail.account, config.clock(), lang, config.settings.timezone)
    return render(request, "web/account.html", d=detail, a=detail.account,
                  timeline=Markup(svg))


def _report(request: Request):
    q = request.query_params
    config = request.app.state.config
    baseline = q.get("baseline") or config.settings.launch_date
    as_of = q.get("as_of") or None

    def build(store: Store):
        return report_mod.build_report(store, baseline, as_of, settings=config.settings, now=config.clock())

    return baseline, as_of, build


@needs("read")
async def report(request: Request) -> Response:
    baseline, as_of, build = _report(request)
    lang = request.state.lang
    try:
        built = await read(request, build)
    except CrawlerError as exc:
        return render(request, "web/report_error.html", 400, baseline=baseline,
                      as_of=as_of or "", problem=str(exc))
    doc = layout(built, lang)
    svg = Markup(chart.svg(built, lang))  # matplotlib's drawing of our own labels and numbers
    shown_as_of = as_of or words(lang, request.app.state.config.settings).day(built.as_of.at)
    return render(request, "web/report.html", doc=doc, chart=svg, baseline=baseline, as_of=shown_as_of,
                  query=urlencode({"baseline": baseline, "as_of": as_of or ""}))


@needs("read")
async def report_download(request: Request) -> Response:
    fmt = request.path_params["fmt"]
    if fmt not in DOWNLOADS:
        raise HTTPException(404)
    _, _, build = _report(request)
    try:
        built = await read(request, build)
    except CrawlerError as exc:
        raise HTTPException(400, detail=str(exc)) from None
    body = report_mod.render(built, fmt, request.state.lang)
    return _attachment(body, fmt, report_mod.default_path(built, ".", fmt).stem)
