"""What the notice detector costs (issue 21): CPU ms per text for `notices.read()`, and the
equivalence corpus that proves a faster detector gives the same findings.

The corpus is every text of tests/fixtures/notices/*.jsonl and unseen/*.jsonl (short: titles,
captions, posts as labelled) plus long synthetic posts: those texts joined into posts of 3-30
sentences with a fixed seed. `--record` writes the sha256 of every text's Finding (kind, score,
matched, snippet) to tests/fixtures/notices/findings.sha256.json; tests/test_notices.py asserts the
detector still gives those digests (recorded on the detector as shipped, before issue 21's work).

    .venv/bin/python scripts/bench_notices.py --reps 5        # CPU ms per text, short and long
    .venv/bin/python scripts/bench_notices.py --reps 5 --against 7e5e9c1   # and crawler/notices.py
                                                              # of that commit, interleaved
    .venv/bin/python scripts/bench_notices.py --record        # only when the findings are meant to change
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FIXTURES = ROOT / "tests" / "fixtures" / "notices"
DIGESTS = FIXTURES / "findings.sha256.json"
LONG_POSTS = 400
SEED = 21


def short_texts() -> list[str]:
    """Every labelled text, in file order (files sorted by name)."""
    out = []
    for path in sorted(FIXTURES.glob("*.jsonl")) + sorted((FIXTURES / "unseen").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(json.loads(line)["text"])
    return out


def long_texts(shorts: list[str], count: int = LONG_POSTS, seed: int = SEED) -> list[str]:
    """Posts of 3-30 sentences cut from the labelled texts (fixed seed: the same posts every run)."""
    from crawler import notices

    sentences = [m.group(0).strip() for t in shorts for m in notices._SENTENCE.finditer(t) if m.group(0).strip()]
    rng = random.Random(seed)
    return [" ".join(rng.choice(sentences) for _ in range(rng.randint(3, 30))) for _ in range(count)]


def corpus() -> dict[str, list[str]]:
    shorts = short_texts()
    return {"short": shorts, "long": long_texts(shorts)}


def digest(finding) -> str:
    data = json.dumps([finding.kind, repr(finding.score), list(finding.matched), finding.snippet],
                      ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def digests(texts: dict[str, list[str]]) -> dict[str, list[str]]:
    from crawler import notices

    return {name: [digest(notices.read(t)) for t in group] for name, group in texts.items()}


def cpu_ms_per_text(texts: list[str], notices=None) -> float:
    if notices is None:
        from crawler import notices
    start = time.process_time()
    for t in texts:
        notices.read(t)
    return (time.process_time() - start) * 1000 / len(texts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--record", action="store_true", help="write the findings' digests")
    parser.add_argument("--against", metavar="REV", help="also time crawler/notices.py of this git revision")
    args = parser.parse_args(argv)
    texts = corpus()
    if args.record:
        DIGESTS.write_text(json.dumps(digests(texts), indent=0) + "\n", encoding="utf-8")
        print(f"wrote {DIGESTS.relative_to(ROOT)}: {', '.join(f'{len(v)} {k}' for k, v in texts.items())}")
        return 0
    from crawler import notices

    detectors = {"this tree": notices}
    if args.against:
        detectors[args.against] = _notices_at(args.against)
    for detector in detectors.values():
        for t in texts["short"][:50]:  # warm caches (the model, the regexes, the word features) once
            detector.read(t)
    runs: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.reps):  # interleaved
        for label, detector in detectors.items():
            for name, group in texts.items():
                runs.setdefault((label, name), []).append(cpu_ms_per_text(group, detector))
    for (label, name), values in runs.items():
        chars = statistics.mean(len(t) for t in texts[name])
        print(f"{label:10} {name:5}  {len(texts[name]):5} texts, mean {chars:4.0f} chars: "
              f"{statistics.median(values):.3f} ms CPU per text (median of {args.reps}; "
              f"min {min(values):.3f}, max {max(values):.3f})")
    return 0


def _notices_at(rev: str):
    """crawler/notices.py as it was at `rev`, loaded beside this tree's (with this tree's model)."""
    import importlib.util
    import subprocess
    import tempfile

    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:crawler/notices.py"],
                            check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "notices_at_rev.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("notices_at_rev", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    raise SystemExit(main())
