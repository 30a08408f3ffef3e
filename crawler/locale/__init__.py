"""The message catalogs: every text people read in Swedish (or English) comes from here.

    crawler/locale/crawler.pot                 the messages, extracted from the code and the templates
                                               (`make messages`: pybabel extract, then update)
    crawler/locale/{sv,en}/LC_MESSAGES/crawler.po   their translations (English is the source language:
                                               its catalog is the msgids themselves)
    translations(lang) -> babel.support.Translations   compiled from the .po when first asked (load time)

Message ids are the English texts. A Swedish message that is missing or fuzzy falls back to English,
so tests/test_locale.py fails when one is (and when the code or a template holds a message the
catalog does not). The web app shares these catalogs and crawler/templates/.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from crawler.errors import CrawlerError

DOMAIN = "crawler"
LANGS = ("sv", "en")  # Swedish first: the board's language
HERE = Path(__file__).resolve().parent


def po_path(lang: str) -> Path:
    return HERE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise CrawlerError(f"unknown language {lang!r}; use one of {', '.join(LANGS)}")
    return lang


@functools.cache
def translations(lang: str) -> Translations:
    """The catalog of `lang`, compiled in memory from its .po file (fuzzy entries left out)."""
    check_lang(lang)
    with po_path(lang).open("rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)
