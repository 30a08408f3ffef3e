"""The message catalogs (crawler/locale): complete in Swedish, in step with the code and templates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from crawler import locale

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"\{(\w+)[^}]*\}")


def extracted() -> dict[str, tuple[str, ...]]:
    """What `make messages` extracts from the code and the templates: msgid -> translators' comments."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    out: dict[str, tuple[str, ...]] = {}
    keywords = {**DEFAULT_KEYWORDS, "NP_": (1, 2)}  # as the Makefile's `-k NP_:1,2` (crawler.report.figures)
    for _file, _line, message, comments, _context in extract_from_dir(
            ROOT, method_map, options_map, keywords=keywords, comment_tags=("TRANSLATORS:",), strip_comment_tags=True):
        key = message[0] if isinstance(message, tuple) else message
        out[key] = out.get(key, ()) + tuple(comments)
    return out


def catalog(lang: str):
    with locale.po_path(lang).open("rb") as f:
        return read_po(f, locale=lang)


@pytest.fixture(scope="module")
def messages() -> dict[str, tuple[str, ...]]:
    return extracted()


@pytest.mark.parametrize("lang", locale.LANGS)
def test_every_message_of_the_code_and_templates_is_in_the_catalog(messages, lang):
    ids = {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalog(lang) if m.id}
    missing = sorted(set(messages) - ids)
    assert not missing, f"run `make messages` and translate: {missing}"
    stale = sorted(ids - set(messages))
    assert not stale, f"messages no longer used (run `make messages`): {stale}"


def test_every_swedish_message_is_translated_and_keeps_its_placeholders(messages):
    problems = []
    for m in catalog("sv"):
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if "fuzzy" in m.flags or not all(strings):
            problems.append(f"not translated: {ids[0]!r}")
            continue
        allowed = {p for i in ids for p in PLACEHOLDER.findall(i)}
        allowed |= {p for c in messages.get(ids[0], ()) for p in PLACEHOLDER.findall(c)}  # "also given"
        for s in strings:
            extra = set(PLACEHOLDER.findall(s)) - allowed
            if extra:
                problems.append(f"{ids[0]!r}: unknown placeholders {sorted(extra)} in {s!r}")
    assert not problems, "\n".join(problems)


def test_english_is_the_source_language():
    for m in catalog("en"):
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        assert not m.id or all(s in ("", *ids) for s in strings), m.id


def test_catalogs_are_compiled_when_first_asked_for():
    sv = locale.translations("sv")
    assert sv.gettext("login wall") == "kräver inloggning"
    assert sv.ngettext("{n} check", "{n} checks", 3) == "{n} kontroller"
    assert locale.translations("en").gettext("login wall") == "login wall"
    assert locale.translations("sv") is sv  # once per process
    with pytest.raises(Exception, match="unknown language 'de'"):
        locale.translations("de")


class _Missing:
    """A gettext fallback that records the messages the catalog did not have."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def gettext(self, message: str) -> str:
        self.seen.add(message)
        return message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        self.seen.add(singular)
        return singular if n == 1 else plural


def test_every_message_the_swedish_report_asks_for_is_in_the_catalog(tmp_path):
    """At run time, not only what extraction finds: a message built in an f-string or passed by a
    variable is caught too, in every format of the report and every reason."""
    from crawler import reasons
    from crawler import report as R
    from crawler.store import Store

    from .test_reasons import every_reason
    from .test_report import at, build

    path = tmp_path / "inventory.sqlite"
    with Store.open(path) as store:
        build(store)
    with Store.open(path, readonly=True) as store:
        reps = [R.build_report(store, "2023-03-01", "2023-04-15", every=every, now=at("2023-05-20"))
                for every in (None, "1m", "6m", "2w", "1y", "10d")]
        reps.append(R.build_report(store, "2022-06-01", "2023-04-15"))  # a date that is not available
    sv = locale.translations("sv")
    missing = _Missing()
    sv.add_fallback(missing)
    try:
        for rep in reps:
            for fmt in ("md", "html", "csv", "json", "xlsx", "docx"):
                R.render(rep, fmt, "sv")
        for verdict in every_reason().values():
            reasons.render(verdict.why, "sv")
    finally:
        sv._fallback = None
    assert not missing.seen, f"not in the Swedish catalog: {sorted(missing.seen)}"
