"""Static blog generators from Debian (Hugo, Jekyll with minima, Pelican), built with fixed
dates and served by Debian's nginx: date-only front matter near midnight, time zone settings,
pagination, feeds.

Hugo ships no page templates and Debian packages no Hugo theme, so the Hugo sites use a small
layout written here (lists with <time>, a single-post page) around Hugo's own internal templates
(RSS, robots.txt, sitemap, Open Graph and schema.org meta). Jekyll uses Debian's minima theme
with jekyll-feed and jekyll-paginate; Pelican its bundled "simple" theme.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path

from capture import Recorder, expect, iso
from posts import STOCKHOLM, Post, date_only_posts
from servers import NGINX_PORT, Servers, faketime_env, run

CONNECT = f"http://127.0.0.1:{NGINX_PORT}"
BUILT_AT = datetime(2023, 4, 14, 6, 0, tzinfo=UTC).timestamp()  # file times: deterministic ETag/Last-Modified


@dataclass
class Entry:
    """A post as written in front matter: `written` is the text of its date field."""

    post: Post
    written: str


def entries(zone: str) -> list[Entry]:
    """Date-only posts, plus three with a time of day near midnight (one without a zone)."""
    tz = STOCKHOLM if zone == "Europe/Stockholm" else UTC
    out = []
    for p in date_only_posts():
        at = datetime.combine(p.day, time(0, 0), tzinfo=tz).astimezone(UTC)
        out.append(Entry(Post(p.number, p.title, p.text, at, p.category, p.slug), p.day.isoformat()))
    extra = [
        ("Kvällsinlägg i mars", "Skrivet sent en söndag.", datetime(2023, 3, 19, 23, 45, tzinfo=STOCKHOLM), "2023-03-19T23:45:00+01:00"),
        ("Efter midnatt", "Skrivet när alla sov.", datetime(2023, 4, 5, 0, 30, tzinfo=STOCKHOLM), "2023-04-05T00:30:00+02:00"),
        ("Utan tidszon", "Tiden skrevs utan tidszon.", datetime(2023, 3, 30, 0, 15, tzinfo=tz), "2023-03-30T00:15:00"),
    ]
    for n, (title, text, local, written) in enumerate(extra, start=len(out) + 1):
        from posts import slugify

        out.append(Entry(Post(n, title, text, local.astimezone(UTC), "Information", slugify(title)), written))
    return out


def _fix_times(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        os.utime(path, (BUILT_AT, BUILT_AT), follow_symlinks=False)
    os.utime(root, (BUILT_AT, BUILT_AT))


# --------------------------------------------------------------------------------------- Hugo

HUGO_BASEOF = """<!DOCTYPE html>
<html lang="{{ .Site.LanguageCode }}">
<head>
<meta charset="utf-8">
<title>{{ if .IsHome }}{{ .Site.Title }}{{ else }}{{ .Title }} | {{ .Site.Title }}{{ end }}</title>
<meta name="description" content="{{ with .Description }}{{ . }}{{ else }}{{ .Site.Params.description }}{{ end }}">
{{ range .AlternativeOutputFormats -}}
<link rel="{{ .Rel }}" type="{{ .MediaType.Type }}" href="{{ .Permalink | safeURL }}" title="{{ $.Site.Title }}">
{{ end -}}
{{ template "_internal/opengraph.html" . }}
{{ template "_internal/schema.html" . }}
</head>
<body>
<header class="site-header"><a href="{{ "/" | relURL }}">{{ .Site.Title }}</a>
<nav><a href="{{ "/posts/" | relURL }}">Inlägg</a> <a href="{{ "/om/" | relURL }}">Om oss</a></nav></header>
<main>{{ block "main" . }}{{ end }}</main>
<footer class="site-footer">&copy; {{ now.Year }} {{ .Site.Title }}</footer>
</body>
</html>
"""
HUGO_LIST = """{{ define "main" }}
<h1>{{ if .IsHome }}{{ .Site.Title }}{{ else }}{{ .Title }}{{ end }}</h1>
{{ $pages := where .Site.RegularPages "Section" "posts" }}{{ if not .IsHome }}{{ $pages = .Pages }}{{ end }}
{{ $paginator := .Paginate $pages }}
{{ range $paginator.Pages }}
<article class="post">
  <h2><a href="{{ .RelPermalink }}">{{ .Title }}</a></h2>
  <time datetime="{{ .Date.Format "2006-01-02T15:04:05Z07:00" }}">{{ .Date | time.Format ":date_long" }}</time>
  <p>{{ .Summary }}</p>
</article>
{{ end }}
{{ template "_internal/pagination.html" . }}
{{ end }}
"""
HUGO_SINGLE = """{{ define "main" }}
<article class="post">
  <h1>{{ .Title }}</h1>
  {{ if eq .Section "posts" }}<p class="meta">Publicerad <time datetime="{{ .Date.Format "2006-01-02T15:04:05Z07:00" }}">{{ .Date | time.Format ":date_long" }}</time></p>{{ end }}
  {{ .Content }}
</article>
{{ end }}
"""


def build_hugo(work: Path, name: str, title: str, zone: str | None) -> tuple[Path, list[Entry]]:
    src = work / "src"
    if src.exists():
        shutil.rmtree(src)
    (src / "content" / "posts").mkdir(parents=True)
    (src / "layouts" / "_default").mkdir(parents=True)
    config = [f'baseURL = "http://{name}.test:{NGINX_PORT}/"', 'languageCode = "sv-se"', 'defaultContentLanguage = "sv"',
              f'title = "{title}"', "paginate = 4", "enableRobotsTXT = true", "disableKinds = [\"taxonomy\", \"term\"]",
              "[params]", 'description = "Nyheter från förskolan"']
    if zone:
        config.insert(4, f'timeZone = "{zone}"')
    (src / "config.toml").write_text("\n".join(config) + "\n")
    (src / "layouts" / "_default" / "baseof.html").write_text(HUGO_BASEOF)
    (src / "layouts" / "_default" / "list.html").write_text(HUGO_LIST)
    (src / "layouts" / "_default" / "single.html").write_text(HUGO_SINGLE)
    posts = entries(zone or "UTC")
    for e in posts:
        (src / "content" / "posts" / f"{e.post.slug}.md").write_text(
            f'---\ntitle: "{e.post.title}"\ndate: {e.written}\ncategories: ["{e.post.category}"]\n---\n\n{e.post.text}\n')
    (src / "content" / "om.md").write_text('---\ntitle: "Om oss"\n---\n\nVi är en förskola i Malmö.\n')
    out = work / "public"
    run(["hugo", "--source", str(src), "--destination", str(out), "--quiet", "--cleanDestinationDir"], env=faketime_env())
    _fix_times(out)
    return out, posts


# ------------------------------------------------------------------------------------- Jekyll

def build_jekyll(work: Path, name: str, title: str) -> tuple[Path, list[Entry]]:
    src = work / "src"
    if src.exists():
        shutil.rmtree(src)
    (src / "_posts").mkdir(parents=True)
    (src / "_config.yml").write_text(
        f'title: "{title}"\ndescription: "Nyheter från förskolan"\nurl: "http://{name}.test:{NGINX_PORT}"\nbaseurl: ""\n'
        "lang: sv\ntimezone: Europe/Stockholm\ntheme: minima\nplugins:\n  - jekyll-feed\n  - jekyll-paginate\n"
        "paginate: 4\npaginate_path: \"/page:num/\"\npermalink: /:year/:month/:day/:title/\n"
        "time: 2023-04-14 08:00:00 +0200\n")
    (src / "index.html").write_text("---\nlayout: home\n---\n")
    (src / "om.md").write_text("---\nlayout: page\ntitle: Om oss\npermalink: /om/\n---\n\nVi är en förskola i Malmö.\n")
    posts = entries("Europe/Stockholm")
    for e in posts:
        day = e.post.local.date().isoformat() if "T" in e.written else e.written
        date_line = f"date: {e.written.replace('T', ' ')}\n" if "T" in e.written else ""
        (src / "_posts" / f"{day}-{e.post.slug}.md").write_text(
            f'---\nlayout: post\ntitle: "{e.post.title}"\n{date_line}categories: {e.post.category.lower()}\n---\n\n{e.post.text}\n')
    out = work / "public"
    run(["jekyll", "build", "--quiet", "-s", str(src), "-d", str(out)], env=faketime_env({"JEKYLL_ENV": "production"}))
    _fix_times(out)
    return out, posts


# ------------------------------------------------------------------------------------ Pelican

def build_pelican(work: Path, name: str, title: str) -> tuple[Path, list[Entry]]:
    src = work / "src"
    if src.exists():
        shutil.rmtree(src)
    (src / "content").mkdir(parents=True)
    (src / "pelicanconf.py").write_text(
        f'SITENAME = "{title}"\nSITEURL = "http://{name}.test:{NGINX_PORT}"\nTIMEZONE = "Europe/Stockholm"\n'
        'DEFAULT_LANG = "sv"\nDEFAULT_PAGINATION = 4\nRELATIVE_URLS = False\nTHEME = "simple"\n'
        'FEED_ALL_ATOM = "feeds/all.atom.xml"\nFEED_ALL_RSS = "feeds/all.rss.xml"\nCATEGORY_FEED_ATOM = "feeds/{slug}.atom.xml"\n'
        'ARTICLE_URL = "{date:%Y}/{date:%m}/{slug}.html"\nARTICLE_SAVE_AS = ARTICLE_URL\n')
    posts = entries("Europe/Stockholm")
    for e in posts:
        written = e.written.replace("T", " ")
        (src / "content" / f"{e.post.slug}.md").write_text(
            f"Title: {e.post.title}\nDate: {written}\nCategory: {e.post.category}\nSlug: {e.post.slug}\n\n{e.post.text}\n")
    out = work / "public"
    run(["/usr/bin/pelican", str(src / "content"), "-o", str(out), "-s", str(src / "pelicanconf.py"), "-q"],
        env=faketime_env(), cwd=src)
    _fix_times(out)
    return out, posts


# ------------------------------------------------------------------------------------ capture

SITES = (
    # (generator, site name, title, builder, time zone note)
    ("hugo", "hugo-lotsen", "Förskolan Lotsen", lambda w, n, t: build_hugo(w, n, t, "Europe/Stockholm"), "timeZone = Europe/Stockholm"),
    ("hugo", "hugo-masen", "Förskolan Måsen", lambda w, n, t: build_hugo(w, n, t, None), "no timeZone (UTC)"),
    ("jekyll", "jekyll-gladan", "Förskolan Glädan", build_jekyll, "timezone: Europe/Stockholm"),
    ("pelican", "pelican-ugglan", "Förskolan Ugglan", build_pelican, "TIMEZONE = Europe/Stockholm"),
)


def _version(package: str) -> str:
    return run(["dpkg-query", "-W", "-f=${Version}", package]).stdout


def _find(root: Path, slug: str) -> str:
    """The served path of the post with `slug` (generators differ in their permalinks)."""
    for path in sorted(root.rglob("*.html")):
        rel = "/" + str(path.relative_to(root))
        if slug in rel and "/page" not in rel and "tag" not in rel and "categor" not in rel:
            return rel[: -len("index.html")] if rel.endswith("/index.html") else rel
    raise RuntimeError(f"no page for {slug} under {root}")


def build(servers: Servers, out: Path) -> list[Path]:
    built = {}
    for generator, name, title, builder, zone in SITES:
        root, posts = builder(servers.work / name, name, title)
        built[name] = (generator, title, root, posts, zone)
    servers.nginx.stop()
    servers.nginx.configure({f"{name}.test": str(v[2]) for name, v in built.items()})
    servers.nginx.start()
    written = []
    for name, (generator, _title, root, posts, zone) in built.items():
        package = {"hugo": "hugo", "jekyll": "jekyll", "pelican": "pelican"}[generator]
        theme = {"hugo": "corpus-minimal-layout", "jekyll": "minima", "pelican": "simple"}[generator]
        origin = f"http://{name}.test:{NGINX_PORT}"
        meta = {"software": generator, "version": _version(package), "server": f"nginx {_version('nginx')} (Debian)",
                "theme": theme, "language": "sv", "site": name, "time_zone": zone, "conditional": "nginx",
                "captured_at": "2023-04-15T10:00:00Z"}
        rec = Recorder(out / generator / name, origin, CONNECT, meta)
        desc = sorted((e.post for e in posts), key=lambda p: p.at, reverse=True)
        feeds = {"hugo": ["/index.xml", "/posts/index.xml"], "jekyll": ["/feed.xml"],
                 "pelican": ["/feeds/all.atom.xml", "/feeds/all.rss.xml"]}[generator]
        feed_url = origin + feeds[0]
        n = 4
        rec.get("live", "front", "/", "front", expect(True, desc if generator == "jekyll" else desc[:n], feed_url=feed_url))
        page_path = {"hugo": "/page/{k}/", "jekyll": "/page{k}/", "pelican": "/index{k}.html"}[generator]
        pages = (len(desc) + n - 1) // n
        for k in sorted({2, pages}):
            # minima 2.5's home layout lists site.posts, not the paginator: every /pageN/ shows all posts
            shown = desc if generator == "jekyll" else desc[(k - 1) * n:k * n]
            rec.get("live", f"listing_page_{k}", page_path.format(k=k), "listing", expect(True, shown))
        if generator == "hugo":
            rec.get("live", "section_posts", "/posts/", "listing", expect(True, desc[:n]))
        if generator == "pelican":
            rec.get("live", "archives", "/archives.html", "archive", expect(True, desc))
            category = desc[0].category
            rec.get("live", f"category_{category.lower()}", f"/category/{category.lower()}.html", "archive",
                    expect(True, [p for p in desc if p.category == category][:n]))
        chosen = [desc[0], desc[1]] + [p for p in desc if "Efter midnatt" in p.title or "Utan tidszon" in p.title]
        for post in dict.fromkeys(chosen):
            rec.get("live", f"post_{post.slug}", _find(root, post.slug), "post", expect(True, [post]))
        for feed in feeds:
            shown = desc if generator != "jekyll" else desc[:10]
            rec.get("live", "feed" + feed.replace("/", "_").replace(".", "_").rstrip("_"), feed, "feed",
                    expect(True, shown, feed_url=origin + feed))
        rec.get("live", "robots", "/robots.txt", "robots", None)
        rec.get("live", "missing", "/2023/04/14/finns-inte/", "missing", expect(False, ()), fallback=True)
        rec.probe_validators("live", feeds[0])
        rec.probe_validators("live", "/")
        truth = {"exists": True, "newest_day": desc[0].day.isoformat(), "newest_at": iso(desc[0].at),
                 "newest_title": desc[0].title, "feed_url": feed_url,
                 "posts": [{"title": p.title, "at": iso(p.at), "day": p.day.isoformat(),
                            "written": next(e.written for e in posts if e.post is p)} for p in desc]}
        notes = [f"{generator} with {zone}; dates written date-only except three with a time near midnight"]
        written.append(rec.write(truth, notes))
    return written


