"""How much work an HTML page would make the parser do, measured on what the parser sees.

    measure(body) -> Nesting(deepest, deepest_block, work, most_attributes)

Lexbor (selectolax) builds its tree in time that grows with the depth of the stack of open
elements at every tag: 20,000 nested <div>s take 0.6 s, 100,000 take 26 s, and a 2 MiB page can
hold 400,000. A regex over the text is fooled by closing tags the parser never sees: inside
comments, scripts and other raw text, attribute values, or closing an element that is not in
scope (`<section></div>` nests sections). So this scans tags as the HTML tokenizer does (comments,
bogus comments, raw text and RCDATA elements, quoted attribute values) and keeps a model of the
tree builder's stack: scope rules for end tags, the implied closes real (sloppy) pages rely on
(<p>, <li>, <dd>/<dt>, <option>, table cells and rows, <a>), void elements, foreign content, and
formatting elements left open (the parser reopens them: `<p><b></p>` repeated).

The model errs on the side of a deeper stack than the parser's: where a rule is too intricate to
follow (the adoption agency, <form>, <select>) it does not pop. `work` adds the modelled depth at
every tag, the parser's cost in scope walks; `most_attributes` counts the attributes of the
busiest tag (duplicate checks are quadratic: 20,000 attributes on one tag take 0.6 s).

Pure and linear: every regex here consumes what it scans once; the loop runs once per tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WS = rb"[\t\n\f\r ]"
# Attributes up to the end of a tag: a quote opens a value only after "=", an unclosed value runs
# to the end of the document (as the tokenizer's does). Possessive, in runs: it never backtracks
# and keeps no state per character (a plain group repeat held 320 MB for a 2 MB tag).
_ATTRS = rb"(?:[^>=]++|=" + _WS + rb"*+(?:\"[^\"]*+\"?|'[^']*+'?)?+)*+"
_COMMON = (
    rb"<!--(?:-?>|.*?(?:--!?>|\Z))"  # comment (<!--> and <!---> are empty ones); unclosed: to the end
    rb"|<(?:![^>]*|\?[^>]*|/(?![a-zA-Z>])[^>]*)(?:>|\Z)"  # doctype, CDATA, <?...>, </3: bogus comments
    rb"|</([a-zA-Z][^\t\n\f\r />]*)" + _ATTRS + rb"(?:>|\Z)"  # end tag (1)
)


def _tokens(raw: bytes) -> re.Pattern[bytes]:
    """The tokenizer where the elements `raw` hold raw text (swallowed up to their own end tag)."""
    return re.compile(
        _COMMON
        + rb"|<(" + raw + rb")(?=[\t\n\f\r />])(" + _ATTRS + rb")(?:>|\Z).*?(?:</\2(?=[\t\n\f\r />])|\Z)"  # (2, 3)
        + rb"|<([a-zA-Z][^\t\n\f\r />]*)(" + _ATTRS + rb")(?:>|\Z)",  # start tag (4, 5)
        re.IGNORECASE | re.DOTALL,
    )


_RAW = rb"script|style|xmp|iframe|noembed|noframes|textarea|title"
_HTML_TOKEN = _tokens(_RAW)
_TEMPLATE_TOKEN = _tokens(_RAW + rb"|noscript")  # lexbor reads <noscript> in a template as raw text
_FOREIGN_TOKEN = _tokens(rb"(?!)")  # in SVG and MathML <title>, <style>, <script> hold markup
# Start tags that end SVG or MathML content (the parser pops back to HTML first).
_BREAKOUT = frozenset(
    b"b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 h6 head hr i img li listing menu "
    b"meta nobr ol p pre ruby s small span strong strike sub sup table tt u ul var".split()
)
_FONT_BREAKOUT = re.compile(rb"(?:^|[\t\n\f\r /])(?:color|face|size)(?:[\t\n\f\r ]*=|[\t\n\f\r />]|$)", re.IGNORECASE)
_INTEGRATION = {b"svg": frozenset(b"foreignobject desc title".split()), b"math": frozenset(b"mi mo mn ms mtext".split())}
_ANNOTATION_HTML = re.compile(rb"encoding[\t\n\f\r ]*=[\t\n\f\r ]*[\"']?(?:text/html|application/xhtml\+xml)",
                              re.IGNORECASE)
_ATTRIBUTE = re.compile(rb"[^\t\n\f\r /=>][^\t\n\f\r /=>]*(?:" + _WS + rb"*=" + _WS + rb"*(?:\"[^\"]*\"?|'[^']*'?|[^\t\n\f\r >]*))?")
_TAG_START = re.compile(rb"<[a-zA-Z/]")
# A tag longer than this may carry many attributes; the run stops at the next tag-like "<": linear.
_LONG_TAG = re.compile(rb"<[a-zA-Z](?:[^<>]|<(?![a-zA-Z/!?])){1024}")

_VOID = frozenset(b"area base br col embed hr img image input link meta source track wbr param keygen basefont "
                  b"bgsound frame".split())
_SPECIAL = frozenset(
    b"address applet area article aside base basefont bgsound blockquote body br button caption center col colgroup "
    b"dd details dir div dl dt embed fieldset figcaption figure footer form frame frameset h1 h2 h3 h4 h5 h6 head "
    b"header hgroup hr html iframe img input keygen li link listing main marquee menu meta nav noembed noframes "
    b"noscript object ol p param plaintext pre script search section select source style summary table tbody td "
    b"template textarea tfoot th thead title tr track ul wbr xmp".split()
)
# The union of the default, button and list-item scopes: more boundaries mean fewer pops (safe).
_BOUNDARY = frozenset(b"applet caption html table td th marquee object template button ol ul".split())
_TABLE_SCOPE = frozenset(b"html table template".split())
_FORMATTING = frozenset(b"a b big code em font i nobr s small strike strong tt u".split())
_CLOSES_P = frozenset(
    b"address article aside blockquote center details dialog dir div dl fieldset figcaption figure footer header "
    b"hgroup main menu nav ol p search section summary ul h1 h2 h3 h4 h5 h6 pre listing hr xmp li dd dt".split()
)
_HEADINGS = frozenset(b"h1 h2 h3 h4 h5 h6".split())
_TABLE_STARTS = {b"td": (b"td", b"th"), b"th": (b"td", b"th"), b"tr": (b"tr",),
                 **dict.fromkeys((b"tbody", b"thead", b"tfoot"), (b"tr", b"tbody", b"thead", b"tfoot"))}
_TABLE_END_TAGS = frozenset(b"table tbody thead tfoot tr td th caption colgroup".split())
# End tags the parser closes by scope; any other special element only when it is the current node's
# nearest special element ("any other end tag").
_SCOPED_END = frozenset(
    b"address article aside blockquote button center details dialog dir div dl fieldset figcaption figure footer "
    b"header hgroup listing main menu nav ol pre search section summary ul applet marquee object li dd dt p h1 h2 "
    b"h3 h4 h5 h6 select".split()
)
_IGNORED_START = frozenset(b"html head body".split())
# What the depth in 0.1's messages counted: block elements only.
_BLOCK = frozenset(
    b"div section article main aside nav header footer ul ol dl blockquote fieldset figure form details center "
    b"address menu summary hgroup figcaption pre listing".split()
)


@dataclass(frozen=True)
class Nesting:
    deepest: int  # the deepest modelled stack of open elements
    deepest_block: int  # the deepest nesting of block elements (div, section, ul, ...)
    work: int  # the modelled depth summed over every tag: what the parser's scope walks cost
    most_attributes: int  # attributes on the busiest tag
    most_options: int = 0  # options in the busiest <select>
    stopped: bool = False  # the scan stopped at `work_limit`: the figures are lower bounds


_IS_BOUNDARY, _IS_TABLE_SCOPE, _IS_SPECIAL, _IS_SPECIAL_LI = 1, 2, 4, 8
_IS_TABLE, _IS_BLOCK, _IS_FORMATTING = 16, 32, 128


def _bits(name: bytes) -> int:
    return ((_IS_BOUNDARY if name in _BOUNDARY else 0) | (_IS_TABLE_SCOPE if name in _TABLE_SCOPE else 0)
            | (_IS_SPECIAL if name in _SPECIAL else 0)
            | (_IS_SPECIAL_LI if name in _SPECIAL and name not in (b"address", b"div", b"p") else 0)
            | (_IS_TABLE if name == b"table" else 0) | (_IS_BLOCK if name in _BLOCK else 0)
            | (_IS_FORMATTING if name in _FORMATTING else 0))


_BITS = {name: _bits(name) for name in _BOUNDARY | _TABLE_SCOPE | _SPECIAL | _BLOCK | _FORMATTING}
# Start tags with a rule of their own; any other start tag is simply pushed.
_RULED = _CLOSES_P | _VOID | _HEADINGS | _IGNORED_START | _FORMATTING | frozenset(
    b"li dd dt option optgroup td th tr tbody thead tfoot button a nobr plaintext select".split())


OPTION_WEIGHT = 4  # lexbor: 20,000 options in one select take 2.7 s, 20,000 nested divs 0.6 s


class _Stack:
    """The tree builder's stack of open elements, with the indexes its rules ask about in O(1)."""

    def __init__(self) -> None:
        self.names: list[bytes] = []
        self.at: dict[bytes, list[int]] = {}
        self.boundaries: list[int] = []
        self.table_scope: list[int] = []
        self.special: list[int] = []
        self.special_li: list[int] = []  # special elements other than address, div and p
        self.roots: list[int] = []  # <svg> and <math>: foreign content starts
        self.points: list[int] = []  # HTML integration points in it (<foreignObject>, <mi>, ...)
        self.tables = self.blocks = self.formatting = 0

    @property
    def foreign(self) -> bool:
        """Whether the current node is in SVG or MathML content (not at an integration point)."""
        return bool(self.roots) and (not self.points or self.roots[-1] > self.points[-1])

    def push(self, name: bytes, *, root: bool = False, point: bool = False) -> None:
        i = len(self.names)
        self.names.append(name)
        at = self.at.get(name)
        if at is None:
            self.at[name] = [i]
        else:
            at.append(i)
        bits = _BITS.get(name)
        if bits:
            self._mark(bits, i, 1)
        if root:
            self.roots.append(i)
        if point:
            self.points.append(i)

    def pop_to(self, i: int) -> None:
        """Pop every element from the top down to (and including) the one at index i."""
        names, at = self.names, self.at
        while len(names) > i:
            name = names.pop()
            at[name].pop()
            bits = _BITS.get(name)
            if bits:
                self._mark(bits, 0, -1)
            if self.roots or self.points:
                j = len(names)
                for marks in (self.roots, self.points):
                    if marks and marks[-1] == j:
                        marks.pop()

    def _mark(self, bits: int, i: int, step: int) -> None:
        if step > 0:
            if bits & _IS_BOUNDARY:
                self.boundaries.append(i)
            if bits & _IS_TABLE_SCOPE:
                self.table_scope.append(i)
            if bits & _IS_SPECIAL:
                self.special.append(i)
            if bits & _IS_SPECIAL_LI:
                self.special_li.append(i)
        else:
            if bits & _IS_BOUNDARY:
                self.boundaries.pop()
            if bits & _IS_TABLE_SCOPE:
                self.table_scope.pop()
            if bits & _IS_SPECIAL:
                self.special.pop()
            if bits & _IS_SPECIAL_LI:
                self.special_li.pop()
        if bits & _IS_TABLE:
            self.tables += step
        if bits & _IS_BLOCK:
            self.blocks += step
        if bits & _IS_FORMATTING:
            self.formatting += step

    def last(self, name: bytes) -> int:
        found = self.at.get(name)
        return found[-1] if found else -1

    def in_scope(self, name: bytes, marks: list[int] | None = None) -> int:
        """The index of the topmost `name` if no scope boundary lies above it, else -1."""
        i = self.last(name)
        marks = self.boundaries if marks is None else marks
        return i if i >= 0 and (not marks or i >= marks[-1]) else -1

    def in_table(self, name: bytes) -> int:
        """The index of the topmost `name` inside the current table (no table: -1, the parser ignores it)."""
        i = self.last(name)
        marks = self.table_scope
        return i if i >= 0 and marks and i >= marks[-1] else -1

    def top(self) -> bytes | None:
        return self.names[-1] if self.names else None


def measure(body: bytes, *, work_limit: int | None = None) -> Nesting:
    """The modelled stack depth, block depth, work and busiest tag of an HTML body."""
    most_attributes = 0
    stack = _Stack()
    names = stack.names
    pending: dict[bytes, int] = {}  # formatting elements opened and not closed by their end tag
    pending_total = 0
    # lexbor walks a <select>'s options at each new one: quadratic in the options of one select.
    options: dict[int, int] = {}  # index of an open <select> -> options inside it so far
    deepest = deepest_block = work = 0
    limit = work_limit if work_limit is not None else -1
    pos, end = 0, len(body)
    at = stack.at
    while pos < end:
        foreign = stack.foreign
        if foreign:
            tokens = _FOREIGN_TOKEN
        elif at.get(b"template"):
            tokens = _TEMPLATE_TOKEN
        else:
            tokens = _HTML_TOKEN
        token = tokens.search(body, pos)
        if token is None:
            break
        pos = token.end()
        kind = token.lastindex
        if kind is None:
            continue  # a comment or bogus comment
        if kind == 1:  # end tag
            name = token.group(1).lower()
            if foreign and name in (b"p", b"br"):
                stack.pop_to(stack.roots[-1])  # </p> and </br> end foreign content too
            if names and names[-1] == name and name != b"form":
                stack.pop_to(len(names) - 1)  # the usual case: it closes the current element
            else:
                _end_tag(stack, name)
            if pending_total and pending.get(name) and name in _FORMATTING:
                pending[name] -= 1
                pending_total -= 1
        else:
            raw = kind <= 3
            name = token.group(2 if raw else 4).lower()
            attrs = token.group(3 if raw else 5)
            if len(attrs) > 1024:  # only a long tag can carry many attributes
                n = sum(1 for _ in _ATTRIBUTE.finditer(attrs))
                if n > most_attributes:
                    most_attributes = n
            if foreign:
                if name in _BREAKOUT or (name == b"font" and _FONT_BREAKOUT.search(attrs)):
                    stack.pop_to(stack.roots[-1])  # back to HTML: the tag is read below
                    foreign = False
                else:
                    point = name in _INTEGRATION[names[stack.roots[-1]]] or (
                        name == b"annotation-xml" and bool(_ANNOTATION_HTML.search(attrs)))
                    if not attrs.rstrip().endswith(b"/"):
                        stack.push(name, root=name in (b"svg", b"math"), point=point)
            if foreign:
                pass
            elif raw:
                _start_tag(stack, name)
                stack.pop_to(len(names) - 1)  # a raw text element ends with its own end tag
            elif name in (b"svg", b"math"):
                _start_tag(stack, name, root=True)
                if attrs.rstrip().endswith(b"/"):
                    stack.pop_to(len(names) - 1)
            elif name not in _RULED:
                stack.push(name)
            else:
                if name == b"a" or name == b"nobr":
                    _reopen(stack, name)
                    if pending.get(name):
                        pending[name] -= 1
                        pending_total -= 1
                if name in _FORMATTING:
                    pending[name] = pending.get(name, 0) + 1
                    pending_total += 1
                if name == b"plaintext":
                    stack.push(name)
                    pos = end  # everything after it is text
                else:
                    _start_tag(stack, name)
                if name == b"select":
                    options[len(names) - 1] = 0
                elif name == b"option" and (select := stack.last(b"select")) >= 0:
                    options[select] = options.get(select, 0) + 1
                    work += OPTION_WEIGHT * options[select]
        # Formatting elements popped without their end tag are reopened by the parser at the next
        # text: count them as open.
        depth = len(names) + 2 * stack.tables
        if pending_total > stack.formatting:
            depth += pending_total - stack.formatting
        if depth > deepest:
            deepest = depth
        if stack.blocks > deepest_block:
            deepest_block = stack.blocks
        work += depth
        if work > limit >= 0:
            return Nesting(deepest, deepest_block, work, most_attributes, max(options.values(), default=0), True)
    return Nesting(deepest, deepest_block, work, most_attributes, max(options.values(), default=0))


def worth_measuring(body: bytes, max_tags: int) -> bool:
    """False when the body is too simple to be slow: at most `max_tags` tags and no long tag.

    A quick bound in C: n tags cannot nest deeper than n (3n counting tables' implied rows), so
    their work stays below 3n².
    """
    return len(_TAG_START.findall(body)) > max_tags or _LONG_TAG.search(body) is not None


def _reopen(stack: _Stack, name: bytes) -> None:
    """<a> (or <nobr>) while one is open: the parser closes the open one first, when it simply can."""
    i = stack.last(name)
    if i >= 0 and (not stack.special or stack.special[-1] < i):
        stack.pop_to(i)


def _start_tag(stack: _Stack, name: bytes, *, root: bool = False) -> None:
    """An HTML start tag (in HTML content): the closes it implies, then the push (none for void)."""
    if name in _IGNORED_START:
        return
    if name in _CLOSES_P and (i := stack.in_scope(b"p")) >= 0:
        stack.pop_to(i)
    if name == b"li" or name in (b"dd", b"dt"):
        family = (b"li",) if name == b"li" else (b"dd", b"dt")
        if stack.special_li and stack.names[stack.special_li[-1]] in family:
            stack.pop_to(stack.special_li[-1])
    elif (name in _HEADINGS and stack.top() in _HEADINGS) or (name in (b"option", b"optgroup")
                                                             and stack.top() == b"option"):
        stack.pop_to(len(stack.names) - 1)  # a heading closes an open heading, an option an option
    elif name in _TABLE_STARTS:
        i = -1
        for closed in _TABLE_STARTS[name]:  # the open cell, row or section it ends, in this table
            j = stack.in_table(closed)
            if j > i:
                i = j
        if i >= 0:
            stack.pop_to(i)
    elif name == b"button" and (i := stack.in_scope(b"button")) >= 0:
        stack.pop_to(i)
    if name in _VOID:
        return
    stack.push(name, root=root)


def _end_tag(stack: _Stack, name: bytes) -> None:
    if name in (b"body", b"html", b"br", b"form"):
        return  # these never pop (</form> removes the form alone; leaving it is the safe side)
    if name in _TABLE_END_TAGS:
        i = stack.in_table(name)
    elif name == b"template":
        i = stack.last(name)
    elif name in _SCOPED_END:
        i = stack.in_scope(name)
    elif name in _SPECIAL:
        i = stack.last(name)
        if i < 0 or stack.special[-1] != i:
            i = -1
    else:  # formatting (the simple case of the adoption agency) and any other element
        i = stack.last(name)
        if stack.special and stack.special[-1] > i:
            i = -1  # a special element above it: the parser stops there (or reparents)
    if i >= 0:
        stack.pop_to(i)
