"""Blog generators from PyPI and npm, with the themes they ship: Nikola (bootblog4), mkdocs-material's
blog plugin, Hexo with its landscape theme and hexo-generator-feed. Built from the same known posts as
static.py (date-only front matter near midnight and three posts with a time), under libfaketime,
served by Debian's nginx and captured like the Debian generators.

No template here is ours: every page is the shipped theme's. The tools are installed at pinned
versions into /tmp/corpus-tools (a virtualenv and an npm folder; `install()`), outside the work
directory that `Servers` wipes, so a rerun does not download them again.

Deterministic except for Hexo's post ids (`data-id="cuid..."` on the share links: random per
build); source files get a fixed mtime first, since Hexo's `updated` is the file's mtime.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from capture import Recorder, expect, iso
from posts import STOCKHOLM
from servers import NGINX_PORT, Servers, faketime_env, run
from static import CONNECT, Entry, _find, _fix_times, entries

TOOLS = Path("/tmp/corpus-tools")
PYPI = {"nikola": "8.3.3", "mkdocs": "1.6.1", "mkdocs-material": "9.8.2"}
NPM = {"hexo": "8.1.2", "hexo-theme-landscape": "1.1.0", "hexo-generator-feed": "3.0.0",
       "hexo-generator-index": "4.0.0", "hexo-generator-archive": "2.0.0", "hexo-generator-category": "2.0.0",
       "hexo-generator-tag": "2.0.0", "hexo-renderer-marked": "7.0.1", "hexo-renderer-ejs": "2.0.0",
       "hexo-renderer-stylus": "3.0.1"}
PER_PAGE = 4


def install() -> None:
    """The generators at pinned versions: pip into a virtualenv, npm into a folder (registries only)."""
    venv = TOOLS / "pyvenv"
    if not (venv / "bin" / "python").exists():
        run([sys.executable, "-m", "venv", str(venv)])
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *(f"{k}=={v}" for k, v in PYPI.items())])
    npm = TOOLS / "npm"
    npm.mkdir(parents=True, exist_ok=True)
    if not (npm / "package.json").exists():
        (npm / "package.json").write_text('{"name": "corpus-tools", "private": true}\n')
    run(["npm", "install", "--no-audit", "--no-fund", "--save-exact", *(f"{k}@{v}" for k, v in NPM.items())], cwd=npm)


def _python_tool(module: str, *args: str, cwd: Path) -> None:
    run([str(TOOLS / "pyvenv" / "bin" / "python"), "-m", module, *args], cwd=cwd,
        env=faketime_env({"NO_MKDOCS_2_WARNING": "1", "LANG": "C.UTF-8"}))


def _version(kind: str, name: str) -> str:
    if kind == "npm":
        return json.loads((TOOLS / "npm" / "node_modules" / name / "package.json").read_text())["version"]
    done = subprocess.run([str(TOOLS / "pyvenv" / "bin" / "python"), "-m", "pip", "show", name],
                          capture_output=True, text=True, check=True)
    return next(line.split(":", 1)[1].strip() for line in done.stdout.splitlines() if line.startswith("Version:"))


def _clean(work: Path) -> Path:
    src = work / "src"
    if src.exists():
        subprocess.run(["rm", "-rf", str(src)], check=True)
    src.mkdir(parents=True)
    return src


def _local(e: Entry) -> datetime:
    return e.post.at.astimezone(STOCKHOLM)


# ------------------------------------------------------------------------------------ Nikola

def build_nikola(work: Path, name: str, title: str) -> tuple[Path, list[Entry]]:
    src = _clean(work)
    _python_tool("nikola", "init", "-q", str(src / "site"), cwd=src)
    site = src / "site"
    conf = (site / "conf.py").read_text()
    for key, value in (("BLOG_TITLE", f'"{title}"'), ("SITE_URL", f'"http://{name}.test:{NGINX_PORT}/"'),
                       ("DEFAULT_LANG", '"sv"'), ("TIMEZONE", '"Europe/Stockholm"')):
        conf = "\n".join(f"{key} = {value}" if line.startswith(f"{key} = ") else line for line in conf.splitlines())
    conf += f"\nINDEX_DISPLAY_POST_COUNT = {PER_PAGE}\nINDEXES_STATIC = False\n"
    (site / "conf.py").write_text(conf)
    posts = entries("Europe/Stockholm")
    for e in posts:
        # Nikola wants a time; a date-only post is written at local midnight, as its docs show
        written = e.written.replace("T", " ") if "T" in e.written else f"{e.written} 00:00:00"
        (site / "posts" / f"{e.post.slug}.rst").write_text(
            f".. title: {e.post.title}\n.. slug: {e.post.slug}\n.. date: {written}\n.. category: {e.post.category}\n\n"
            f"{e.post.text}\n")
    _fix_times(site / "posts")
    _python_tool("nikola", "build", cwd=site)
    out = site / "output"
    _fix_times(out)
    return out, posts


# ----------------------------------------------------------------------------- mkdocs-material

def build_mkdocs(work: Path, name: str, title: str) -> tuple[Path, list[Entry]]:
    src = _clean(work)
    (src / "docs" / "blog" / "posts").mkdir(parents=True)
    (src / "mkdocs.yml").write_text(
        f"site_name: {title}\nsite_url: http://{name}.test:{NGINX_PORT}/\ntheme:\n  name: material\n  language: sv\n"
        f"plugins:\n  - blog:\n      pagination_per_page: {PER_PAGE}\n")
    (src / "docs" / "index.md").write_text(f"# {title}\n\nVi är en förskola i Malmö.\n")
    (src / "docs" / "blog" / "index.md").write_text("# Blogg\n\n")
    posts = entries("Europe/Stockholm")
    for e in posts:
        date = f"\n  created: {_local(e).isoformat()}" if "T" in e.written else f" {e.written}"
        (src / "docs" / "blog" / "posts" / f"{e.post.slug}.md").write_text(
            f"---\ndate:{date}\nslug: {e.post.slug}\ncategories:\n  - {e.post.category}\n---\n\n# {e.post.title}\n\n{e.post.text}\n")
    _fix_times(src / "docs")
    _python_tool("mkdocs", "build", "-q", "-f", str(src / "mkdocs.yml"), "-d", str(src / "site"), cwd=src)
    out = src / "site"
    _fix_times(out)
    return out, posts


# ------------------------------------------------------------------------------------- Hexo

def build_hexo(work: Path, name: str, title: str) -> tuple[Path, list[Entry]]:
    src = _clean(work)
    os.symlink(TOOLS / "npm" / "node_modules", src / "node_modules")
    (src / "package.json").write_text(json.dumps({"name": name, "private": True, "hexo": {"version": NPM["hexo"]},
                                                  "dependencies": NPM}) + "\n")
    (src / "_config.yml").write_text(
        f"title: {title}\nlanguage: sv-SE\ntimezone: Europe/Stockholm\nurl: http://{name}.test:{NGINX_PORT}\n"
        f"permalink: :year/:month/:day/:title/\nper_page: {PER_PAGE}\ntheme: landscape\n"
        "archive_generator:\n  per_page: 0\n  yearly: true\n  monthly: false\n"
        "feed:\n  type: atom\n  path: atom.xml\n  limit: 20\n")
    (src / "source" / "_posts").mkdir(parents=True)
    posts = entries("Europe/Stockholm")
    for e in posts:
        written = e.written.replace("T", " ") if "T" in e.written else e.written
        if "+" in written[10:]:
            written = _local(e).strftime("%Y-%m-%d %H:%M:%S")  # Hexo reads a zone-less time in `timezone`
        (src / "source" / "_posts" / f"{e.post.slug}.md").write_text(
            f"---\ntitle: {e.post.title}\ndate: {written}\ncategories: {e.post.category}\n---\n\n{e.post.text}\n")
    _fix_times(src / "source")  # Hexo's `updated` is the source file's mtime
    run([str(src / "node_modules" / ".bin" / "hexo"), "generate", "--silent"], cwd=src, env=faketime_env())
    out = src / "public"
    _fix_times(out)
    return out, posts


# ------------------------------------------------------------------------------------ capture

# (generator, site, title, builder, package kind, package, theme, listing path of page k, archive, feeds)
SITES = (
    ("nikola", "nikola-vallmon", "Förskolan Vallmon", build_nikola, "pypi", "nikola", "bootblog4",
     "/index-{i}.html", "/2023/", ["/rss.xml"]),
    ("mkdocs-material", "mkdocs-blaklinten", "Förskolan Blåklinten", build_mkdocs, "pypi", "mkdocs-material",
     "material (blog plugin)", "/blog/page/{k}/", "/blog/archive/2023/", []),
    ("hexo", "hexo-korsnarsen", "Förskolan Korsnärsen", build_hexo, "npm", "hexo", "landscape",
     "/page/{k}/", "/archives/", ["/atom.xml"]),
)


def build(servers: Servers, out: Path) -> list[Path]:
    built = {}
    for generator, name, title, builder, *rest in SITES:
        root, posts = builder(servers.work / name, name, title)
        built[name] = (generator, root, posts, *rest)
    servers.nginx.stop()
    servers.nginx.configure({f"{name}.test": str(v[1]) for name, v in built.items()})
    servers.nginx.start()
    written = []
    for name, (generator, root, posts, kind, package, theme, page_path, archive, feeds) in built.items():
        origin = f"http://{name}.test:{NGINX_PORT}"
        front = "/blog/" if generator == "mkdocs-material" else "/"
        meta = {"software": generator, "version": _version(kind, package), "server": "nginx (Debian)",
                "theme": theme, "language": "sv", "site": name, "time_zone": "Europe/Stockholm", "conditional": "nginx",
                "captured_at": "2023-04-15T10:00:00Z", "installed_from": kind,
                "account_path": front}  # the address a registry would name: mkdocs' blog is under /blog/
        rec = Recorder(out / generator / name, origin, CONNECT, meta)
        desc = sorted((e.post for e in posts), key=lambda p: p.at, reverse=True)
        feed_url = origin + feeds[0] if feeds else None
        rec.get("live", "front", "/", "front" if front == "/" else "page",
                expect(True, desc[:PER_PAGE] if front == "/" else (), feed_url=feed_url))
        if front != "/":
            rec.get("live", "blog", front, "listing", expect(True, desc[:PER_PAGE]))
        pages = (len(desc) + PER_PAGE - 1) // PER_PAGE
        for k in sorted({2, pages}):
            # Nikola numbers its index pages index-1 (second newest) on with INDEXES_STATIC off
            path = page_path.format(k=k, i=k - 1)
            rec.get("live", f"listing_page_{k}", path, "listing", expect(True, desc[(k - 1) * PER_PAGE:k * PER_PAGE]))
        rec.get("live", "archive", archive, "archive",
                expect(True, desc if generator != "mkdocs-material" else desc[:PER_PAGE]))
        chosen = [desc[0], desc[1]] + [p for p in desc if "Efter midnatt" in p.title or "Utan tidszon" in p.title]
        for post in dict.fromkeys(chosen):
            rec.get("live", f"post_{post.slug}", _find(root, post.slug), "post", expect(True, [post]))
        for feed in feeds:
            rec.get("live", "feed" + feed.replace("/", "_").replace(".", "_").rstrip("_"), feed, "feed",
                    expect(True, desc[:20], feed_url=origin + feed))
        rec.get("live", "robots", "/robots.txt", "robots", None)
        rec.get("live", "missing", "/2023/04/14/finns-inte/", "missing", expect(False, ()), fallback=True)
        rec.probe_validators("live", feeds[0] if feeds else front)
        rec.probe_validators("live", "/")
        truth = {"exists": True, "newest_day": desc[0].day.isoformat(), "newest_at": iso(desc[0].at),
                 "newest_title": desc[0].title, "feed_url": feed_url,
                 "posts": [{"title": p.title, "at": iso(p.at), "day": p.day.isoformat(),
                            "written": next(e.written for e in posts if e.post is p)} for p in desc]}
        notes = [f"{generator} {meta['version']} from {kind}, theme {theme}, built under libfaketime at "
                 f"{datetime(2023, 4, 15, 10, tzinfo=UTC).isoformat()}; every page is the shipped theme's"]
        written.append(rec.write(truth, notes))
    return written
