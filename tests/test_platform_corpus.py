"""The saved-page corpus: every page under tests/fixtures/platforms/<adapter>/ is parsed by that
adapter and compared with the NAME.expected.json beside it (exists, day of the last post, post
count, login wall, notes, feed to follow). scripts/accuracy.py reports the same corpus as figures.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from crawler.dates import STOCKHOLM
from crawler.models import Fetched
from crawler.platforms import adapter
from crawler.settings import Settings

CORPUS = Path(__file__).parent / "fixtures" / "platforms"
CASES = sorted(CORPUS.glob("*/*.expected.json"))
_TYPES = {".xml": "application/xml", ".json": "application/json", ".html": "text/html; charset=utf-8"}


def body_of(expected_path: Path) -> Path:
    stem = expected_path.name[: -len(".expected.json")]
    found = [p for p in expected_path.parent.glob(stem + ".*") if p != expected_path and not p.name.endswith(".expected.json")]
    assert len(found) == 1, f"{expected_path}: expected one page beside it, found {found}"
    return found[0]


def test_corpus_is_big_enough_and_covers_every_adapter():
    assert len(CASES) >= 40
    assert {p.parent.name for p in CASES} >= {"feed", "wordpress", "blogger", "blog", "instagram", "facebook"}


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name[:-14]}")
def test_saved_page_reads_as_expected(case: Path):
    exp = json.loads(case.read_text(encoding="utf-8"))
    page = body_of(case)
    platform = case.parent.name
    fetched = Fetched(
        url=exp["url"], final_url=exp.get("final_url", exp["url"]), status=exp["status"],
        headers={"content-type": exp.get("content_type", _TYPES[page.suffix])}, body=page.read_bytes(),
    )
    now = datetime.fromisoformat(exp["now"].replace("Z", "+00:00"))
    obs = adapter(platform).parse(fetched, now, Settings(), platform)

    assert obs.exists is exp["exists"], obs.reason
    if exp["exists"] is not True:
        assert obs.last_post_at is None and not obs.posts
    got_day = obs.last_post_at.astimezone(STOCKHOLM).date().isoformat() if obs.last_post_at else None
    assert got_day == exp["last_post_at"], (obs.reason, obs.notes)
    if "post_count" in exp:
        assert obs.post_count == exp["post_count"], obs.notes
    assert obs.login_wall is exp.get("login_wall", False)
    if "note" in exp:
        assert any(exp["note"] in n for n in obs.notes), obs.notes
    if "follow" in exp:
        assert obs.follow == exp["follow"]
    if "posts" in exp:
        assert len(obs.posts) == exp["posts"]
    # newest first, and nothing but dates and URLs on the posts
    dates = [p.published_at for p in obs.posts if p.published_at]
    assert dates == sorted(dates, reverse=True)
    assert all(len(t.text) <= 500 for t in obs.texts)
