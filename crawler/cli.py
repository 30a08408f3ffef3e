"""The `crawler` command. Thin: parse options, call one library function, print.

Library code raises crawler.errors.CrawlerError for anything the user can fix; `main()` turns it
into `Error: ...` and a non-zero exit (exit 2 for an invalid registry), with the traceback only
under --debug.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from crawler import __version__, log, notices, platforms, sanitize
from crawler import sources as sources_mod
from crawler.clock import time_text, utcnow
from crawler.errors import CrawlerError, RegistryError, StoreError
from crawler.settings import Settings
from crawler.store import Store
from crawler.store.schema import NOTICE_KINDS

DEFAULT_SOURCES = "sources.yaml"


def echo(message: str = "", err: bool = False, nl: bool = True) -> None:
    """Print one output of a command. Every line goes through here: control and bidi characters
    that slipped into what it quotes (a crawled URL, a unit name, a line of a file) are removed
    (crawler.sanitize.lines), so nothing printed can move the cursor, retitle the window or
    reorder the text; values that must stay on one line are cleaned by their formatter first."""
    click.echo(sanitize.lines(message), err=err, nl=nl)


class Context:
    """What every command may need: the registry, the settings in force, the inventory."""

    def __init__(self, sources: str, db: str | None, debug: bool):
        self.sources = sources
        self.db_override = db
        self.debug = debug
        self._registry: sources_mod.Registry | None = None
        self._settings: Settings | None = None
        self.registry_problem: dict | None = None  # what settings() found wrong with the registry

    def registry(self) -> sources_mod.Registry:
        """The registry, which must be valid (RegistryError otherwise)."""
        if self._registry is None:
            self._registry = sources_mod.load(self.sources)
        return self._registry

    def settings(self) -> Settings:
        """The registry's settings, or the defaults when there is no registry or it is invalid (warned)."""
        if self._registry is not None:
            return self._registry.settings
        if self._settings is None:
            self._settings, self._registry, problem = sources_mod.settings_for(self.sources)
            if problem is not None:
                self.registry_problem = {"path": self.sources, "problems": len(problem.problems),
                                         "first": str(problem.problems[0]).splitlines()[0] if problem.problems
                                         else str(problem).splitlines()[0], "since": None, "kept_accounts": None}
                echo(log.user_error(f"{self.sources} is invalid ({len(problem.problems)} problems; "
                                          "`crawler sources check` lists them); using default settings",
                                          kind="warning"), err=True)
        return self._settings

    def db_path(self) -> str:
        """--db, else the settings' `db` (CRAWLER_DB, the registry's `settings: db:`, the default)."""
        return self.db_override or self.settings().db

    def open_store(self, readonly: bool = False) -> Store:
        path = self.db_path()
        if readonly and not Path(path).exists():
            raise CrawlerError(f"no inventory at {path}.\n\nRun `crawler crawl` (or `crawler sources sync`) first.")
        return Store.open(path, readonly=readonly)


pass_ctx = click.make_pass_decorator(Context)


class PlatformChoice(click.Choice):
    """The registry's platform names (and `extra` readers), read when the option is parsed."""

    def __init__(self, *extra: str) -> None:
        self.extra = extra
        self.case_sensitive = True

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        return (*platforms.names(), *self.extra)


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
            code = 2 if isinstance(exc, RegistryError) else 1
            echo(log.user_error(str(exc), exit_code=code), err=True)
            ctx.exit(code)
        except Exception as exc:
            # A bug: under --log-format json even the traceback is one JSON line (the journal's jq reads it).
            if log.FORMAT != "json" or (isinstance(ctx.obj, Context) and ctx.obj.debug):
                raise
            import traceback

            echo(log.user_error(f"{type(exc).__name__}: {exc} (a crawler bug; please report it)", exit_code=1,
                                      exception=traceback.format_exc()), err=True)
            ctx.exit(1)


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
@click.option("--routes", "each_route", is_flag=True,
              help="List the route of every account (the Graph API or the public pages) and why.")
@pass_ctx
def sources_check(obj: Context, file: str | None, each_route: bool) -> None:
    """Validate the registry and list every problem with its line and field.

    Exits 0 when the registry is valid (likely typos, such as an area spelled two ways, are
    printed as warnings), 2 when it is not. Says which route the accounts take (Meta's Graph API
    or the public pages, see docs/META.md) and warns when the API's token cannot be used.

    Example: crawler sources check sources.yaml --routes
    """
    path = file or obj.sources
    registry = sources_mod.load(path)
    by_platform: dict[str, int] = {}
    for a in registry.accounts:
        by_platform[a.platform] = by_platform.get(a.platform, 0) + 1
    summary = ", ".join(f"{n} {p}" for p, n in sorted(by_platform.items())) or "no accounts yet"
    echo(f"{path}: OK, {len(registry.accounts)} accounts ({summary})")
    for warning in registry.warnings:
        echo(f"warning: {warning}", err=True)
    from crawler.settings import contact_problem

    problem = contact_problem(registry.settings)
    if problem:
        echo(f"warning: {problem}", err=True)
    from crawler import routes

    for line in routes.check_lines(registry.accounts, registry.settings, each=each_route):
        echo(line, err=line.startswith("warning:"))


@sources.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--append-to", type=click.Path(dir_okay=False), default=None,
              help="Append the new entries to this registry (validated first, written atomically).")
@click.option("--allow-skipped", is_flag=True,
              help="Import the usable rows even when others cannot be used (they are still listed).")
@click.option("--area", default=None, help="The area of every row, for a file without an area column.")
@pass_ctx
def sources_import(obj: Context, csv_file: str, append_to: str | None, allow_skipped: bool, area: str | None) -> None:
    """Turn the administration's spreadsheet (CSV) into registry entries.

    Columns are matched case-insensitively; Swedish headers (Förskola, Område, Plattform, Länk)
    work; `;`, `,` and tab separated files, UTF-8 and Excel's Windows-1252 and UTF-16 are read.
    Ids and platforms are derived from the unit and the URL, and every row goes through the same
    checks as sources.yaml. Rows already in the registry (the same URL in any form) are left alone.
    Every row that cannot be used is listed with its row number and why, and then nothing is
    written and the exit code is 2, unless --allow-skipped. Without --append-to the entries are
    printed.

    Example: crawler sources import konton.csv --append-to sources.yaml
    """
    existing = sources_mod.load(append_to).accounts if append_to and Path(append_to).exists() else []
    result = sources_mod.import_csv(csv_file, existing, area=area)
    if result.ignored_columns:
        echo(f"note: ignored column(s) {', '.join(map(repr, result.ignored_columns))}", err=True)
    counts = (f"new accounts: {len(result.accounts)}, already registered: {len(result.known)}, "
              f"skipped rows: {len(result.skipped)} of {result.rows}")
    if result.skipped and not allow_skipped:
        raise RegistryError(
            result.skipped,
            heading=f"{len(result.skipped)} of {result.rows} rows of {csv_file} cannot be imported, so nothing was "
                    f"{'written' if append_to else 'printed'}",
            advice=f"Fix those rows and run the import again, or add --allow-skipped to import the other "
                   f"{len(result.accounts)} new accounts now.")
    for problem in result.skipped:
        echo(f"skipped {problem}", err=True)
    if append_to:
        sources_mod.append_accounts(append_to, result.accounts)
        echo(f"{append_to}: {counts}", err=True)
        warnings = sources_mod.load(append_to).warnings if result.accounts else ()
    else:
        echo(sources_mod.to_yaml(result.accounts), nl=False)
        echo(counts, err=True)
        warnings = result.warnings
    for warning in warnings:
        echo(f"warning: {warning}", err=True)


@sources.command("sync")
@pass_ctx
def sources_sync(obj: Context) -> None:
    """Bring the registry into the inventory: add, update, deregister (never delete).

    Also done at the start of every crawl. Creates (or migrates) the inventory if needed.

    Example: crawler sources sync
    """
    registry = obj.registry()
    with obj.open_store() as store:
        result = store.sync(registry.accounts, utcnow())
        total = len(registry.accounts)
    echo(
        f"{obj.db_path()}: {total} registered; added {len(result.added)}, updated {len(result.updated)}, "
        f"deregistered {len(result.deregistered)}, re-registered {len(result.reregistered)}"
    )


# --------------------------------------------------------------------------- review


@cli.group(invoke_without_command=True)
@click.option("--by", "reviewer", default=None, help="Your name, recorded with each decision (asked if missing).")
@click.pass_context
def review(ctx: click.Context, reviewer: str | None) -> None:
    """The reviewers' queue of flagged notices (moves to Tempus Hemma, closings).

    Without a subcommand, walks the pending notices one by one: [c]onfirm, [r]eject, [s]kip,
    [o]pen the link, [q]uit. Every decision is kept with your name, the time and a comment.

    Example: crawler review --by "Anna Svensson"
    """
    if ctx.invoked_subcommand is not None:
        return
    from crawler import review as review_mod

    obj: Context = ctx.obj
    with obj.open_store() as store:
        done = review_mod.walk(store, _ClickPrompts(), reviewer)
    echo("no pending notices" if done is None else review_mod.walk_summary(done))


class _ClickPrompts:
    """The review walk's questions on the terminal."""

    def name(self) -> str:
        return click.prompt("Your name (recorded with each decision)", value_proc=_reviewer_answer)

    def show(self, text: str) -> None:
        echo(text)

    def choose(self) -> str:
        return click.prompt("[c]onfirm, [r]eject, [s]kip, [o]pen link, [q]uit",
                            type=click.Choice(["c", "r", "s", "o", "q"]), show_choices=False)

    def comment(self) -> str:
        return click.prompt("Comment (optional)", default="", show_default=False)

    def open(self, link: str) -> None:
        echo(f"open: {link}")
        if sys.stdout.isatty():
            click.launch(link)

    def warn(self, text: str) -> None:
        echo(text, err=True)


def _reviewer_answer(text: str) -> str:
    """The prompt's check of a reviewer's name: asked again until it names someone."""
    from crawler import review as review_mod

    try:
        return review_mod.reviewer_name(text)
    except review_mod.ReviewError as exc:
        raise click.BadParameter(str(exc)) from None


@review.command("list")
@click.option("--state", type=click.Choice(["pending", "confirmed", "rejected", "all"]), default="pending",
              show_default=True, help="Which notices to list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_ctx
def review_list(obj: Context, state: str, as_json: bool) -> None:
    """List flagged notices: id, unit, platform, date, score, state and snippet.

    Example: crawler review list --state pending
    """
    from crawler import review as review_mod

    with obj.open_store(readonly=True) as store:
        items = review_mod.list_notices(store, state)
    echo(_json([review_mod.to_dict(n) for n in items]) if as_json else review_mod.format_list(items))


@review.command("show")
@click.argument("notice_id", type=int)
@pass_ctx
def review_show(obj: Context, notice_id: int) -> None:
    """Show everything about one notice: account, post, snippet, the link to open, its history.

    Example: crawler review show 12
    """
    from crawler import review as review_mod

    with obj.open_store(readonly=True) as store:
        notice = review_mod.get(store, notice_id)
        echo(review_mod.format_notice(notice, review_mod.history(store, notice_id), store.account(notice.account_id)))


def _decide(obj: Context, decision: str, notice_id: int, reviewer: str, comment: str | None, force: bool,
            kind: str | None = None) -> None:
    from crawler import review as review_mod

    with obj.open_store() as store:
        result = review_mod.decide(store, notice_id, decision, reviewer, comment=comment, force=force, kind=kind)
    n = result.notice
    was = f" (was {result.old_state})" if result.old_state != "pending" else ""
    echo(f"notice {n.id}: {n.state}{was} by {sanitize.text(n.reviewer)}; {sanitize.text(n.unit)} ({n.account_id}) "
         f"announced move: {'yes' if n.announced_move else 'no'}")


@review.command("export-labels")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@pass_ctx
def review_export_labels(obj: Context, file: str) -> None:
    """Write the reviewed notices as a labelled file for scripts/notice_accuracy.py.

    One JSON line per confirmed or rejected notice: its snippet, the kind the reviewer settled on
    ("none" for a rejection), the notice id and the reviewer. Pending notices are left out. The
    file holds snippets of public posts: keep it with the inventory, do not commit or ship it.

    Example: crawler review export-labels reviewed.jsonl && python scripts/notice_accuracy.py reviewed.jsonl --only-files
    """
    from crawler import review as review_mod

    with obj.open_store(readonly=True) as store:
        rows = review_mod.export_labels(store)
    Path(file).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    echo(f"wrote {len(rows)} reviewed notices to {file}")


@review.command("confirm")
@click.argument("notice_id", type=int)
@click.option("--by", "reviewer", required=True, help="Your name, recorded with the decision.")
@click.option("--comment", default=None, help="Why, for the audit trail.")
@click.option("--force", is_flag=True, help="Change the decision on an already reviewed notice.")
@click.option("--kind", type=click.Choice(NOTICE_KINDS), default=None,
              help="Correct what the notice announces: a move to Tempus Hemma, a closing, a move elsewhere.")
@pass_ctx
def review_confirm(obj: Context, notice_id: int, reviewer: str, comment: str | None, force: bool,
                   kind: str | None) -> None:
    """Confirm a notice: the account announces what the notice's kind says, a move to Tempus Hemma
    (sets its announced_move flag), its closing, or a move elsewhere; --kind corrects the kind.

    Example: crawler review confirm 12 --by "Anna Svensson" --comment "blog says so on 1 April"
    """
    _decide(obj, "confirm", notice_id, reviewer, comment, force, kind)


@review.command("reject")
@click.argument("notice_id", type=int)
@click.option("--by", "reviewer", required=True, help="Your name, recorded with the decision.")
@click.option("--comment", default=None, help="Why, for the audit trail.")
@click.option("--force", is_flag=True, help="Change the decision on an already reviewed notice.")
@pass_ctx
def review_reject(obj: Context, notice_id: int, reviewer: str, comment: str | None, force: bool) -> None:
    """Reject a notice: not an announcement. It is kept (and never flagged again) with your reason.

    Example: crawler review reject 12 --by "Anna Svensson" --comment "about absence in Tempus"
    """
    _decide(obj, "reject", notice_id, reviewer, comment, force)


# --------------------------------------------------------------------------- users (the web app's)

ROLE_CHOICE = click.Choice(["viewer", "reviewer", "admin"])


def _read_password(name: str, stdin: bool) -> str:
    """A password from standard input (one line) or from a hidden prompt asked twice; never an argument."""
    if stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line.strip():
            raise CrawlerError("no password on standard input (give one line, or run in a terminal to be asked)")
        return line.rstrip("\r\n")
    return click.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)


@cli.group()
def users() -> None:
    """The people who may use `crawler web`, and their roles: viewer (reads everything), reviewer
    (also decides notices), admin (also manages users). Passwords are asked for, or read from
    standard input, never given as an argument, and kept only as argon2id hashes.

    Example: crawler users add anna.lind --role reviewer
    """


@users.command("add")
@click.argument("name")
@click.option("--role", type=ROLE_CHOICE, required=True, help="What the user may do.")
@click.option("--password-stdin", "stdin", is_flag=True, help="Read the password from standard input (one line).")
@click.option("--no-password", is_flag=True, help="No password: the user signs in only through the proxy's SSO header.")
@pass_ctx
def users_add(obj: Context, name: str, role: str, stdin: bool, no_password: bool) -> None:
    """Add a user with a role; asks for the password (twice) unless --password-stdin or --no-password.

    Example: echo "$PASSWORD" | crawler users add anna.lind --role reviewer --password-stdin
    """
    from crawler.web import auth
    from crawler.web import users as users_mod

    clean = auth.clean_name(name)
    password = None if no_password else _read_password(clean, stdin)
    with obj.open_store() as store:
        user = users_mod.add(store, clean, role, password, by=users_mod.CLI, now=utcnow(), passwords=auth.Passwords())
    echo(f"added {user.name} ({user.role})" + ("" if user.has_password else "; no password: SSO only"))


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_ctx
def users_list(obj: Context, as_json: bool) -> None:
    """List the users: name, role, whether disabled, last login.

    Example: crawler users list
    """
    with obj.open_store(readonly=True) as store:
        people = store.users()
    if as_json:
        echo(_json([{"name": u.name, "role": u.role, "disabled": u.disabled, "has_password": u.has_password,
                           "created_at": u.created_at, "last_login_at": u.last_login_at} for u in people]))
        return
    if not people:
        echo("no users (add one: crawler users add NAME --role admin)")
        return
    for u in people:
        state = "disabled" if u.disabled else "active"
        login = time_text(u.last_login_at) if u.last_login_at else "never"
        echo(f"{u.name:<32} {u.role:<9} {state:<9} last login {login}"
                   + ("" if u.has_password else "  (no password: SSO only)"))


@users.command("set-password")
@click.argument("name")
@click.option("--password-stdin", "stdin", is_flag=True, help="Read the password from standard input (one line).")
@pass_ctx
def users_set_password(obj: Context, name: str, stdin: bool) -> None:
    """Set a user's password (asked twice, or from standard input); their sessions end.

    Example: crawler users set-password anna.lind
    """
    from crawler.web import auth
    from crawler.web import users as users_mod

    with obj.open_store() as store:
        user = users_mod.get(store, name)
        password = _read_password(user.name, stdin)
        users_mod.set_password(store, user.name, password, by=users_mod.CLI, now=utcnow(), passwords=auth.Passwords())
    echo(f"password of {user.name} set; their sessions ended")


@users.command("set-role")
@click.argument("name")
@click.argument("role", type=ROLE_CHOICE)
@pass_ctx
def users_set_role(obj: Context, name: str, role: str) -> None:
    """Change what a user may do.

    Example: crawler users set-role anna.lind admin
    """
    from crawler.web import users as users_mod

    with obj.open_store() as store:
        users_mod.set_role(store, name, role, by=users_mod.CLI, now=utcnow())
        user = users_mod.get(store, name)
    echo(f"{user.name} is now {user.role}")


@users.command("disable")
@click.argument("name")
@pass_ctx
def users_disable(obj: Context, name: str) -> None:
    """Stop a user from signing in (their sessions end at once; their decisions stay theirs).

    Example: crawler users disable anna.lind
    """
    from crawler.web import users as users_mod

    with obj.open_store() as store:
        users_mod.disable(store, name, by=users_mod.CLI, now=utcnow())
    echo(f"{name} disabled")


@users.command("enable")
@click.argument("name")
@pass_ctx
def users_enable(obj: Context, name: str) -> None:
    """Let a disabled user sign in again.

    Example: crawler users enable anna.lind
    """
    from crawler.web import users as users_mod

    with obj.open_store() as store:
        users_mod.enable(store, name, by=users_mod.CLI, now=utcnow())
    echo(f"{name} enabled")


@cli.command()
@click.option("--host", default=None, help="Address to listen on (default: settings web_host, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default: settings web_port, 8080).")
@pass_ctx
def web(obj: Context, host: str | None, port: int | None) -> None:
    """The inventory, the review queue, the board's report and the crawler's status in a browser,
    with login and roles (add people with `crawler users add`). Reads the inventory while the
    service crawls; decisions are written in short transactions. Swedish by default, English
    selectable. Binds 127.0.0.1: put it behind a reverse proxy with HTTPS (docs/WEB.md).

    Example: crawler web --port 8080
    """
    from crawler.web.app import config_for, serve

    settings = obj.settings()
    config = config_for(obj.db_path(), settings, obj.sources if Path(obj.sources).exists() else None)
    with Store.open(config.db_path) as store:  # creates or migrates the inventory, so there are users to ask
        nobody = not store.users()
    if nobody:
        echo("warning: no users yet: add one with `crawler users add NAME --role admin`", err=True)
    serve(config, host=host, port=port, on_start=lambda url: echo(
        f"crawler web on {url} (inventory {config.db_path}); Ctrl-C stops it", err=True))


# --------------------------------------------------------------------------- crawl, serve, status


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the run's figures as JSON.")
@click.pass_context
def discover(ctx: click.Context, as_json: bool) -> None:
    """Find accounts the registry lacks, for a person to accept or dismiss.

    Without a subcommand, reads every registered account's page and the seed pages of
    `settings: discovery:` (the municipality's pages about each preschool, or a sitemap), politely
    through the crawler's fetcher, and proposes the linked profiles that are not in the registry,
    each with its evidence, a guessed unit and area, and a score. Look-alikes (a parents'
    association, another municipality's preschool, a post, the site's own account) are kept as
    excluded with the reason. A dismissed candidate is not proposed again unless new evidence appears.

    Example: crawler discover && crawler discover list
    """
    if ctx.invoked_subcommand is not None:
        return
    from crawler import discover as discover_mod

    obj: Context = ctx.obj
    registry = obj.registry()
    with obj.open_store() as store:
        report = discover_mod.discover_once(registry, store)
        proposed = [store.candidate(i).candidate for i in report.proposed]
    if as_json:
        echo(_json({"pages": report.pages, "failed": dict(report.failed), "links": report.links,
                          "candidates": report.candidates, "proposed": report.proposed, "new": report.new,
                          "reopened": report.reopened, "excluded": report.excluded}))
        return
    echo(report.summary())
    if proposed:
        echo(discover_mod.format_list(proposed))
        echo("\nSee the evidence with `crawler discover show ID`; decide with `accept ID --by NAME` or "
                   "`dismiss ID --by NAME`.")


@discover.command("list")
@click.option("--state", type=click.Choice(["proposed", "excluded", "accepted", "dismissed", "registered", "all"]),
              default="proposed", show_default=True, help="Which candidates to list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_ctx
def discover_list(obj: Context, state: str, as_json: bool) -> None:
    """List candidate accounts: id, score, state, platform, guessed unit and area, URL.

    Example: crawler discover list --state excluded
    """
    from crawler import discover as discover_mod

    with obj.open_store(readonly=True) as store:
        items = store.candidates(None if state == "all" else state)
    echo(_json([discover_mod.to_dict(c) for c in items]) if as_json else discover_mod.format_list(items))


@discover.command("show")
@click.argument("candidate_id", type=int)
@pass_ctx
def discover_show(obj: Context, candidate_id: int) -> None:
    """Show one candidate: why it scored as it did, every page and link it was found on, its decisions.

    Example: crawler discover show 3
    """
    from crawler import discover as discover_mod

    with obj.open_store(readonly=True) as store:
        echo(discover_mod.format_detail(store.candidate(candidate_id)))


@discover.command("accept")
@click.argument("candidate_id", type=int)
@click.option("--by", "by", required=True, help="Your name, recorded with the decision.")
@click.option("--unit", default=None, help="The unit (preschool), when the guess is missing or wrong.")
@click.option("--area", default=None, help="The area, when the guess is missing or wrong.")
@click.option("--id", "account_id", default=None, help="The registry id (default: from the unit and platform).")
@click.option("--platform", type=PlatformChoice(), default=None, help="The platform, when the guess is wrong.")
@click.option("--comment", default=None, help="Why, for the audit trail.")
@click.option("--force", is_flag=True, help="Accept an excluded or dismissed candidate all the same.")
@pass_ctx
def discover_accept(obj: Context, candidate_id: int, by: str, unit: str | None, area: str | None,
                    account_id: str | None, platform: str | None, comment: str | None, force: bool) -> None:
    """Add a candidate to sources.yaml (validated like every entry); the next crawl visits it.

    Example: crawler discover accept 3 --by "Anna Svensson" --area "Område Norr"
    """
    from crawler import discover as discover_mod

    with obj.open_store() as store:
        account = discover_mod.accept(store, obj.sources, candidate_id, by, utcnow(), unit=unit, area=area,
                                      account_id=account_id, platform=platform, comment=comment, force=force)
    echo(f"{obj.sources}: added {account.id} ({account.platform}, {account.unit}, {account.area}): "
               f"{account.url}\nThe next crawl (or `crawler sources sync`) brings it into the inventory.")


@discover.command("dismiss")
@click.argument("candidate_id", type=int)
@click.option("--by", "by", required=True, help="Your name, recorded with the decision.")
@click.option("--comment", default=None, help="Why, for the audit trail.")
@pass_ctx
def discover_dismiss(obj: Context, candidate_id: int, by: str, comment: str | None) -> None:
    """Dismiss a candidate: never proposed again unless new evidence (a page not seen before) appears.

    Example: crawler discover dismiss 4 --by "Anna Svensson" --comment "the parents' association"
    """
    from crawler import discover as discover_mod

    with obj.open_store() as store:
        discover_mod.dismiss(store, candidate_id, by, utcnow(), comment=comment)
    echo(f"candidate {candidate_id} dismissed")


@cli.command()
@click.option("--only", "only", multiple=True, metavar="ID", help="Visit only this account (repeatable).")
@click.option("--platform", "platforms", multiple=True,
              type=PlatformChoice(),
              help="Visit only accounts on this platform (repeatable).")
@click.option("--area", "areas", multiple=True, help="Visit only accounts of this area (repeatable).")
@click.option("--dry-run", is_flag=True,
              help="Print what would be visited (id, platform, URL, feed if declared); send no request.")
@pass_ctx
def crawl(obj: Context, only: tuple[str, ...], platforms: tuple[str, ...], areas: tuple[str, ...],
          dry_run: bool) -> None:
    """Run one crawl cycle now: sync the registry, visit the accounts, classify, store, summarise.

    Refused while another crawl or `crawler serve` holds the inventory. Ctrl-C (or SIGTERM)
    stops taking accounts and records the run as interrupted. Exits 0 when the cycle finished,
    1 when it failed (inventory not writable), 130 when it was interrupted.

    Example: crawler crawl --platform wordpress --area "Område Centrum"
    """
    from crawler import progress, service
    from crawler.crawl import Selection, interleave_by_host

    registry = obj.registry()
    selection = Selection(frozenset(only), frozenset(platforms), frozenset(areas))
    if dry_run:
        chosen = interleave_by_host(selection.pick(registry.accounts))
        for a in chosen:
            echo("\t".join(sanitize.text(v) for v in (a.id, a.platform, a.url, a.feed) if v))
        echo(f"{len(chosen)} of {len(registry.accounts)} accounts would be visited", err=True)
        return
    with progress.display() as show:  # a bar on a terminal, log lines otherwise
        result = service.crawl_once(obj.db_path(), registry, selection=selection, progress=show)
    echo(result.summary)
    if result.state != "finished":
        raise SystemExit(1 if result.state == "failed" else 130)


@cli.command()
@click.option("--run-now", is_flag=True, help="Start a cycle at once, then follow the schedule.")
@click.option("--grace", default=25.0, show_default=True, type=float,
              help="Seconds visits in flight may take after SIGTERM before the cycle is cancelled.")
@pass_ctx
def serve(obj: Context, run_now: bool, grace: float) -> None:
    """Run the scheduler in the foreground (what systemd expects): the crawl cycle on
    settings.crawl_cron, maintenance on settings.maintenance_cron.

    Holds the inventory for its whole life (a second `serve` or a manual `crawl` is refused),
    re-reads sources.yaml at each cycle (keeping the last valid one if an edit broke it) and
    records its next run in <db>.service.json for `crawler status`. SIGTERM or Ctrl-C stops it
    cleanly: the running cycle takes no new accounts and is recorded as interrupted; exit 0.

    Example: crawler --log-format json serve --run-now
    """
    from crawler import service

    registry = obj.registry()
    raise SystemExit(service.Service(obj.sources, obj.db_path(), registry, run_now=run_now, grace=grace).run())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--notify", is_flag=True,
              help="Also tell ops about incidents opened or ended, and reviewers about new notices "
                   "(alert settings); for a timer that watches the service.")
@click.pass_context
def status(ctx: click.Context, as_json: bool, notify: bool) -> None:
    """Show the health, the last run and pass, the schedule (due now, due today, longest unseen),
    counts by status, the accounts failing longest and pending reviews. Doubles as a health check.

    Exits 0 when healthy; 1 when stale (the service stopped, is silent or misses its passes, the
    schedule is behind, or without a service no full cycle within health_max_age_hours); 2 when
    degraded (the last cycle failed, e.g. the disk is full; sources.yaml is broken; an API token is
    unusable; many accounts failed at once; the inventory is on a read-only file system or cannot
    be read).

    Example: crawler status --json
    """
    from crawler import status as status_mod

    obj: Context = ctx.obj
    settings = obj.settings()  # a broken registry: warned, defaults; and a degraded health
    try:
        report = status_mod.gather(obj.db_path(), settings, registry_problem=obj.registry_problem)
    except StoreError as exc:  # an inventory that cannot be read is degraded, not merely stale
        echo(log.user_error(str(exc), exit_code=2), err=True)
        ctx.exit(2)
    if notify:
        from crawler import alerts

        report["alerts"] = alerts.Alerts(settings, obj.db_path()).run(utcnow())
    echo(_json(report) if as_json else status_mod.render(report))
    ctx.exit(report["health"]["exit_code"])


@cli.command()
@click.argument("dest", type=click.Path(dir_okay=False))
@pass_ctx
def backup(obj: Context, dest: str) -> None:
    """Copy the inventory to DEST, online and consistent (SQLite's backup API), while the service
    runs. The copy is one self-contained file, checked before it is named DEST; an existing DEST is
    never overwritten. Restore: stop the service, copy the file over the inventory, start it.

    Example: crawler backup /var/backups/crawler/inventory-$(date +%F).sqlite
    """
    from crawler import service

    size = service.backup(obj.db_path(), dest)
    echo(f"backed up {obj.db_path()} to {dest} ({size / 1e6:.1f} MB)")


@cli.command()
@pass_ctx
def migrate(obj: Context) -> None:
    """Bring the inventory's schema up to this version of the crawler (after an upgrade, with the
    service stopped). Refuses an inventory newer than this crawler (a downgrade) and one the
    service or a crawl holds.

    Example: crawler migrate
    """
    from crawler import service

    before, after = service.migrate(obj.db_path())
    echo(f"{obj.db_path()}: schema version {before}" + (f" -> {after}" if after != before else " (up to date)"))


# --------------------------------------------------------------------------- demo


@cli.command()
@click.option("--out", "out_dir", default="demo-out", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the demo's sources.yaml, inventory and reports (emptied of a previous demo).")
@click.option("--accounts", default=319, show_default=True, help="Size of the simulated web.")
@click.option("--seed", default=1, show_default=True, help="Seed of the simulated world.")
@click.option("--check", is_flag=True, help="Compare with the world's truth, account by account; exit 1 on disagreement.")
@click.option("--quiet", is_flag=True, help="Print only the final report.")
@click.option("--world", "world_name", type=click.Choice(["contract", "field"]), default="contract", show_default=True,
              help="contract: the world the crawler's rules are written against (--check must agree); field: "
                   "randomised timing, faults and hidden changes, with the crawler's error against truth.")
@click.option("--route", type=click.Choice(["api", "public"]), default="api", show_default=True,
              help="Read Instagram and Facebook through the loopback Graph API (where it can) or only "
                   "from their public pages, to compare the board's figures.")
def demo(out_dir: str, accounts: int, seed: int, check: bool, quiet: bool, world_name: str,
         route: str) -> None:
    """Crawl a simulated web of preschool accounts end to end, then print the board's figures.

    Starts a web of 319 accounts (WordPress, Blogger, other blogs, Instagram, Facebook) on
    loopback, runs weekly crawl cycles from December 2022 to May 2023 on a simulated clock with
    the real fetcher, parsers, classifier, notice detector and store, and prints the board's
    report for the launch of Tempus Hemma (2023-03-01) against 2023-04-15. Never touches your own
    inventory: everything goes into --out.

    Instagram and Facebook accounts are read through a loopback Graph API (Meta's documented
    answers, errors, paging and usage headers) unless --route public.

    Example: crawler demo --out /tmp/demo --check

    Example: crawler demo --world field --out /tmp/field
    """
    import logging

    from crawler.demo import summary
    from crawler.demo.runner import run_demo

    if log.LOGGER.level == logging.INFO:
        log.LOGGER.setLevel(logging.WARNING)  # the per-cycle lines below say it better
    say = (lambda line: None) if quiet else (lambda line: echo(line, err=True))
    say(f"Starting the simulated web ({accounts} accounts) and weekly crawl cycles; the inventory goes to {out_dir}/")
    result = run_demo(out_dir, accounts=accounts, seed=seed, check=check, progress=say, world_name=world_name,
                      route=route)
    echo(result.text)
    echo(summary.board_report(result))
    # name the command as the user ran it (e.g. .venv/bin/crawler when the venv is not activated)
    me = sys.argv[0] if os.path.basename(sys.argv[0]) == "crawler" else "crawler"
    echo(summary.epilogue(result, me, summary.demo_login(result)))
    if check and result.check is not None and not result.check.ok:
        raise SystemExit(1)


# --------------------------------------------------------------------------- inspect


@cli.command()
@click.argument("target")
@click.option("--platform", default=None,
              type=PlatformChoice("feed"),
              help="How to read it (default: from the URL's host name).")
@click.option("--url", "page_url", default=None,
              help="For a FILE: the address it was saved from (names the platform, resolves links).")
@click.option("--status", default=200, show_default=True, help="For a FILE: the HTTP status it came with.")
@click.option("--json", "as_json", is_flag=True, help="Print the observation as JSON.")
@pass_ctx
def inspect(obj: Context, target: str, platform: str | None, page_url: str | None, status: int,
            as_json: bool) -> None:
    """Show what the crawler reads from one page or feed: exists, last post, post count, feed.

    TARGET is an http(s) URL (fetched as a crawl would: robots.txt, your contact in the
    User-Agent) or a saved FILE. Titles and post texts are never printed.

    Example:

        crawler inspect https://forskolan.example.se/ --json

        crawler inspect saved.html --url https://www.instagram.com/forskolan/
    """
    from crawler.crawl import inspect as inspect_target

    settings = obj.settings()
    obs, hit = inspect_target(target, settings, utcnow(), platform=platform, page_url=page_url, status=status)
    data = platforms.observation_to_dict(obs)
    data["notice"] = notices.hit_to_dict(hit)
    if as_json:
        echo(_json(data))
        return
    shown = {**data, "last_post_at": f"{time_text(obs.last_post_at, settings.timezone)} ({data['last_post_at']})"
                                     if obs.last_post_at else None}
    for key in ("platform", "exists", "reason", "last_post_at", "post_count", "feed_url", "login_wall"):
        echo(f"{key:>13}: {sanitize.text(shown[key])}")
    echo(f"{'posts':>13}: {len(data['posts'])}")
    for note in data["notes"]:
        echo(f"{'note':>13}: {sanitize.text(note)}")
    notice = (f"{hit.kind} {hit.score:.2f}: {sanitize.text(hit.snippet)}" if hit
              else f"none (threshold {settings.notice_threshold})")
    echo(f"{'notice':>13}: {notice}")


# --------------------------------------------------------------------------- report, export, browse


def _write_output(text: str, output: str | None) -> None:
    if output is None or output == "-":
        bom = "\ufeff" if text.startswith("\ufeff") else ""  # Excel's UTF-8 mark stays: `crawler export > x.csv`
        click.echo(bom + sanitize.lines(text[len(bom):], crlf=True), nl=False)  # a CSV's lines end in CRLF
        return
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="")
    echo(f"wrote {path}", err=True)


@cli.command()
@click.option("--baseline", default=None, metavar="DATE",
              help="The reference date, e.g. the app's launch (YYYY-MM-DD; default: the first snapshot).")
@click.option("--as-of", "as_of", default=None, metavar="DATE", help="The date to compare (default: the latest snapshot).")
@click.option("--every", default=None, metavar="PERIOD",
              help="Also the figures at each period since the first snapshot: 6m (half years), 1m, 2w, 1y.")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "csv", "json", "xlsx", "docx"]), default="md",
              show_default=True, help="xlsx for analysts, docx for a tjänsteskrivelse (both need --output or go to reports/).")
@click.option("--lang", type=click.Choice(["sv", "en"]), default="sv", show_default=True,
              help="Language of the report (sv: the board's).")
@click.option("--excel", is_flag=True, default=None,
              help="CSV separated by ';' as Excel in Swedish locales reads it (the default with --lang sv).")
@click.option("--output", "-o", default=None,
              help="File to write (default: stdout; html, xlsx and docx: reports/report-<as-of>.<format>).")
@click.option("--snapshot-rule", "rule", type=click.Choice(["nearest", "before"]), default="nearest",
              show_default=True, help="Which crawl snapshot stands for a date: the nearest, or the last on or before it.")
@click.option("--tolerance", default=8.0, show_default=True, type=click.FloatRange(min=0),
              help="Days a snapshot may lie from the date; further away the figures are 'not available'.")
@pass_ctx
def report(obj: Context, baseline: str | None, as_of: str | None, every: str | None, fmt: str, lang: str,
           excel: bool | None, output: str | None, rule: str, tolerance: float) -> None:
    """The board's figures at two dates and the change between them: accounts registered,
    existing, active, dormant, inactive past the city's guideline (to be closed), removed,
    unknown, announced the move, awaiting review; blogs posting monthly; with --every, the
    figures at each half year (or any period) since the first crawl and a trend chart with the
    launch of Tempus Hemma marked; the accounts to be closed per area; confirmed moves and
    closings; breakdowns by platform and area; the accounts that changed status, with the
    evidence; the definitions with the settings in force.

    Reads the inventory read-only (safe while the crawler runs). The HTML report is one
    self-contained file that prints on A4.

    Example: crawler report --baseline 2023-03-01 --as-of 2023-04-15 --every 6m --format docx
    """
    from crawler import report as report_mod

    with obj.open_store(readonly=True) as store:
        built = report_mod.build_report(store, baseline, as_of, settings=obj.settings(), tolerance_days=tolerance,
                                        rule=rule, every=every)
    if fmt == "csv":
        data = report_mod.render_csv(built, lang, excel=excel)
    else:
        data = report_mod.render(built, fmt, lang)
    if fmt in ("html", *report_mod.BINARY) and output is None:
        output = str(report_mod.default_path(built, obj.settings().reports_dir, fmt))
    if isinstance(data, bytes):
        if output == "-":
            raise CrawlerError(f"a {fmt} file is not text: name a file with --output")
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        echo(f"wrote {path}", err=True)
        return
    _write_output(data, output)


@cli.command()
@click.option("--as-of", "as_of", default=None, metavar="DATE",
              help="The inventory as it stood then: the end of that day (YYYY-MM-DD), or a moment (ISO 8601).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "xlsx"]), default="csv", show_default=True,
              help="xlsx needs --output.")
@click.option("--lang", type=click.Choice(["en", "sv"]), default="en", show_default=True,
              help="Language of the reason column (sv: also ';'-separated CSV).")
@click.option("--excel", is_flag=True, default=None,
              help="CSV with ';' separators, as Excel in Swedish locales expects (the default with --lang sv).")
@click.option("--output", "-o", default=None, help="File to write (default: stdout).")
@pass_ctx
def export(obj: Context, as_of: str | None, fmt: str, lang: str, excel: bool | None, output: str | None) -> None:
    """The inventory, one row per registered account: id, unit, area, platform, url, status,
    status_since, last_post_at, last_post_estimated, post_count, last_checked_at,
    announced_move, reason, reason_kind. With --as-of, as it stood at the end of that day: the
    accounts registered then, each with its status then and the reason it took it, the last
    post and post count known then. CSV is UTF-8 with a BOM so spreadsheets read å, ä, ö.

    Example: crawler export --as-of 2023-03-01 --lang sv --output inventering-2023-03-01.csv
    """
    from crawler import export as export_mod

    settings = obj.settings()
    if fmt == "xlsx" and output in (None, "-"):
        raise CrawlerError("an xlsx file is not text: name a file with --output")
    moment = None if as_of is None else export_mod.as_of_moment(as_of, settings.timezone, utcnow())
    with obj.open_store(readonly=True) as store:
        data = export_mod.export(store, fmt, excel=excel, as_of=moment, lang=lang, zone=settings.timezone)
    if isinstance(data, bytes):
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        echo(f"wrote {path}", err=True)
        return
    _write_output(data, output)


@cli.command()
@click.option("--port", default=8001, show_default=True, help="Port on 127.0.0.1.")
@click.option("--metadata-only", is_flag=True, help="Print the Datasette metadata (canned queries) and exit.")
@pass_ctx
def browse(obj: Context, port: int, metadata_only: bool) -> None:
    """Open the inventory read-only in Datasette (on 127.0.0.1), with canned queries for the
    analysts' questions: blogs gone dormant since a date, active accounts per area, accounts that
    announced the move with the evidence. Needs the optional extra: pip install 'crawler[browse]'.

    Example: crawler browse --port 8001
    """
    from crawler import browse as browse_mod

    path = obj.db_path()
    if metadata_only:
        echo(_json(browse_mod.metadata(path)))
        return
    with obj.open_store(readonly=True) as store:  # fails early, with our message (no inventory, a migration due)
        immutable = store.immutable
    how = "read-only" if not immutable else "read as immutable: this user cannot write its folder, so what a crawl writes meanwhile is not seen"
    code = browse_mod.serve(path, port, immutable=immutable, on_start=lambda url: echo(
        f"Datasette on {url} ({how}); Ctrl-C stops it", err=True))
    raise SystemExit(code)


# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> None:
    """The console script."""
    cli.main(args=argv, prog_name="crawler")


def _json(data: object) -> str:
    return json.dumps(sanitize.data(data), ensure_ascii=False, indent=2, default=str)
