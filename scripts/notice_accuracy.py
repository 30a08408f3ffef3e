"""Precision and recall of the notice detector, overall and per kind, on labelled sets.

Usage:
  .venv/bin/python scripts/notice_accuracy.py                      # every split of the labelled set
  .venv/bin/python scripts/notice_accuracy.py tests/fixtures/notices/fresh_A.jsonl
  .venv/bin/python scripts/notice_accuracy.py labels.jsonl --only-files   # e.g. `crawler review export-labels`
  options: --split NAME, --threshold 0.6, --quiet (figures only), --json

A labelled file is JSON Lines, one text a line: {"text": ..., "kind": "move"|"closing"|"elsewhere"|
"none"} (also read: "label" holding a kind, or 1/0 for "some notice"/"none"; optional "note" and
"split"). The rows of tests/fixtures/notices/labelled.jsonl carry the split they were written in;
an extra file is one set named after the file.

Figures per set: "notice" counts a text as found when it is flagged at all (the kind may be wrong),
which is what decides whether a reviewer sees it; "kind" counts it found only with the right kind;
then precision and recall of each kind on its own (a `move` flagged as `closing` is a miss for
`move` and a false flag for `closing`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler import notices  # noqa: E402

LABELLED = ROOT / "tests" / "fixtures" / "notices" / "labelled.jsonl"
KINDS = notices.KINDS
ANY = "notice"  # the truth of a row labelled only 1 ("some notice", kind unknown)


class LabelError(ValueError):
    """A labelled file that cannot be read."""


def truth(row: dict) -> str:
    """The row's kind: one of KINDS, "none", or ANY when only "a notice" is known."""
    value = row.get("kind", row.get("label"))
    if value in (*KINDS, "none"):
        return value
    if value is None and "is_notice" in row:
        value = row["is_notice"]
    if value in (1, True, "1"):
        return ANY
    if value in (0, False, "0", None):
        return "none"
    raise LabelError(f"unknown kind {value!r}")


def load(path: Path = LABELLED, split: str | None = None) -> list[dict]:
    """The rows of one labelled file, in file order, each with its "kind" and "split" filled in."""
    rows = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                    raise LabelError("each line needs an object with a \"text\"")
                row = {**row, "kind": truth(row), "split": split or row.get("split") or path.stem}
            except (json.JSONDecodeError, LabelError) as exc:
                raise LabelError(f"{path}:{number}: {exc}") from None
            rows.append(row)
    return rows


def evaluate(rows: list[dict], threshold: float) -> dict:
    """Figures of one set: notice-level and kind-level confusion, per-kind precision/recall, the mistakes."""
    tp = fp = fn = tn = right_kind = 0
    per = {k: {"tp": 0, "fp": 0, "fn": 0} for k in KINDS}
    wrong = []
    for row in rows:
        found = notices.read(row["text"])
        flagged = found.kind if found.kind is not None and found.score >= threshold else None
        want = row["kind"]
        if flagged and want != "none":
            tp += 1
            if want in (flagged, ANY):
                right_kind += 1
            else:
                wrong.append(("wrong kind", found, row))
        elif flagged:
            fp += 1
            wrong.append(("false flag", found, row))
        elif want != "none":
            fn += 1
            wrong.append(("missed", found, row))
        else:
            tn += 1
        if want != ANY:
            for k in KINDS:
                per[k]["tp"] += flagged == k and want == k
                per[k]["fp"] += flagged == k and want != k
                per[k]["fn"] += want == k and flagged != k

    def ratio(a: int, b: int) -> float:
        return a / b if b else 1.0

    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    kind_precision, kind_recall = ratio(right_kind, tp + fp), ratio(right_kind, tp + fn)
    return {
        "n": len(rows), "tp": tp, "fp": fp, "fn": fn, "tn": tn, "right_kind": right_kind,
        "precision": precision, "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "kind_precision": kind_precision, "kind_recall": kind_recall,
        "kinds": {k: {**c, "precision": ratio(c["tp"], c["tp"] + c["fp"]), "recall": ratio(c["tp"], c["tp"] + c["fn"])}
                  for k, c in per.items()},
        "wrong": wrong,
    }


def _line(name: str, res: dict) -> str:
    kinds = "  ".join(f"{k} {c['precision']:.2f}/{c['recall']:.2f} (n={c['tp'] + c['fn']})"
                      for k, c in res["kinds"].items())
    return (f"{name:10} n={res['n']:4}  notice P={res['precision']:.3f} R={res['recall']:.3f} "
            f"F1={res['f1']:.3f}  kind P={res['kind_precision']:.3f} R={res['kind_recall']:.3f}  "
            f"(tp={res['tp']} fp={res['fp']} fn={res['fn']} tn={res['tn']})\n{'':12}per kind P/R: {kinds}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="extra labelled JSONL files, each scored as one set")
    parser.add_argument("--only-files", action="store_true", help="score only FILES, not the labelled set")
    parser.add_argument("--split", help="only this split of the labelled set")
    parser.add_argument("--threshold", type=float, default=0.6)
    parser.add_argument("--quiet", action="store_true", help="figures only, no misclassified texts")
    parser.add_argument("--json", action="store_true", help="figures as JSON")
    args = parser.parse_args(argv)
    try:
        sets: dict[str, list[dict]] = {}
        if not args.only_files:
            for row in load():
                sets.setdefault(row["split"], []).append(row)
            if args.split:
                if args.split not in sets:
                    print(f"Error: no split {args.split!r} (there are: {', '.join(sets)})", file=sys.stderr)
                    return 2
                sets = {args.split: sets[args.split]}
        for path in args.files:
            sets[path.stem] = load(path, split=path.stem)
    except (OSError, LabelError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    results = {name: evaluate(rows, args.threshold) for name, rows in sets.items()}
    if len(sets) > 1:
        results["all"] = evaluate([r for rows in sets.values() for r in rows], args.threshold)
    if args.json:
        print(json.dumps({n: {k: v for k, v in r.items() if k != "wrong"} for n, r in results.items()}, indent=2))
        return 0
    for name, res in results.items():
        print(_line(name, res))
        if not args.quiet and name != "all":
            for what, found, row in res["wrong"]:
                print(f"    {what}: want {row['kind']}, got {found.kind} {found.score:.2f} "
                      f"matched={list(found.matched)}: {row['text'][:160]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
