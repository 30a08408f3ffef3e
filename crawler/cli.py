"""The `crawler` command. Thin: parse options, call one library function, print.

Library code raises crawler.errors.CrawlerError for anything the user can fix; `main()` turns it
into `Error: ...` and a non-zero exit (exit 2 for an invalid registry), with the traceback only
under --debug.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from crawler import __version__, log
from crawler import sources as sources_mod
from crawler.errors import CrawlerError, RegistryError
from crawler.store import Store

DEFAULT_SOURCES = "sources.yaml"


class Context:
    """What every command may need: the registry path, the inventory path, the output mode."""

    def __init__(self, sources: str, db: str | None, debug: bool):
        self.sources = sources
        self.db_override = db
        self.debug = debug
        self._registry: sources_mod.Registry | None = None

    def registry(self) -> sources_mod.Registry:
        if self._registry is None:
            self._registry = sources_mod.load(self.sources)
        return self._registry

    def db_path(self) -> str:
        """--db, else CRAWLER_DB, else `settings: db:` of the registry when it loads, else the default."""
        if self.db_override:
            return self.db_override
        if os.environ.get("CRAWLER_DB"):
            return os.environ["CRAWLER_DB"]
        if Path(self.sources).exists():
            try:
                return self.registry().settings.db
            except RegistryError:
                pass
        from crawler.settings import Settings

        return Settings().db

    def open_store(self, readonly: bool = False) -> Store:
        path = self.db_path()
        if readonly and not Path(path).exists():
            raise CrawlerError(f"no inventory at {path}.\n\nRun `crawler crawl` (or `crawler sources sync`) first.")
        return Store.open(path, readonly=readonly)


pass_ctx = click.make_pass_decorator(Context)


class CrawlerGroup(click.Group):
    """Turns user errors (CrawlerError) into one clear message and an exit code, once, here.

    Exit 2 for an invalid registry, 1 for other errors; the traceback only with --debug.
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CrawlerError as exc:
            if isinstance(ctx.obj, Context) and ctx.obj.debug:
                raise
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2 if isinstance(exc, RegistryError) else 1)


@click.group(cls=CrawlerGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="crawler")
@click.option("--sources", "sources", default=lambda: os.environ.get("CRAWLER_SOURCES", DEFAULT_SOURCES),
              show_default="sources.yaml or $CRAWLER_SOURCES", help="The registry of accounts.")
@click.option("--db", default=None, help="The inventory database (default: settings `db`, db/inventory.sqlite).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Format of the log lines on stderr.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, sources: str, db: str | None, log_format: str, log_level: str, debug: bool) -> None:
    """Inventory of public social-media accounts: is each account active, dormant or gone,
    and did it announce a move to Tempus Hemma? With evidence for every answer.

    Start with `crawler demo` to see it work on a simulated web, then fill in sources.yaml.
    """
    log.setup(log_level, log_format)
    ctx.obj = Context(sources, db, debug)


# --------------------------------------------------------------------------- sources


@cli.group()
def sources() -> None:
    """Check, import and sync the registry of accounts (sources.yaml)."""


@sources.command("check")
@click.argument("file", required=False)
@pass_ctx
def sources_check(obj: Context, file: str | None) -> None:
    """Validate the registry and list every problem with its line and field.

    Exits 0 when the registry is valid, 2 when it is not.

    Example: crawler sources check sources.yaml
    """
    path = file or obj.sources
    registry = sources_mod.load(path)
    by_platform: dict[str, int] = {}
    for a in registry.accounts:
        by_platform[a.platform] = by_platform.get(a.platform, 0) + 1
    summary = ", ".join(f"{n} {p}" for p, n in sorted(by_platform.items())) or "no accounts yet"
    click.echo(f"{path}: OK, {len(registry.accounts)} accounts ({summary})")
    from crawler.settings import contact_problem

    problem = contact_problem(registry.settings)
    if problem:
        click.echo(f"warning: {problem}", err=True)


@sources.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--append-to", type=click.Path(dir_okay=False), default=None,
              help="Append the new entries to this registry (validated first, written atomically).")
@pass_ctx
def sources_import(obj: Context, csv_file: str, append_to: str | None) -> None:
    """Turn the administration's spreadsheet (CSV) into registry entries.

    Columns are matched case-insensitively; Swedish headers (Förskola, Område, Plattform, Länk)
    work. Ids and platforms are derived from the unit and the URL. Rows that cannot be used are
    listed with their row number. Without --append-to the entries are printed.

    Example: crawler sources import konton.csv --append-to sources.yaml
    """
    existing = sources_mod.load(append_to).accounts if append_to and Path(append_to).exists() else []
    result = sources_mod.import_csv(csv_file, existing)
    for problem in result.skipped:
        click.echo(f"skipped {problem}", err=True)
    if append_to:
        sources_mod.append_accounts(append_to, result.accounts)
        click.echo(f"added {len(result.accounts)} accounts to {append_to}; skipped {len(result.skipped)} rows", err=True)
    else:
        click.echo(sources_mod.to_yaml(result.accounts), nl=False)
        click.echo(f"{len(result.accounts)} accounts; skipped {len(result.skipped)} rows", err=True)


@sources.command("sync")
@pass_ctx
def sources_sync(obj: Context) -> None:
    """Bring the registry into the inventory: add, update, deregister (never delete).

    Also done at the start of every crawl. Creates (or migrates) the inventory if needed.

    Example: crawler sources sync
    """
    registry = obj.registry()
    with obj.open_store() as store:
        result = store.sync(registry.accounts, datetime.now(timezone.utc))
        total = len(registry.accounts)
    click.echo(
        f"{obj.db_path()}: {total} registered; added {len(result.added)}, updated {len(result.updated)}, "
        f"deregistered {len(result.deregistered)}, re-registered {len(result.reregistered)}"
    )


# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> None:
    """The console script."""
    cli.main(args=argv, prog_name="crawler")


def _json(data: object) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)
