"""Tests for crawler.notices: positives, hard negatives, threshold, snippet, masking, labelled-set accuracy."""

from __future__ import annotations

import importlib.util
from datetime import datetime, timezone
from pathlib import Path

import pytest

from crawler.models import PublicText
from crawler.notices import SNIPPET_CHARS, detect, mask_names, score, snippet

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "text, kind",
    [
        ("Från och med 1 april hittar ni all information i Tempus Hemma", "move"),
        ("Bloggen stängs ner, vi går över till Tempus", "closing"),
        ("Vi kommer inte längre att uppdatera Instagram – följ oss i appen!", "closing"),
        ("Det här är vårt sista inlägg här...", "closing"),
        ("Nu flyttar vi till Tempus-appen!", "move"),
        ("Vi har gått över till Tempusappen, där finns all dokumentation.", "move"),
        ("FRÅN OCH MED HÖSTEN HITTAR NI ALLT I TEMPUS HEMMA", "move"),
        ("fran och med 1 april hittar ni all information i tempus hemma", "move"),  # lost diacritics
        ("Från och med 1 april hittar ni all information i Tempus\u00a0Hemma.", "move"),  # decoded &nbsp;
        ("Fr&aring;n och med 1 april hittar ni all information i Tempus&nbsp;Hemma.", "move"),  # left over
        ("This blog will no longer be updated. From now on you will find us in Tempus Hemma.", "closing"),
    ],
)
def test_positives_are_flagged(text, kind):
    value, matched, got = score(text)
    assert value >= 0.6, (value, matched)
    assert got == kind
    assert matched


@pytest.mark.parametrize(
    "text",
    [
        "Glöm inte att registrera frånvaro i Tempus",
        "Schemat finns i Tempus",
        "Idag har vi pratat om verbens tempus.",
        "Vi flyttar till nya lokaler i augusti!",
        "Förskolan stänger v. 28–31",
        "Bloggen har flyttat till en ny adress: solen.wordpress.com",
        "Vi stänger ner bloggen och fortsätter på en ny adress.",
        "Bloggen läggs ner, följ oss på Instagram istället!",
        "Från och med nu hittar ni oss på Facebook.",
        "Ladda ner appen Unikum för att se lärloggen.",
        "I appen Vklass hittar ni all information om utvecklingssamtal.",
        "Sista inlägget innan sommaruppehållet, vi ses i augusti!",
        "Sista inlägget innan vi flyttar till nya lokaler.",
        "Nej, bloggen läggs inte ner! Vi finns kvar här.",
        "Från och med 1 april ska alla vistelsetider läggas in i Tempus Hemma.",
        "Information om inskolning hittar ni i Tempus Hemma.",
        "Tempus Hemma",  # a bare mention is not a notice
        "",
    ],
)
def test_hard_negatives_are_not_flagged(text):
    value, matched, _ = score(text)
    assert value < 0.6, (value, matched)


def test_score_is_within_bounds_and_kind_none_without_evidence():
    assert score("Idag har vi bakat bullar.") == (0.0, (), None)
    value, _, _ = score("Bloggen stängs ner, vi går över till Tempus Hemma. Tack för att ni följt oss! "
                        "Från och med nu hittar ni all information i Tempus Hemma.")
    assert 0.9 <= value <= 1.0


def test_matched_phrases_come_from_the_original_text():
    _, matched, _ = score("Från och med 1 april hittar ni all information i Tempus Hemma")
    assert "Tempus Hemma" in matched and "Från och med" in matched and "hittar ni" in matched


def test_threshold_decides_what_is_flagged():
    text = PublicText("title", "Tempus Hemma ersätter bloggen.")
    value, _, _ = score(text.text)
    assert detect([text], threshold=value)
    assert detect([text], threshold=value + 0.01) == []
    assert detect([PublicText("bio", "Tempus Hemma")]) == []
    assert detect([PublicText("bio", "Tempus Hemma")], threshold=0.4)


def test_detect_returns_one_hit_per_flagged_text_with_its_url_and_date():
    when = datetime(2023, 3, 1, tzinfo=timezone.utc)
    texts = [
        PublicText("title", "Vi har bakat bullar", "https://b.example/bullar", when),
        PublicText("summary", "Bloggen stängs ner, vi går över till Tempus", "https://b.example/hej", when),
        PublicText("bio", "Följ oss i appen! Den här sidan uppdateras inte längre."),
    ]
    hits = detect(texts)
    assert [h.post_url for h in hits] == ["https://b.example/hej", None]
    assert hits[0].published_at == when and hits[0].kind == "closing"
    assert hits[0].snippet == "Bloggen stängs ner, vi går över till Tempus"
    assert all(h.score >= 0.6 for h in hits)


def test_snippet_is_short_whitespace_collapsed_and_around_the_match():
    filler = "Idag har vi lekt i parken och   ätit\n\nmellanmål. " * 12
    text = filler + "Från och med 1 april hittar ni all information i Tempus Hemma. " + filler
    (hit,) = detect([PublicText("summary", text)])
    assert len(hit.snippet) <= SNIPPET_CHARS
    assert "Tempus Hemma" in hit.snippet and "hittar ni all information" in hit.snippet
    assert "  " not in hit.snippet and "\n" not in hit.snippet
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")


def test_long_hostile_text_is_bounded():
    import time

    started = time.perf_counter()
    for text in ("bloggen " * 50_000, "inte " * 50_000, "följ oss i " * 20_000, "sista inlägg. " * 20_000):
        score(text)
    assert time.perf_counter() - started < 2.0


def test_time_and_destination_words_in_matched():
    _, matched, kind = score("Tack för att ni har följt oss! Från 1 april går vi över till Tempus Hemma.")
    assert kind == "move" and "Från 1" in matched and "går vi över till" in matched


def test_snippet_of_a_short_text_is_the_whole_text():
    assert snippet("  Hej   där ") == "Hej där"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Grattis Elsa på 4-årsdagen", "Grattis [namn] på 4-årsdagen"),
        ("Vår Kalle fyller 3 idag", "Vår [namn] fyller 3 idag"),
        ("Sonen Zlatan har kalas", "Sonen [namn] har kalas"),
        ("Idag kom Noah och Saga till ateljén", "Idag kom [namn] och [namn] till ateljén"),
        ("Följ oss i Tempus Hemma, Malmö", "Följ oss i Tempus Hemma, Malmö"),
        ("Besök vår Facebooksida", "Besök vår Facebooksida"),
    ],
)
def test_mask_names(text, expected):
    assert mask_names(text) == expected


def test_snippet_masks_names():
    (hit,) = detect([PublicText("summary", "Tack för allt! Elsa och Omar vinkar. Det här är vårt sista inlägg här.")])
    assert "Elsa" not in hit.snippet and "Omar" not in hit.snippet and "[namn]" in hit.snippet


def _accuracy_module():
    spec = importlib.util.spec_from_file_location("notice_accuracy", ROOT / "scripts" / "notice_accuracy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_labelled_set_is_big_enough_and_balanced():
    rows = _accuracy_module().load()
    assert len(rows) >= 150
    positives = sum(r["label"] for r in rows) / len(rows)
    assert 0.35 <= positives <= 0.45
    first = [r for r in rows if r["split"] in ("dev", "holdout")]  # the set the rules were first written on
    holdout = sum(r["split"] == "holdout" for r in first) / len(first)
    assert 0.25 <= holdout <= 0.35
    assert all(r["note"] and r["label"] in (0, 1) for r in rows)


# Figures when each part was first scored (rules then frozen): dev 1.00/1.00 after writing the
# rules from it; holdout 1.00/1.00; fresh (30 texts written after that) precision 1.00, recall
# 0.50; after generalising the rules, fresh2 (40 new texts) precision 0.93, recall 0.81; after
# generalising again, fresh3 (40 new texts) precision 0.85, recall 0.69; then fresh4 (40) 0.80 / 0.75;
# fresh5 (50 texts) is the last unseen measure, scored once with the rules frozen: precision 0.94,
# recall 0.94 (one false positive, one false negative); it is guarded at that level below.
@pytest.mark.parametrize("split", ["dev", "holdout", "fresh", "fresh2", "fresh3", "fresh4"])
def test_labelled_set_precision_and_recall_stay_above_target(split):
    module = _accuracy_module()
    rows = [r for r in module.load() if r["split"] == split]
    result = module.evaluate(rows, threshold=0.6)
    wrong = [(what, row["text"]) for what, _, _, row in result["wrong"]]
    assert result["precision"] >= 0.95, wrong
    assert result["recall"] >= 0.9, wrong


def test_last_unseen_part_stays_at_its_measured_level():
    module = _accuracy_module()
    rows = [r for r in module.load() if r["split"] == "fresh5"]
    result = module.evaluate(rows, threshold=0.6)
    assert len(rows) == 50
    assert result["precision"] >= 0.93 and result["recall"] >= 0.93
