"""What `crawler demo` prints after the run: the board report as `crawler report` computes it (also
saved as Swedish HTML and Markdown in the demo folder), the notices awaiting review, and the next
commands to try on the demo's inventory."""

from __future__ import annotations

from crawler import report as report_mod
from crawler.clock import day_text
from crawler.demo.runner import DemoResult
from crawler.demo.world import AS_OF, BASELINE
from crawler.store import Store
from crawler.store.analysts import EXAMPLE_QUERY


def board_report(result: DemoResult) -> str:
    """The board report of the demo's inventory, saved as report.html and report.md (Swedish) in
    the demo folder; returns the figures section in English for the terminal."""
    baseline, as_of = f"{BASELINE:%Y-%m-%d}", f"{AS_OF:%Y-%m-%d}"
    with Store.open(result.db_path, readonly=True) as store:
        board = report_mod.build_report(store, baseline, as_of, every="1m")  # the months of the demo, as a series
    for fmt, name in (("html", "report.html"), ("md", "report.md")):
        (result.out_dir / name).write_text(report_mod.render(board, fmt, "sv"), encoding="utf-8")
    (result.out_dir / "report.docx").write_bytes(report_mod.render(board, "docx", "sv"))
    text = report_mod.render(board, "md", "en")  # the terminal's summary stays English
    parts = text.split("\n## ", 3)  # the title and dates, the figures, the accounts active on the baseline
    head = "\n## ".join(parts[:3]) if len(parts) > 2 else text
    return (f"\n`crawler report --baseline {baseline} --as-of {as_of} --every 1m --lang en` on the demo inventory:\n\n"
            + head.strip())


DEMO_USER = "demo"


def demo_login(result: DemoResult) -> tuple[str, str]:
    """An admin of the demo's `crawler web` with a random password (printed once, kept only as its hash)."""
    import secrets

    from crawler.clock import utcnow
    from crawler.web import auth, users

    password = secrets.token_urlsafe(12)
    with Store.open(result.db_path) as store:
        users.add(store, DEMO_USER, "admin", password, by="crawler demo", now=utcnow(), passwords=auth.Passwords())
    return DEMO_USER, password


def epilogue(result: DemoResult, me: str = "crawler", login: tuple[str, str] | None = None) -> str:
    """Pending reviews and the next commands to try (`me`: the command as the user ran it; `login`:
    the demo's web login, whose password is shown here only)."""
    db, reg = result.db_path, result.sources_path
    with Store.open(db, readonly=True) as store:
        pending = store.notices("pending")
    lines = ["", f"Notices awaiting review: {len(pending)} (the report counts an account as having announced the "
             "move once a reviewer confirms its notice: `crawler review`)"]
    for n in pending[:10]:
        day = day_text(n.published_at)
        lines.append(f"  #{n.id:<4} {n.unit[:30]:30} {n.platform:9} {day:10} {n.score:.2f}  {n.snippet[:70]}")
    extra = sorted(result.out_dir.glob("report*.html"))
    lines += [
        "",
        f"Inventory: {db}" + (f"   HTML report: {extra[0]}" if extra else ""),
        "Next, try:",
        f"  {me} --sources {reg} --db {db} report --baseline {BASELINE:%Y-%m-%d} --as-of {AS_OF:%Y-%m-%d} --lang sv",
        f"  {me} --sources {reg} --db {db} review",
        f"  {me} --sources {reg} --db {db} discover list      (then `discover show ID`, `discover accept ID --by NAME`)",
        f"  {me} --sources {reg} --db {db} status",
        f"  sqlite3 {db} '{EXAMPLE_QUERY}'",
    ]
    if login is not None:
        lines += [
            "",
            "Open it in a browser (the review queue, the new accounts, the inventory, the report, the status):",
            f"  {me} --sources {reg} --db {db} web",
            f"  then http://127.0.0.1:8080/ and sign in as {login[0]} with the password {login[1]}",
            f"  (shown only now; `{me} --db {db} users set-password {login[0]}` sets another)",
        ]
    return "\n".join(lines)
