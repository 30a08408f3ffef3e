"""The known posts of every generated site: Swedish titles and texts, fixed dates.

Every site of the corpus is built from one of these lists, so the expected answers (newest post,
its day in Europe/Stockholm, its UTC instant, the post count) come from this construction and never
from what the software served. Dates are chosen to hit the traps: posts a little after midnight
Swedish time (the UTC day is the previous one), a little before midnight, across the switch to
summer time, and many posts so listings paginate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")

# The moment every capture pretends to be made at (the servers run under libfaketime).
CAPTURED_AT = datetime(2023, 4, 15, 10, 0, tzinfo=UTC)

_TITLES = [
    ("Höstens första utflykt", "Idag gick vi till skogen och letade svamp. Barnen hittade kantareller och en stor fluga."),
    ("Äppelmust i köket", "Vi pressade äpplen från förskolans träd och smakade på musten till mellanmålet."),
    ("Föräldramöte i oktober", "Välkomna på föräldramöte torsdag klockan 18. Vi bjuder på kaffe och bulle."),
    ("Pyssel med löv", "Barnen har klistrat höstlöv på stora papper. Kom gärna och titta i hallen."),
    ("Brandövning", "Idag övade vi utrymning. Alla barn samlades vid flaggstången på två minuter."),
    ("Lucia på förskolan", "Luciatåget går onsdag morgon. Barnen får gärna ha med sig ljus på batteri."),
    ("God jul och gott nytt år", "Förskolan har öppet som vanligt mellan jul och nyår, med färre barn i grupperna."),
    ("Snön är här", "Vi har byggt snögubbar och åkt pulka i backen bakom gården."),
    ("Nytt schema för vilan", "Från och med måndag vilar de yngsta barnen direkt efter lunch."),
    ("Tema vatten", "Vi undersöker vatten: vad flyter, vad sjunker, och var kommer regnet ifrån?"),
    ("Fettisdagen", "Semlor till fikat! Barnen bakade själva och det blev mycket grädde överallt."),
    ("Vi har fått nya böcker", "Biblioteket har lånat ut en låda med bilderböcker på arabiska, somaliska och svenska."),
    ("Vårtecken", "Vi har sett de första tussilagona vid staketet och en hackspett i eken."),
    ("Planeringsdag", "Förskolan är stängd fredag för planering. Tack för att ni ordnar annan omsorg."),
    ("Påskpyssel", "Fjädrar, ägg och kycklingar i alla färger pryder nu avdelningen."),
    ("Skräpplockardagen", "Vi plockade skräp i parken och hittade tre kilo papper och plast."),
    ("Besök av brandbilen", "Brandmännen kom på besök och alla fick sitta i förarhytten."),
    ("Odlingslådorna", "Nu har vi sått rädisor, ärtor och solrosor i lådorna på gården."),
    ("Sångstund", "Varje fredag sjunger vi tillsammans i samlingen. Önska gärna en sång!"),
    ("Matsedel vecka 15", "Veckans rätter: fiskgratäng, linssoppa, köttbullar, pannkakor och grönsakslasagne."),
    ("Utflykt till stranden", "Vi tog bussen till Ribersborg och byggde sandslott i blåsten."),
    ("Kojbygge", "Av filtar och stolar byggde barnen en koja som räckte till hela gruppen."),
    ("Tandborstning", "Tandsköterskan besökte oss och visade hur man borstar tänderna ordentligt."),
    ("Midnattsinlägg", "Det här inlägget skrevs strax efter midnatt, när alla andra sov."),
    ("Sent på kvällen", "Ett inlägg skrivet strax före midnatt, om dagens vårpromenad."),
    ("Vecka 16", "Nästa vecka börjar inskolningen av nya barn. Välkomna!"),
    ("Nattinlägg i april", "Vi har fått besked om sommarens öppettider: förskolan har öppet hela juli."),
]

_CATEGORIES = ("Utflykter", "Information", "Pyssel")


@dataclass(frozen=True)
class Post:
    """One post as the author wrote it; `at` is the instant in UTC, `day` the Stockholm day."""

    number: int
    title: str
    text: str
    at: datetime
    category: str
    slug: str

    @property
    def local(self) -> datetime:
        return self.at.astimezone(STOCKHOLM)

    @property
    def day(self) -> date:
        return self.local.date()


def slugify(title: str) -> str:
    table = str.maketrans({"å": "a", "ä": "a", "ö": "o", "Å": "a", "Ä": "a", "Ö": "o", "é": "e"})
    out = "".join(c if c.isalnum() else "-" for c in title.translate(table).lower())
    return "-".join(p for p in out.split("-") if p)


def _local(y: int, mo: int, d: int, h: int, mi: int) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=STOCKHOLM).astimezone(UTC)


def preschool_posts(count: int = 27, shift_days: int = 0) -> list[Post]:
    """`count` posts from autumn 2022 to April 2023, oldest first, with the midnight traps last.

    The newest three are at 23:50 and 00:20/00:40 Stockholm time, so their UTC day differs from
    their Swedish day; one winter post is at 00:30 CET. `shift_days` moves every date earlier
    (for a second site with other dates).
    """
    times: list[datetime] = []
    start = datetime(2022, 9, 5, 9, 15, tzinfo=STOCKHOLM)
    regular = max(0, count - 4)
    for i in range(regular):
        local = start + timedelta(days=round(i * 200 / max(1, regular)), hours=(i * 5) % 9, minutes=(i * 17) % 60)
        times.append(local.astimezone(UTC))
    traps = [
        _local(2023, 1, 17, 0, 30),  # winter, after midnight CET: UTC day is the 16th
        _local(2023, 4, 11, 23, 50),  # before midnight CEST: the same day in UTC
        _local(2023, 4, 13, 0, 40),  # after midnight CEST: UTC day is the 12th
        _local(2023, 4, 14, 0, 20),  # the newest: UTC 2023-04-13T22:20Z, Swedish day the 14th
    ]
    times.extend(traps[-min(count, 4):] if count < 4 else traps)
    times.sort()
    shift = timedelta(days=shift_days)
    posts = []
    for n, at in enumerate(times[:count]):
        title, text = _TITLES[n % len(_TITLES)]
        if n >= len(_TITLES):
            title = f"{title} {n // len(_TITLES) + 1}"
        posts.append(Post(n + 1, title, text, at - shift, _CATEGORIES[n % len(_CATEGORIES)], slugify(title)))
    return posts


def date_only_posts() -> list[Post]:
    """Posts whose front matter has a date but no time (static generators): the day is what was written.

    `at` is local midnight of that day (what Hugo, Jekyll and Pelican make of a bare date in
    Europe/Stockholm), which is the previous day in UTC.
    """
    days = [date(2023, 1, 9), date(2023, 2, 1), date(2023, 2, 20), date(2023, 3, 6), date(2023, 3, 13),
            date(2023, 3, 27), date(2023, 4, 3), date(2023, 4, 12), date(2023, 4, 14)]
    posts = []
    for n, d in enumerate(days):
        title, text = _TITLES[(n * 3) % len(_TITLES)]
        at = datetime(d.year, d.month, d.day, tzinfo=STOCKHOLM).astimezone(UTC)
        posts.append(Post(n + 1, title, text, at, _CATEGORIES[n % len(_CATEGORIES)], slugify(title)))
    return posts


def newest(posts: list[Post]) -> Post:
    return max(posts, key=lambda p: p.at)
