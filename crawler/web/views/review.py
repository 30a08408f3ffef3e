"""Reviewers' pages: the queue, one notice per page with its account as it is now, the decision
(through crawler.review, the rules the CLI follows, recorded with the signed-in user), and the
audit trails of each notice and each reviewer."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from crawler import review as review_mod
from crawler.errors import NotFound
from crawler.store import Store
from crawler.store.records import NoticeRecord
from crawler.store.schema import NOTICE_KINDS
from crawler.web.views import form, needs, read, render, write

STATES = ("pending", "confirmed", "rejected", "all")
COMMENT_MAX = 1000


def ordered(notices: list[NoticeRecord]) -> list[NoticeRecord]:
    """The queue's order: pending first, oldest detection first, then the decided ones, oldest first."""
    return sorted(notices, key=lambda n: (n.state != "pending", n.detected_at, n.id))


@needs("read")
async def queue(request: Request) -> Response:
    state = request.query_params.get("state", "pending")
    if state not in STATES:
        state = "pending"

    def gather(store: Store) -> dict[str, Any]:
        everything = store.notices(None)
        counts = {s: sum(1 for n in everything if n.state == s) for s in STATES[:3]}
        counts["all"] = len(everything)
        shown = ordered([n for n in everything if state == "all" or n.state == state])
        return {"notices": shown, "counts": counts}

    data = await read(request, gather)
    return render(request, "web/queue.html", state=state, **data)


def _neighbours(queue: list[NoticeRecord], notice: NoticeRecord) -> tuple[int | None, int | None]:
    """The previous and next notice around `notice` in its queue (the pending one while it is pending)."""
    ids = [n.id for n in queue]
    if notice.id not in ids:
        return None, None
    i = ids.index(notice.id)
    return (ids[i - 1] if i > 0 else None), (ids[i + 1] if i + 1 < len(ids) else None)


def _page_data(store: Store, notice_id: int) -> dict[str, Any]:
    try:
        notice = store.notice(notice_id)
    except NotFound:
        raise HTTPException(404) from None
    detail = store.account_detail(notice.account_id, checks=1)
    everything = store.notices(None)
    pending = ordered([n for n in everything if n.state == "pending"])
    queue = pending if notice.state == "pending" else ordered(everything)
    before, after = _neighbours(queue, notice)
    return {"notice": notice, "account": detail.account, "last_check": detail.recent_checks[0] if detail.recent_checks
            else None, "others": [n for n in detail.notices if n.id != notice.id],
            "trail": store.notice_reviews(notice.id), "previous_id": before, "next_id": after,
            "position": next((i for i, n in enumerate(queue, 1) if n.id == notice.id), None),
            "queue_size": len(queue), "pending_count": len(pending)}


@needs("read")
async def notice_page(request: Request) -> Response:
    notice_id = request.path_params["notice_id"]
    data = await read(request, lambda store: _page_data(store, notice_id))
    saved = request.query_params.get("saved")
    return render(request, "web/notice.html", kinds=NOTICE_KINDS, saved=saved, error=None,
                  **data)


def _next_pending(store: Store, after: NoticeRecord) -> int | None:
    """The next pending notice after `after` in the queue's order, else the first pending one."""
    pending = ordered(store.notices("pending"))
    later = [n for n in pending if (n.detected_at, n.id) > (after.detected_at, after.id)]
    return (later or pending)[0].id if (later or pending) else None


@needs("review")
async def decide(request: Request) -> Response:
    notice_id = request.path_params["notice_id"]
    data = await form(request)
    user = request.state.user
    config = request.app.state.config
    decision = data.get("decision")
    kind = data.get("kind") or None
    comment = (data.get("comment") or "").strip()
    go_next = data.get("go") == "next"
    problem = None
    if decision not in review_mod.DECISIONS:
        problem = "choose"
    elif kind is not None and kind not in NOTICE_KINDS:
        problem = "kind"
    elif len(comment) > COMMENT_MAX:
        problem = "long"

    def apply(store: Store) -> tuple[str | None, int | None]:
        notice = store.notice(notice_id)
        trail = store.notice_reviews(notice_id)
        if str(len(trail)) != data.get("seen", ""):
            return "changed", None  # someone decided since this page was shown: look again
        if problem:
            return problem, None
        try:
            review_mod.decide(store, notice_id, decision, user.name, comment=comment or None,
                              force=notice.state != "pending", kind=kind, now=config.clock())
        except review_mod.ReviewError:
            return "changed", None
        return None, _next_pending(store, notice) if go_next else None

    try:
        error, next_id = await write(request, apply)
    except NotFound:
        raise HTTPException(404) from None
    if error is None:
        if go_next:
            return RedirectResponse(f"/review/{next_id}?saved={notice_id}" if next_id else f"/review?saved={notice_id}",
                                    status_code=303)
        return RedirectResponse(f"/review/{notice_id}?saved={notice_id}", status_code=303)
    page = await read(request, lambda store: _page_data(store, notice_id))
    return render(request, "web/notice.html", 409 if error == "changed" else 400,
                  kinds=NOTICE_KINDS, saved=None, error=error, comment=comment, **page)


@needs("read")
async def reviewers(request: Request) -> Response:
    counts = await read(request, lambda store: store.reviewer_counts())
    return render(request, "web/reviewers.html", counts=counts)


@needs("read")
async def reviewer(request: Request) -> Response:
    name = request.path_params["name"]
    decisions = await read(request, lambda store: store.decisions_by(name))
    return render(request, "web/reviewer.html", name=name,
                  decisions=list(reversed(decisions)))
