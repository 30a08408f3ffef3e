"""Build crawler/notice_model.json, the notice detector's linear model, from the labelled set.

Usage: .venv/bin/python scripts/train_notice_model.py [--check] [--cv 5] [--out PATH]

Needs the `train` extra (`pip install -e '.[train]'`: scikit-learn). Reproducible: the same labelled
file and the same scikit-learn give the same weights (the solver is deterministic; the typo
variants come from a fixed seed). The model file records the SHA-256 of the labelled file it was
built from; `tests/test_notices.py` fails when the two no longer match, so a change to the
labelled set is followed by `make model`.

--cv N prints the N-fold cross-validated figures of the model alone (every text scored by a model
that never saw it) instead of writing the file; --check exits 1 when the committed file is not what
this script builds now.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from crawler import notice_model, notices  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "notices"
LABELLED = FIXTURES / "labelled.jsonl"
OUT = ROOT / "crawler" / notice_model.MODEL_FILE
C = 16.0         # inverse regularisation strength (chosen by --cv on the labelled set)
MIN_WEIGHT = 0.2  # features whose weights all stay below this are dropped (size, not accuracy)
TYPO_VARIANTS = 1  # per text, this many copies with one or two typing slips
SEED = 14


def training_files() -> list[Path]:
    """The labelled set and every blind set already scored (committed beside it once its first score is recorded)."""
    return [LABELLED, *sorted(FIXTURES.glob("fresh_*.jsonl"))]


def load() -> list[dict]:
    from notice_accuracy import load as load_labelled

    return [row for path in training_files() for row in load_labelled(path)]


def fingerprint() -> str:
    """SHA-256 over the training files' names and bytes (what the model file records)."""
    digest = hashlib.sha256()
    for path in training_files():
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def kind_of(row: dict) -> str:
    if "kind" in row:
        return row["kind"]
    raise SystemExit(f"a training row needs a kind: {row}")


def typo(text: str, rng: random.Random) -> str:
    """`text` with one or two slips: a letter dropped, doubled or swapped with the next."""
    chars = list(text)
    for _ in range(rng.choice((1, 2))):
        letters = [i for i, c in enumerate(chars[:-1]) if c.isalpha() and chars[i + 1].isalpha()]
        if not letters:
            break
        i = rng.choice(letters)
        slip = rng.choice(("drop", "double", "swap"))
        if slip == "drop":
            del chars[i]
        elif slip == "double":
            chars.insert(i, chars[i])
        else:
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


def train(rows: list[dict], c: float = C, meta: dict | None = None) -> notice_model.Model:
    """Fit the model on `rows` ({"text", "kind"}) and return it pruned, ready for plain-Python inference."""
    import numpy as np
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    rng = random.Random(SEED)
    texts, labels = [], []
    for row in rows:
        variants = [row["text"]] + [typo(row["text"], rng) for _ in range(TYPO_VARIANTS)]
        for text in variants:
            texts.append(notice_model.vector(notices.fold(text), notices.signals(text)))
            labels.append(notice_model.KINDS.index(kind_of(row)))
    vectorizer = DictVectorizer()
    x = vectorizer.fit_transform(texts)
    y = np.array(labels)
    clf = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    clf.fit(x, y)
    coef = np.zeros((len(notice_model.KINDS), x.shape[1]))
    bias = np.zeros(len(notice_model.KINDS))
    for row, k in enumerate(clf.classes_):
        coef[k] = clf.coef_[row]
        bias[k] = clf.intercept_[row]
    weights = {}
    for j, name in enumerate(vectorizer.feature_names_):
        w = coef[:, j]
        if np.abs(w).max() >= MIN_WEIGHT:
            weights[name] = tuple(round(float(v), 3) for v in w)
    return notice_model.Model(notice_model.KINDS, tuple(round(float(b), 4) for b in bias), weights, meta or {})


def build() -> notice_model.Model:
    import sklearn

    rows = load()
    meta = {
        "trained_on": [str(p.relative_to(ROOT)) for p in training_files()],
        "trained_on_sha256": fingerprint(),
        "rows": len(rows),
        "c": C,
        "min_weight": MIN_WEIGHT,
        "typo_variants": TYPO_VARIANTS,
        "seed": SEED,
        "scikit_learn": sklearn.__version__,
        "built_by": "scripts/train_notice_model.py",
    }
    return train(rows, meta=meta)


def dump(model: notice_model.Model) -> str:
    # One feature a line: diffs of a retrained model stay readable.
    data = model.to_json()
    weights = data.pop("weights")
    head = json.dumps(data, ensure_ascii=False, sort_keys=True)[:-1]
    lines = [f"  {json.dumps(f, ensure_ascii=False)}: {json.dumps(w)}" for f, w in weights.items()]
    return head + ', "weights": {\n' + ",\n".join(lines) + "\n}}\n"


def cross_validate(folds: int, c: float) -> None:
    rows = load()
    rng = random.Random(SEED)
    order = list(range(len(rows)))
    rng.shuffle(order)
    predicted: dict[int, dict[str, float]] = {}
    for fold in range(folds):
        test = set(order[fold::folds])
        model = train([r for i, r in enumerate(rows) if i not in test], c=c)
        for i in test:
            predicted[i] = notices.read(rows[i]["text"], model)
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7):
        tp = fp = fn = right_kind = 0
        for i, row in enumerate(rows):
            found = predicted[i]
            flagged = found.score >= threshold
            truth = row["kind"] != "none"
            tp += flagged and truth
            fp += flagged and not truth
            fn += truth and not flagged
            if flagged and truth:
                right_kind += found.kind == row["kind"]
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        print(f"C={c} threshold {threshold}: precision {precision:.3f} recall {recall:.3f} "
              f"kind right {right_kind}/{tp}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed model is stale")
    parser.add_argument("--cv", type=int, default=0, help="cross-validate with N folds instead of writing")
    parser.add_argument("--c", type=float, default=C, help="regularisation (with --cv)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.cv:
        cross_validate(args.cv, args.c)
        return 0
    text = dump(build())
    if args.check:
        same = args.out.exists() and args.out.read_text(encoding="utf-8") == text
        print("model is up to date" if same else f"{args.out} is stale: run scripts/train_notice_model.py")
        return 0 if same else 1
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text) // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
