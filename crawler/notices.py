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

import functools
import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

from crawler import notice_model, platforms, sanitize
from crawler.models import NoticeHit, PublicText

KINDS = ("move", "closing", "elsewhere")

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
    # control and bidi characters never reach a snippet (it is shown on terminals and in CSV)
    return " ".join(sanitize.text(text).split())[:MAX_TEXT_CHARS]


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
# Misspelt too: "Tempus Hema", "Temus Hemma", "Tempo Hemma", "Tempus Hämma", "Tempus Hemam", "TempusHemma".
_TEMPUS_HEMMA = _rx(r"\bte(?:mpu|mpo|mu)s?[\s-]?h[ae]m{1,3}[ae]m?(?:s|[\s-]?appen?s?)?\b(?!-\w)")
_TEMPUS_APP = _rx(r"\btempus[\s-]?app(?:en|ens)?\b(?!-\w)|\bappen tempus\b|\bthe tempus app\b")
_TEMPUS = _rx(r"\btemp[ou]s\b(?!-\w)(?! fugit)")
_APPEN = _rx(r"\bappens?\b|\b(?:the|our|var) app\b")

# Another named app nearby means "appen" is not Tempus.
_OTHER_APP = _rx(
    r"\b(?:unikum|vklass|schoolsoft|infomentor|skolmaten|kivra|spotify|bankid|swish|"
    r"skolplattformen|scratchjr|puppet pals|youtube|tiktok|edlevo|ist|padlet|skola24|teams|classroom)\b|\b(?:en|ny|nya) app\b|\bappen heter\b"
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
        r"\b(?:publicerar|lagger (?:vi )?(?:ut|upp)|delar|dokumentera[r]?|kommunicera\w*|communicate\w*)\b.{0,60}?"
        r"\b(?:i|via|through) (?=(?:\w+[\s-]){0,2}?(?:tempus|appen|the app))",
        r"\b(?:valkommen|welcome) (?:till|in i|to) (?=tempus|appen|the app)",
        r"\bvi ses i (?=(?:\w+[\s-]){0,2}?(?:tempus|appen))|\bsee you in (?=tempus|the app)",
        r"\blogga in (?:i|pa) (?:tempus|appen)[\w\s-]{0,20}? (?:for att|to) (?:se|ta del|folja|see|follow)\b",
        r"\bwe'?re moving\b|\bwe are moving\b|\bmoving (?:to|our)\b|\bswitch(?:ed|ing)? to\b",
        r"\bfind us\b|\bfollow (?:us|our \w+) (?:in|on)\b",
        r"\bwill be (?:\w+ )?(?:in|on|via) (?=(?:\w+ ){0,2}?(?:tempus|the app))",
        r"\b(?:nu|numera|framover|hadanefter|i framtiden|fortsattningsvis|from now on|now|in future)\b"
        r"(?: \w+){0,4}? (?:via|genom|i|pa|in|through) (?=(?:\w+[\s-]){0,2}?(?:tempus|appen|the app))",
        r"\b(?:bara|enbart|endast|uteslutande|only)\b(?: \w+){0,3}? (?:i |via |av |pa )?(?=tempus|appen|the app)",
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
    r"\bi framtiden\b|\bkommande\b|\bin (?:the )?future\b|\bgoing forward\b|\bnasta (?:termin|lasar)\b|"
    r"\bfrom \d|\bfrom (?:january|february|march|april|may|june|july|august|september|october|"
    r"november|december)\b|\binstead\b"
)
_CONTENT = _rx(
    r"\b(?:information|info|dokumentation|bilder|inlagg|inlaggen|nyheter|veckobrev\w*|vardag\w*|"
    r"kommunikation|filmer|news|pictures|photos)\b"
)

# The account itself closing (not the preschool: "förskolan stänger v. 28" is a summer closure).
# Patterns that name the registered platforms are built by _platform_patterns(): `{social}` stands
# for how people write the registry's social platforms ("instagram", "instagramkontot", "insta").
_OBJ = (
    r"(?:bloggen|blogg|bloggar\w*|kontot|konto|{social}|sidan|sida|"
    r"this blog|the blog|our blog|this account|this page|our (?:{social}))"
)
_CLOSE_VERB = (
    r"(?:stang(?:s|as|er|d|ts|des)|nedlag(?:d|t|da)|nedstang(?:d|t|da)|la(?:gg)?s ner|lades ner|lagts ner|avslut(?:as|ad|ats)|avveckla(?:s|ts|des)|"
    r"radera(?:s|ts|des)|tas bort|tagits bort|tas ned|tas ner|arkivera(?:s|ts|des)|upphor|upphort|pausas (?:pa obestamd tid|tills vidare)|is closing|closes|will be (?:closed|deleted|removed)|"
    r"is (?:closed|deleted))"
)
_CLOSING = (
    "|".join([
        rf"\b{_OBJ}\W+(?:\w+\W+){{0,3}}?{_CLOSE_VERB}\b",
        rf"\b(?:stanger|lagger) (?:vi )?ner (?:\w+ ){{0,3}}?{_OBJ}",
        rf"\bstanger (?:vi )?(?:\w+ ){{0,2}}?{_OBJ}",
        rf"\bavslutar (?:\w+ ){{0,3}}?{_OBJ}",
        r"\b(?:sista|last|final) (?:inlagg|inlagget|inlaggen|\w*posten|post|posts|uppdatering|uppdateringen|update)\b",
        r"\b(?:inga|no) (?:fler|more) (?:inlagg|uppdateringar|posts|updates)\b",
        r"\b(?:inga|no) (?:fler|more) (?:bilder|pictures|photos)\b(?=.{0,40}\b(?:har|upp|ut|denna|this)\b)",
        rf"\blamna[rt]? (?:vi )?(?:\w+ ){{0,2}}?{_OBJ}",
        rf"\b(?:hej ?da|adjo|farval|goodbye|bye bye)(?: till| av| to)? (?:\w+ )?{_OBJ}",
        rf"\b{_OBJ}\b.{{0,30}}?\b(?:inte langre|no longer) (?:aktiv|active|i bruk|in use)\b",
        # "slutat använda plastleksaker" is no closing: the verb needs the account (or "här") after it
        rf"\bslutat? (?:vi )?(?:att )?(?:uppdatera|lagga (?:ut|upp)|publicera|anvanda)\b"
        rf"(?=.{{0,40}}?(?:{_OBJ}|\bhar\b))",
        r"\bslutat? (?:vi )?(?:att )?blogga\b|\bslut(?:bloggat|postat)\b",
        rf"\binte (?:att )?(?:fortsatta|fortsatter) (?:med )?(?:\w+ )?{_OBJ}",
        r"\bstop (?:updating|posting)\b",
        r"\b(?:closing|shutting down|retiring|archiving) (?:down )?(?:this|our|the) (?:page|blog|account|group|channel)\b|"
        r"\b(?:this|our|the) (?:page|blog|account|group|channel) is (?:now )?(?:retired|archived|closed|inactive)\b|"
        r"\b(?:kvar|ligger kvar|sparas) som arkiv\b",
        r"\bsatter (?:vi )?(?:nu )?punkt\b|\bnot (?:active|updated|maintained)(?: here)? any ?more\b|"
        r"\bno longer (?:maintained|active|updated)\b|\b(?:inte|ej) (?:langre )?(?:aktiv|aktiva|aktivt|underhall\w*)\b(?: har)?",
        r"\bstangd(?:a|t)? for (?:nya |fler )?(?:inlagg|posts|publicering|uppdateringar)\b|"
        r"\bclosed (?:for|to) new posts\b",
        r"\bsista gangen (?:vi |som vi )?(?:skriver|bloggar|postar|lagger)\b|\blast time (?:we|that we) (?:write|post)",
        r"\bslutar (?:vi )?(?:att )?(?:skriva|posta)\b(?=.{0,40}?(?:har|" + _OBJ + r"))",
    ])
)
# "no longer updated" in any order inside one sentence: an update verb and a negation.
_UPDATE_VERB = _rx(
    r"\b(?:skriv(?:a|er|s)|uppdateras|uppdatera[r]?|publicera[rs]?|lagg\w* (?:\w+ ){0,2}?(?:ut|upp)|blogga|anvanda|anvands|"
    r"updated?|post(?:ing)?)\b"
)
_NO_MORE = _rx(r"\b(?:inte|inga|inget|no|not)\b.{0,50}?\b(?:langre|mer|fler|more|longer|anymore)\b|\bno longer\b|"
              r"\bnot \w+ (?:here )?any ?more\b")
_NOT_UPDATED = rf"\b{_OBJ}\b.{{0,40}}?\buppdateras inte\b"
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
    r"\bsista inlagget (?:om|i serien|i temat|pa temat)\b|\bbefore the (?:\w+ )?(?:summer|holidays?|break)\b|\bsee you\b|"
    r"\bfor (?:den har |denna )?veckan\b|\bidag\b|\bfor i ar\b|\bi helgen\b|\bnu ar det helg\b|\bpa mandag\b|"
    r"\btillfalligt\b|\btemporar(?:il)?y\b|\b(?:for|under|pga) underhall\b|\bnere for underhall\b|"
    r"\b(?:for|under|down for) maintenance\b"
)
# `{blog_hosts}`: the host names of the registry's blog platforms (".wordpress.com", ".blogspot.").
_NEW_ADDRESS = (
    r"\b(?:ny|nya|new) (?:adress|address|plattform|platform|blogg|blog)\b|\bbytt adress\b|"
    r"{blog_hosts}|https?://|\bwww\.|\blanken\b|\blank i bion\b"
)
# "här på Facebook" is where the account is, not where it goes.
_SOCIAL_DEST = r"(?<!\bhar )(?<!\bhere )\b(?:pa|on|via|till|to) (?:var |vart |our |forskolans )?(?:{social})"
_NEGATED = (
    r"\b(?:stangs|stanger|laggs|lagger|avslutas|avslutar|tas|raderas|upphor) (?:\w+ )?inte\b|"
    r"\binte (?:att )?(?:stang\w*|lagga\w* ner|avsluta\w*|ta bort|tas bort|radera\w*|lamna\w*|sluta\w*)|\bstammer inte\b|"
    r"\bnot true\b|\bnot (?:be )?(?:closing|closed|leaving|stopping)|\bdon'?t worry\b|"
    r"\binte ner\b|\binte stang\w*|\bfinns kvar\b(?! som arkiv)|\bfortsatter (?:att )?(?:blogga|uppdatera|finnas)\b|"
    r"\bsom vanligt\b|\btas over av\b|\bfortsatter (?:som|precis|har)\b|\bkvar har\b|\bcontinues\b|"
    r"\bkeeps? (?:going|running|sharing|posting|writing|blogging)\b|\bwill keep\b|"
    r"\b(?:bloggen|kontot|sidan|{social}) fortsatter\b|\bfortsatter bloggen\b|"
    r"\bfortsatter (?:vi )?(?:att )?(?:dela|skriva|lagga|blogga|posta)\b|"
    r"\bstangd\w* for kommentar\w*|\bkommentar\w* (?:ar |har )?(?:stangd\w*|avstangd\w*)|\bcomments (?:are )?closed\b|"
    r"\bclosed for comments\b|\bfortfarande\b|\bstill (?:post\w*|here|share\w*|be)\b|\bnot closing\b|\bstill here\b"
)
# Where else an account says it goes (the `elsewhere` kind): a registered social or blog platform
# (`{social}`, `{blogs}`: from the registry), or a channel the crawler does not register: other social
# media, another school platform or app, a new address or website, e-mail or paper, an @handle.
# Those are the detector's vocabulary (words people write in notices), not platform declarations.
_OTHER_NAMES = (
    r"(?:{social}|{blogs}|tiktok|youtube|snapchat|blogg\.se|"
    r"vklass|unikum|schoo?ll?soft|infomentor|skolplattformen|skolwebben|itslearning|edlevo|ist(?:-appen)?|"
    r"padlet|skola24|google classroom|teams|"
    r"hemsida\w*|webbplats\w*|website|webpage|web|malmo\.se|nyhetsbrev\w*|newsletter|e-?post|mejl\w*|"
    r"e-?mail\w*|papper\w*|paper|(?:ny|nya|nytt|new|andra|annan|another) (?:blogg\w*|blog|konto\w*|account|"
    r"sida\w*|page|grupp\w*|group|adress|address|plattform|platform|kanal|channel))"
)
_OTHER_DEST_WORDS = (
    rf"\b(?:pa|till|via|i|genom|av|mot|on|to|at|in|via|by)\s+(?:(?:var|vart|vara|forskolans|skolans|"
    rf"stadens|omradets|our|the|en|ett|a)\s+)?{_OTHER_NAMES}|"
)
_OTHER_DEST_SYMBOLS = rf"[➡→⇒👉]\ufe0f?\s*{_OTHER_NAMES}|{_OTHER_NAMES}\s*[✅✔☑]|"
_OTHER_DEST_ADDRESSES = r"@\w{3,}|\b[\w-]+\.(?:se|com|nu|net|org)\b|\bhttps?://"
_OTHER_DEST = _OTHER_DEST_WORDS + _OTHER_DEST_SYMBOLS + _OTHER_DEST_ADDRESSES
# `_OTHER_DEST` without its two alternatives that need an arrow or a tick: on a text without those
# characters they match nowhere, so the alternation finds the very same matches (the tick one,
# a name tried at every position, was half the pattern's time: issue 21).
_OTHER_DEST_PLAIN = _OTHER_DEST_WORDS + _OTHER_DEST_ADDRESSES
_DEST_SYMBOLS = frozenset("➡→⇒👉✅✔☑")
# Words that make a mention of another platform an addition, not a move ("vi finns nu även på Instagram").
_ALSO = _rx(r"\b(?:aven|ocksa|too|also|as well)\b")
# The account the text is on ("här", "den här bloggen", "this page").
_MY = _rx(r"\b(?:mitt|min|jag|my|i'm|i am)\b")
_HERE = _rx(r"\b(?:har|here|(?:den har|denna|detta|det har|this) \w+)\b")
# Any move or pointer, to anywhere (the `elsewhere` kind's verbs are those of `move` without Tempus).
_GOING = _rx(
    r"\b(?:flytta[rt]?|flyttas|byt(?:er|t|a|s)|gar over|gatt over|overgar|moved?|moving|switch\w*|"
    r"hittar ni oss|hitta oss|find us|folj (?:oss|forskolan)|follow us|finns (?:nu|numera)|vi finns|ersatt?s|"
    r"replace[sd]?|fortsatter (?:pa|i|via)|continue (?:on|in))\b"
)
_INSTEAD = _rx(r"\bi ?stallet\b|\binstead\b|\binte har\b|\bnot here\b|\bistallet for\b")
# Information about one thing ("information om föräldramötet kommer i Tempus Hemma") is no move.
_ABOUT = _rx(r"\b(?:information|info|mer info\w*|mer information|details|more information) (?:om|kring|about)\b")
# A parent asking ("Är det sant att ni ska sluta med Facebook?") is no announcement.
_QUESTION = _rx(r"\bar det sant\b|\bstammer det\b|\bundrar\b|\bis it true\b|\bwondering\b|\bfraga\w*\b|"
                r"\bska ni\b[^.!?]*\?|\bkommer ni\b[^.!?]*\?|\bwill you\b[^.!?]*\?|\bforalder\b|\bparent\b")
# "stänger" about a gate, a door, a sandpit or a shed, not an account.
_THING_CLOSED = _rx(r"\b(?:grind\w*|dorr\w*|sandlad\w*|plaskdamm\w*|pool\w*|forrad\w*|skjul\w*|gate|door|sandpit|shed)\b")
_COMMENTS = _rx(r"\bkommentar\w*|\bcomments?\b")
_REASON = _rx(r"\b(?:pa grund av|pga|p\.g\.a|eftersom|darfor|med anledning av|enligt|av \w+skal|because|due to)\b")
# Contrasting the old channel with the new with arrows, crosses and ticks ("Blogg ❌ Tempus Hemma ✅").
_CONTRAST = re.compile(r"[❌✖✗✘⛔🚫✅✔☑➡→⇒👉⏩▶]")
_SENTENCE = re.compile(r"[^.!?…]+[.!?…]*")
# Longer texts are read in windows of a few sentences (a notice at the end of a long post is not
# drowned by the rest), and only this far: the first part of a post is where notices sit.
WINDOW_CHARS = 400
# Below this score a text is far from flagged: the model's evidence words are not looked for.
EVIDENCE_FROM = 0.3
READ_CHARS = 3_000


@dataclass(frozen=True)
class _PlatformRx:
    """The patterns that name registered platforms, compiled for one state of the registry."""

    closing: re.Pattern[str]
    not_updated: re.Pattern[str]
    new_address: re.Pattern[str]
    social_dest: re.Pattern[str]
    negated: re.Pattern[str]
    other_dest: re.Pattern[str]
    other_dest_plain: re.Pattern[str]


def _platform_words(platform: platforms.Platform) -> list[str]:
    """How people write a platform, as folded regex alternatives: its name and label also inside
    compounds ("instagramkontot", "facebooksidan"), its aliases as whole words ("ig", "fb")."""
    out = [re.escape(_fold(w)) + r"\w*" for w in dict.fromkeys((platform.name, platform.label.lower()))]
    return out + [re.escape(_fold(a)) + r"\b" for a in platform.aliases]


def _host_rx(pattern: str) -> str:
    """A registry host pattern as it is written in a text: "*.wordpress.com" -> ".wordpress.com",
    "blogspot.*" -> ".blogspot.", "blogger.com" -> "blogger.com"."""
    if pattern.startswith("*."):
        return re.escape(pattern[1:])
    if pattern.endswith(".*"):
        return r"\." + re.escape(pattern[:-1])
    return r"\b" + re.escape(pattern)


def _vocabulary(registered: tuple[platforms.Platform, ...]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """From the registered platforms: the words for the social ones, for the hosted blog platforms
    (a blog platform with hosts of its own: WordPress.com, Blogger; the generic "blog" is no
    destination), and those blog platforms' host names."""
    social: list[str] = []
    blogs: list[str] = []
    hosts: list[str] = []
    for platform in registered:
        if platform.kind == "social":
            social += _platform_words(platform)
        elif platform.kind == "blog" and platform.hosts:
            blogs += _platform_words(platform)
            hosts += [_host_rx(h) for h in platform.hosts]
    # Longest first, so that an alternative is not cut short by a shorter one it starts with.
    return tuple(tuple(sorted(set(w), key=lambda x: (-len(x), x))) for w in (social, blogs, hosts))  # type: ignore[return-value]


@functools.lru_cache(maxsize=8)
def _platform_patterns(registered: tuple[platforms.Platform, ...]) -> _PlatformRx:
    social, blogs, hosts = ("|".join(words) or "(?!)" for words in _vocabulary(registered))

    def build(template: str) -> re.Pattern[str]:
        return _rx(template.replace("{social}", social).replace("{blogs}", blogs).replace("{blog_hosts}", hosts))

    return _PlatformRx(build(_CLOSING), build(_NOT_UPDATED), build(_NEW_ADDRESS), build(_SOCIAL_DEST),
                       build(_NEGATED), build(_OTHER_DEST), build(_OTHER_DEST_PLAIN))


def _platform_rx() -> _PlatformRx:
    """The platform patterns for the registry as it is now (a platform registered later is named too)."""
    return _platform_patterns(platforms.all_platforms())


@dataclass(frozen=True)
class _Rules:
    """What the hand-written rules see in one text: a score and kind of their own, spans, signals."""

    score: float
    kind: str | None
    spans: tuple[tuple[int, int], ...]
    signals: frozenset[str]


def _spans(rx: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [m.span() for m in rx.finditer(text) if m.end() > m.start()]


def _destination(folded: str, original: str) -> tuple[float, list[tuple[int, int]], str | None]:
    """Weight of the named Tempus destination, its spans, and which name it is (hemma, tempus, app)."""
    # Every pattern below needs the literal "tempus" or "app": most posts have neither and skip
    # the scans (a third of the detector's time per text).
    if "tem" in folded:
        for rx, weight in ((_TEMPUS_HEMMA, 0.45), (_TEMPUS_APP, 0.45)):
            spans = _spans(rx, folded)
            if spans:
                return weight, spans, "hemma"
        spans = _spans(_TEMPUS, folded)
        if spans:
            return 0.3, spans, "tempus"
    if "app" not in folded:
        return 0.0, [], None
    spans = _spans(_APPEN, folded)
    named_other = any(m.group(1).lower() != "tempus" for m in _APPEN_NAMED.finditer(original))
    if spans and not named_other and not _OTHER_APP.search(folded):
        return 0.3, spans, "app"
    return 0.0, [], None


def _no_longer_updated(folded: str, rx: _PlatformRx) -> list[tuple[int, int]]:
    found = _spans(rx.not_updated, folded)
    for m in _SENTENCE.finditer(folded):
        sentence = m.group(0)
        verb = _UPDATE_VERB.search(sentence)
        if verb and _NO_MORE.search(sentence):
            found.append((m.start() + verb.start(), m.start() + verb.end()))
    return found


def _rules(folded: str, original: str, rx: _PlatformRx) -> _Rules:
    dest, dest_spans, dest_name = _destination(folded, original)
    closing_spans = _spans(rx.closing, folded) + _no_longer_updated(folded, rx)
    other_spans = _spans(rx.other_dest if _DEST_SYMBOLS.intersection(folded) else rx.other_dest_plain, folded)
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
    negated = bool(rx.negated.search(folded))
    one_off = bool(_ONE_OFF.search(folded))
    building = bool(_BUILDING.search(folded))
    temporary = bool(_TEMPORARY.search(folded))
    new_address = bool(rx.new_address.search(folded))
    social = bool(rx.social_dest.search(folded))
    thanks = bool(_THANKS.search(folded))
    signals = {
        name
        for name, present in (
            (f"dest {dest_name}", dest_name is not None), ("other", bool(other_spans)), ("move", bool(move_spans)),
            ("time", bool(time_spans)), ("universal", universal), ("content", content),
            ("closing", bool(closing_spans)), ("thanks", thanks), ("attendance", attendance),
            ("grammar", grammar), ("negated", negated), ("one-off", one_off), ("building", building),
            ("temporary", temporary), ("new address", new_address), ("social", social),
            ("also", bool(_ALSO.search(folded))), ("going", bool(_GOING.search(folded))), ("here", bool(_HERE.search(folded))),
            ("instead", bool(_INSTEAD.search(folded))), ("comments", bool(_COMMENTS.search(folded))), ("question", bool(_QUESTION.search(folded))),
            ("thing closed", bool(_THING_CLOSED.search(folded))), ("first person", bool(_MY.search(folded))), ("about", bool(_ABOUT.search(folded))),
            ("reason", bool(_REASON.search(folded))), ("contrast", bool(_CONTRAST.search(original))),
        )
        if present
    }

    move = 0.0
    if dest:
        extras = (0.1 if time_spans else 0.0) + (0.1 if content else 0.0)
        move = dest + 0.35 + extras if move_spans else min(dest + extras, 0.5)
        # An attendance word beside a real move phrase is usually "where you already register
        # absence"; without one it is the everyday use of Tempus.
        move -= (0.15 if move_spans else 0.5) if attendance else 0.0
        move -= 0.6 if grammar else 0.0
        move -= 0.3 if building and dest_name == "app" else 0.0
        move -= 0.5 if negated else 0.0
        move -= 0.3 if one_off else 0.0

    closing = 0.0
    elsewhere = 0.0
    if closing_spans:
        closing = 0.65 + (0.2 if dest else 0.0) + (0.1 if thanks else 0.0)
        if not dest:
            # With no Tempus/app destination a closing that points elsewhere is a move elsewhere, and
            # a break or a move of premises is no notice.
            closing -= 0.5 if temporary else 0.0
            closing -= 0.5 if building else 0.0
            if new_address or social or other_spans:
                elsewhere, closing = closing, 0.0
        elif dest_name == "app" and social:
            closing -= 0.3
        closing -= 0.5 if negated else 0.0
        closing -= 0.3 if grammar else 0.0
        elsewhere -= 0.5 if negated else 0.0
    elif other_spans and move_spans and not dest:
        elsewhere = 0.6 - (0.5 if negated or temporary or building else 0.0)

    best = max(move, closing, elsewhere)
    if move >= 0.5 and closing >= 0.5:
        best += 0.1
    best = round(min(max(best, 0.0), 1.0), 2)
    # Moving to Tempus Hemma is what the board counts, whatever else the text says.
    kind = None
    if best > 0.0:
        kind = "move" if dest and move >= 0.5 or (dest and closing >= 0.5) else (
            "elsewhere" if elsewhere >= closing and elsewhere >= move else "closing" if closing >= move else "move")
    for name, value in (("move", move), ("closing", closing), ("elsewhere", elsewhere)):
        if value >= 0.6:
            signals.add(f"{name} high")
        elif value >= 0.4:
            signals.add(f"{name} mid")
    spans = closing_spans + move_spans + dest_spans + time_spans
    if kind == "elsewhere":
        spans += other_spans
    return _Rules(best, kind, tuple(sorted(set(spans))), frozenset(signals))


def signals(text: str) -> frozenset[str]:
    """The rules' signals for `text` (what the learned model reads beside the words)."""
    original = _collapse(text)
    return _rules(_fold(original), original, _platform_rx()).signals


def _matched(original: str, spans: Iterable[tuple[int, int]]) -> tuple[str, ...]:
    # Masked like the snippet: a phrase span may include a word or two of the post.
    return tuple(dict.fromkeys(mask_names(p) for p in (original[a:b].strip(" ,.!?:;-") for a, b in spans) if p))


def _model_spans(model: notice_model.Model, folded: str, sigs: frozenset[str], kind: str) -> list[tuple[int, int]]:
    """Where the words that pushed the model most towards `kind` sit in the text."""
    words = []
    for weight, feature in model.contributions(folded, kind, sigs, words_only=True)[:4]:
        if weight <= 0.0:
            break
        if feature.startswith(("w ", "b ")):
            words.extend(w for w in feature[2:].split(" ") if w not in ("<s>", "</s>"))
    wanted = set(dict.fromkeys(words))
    spans = []
    for m in notice_model.TOKEN.finditer(folded):
        if notice_model.normalise(m.group(0)) in wanted and len(m.group(0)) > 2:
            spans.append(m.span())
    return spans


def _merge(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted spans joined where they overlap or only spaces lie between ("följ" "oss" → "följ oss")."""
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if out and (a <= out[-1][1] or not text[out[-1][1]:a].strip()):
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _windows(original: str) -> list[tuple[int, int]]:
    """The parts of a text read on their own (see `_windows_and_sentences`)."""
    return _windows_and_sentences(original)[0]


class _SentenceWords:
    """The model's word features of each sentence of a text, made and weighed once for all the
    windows (pairs of sentences) they are read in.

    A window of whole sentences has the tokens of its sentences one after another: a sentence ends
    after its punctuation (or where the text ends), no word token holds ".!?…" and a symbol token is
    one character, so no token crosses a sentence boundary. Its features are then those of each
    sentence within (`notice_model.inner_features`), the pair across the boundary, and the pairs
    with "<s>" and "</s>" (which no sentence's own features hold): the same set, so the same count
    (which sets the scale) and, summed as sentences minus what they share, the same weights.
    """

    def __init__(self, model: notice_model.Model, folded: str, sentences: list[tuple[int, int]]) -> None:
        self.model = model
        self.index = {start: i for i, (start, _) in enumerate(sentences)}
        self.ends = [end for _, end in sentences]
        self.tokens = [notice_model.tokens(folded[a:b]) for a, b in sentences]
        self.features = [notice_model.inner_features(t) for t in self.tokens]
        self.sums = [model.sums(f) for f in self.features]

    def window(self, start: int, end: int) -> tuple[tuple[float, ...] | None, int] | None:
        """The weight sums and feature count of the window `start:end`, or None unless it is one
        sentence or two in a row (then the window's text is read as it is)."""
        i = self.index.get(start)
        if i is None:
            return None
        j = i if self.ends[i] == end else i + 1
        if j >= len(self.ends) or self.ends[j] != end:
            return None
        first = next((t for t in self.tokens[i:j + 1] if t), None)
        if first is None:
            return None
        last = next(t for t in reversed(self.tokens[i:j + 1]) if t)
        extra = {"b <s> " + first[0], "b " + last[-1] + " </s>"}
        parts = [self.sums[i]]
        count = len(self.features[i])
        if j > i:
            a, b = self.features[i], self.features[j]
            shared = a & b
            count += len(b) - len(shared)
            if self.tokens[i] and self.tokens[j]:
                bridge = "b " + self.tokens[i][-1] + " " + self.tokens[j][0]
                if bridge not in a and bridge not in b:
                    extra.add(bridge)
            parts.append(self.sums[j])
            if shared:
                minus = self.model.sums(shared)
                if minus is not None:
                    parts.append(tuple(-v for v in minus))
        parts.append(self.model.sums(extra))
        count += len(extra)
        present = [p for p in parts if p is not None]
        return (tuple(map(sum, zip(*present, strict=True))) if present else None), count


def _windows_and_sentences(original: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The parts of a text read on their own: the whole when short, and every two sentences in a row.

    A notice is a sentence or two; in a long post the rest would drown it, so each pair of
    sentences is also read alone (pairs, not single sentences, so that "Bloggen stängs… nej då,
    skojar bara!" is read together).
    """
    text = original[:READ_CHARS]
    bounds = [m.span() for m in _SENTENCE.finditer(text)]
    windows = [(0, len(text))] if len(text) <= WINDOW_CHARS else []
    if len(bounds) > 2 or not windows:
        for (start, _), (_, end) in zip(bounds, bounds[1:] or bounds, strict=False):
            windows.append((start, min(end, start + WINDOW_CHARS)))
    return (windows or [(0, min(len(text), WINDOW_CHARS))]), bounds


# ---------------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class Finding:
    """What the detector makes of one text.

    kind: "move" (to Tempus Hemma or "the app"), "closing" (no destination) or "elsewhere" (a named
    other platform or channel); None when the text is no notice. score: 0..1, how likely the text is
    a notice at all (flagged from `notice_threshold`). matched: the evidence phrases, names masked.
    snippet: at most SNIPPET_CHARS characters around the evidence, names masked.
    """

    kind: str | None
    score: float
    matched: tuple[str, ...]
    snippet: str


NOTHING = Finding(None, 0.0, (), "")


def read(text: str, model: notice_model.Model | None = None) -> Finding:
    """The detector's finding for one public text (pure: the same text gives the same finding)."""
    original = _collapse(text or "")
    if not original:
        return NOTHING
    model = model or notice_model.shipped()
    folded_all = _fold(original)
    rx = _platform_rx()
    windows, sentences = _windows_and_sentences(original)
    words = _SentenceWords(model, folded_all, sentences) if len(windows) > 1 else None
    best = None
    for start, end in windows:
        folded = folded_all[start:end]
        rules = _rules(folded, original[start:end], rx)
        summed = words.window(start, end) if words is not None else None
        if summed is None:
            p = model.probabilities(folded, rules.signals)
        else:
            p = model.probabilities_summed(*summed, rules.signals)
        value = 1.0 - p["none"]
        if best is None or value > best[0]:
            best = (value, start, end, folded, rules, p)
    value, start, end, folded, rules, p = best
    kind = max(KINDS, key=p.__getitem__)
    value = round(value, 2)
    if value < 0.05:
        return Finding(None, value, (), "")
    if kind != "move" and rules.kind == "move" and rules.score >= 0.6:
        # The text names Tempus Hemma (or the app) as where to go: whatever it closes or leaves, that
        # is the move the board counts.
        kind = "move"
    spans = list(rules.spans) if rules.kind == kind else []
    if value >= EVIDENCE_FROM:
        spans += _model_spans(model, folded, rules.signals, kind)
    spans = _merge(original, sorted({(a + start, b + start) for a, b in spans}))
    return Finding(kind, value, _matched(original, spans), snippet(original, spans))


def score(text: str) -> tuple[float, tuple[str, ...], str | None]:
    """Score 0..1 that `text` is a notice, the matched phrases, and the kind (see `read`)."""
    found = read(text)
    return found.score, found.matched, found.kind


def detect(texts: Iterable[PublicText], threshold: float = 0.6) -> list[NoticeHit]:
    """The flagged texts of one visit: per post the strongest (title, summary or text), and the strongest
    of the account's own texts (bio, description, tagline), each scoring at least `threshold`.

    A post's title can be weak where its excerpt is decisive ("Viktig information" over "Bloggen
    stängs, all information kommer i Tempus Hemma"): the evidence kept is the decisive one. In the
    order the posts were first seen.
    """
    hits = []
    for item in texts:
        found = read(item.text or "")
        if found.kind is None or found.score < threshold:
            continue
        hits.append(NoticeHit(score=found.score, matched=found.matched, snippet=found.snippet,
                              kind=found.kind, post_url=item.url, published_at=item.published_at))
    return keep_strongest(hits)


def keep_strongest(hits: Iterable[NoticeHit | None]) -> list[NoticeHit]:
    """Per post (`post_url`) the highest-scoring hit, and one for the account's own texts (no URL);
    the first of equals, in the order the posts were first seen. Nones are skipped.

    What `detect` keeps of one visit; for hits found text by text elsewhere (a worker process).
    """
    best: dict[str | None, NoticeHit] = {}
    for hit in hits:
        if hit is not None and (hit.post_url not in best or hit.score > best[hit.post_url].score):
            best[hit.post_url] = hit
    return list(best.values())


def strongest(texts: Iterable[PublicText], threshold: float = 0.6) -> NoticeHit | None:
    """The flagged text a crawl keeps for one visit: the highest-scoring hit (the first of equals), or None."""
    best = None
    for hit in detect(texts, threshold):
        if best is None or hit.score > best.score:
            best = hit
    return best


def hit_to_dict(hit: NoticeHit | None, source: str | None = None) -> dict | None:
    """A hit as JSON-ready data (`crawler inspect --json`): kind, score, matched, snippet, post."""
    if hit is None:
        return None
    return {"kind": hit.kind, "score": hit.score, "matched": list(hit.matched), "snippet": hit.snippet,
            "post_url": hit.post_url, "published_at": hit.published_at.isoformat() if hit.published_at else None}


def snippet(text: str, spans: Iterable[tuple[int, int]] = (), limit: int = SNIPPET_CHARS) -> str:
    """At most `limit` characters of `text` around the matched spans, whitespace collapsed, names masked."""
    text = _collapse(text)
    spans = sorted(spans)
    if len(text) > limit and spans:
        # The window starts a little before the first decisive phrase.
        start = max(0, min(spans[0][0], len(text)) - 40)
    else:
        start = 0
    end = min(len(text), start + limit)
    start = max(0, end - limit)
    cut = text[start:end]
    if start > 0:
        space = cut.find(" ")
        cut = "…" + (cut[space + 1:] if 0 <= space < 30 else cut[1:])
    if end < len(text):
        space = cut.rfind(" ")
        cut = (cut[:space] if space > len(cut) - 30 else cut[:-1]) + "…"
    return mask_names(cut)[:limit]


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
    "Tempus Hemma Malmö Förskola Förskolan Avdelning Blogg Bloggen App Appen "
    "Lucia Jul Påsk Sommar Vår Höst Vinter Solen Månen"
)


def _platform_labels() -> frozenset[str]:
    """The registered platforms as people write them ("Instagram", "WordPress"): never a child's name."""
    return _labels(platforms.all_platforms())


@functools.lru_cache(maxsize=8)
def _labels(registered: tuple[platforms.Platform, ...]) -> frozenset[str]:
    return frozenset(p.label for p in registered)


_NOT_NAME_PART = re.compile(r"(?i)sida|konto|blogg|app|förskol|avdelning")


def mask_names(text: str) -> str:
    """Replace what looks like a child's first name with "[namn]" (listed names, or beside a child word)."""

    def after(m: re.Match[str]) -> str:
        word = m.group(2)
        if word in _NOT_NAMES or word in _platform_labels() or _NOT_NAME_PART.search(word):
            return m.group(0)
        return m.group(0)[: m.start(2) - m.start(0)] + "[namn]"

    def before(m: re.Match[str]) -> str:
        word = m.group(1)
        return m.group(0) if word in _NOT_NAMES or word in _platform_labels() else "[namn]" + m.group(0)[len(word):]

    text = _NAME_AFTER.sub(after, text)
    text = _NAME_BEFORE.sub(before, text)
    return _LISTED.sub(lambda m: "[namn]" if m.group(0) in _FIRST_NAMES else m.group(0), text)


def fold(text: str) -> str:
    """`text` as the detector reads it: entities decoded, whitespace collapsed, lower case, å ä ö → a a o."""
    return _fold(_collapse(text))
