"""Render an HTML report to a PNG with headless Chromium, to check how it looks (and prints).

    python scripts/render_report.py reports/report-2023-04-13.html out.png [--width 1200 --height 1600]
    python scripts/render_report.py report.html out.pdf --pdf      # what the print rules give
    python scripts/render_report.py report.html out.png --as-print --width 794   # print rules, as an image

Chromium runs with a throw-away profile and everything that would reach the network switched off;
the report is self-contained, so nothing needs the network anyway. Exits non-zero (with Chromium's
stderr) when Chromium is missing or writes no image within the timeout.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The path of a Chromium-like browser, or None."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def render(html_path: str | Path, out_path: str | Path, *, width: int = 1200, height: int = 1600,
           pdf: bool = False, as_print: bool = False, timeout: float = 60.0,
           chromium: str | None = None) -> Path:
    """Write a screenshot (or a PDF with the print rules) of `html_path` to `out_path`.

    `as_print` applies the page's @media print rules to the screenshot (headless screenshots use
    screen media), so the printed look can be checked as an image.
    """
    browser = chromium or find_chromium()
    if browser is None:
        raise RuntimeError("no Chromium found; install it (apt-get install -y chromium)")
    source = Path(html_path).resolve()
    if not source.is_file():
        raise RuntimeError(f"{source}: no such file")
    out = Path(out_path).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="render-report-") as profile:
        if as_print:
            printed = Path(profile) / "print.html"
            text = source.read_text(encoding="utf-8").replace("@media print", "@media screen, print")
            printed.write_text(text, encoding="utf-8")
            source = printed
        command = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", "--no-pdf-header-footer", f"--user-data-dir={profile}",
            f"--print-to-pdf={out}" if pdf else f"--screenshot={out}",
            f"--window-size={width},{height}", source.as_uri(),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if not out.is_file() or out.stat().st_size == 0:
        raise RuntimeError(f"Chromium wrote no {'PDF' if pdf else 'image'} (exit {done.returncode}):\n"
                           f"{done.stderr[-2000:]}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html")
    parser.add_argument("out")
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=1600)
    parser.add_argument("--pdf", action="store_true", help="print to PDF (the @media print rules)")
    parser.add_argument("--as-print", action="store_true", help="screenshot with the @media print rules applied")
    args = parser.parse_args(argv)
    try:
        out = render(args.html, args.out, width=args.width, height=args.height, pdf=args.pdf,
                     as_print=args.as_print)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"render_report: {exc}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
