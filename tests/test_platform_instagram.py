"""Instagram's post count as og:description writes it, in English and Swedish, exact or abbreviated."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawler.models import Fetched
from crawler.platforms import instagram
from crawler.settings import Settings

NOW = datetime(2023, 4, 15, 12, 0, tzinfo=UTC)
URL = "http://127.0.0.5:8080/forskolan_humlan/"


def profile(description: str) -> Fetched:
    body = (f'<html><head><meta property="og:title" content="Humlan (@forskolan_humlan) &#x2022; Instagram photos and videos">'
            f'<meta property="og:description" content="{description}"></head><body></body></html>').encode()
    return Fetched(url=URL, final_url=URL, status=200, headers={"content-type": "text/html"}, body=body)


@pytest.mark.parametrize(
    ("description", "count"),
    [
        ("1,234 Followers, 56 Following, 789 Posts - See Instagram photos and videos from Humlan (@forskolan_humlan)", 789),
        ("10 Followers, 5 Following, 1 Post - See Instagram photos and videos from Humlan (@forskolan_humlan)", 1),
        ("10 Followers, 5 Following, 0 Posts - See Instagram photos and videos from Humlan (@forskolan_humlan)", 0),
        ("1,234 Followers, 56 Following, 12,345 Posts - See Instagram photos and videos from Humlan (@forskolan_humlan)", 12345),
        ("1 234 följare, 56 följer, 1 789 inlägg – Se foton och videoklipp på Instagram från Humlan (@forskolan_humlan)", 1789),
        ("1\u00a0234 följare, 56 följer, 2\u00a0001 inlägg – Se foton och videoklipp på Instagram från Humlan (@forskolan_humlan)", 2001),
        ("1.5M Followers, 12 Following, 3,021 Posts - See Instagram photos and videos from Humlan (@forskolan_humlan)", 3021),
    ],
)
def test_exact_post_counts(description, count):
    obs = instagram.parse(profile(description), NOW, Settings())
    assert obs.exists is True and obs.post_count == count


@pytest.mark.parametrize(
    "description",
    [
        "12.5K Followers, 310 Following, 1.2K Posts - See Instagram photos and videos from Humlan (@forskolan_humlan)",
        "12,5 tn följare, 310 följer, 1,2 tn inlägg – Se foton och videoklipp på Instagram från Humlan (@forskolan_humlan)",
        "2M Followers, 3 Following, 10K Posts - See Instagram photos and videos from Humlan (@forskolan_humlan)",
    ],
)
def test_abbreviated_counts_are_unknown_not_invented(description):
    obs = instagram.parse(profile(description), NOW, Settings())
    assert obs.exists is True and obs.post_count is None
    assert any("abbreviated" in n and "exact count unknown" in n for n in obs.notes)


def test_profile_meta_wins_over_not_available_strings_in_scripts():
    # Instagram ships its UI strings in every page: the profile meta decides, not a stray phrase.
    fetched = profile("10 Followers, 5 Following, 7 Posts - See Instagram photos and videos from Humlan (@forskolan_humlan)")
    body = fetched.body.replace(b"<body></body>", b"<body><script>var s={\"e\":\"Sorry, this page isn't available.\"}</script></body>")
    obs = instagram.parse(Fetched(url=URL, final_url=URL, status=200, headers={}, body=body), NOW, Settings())
    assert obs.exists is True and obs.post_count == 7


def test_the_description_is_passed_on_for_the_notice_detector():
    obs = instagram.parse(profile("1 Post - Vi flyttar till Tempus Hemma (@forskolan_humlan)"), NOW, Settings())
    assert any(t.kind == "description" and "Tempus Hemma" in t.text for t in obs.texts)
