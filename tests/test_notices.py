"""Tests for crawler.notices: positives, hard negatives, threshold, snippet, masking, labelled-set accuracy."""

from __future__ import annotations

import importlib.util
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from crawler import notice_model
from crawler.models import PublicText
from crawler.notices import (
    NOTHING,
    READ_CHARS,
    SNIPPET_CHARS,
    Finding,
    detect,
    keep_strongest,
    mask_names,
    read,
    score,
    snippet,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "text, kind",
    [
        ("Från och med 1 april hittar ni all information i Tempus Hemma", "move"),
        ("Bloggen stängs ner, vi går över till Tempus", "move"),  # a closing that names Tempus is a move
        ("Vi kommer inte längre att uppdatera Instagram – följ oss i appen!", "move"),
        ("Det här är vårt sista inlägg här...", "closing"),
        ("Nu flyttar vi till Tempus-appen!", "move"),
        ("FRÅN OCH MED HÖSTEN HITTAR NI ALLT I TEMPUS HEMMA", "move"),
        ("fran och med 1 april hittar ni all information i tempus hemma", "move"),  # lost diacritics
        ("Fr&aring;n och med 1 april hittar ni all information i Tempus&nbsp;Hemma.", "move"),  # left over
        ("This blog will no longer be updated. From now on you will find us in Tempus Hemma.", "move"),
        # what 0.1 missed (issue 14): only the app from now on, now sent via, in future through (misspelt),
        # closed for new posts, channels contrasted with emoji, a reason and "so we stop writing here"
        ("Från och med nu kommer vi endast att använda appen för att informera er.", "move"),
        ("Information från avdelningen skickas numera ut genom Tempus Hemma.", "move"),
        ("I framtiden kommer ni att få veckobreven via Tempus Hemme.", "move"),
        ("Gruppen är stängd för nya inlägg.", "closing"),
        ("Blogg ❌ Tempus Hemma ✅", "move"),
        ("På grund av GDPR slutar vi skriva här. Tack för alla år!", "closing"),
        ("Bloggen stängs ner.", "closing"),  # no reason given is still a closing
        ("Vi sätter punkt för bloggen nu. Tack för alla år!", "closing"),
        # a named other destination is `elsewhere`
        ("Bloggen läggs ner, följ oss på Instagram istället!", "elsewhere"),
        ("Från och med nu hittar ni oss på Facebook.", "elsewhere"),
        ("Bloggen har flyttat till en ny adress: solen.wordpress.com", "elsewhere"),
        ("Från och med hösten sker all kommunikation i Vklass. Bloggen avslutas.", "elsewhere"),
        ("Find us on Instagram from now on! @forskolanekorren", "elsewhere"),
        # "här på Facebook" is where the account is, not where it goes (fresh_E)
        ("Nu sätter vi punkt för Kotten-sidan här på Facebook. Tack för fem fina år!", "closing"),
    ],
)
def test_notices_are_flagged_with_their_kind_and_evidence(text, kind):
    found = read(text)
    assert found.score >= 0.6, found
    assert found.kind == kind, found
    assert found.matched and found.snippet


@pytest.mark.parametrize(
    "text",
    [
        "Glöm inte att registrera frånvaro i Tempus",
        "Schemat finns i Tempus",
        "Idag har vi pratat om verbens tempus.",
        "Tempus fugit – tiden flyger när man har roligt!",
        "Vi flyttar till nya lokaler i augusti!",
        "Förskolan stänger v. 28–31",
        "Ladda ner appen Unikum för att se lärloggen.",
        "I appen Vklass hittar ni all information om utvecklingssamtal.",
        "Sista inlägget innan sommaruppehållet, vi ses i augusti!",
        "Sista inlägget innan vi flyttar till nya lokaler.",
        "Nej, bloggen läggs inte ner! Vi finns kvar här.",
        "Vi kommer inte att stänga bloggen, lugn!",
        "Från och med 1 april ska alla vistelsetider läggas in i Tempus Hemma.",
        "Information om inskolning hittar ni i Tempus Hemma.",
        "Vi finns nu även på Instagram! Följ oss på @forskolanekorren",
        "Bloggen är stängd för kommentarer.",
        "Hej! Är det sant att ni ska sluta med Facebooksidan och bara köra Tempus Hemma? /en förälder",
        "Plaskdammen är stängd för säsongen.",
        "1,234 Followers, 56 Following, 789 Posts - See Instagram photos and videos from Förskolan Solen (@solen)",
        "Tempus Hemma",  # a bare mention is not a notice
        "",
    ],
)
def test_hard_negatives_are_not_flagged(text):
    found = read(text)
    assert found.score < 0.6, found


def test_nothing_in_the_text_gives_no_kind_and_no_evidence():
    assert read("Idag har vi bakat bullar.") == Finding(None, 0.0, (), "")
    assert read("") == NOTHING and read("   \n ") == NOTHING
    assert score("Idag har vi bakat bullar.") == (0.0, (), None)


def test_the_detector_is_pure():
    text = "Bloggen stängs ner, vi går över till Tempus Hemma. Tack för att ni följt oss!"
    assert read(text) == read(text) and 0.9 <= read(text).score <= 1.0


def test_matched_phrases_come_from_the_original_text():
    found = read("Från och med 1 april hittar ni all information i Tempus Hemma")
    assert "Tempus Hemma" in found.matched
    assert all(p in "Från och med 1 april hittar ni all information i Tempus Hemma" for p in found.matched)


def test_threshold_decides_what_is_flagged():
    text = PublicText("title", "Tempus Hemma ersätter bloggen.")
    value = read(text.text).score
    assert detect([text], threshold=value)
    assert detect([text], threshold=value + 0.01) == []
    bare = read("Tempus Hemma").score
    assert 0.0 < bare < 0.6
    assert detect([PublicText("bio", "Tempus Hemma")]) == []
    assert detect([PublicText("bio", "Tempus Hemma")], threshold=bare)


def test_detect_returns_one_hit_per_flagged_text_with_its_url_date_and_kind():
    when = datetime(2023, 3, 1, tzinfo=timezone.utc)
    texts = [
        PublicText("title", "Vi har bakat bullar", "https://b.example/bullar", when),
        PublicText("summary", "Bloggen stängs ner, vi går över till Tempus", "https://b.example/hej", when),
        PublicText("bio", "Den här sidan uppdateras inte längre. Följ oss på Instagram!"),
    ]
    hits = detect(texts)
    assert [h.post_url for h in hits] == ["https://b.example/hej", None]
    assert [h.kind for h in hits] == ["move", "elsewhere"]
    assert hits[0].published_at == when
    assert hits[0].snippet == "Bloggen stängs ner, vi går över till Tempus"
    assert all(h.score >= 0.6 and h.matched for h in hits)


def test_per_post_the_strongest_text_is_kept_a_weak_title_gives_way_to_a_decisive_excerpt():
    # As seen on real WordPress: 0.1 kept a title scoring 0.65 and dropped the excerpt's 1.00.
    when = datetime(2023, 3, 1, tzinfo=timezone.utc)
    url = "https://b.example/viktigt"
    title, excerpt = "Tempus Hemma", "Bloggen stängs ner. Från och med 1 april hittar ni all information i Tempus Hemma."
    weak = read(title).score
    assert 0.0 < weak < read(excerpt).score
    texts = [PublicText("title", title, url, when), PublicText("summary", excerpt, url, when),
             PublicText("bio", "Vi har flyttat! Följ oss på Instagram @solen"),
             PublicText("description", "Den här sidan uppdateras inte längre. Följ oss på Instagram!")]
    hits = detect(texts, threshold=weak)
    assert [(h.post_url, h.snippet) for h in hits[:1]] == [(url, excerpt)]
    assert len(hits) == 2 and hits[1].post_url is None  # one for the account's own texts: the strongest
    assert hits[1].score == max(read(t.text).score for t in texts[2:])


def test_keep_strongest_reduces_hits_found_text_by_text_as_detect_does():
    # A parse worker reads each text alone; what the crawl keeps of them is what detect keeps.
    when = datetime(2023, 3, 1, tzinfo=timezone.utc)
    texts = [PublicText("title", "Hej då bloggen", "https://b.example/a", when),
             PublicText("summary", "Vi har bakat bullar", "https://b.example/a", when),
             PublicText("summary", "Bloggen stängs ner. All information kommer i Tempus Hemma.", "https://b.example/a", when),
             PublicText("title", "Sista inlägget", "https://b.example/b", when),
             PublicText("bio", "Vi har flyttat! Följ oss på Instagram @solen"),
             PublicText("description", "Den här sidan uppdateras inte längre. Följ oss på Instagram!")]
    one_by_one = [found[0] if (found := detect([t])) else None for t in texts]
    assert one_by_one[1] is None
    kept = keep_strongest(one_by_one)
    assert kept == detect(texts)
    assert [h.post_url for h in kept] == ["https://b.example/a", "https://b.example/b", None]
    assert kept[0].kind == "move" and kept[0].score > one_by_one[0].score


def test_snippet_is_short_whitespace_collapsed_and_around_the_match():
    filler = "Idag har vi lekt i parken och   ätit\n\nmellanmål. " * 12
    text = filler + "Från och med 1 april hittar ni all information i Tempus Hemma. " + filler
    (hit,) = detect([PublicText("summary", text)])
    assert len(hit.snippet) <= SNIPPET_CHARS
    assert "Tempus Hemma" in hit.snippet and "hittar ni all information" in hit.snippet
    assert "  " not in hit.snippet and "\n" not in hit.snippet
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")


def test_a_notice_in_the_middle_of_a_long_post_is_found_and_kept_in_the_snippet():
    text = ("Vilken fin höst vi har haft! Barnen har byggt kojor i skogen, letat svamp och målat löv i alla "
            "färger. Tack alla föräldrar som kom på skördefesten, det var så roligt att se er. Vi vill också "
            "berätta att det här blir ett av de sista inläggen på bloggen, eftersom vi efter jullovet lägger "
            "allt i Tempus Hemma. Där kan ni se bilder och läsa veckobrev precis som här. Nu önskar vi er "
            "en riktigt god jul och ett gott nytt år! Hälsningar från Elsa och alla andra på Stjärnan.")
    found = read(text)
    assert found.kind == "move" and found.score >= 0.6
    assert "Tempus Hemma" in found.snippet and "sista inläggen" in found.snippet
    assert len(found.snippet) <= SNIPPET_CHARS and "Elsa" not in found.snippet


def test_only_the_first_part_of_a_long_text_is_read():
    notice = "Bloggen stängs ner och all information kommer i Tempus Hemma."
    filler = "Idag har vi lekt i parken och ätit mellanmål. " * 100
    assert read(notice + " " + filler).kind == "move"
    assert read(filler + notice).score < 0.6  # beyond READ_CHARS: never read, however long the text
    assert len(filler) > READ_CHARS


def test_hostile_texts_are_read_only_this_far():
    for text in ("bloggen " * 50_000, "inte " * 50_000, "följ oss i " * 20_000, "sista inlägg. " * 20_000):
        found = read(text)
        assert 0.0 <= found.score <= 1.0 and len(found.snippet) <= SNIPPET_CHARS


def test_time_and_destination_words_in_matched():
    found = read("Tack för att ni har följt oss! Från 1 april går vi över till Tempus Hemma.")
    assert found.kind == "move" and any("går vi över till" in m for m in found.matched)


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


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FIXTURES = ROOT / "tests" / "fixtures" / "notices"
BLIND = ("fresh_A", "fresh_B", "fresh_C", "fresh_D", "fresh_E")
# Texts per kind of each blind set: fresh_A..D (texts) 100 each, fresh_E (texts2) 160.
BLIND_KINDS = {"fresh_E": {"move": 48, "closing": 24, "elsewhere": 24, "none": 64}}
BLIND_DEFAULT = {"move": 30, "closing": 15, "elsewhere": 15, "none": 40}


def test_labelled_set_has_every_kind_and_hard_negatives():
    rows = _script("notice_accuracy").load()
    assert len(rows) >= 1000
    kinds = {k: sum(r["kind"] == k for r in rows) for k in ("move", "closing", "elsewhere", "none")}
    assert kinds["none"] >= 0.4 * len(rows) and min(kinds.values()) >= 80, kinds
    assert all(r["note"] and r["split"] for r in rows)


def test_the_shipped_model_was_built_from_the_committed_labelled_sets():
    # Rebuild with `make model` (scripts/train_notice_model.py) after changing a labelled file.
    train = _script("train_notice_model")
    meta = notice_model.shipped().meta
    assert meta["trained_on_sha256"] == train.fingerprint()
    assert meta["trained_on"] == [str(p.relative_to(ROOT)) for p in train.training_files()]
    assert {f"{name}.jsonl" for name in BLIND} <= {p.name for p in train.training_files()}


@pytest.mark.parametrize("name", BLIND)
def test_each_blind_set_is_committed_whole_with_its_first_score_recorded(name):
    rows = _script("notice_accuracy").load(FIXTURES / f"{name}.jsonl")
    kinds = BLIND_KINDS.get(name, BLIND_DEFAULT)
    assert len(rows) == sum(kinds.values())
    assert {k: sum(r["kind"] == k for r in rows) for k in ("move", "closing", "elsewhere", "none")} == kinds
    accuracy = (ROOT / "docs" / "ACCURACY.md").read_text(encoding="utf-8")
    assert f"| {name} |" in accuracy


def test_detector_stays_above_target_on_every_labelled_set():
    # In-sample once learnt from (the unseen figures are the first scores in docs/ACCURACY.md);
    # this guards against a change that breaks what was already right.
    module = _script("notice_accuracy")
    sets = [module.load()] + [module.load(FIXTURES / f"{name}.jsonl") for name in BLIND]
    result = module.evaluate([r for rows in sets for r in rows], threshold=0.6)
    wrong = [(what, row["kind"], found.kind, row["text"]) for what, found, row in result["wrong"]]
    assert result["precision"] >= 0.97 and result["recall"] >= 0.98, wrong
    assert result["kind_precision"] >= 0.96 and result["kind_recall"] >= 0.97, wrong


def test_accuracy_script_scores_an_extra_labelled_file(tmp_path, capsys):
    extra = tmp_path / "reviewed.jsonl"
    extra.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"text": "Bloggen stängs ner.", "kind": "closing"},
        {"text": "Från och med nu hittar ni oss på Facebook.", "label": "elsewhere"},
        {"text": "Glöm inte att registrera frånvaro i Tempus", "label": 0},
        {"text": "Från och med 1 april hittar ni all information i Tempus Hemma", "label": 1},
    ]) + "\n", encoding="utf-8")
    module = _script("notice_accuracy")
    assert module.main([str(extra), "--only-files", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)["reviewed"]
    assert (figures["n"], figures["tp"], figures["fp"], figures["fn"], figures["tn"]) == (4, 3, 0, 0, 1)
    assert figures["kinds"]["closing"]["tp"] == 1 and figures["kinds"]["elsewhere"]["tp"] == 1


def test_accuracy_script_refuses_a_bad_file_with_its_line(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok", "kind": "none"}\n{"text": "x", "kind": "moved"}\n', encoding="utf-8")
    assert _script("notice_accuracy").main([str(bad), "--only-files"]) == 2
    assert f"Error: {bad}:2: unknown kind 'moved'" in capsys.readouterr().err


def test_the_platforms_named_are_the_registrys():
    """A social platform registered later (a plug-in) is a destination and a closing account like
    Instagram and Facebook, its aliases as whole words; its label is never masked as a name."""
    from crawler.notices import signals
    from crawler.platforms import registry

    text = "Bloggen läggs ner, följ oss på Mastodon istället!"
    assert {"social", "other"}.isdisjoint(signals(text))
    assert mask_names("Grattis Mastodon!") == "Grattis [namn]!"
    platform = registry.Platform(name="mastodon", label="Mastodon", parse=lambda *a: None,
                                 candidates=lambda url, feed: [url], kind="social", hosts=("mastodon.social",),
                                 aliases=("toot",))
    with registry.registered(platform):
        assert {"social", "other"} <= signals(text)
        found = read(text)
        assert found.kind == "elsewhere" and "på Mastodon istället" in found.matched
        assert "social" in signals("Vi finns nu på toot!") and "social" not in signals("Vi finns nu på tootsie!")
        assert "closing" in signals("Vi stänger vårt Mastodonkonto.")
        assert mask_names("Grattis Mastodon!") == "Grattis Mastodon!"
    assert {"social", "other"}.isdisjoint(signals(text))
    # the built-in ones, by name, compound and alias
    for said in ("på Instagram", "på instagramsidan", "på insta", "på IG", "på fb", "på Facebook"):
        assert "social" in signals(f"Följ oss {said} istället!"), said


def test_unseen_sets_are_never_training_data():
    """The unseen sets measure the shipped detector; the model's trainer must not read them."""
    spec = importlib.util.spec_from_file_location("train_notice_model", ROOT / "scripts" / "train_notice_model.py")
    train_notice_model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_notice_model)

    unseen = sorted((ROOT / "tests" / "fixtures" / "notices" / "unseen").glob("*.jsonl"))
    assert unseen, "the shipped detector's unseen set is missing"
    inputs = {p.resolve() for p in train_notice_model.training_files()}
    assert not inputs & {p.resolve() for p in unseen}
    texts = {json.loads(line)["text"] for p in inputs for line in p.read_text(encoding="utf-8").splitlines() if line.strip()}
    shared = {json.loads(line)["text"] for path in unseen for line in path.read_text(encoding="utf-8").splitlines()
              if json.loads(line)["text"] in texts}
    # One six-word title was written independently by fresh_F's writer and for the labelled set (see
    # tests/fixtures/notices/unseen/README.md); nothing else may be shared.
    assert shared <= {"Bloggen flyttar in i Tempus Hemma"}


def test_findings_are_those_recorded_on_the_shipped_detector():
    # Issue 21 made the detector cheaper without changing one output (fresh_F's figure must stay
    # true): every labelled text and 400 long synthetic posts give the Finding digests recorded
    # on the detector as shipped (scripts/bench_notices.py --record, before the work).
    bench = _script("bench_notices")
    recorded = json.loads(bench.DIGESTS.read_text(encoding="utf-8"))
    texts = bench.corpus()
    assert {k: len(v) for k, v in recorded.items()} == {k: len(v) for k, v in texts.items()}
    got = bench.digests(texts)
    for name in texts:
        changed = [i for i, (a, b) in enumerate(zip(recorded[name], got[name], strict=True)) if a != b]
        assert not changed, (name, len(changed), [texts[name][i][:80] for i in changed[:3]])
