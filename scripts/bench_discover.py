"""Discovery's page reader against extruct: what each finds (sameAs, rel="me") and what it costs.

    .venv/bin/python scripts/bench_discover.py [--runs 5]

Pages: the real-software corpus (tests/fixtures/real: WordPress, Hugo, Jekyll, Pelican, ... as they
serve), the platform fixtures (tests/fixtures/platforms), the demo's pages (blog home pages with
their footers, the municipality's preschool pages, profiles), and identity pages written the ways
sites declare their accounts (Yoast-style JSON-LD @graph with sameAs, microdata itemprop=sameAs,
rel="me" on <a> and <link>, JSON-LD with a trailing comma or a comment, which browsers' JSON
rejects and some CMS plugins emit).

extruct is not a dependency: install it beside the project to compare (`pip install extruct`); the
script then reads every page with extruct.extract(syntaxes=json-ld, microdata, microformat) too.
Times are medians of --runs passes over all pages, per page, on one core.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import timedelta
from pathlib import Path

from crawler import discover
from crawler.demo import municipality
from crawler.demo.pages import render
from crawler.demo.world import HOSTS, World, cycle_time

ROOT = Path(__file__).resolve().parent.parent

IDENTITY = {
    "yoast-graph": """<html><head><script type="application/ld+json" class="yoast-schema-graph">{"@context":
        "https://schema.org","@graph":[{"@type":"WebSite","@id":"https://f.example/#website"},{"@type":"Organization",
        "@id":"https://f.example/#org","name":"Förskolan Solrosen","sameAs":["https://www.instagram.com/solrosen_mlm/",
        "https://www.facebook.com/SolrosenMalmo/"]}]}</script></head><body><p>x</p></body></html>""",
    "microdata": """<html><body><div itemscope itemtype="https://schema.org/Preschool"><span itemprop="name">
        Solrosen</span><a itemprop="sameAs" href="https://www.instagram.com/solrosen_mlm/">Instagram</a>
        <link itemprop="sameAs" href="https://www.facebook.com/SolrosenMalmo/"></div></body></html>""",
    "rel-me": """<html><head><link rel="me" href="https://www.instagram.com/solrosen_mlm/"></head><body>
        <footer><a rel="me noopener" href="https://www.facebook.com/SolrosenMalmo/">Facebook</a></footer></body></html>""",
    "json-trailing-comma": """<html><head><script type="application/ld+json">{"@type": "Organization",
        "sameAs": ["https://www.instagram.com/solrosen_mlm/",],}</script></head><body></body></html>""",
    "json-comment": """<html><head><script type="application/ld+json">
        // added by the theme
        {"@type": "Organization", "sameAs": "https://www.instagram.com/solrosen_mlm/"}</script></head></html>""",
}


def pages() -> list[tuple[str, str, bytes]]:
    """(group, url, body) of every page measured."""
    out = []
    for group in ("real", "platforms"):
        for path in sorted((ROOT / "tests" / "fixtures" / group).rglob("*.html")):
            out.append((group, f"https://{path.parent.name}.example/{path.name}", path.read_bytes()))
    world = World(319, seed=1)
    bases = {h: f"http://127.0.0.{2 + k}:8000" for k, h in enumerate(HOSTS)}
    at = cycle_time(10) + timedelta(hours=1)
    city = municipality.of(world)
    for acc in list(world.accounts())[:120]:
        page = render(world, at, bases, acc.host, f"/{acc.slug}/")
        out.append(("demo", f"{bases[acc.host]}/{acc.slug}/", page.body))
    for slug in list(city.preschools)[:120]:
        page = render(world, at, bases, "kommun", f"/forskolor/{slug}/")
        out.append(("demo", f"{bases['kommun']}/forskolor/{slug}/", page.body))
    for name, text in IDENTITY.items():
        out.append(("identity:" + name, f"https://f.example/{name}", text.encode()))
    return out


def ours(body: bytes, url: str) -> set[str]:
    return {link.url for link in discover.extract(body, url).links if link.how in ("same-as", "rel-me")}


def theirs(extruct, body: bytes, url: str) -> set[str]:
    found: set[str] = set()
    try:
        data = extruct.extract(body, base_url=url, syntaxes=["json-ld", "microdata", "microformat"], errors="ignore")
    except Exception:  # extruct raises on some bodies: count as nothing found
        return found

    def walk(item):
        if isinstance(item, dict):
            for key, value in item.items():
                if key in ("sameAs", "http://schema.org/sameAs", "https://schema.org/sameAs"):
                    for v in value if isinstance(value, list) else [value]:
                        if isinstance(v, str):
                            found.add(v)
                        elif isinstance(v, dict) and isinstance(v.get("@id"), str):
                            found.add(v["@id"])
                else:
                    walk(value)
        elif isinstance(item, list):
            for v in item:
                walk(v)

    walk(data.get("json-ld"))
    walk(data.get("microdata"))
    for mf in data.get("microformat") or []:
        if isinstance(mf, dict):
            found.update(mf.get("rels", {}).get("me", []))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    try:
        import extruct
    except ImportError:
        extruct = None
    measured = pages()
    groups = sorted({g.split(":")[0] for g, _, _ in measured})
    counts = {g: sum(1 for x, _, _ in measured if x.split(":")[0] == g) for g in groups}
    print(f"{len(measured)} pages (" + ", ".join(f"{g} {n}" for g, n in counts.items()) + ")")
    readers = [("selectolax + json (discover.extract)", ours)]
    if extruct is not None:
        readers.append((f"extruct {getattr(extruct, '__version__', '')}", lambda b, u: theirs(extruct, b, u)))
    results = {}
    for name, read in readers:
        times = []
        for _ in range(args.runs):
            started = time.process_time()
            found = [read(body, url) for _, url, body in measured]
            times.append((time.process_time() - started) / len(measured) * 1000)
        results[name] = found
        print(f"{name}: {statistics.median(times):.3f} ms CPU per page (median of {args.runs}); "
              f"identity URLs found on {sum(1 for f in found if f)} pages, {sum(len(f) for f in found)} in all")
    if extruct is not None:
        (a, fa), (b, fb) = results.items()
        for (group, url, _), x, y in zip(measured, fa, fb, strict=True):
            if x != y:
                print(f"  differ on {group} {url}: only {a.split()[0]}: {sorted(x - y)}; only {b.split()[0]}: {sorted(y - x)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
