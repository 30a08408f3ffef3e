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
(PyYAML silently keeps the last one), nesting deeper than the format needs, oversized files and
URLs that carry a password, and reads every account field as the text written (so `id: 012` stays
"012" and `unit: no` stays "no"). Every problem is reported at once, each with file, line and
field; likely typos (an area or unit spelled two ways) are warnings.

It reads the YAML event stream (libyaml's C parser when PyYAML has it) and builds each account as
its events arrive, never a node tree of the whole file: a tree of 100,000 accounts costs ~0.5 GB and
a recursive composer dies on deep nesting. `RegistryFile` re-reads the file only when it changed.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import hashlib
import io
import json
import os
import re
import time
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

import yaml
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from crawler import platforms
from crawler import settings as settings_mod
from crawler.errors import Problem, RegistryError, SettingsError
from crawler.models import Account
from crawler.settings import Settings

MAX_REGISTRY_BYTES = 32 * 1024 * 1024  # 100,000 accounts take ~19 MiB
MAX_CSV_BYTES = 32 * 1024 * 1024
RACY_SECONDS = 2.0  # an mtime this recent may not yet tell two edits apart
MAX_DEPTH = 16  # the format needs 3 levels (top, settings, host_delays); anything deep is a slip or an attack

REQUIRED = ("id", "unit", "area", "platform", "url")
OPTIONAL = ("feed", "added", "notes", "route")
ACCOUNT_KEYS = REQUIRED + OPTIONAL
TOP_KEYS = ("settings", "accounts")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")

# Query parameters that carry a secret: a URL with one must not be stored, synced or exported.
SECRET_PARAMS = frozenset({
    "access_token", "token", "auth", "password", "passwd", "pwd", "secret", "client_secret",
    "api_key", "apikey", "key", "sig", "signature",
})

_NULLS = frozenset(("", "~", "null", "Null", "NULL"))  # YAML 1.1's plain nulls, as PyYAML resolves them
_NULL_TAG = "tag:yaml.org,2002:null"
_SPACE = re.compile(r"\s")
# An http(s) URL with a plain lower-case host that has a dot, no port, user, query or fragment.
_SIMPLE_URL = re.compile(r"(https?)://((?:[a-z0-9-]+\.)+[a-z0-9-]+)((?:/[^?#\s\\]*)?)\Z")


@dataclass(frozen=True)
class Registry:
    """A validated registry: the accounts, the effective settings and any warnings (likely typos)."""

    path: str
    accounts: list[Account]
    settings: Settings
    warnings: tuple[Problem, ...] = ()


def _suggest(word: str, choices: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


# --------------------------------------------------------------------------- URLs and platforms


def _split(url: str):
    """(problem, parts, host) of an account or feed address: why it is unusable (or None), its
    urlsplit parts and its host name (lower case, no port or trailing dot)."""
    simple = _SIMPLE_URL.match(url)
    if simple:  # most registry URLs: what urlsplit would say, at a fifth of its cost
        return None, SplitResult(simple[1], simple[2], simple[3], "", ""), simple[2]
    if not url or _SPACE.search(url):
        return "must be a URL without spaces", None, ""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"malformed URL ({exc})", None, ""
    netloc = parts.netloc
    if "@" in netloc:
        return ("the URL carries a user name or password (the part before '@'). Passwords never belong in "
                "sources.yaml: it is shared, copied into the inventory and exported. Write the public address "
                "without it (the crawler reads only public pages); change that password if it was real"), None, ""
    if parts.query and any(k.lower() in SECRET_PARAMS for k, _ in parse_qsl(parts.query, keep_blank_values=True)):
        return ("the URL carries a token or password in its query (e.g. access_token=). Secrets never belong in "
                "sources.yaml: it is shared, copied into the inventory and exported. Remove that parameter; "
                "an API token goes in the environment, never in the registry"), None, ""
    if ":" in netloc:
        try:
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            return f"malformed URL ({exc})", None, ""
    if parts.scheme.lower() not in ("http", "https"):
        shown = parts.scheme or "none"
        return f"only http and https URLs can be crawled (scheme is {shown})", None, ""
    host = parts.hostname or ""
    if not host:
        return "malformed URL: no host name", None, ""
    if "." not in host and host != "localhost" and not host.startswith("["):
        return f"malformed URL: host {host!r} has no domain", None, ""
    return None, parts, host.rstrip(".")


def url_problem(url: str) -> str | None:
    """Why `url` is unusable as an account or feed address, or None."""
    return _split(url)[0]


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


def _url_key(url: str, parts, host: str, platform) -> str:
    """normalize_url(url), from the split the validation made (tests hold the two equal). A plain
    URL (lower-case host; no query, port or fragment) is already split the way canonical_url would
    split it, so only the platform's own rule is applied: a fifth of the cost, 100,000 times."""
    if parts.query or parts.fragment or not _SIMPLE_URL.match(url):
        return normalize_url(url)
    path, query = parts.path, ""
    if platform is not None and platform.canonical is not None:
        canon = platform.canonical(platforms.registry.Url(parts.scheme, host, None, path or "/", ()))
        if canon.host != host:
            host = canon.host
            platform = platforms.registry.detect_host(host)
        path = canon.path
        query = f"?{urlencode(canon.query)}" if canon.query else ""
    path = path.rstrip("/")
    if host.startswith("www."):
        host = host[4:]
    return f"{host}{path.lower() if platform is not None else path}{query}"


# --------------------------------------------------------------------------- the YAML event stream


class _Events:
    """The registry text as YAML events, refusing aliases and deep nesting as they come."""

    def __init__(self, text: str, file: str):
        loader = getattr(yaml, "CSafeLoader", None) if yaml.__with_libyaml__ else None
        self._loader = (loader or yaml.SafeLoader)(text)
        # The next event, unchecked: callers pass every event but plain scalars to `track`. YAML
        # errors are turned into registry problems once, by parse().
        self.get = self._loader.get_event
        self.file = file
        self.depth = 0

    def close(self) -> None:
        dispose = getattr(self._loader, "dispose", None)
        if dispose is not None:
            dispose()

    def error(self, line: int | None, message: str) -> RegistryError:
        return RegistryError([Problem(self.file, line, None, message)])

    def next(self):
        """The next event, checked (depth, aliases)."""
        return self.track(self.get())

    def track(self, event):
        """Account for `event`: nesting depth, and refuse aliases; return it."""
        if event is None:  # the C parser past the end of the stream (a well-formed stream never gets here)
            raise self.error(None, "not valid YAML: unexpected end of the file")
        if isinstance(event, CollectionStartEvent):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.error(event.start_mark.line + 1, _TOO_DEEP)
        elif isinstance(event, CollectionEndEvent):
            self.depth -= 1
        elif type(event) is AliasEvent:
            raise self.error(event.start_mark.line + 1,
                             "YAML aliases (*name) are not allowed in the registry; write the value out")
        return event

    def skip(self, event) -> None:
        """Consume the rest of the value that `event` starts."""
        if not isinstance(event, CollectionStartEvent):
            return
        level = 1
        while level:
            event = self.next()
            if isinstance(event, CollectionStartEvent):
                level += 1
            elif isinstance(event, CollectionEndEvent):
                level -= 1

    def node(self, event) -> yaml.Node:
        """The value that `event` starts as a YAML node (for the small `settings:` section only)."""
        resolve = _RESOLVER.resolve
        if type(event) is ScalarEvent:
            tag = event.tag if event.tag not in (None, "!") else resolve(yaml.ScalarNode, event.value, event.implicit)
            return yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
        if type(event) is SequenceStartEvent:
            tag = event.tag if event.tag not in (None, "!") else resolve(yaml.SequenceNode, None, event.implicit)
            items = []
            while type(item := self.next()) is not SequenceEndEvent:
                items.append(self.node(item))
            return yaml.SequenceNode(tag, items, event.start_mark, item.end_mark)
        tag = event.tag if event.tag not in (None, "!") else resolve(yaml.MappingNode, None, event.implicit)
        pairs = []
        while type(key := self.next()) is not MappingEndEvent:
            pairs.append((self.node(key), self.node(self.next())))
        return yaml.MappingNode(tag, pairs, event.start_mark, key.end_mark)


_RESOLVER = yaml.resolver.Resolver()
_NAMES_KEY = ("platform names",)  # where `shared` keeps platforms.names() for one load
_TOO_DEEP = (f"nested more than {MAX_DEPTH} levels deep; the registry needs 3 (top level, settings, "
             "host_delays): check the indentation and brackets here")


def _line(event) -> int:
    return event.start_mark.line + 1


def _is_null(event) -> bool:
    if event.tag not in (None, "!"):
        return event.tag == _NULL_TAG
    return event.implicit[0] and event.value in _NULLS


def _plain(node: yaml.Node) -> Any:
    """A node's value as YAML types it (for settings: ints, floats, booleans, host mappings)."""
    return yaml.SafeLoader("").construct_object(node, deep=True)


# --------------------------------------------------------------------------- loading


def read_text(path: str | os.PathLike, limit: int = MAX_REGISTRY_BYTES) -> str:
    """Read a registry file, refusing oversized or undecodable ones (before parsing anything)."""
    return decode(read_bytes(path, limit), str(path))


def read_bytes(path: str | os.PathLike, limit: int = MAX_REGISTRY_BYTES) -> bytes:
    file = str(path)
    try:
        size = os.path.getsize(path)
        if size > limit:
            raise RegistryError(
                [Problem(file, None, None, f"file is {size / 2**20:.1f} MiB; the limit is {limit / 2**20:.0f} MiB")]
            )
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise RegistryError([Problem(file, None, None, f"cannot read: {exc.strerror or exc}")]) from None
    if len(data) > limit:  # it grew while we looked
        raise RegistryError([Problem(file, None, None, f"file is larger than {limit / 2**20:.0f} MiB")])
    return data


def decode(data: bytes, file: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RegistryError([Problem(file, line, None, "not UTF-8 text; save the file as UTF-8")]) from None


def load(path: str | os.PathLike, environ: Mapping[str, str] | None = None) -> Registry:
    """Load and validate a registry; raise RegistryError listing every problem."""
    file = str(path)
    return parse(read_text(path), file, environ=environ)


def settings_for(path: str | os.PathLike, environ: Mapping[str, str] | None = None
                 ) -> tuple[Settings, Registry | None, RegistryError | None]:
    """The settings in force for commands that can work without a registry (status, report,
    export, browse, inspect): the registry's own when `path` exists and is valid (returned too, so
    it is read once); the defaults with CRAWLER_* overrides when there is no such file; when it is
    invalid, those defaults and the error, so that a broken registry does not stop a health check
    or a report. A bad CRAWLER_* value is an error either way (SettingsError)."""
    if not Path(path).exists():
        return settings_mod.build(environ=environ), None, None
    try:
        registry = load(path, environ=environ)
    except RegistryError as exc:
        return settings_mod.build(environ=environ), None, exc
    return registry.settings, registry, None


def check(path: str | os.PathLike) -> list[Problem]:
    """Every problem of a registry file (empty when it is valid)."""
    try:
        load(path, environ={})
    except RegistryError as exc:
        return exc.problems
    return []


def _stat_key(path: str | os.PathLike) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class RegistryFile:
    """sources.yaml as a long-running process (`crawler serve`) sees it: re-read only when it changed.

    `current()` returns the last valid registry and parses the file again only when its size, inode
    or mtime moved and its bytes hash differently (an editor that rewrites the same text costs one
    read, no parse). A file whose bytes change is re-validated; if it is now invalid, `current()`
    raises RegistryError once per change (the caller keeps the last valid one) and `problem` keeps
    the failure until a valid version is read.
    """

    def __init__(self, path: str | os.PathLike, initial: Registry | None = None,
                 environ: Mapping[str, str] | None = None):
        self.path = str(path)
        self.environ = environ
        self.last_valid = initial
        self.problem: RegistryError | None = None
        self.loads = 0  # how many times the file was parsed (for tests and logs)
        self._stat: tuple[int, int, int, int] | None = None
        self._digest: str | None = None
        if initial is not None:  # the caller just read it: remember its bytes, do not parse them again
            with contextlib.suppress(RegistryError):
                self._digest = hashlib.blake2b(read_bytes(self.path), digest_size=16).hexdigest()

    def current(self) -> Registry:
        """The registry now: the last one read if the file is unchanged, else the file parsed again."""
        stat = _stat_key(self.path)
        if stat is not None and stat == self._stat:
            return self._result()
        try:
            data = read_bytes(self.path)
        except RegistryError as exc:
            self._stat, self._digest = None, None
            self.problem = exc
            raise
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()
        # An edit within the file system's timestamp granularity of this read would leave the same
        # size and mtime: trust the stat only once the file is older than that (hash it until then).
        self._stat = stat if stat is not None and time.time() - stat[3] / 1e9 > RACY_SECONDS else None
        if digest == self._digest:
            return self._result()
        self._digest = digest
        self.loads += 1
        try:
            registry = parse(decode(data, self.path), self.path, environ=self.environ)
        except RegistryError as exc:
            self.problem = exc
            raise
        self.problem = None
        self.last_valid = registry
        return registry

    def _result(self) -> Registry:
        if self.problem is not None:
            raise self.problem
        assert self.last_valid is not None
        return self.last_valid


def parse(text: str, file: str = "sources.yaml", environ: Mapping[str, str] | None = None) -> Registry:
    """Validate registry text; raise RegistryError listing every problem."""
    events = _Events(text, file)
    collecting = gc.isenabled()
    # Nothing built here forms cycles; the collector would only re-walk the growing account list
    # (a fifth of the time at 100,000 accounts).
    gc.disable()
    try:
        try:
            return _parse(events, file, environ)
        except yaml.MarkedYAMLError as exc:
            line = exc.problem_mark.line + 1 if exc.problem_mark else None
            if "nesting depth" in str(exc.problem):  # libyaml's own limit, met while scanning ahead
                raise events.error(line, _TOO_DEEP) from None
            raise events.error(line, f"not valid YAML: {exc.problem}") from None
        except yaml.YAMLError as exc:
            raise events.error(None, f"not valid YAML: {exc}") from None
        except RecursionError:  # nothing here recurses past MAX_DEPTH; a last guard all the same
            raise events.error(None, "nested too deeply to read; check the indentation and brackets") from None
    finally:
        events.close()
        if collecting:
            gc.enable()


def _parse(events: _Events, file: str, environ: Mapping[str, str] | None) -> Registry:
    events.next()  # StreamStart
    first = events.next()
    if type(first) is StreamEndEvent:
        raise events.error(None, "the file is empty; it needs an `accounts:` list")
    root = events.next()  # after DocumentStart
    if type(root) is not MappingStartEvent:
        raise events.error(_line(root), "the top level must be a mapping with `accounts:`")

    problems: list[Problem] = []
    names = _Names(file)
    overrides: tuple[dict[str, Any], dict[str, int]] = ({}, {})
    accounts: list[Account] | None = None
    seen: dict[str, int] = {}
    while type(key := events.next()) is not MappingEndEvent:
        if type(key) is not ScalarEvent:
            problems.append(Problem(file, _line(key), None, "top level: keys must be plain names"))
            events.skip(key)
            events.skip(events.next())
            continue
        value = events.next()
        name = key.value
        if name in seen:
            problems.append(Problem(file, _line(key), name, f"duplicate key (first at line {seen[name]})"))
            events.skip(value)
            continue
        seen[name] = _line(key)
        if name == "settings":
            overrides = _settings(events, key, value, problems)
        elif name == "accounts":
            accounts = _accounts(events, key, value, problems, names)
        else:
            problems.append(Problem(file, _line(key), name, f"unknown top-level key{_suggest(name, TOP_KEYS)}"))
            events.skip(value)
    events.next()  # DocumentEnd
    if type(after := events.next()) is not StreamEndEvent:
        raise events.error(_line(after), "not valid YAML: the registry is one document, but a second one ('---') starts here")
    if accounts is None:
        problems.append(Problem(file, None, "accounts", "missing: the registry needs an `accounts:` list"))
    values, lines = overrides
    try:
        effective = settings_mod.build(values, environ, file=file, lines=lines)
    except SettingsError as exc:  # every settings problem, each with its line or its variable
        problems.extend(exc.problems)
    if problems:
        raise RegistryError(sorted(problems, key=lambda p: (p.line or 0)))
    return Registry(file, accounts, effective, tuple(names.warnings()))


def _settings(events: _Events, key, value, problems: list[Problem]) -> tuple[dict[str, Any], dict[str, int]]:
    """The `settings:` values as YAML types them, and the line of each (crawler.settings.build checks them)."""
    file = events.file
    if type(value) is ScalarEvent and _is_null(value):
        return {}, {}
    if type(value) is not MappingStartEvent:
        problems.append(Problem(file, _line(key), "settings", "must be a mapping of setting: value"))
        events.skip(value)
        return {}, {}
    node = events.node(value)
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    seen: dict[str, int] = {}
    for name_node, value_node in node.value:
        if not isinstance(name_node, yaml.ScalarNode):
            problems.append(Problem(file, name_node.start_mark.line + 1, None, "settings: keys must be plain names"))
            continue
        name, line = name_node.value, name_node.start_mark.line + 1
        if name in seen:
            problems.append(Problem(file, line, name, f"duplicate key (first at line {seen[name]})"))
            continue
        seen[name] = line
        try:
            values[name] = _plain(value_node)
        except yaml.YAMLError as exc:
            problems.append(Problem(file, value_node.start_mark.line + 1, f"settings.{name}", str(exc)))
            continue
        lines[name] = line if name not in settings_mod.FIELDS else value_node.start_mark.line + 1
    return values, lines


def _accounts(events: _Events, key, value, problems: list[Problem], names: _Names) -> list[Account]:
    file = events.file
    if type(value) is ScalarEvent and _is_null(value):
        return []  # an empty registry is valid: nothing to crawl yet
    if type(value) is not SequenceStartEvent:
        problems.append(Problem(file, _line(key), "accounts", "must be a list of entries (each starting with '- ')"))
        events.skip(value)
        return []

    nxt, get, track = events.next, events.get, events.track
    accounts: list[Account] = []
    seen_ids: dict[str, int] = {}
    seen_urls: dict[str, tuple[int, str]] = {}
    shared: dict[Any, Any] = {}  # one object for each repeated area, unit, platform and date
    while type(item := nxt()) is not SequenceEndEvent:
        line = item.start_mark.line + 1
        if type(item) is not MappingStartEvent:
            problems.append(Problem(file, line, None, "each account must be a mapping of field: value"))
            events.skip(item)
            continue
        fields: dict[str, tuple[str, int]] = {}
        keys: dict[str, Any] = {}  # name -> its key event (for the line of a duplicate)
        # The hot loop (a million events for 100,000 accounts): the raw parser; any event that is not
        # a plain key and value goes through `track` (depth, aliases) like every other event.
        while type(k := get()) is not MappingEndEvent:
            if type(k) is not ScalarEvent:
                track(k)
                problems.append(Problem(file, k.start_mark.line + 1, None, "account: keys must be plain names"))
                events.skip(k)
                events.skip(nxt())
                continue
            v = get()
            if type(v) is not ScalarEvent:
                track(v)
            name = k.value
            if name in keys:
                first = keys[name].start_mark.line + 1
                problems.append(Problem(file, _line(k), name, f"duplicate key (first at line {first})"))
                events.skip(v)
                continue
            keys[name] = k
            if name not in ACCOUNT_KEYS:
                problems.append(Problem(file, _line(k), name, f"unknown key{_suggest(name, ACCOUNT_KEYS)}"))
                events.skip(v)
                continue
            if type(v) is not ScalarEvent:
                problems.append(Problem(file, v.start_mark.line + 1, name, "must be a single value, not a list or mapping"))
                events.skip(v)
                continue
            text = v.value
            if v.tag is None:
                if v.implicit[0] and text in _NULLS:
                    text = ""
                else:
                    text = text.strip()
            else:
                text = "" if _is_null(v) else text.strip()
            if text == "" and name in OPTIONAL:
                continue
            fields[name] = (text, v.start_mark.line + 1)
        track(k)
        found = _entry(fields, line, file, problems, shared)

        ident, id_line = fields.get("id", ("", 0))
        duplicate = False
        if ident:
            if ident in seen_ids:
                problems.append(Problem(file, id_line, "id", f"duplicate id {ident!r} (first at line {seen_ids[ident]})"))
                duplicate = True
            else:
                seen_ids[ident] = id_line
        if "area" in fields:
            names.tally("area", *fields["area"])
        if "unit" in fields:
            names.tally("unit", *fields["unit"], fields.get("area", ("",))[0])
        if found is None or duplicate:
            continue
        account, url_key = found
        if url_key in seen_urls:
            first_line, first_id = seen_urls[url_key]
            problems.append(
                Problem(file, fields["url"][1], "url", f"duplicate URL: same account as {first_id!r} (line {first_line})")
            )
            continue
        seen_urls[url_key] = (fields["url"][1], account.id)
        accounts.append(account)
    return accounts


def entry_from_fields(fields: Mapping[str, tuple[str, int]], line: int, file: str, problems: list[Problem],
                      shared: dict[Any, Any] | None = None, row: bool = False) -> Account | None:
    """One registry entry from its fields (text, line): the Account, or None with every problem appended.

    The one validation of an entry, used by sources.yaml and by the CSV import alike. `shared`
    lets repeated values (areas, units, dates) be one object across entries.
    """
    found = _entry(fields, line, file, problems, shared, row)
    return None if found is None else found[0]


def _entry(fields: Mapping[str, tuple[str, int]], line: int, file: str, problems: list[Problem],
           shared: dict[Any, Any] | None = None, row: bool = False) -> tuple[Account, str] | None:
    """entry_from_fields, with the account's URL key (normalize_url) computed from the same split."""
    shared = {} if shared is None else shared
    before = len(problems)

    def problem(at: int, name: str, message: str) -> None:
        problems.append(Problem(file, at, name, message, row=row))

    ident = fields["id"][0] if "id" in fields else ""
    label = f" (account {ident!r})" if ident else ""
    for name in REQUIRED:
        if name not in fields:
            problem(line, name, f"missing required field{label}")
        elif not fields[name][0]:
            problem(fields[name][1], name, f"must not be empty{label}")
    if ident and not ID_RE.match(ident):
        problem(fields["id"][1], "id", f"{ident!r}: use lower-case letters, digits, '.', '_' or '-' (at most 80)")
    known = shared.get(_NAMES_KEY)
    if known is None:
        known = shared[_NAMES_KEY] = platforms.names()
    platform, platform_line = fields.get("platform", ("", line))
    if platform and platform not in known:
        meant = platforms.by_alias(platform)
        hint = f" (did you mean '{meant.name}'?)" if meant is not None else _suggest(platform, known)
        problem(platform_line, "platform", f"unknown platform {platform!r}{label}; one of {', '.join(known)}{hint}")
    url, url_line = fields.get("url", ("", line))
    parts, host, certain = None, "", None
    if url:
        bad, parts, host = _split(url)
        if bad:
            problem(url_line, "url", f"{bad}{label}")
        else:
            certain = shared.get(("host", host), False)
            if certain is False:
                certain = shared[("host", host)] = platforms.registry.detect_host(host)
            declared = platforms.get(platform) if platform in known else None
            if declared is None:
                pass
            elif certain is not None and certain.exclusive and certain is not declared:
                problem(platform_line, "platform", f"the URL is on {certain.label} but platform is "
                        f"{platform!r}{label}; write `platform: {certain.name}`")
            elif declared.exclusive and certain not in (None, declared):
                problem(platform_line, "platform", f"the URL is on {certain.label}, not {declared.label}{label}")
    feed = fields["feed"][0] if "feed" in fields else None
    if feed:
        bad = _split(feed)[0]
        if bad:
            problem(fields["feed"][1], "feed", f"{bad}{label}")
    added = None
    if "added" in fields:
        raw, added_line = fields["added"]
        added = shared.get(("date", raw))
        if added is None:
            try:
                added = shared[("date", raw)] = date.fromisoformat(raw)
            except ValueError:
                problem(added_line, "added", f"{raw!r} is not a date; write YYYY-MM-DD{label}")
    route = fields["route"][0] if "route" in fields else None
    if route is not None:
        route = _route_problem(route, platform, fields["route"][1], label, problem)
    if len(problems) > before:
        return None
    unit, area = fields["unit"][0], fields["area"][0]
    unit = shared.setdefault(unit, unit)
    area = shared.setdefault(area, area)
    notes = fields["notes"][0] if "notes" in fields else None
    account = Account(ident, unit, area, shared.setdefault(platform, platform), url, feed, added, notes,
                      None if route in (None, "auto") else route)
    return account, _url_key(url, parts, host, certain)


def _route_problem(route: str, platform: str, line: int, label: str, problem) -> str:
    """The `route:` of an entry (crawler/routes.py decides what it means), or a problem."""
    from crawler.routes import ROUTES

    if route not in ROUTES:
        problem(line, "route", f"unknown route {route!r}{label}; one of {', '.join(ROUTES)}{_suggest(route, ROUTES)}")
        return route
    declared = platforms.get(platform)
    if route == "api" and declared is not None and declared.api is None:
        readable = ", ".join(p.label for p in platforms.all_platforms() if p.api)
        problem(line, "route", f"{declared.label} accounts have no API route{label}; only {readable} accounts can "
                "be pinned to `route: api`")
    return route


# --------------------------------------------------------------------------- likely typos


_NOT_WORD = re.compile(r"[\W_]+")
_COMBINING = re.compile("[\u0300-\u036f]")


def fold_name(text: str) -> str:
    """A name as a comparison sees it: no case, accents, punctuation or extra spaces."""
    text = _COMBINING.sub("", unicodedata.normalize("NFKD", text.casefold()))
    return _NOT_WORD.sub(" ", text).strip()


_DIGITS = re.compile(r"\d+")
MIN_TYPO_LETTERS = 5  # shorter names legitimately differ by one letter


@dataclass
class _Names:
    """Each spelling of each area and unit: the line of its first use, how many accounts, its area."""

    file: str
    seen: dict[str, dict[str, list]] = field(default_factory=lambda: {"area": {}, "unit": {}})

    def tally(self, kind: str, name: str, line: int, area: str = "") -> None:
        entry = self.seen[kind].get(name)
        if entry is None:
            self.seen[kind][name] = [line, 1, area]
        else:
            entry[1] += 1

    def warnings(self, row: bool = False) -> list[Problem]:
        out = []
        for kind, names in self.seen.items():
            counts = {n: e[1] for n, e in names.items() if n}
            # A unit's typo twin is looked for in its own area (areas are few: compared all at once).
            blocks = {n: e[2] for n, e in names.items()} if kind == "unit" else None
            for rare, common in near_duplicates(counts, blocks):
                line, count, _ = names[rare]
                first, many, _ = names[common]
                out.append(Problem(
                    self.file, line, kind,
                    f"{_count(count)} with {kind} {rare!r}, {_count(many)} with {common!r} (first at "
                    f"{'row' if row else 'line'} {first}): {_likely(rare, common, count, many)}",
                    row=row))
        return sorted(out, key=lambda p: p.line or 0)


def _count(n: int) -> str:
    return f"{n} account{'s' if n != 1 else ''}"


def _likely(rare: str, common: str, count: int, many: int) -> str:
    if count < many:
        return f"probably a typo of {common!r}; write it the same way everywhere, or ignore this if they differ"
    return "one of them is probably a typo; write it the same way everywhere, or ignore this if they differ"


def near_duplicates(counts: Mapping[str, int], blocks: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """Pairs (rarer, commoner) of distinct names that are probably one name written two ways.

    Two names pair when they are equal without case, accents, punctuation and spaces ("Område
    Norr", "omrade norr", "OmrådeNorr"), or when, in names of at least MIN_TYPO_LETTERS letters,
    one word of at least 3 letters differs by one letter missing, extra, changed or swapped
    ("Område Nor", "Område Norr") and the other words are the same, digits included ("Solrosen 1"
    and "Solrosen 2" are two units). With `blocks`, that second comparison is made only between
    names of the same block (a unit's area). Near-linear: similar words are found among the
    distinct words (a delete-one-letter index), then only names holding such a word are compared.
    """
    by_fold: dict[str, list[str]] = {}
    folded: dict[str, str] = {}
    for name in counts:
        folded[name] = f = fold_name(name)
        by_fold.setdefault(f.replace(" ", ""), []).append(name)
    pairs: list[tuple[str, str]] = []

    def order(a: str, b: str) -> tuple[str, str]:
        return (a, b) if (counts[a], b) < (counts[b], a) else (b, a)

    words_of: dict[str, list[str]] = {}  # each fold's most used spelling -> its words
    for spellings in by_fold.values():
        best = max(spellings, key=lambda n: (counts[n], n)) if len(spellings) > 1 else spellings[0]
        pairs.extend(order(other, best) for other in spellings if other != best)
        words_of[best] = folded[best].split(" ")

    vocabulary = {w for words in words_of.values() for w in words if len(w) >= 3 and w.isalpha()}
    index: dict[str, list[str]] = {}
    for word in vocabulary:
        for key in {word, *(word[:i] + word[i + 1:] for i in range(len(word)))}:
            index.setdefault(key, []).append(word)
    similar: dict[str, set[str]] = {}
    for group in index.values():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if _one_edit(a, b):
                    similar.setdefault(a, set()).add(b)
                    similar.setdefault(b, set()).add(a)
    if not similar:
        return pairs
    slots: dict[tuple, list[tuple[str, str]]] = {}
    for name, words in words_of.items():
        if sum(len(w) for w in words if w.isalpha()) < MIN_TYPO_LETTERS:
            continue
        block = blocks.get(name, "") if blocks else ""
        for j, word in enumerate(words):
            if word in similar:
                slots.setdefault((block, j, *words[:j], "", *words[j + 1:]), []).append((word, name))
    found: set[tuple[str, str]] = set()
    for members in slots.values():
        for i, (word, a) in enumerate(members):
            for other, b in members[i + 1:]:
                if other in similar[word]:
                    found.add((a, b) if a < b else (b, a))
    pairs.extend(order(a, b) for a, b in sorted(found))
    return pairs


def _one_edit(a: str, b: str) -> bool:
    """True when a and b differ by one inserted, deleted, substituted or swapped (adjacent) letter."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        if a[i + 1:] == b[i + 1:]:
            return True
        return i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2:] == b[i + 2:]
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return longer[i + 1:] == shorter[i:]


# --------------------------------------------------------------------------- CSV import

# Accepted column names (compared case-insensitively, without diacritics and punctuation).
COLUMNS = {
    "id": ("id", "konto-id", "kontoid"),
    "unit": ("unit", "forskola", "forskolans-namn", "forskolansnamn", "enhet", "namn", "name", "preschool",
             "verksamhet"),
    "area": ("area", "omrade", "forskoleomrade", "stadsomrade", "district"),
    "platform": ("platform", "plattform", "kanal", "typ", "type"),
    "url": ("url", "lank", "link", "adress", "webbadress", "address", "konto", "webbplats"),
    "feed": ("feed", "flode", "rss", "rss-flode"),
    "added": ("added", "tillagd", "datum", "date", "startad"),
    "notes": ("notes", "anteckningar", "anteckning", "kommentar", "kommentarer", "notering", "ovrigt"),
}

DELIMITERS = (";", ",", "\t")
# Control characters other than tab and newline, and the bidi overrides: never valid in a cell.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


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
    """What a spreadsheet gave: new accounts, rows that could not be used, rows already registered."""

    accounts: list[Account]
    skipped: list[Problem]  # rows not used: the row number and why (Problem.row is True)
    known: list[Problem] = ()  # rows whose account is already in the registry: nothing to do
    ignored_columns: tuple[str, ...] = ()
    rows: int = 0  # data rows read (blank rows not counted)
    warnings: tuple[Problem, ...] = ()  # likely typos among the imported areas and units


def decode_csv(raw: bytes, file: str) -> str:
    """Spreadsheet bytes as text: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text"
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            pass
    elif b"\x00" not in raw:
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
        try:
            return raw.decode("cp1252")  # Excel's default "CSV" on Swedish Windows
        except UnicodeDecodeError:
            pass
    raise RegistryError([Problem(file, None, None, "not a text file in UTF-8, UTF-16 or Windows-1252; "
                                 "in Excel use Save As > 'CSV UTF-8 (comma delimited)'")])


def _delimiter(line: str) -> str:
    """The delimiter of a CSV, judged by its header line alone (one odd data row cannot mislead it)."""
    counts = {d: line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties go to ';', Excel's in Sweden
    return best if counts[best] else ","


def import_csv(path: str | os.PathLike, existing: Iterable[Account] = (), area: str | None = None) -> ImportResult:
    """Read the administration's spreadsheet (CSV with a header row) into accounts.

    Column names are matched case-insensitively, Swedish headers accepted; the delimiter (`;`, `,`
    or tab) is the header's. Each row goes through the registry's own validation; a row that fails
    is skipped with its row number and every reason. Ids are derived from unit and platform, stable
    across imports; rows whose account is already registered (the same URL in any form) are `known`.
    `area` gives every row that area when the file has no area column.
    """
    file = str(path)
    text = decode_csv(read_bytes(path, MAX_CSV_BYTES), file)
    lines = text.splitlines()
    head = next((i for i, line in enumerate(lines) if line.strip(" \t,;")), None)
    if head is None:
        raise RegistryError([Problem(file, None, None, "the file is empty")])
    delimiter = _delimiter(lines[head])
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise RegistryError([Problem(file, None, None, f"not a readable CSV file ({exc})")]) from None
    head = next(i for i, r in enumerate(rows) if any(c.strip() for c in r))
    header_cells = rows[head]
    header = [_fold(h) for h in header_cells]
    index: dict[str, int] = {}
    ignored = []
    for i, h in enumerate(header):
        field_name = next((f for f, names in COLUMNS.items() if h in names), None)
        if field_name is None or field_name in index:
            if header_cells[i].strip():
                ignored.append(header_cells[i].strip())
            continue
        index[field_name] = i
    shown = ", ".join(repr(h.strip()) for h in header_cells)
    missing = [f for f in ("unit", "url") if f not in index]
    if missing:
        raise RegistryError(
            [Problem(file, head + 1, None, f"no column for {' and '.join(missing)}; the header is {shown} "
                     f"(read with {delimiter!r} between columns). Name the columns e.g. Förskola, Område, "
                     "Plattform, Länk", row=True)]
        )
    if "area" not in index and not area:
        raise RegistryError(
            [Problem(file, head + 1, None, f"no column for area; the header is {shown}. Every account needs "
                     "its area: add a column Område, or give --area 'Område Norr' to use one area for every row",
                     row=True)]
        )

    taken_ids = {a.id: normalize_url(a.url) for a in existing}
    taken_urls = {normalize_url(a.url): a.id for a in existing}
    seen_rows: dict[str, tuple[int, str]] = {}
    accounts: list[Account] = []
    skipped: list[Problem] = []
    known: list[Problem] = []
    names = _Names(file)
    shared: dict[Any, Any] = {}
    width = len(header_cells)
    count = 0
    for number, row in enumerate(rows[head + 1:], start=head + 2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line, or a row of empty cells
        count += 1

        def skip(field_name: str | None, message: str, number: int = number) -> None:
            skipped.append(Problem(file, number, field_name, message, row=True))

        extra = [c for c in row[width:] if c.strip()]
        if extra:
            skip(None, f"the row has {len(row)} cells but the header has {width}: is there a {delimiter!r} inside "
                 "a value? Put that value in double quotes")
            continue
        if any(_CONTROL.search(cell) for cell in row):
            skip(None, "a cell holds control or text-direction characters; retype that cell")
            continue

        def cell(name: str, row: list[str] = row) -> str:
            i = index.get(name)
            return row[i].strip() if i is not None and i < len(row) else ""

        if any("\n" in cell(name) or "\r" in cell(name) for name in index if name != "notes"):
            skip(None, "a cell spans several lines (an unclosed double quote?)")
            continue
        url = cell("url")
        if url and "://" not in url and not url.lower().startswith(("mailto:", "javascript:", "data:", "file:")):
            url = "https://" + url
        if not url:
            skip("url", "no URL")
            continue
        bad = url_problem(url)
        if bad:
            skip("url", bad)
            continue
        key = normalize_url(url)
        if key in taken_urls:
            known.append(Problem(file, number, "url", f"already registered as {taken_urls[key]!r}", row=True))
            continue
        if key in seen_rows:
            first, first_id = seen_rows[key]
            skip("url", f"the same account as row {first} ({first_id!r})")
            continue
        unit = " ".join(cell("unit").split())
        row_area = " ".join(cell("area").split()) or ("" if "area" in index else area or "")
        certain = platforms.registry.detect(url)
        written = _fold(cell("platform"))
        said = platforms.by_alias(written) if written else None
        if written and said is None:
            skip("platform", f"unknown platform {cell('platform')!r}; write one of {', '.join(platforms.names())}")
            continue
        if certain is not None and certain.exclusive and said not in (None, certain) and said.kind != "other":
            skip("platform", f"the platform column says {cell('platform')!r} but the URL is on {certain.label}")
            continue
        if said is not None and said.exclusive and certain is not said:
            skip("platform", f"the platform column says {cell('platform')!r} but the URL is not on {said.label}")
            continue
        platform = (certain or said or platforms.get("blog")).name
        ident = cell("id").lower()
        if ident and ident in taken_ids:
            skip("id", f"id {ident!r} is already used by another account")
            continue
        if not ident:
            ident = f"{slug(unit)}-{platform}" if unit else ""
            if ident in taken_ids:
                ident = f"{ident}-{hashlib.sha256(key.encode()).hexdigest()[:6]}"
        added = cell("added")[:10]
        fields = {"id": (ident, number), "unit": (unit, number), "area": (row_area, number),
                  "platform": (platform, number), "url": (url, number)}
        for name, value in (("feed", cell("feed")), ("added", added), ("notes", cell("notes"))):
            if value:
                fields[name] = (value, number)
        if fields.get("feed") and "://" not in fields["feed"][0]:
            fields["feed"] = ("https://" + fields["feed"][0], number)
        problems: list[Problem] = []
        account = entry_from_fields(fields, number, file, problems, shared, row=True)
        if account is None:
            derived = not cell("id")
            skipped.extend(_row_problem(p) for p in problems
                           if not (derived and not unit and p.field == "id"))  # "no unit" says it
            continue
        if account.unit:
            names.tally("unit", account.unit, number, account.area)
        names.tally("area", account.area, number)
        taken_ids[ident] = key
        seen_rows[key] = (number, ident)
        accounts.append(account)
    return ImportResult(accounts, skipped, known, tuple(ignored), count, tuple(names.warnings(row=True)))


def _row_problem(problem: Problem) -> Problem:
    """A registry problem as a spreadsheet row's: in its words (a row has cells, not fields)."""
    message = problem.message
    if problem.field == "unit" and "empty" in message:
        message = "no unit (preschool) name"
    elif problem.field == "area" and "empty" in message:
        message = "no area (område)"
    return Problem(problem.file, problem.line, problem.field, message, row=True)


def _yaml_str(value: str) -> str:
    # json-style double quotes are valid YAML and keep 'no', '012', ':' and '#' as text.
    return json.dumps(value, ensure_ascii=False)


def to_yaml(accounts: Iterable[Account], indent: str = "  ") -> str:
    """Registry entries as YAML text (the `accounts:` list items), for appending or printing;
    `indent` is the list's own indentation (PyYAML writes none, people usually two spaces)."""
    out = []
    inner = indent + "  "
    for a in accounts:
        out.append(f"{indent}- id: {a.id}")
        out.append(f"{inner}unit: {_yaml_str(a.unit)}")
        out.append(f"{inner}area: {_yaml_str(a.area)}")
        out.append(f"{inner}platform: {a.platform}")
        out.append(f"{inner}url: {_yaml_str(a.url)}")
        if a.feed:
            out.append(f"{inner}feed: {_yaml_str(a.feed)}")
        if a.added:
            out.append(f"{inner}added: {a.added.isoformat()}")
        if a.notes:
            out.append(f"{inner}notes: {_yaml_str(a.notes)}")
    return "\n".join(out) + ("\n" if out else "")


_TOP_KEY = re.compile(r"^[^\s#-][^:#]*:", re.M)


def append_accounts(path: str | os.PathLike, accounts: list[Account]) -> None:
    """Append entries to a registry file at the end of its `accounts:` list.

    The new entries follow the list's own indentation and go where the list ends (before a later
    top-level key such as `settings:`). The combined text is validated before anything is
    written, and written atomically, so a failure leaves the file as it was (comments and order kept).
    """
    file = str(path)
    text = read_text(path)
    if not text.endswith("\n"):
        text += "\n"
    if not re.search(r"^accounts:", text, re.M):
        text += "accounts:\n"
    text = re.sub(r"^accounts:\s*\[\s*\]\s*$", "accounts:", text, flags=re.M)
    start = re.search(r"^accounts:.*\n", text, re.M)
    later = _TOP_KEY.search(text, start.end())
    end = later.start() if later else len(text)
    item = re.compile(r"^( *)- ", re.M).search(text, start.end(), end)
    indent = item.group(1) if item else "  "
    head, tail = text[:end], text[end:]
    if head and not head.endswith("\n"):
        head += "\n"
    combined = head + to_yaml(accounts, indent) + tail
    parse(combined, file, environ={})  # raises, naming the problem, before anything is written
    tmp = Path(f"{file}.tmp")
    tmp.write_text(combined, encoding="utf-8")
    os.replace(tmp, file)
