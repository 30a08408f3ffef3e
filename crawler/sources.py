"""The registry: sources.yaml's format, its safe loading, validation with line numbers, CSV import.

sources.yaml has two top-level keys:

    settings:            # optional; any field of crawler.settings.Settings
      contact: it-avdelningen@malmo.se
    accounts:            # one entry per account
      - id: solrosen-blogg
        unit: Förskolan Solrosen
        area: Område Centrum
        platform: wordpress          # a registered platform: wordpress | blogger | blog | instagram | facebook | other
        url: https://solrosen.wordpress.com/
        feed: https://solrosen.wordpress.com/feed/   # optional
        added: 2021-08-15                            # optional
        notes: free text                              # optional

The loader is deliberately stricter than YAML: it refuses aliases (alias bombs), duplicate keys
(PyYAML silently keeps the last one) and oversized files, and reads every account field as the
text written (so `id: 012` stays "012" and `unit: no` stays "no"). Every problem is reported at
once, each with file, line and field.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import json
import os
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from crawler import platforms
from crawler import settings as settings_mod
from crawler.errors import Problem, RegistryError
from crawler.models import Account
from crawler.settings import Settings

MAX_REGISTRY_BYTES = 32 * 1024 * 1024  # ~100,000 accounts fit in a third of this
MAX_CSV_BYTES = 32 * 1024 * 1024

REQUIRED = ("id", "unit", "area", "platform", "url")
OPTIONAL = ("feed", "added", "notes")
ACCOUNT_KEYS = REQUIRED + OPTIONAL
TOP_KEYS = ("settings", "accounts")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")

@dataclass(frozen=True)
class Registry:
    """A validated registry: the accounts and the effective settings."""

    path: str
    accounts: list[Account]
    settings: Settings


# --------------------------------------------------------------------------- YAML, safely


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses aliases; we walk the node tree ourselves for line numbers."""

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _AliasRefused(event.start_mark.line + 1)
        return super().compose_node(parent, index)


class _AliasRefused(Exception):
    def __init__(self, line: int):
        self.line = line


def _compose(text: str, file: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_StrictLoader)
    except _AliasRefused as exc:
        raise RegistryError(
            [Problem(file, exc.line, None, "YAML aliases (*name) are not allowed in the registry; write the value out")]
        ) from None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise RegistryError([Problem(file, line, None, f"not valid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise RegistryError([Problem(file, None, None, f"not valid YAML: {exc}")]) from None


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _plain(node: yaml.Node) -> Any:
    """A node's value as YAML types it (for settings: ints, floats, booleans, host mappings)."""
    return yaml.SafeLoader("").construct_object(node, deep=True)


def _mapping_items(node: yaml.MappingNode, file: str, problems: list[Problem], where: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """The items of a mapping node by key text, reporting duplicate and non-text keys."""
    items: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            problems.append(Problem(file, _line(key_node), None, f"{where}: keys must be plain names"))
            continue
        key = key_node.value
        if key in items:
            first = _line(items[key][0])
            problems.append(Problem(file, _line(key_node), key, f"duplicate key (first at line {first})"))
            continue
        items[key] = (key_node, value_node)
    return items


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


# --------------------------------------------------------------------------- URLs and platforms


def url_problem(url: str) -> str | None:
    """Why `url` is unusable as an account or feed address, or None."""
    if not url or any(c.isspace() for c in url):
        return "must be a URL without spaces"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"malformed URL ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        shown = parts.scheme or "none"
        return f"only http and https URLs can be crawled (scheme is {shown})"
    host = parts.hostname or ""
    if not host:
        return "malformed URL: no host name"
    if "." not in host and host != "localhost" and not host.startswith("["):
        return f"malformed URL: host {host!r} has no domain"
    return None


def host_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def platform_from_url(url: str) -> str | None:
    """The platform a URL certainly belongs to by its host (the registry's detection), or None."""
    return platforms.detect(url, default=None)


def normalize_url(url: str) -> str:
    """A key for spotting the same account written twice: its canonical URL (platforms.canonical_url:
    host aliases, handles' case, tracking parameters) without scheme, www. and trailing slash."""
    canonical = platforms.canonical_url(url)
    parts = urlsplit(canonical)
    path = parts.path.rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"{host_of(canonical)}{path.lower() if platform_from_url(canonical) else path}{query}"


# --------------------------------------------------------------------------- loading


def read_text(path: str | os.PathLike, limit: int = MAX_REGISTRY_BYTES) -> str:
    """Read a registry file, refusing oversized or undecodable ones (before parsing anything)."""
    file = str(path)
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise RegistryError([Problem(file, None, None, f"cannot read: {exc.strerror}")]) from None
    if size > limit:
        raise RegistryError(
            [Problem(file, None, None, f"file is {size / 2**20:.1f} MiB; the limit is {limit / 2**20:.0f} MiB")]
        )
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RegistryError([Problem(file, line, None, "not UTF-8 text; save the file as UTF-8")]) from None


def load(path: str | os.PathLike, environ: dict[str, str] | None = None) -> Registry:
    """Load and validate a registry; raise RegistryError listing every problem."""
    file = str(path)
    return parse(read_text(path), file, environ=environ)


def check(path: str | os.PathLike) -> list[Problem]:
    """Every problem of a registry file (empty when it is valid)."""
    try:
        load(path, environ={})
    except RegistryError as exc:
        return exc.problems
    return []


def parse(text: str, file: str = "sources.yaml", environ: dict[str, str] | None = None) -> Registry:
    """Validate registry text; raise RegistryError listing every problem."""
    problems: list[Problem] = []
    root = _compose(text, file)
    if root is None:
        raise RegistryError([Problem(file, None, None, "the file is empty; it needs an `accounts:` list")])
    if not isinstance(root, yaml.MappingNode):
        raise RegistryError([Problem(file, _line(root), None, "the top level must be a mapping with `accounts:`")])
    top = _mapping_items(root, file, problems, "top level")
    for key, (key_node, _) in top.items():
        if key not in TOP_KEYS:
            problems.append(Problem(file, _line(key_node), key, f"unknown top-level key{_suggest(key, TOP_KEYS)}"))

    overrides = _settings(top.get("settings"), file, problems)
    accounts = _accounts(top.get("accounts"), file, problems)
    if problems:
        raise RegistryError(sorted(problems, key=lambda p: (p.line or 0)))
    try:
        effective = settings_mod.build(overrides, environ)
    except ValueError as exc:  # only environment values can still be wrong here
        raise RegistryError([Problem("environment", None, None, str(exc))]) from None
    return Registry(file, accounts, effective)


def _settings(entry: tuple[yaml.Node, yaml.Node] | None, file: str, problems: list[Problem]) -> dict[str, Any]:
    if entry is None:
        return {}
    key_node, node = entry
    if isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null"):
        return {}
    if not isinstance(node, yaml.MappingNode):
        problems.append(Problem(file, _line(key_node), "settings", "must be a mapping of setting: value"))
        return {}
    values: dict[str, Any] = {}
    for name, (name_node, value_node) in _mapping_items(node, file, problems, "settings").items():
        if name not in settings_mod.FIELDS:
            problems.append(
                Problem(file, _line(name_node), f"settings.{name}", f"unknown setting{_suggest(name, settings_mod.FIELDS)}")
            )
            continue
        try:
            raw = _plain(value_node)
            values[name] = settings_mod.coerce(name, raw)
        except (ValueError, yaml.YAMLError) as exc:
            problems.append(Problem(file, _line(value_node), f"settings.{name}", str(exc)))
    return values


def _accounts(entry: tuple[yaml.Node, yaml.Node] | None, file: str, problems: list[Problem]) -> list[Account]:
    if entry is None:
        problems.append(Problem(file, None, "accounts", "missing: the registry needs an `accounts:` list"))
        return []
    key_node, node = entry
    if isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null"):
        return []  # an empty registry is valid: nothing to crawl yet
    if not isinstance(node, yaml.SequenceNode):
        problems.append(Problem(file, _line(key_node), "accounts", "must be a list of entries (each starting with '- ')"))
        return []

    accounts: list[Account] = []
    seen_ids: dict[str, int] = {}
    seen_urls: dict[str, tuple[int, str]] = {}
    for item in node.value:
        line = _line(item)
        if not isinstance(item, yaml.MappingNode):
            problems.append(Problem(file, line, None, "each account must be a mapping of field: value"))
            continue
        items = _mapping_items(item, file, problems, "account")
        label = ""
        fields: dict[str, Any] = {}
        for name, (name_node, value_node) in items.items():
            if name not in ACCOUNT_KEYS:
                problems.append(Problem(file, _line(name_node), name, f"unknown key{_suggest(name, ACCOUNT_KEYS)}"))
                continue
            if not isinstance(value_node, yaml.ScalarNode):
                problems.append(Problem(file, _line(value_node), name, "must be a single value, not a list or mapping"))
                continue
            value = "" if value_node.tag.endswith(":null") else value_node.value.strip()
            if value == "" and name in OPTIONAL:
                continue
            fields[name] = (value, _line(value_node))
        if "id" in fields:
            label = f" (account {fields['id'][0]!r})"
        for name in REQUIRED:
            if name not in fields:
                problems.append(Problem(file, line, name, f"missing required field{label}"))
            elif not fields[name][0]:
                problems.append(Problem(file, fields[name][1], name, f"must not be empty{label}"))

        duplicate = False
        if fields.get("id", ("", 0))[0]:
            ident, id_line = fields["id"]
            if ident in seen_ids:
                problems.append(Problem(file, id_line, "id", f"duplicate id {ident!r} (first at line {seen_ids[ident]})"))
                duplicate = True
            else:
                seen_ids[ident] = id_line
        account = _account(fields, file, problems, label)
        if account is None or duplicate:
            continue
        key = normalize_url(account.url)
        if key in seen_urls:
            first_line, first_id = seen_urls[key]
            problems.append(
                Problem(file, fields["url"][1], "url", f"duplicate URL: same account as {first_id!r} (line {first_line})")
            )
            continue
        seen_urls[key] = (fields["url"][1], account.id)
        accounts.append(account)
    return accounts


def _account(fields: dict[str, tuple[str, int]], file: str, problems: list[Problem], label: str) -> Account | None:
    before = len(problems)
    if any(name not in fields or not fields[name][0] for name in REQUIRED):
        return None
    ident, id_line = fields["id"]
    if not ID_RE.match(ident):
        problems.append(
            Problem(file, id_line, "id", f"{ident!r}: use lower-case letters, digits, '.', '_' or '-' (at most 80)")
        )
    platform, platform_line = fields["platform"]
    known = platforms.names()
    if platform not in known:
        meant = platforms.by_alias(platform)
        hint = f" (did you mean '{meant.name}'?)" if meant is not None else _suggest(platform, known)
        problems.append(
            Problem(file, platform_line, "platform", f"unknown platform {platform!r}{label}; one of {', '.join(known)}"
                    f"{hint}")
        )
    url, url_line = fields["url"]
    bad = url_problem(url)
    if bad:
        problems.append(Problem(file, url_line, "url", f"{bad}{label}"))
    elif platform in known:
        declared, certain = platforms.get(platform), platforms.registry.detect(url)
        if certain is not None and certain.exclusive and certain.name != platform:
            problems.append(
                Problem(file, platform_line, "platform", f"the URL is on {certain.label} but platform is "
                        f"{platform!r}{label}; write `platform: {certain.name}`")
            )
        elif declared is not None and declared.exclusive and certain not in (None, declared):
            problems.append(Problem(file, platform_line, "platform",
                                    f"the URL is on {certain.label}, not {declared.label}{label}"))
    feed = None
    if "feed" in fields:
        feed, feed_line = fields["feed"]
        bad = url_problem(feed)
        if bad:
            problems.append(Problem(file, feed_line, "feed", f"{bad}{label}"))
    added = None
    if "added" in fields:
        raw, added_line = fields["added"]
        try:
            added = date.fromisoformat(raw)
        except ValueError:
            problems.append(Problem(file, added_line, "added", f"{raw!r} is not a date; write YYYY-MM-DD{label}"))
    if len(problems) > before:
        return None
    notes = fields.get("notes", (None, 0))[0]
    return Account(ident, fields["unit"][0], fields["area"][0], platform, url, feed, added, notes)


# --------------------------------------------------------------------------- CSV import

# Accepted column names (compared case-insensitively, without diacritics and punctuation).
COLUMNS = {
    "id": ("id", "konto-id", "kontoid"),
    "unit": ("unit", "forskola", "enhet", "namn", "name", "preschool", "verksamhet"),
    "area": ("area", "omrade", "forskoleomrade", "stadsomrade", "district"),
    "platform": ("platform", "plattform", "kanal", "typ", "type"),
    "url": ("url", "lank", "link", "adress", "webbadress", "address", "konto"),
    "feed": ("feed", "flode", "rss", "rss-flode"),
    "added": ("added", "tillagd", "datum", "date", "startad"),
    "notes": ("notes", "anteckningar", "anteckning", "kommentar", "notering", "ovrigt"),
}

def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in text if not unicodedata.combining(c) and (c.isalnum() or c == "-"))


def slug(text: str) -> str:
    """A lower-case ASCII slug for ids: 'Förskolan Solrosen' -> 'forskolan-solrosen'."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:60] or "account"


@dataclass(frozen=True)
class ImportResult:
    accounts: list[Account]
    skipped: list[Problem]  # rows not used, with the row number


def import_csv(path: str | os.PathLike, existing: Iterable[Account] = ()) -> ImportResult:
    """Read the administration's spreadsheet (CSV with a header row) into accounts.

    Column names are matched case-insensitively, Swedish headers accepted. Ids are derived from
    unit and platform, stable across imports; rows whose URL is already registered are skipped.
    """
    file = str(path)
    raw = Path(path).read_bytes()[: MAX_CSV_BYTES + 1]
    if len(raw) > MAX_CSV_BYTES:
        raise RegistryError([Problem(file, None, None, f"file is larger than {MAX_CSV_BYTES / 1e6:.0f} MB")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")  # Excel's default "CSV" on Swedish Windows
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    if not rows:
        raise RegistryError([Problem(file, None, None, "the file is empty")])
    header = [_fold(h) for h in rows[0]]
    index: dict[str, int] = {}
    for field, names in COLUMNS.items():
        for i, h in enumerate(header):
            if h in names and field not in index:
                index[field] = i
    missing = [f for f in ("unit", "url") if f not in index]
    if missing:
        raise RegistryError(
            [Problem(file, 1, None, f"no column for {', '.join(missing)}; header is {rows[0]!r}. "
                     "Name the columns e.g. Förskola, Område, Plattform, Länk")]
        )

    taken_ids = {a.id for a in existing}
    taken_urls = {normalize_url(a.url): a.id for a in existing}
    accounts: list[Account] = []
    skipped: list[Problem] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(field: str, row: list[str] = row) -> str:
            i = index.get(field)
            return row[i].strip() if i is not None and i < len(row) else ""

        url = cell("url")
        if url and "://" not in url:
            url = "https://" + url
        problem = url_problem(url) if url else "no URL"
        if problem:
            skipped.append(Problem(file, number, "url", problem))
            continue
        if not cell("unit"):
            skipped.append(Problem(file, number, "unit", "no unit (preschool) name"))
            continue
        key = normalize_url(url)
        if key in taken_urls:
            skipped.append(Problem(file, number, "url", f"already registered as {taken_urls[key]!r}"))
            continue
        platform = platform_from_url(url)
        written = _fold(cell("platform"))
        if platform is None:
            meant = platforms.by_alias(written) if written else platforms.get("blog")
            platform = meant.name if meant is not None else None
            if platform is None:
                skipped.append(Problem(file, number, "platform", f"unknown platform {cell('platform')!r}"))
                continue
        ident = cell("id").lower() or f"{slug(cell('unit'))}-{platform}"
        if ident in taken_ids:
            ident = f"{ident}-{hashlib.sha256(key.encode()).hexdigest()[:6]}"
        if not ID_RE.match(ident) or ident in taken_ids:
            skipped.append(Problem(file, number, "id", f"cannot derive a unique id ({ident!r})"))
            continue
        added = None
        if cell("added"):
            try:
                added = date.fromisoformat(cell("added")[:10])
            except ValueError:
                skipped.append(Problem(file, number, "added", f"{cell('added')!r} is not a date (YYYY-MM-DD)"))
                continue
        account = Account(ident, cell("unit"), cell("area") or "okänt", platform, url, cell("feed") or None,
                          added, cell("notes") or None)
        taken_ids.add(ident)
        taken_urls[key] = ident
        accounts.append(account)
    return ImportResult(accounts, skipped)


def _yaml_str(value: str) -> str:
    # json-style double quotes are valid YAML and keep 'no', '012', ':' and '#' as text.
    return json.dumps(value, ensure_ascii=False)


def to_yaml(accounts: Iterable[Account]) -> str:
    """Registry entries as YAML text (the `accounts:` list items), for appending or printing."""
    out = []
    for a in accounts:
        out.append(f"  - id: {a.id}")
        out.append(f"    unit: {_yaml_str(a.unit)}")
        out.append(f"    area: {_yaml_str(a.area)}")
        out.append(f"    platform: {a.platform}")
        out.append(f"    url: {_yaml_str(a.url)}")
        if a.feed:
            out.append(f"    feed: {_yaml_str(a.feed)}")
        if a.added:
            out.append(f"    added: {a.added.isoformat()}")
        if a.notes:
            out.append(f"    notes: {_yaml_str(a.notes)}")
    return "\n".join(out) + ("\n" if out else "")


def append_accounts(path: str | os.PathLike, accounts: list[Account]) -> None:
    """Append entries to a registry file whose last top-level key is `accounts:`.

    The combined text is validated before anything is written, and written atomically, so a
    failure leaves the file as it was (comments and order kept).
    """
    file = str(path)
    text = read_text(path)
    if not text.endswith("\n"):
        text += "\n"
    if not re.search(r"^accounts:", text, re.M):
        text += "accounts:\n"
    text = re.sub(r"^accounts:\s*\[\s*\]\s*$", "accounts:", text, flags=re.M)
    combined = text + to_yaml(accounts)
    parse(combined, file, environ={})  # raises, naming the problem, before anything is written
    tmp = Path(f"{file}.tmp")
    tmp.write_text(combined, encoding="utf-8")
    os.replace(tmp, file)
