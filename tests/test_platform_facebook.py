"""Facebook pages: removal notices only from what a reader sees, page meta means the page exists,
dates from data-utime / JSON, implausible ones dropped."""

from __future__ import annotations

from datetime import UTC, datetime

from crawler.models import Fetched
from crawler.platforms import facebook
from crawler.settings import Settings

NOW = datetime(2023, 4, 15, 12, 0, tzinfo=UTC)
URL = "http://127.0.0.7:8080/forskolanekorren/"
META = ('<meta property="og:title" content="Förskolan Ekorren"><meta property="og:url" content="' + URL + '">'
        '<meta property="og:description" content="Förskolan Ekorren. 312 gillar.">')


def page(head: str, body: str, status: int = 200) -> Fetched:
    html = f"<!DOCTYPE html><html><head><title>Förskolan Ekorren | Facebook</title>{head}</head><body>{body}</body></html>"
    return Fetched(url=URL, final_url=URL, status=status, headers={"content-type": "text/html"}, body=html.encode())


def test_ui_strings_in_scripts_do_not_make_a_live_page_gone():
    script = "<script>var i18n={\"a\":\"This content isn't available right now\",\"b\":\"Det här innehållet är inte tillgängligt just nu\"}</script>"
    obs = facebook.parse(page(META, script + '<div role="article"><abbr data-utime="1678613400">12 mars</abbr></div>'), NOW, Settings())
    assert obs.exists is True
    assert obs.last_post_at == datetime(2023, 3, 12, 9, 30, tzinfo=UTC)


def test_a_visible_removal_notice_is_gone():
    obs = facebook.parse(page("", "<h2>This content isn't available right now</h2>"), NOW, Settings())
    assert obs.exists is False and obs.reason == "facebook: content not available"


def test_future_and_epoch_timestamps_are_ignored_and_noted():
    body = ('<div><abbr data-utime="4102444800">2100</abbr><abbr data-utime="0">1970</abbr>'
            '<abbr data-utime="1675328400">2 feb</abbr></div>')
    obs = facebook.parse(page(META, body), NOW, Settings())
    assert obs.last_post_at == datetime(2023, 2, 2, 9, 0, tzinfo=UTC)
    assert any("future" in n for n in obs.notes)


def test_same_timestamp_twice_is_one_post():
    body = '<abbr data-utime="1675328400">x</abbr><script>{"publish_time":1675328400}</script>'
    obs = facebook.parse(page(META, body), NOW, Settings())
    assert len(obs.posts) == 1


def test_a_page_with_neither_meta_nor_login_form_tells_nothing():
    obs = facebook.parse(page("", "<div>Något gick fel.</div>"), NOW, Settings())
    assert obs.exists is None and not obs.login_wall


def test_post_containers_give_permalinks_and_dated_texts():
    body = ('<div role="article"><a href="/forskolanekorren/posts/3"><abbr data-utime="1678613400">12 mars</abbr></a>'
            '<div data-ad-preview="message"><p>Från 1 april finns vi i Tempus Hemma.</p></div></div>'
            '<script>{"publish_time":1678613400}</script>')
    obs = facebook.parse(page(META, body), NOW, Settings())
    assert [p.url for p in obs.posts] == [URL + "posts/3"]  # the JSON copy of the same instant is not a second post
    summary = [t for t in obs.texts if t.kind == "summary"][0]
    assert summary.url == URL + "posts/3" and summary.published_at == obs.last_post_at
