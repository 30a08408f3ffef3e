"""`crawler inspect` shows the notice a crawl would flag; `crawler review export-labels` feeds the accuracy script."""

from __future__ import annotations

import importlib.util
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from click.testing import CliRunner

from crawler.cli import cli
from crawler.models import Account, PublicText
from crawler.notices import detect
from crawler.store import Store

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2023, 4, 1, 12, tzinfo=timezone.utc)


def _feed(items: list[tuple[str, str]], description: str = "Förskolans blogg") -> str:
    entries = "".join(
        f"<item><title>{title}</title><link>https://solen.example.se/{i}/</link>"
        f"<pubDate>Mon, 0{i + 1} Mar 2023 10:00:00 +0000</pubDate><description><![CDATA[{summary}]]></description></item>"
        for i, (title, summary) in enumerate(items)
    )
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Solen</title>'
            f"<link>https://solen.example.se/</link><description>{description}</description>{entries}</channel></rss>")


def _inspect(tmp_path: Path, body: str, *options: str):
    path = tmp_path / "feed.xml"
    path.write_text(body, encoding="utf-8")
    return CliRunner().invoke(cli, ["--sources", str(tmp_path / "none.yaml"), "inspect", str(path),
                                    "--url", "https://solen.example.se/feed/", *options])


def test_inspect_json_carries_the_notice_of_a_weak_title_and_a_decisive_excerpt(tmp_path):
    # As seen on real WordPress: the title says little, the excerpt says it all.
    body = _feed([("Vi har bakat bullar", "Idag bakade vi kanelbullar."),
                  ("Viktig information", "Bloggen stängs ner. Från och med 1 april hittar ni all information i "
                                         "Tempus Hemma.")])
    result = _inspect(tmp_path, body, "--json")
    assert result.exit_code == 0, result.output
    notice = json.loads(result.output)["notice"]
    assert notice["kind"] == "move" and notice["score"] >= 0.9
    assert "Tempus Hemma" in notice["snippet"] and notice["post_url"] == "https://solen.example.se/1/"
    assert any("Tempus Hemma" in m for m in notice["matched"])


def test_inspect_json_notice_is_null_without_one_and_the_text_output_says_so(tmp_path):
    body = _feed([("Vi har bakat bullar", "Glöm inte att registrera frånvaro i Tempus.")])
    result = _inspect(tmp_path, body, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["notice"] is None
    text = _inspect(tmp_path, body)
    assert "notice: none (threshold 0.6)" in text.output


def test_snippets_never_carry_control_or_bidi_characters():
    (hit,) = detect([PublicText("summary", "Bloggen stängs ner\u202e, vi går\x1b[31m över till Tempus Hemma\x07")])
    assert not any(c in hit.snippet for c in "\u202e\x1b\x07") and "Tempus Hemma" in hit.snippet


def _accuracy():
    spec = importlib.util.spec_from_file_location("notice_accuracy", ROOT / "scripts" / "notice_accuracy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_export_labels_writes_decided_notices_that_the_accuracy_script_scores(tmp_path):
    db = tmp_path / "inventory.sqlite"
    account = Account("solen", "Förskolan Solen", "Norr", "wordpress", "https://solen.example.se/")
    texts = ["Bloggen stängs ner, vi går över till Tempus Hemma", "Sista inlägget här på bloggen, tack för alla år!",
             "Bloggen läggs ner, följ oss på Instagram istället!"]
    with Store.open(db) as store:
        store.sync([account], NOW)
        for i, text in enumerate(texts):
            (hit,) = detect([PublicText("summary", text, f"https://solen.example.se/{i}/", NOW - timedelta(days=1))])
            store.add_notice("solen", hit, NOW)
    base = ["--db", str(db), "--sources", str(tmp_path / "none.yaml"), "review"]
    runner = CliRunner()
    assert runner.invoke(cli, [*base, "confirm", "1", "--by", "Anna"]).exit_code == 0
    assert runner.invoke(cli, [*base, "reject", "2", "--by", "Anna", "--comment", "a test"]).exit_code == 0
    out = tmp_path / "reviewed.jsonl"
    result = runner.invoke(cli, [*base, "export-labels", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 2 reviewed notices" in result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["text"], r["kind"]) for r in rows] == [(texts[0], "move"), (texts[1], "none")]
    scored = _accuracy().evaluate(_accuracy().load(out), threshold=0.6)
    assert (scored["tp"], scored["fp"]) == (1, 1)  # the reviewer rejected what the detector flagged
