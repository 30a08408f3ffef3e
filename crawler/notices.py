"""The notice detector: does a public text announce a move to Tempus Hemma, or the account closing?

Pure: text in, a score, the matched phrases and a short evidence snippet out. Reviewers decide;
the detector only ranks what they look at, so it leans on phrases that real notices use and on
the phenomena that look like them but are not notices:

- Tempus is also where parents register absence and schedules ("registrera frånvaro i Tempus").
- "tempus" is a grammar word ("verbens tempus").
- Preschools move to new buildings, close for the summer, take a blog break, move a blog to a new
  address or to Instagram/Facebook, and use other apps ("appen Unikum").

Scoring, on text folded to lower case without diacritics (å ä → a, ö → o) so that text that lost
its diacritics reads the same:

    move    = destination (Tempus Hemma / Tempus-appen / Tempus / "appen") + a move phrase
              ("går över till", "hittar ni ... i", "följ oss i") + time/content hints − penalties
    closing = the account itself closing ("bloggen stängs ner", "sista inlägget",
              "uppdateras inte längre") + a destination bonus − penalties (temporary break, new
              address, move to Instagram/Facebook, negation)

The score is the larger of the two (plus a bonus when both are present), clamped to 0..1. Without
a move phrase a Tempus mention alone stays below the default threshold (0.6).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

from crawler.models import NoticeHit, PublicText

SNIPPET_CHARS = 200
# Texts are titles, summaries and bios; a longer one is read only this far (bounds the work a
# hostile page can cause).
MAX_TEXT_CHARS = 10_000

# ------------------------------------------------------------------------------------ folding

# One character in, one character out: positions in the folded text are positions in the original,
# so a match found in the folded text can be cut from the original for the snippet.
_FOLD = str.maketrans({
    "å": "a", "ä": "a", "à": "a", "á": "a", "â": "a", "æ": "a",
    "ö": "o", "ø": "o", "ó": "o", "ô": "o",
    "é": "e", "è": "e", "ê": "e", "ë": "e", "ü": "u", "ú": "u", "í": "i",
    "–": "-", "—": "-", "‐": "-", "‑": "-", "’": "'", "´": "'",
})


def _collapse(text: str) -> str:
    # Parsers decode entities; one left over ("&amp;nbsp;" double-encoded, "&aring;") costs little to undo.
    text = text[: MAX_TEXT_CHARS * 2]
    if "&" in text:
        text = html.unescape(text)
    return " ".join(text.split())[:MAX_TEXT_CHARS]


# str.translate with a dict costs ~60 ns a character; one replace per folded character present is
# ~30x faster on a post (every mapping is one character to one, and no target is itself mapped).
_FOLD_PAIRS = tuple((chr(code), target) for code, target in _FOLD.items())


def _fold(text: str) -> str:
    low = text.lower()
    # When no character lower-cases to several ("İ" does) the lengths agree and positions line up;
    # final sigma is the one context-dependent mapping of str.lower(), so it takes the slow path.
    if len(low) != len(text) or "Σ" in text:
        low = "".join(c if len(c) == 1 else ch for ch in text for c in (ch.lower(),))
    for char, target in _FOLD_PAIRS:
        if char in low:
            low = low.replace(char, target)
    return low


# ----------------------------------------------------------------------------------- patterns


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# Where communication moves to. Tempus Hemma is the strongest name; a bare "tempus" or "appen"
# only counts next to a move or closing phrase.
# A compound ("Tempus Hemma-kvällen", "tempus-utbildning") names an event about the app, not where
# communication goes: the lookaheads refuse a hyphenated tail other than the app itself.
_TEMPUS_HEMMA = _rx(r"\btempus[\s-]?hemma(?:s|[\s-]?appen?s?)?\b(?!-\w)")
_TEMPUS_APP = _rx(r"\btempus[\s-]?app(?:en|ens)?\b(?!-\w)|\bappen tempus\b|\bthe tempus app\b")
_TEMPUS = _rx(r"\btempus\b(?!-\w)")
_APPEN = _rx(r"\bappens?\b|\bthe app\b")

# Another named app nearby means "appen" is not Tempus.
_OTHER_APP = _rx(
    r"\b(?:unikum|vklass|schoolsoft|infomentor|skolmaten|kivra|spotify|bankid|swish|"
    r"skolplattformen|scratchjr|puppet pals|youtube|tiktok)\b|\b(?:en|ny|nya) app\b|\bappen heter\b"
)
_APPEN_NAMED = re.compile(r"\b[Aa]ppen\s+([A-ZÅÄÖ][\wåäöÅÄÖ]+)")

_MOVE = _rx(
    "|".join([
        r"\b(?:gar|gatt|gick|ga) (?:vi )?over (?:\w+ )?till\b",
        r"\bovergar (?:vi )?till\b",
        r"\bflytta[rt]? (?:vi )?(?:over |in )?(?:till|i) (?=(?:\w+[\s-]){0,2}?(?:tempus|appen))",
        r"\bflytta[rt]? (?:var|sin|sina|vara|all|allt)? ?(?:blogg\w*|dokumentation|kommunikation|information)"
        r" (?:\w+ )?till\b",
        r"\bbyt(?:er|t) (?:vi )?(?:fran \w+ )?till\b|\bbyt(?:er|t|a) (?:\w+ )?kanal\b",
        r"\bfolj\w*(?: \w+){0,3}? (?:i|pa) (?=(?:\w+[\s-]){0,2}?(?:tempus|appen))",
        r"\b(?:nar|reach) (?:ni |you )?(?:oss|us) (?:i|via|in) (?=tempus|appen|the app)",
        r"\bnu finns (?:vi|allt|all)\b|\bvi finns (?:nu |numera |framover )?i\b",
        r"\bfinns (?:nu|numera|framover|hadanefter|i fortsattningen) (?:\w+ )?i\b",
        r"\bersatt(?:er|s av) \w+",
        r"\btar (?:tempus[\s-]?hemma |appen )?over\b",
        r"\b(?:nya?|enda|only) (?:\w+)?(?:kanal\w*|channel)\b",
        r"\b(?:publicerar|lagger (?:vi )?(?:ut|upp)|delar|dokumentera[r]?|kommunicerar)\b.{0,60}?"
        r"\b(?:i|via) (?=(?:\w+[\s-]){0,2}?(?:tempus|appen))",
        r"\b(?:valkommen|welcome) (?:till|in i|to) (?=tempus|appen|the app)",
        r"\bvi ses i (?=(?:\w+[\s-]){0,2}?(?:tempus|appen))|\bsee you in (?=tempus|the app)",
        r"\blogga in (?:i|pa) (?:tempus|appen)[\w\s-]{0,20}? (?:for att|to) (?:se|ta del|folja|see|follow)\b",
        r"\bwe'?re moving\b|\bwe are moving\b|\bmoving (?:to|our)\b|\bswitch(?:ed|ing)? to\b",
        r"\bfind us\b|\bfollow (?:us|our \w+) (?:in|on)\b",
        r"\bwill be (?:\w+ )?(?:in|on|via) (?=(?:\w+ ){0,2}?(?:tempus|the app))",
    ])
)
# "You find X in Tempus" is a move only when it is about everything or from now on; "information
# om inskolning hittar ni i Tempus Hemma" points at one document.
_FIND = _rx(
    r"\bhittar ni\b|\bfinner ni\b|\bni hittar\b|\byou(?:'ll| will) find\b|"
    r"\b(?:sker|kommer|skickas|ges|delas|publiceras)(?: \w+){0,3}? (?:via|i|genom) (?=tempus|appen)"
)
# Weaker still ("ni kan se matsedeln i appen från och med måndag"): only when about everything.
_SEE = _rx(r"\b(?:kan|kunna) (?:ni )?(?:se|folja|ta del av)\b|\banvander (?:vi )?(?=tempus|appen)")
_FIND_ALL = _rx(
    r"\b(?:hittar|finner) ni (?:\w+ )?(?:oss|all|allt|alla)\b|\bni hittar (?:oss|all|allt|alla)\b|"
    r"\b(?:all|allt|alla)\b.{0,40}\b(?:hittar|finner) ni\b|\bfind (?:us|all|everything)\b|"
    r"\b(?:all|allt|alla|enbart|endast|only)\b (?:\w+ ){0,2}?(?:information|info|dokumentation|kommunikation|"
    r"bilder|nyheter|inlagg|updates|news)\b|\ballt som hander\b"
)
_TIME = _rx(
    r"\bfran och med\b|\bfr\.?\s?o\.?\s?m\b|\bframover\b|\bi fortsattningen\b|\bhadanefter\b|"
    r"\bfortsattningsvis\b|\befter sommaren\b|\bfran (?:den )?\d|\bnumera\b|\bi stallet\b|\bistallet\b|\bfrom now on\b|"
    r"\bfrom \d|\bfrom (?:january|february|march|april|may|june|july|august|september|october|"
    r"november|december)\b|\binstead\b"
)
_CONTENT = _rx(
    r"\b(?:information|info|dokumentation|bilder|inlagg|inlaggen|nyheter|veckobrev\w*|vardag\w*|"
    r"kommunikation|filmer|news|pictures|photos)\b"
)

# The account itself closing (not the preschool: "förskolan stänger v. 28" is a summer closure).
_OBJ = (
    r"(?:bloggen|blogg|bloggar\w*|kontot|konto|instagram\w*|facebook\w*|sidan|sida|"
    r"this blog|the blog|our blog|this account|this page|our instagram|our facebook)"
)
_CLOSE_VERB = (
    r"(?:stang(?:s|as|er|d|ts|des)|nedlag(?:d|t|da)|nedstang(?:d|t|da)|la(?:gg)?s ner|lades ner|lagts ner|avslut(?:as|ad|ats)|avveckla(?:s|ts|des)|"
    r"radera(?:s|ts|des)|tas bort|tagits bort|tas ned|tas ner|arkivera(?:s|ts|des)|upphor|upphort|pausas (?:pa obestamd tid|tills vidare)|is closing|closes|will be (?:closed|deleted|removed)|"
    r"is (?:closed|deleted))"
)
_CLOSING = _rx(
    "|".join([
        rf"\b{_OBJ}\W+(?:\w+\W+){{0,3}}?{_CLOSE_VERB}\b",
        rf"\b(?:stanger|lagger) (?:vi )?ner (?:\w+ ){{0,3}}?{_OBJ}",
        rf"\bstanger (?:vi )?(?:\w+ ){{0,2}}?{_OBJ}",
        rf"\bavslutar (?:\w+ ){{0,3}}?{_OBJ}",
        r"\b(?:sista|last|final) (?:inlagg|inlagget|\w*posten|post|uppdatering|uppdateringen|update)\b",
        r"\b(?:inga|no) (?:fler|more) (?:inlagg|uppdateringar|posts|updates)\b",
        r"\b(?:inga|no) (?:fler|more) (?:bilder|pictures|photos)\b(?=.{0,40}\b(?:har|upp|ut|denna|this)\b)",
        rf"\blamna[rt]? (?:vi )?(?:\w+ ){{0,2}}?{_OBJ}",
        rf"\b(?:hejda|adjo|farval|goodbye|bye bye)(?: till| av| to)? (?:\w+ )?{_OBJ}",
        rf"\b{_OBJ}\b.{{0,30}}?\b(?:inte langre|no longer) (?:aktiv|active|i bruk|in use)\b",
        # "slutat använda plastleksaker" is no closing: the verb needs the account (or "här") after it
        rf"\bslutat? (?:vi )?(?:att )?(?:uppdatera|lagga (?:ut|upp)|publicera|anvanda)\b"
        rf"(?=.{{0,40}}?(?:{_OBJ}|\bhar\b))",
        r"\bslutat? (?:vi )?(?:att )?blogga\b|\bslut(?:bloggat|postat)\b",
        rf"\binte (?:att )?(?:fortsatta|fortsatter) (?:med )?(?:\w+ )?{_OBJ}",
        r"\bstop (?:updating|posting)\b",
    ])
)
# "no longer updated" in any order inside one sentence: an update verb and a negation.
_UPDATE_VERB = _rx(
    r"\b(?:uppdateras|uppdatera[r]?|publicera[rs]?|lagg\w* (?:\w+ ){0,2}?(?:ut|upp)|blogga|anvanda|anvands|"
    r"updated?|post(?:ing)?)\b"
)
_NO_MORE = _rx(r"\b(?:inte|inga|inget|no|not)\b.{0,50}?\b(?:langre|mer|fler|more|longer)\b|\bno longer\b")
_NOT_UPDATED = _rx(rf"\b{_OBJ}\b.{{0,40}}?\buppdateras inte\b")
_THANKS = _rx(r"\btack for att ni (?:har )?(?:foljt|folj)|\bthanks? (?:you )?for following\b")

# Penalties: phenomena that look like notices but are not.
_ATTENDANCE = _rx(
    r"\bfranvaro\w*|\bnarvaro\w*|\bsjukanmal\w*|\bledighet\w*|\bvistelsetid\w*|\bschema\w*|"
    r"\bomsorgstid\w*|\b(?:lagga|lagger|lagg|laggs) in\b|\bregistrer\w*|\banmal\w*|"
    r"\bkontaktuppgifter\b|\bgodkann\w*|\bfotografering\b|\bnere\b|\bfungerar inte\b|\bproblem\b|"
    r"\babsence\b|\bschedule\w*|\bregister\w*"
)
_GRAMMAR = _rx(
    r"\bverb\w*|\bpresens\b|\bpreteritum\b|\bfuturum\b|\bimperfekt\b|\bgrammatik\w*|\btense\b|"
    r"\bpast and present\b|\b(?:om|pa|med|och|olika) tempus\b(?![\s-]*(?:hemma|app))"
)
# One document or event placed in the app ("matsedeln", "enkäten") is not a move of communication.
_ONE_OFF = _rx(
    r"\bmatsedel\w*|\benkat\w*|\bblankett\w*|\binbjudan\w*|\bpresentation\w*|\bfotoalbum\w*|"
    r"\bguide\w*|\bmeny\w*|\bmenu\b"
)
_BUILDING = _rx(
    r"\blokal\w*|\b(?:nya|nytt|gamla) hus\w*|\bhuset\b|\bbyggnad\w*|\bpaviljong\w*|\bgarden\b|"
    r"\batelje\w*|\bbuilding\b|\bpremises\b"
)
_TEMPORARY = _rx(
    r"\b(?:innan|fore|for|under|over) (?:\w+ ){0,3}?(?:sommar\w*|jul\w*|terminen|lovet|\w+lovet|pask\w*|"
    r"semester\w*)|"
    r"\bvi ses (?:i|igen|efter)\b|\btillbaka (?:i|efter)\b|\bsommaruppehall\w*|\bpaus\b|\buppehall\w*|"
    r"\bsista inlagget (?:om|i serien|i temat|pa temat)\b|\bbefore the (?:summer|holidays?)\b|\bsee you\b"
)
_NEW_ADDRESS = _rx(
    r"\b(?:ny|nya|new) (?:adress|address|plattform|platform|blogg|blog)\b|\bbytt adress\b|"
    r"\.wordpress\.com|\.blogspot\.|https?://|\bwww\.|\blanken\b|\blank i bion\b"
)
_SOCIAL_DEST = _rx(
    r"\b(?:pa|on|via|till|to) (?:var |vart |our |forskolans )?(?:instagram|facebook)\w*"
)
_NEGATED = _rx(
    r"\binte ner\b|\binte stang\w*|\bfinns kvar\b|\bfortsatter (?:att )?(?:blogga|uppdatera|finnas)\b|"
    r"\bsom vanligt\b|\bnot closing\b|\bstill here\b"
)
_SENTENCE = re.compile(r"[^.!?…]+[.!?…]*")


@dataclass(frozen=True)
class _Evidence:
    score: float
    kind: str | None
    spans: tuple[tuple[int, int], ...]


def _spans(rx: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [m.span() for m in rx.finditer(text) if m.end() > m.start()]


def _destination(folded: str, original: str) -> tuple[float, list[tuple[int, int]], bool]:
    """Weight of the named destination, its spans, and whether Tempus itself is named."""
    # Every pattern below needs the literal "tempus" or "app": most posts have neither and skip
    # the scans (a third of the detector's time per text).
    if "tempus" in folded:
        for rx, weight in ((_TEMPUS_HEMMA, 0.45), (_TEMPUS_APP, 0.45)):
            spans = _spans(rx, folded)
            if spans:
                return weight, spans, True
        spans = _spans(_TEMPUS, folded)
        if spans:
            return 0.3, spans, True
    if "app" not in folded:
        return 0.0, [], False
    spans = _spans(_APPEN, folded)
    named_other = any(m.group(1).lower() != "tempus" for m in _APPEN_NAMED.finditer(original))
    if spans and not named_other and not _OTHER_APP.search(folded):
        return 0.3, spans, False
    return 0.0, [], False


def _no_longer_updated(folded: str) -> list[tuple[int, int]]:
    found = _spans(_NOT_UPDATED, folded)
    for m in _SENTENCE.finditer(folded):
        sentence = m.group(0)
        verb = _UPDATE_VERB.search(sentence)
        if verb and _NO_MORE.search(sentence):
            found.append((m.start() + verb.start(), m.start() + verb.end()))
    return found


def _evaluate(folded: str, original: str) -> _Evidence:
    dest, dest_spans, tempus_named = _destination(folded, original)
    closing_spans = _spans(_CLOSING, folded) + _no_longer_updated(folded)
    if not dest and not closing_spans:
        # Neither a destination nor a closing: both scores below are 0 whatever else matches, and
        # this is nearly every post, so the other patterns are not run.
        return _Evidence(0.0, None, ())
    move_spans = _spans(_MOVE, folded)
    time_spans = _spans(_TIME, folded)
    universal = bool(_FIND_ALL.search(folded))
    if time_spans or universal:
        move_spans += _spans(_FIND, folded)
    if universal:
        move_spans += _spans(_SEE, folded)
    content = bool(_CONTENT.search(folded))

    attendance = bool(_ATTENDANCE.search(folded))
    grammar = bool(_GRAMMAR.search(folded))
    negated = bool(_NEGATED.search(folded))

    move = 0.0
    if dest:
        extras = (0.1 if time_spans else 0.0) + (0.1 if content else 0.0)
        move = dest + 0.35 + extras if move_spans else min(dest + extras, 0.5)
        # An attendance word beside a real move phrase is usually "where you already register
        # absence"; without one it is the everyday use of Tempus.
        move -= (0.15 if move_spans else 0.5) if attendance else 0.0
        move -= 0.6 if grammar else 0.0
        move -= 0.3 if _BUILDING.search(folded) and not tempus_named else 0.0
        move -= 0.5 if negated else 0.0
        move -= 0.3 if _ONE_OFF.search(folded) else 0.0

    closing = 0.0
    if closing_spans:
        closing = 0.65 + (0.2 if dest else 0.0) + (0.1 if _THANKS.search(folded) else 0.0)
        if not dest:
            # With no Tempus/app destination, a closing is only a notice if nothing points elsewhere
            # (a new address, Instagram/Facebook) and it is not a break.
            closing -= 0.5 if _TEMPORARY.search(folded) else 0.0
            closing -= 0.5 if _NEW_ADDRESS.search(folded) else 0.0
            closing -= 0.5 if _SOCIAL_DEST.search(folded) else 0.0
            closing -= 0.5 if _BUILDING.search(folded) else 0.0
        elif not tempus_named and _SOCIAL_DEST.search(folded):
            closing -= 0.3
        closing -= 0.5 if negated else 0.0
        closing -= 0.3 if grammar else 0.0

    score = max(move, closing)
    if move >= 0.5 and closing >= 0.5:
        score += 0.1
    score = round(min(max(score, 0.0), 1.0), 2)
    if score <= 0.0:
        return _Evidence(0.0, None, ())
    # The account closing is the stronger news for the board, whatever else the text says.
    kind = "closing" if closing >= 0.5 else "move"
    spans = closing_spans + move_spans + dest_spans + time_spans
    return _Evidence(score, kind, tuple(sorted(set(spans))))


def _matched(original: str, spans: Iterable[tuple[int, int]]) -> tuple[str, ...]:
    # Masked like the snippet: a phrase span may include a word or two of the post.
    return tuple(dict.fromkeys(mask_names(p) for p in (original[a:b].strip(" ,.!?:;-") for a, b in spans) if p))


# ---------------------------------------------------------------------------------- public API


def score(text: str) -> tuple[float, tuple[str, ...], str | None]:
    """Score 0..1 that `text` announces a move to Tempus Hemma or a closing; matched phrases; kind."""
    original = _collapse(text)
    evidence = _evaluate(_fold(original), original)
    matched = _matched(original, evidence.spans)
    return evidence.score, matched, evidence.kind


def detect(texts: Iterable[PublicText], threshold: float = 0.6) -> list[NoticeHit]:
    """One NoticeHit per text scoring at least `threshold`, with a short masked snippet."""
    hits = []
    for item in texts:
        original = _collapse(item.text or "")
        if not original:
            continue
        evidence = _evaluate(_fold(original), original)
        if evidence.kind is None or evidence.score < threshold:
            continue
        matched = _matched(original, evidence.spans)
        hits.append(
            NoticeHit(
                score=evidence.score,
                matched=matched,
                snippet=snippet(original, evidence.spans),
                kind=evidence.kind,
                post_url=item.url,
                published_at=item.published_at,
            )
        )
    return hits


def snippet(text: str, spans: Iterable[tuple[int, int]] = (), limit: int = SNIPPET_CHARS) -> str:
    """At most `limit` characters of `text` around the matched spans, whitespace collapsed, names masked."""
    text = mask_names(_collapse(text))
    if len(text) <= limit:
        return text
    spans = sorted(spans)
    first = spans[0][0] if spans else 0
    # Masking can shorten the text a little; the spans are only a guide to where the window goes.
    first = min(first, len(text))
    start = max(0, first - 40)
    end = min(len(text), start + limit)
    start = max(0, end - limit)
    cut = text[start:end]
    if start > 0:
        space = cut.find(" ")
        cut = "…" + (cut[space + 1:] if 0 <= space < 30 else cut[1:])
    if end < len(text):
        space = cut.rfind(" ")
        cut = (cut[:space] if space > len(cut) - 30 else cut[:-1]) + "…"
    return cut[:limit]


# -------------------------------------------------------------------------------- name masking

def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Common first names of children in Sweden (a small, cheap list: masking is best effort, and only
# short snippets of flagged notices are ever stored).
_FIRST_NAMES = _words("""
Alice Alicia Agnes Alma Astrid Ebba Ella Ellen Elsa Ellie Elvira Emma Ester Freja Frida Hanna Hedda
Ida Idun Ines Iris Isabelle Juni Julia Klara Lea Leah Lilly Lily Linnea Livia Lo Luna Lykke Maja
Majken Matilda Meja Molly My Nellie Nora Olivia Saga Sara Selma Signe Siri Sofia Stella Svea Thea
Tilda Tindra Vera Vilma Wilma Ines Ronja Alva Edith Elin Emilia Amanda
Adam Albin Alexander Alfred Ali Anton Arvid August Axel Benjamin Casper Charlie Colin Daniel David
Elias Elis Elton Emil Erik Filip Frans Gabriel Gustav Harry Hjalmar Hugo Isak Ivar Jack Jacob Jakob
Josef Kevin Leo Leon Liam Loke Lucas Ludvig Malte Matteo Max Melvin Milo Mohammed Mohammad Noah
Nils Noel Oliver Olle Omar Oscar Otto Sam Sebastian Sixten Svante Theo Theodor Valter Vidar
Viggo Viktor Vincent William Wilmer Yusuf Zakaria Ibrahim Ahmed Amir Adrian Joel Isac
""")

_CHILD_WORDS = (
    r"barn|barnet|barnen|son|sonen|dotter|dottern|elev|eleven|kompis|kompisen|bror|brodern|syster|"
    r"systern|lillebror|lillasyster|storebror|storasyster|grattis|fyller|fyllde|årsdag\w*|födelsedag\w*|"
    r"vår|våra|er|era|lilla|lille|kära|child|son|daughter|happy birthday"
)
_CAPITALISED = r"[A-ZÅÄÖ][a-zåäöéü]+"
# A capitalised word right after a child word ("vår Elsa", "grattis Elsa", "sonen Omar") or right
# before a birthday verb ("Elsa fyller 4") is taken for a first name even when not in the list.
_NAME_AFTER = re.compile(rf"(?i:\b(?:{_CHILD_WORDS})\b)(\s+)({_CAPITALISED})\b")
_NAME_BEFORE = re.compile(rf"\b({_CAPITALISED})(\s+)(?i:fyller|fyllde|har födelsedag|turns)\b")
_LISTED = re.compile(r"\b[A-ZÅÄÖ][a-zåäöéü]+\b")
# Capitalised words that follow "vår/er/lilla" and the like but are not names.
_NOT_NAMES = _words(
    "Tempus Hemma Instagram Facebook Malmö Förskola Förskolan Avdelning Blogg Bloggen App Appen "
    "Lucia Jul Påsk Sommar Vår Höst Vinter Solen Månen"
)

_NOT_NAME_PART = re.compile(r"(?i)sida|konto|blogg|app|förskol|avdelning")


def mask_names(text: str) -> str:
    """Replace what looks like a child's first name with "[namn]" (listed names, or beside a child word)."""

    def after(m: re.Match[str]) -> str:
        word = m.group(2)
        if word in _NOT_NAMES or _NOT_NAME_PART.search(word):
            return m.group(0)
        return m.group(0)[: m.start(2) - m.start(0)] + "[namn]"

    def before(m: re.Match[str]) -> str:
        return m.group(0) if m.group(1) in _NOT_NAMES else "[namn]" + m.group(0)[len(m.group(1)):]

    text = _NAME_AFTER.sub(after, text)
    text = _NAME_BEFORE.sub(before, text)
    return _LISTED.sub(lambda m: "[namn]" if m.group(0) in _FIRST_NAMES else m.group(0), text)
