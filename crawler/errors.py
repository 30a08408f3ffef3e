"""The crawler's exceptions, for user errors and broken invariants (never for a site being down).

    CrawlerError                 base: the CLI prints its message and exits non-zero
    ├── RegistryError            sources.yaml (or an imported CSV) is unusable; carries every Problem
    ├── SettingsError            a setting is invalid or unfit (placeholder contact, bad env value)
    ├── StoreError               the inventory cannot be opened, migrated or written
    │   ├── LockedError          another process holds the crawl lock (names the holder)
    │   └── BusyError            another connection (an analyst) holds SQLite's write lock
    └── NotFound                 an id the user named (account, notice) does not exist

A site that is down, slow or hostile is not an exception: it is an outcome on a check.
"""

from __future__ import annotations

from dataclasses import dataclass

from crawler import sanitize


class CrawlerError(Exception):
    """Base class: something the user can fix, with a message that says what."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a registry file: where, which field, what."""

    file: str
    line: int | None
    field: str | None
    message: str
    row: bool = False  # `line` is a spreadsheet row number (CSV import), not a line of the file

    def __str__(self) -> str:
        if self.line is None:
            where = self.file
        else:
            where = f"{self.file} row {self.line}" if self.row else f"{self.file}:{self.line}"
        text = f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        return sanitize.text(text)  # one line, whatever the file held (a problem may quote it)


class RegistryError(CrawlerError):
    """The registry (sources.yaml or a CSV) has problems; `problems` lists every one."""

    def __init__(self, problems: list[Problem], heading: str | None = None, advice: str | None = None):
        self.problems = problems
        count = len(problems)
        lines = "\n".join(str(p) for p in problems)
        heading = heading or f"{count} problem{'s' if count != 1 else ''} in the registry"
        super().__init__(f"{heading}:\n{lines}" + (f"\n\n{advice}" if advice else ""))


class SettingsError(CrawlerError):
    """A setting is invalid, or unfit for what was asked; `problems` names each place (file:line or variable)."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


class StoreError(CrawlerError):
    """The inventory database cannot be opened, migrated or written."""


class LockedError(StoreError):
    """Another crawler process holds the crawl lock."""


class BusyError(StoreError):
    """Another connection holds the database's write lock past the busy timeout (an analyst's
    open write transaction); nothing was written. The crawl's writer waits such a lock out."""


class NotFound(CrawlerError):
    """An account or notice id that was named does not exist."""
