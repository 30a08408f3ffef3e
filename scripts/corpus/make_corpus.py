"""Regenerate tests/fixtures/real/: real blog software on loopback, captured as it serves.

    sudo .venv/bin/python scripts/corpus/make_corpus.py            # everything (~3 minutes)
    .venv/bin/python scripts/corpus/make_corpus.py --only hugo,jekyll --no-install

Installs Debian's packages (through `flock /tmp/apt.lock apt-get install -y`), then builds the
sites from scripts/corpus/posts.py and records each URL's status, relevant headers and body with
the expected answers (see tests/fixtures/real/README.md). WordPress: wordpress.py; Hugo, Jekyll,
Pelican: static.py; Nikola, mkdocs-material and Hexo (from PyPI and npm, pinned): generators.py. Servers run from /tmp/corpus-work and are stopped before the script ends.
Apache, PHP and the generators run under libfaketime at 2023-04-15 10:00 UTC, so regenerating
gives the same files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

ROOT = HERE.parent.parent
OUT = ROOT / "tests" / "fixtures" / "real"
PACKAGES = {
    "wordpress": ["apache2", "libapache2-mod-php", "php-mysql", "mariadb-server", "wordpress", "wordpress-l10n",
                  "wordpress-theme-twentytwentyone", "wordpress-theme-twentytwentytwo", "wordpress-theme-twentytwentythree",
                  "nginx-light", "faketime"],
    "static": ["hugo", "jekyll", "jekyll-theme-minima", "ruby-jekyll-feed", "ruby-jekyll-paginate", "pelican",
               "nginx-light", "faketime"],
    # Nikola, mkdocs-material and Hexo come from PyPI and npm (generators.install), served by nginx
    "generators": ["nginx-light", "faketime", "nodejs", "npm", "python3-venv"],
}


def install(groups: list[str]) -> None:
    wanted = sorted({p for g in groups for p in PACKAGES[g]})
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["flock", "/tmp/apt.lock", "apt-get", "install", "-y", "--no-install-recommends", *wanted],
                   check=True, env=env, stdout=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="wordpress,static,generators",
                        help="comma-separated: wordpress, static, generators")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--no-install", action="store_true", help="skip apt-get (packages already there)")
    args = parser.parse_args(argv)
    groups = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = set(groups) - set(PACKAGES)
    if unknown:
        parser.error(f"unknown group(s): {', '.join(sorted(unknown))}")
    if os.geteuid() != 0:
        print("Error: run as root (it installs packages and starts Apache as www-data)", file=sys.stderr)
        return 2
    if not args.no_install:
        install(groups)
        if "generators" in groups:
            import generators

            generators.install()
    from servers import Servers

    written: list[Path] = []
    with Servers(Path("/tmp/corpus-work")) as servers:
        if "wordpress" in groups:
            import wordpress

            shutil.rmtree(args.out / "wordpress", ignore_errors=True)
            written += wordpress.build(servers, args.out)
        if "static" in groups:
            import static

            for generator in ("hugo", "jekyll", "pelican"):
                shutil.rmtree(args.out / generator, ignore_errors=True)
            written += static.build(servers, args.out)
        if "generators" in groups:
            import generators

            for generator, *_rest in generators.SITES:
                shutil.rmtree(args.out / generator, ignore_errors=True)
            written += generators.build(servers, args.out)
    for path in written:
        size = sum(f.stat().st_size for f in path.parent.rglob("*") if f.is_file())
        print(f"{path.parent.relative_to(args.out)}: {size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
