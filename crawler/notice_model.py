"""The learned half of the notice detector: a linear model over words and character n-grams.

Rules find the phrases notices are usually written with; this model catches the paraphrases they
miss ("all info skickas nu via Tempus", "Blogg ❌ Tempus Hemma ✅", misspelt product names). It is
a multinomial logistic regression over binary features of the folded text (lower case, diacritics
folded: see `crawler.notices.fold`), each text's feature vector scaled to unit length:

- every word (and `@handle`, `#hashtag`, emoji) and every pair of adjacent words;
- the character 3-, 4- and 5-grams of each word padded with spaces, so that compounds and typos
  ("tempusappen", "Tempus Hemme", "stängd" without diacritics) share features with the spelling
  seen in training.

The weights are `notice_model.json` beside this file, built by `scripts/train_notice_model.py` from
the labelled set `tests/fixtures/notices/labelled.jsonl` (the file records the set's SHA-256, and a
test checks it still matches). Inference is plain Python and dictionary look-ups: about 0.1 ms for
a post's title or summary, no NumPy or scikit-learn at run time.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

KINDS = ("none", "move", "closing", "elsewhere")
MODEL_FILE = "notice_model.json"

# A word (digits folded to 0, so dates look alike), optionally an @handle or #hashtag; or one
# non-ASCII symbol (emoji, arrows): "Blogg ❌ Tempus Hemma ✅" carries its meaning in them.
TOKEN = re.compile(r"[@#]?\w+|[^\w\s\x00-\x7f\ufe0f\u200d]")
_DIGIT = re.compile(r"\d+")
NGRAMS = (3, 4, 5)
MIN_FEATURES = 80
SIGNAL = "r "  # prefix of the rules' signals among the features


def tokens(folded: str) -> list[str]:
    """The tokens features are made from: words (digits as 0), @handles, #hashtags and symbols."""
    return [normalise(t) for t in TOKEN.findall(folded)]


def normalise(token: str) -> str:
    """A token as a feature: digits folded to 0."""
    return _DIGIT.sub("0", token)


def features(folded: str) -> set[str]:
    """The binary features of one folded text's words (see the module docstring)."""
    return token_features(tokens(folded))


def inner_features(toks: list[str]) -> set[str]:
    """`features` of a text without the pairs with its start and end ("<s> first", "last </s>"):
    what a sentence brings to every window it is read in."""
    found: set[str] = set()
    previous = None
    for tok in toks:
        if previous is not None:
            found.add("b " + previous + " " + tok)
        found.update(_word_features(tok))
        previous = tok
    return found


def token_features(toks: list[str]) -> set[str]:
    """`features` of a text from its `tokens`."""
    found: set[str] = set()
    previous = "<s>"
    for tok in toks:
        found.add("b " + previous + " " + tok)
        found.update(_word_features(tok))
        previous = tok
    if toks:
        found.add("b " + previous + " </s>")
    return found


@lru_cache(maxsize=65_536)
def _word_features(tok: str) -> tuple[str, ...]:
    # Words repeat across posts: their features are made once (about half the detector's time).
    out = ["w " + tok]
    word = tok.lstrip("@#")
    if len(word) > 1 and word.isalnum():
        padded = f" {word} "
        out.extend("c " + padded[i:i + n] for n in NGRAMS for i in range(len(padded) - n + 1))
    return tuple(out)


def vector(folded: str, signals: Iterable[str] = ()) -> dict[str, float]:
    """The feature vector: the words' features scaled to unit length, and each rule signal at 1."""
    found = features(folded)
    # A title of two words is not made more certain than a sentence: short texts are scaled as if
    # they had MIN_FEATURES features.
    scale = 1.0 / math.sqrt(max(len(found), MIN_FEATURES))
    out = dict.fromkeys(found, scale)
    out.update(dict.fromkeys((SIGNAL + s for s in signals), 1.0))
    return out


@dataclass(frozen=True)
class Model:
    """A trained model: per feature one weight per kind, and one bias per kind."""

    kinds: tuple[str, ...]
    bias: tuple[float, ...]
    weights: dict[str, tuple[float, ...]]
    meta: dict

    def probabilities(self, folded: str, signals: Iterable[str] = ()) -> dict[str, float]:
        """P(kind) for one folded text and the rules' signals for it, over `kinds` (they sum to 1)."""
        return self.probabilities_of(features(folded), signals)

    def probabilities_of(self, found: Iterable[str], signals: Iterable[str] = ()) -> dict[str, float]:
        """`probabilities` from the text's `features` already made."""
        found = found if isinstance(found, (set, frozenset)) else set(found)
        return self.probabilities_summed(self.sums(found), len(found), signals)

    def sums(self, found: Iterable[str]) -> tuple[float, ...] | None:
        """Per kind the sum of the weights of the features `found` (None when none has a weight)."""
        words = [w for w in map(self.weights.get, found) if w is not None]
        return tuple(map(sum, zip(*words, strict=True))) if words else None

    def probabilities_summed(self, sums: tuple[float, ...] | None, count: int,
                             signals: Iterable[str] = ()) -> dict[str, float]:
        """`probabilities` from the `sums` of a text's `count` features' weights (a reader of
        overlapping windows sums each sentence's once and combines them)."""
        scale = 1.0 / math.sqrt(max(count, MIN_FEATURES))
        get = self.weights.get
        rules = [w for w in map(get, (SIGNAL + s for s in signals)) if w is not None]
        logits = list(self.bias)
        # Every word feature has the same value (`scale`), every signal 1: sum the columns first.
        for k, total in enumerate(sums or ()):
            logits[k] += total * scale
        for k, total in enumerate(map(sum, zip(*rules, strict=True))) if rules else ():
            logits[k] += total
        top = max(logits)
        exps = [math.exp(v - top) for v in logits]
        total = sum(exps)
        return {kind: e / total for kind, e in zip(self.kinds, exps, strict=True)}

    def contributions(self, folded: str, kind: str, signals: Iterable[str] = (),
                      words_only: bool = False) -> list[tuple[float, str]]:
        """The features that push most towards `kind` (against the strongest other kind), strongest first."""
        k = self.kinds.index(kind)
        out = []
        for feature, value in vector(folded, signals).items():
            if words_only and feature[0] not in "wb":
                continue
            w = self.weights.get(feature)
            if w is not None:
                others = max(v for i, v in enumerate(w) if i != k)
                out.append(((w[k] - others) * value, feature))
        return sorted(out, reverse=True)

    def to_json(self) -> dict:
        return {"kinds": list(self.kinds), "bias": list(self.bias), "meta": self.meta,
                "weights": {f: list(w) for f, w in sorted(self.weights.items())}}

    @classmethod
    def from_json(cls, data: dict) -> Model:
        return cls(tuple(data["kinds"]), tuple(data["bias"]),
                   {f: tuple(w) for f, w in data["weights"].items()}, data.get("meta", {}))


@lru_cache(maxsize=1)
def shipped() -> Model:
    """The model shipped with the package (read once)."""
    text = resources.files("crawler").joinpath(MODEL_FILE).read_text(encoding="utf-8")
    return Model.from_json(json.loads(text))
