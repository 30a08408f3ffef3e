"""Discovery's candidates (issue 20.2 in the browser): the queue of accounts `crawler discover` found
that the registry lacks, one candidate with its evidence, and the decision: accept (written into
sources.yaml through crawler.discover.accept, the path `crawler discover accept` takes, then synced
into the inventory) or dismiss, recorded with the signed-in person. Viewers see; reviewers and admins
decide (auth action "discover").

The reasons and profile checks are stored as discovery wrote them (English, with values such as an
account id); `reason_words`/`checked_words` put the known ones into the page's language and leave
anything else as written.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from crawler import discover, sources
from crawler.errors import CrawlerError, NotFound, RegistryError
from crawler.store import Store
from crawler.store.candidates import CANDIDATE_STATES
from crawler.store.records import CandidateRecord
from crawler.web.auth import N_
from crawler.web.views import form, needs, read, render, write

TABS = ("proposed", "excluded", "dismissed", "accepted", "registered", "all")
COMMENT_MAX = 1000
FIELD_MAX = 200

STATE_WORDS = {"proposed": N_("proposed"), "excluded": N_("excluded"), "accepted": N_("accepted"),
               "dismissed": N_("dismissed"), "registered": N_("already in the registry"), "all": N_("all"),
               "reopened": N_("proposed again (new evidence)")}
TAB_WORDS = {"proposed": N_("Proposed"), "excluded": N_("Excluded"), "dismissed": N_("Dismissed"),
             "accepted": N_("Accepted"), "registered": N_("Already in the registry"), "all": N_("All")}
SOURCE_WORDS = {"account": N_("a registered account's page"), "seed": N_("the municipality's page (seed page)"),
                "link-in-bio": N_("a link-in-bio page")}
HOW_WORDS = {"link": N_("a link"), "rel-me": N_("a link marked rel=\"me\" (the page's own account)"),
             "same-as": N_("sameAs in the page's structured data (the page's own account)"),
             "mention": N_("named in the text (\"@name\"), not linked")}
REGION_WORDS = {"header": N_("header"), "footer": N_("footer"), "nav": N_("menu"), "aside": N_("side column"),
                "main": N_("main text"), "head": N_("page head (not shown)")}

# What judge() writes (crawler/discover.py), each with its words; `warn` marks a look-alike warning.
_REASONS: list[tuple[re.Pattern, str, bool]] = [(re.compile(p + "$"), m, w) for p, m, w in [
    (r"linked on every page of its site \(the site's own account, not a preschool's\)",
     N_("linked on every page of its site: the site's own account, not a preschool's"), True),
    (r"a parents' association or similar group, not the preschool's own account",
     N_("a parents' association or a similar group, not the preschool's own account"), True),
    (r"names another municipality \((?P<name>.+)\)", N_("names another municipality ({name})"), True),
    (r"the profile does not exist \((?P<checked>.+)\)", N_("the profile does not exist ({checked})"), True),
    (r"the pages and the name point at different units", N_("the pages and its name point at different units"), True),
    (r"its name speaks of (?P<unit>.+), but it was found on another unit's page",
     N_("its name speaks of {unit}, but it was found on another unit's page"), True),
    (r"linked from registered account (?P<account>.+)'s page", N_("linked from the page of registered account {account}"),
     False),
    (r"linked from a seed page", N_("linked from one of the municipality's pages"), False),
    (r"listed on a link-in-bio page", N_("listed on a link-in-bio page"), False),
    (r"linked", N_("linked"), False),
    (r"named on a page \(\"@handle\"\), not linked", N_("named on a page (\"@name\"), not linked"), False),
    (r"the page declares it its own \(rel=me / sameAs\)", N_("the page declares it its own (rel=me or sameAs)"), False),
    (r"inviting link text", N_("the link text invites readers to follow it"), False),
    (r"found on (?P<n>\d+) pages", N_("found on {n} pages"), False),
    (r"its name names the unit", N_("its name names the unit"), False),
    (r"unit not recognised: give --unit and --area on accept",
     N_("the unit was not recognised: give the unit and area when you accept"), False),
    (r"score (?P<score>[\d.]+) below min_score (?P<min>[\d.]+)",
     N_("score {score} is below the lowest score proposed ({min})"), False),
]]
_CHECKS: list[tuple[re.Pattern, str]] = [(re.compile(p + "$"), m) for p, m in [
    (r"Graph API: professional account", N_("Graph API: a professional account")),
    (r"Graph API: not found through Business Discovery \(personal, renamed and missing accounts look alike\)",
     N_("the Graph API does not find it (a personal, renamed or missing account: it cannot tell them apart)")),
    (r"Graph API unavailable: (?P<why>.+)", N_("the Graph API could not be used: {why}")),
    (r"Graph API not configured: (?P<why>.+)", N_("the Graph API is not set up: {why}")),
    (r"profile page: exists", N_("profile page: exists")),
    (r"profile page: not found", N_("profile page: not found")),
    (r"profile page: login wall", N_("profile page: behind a login wall")),
    (r"profile page: (?P<why>.+)", N_("profile page: {why}")),
    (r"not checked", N_("not checked")),
]]
_NOTE = re.compile(r"^(?P<base>profile page: .*?) \((?P<note>Graph API.*)\)$")


def checked_words(text: str | None, gettext: Callable[[str], str]) -> str:
    """A candidate's profile check in the page's language ("profile page: exists (Graph API ...)")."""
    if not text:
        return gettext("not checked")
    noted = _NOTE.match(text)
    if noted:
        return f"{checked_words(noted['base'], gettext)} ({checked_words(noted['note'], gettext)})"
    for pattern, msgid in _CHECKS:
        m = pattern.match(text)
        if m:
            return gettext(msgid).format(**m.groupdict())
    return text


def reason_words(reason: str, gettext: Callable[[str], str]) -> list[tuple[str, bool]]:
    """Each part of a stored reason in the page's language, with whether it is a look-alike warning."""
    out = []
    for part in (p.strip() for p in (reason or "").split("; ")):
        if not part:
            continue
        for pattern, msgid, warn in _REASONS:
            m = pattern.match(part)
            if m:
                values = m.groupdict()
                if "checked" in values:
                    values["checked"] = checked_words(values["checked"], gettext)
                out.append((gettext(msgid).format(**values), warn))
                break
        else:
            out.append((checked_words(part, gettext), False))
    return out


def route_of(checked: str | None) -> str:
    """Which route judged the candidate's profile: "api" (the Graph API) or "public" (its page)."""
    return "api" if (checked or "").startswith("Graph API") else "public"


def ordered(items: list[CandidateRecord]) -> list[CandidateRecord]:
    """The queue's order: proposed first, newest first (first seen), then the best score."""
    return sorted(items, key=lambda c: (c.state != "proposed", -c.first_seen_at.timestamp(), -c.score, c.id))


def _helpers(request: Request) -> dict[str, Any]:
    from crawler.locale import translations

    gettext = translations(request.state.lang).gettext

    def word(table: dict[str, str]) -> Callable[[str | None], str]:
        return lambda code: gettext(table[code]) if code in table else (code or "")

    return {"cand_state": word(STATE_WORDS), "tab_word": word(TAB_WORDS), "source_word": word(SOURCE_WORDS), "how_word": word(HOW_WORDS),
            "region_word": word(REGION_WORDS), "reasons": lambda r: reason_words(r, gettext),
            "checked_words": lambda t: checked_words(t, gettext), "judged_by": route_of}


@needs("read")
async def candidates_page(request: Request) -> Response:
    state = request.query_params.get("state", "proposed")
    if state not in TABS:
        state = "proposed"

    def gather(store: Store) -> dict[str, Any]:
        everything = store.candidates(None)
        counts = {s: sum(1 for c in everything if c.state == s) for s in CANDIDATE_STATES}
        counts["all"] = len(everything)
        return {"candidates": ordered([c for c in everything if state == "all" or c.state == state]),
                "counts": counts}

    data = await read(request, gather)
    return render(request, "web/candidates.html", state=state, tabs=TABS, **data, **_helpers(request))


def _detail(store: Store, candidate_id: int) -> dict[str, Any]:
    try:
        detail = store.candidate(candidate_id)
    except NotFound:
        raise HTTPException(404) from None
    c = detail.candidate
    account = None
    if c.account_id:
        try:
            account = store.account(c.account_id)
        except NotFound:
            account = None
    areas = sorted({a.area for a in store.accounts(include_deregistered=False)})
    return {"candidate": c, "evidence": detail.evidence, "decisions": detail.decisions, "account": account,
            "areas": areas}


async def _page(request: Request, candidate_id: int, status: int = 200, **extra: Any) -> Response:
    data = await read(request, lambda store: _detail(store, candidate_id))
    config = request.app.state.config
    values = {"saved": request.query_params.get("saved"), "error": None, "detail": None, "form": {},
              "registry_path": config.sources_path, **extra}
    return render(request, "web/candidate.html", status, **data, **values, **_helpers(request))


@needs("read")
async def candidate_page(request: Request) -> Response:
    return await _page(request, request.path_params["candidate_id"])


def _clean(value: str | None, limit: int = FIELD_MAX) -> str:
    return " ".join((value or "").split())[:limit + 1]


@needs("discover")
async def decide(request: Request) -> Response:
    """Accept or dismiss one candidate, as the signed-in person (never a typed name)."""
    candidate_id = request.path_params["candidate_id"]
    data = await form(request)
    config = request.app.state.config
    user = request.state.user
    decision = data.get("decision")
    comment = (data.get("comment") or "").strip()
    unit, area, force = _clean(data.get("unit")), _clean(data.get("area")), data.get("force") == "yes"
    problem = None
    if decision not in ("accept", "dismiss"):
        problem = "choose"
    elif len(comment) > COMMENT_MAX:
        problem = "long"
    elif decision == "accept" and config.sources_path is None:
        problem = "no_registry"
    elif decision == "accept" and (not unit or not area):
        problem = "unit_area"
    elif max(len(unit), len(area)) > FIELD_MAX:
        problem = "field_long"

    def apply(store: Store) -> tuple[str | None, str | None, str | None]:
        """(problem, its detail, the account id written)."""
        detail = store.candidate(candidate_id)
        if str(len(detail.decisions)) != data.get("seen", ""):
            return "changed", None, None  # someone decided since this page was shown: look again
        if problem:
            return problem, None, None
        now = config.clock()
        c = detail.candidate
        try:
            if decision == "dismiss":
                discover.dismiss(store, candidate_id, user.name, now, comment=comment or None)
                return None, None, None
            if c.state not in discover.ACCEPTABLE and not force:
                return "force", None, None
            account = discover.accept(store, config.sources_path, candidate_id, user.name, now, unit=unit, area=area,
                                      comment=comment or None, force=c.state != "proposed")
        except RegistryError as exc:
            return "registry", str(exc), None
        except CrawlerError as exc:
            return "refused", str(exc), None
        # the inventory knows the account at once (the next crawl, or a running `crawler serve`, which
        # re-reads sources.yaml when it changed, visits it); a registry the sync cannot read is no failure here
        with contextlib.suppress(CrawlerError):
            store.sync(sources.load(config.sources_path).accounts, now)
        return None, None, account.id

    try:
        error, detail, account_id = await write(request, apply)
    except NotFound:
        raise HTTPException(404) from None
    if error is None:
        return RedirectResponse(f"/candidates/{candidate_id}?saved={'accepted' if account_id else 'dismissed'}",
                                status_code=303)
    status = 409 if error == "changed" else 400
    return await _page(request, candidate_id, status, error=error, detail=detail,
                       form={"unit": unit, "area": area, "comment": comment, "decision": decision or ""})
