"""Precision, recall and F1 of the notice detector on the labelled set, per split.

Usage: .venv/bin/python scripts/notice_accuracy.py [--split dev|holdout|fresh|all] [--threshold 0.6] [--quiet]

The labelled set is tests/fixtures/notices/labelled.jsonl: {"text", "label", "note", "split"}.
"dev" is what the rules were written from; "holdout" (about 30 % of the first 163) was scored only
once the rules were done; "fresh" .. "fresh5" were each written later, scored once with the rules
as they stood (the unseen figure), and only then used to generalise the rules. fresh5 is the last
unseen measure. tests/test_notices.py records the figure of each part at first scoring.
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


def load(path: Path = LABELLED) -> list[dict]:
    """The labelled rows, in file order."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def evaluate(rows: list[dict], threshold: float) -> dict:
    """Confusion counts, precision, recall, F1 and the misclassified rows (with their scores)."""
    tp = fp = fn = tn = 0
    wrong = []
    for row in rows:
        value, matched, kind = notices.score(row["text"])
        flagged = value >= threshold and kind is not None
        if flagged and row["label"]:
            tp += 1
        elif flagged:
            fp += 1
            wrong.append(("false positive", value, matched, row))
        elif row["label"]:
            fn += 1
            wrong.append(("false negative", value, matched, row))
        else:
            tn += 1
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"n": len(rows), "tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": precision,
            "recall": recall, "f1": f1, "wrong": wrong}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["dev", "holdout", "fresh", "fresh2", "fresh3", "fresh4", "fresh5", "all"], default="all")
    parser.add_argument("--threshold", type=float, default=0.6)
    parser.add_argument("--quiet", action="store_true", help="figures only, no misclassified texts")
    args = parser.parse_args(argv)
    rows = load()
    names = list(dict.fromkeys(r.get("split", "dev") for r in rows))
    splits = names if args.split == "all" else [args.split]
    for split in [*splits, "all"] if args.split == "all" else splits:
        part = rows if split == "all" else [r for r in rows if r.get("split", "dev") == split]
        res = evaluate(part, args.threshold)
        positives = res["tp"] + res["fn"]
        print(f"{split:8} n={res['n']:3} positives={positives:3}  precision={res['precision']:.3f}  "
              f"recall={res['recall']:.3f}  F1={res['f1']:.3f}  (tp={res['tp']} fp={res['fp']} "
              f"fn={res['fn']} tn={res['tn']})")
        if not args.quiet and split != "all":
            for what, value, matched, row in res["wrong"]:
                print(f"    {what} score={value:.2f} matched={list(matched)}: {row['text']}  [{row['note']}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
