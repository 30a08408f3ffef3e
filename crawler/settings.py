"""Settings: every knob of the crawler with its default, its rule and a one-line doc, in one place.

    Settings(**values)          frozen; validates itself on every path (construction, replace(),
                                build()): Settings(concurrency=-1) raises SettingsError
    build(values, environ, file=, lines=)
                                sources.yaml's `settings:` values, then CRAWLER_<NAME> environment
                                variables over them; every problem at once, each naming the file
                                and line (`sources.yaml:4: settings.retries: ...`) or the variable
                                (`environment: CRAWLER_RETRIES: ...`)
    contact_problem(settings)   the one contact rule: why the contact is unfit for real sites
    reference()                 docs/SETTINGS.md, generated from the declarations below
                                (`python -m crawler.settings > docs/SETTINGS.md`)

Precedence (lowest first): the defaults below, the `settings:` section of sources.yaml, then
environment variables named CRAWLER_<FIELD> (CRAWLER_DB=/var/lib/crawler/inv.sqlite,
CRAWLER_ACTIVE_DAYS=120, CRAWLER_HOST_DELAYS='{"www.instagram.com": 10}').

Why a validated dataclass and not pydantic-settings: the settings are ~30 flat scalars whose errors
must name a sources.yaml line or an environment variable, which the loader knows and a model does
not (mapping a model's error locations back costs as much as the checks below); `Settings()` must
stay the defaults, never read the environment behind a test's back (pydantic-settings' sources
do); and the rules (bounds, a cron line that parses, a time zone that exists, cross-field rules)
are a page of code here, with no dependency and no start-up cost for every command.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from crawler import __version__
from crawler.clock import DEFAULT_ZONE, local_zone
from crawler.errors import Problem, SettingsError

# The contact shipped in sources.yaml; crawling real sites with it is refused (see contact_problem).
PLACEHOLDER_CONTACT = "CHANGE-ME@example.org"
ENV_PREFIX = "CRAWLER_"

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP token (RFC 9110), for the User-Agent
_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")


# --------------------------------------------------------------------------- value rules


def _proxies_problem(value: str) -> str | None:
    import ipaddress

    for item in value.split(","):
        try:
            ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            return f"{item.strip()!r} is not an IP address or network (write them like 127.0.0.1, 10.1.2.0/24)"
    return None


def _header_problem(value: str) -> str | None:
    if not _TOKEN.match(value):
        return f"{value!r} is not an HTTP header name (such as X-Remote-User)"
    return None


def _metrics_problem(value: str) -> str | None:
    if value not in ("localhost", "token", "open"):
        return f"{value!r}: write localhost, token (CRAWLER_WEB_METRICS_TOKEN) or open"
    return None


def _cron_problem(expr: str) -> str | None:
    from crawler.cron import problem  # APScheduler parses it, as the service will

    return problem(expr)


def _zone_problem(name: str) -> str | None:
    try:
        local_zone(name)
    except ValueError:
        return f"{name!r} is not a time zone name (write one like Europe/Stockholm)"
    return None


def _date_problem(value: str) -> str | None:
    try:
        date.fromisoformat(value)
    except ValueError:
        return f"{value!r} is not a date; write it as YYYY-MM-DD (e.g. 2023-03-01)"
    return None if len(value) == 10 else f"{value!r} is not a date; write it as YYYY-MM-DD (e.g. 2023-03-01)"
def _addresses_problem(value: str) -> str | None:
    bad = [a for a in (x.strip() for x in value.split(",")) if a and not re.match(r"^[^@\s,;<>]+@[^@\s,;<>]+$", a)]
    return f"{bad[0]!r} is not an e-mail address (write name@example.se, comma-separated)" if bad else None


def _url_problem(value: str) -> str | None:
    if value and not re.match(r"^https?://[^\s/]+", value):
        return f"{value[:80]!r} is not an http(s) URL"
    return None


def _security_problem(value: str) -> str | None:
    return None if value in ("starttls", "tls", "none") else f"{value!r}: write starttls, tls or none"


def _token_problem(value: str) -> str | None:
    if not _TOKEN.match(value):
        return f"{value!r} must be one word of letters, digits and -._ (it starts the User-Agent)"
    return None


def _setting(default: Any, doc: str, group: str, *, minimum: float | None = None, above: float | None = None,
             maximum: float | None = None, check: Callable[[Any], str | None] | None = None) -> Any:
    """Declare one setting: its default, a one-line doc, its section and its bounds or check."""
    meta = {"doc": doc, "group": group, "minimum": minimum, "above": above, "maximum": maximum, "check": check}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=meta)
    return field(default=default, metadata=meta)


IDENTITY, CLASSIFY, POLITE, REQUEST, PIPELINE, PATHS, SERVICE, SCHEDULE, ALERTS, REPORT, DISCOVERY, META, WEB = (
    "Identity", "Classification", "Politeness", "Bounds of one request", "Reading and writing", "Paths", "Service",
    "Schedule", "Alerts", "The board's report", "Discovery", "Meta's Graph API", "The web app (crawler web)")

# Hosts of link-in-bio services: a page there lists one account's other addresses.
LINK_IN_BIO_HOSTS = ("linktr.ee", "lnk.bio", "linkin.bio", "beacons.ai", "bio.link", "campsite.bio", "solo.to",
                     "taplink.cc", "msha.ke", "hoo.be", "carrd.co", "linkbio.co", "later.com")


@dataclass(frozen=True)
class Discovery:
    """The `discovery:` section: where `crawler discover` looks beyond the registry's own pages.

    pages            the municipality's own pages about each preschool (seed pages)
    sitemaps         sitemaps whose URLs are seed pages (those containing `sitemap_filter`)
    sitemap_filter   only sitemap URLs containing this text are read ("" = all)
    municipality     the municipality's name: an account that names another one is not proposed
    link_in_bio      hosts of link-in-bio services, besides the well-known ones
    max_pages        most seed pages read in one run
    min_score        candidates scoring below this are kept but not proposed
    """

    pages: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    sitemap_filter: str = ""
    municipality: str = ""
    link_in_bio: tuple[str, ...] = ()
    max_pages: int = 2000
    min_score: float = 0.5

    @property
    def link_in_bio_hosts(self) -> tuple[str, ...]:
        return (*LINK_IN_BIO_HOSTS, *self.link_in_bio)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
                for f in dataclasses.fields(self)}


_VERSION = re.compile(r"^v\d{1,3}\.\d{1,2}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_BASE_URL = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]{1,300}$")
_DIGITS = re.compile(r"^\d{1,30}$")
# Keys that would put a secret into sources.yaml: refused with the way to do it instead.
_SECRET_KEYS = frozenset({"token", "access_token", "app_secret", "secret", "password"})


@dataclass(frozen=True)
class MetaSettings:
    """`settings: meta:`, how Meta's Graph API is reached (docs/META.md). The API is used only when
    a token source is named (`token_env` or `token_file`); the token itself never appears here."""

    api_version: str = "v26.0"
    instagram_user_id: str | None = None
    base_url: str = "https://graph.facebook.com"
    token_env: str | None = None
    token_file: str | None = None
    call_interval: float = 1.0
    slowdown_percent: float = 75.0

    @property
    def configured(self) -> bool:
        """A token source is named: the API route is open (Instagram also needs instagram_user_id)."""
        return bool(self.token_env or self.token_file)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


META_DOCS = {
    "api_version": "the Graph API version called (Meta's changelog lists the current one)",
    "instagram_user_id": "the id of the administration's own Instagram professional account, through which "
                         "Business Discovery reads the preschools' accounts",
    "base_url": "the Graph API's address (tests and the demo point it at a loopback server)",
    "token_env": "the environment variable holding the access token (e.g. CRAWLER_META_TOKEN)",
    "token_file": "or a file holding it, readable by the crawler's user only (mode 0600 or 0400)",
    "call_interval": "minimum seconds between two Graph API calls",
    "slowdown_percent": "from this share of Meta's rate limit (the usage headers) on, calls are spaced out further",
}


def _meta_value(value: Any) -> tuple[Any, str | None]:
    """`settings: meta:` as a MetaSettings, or why it is refused (never echoing a secret)."""
    if isinstance(value, MetaSettings):
        value = value.as_dict()
    if not isinstance(value, Mapping):
        return value, f"must be a mapping of {', '.join(META_DOCS)}, not {type(value).__name__}"
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            return value, f"keys must be names, not {key!r}"
        if key in _SECRET_KEYS:
            return value, (f"{key}: a token never goes into sources.yaml (it is shared, copied and exported); "
                           "name where it is instead: `token_env: CRAWLER_META_TOKEN` (an environment variable) "
                           "or `token_file: /etc/crawler/meta-token` (a file of mode 0600)")
        if key not in META_DOCS:
            close = difflib.get_close_matches(key, list(META_DOCS), n=1, cutoff=0.6)
            return value, f"{key}: unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
        out[key] = item
    meta = MetaSettings()
    fields = {**meta.as_dict(), **out}
    for key in ("api_version", "base_url"):
        if not isinstance(fields[key], str) or _text_problem(fields[key]):
            return value, f"{key}: must be text, not {fields[key]!r}"
    if not _VERSION.match(fields["api_version"]):
        return value, f"api_version: {fields['api_version']!r} is not a Graph API version (write one like v26.0)"
    base = fields["base_url"].rstrip("/")
    if not _BASE_URL.match(base):
        return value, f"base_url: {base!r} must be http(s)://host[:port] with no path, query or credentials"
    fields["base_url"] = base
    ig = fields["instagram_user_id"]
    if isinstance(ig, int) and not isinstance(ig, bool):
        ig = str(ig)  # YAML reads a bare id as a number
    if ig is not None and (not isinstance(ig, str) or not _DIGITS.match(ig.strip())):
        return value, f"instagram_user_id: must be the numeric id of an Instagram professional account, not {ig!r}"
    fields["instagram_user_id"] = ig.strip() if isinstance(ig, str) else None
    for key in ("token_env", "token_file"):
        item = fields[key]
        if item is not None and (not isinstance(item, str) or _text_problem(item)):
            return value, f"{key}: must be text, not {item!r}"
    if fields["token_env"] is not None and not _ENV_NAME.match(fields["token_env"]):
        return value, f"token_env: {fields['token_env']!r} is not an environment variable name"
    if fields["token_env"] and fields["token_file"]:
        return value, "name one token source: token_env or token_file, not both"
    for key, floor in (("call_interval", 0.0), ("slowdown_percent", 1.0)):
        number, problem = _number(fields[key], whole=False)
        if problem:
            return value, f"{key}: {problem}"
        if number < floor or (key == "slowdown_percent" and number > 100):
            rule = "must not be negative" if floor == 0 else "must be between 1 and 100"
            return value, f"{key}: {rule} (is {_num(number)})"
        fields[key] = number
    return MetaSettings(**fields), None


@dataclass(frozen=True)
class Settings:
    """Every knob of the crawler in one place, validated on construction. Durations are seconds
    unless named otherwise. `host_delays` is a plain dict: treat it as read-only."""

    contact: str = _setting(PLACEHOLDER_CONTACT, "e-mail address or URL of the operator, sent in the User-Agent; "
                            "crawling real sites is refused while it is the placeholder", IDENTITY)
    user_agent_name: str = _setting("crawler", "the product name that starts the User-Agent", IDENTITY,
                                    check=_token_problem)

    active_days: int = _setting(90, "newest post within this many days of the check: active", CLASSIFY, minimum=1)
    gone_after: int = _setting(2, "consecutive \"not there\" visits (404/410, the platform's removed page) "
                               "before an account is gone...", CLASSIFY, minimum=1)
    gone_min_hours: float = _setting(24.0, "...whose first and last lie at least this many hours apart",
                                     CLASSIFY, minimum=0)
    unknown_after: int = _setting(3, "consecutive visits that tell nothing before the status becomes unknown",
                                  CLASSIFY, minimum=1)
    future_skew_hours: float = _setting(36.0, "post dates further in the future than this are ignored",
                                        CLASSIFY, minimum=0)
    notice_threshold: float = _setting(0.6, "detector score from which a text is flagged for review",
                                       CLASSIFY, above=0, maximum=1)
    timezone: str = _setting(DEFAULT_ZONE, "the inventory's local time (IANA name): when the cron lines run",
                             CLASSIFY, check=_zone_problem)

    concurrency: int = _setting(16, "requests in flight over all hosts", POLITE, minimum=1, maximum=1000)
    per_host_concurrency: int = _setting(1, "requests in flight on one host", POLITE, minimum=1)
    per_host_delay: float = _setting(1.0, "minimum seconds between request starts on one host "
                                     "(a platform's own default is used when larger)", POLITE, minimum=0)
    host_delays: dict = _setting({}, "seconds between requests per host name, suffix-matched, winning over "
                                 "everything else, e.g. {\"www.instagram.com\": 10}", POLITE)
    respect_robots: bool = _setting(True, "obey robots.txt (RFC 9309, with Crawl-delay)", POLITE)
    robots_cache_hours: float = _setting(24.0, "how long a robots.txt is reused (RFC 9309: at most 24)",
                                         POLITE, minimum=0, maximum=24)

    connect_timeout: float = _setting(10.0, "seconds to open a connection", REQUEST, above=0)
    read_timeout: float = _setting(20.0, "seconds of silence while reading before giving up", REQUEST, above=0)
    deadline: float = _setting(60.0, "total seconds for one URL, redirects included, retries excluded",
                               REQUEST, above=0)
    max_body_bytes: int = _setting(5 * 1024 * 1024, "largest body read, after decompression", REQUEST,
                                   minimum=1024)
    max_redirects: int = _setting(5, "redirect hops followed (each checked like the first URL)", REQUEST,
                                  minimum=0, maximum=20)
    retries: int = _setting(3, "attempts in all for a transient failure (1: no retry)", REQUEST, minimum=1,
                            maximum=10)
    retry_after_cap: float = _setting(120.0, "longest Retry-After waited for; a longer one defers the URL "
                                      "to the next cycle", REQUEST, minimum=0)
    allow_private_addresses: bool = _setting(False, "allow loopback and private addresses (only for the demo "
                                             "and tests)", REQUEST)

    parse_workers: int = _setting(2, "worker processes that read responses (parsers, notices) beside the "
                                  "crawler's own process", PIPELINE, minimum=1, maximum=64)
    parse_timeout: float = _setting(5.0, "seconds one response may take to read; past it the worker is stopped "
                                    "and the check records parse_timeout", PIPELINE, above=0, maximum=600)
    write_batch: int = _setting(200, "visits written to the inventory in one transaction", PIPELINE, minimum=1,
                                maximum=10000)
    write_queue: int = _setting(5000, "visits that may wait to be written (another writer holding the "
                                "inventory's lock) before the cycle pauses", PIPELINE, minimum=1)
    write_lock_pause: float = _setting(30.0, "seconds another writer may hold the inventory's lock before the "
                                       "cycle pauses; it resumes when the lock is released (no visit fails)",
                                       PIPELINE, minimum=0)

    db: str = _setting("db/inventory.sqlite", "the inventory (SQLite file)", PATHS)
    reports_dir: str = _setting("reports", "where `crawler report --format html` writes by default", PATHS)

    crawl_cron: str = _setting("*/10 * * * *", "when the service looks for due accounts and visits them "
                               "(crontab line, local time); each account's own schedule is in the Schedule group",
                               SERVICE, check=_cron_problem)
    crawl_jitter: int = _setting(60, "seconds of random delay added to each scheduled pass", SERVICE,
                                 minimum=0)
    maintenance_cron: str = _setting("30 4 * * 0", "when the service prunes and checkpoints (crontab line)",
                                     SERVICE, check=_cron_problem)
    misfire_grace: int = _setting(3600, "seconds a missed start (machine asleep, busy) may still run late",
                                  SERVICE, minimum=1)
    retention_days: int = _setting(400, "raw check rows older than this are pruned (one a day is kept)",
                                   SERVICE, minimum=1)
    health_max_age_hours: float = _setting(36.0, "without a service: `crawler status` reports stale when the "
                                           "last full cycle is older than this", SERVICE, above=0)
    snapshot_cron: str = _setting("50 23 * * *", "when the service takes the day's snapshot of the counts "
                                  "(crontab line; once per local day, also on the night DST ends)", SERVICE,
                                  check=_cron_problem)

    revisit_min_hours: float = _setting(12.0, "shortest time between two visits of an account, however often "
                                        "it posts", SCHEDULE, above=0)
    revisit_max_days: float = _setting(7.0, "longest time between two visits of an existing account (keeps "
                                       "the active/dormant figures within a week); also the cap of the backoff",
                                       SCHEDULE, above=0)
    revisit_dormant_days: float = _setting(14.0, "days between visits of a dormant account", SCHEDULE, above=0)
    revisit_gone_days: float = _setting(30.0, "days between visits of a gone account (it may come back)",
                                        SCHEDULE, above=0)
    backoff_base_hours: float = _setting(1.0, "wait after a visit that told nothing; doubles with each such "
                                         "visit in a row, up to revisit_max_days, and never stops", SCHEDULE,
                                         above=0)
    revisit_jitter: float = _setting(0.1, "random spread of each interval (0.1 = ±10 %), so that accounts "
                                     "first visited together drift apart", SCHEDULE, minimum=0, maximum=0.5)
    host_budget_share: float = _setting(0.8, "share of the requests a host's delay allows in a day that the "
                                        "schedule plans (10 s on instagram.com: 8,640 a day, 6,912 planned)",
                                        SCHEDULE, above=0, maximum=1)
    host_budgets: dict = _setting({}, "requests a day per host name, suffix-matched, instead of the share "
                                  "above, e.g. {\"www.instagram.com\": 5000}", SCHEDULE)

    alert_email: str = _setting("", "ops' e-mail addresses (comma-separated): health incidents and recoveries",
                                ALERTS, check=_addresses_problem)
    review_email: str = _setting("", "reviewers' e-mail addresses (comma-separated): new notices to review",
                                 ALERTS, check=_addresses_problem)
    alert_webhook: str = _setting("", "URL that receives every alert as a JSON POST (`text` for Slack, Teams, "
                                  "Mattermost; `event`, `audience`, `incident`); a URL with a secret in it goes "
                                  "in CRAWLER_WEBHOOK_URL instead", ALERTS, check=_url_problem)
    smtp_host: str = _setting("", "the SMTP server for alert e-mail", ALERTS)
    smtp_port: int = _setting(587, "its port", ALERTS, minimum=1, maximum=65535)
    smtp_security: str = _setting("starttls", "starttls, tls (port 465) or none", ALERTS,
                                  check=_security_problem)
    smtp_user: str = _setting("", "the SMTP login (its password: CRAWLER_SMTP_PASSWORD or secrets_file)", ALERTS)
    smtp_from: str = _setting("", "the sender address of alert e-mail", ALERTS, check=_addresses_problem)
    secrets_file: str = _setting("", "a file only the service user can read (mode 0600) with SMTP_PASSWORD=, "
                                 "WEBHOOK_URL=, WEBHOOK_TOKEN= lines, for what the environment does not give",
                                 ALERTS)
    alert_failing_share: float = _setting(0.5, "share of a pass's visits (of at least 20) failing with errors "
                                          "that is an incident (many accounts failing at once)", ALERTS,
                                          above=0, maximum=1)

    guideline_inactive_months: int = _setting(6, "the city's social-media guideline: an account with no post for "
                                              "more than this many months is to be closed (the report lists them)",
                                              REPORT, minimum=1, maximum=120)
    guideline_blog_months: int = _setting(1, "the guideline's rhythm for blogs: at least one post per this many "
                                          "months (the report counts the blogs that keep it)", REPORT, minimum=1,
                                          maximum=24)
    launch_date: str = _setting("2023-03-01", "the launch of Tempus Hemma (YYYY-MM-DD), marked in the report's "
                                "series and chart", REPORT, check=_date_problem)

    web_host: str = _setting("127.0.0.1", "address `crawler web` listens on (behind a reverse proxy, keep it local)",
                             WEB)
    web_port: int = _setting(8080, "port `crawler web` listens on", WEB, minimum=1, maximum=65535)
    web_session_hours: float = _setting(12.0, "a signed-in browser stays signed in this many hours after its last "
                                        "request", WEB, above=0, maximum=24 * 90)
    web_trusted_proxies: str = _setting("", "addresses of the reverse proxy (comma-separated IPs or networks) whose "
                                        "X-Forwarded-For/-Proto and SSO header are believed; empty: none",
                                        WEB, check=_proxies_problem)
    web_sso_header: str = _setting("", "header in which a trusted proxy names the signed-in user (such as "
                                   "X-Remote-User); empty: passwords only", WEB, check=_header_problem)
    web_metrics: str = _setting("localhost", "who may read /metrics: localhost, token (a bearer token from "
                                "CRAWLER_WEB_METRICS_TOKEN) or open", WEB, check=_metrics_problem)
    web_login_attempts: int = _setting(5, "failed logins for one user name within web_login_window_minutes before "
                                       "its logins are refused for a while", WEB, minimum=1)
    web_login_attempts_address: int = _setting(20, "failed logins from one address within the window before that "
                                               "address is refused for a while", WEB, minimum=1)
    web_login_window_minutes: float = _setting(15.0, "the login throttle's window", WEB, above=0)

    discovery: Discovery = _setting(Discovery(), "where `crawler discover` looks for accounts the registry lacks: "
                                    "`pages` (the municipality's pages about each preschool), `sitemaps` and "
                                    "`sitemap_filter`, `municipality` (an account naming another one is not "
                                    "proposed), `link_in_bio` hosts, `max_pages`, `min_score` (0.5)", DISCOVERY)

    meta: MetaSettings = _setting(MetaSettings(), "how Meta's Graph API is reached for Instagram and Facebook "
                                  "accounts (see below and docs/META.md); off until a token source is named", META)

    def __post_init__(self) -> None:
        clean, found = _validate({name: getattr(self, name) for name in FIELDS})
        if found:
            raise SettingsError(_listing([Problem("settings", None, names[0], message) for names, message in found]),
                                problems=[Problem("settings", None, names[0], m) for names, m in found])
        for name, value in clean.items():
            if value is not getattr(self, name):
                object.__setattr__(self, name, value)  # ints widened to floats, host names lower-cased

    @property
    def user_agent(self) -> str:
        return f"{self.user_agent_name}/{__version__} (+{self.contact}; public-account inventory)"

    @property
    def mobile_user_agent(self) -> str:
        """The User-Agent for platforms whose public pages tell more to a phone (Instagram: a
        profile's own <title>). It still names the crawler and its contact, as Googlebot's
        smartphone agent names Googlebot; robots.txt matches it by the same product token."""
        return ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                f"Mobile/15E148 (compatible; {self.user_agent})")

    def host_delay(self, host: str) -> float:
        """The minimum delay between two requests to `host`: host_delays (suffix-matched) wins,
        else the larger of per_host_delay and the politeness default of the platform owning the host."""
        host = host.lower()
        for name, delay in self.host_delays.items():
            if host == name or host.endswith("." + name):
                return float(delay)
        from crawler.platforms import host_delay  # the platform modules declare their own defaults

        default = host_delay(host)
        return max(self.per_host_delay, default) if default is not None else self.per_host_delay

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes`, validated like any other."""
        return dataclasses.replace(self, **changes)


FIELDS: dict[str, dataclasses.Field] = {f.name: f for f in dataclasses.fields(Settings)}


def _kind(name: str) -> type:
    f = FIELDS[name]
    return dict if f.default is dataclasses.MISSING else type(f.default)


def field_type(name: str) -> type:
    """The Python type a setting's value has (int, float, bool, str, dict, Discovery or MetaSettings)."""
    return _kind(name)


# --------------------------------------------------------------------------- validation (the one place)


def _text_problem(value: str) -> str | None:
    if not value.strip():
        return "must not be empty"
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in value):
        return "must not contain control or invisible formatting characters"
    if len(value) > 500:
        return "is too long (at most 500 characters)"
    return None


def _number(value: Any, whole: bool) -> tuple[Any, str | None]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value, f"must be {'a whole number' if whole else 'a number'}, not {value!r}"
    if whole and not isinstance(value, int):
        return value, f"must be a whole number, not {value!r}"
    if not whole:
        if not math.isfinite(value):
            return value, f"must be a finite number, not {value!r}"
        value = float(value)
    return value, None


def _host_delays(value: Any, what: str = "delay") -> tuple[Any, str | None]:
    if not isinstance(value, Mapping):
        unit = "seconds" if what == "delay" else what
        return value, f"must be a mapping of host name to {unit}, not {type(value).__name__}"
    out: dict[str, float] = {}
    for host, delay in value.items():
        if not isinstance(host, str) or not _HOST.match(host.strip().lower()):
            return value, f"entry {host!r}: must be a host name such as www.instagram.com (no scheme or path)"
        delay, problem = _number(delay, whole=False)
        if problem:
            return value, f"entry {host!r}: {what} {problem}"
        if delay < 0:
            return value, f"entry {host!r}: {what} must not be negative"
        out[host.strip().lower()] = delay
    return out, None


_DISCOVERY_KEYS = tuple(f.name for f in dataclasses.fields(Discovery))


def _url_list(key: str, value: Any) -> tuple[tuple[str, ...] | None, str | None]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        return None, f"{key}: must be a list of URLs"
    out = []
    for item in items:
        if not isinstance(item, str) or not re.match(r"https?://[^\s/]+", item.strip()) or len(item) > 2000:
            return None, f"{key}: {item!r} is not an http(s) URL"
        out.append(item.strip())
    return tuple(dict.fromkeys(out)), None


def _discovery(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, Discovery):
        value = value.as_dict()
    if value is None:
        return Discovery(), None
    if not isinstance(value, Mapping):
        return value, f"must be a mapping with {', '.join(_DISCOVERY_KEYS)}, not {type(value).__name__}"
    clean: dict[str, Any] = {}
    for key, item in value.items():
        if key not in _DISCOVERY_KEYS:
            close = difflib.get_close_matches(str(key), _DISCOVERY_KEYS, n=1, cutoff=0.6)
            return value, f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
        if key in ("pages", "sitemaps"):
            urls, problem = _url_list(key, item)
            if problem:
                return value, problem
            clean[key] = urls
        elif key == "link_in_bio":
            hosts = [item] if isinstance(item, str) else item
            if not isinstance(hosts, (list, tuple)) or not all(
                    isinstance(h, str) and _HOST.match(h.strip().lower().split(":")[0]) for h in hosts):
                return value, "link_in_bio: must be a list of host names (such as linktr.ee)"
            clean[key] = tuple(h.strip().lower() for h in hosts)
        elif key in ("sitemap_filter", "municipality"):
            if not isinstance(item, str) or any(unicodedata.category(c) in ("Cc", "Cf") for c in item):
                return value, f"{key}: must be plain text"
            clean[key] = item.strip()
        elif key == "max_pages":
            number, problem = _number(item, whole=True)
            if problem or number < 1:
                return value, f"max_pages: {problem or 'must be at least 1'}"
            clean[key] = number
        else:
            number, problem = _number(item, whole=False)
            if problem or not 0 <= number <= 1:
                return value, f"min_score: {problem or 'must be between 0 and 1'}"
            clean[key] = number
    return Discovery(**clean), None


def check_value(name: str, value: Any) -> tuple[Any, str | None]:
    """One setting's value as stored (ints widened to floats) and why it is refused, or None."""
    kind, meta = _kind(name), FIELDS[name].metadata
    if kind is Discovery:
        return _discovery(value)
    if kind is MetaSettings:
        return _meta_value(value)
    if kind is dict:
        return _host_delays(value, "requests a day" if name == "host_budgets" else "delay")
    if kind is bool:
        return value, None if isinstance(value, bool) else f"must be true or false, not {value!r}"
    if kind is str:
        if not isinstance(value, str):
            return value, f"must be text, not {value!r}"
        if value == "" and FIELDS[name].default == "":
            return value, None  # an optional text left empty (alerts not configured)
        problem = _text_problem(value) or (meta["check"](value) if meta["check"] else None)
        return value, problem
    value, problem = _number(value, whole=kind is int)
    if problem:
        return value, problem
    if meta["minimum"] is not None and value < meta["minimum"]:
        rule = "must not be negative" if meta["minimum"] == 0 else f"must be at least {_num(meta['minimum'])}"
        return value, f"{rule} (is {_num(value)})"
    if meta["above"] is not None and value <= meta["above"]:
        return value, f"must be more than {_num(meta['above'])} (is {_num(value)})"
    if meta["maximum"] is not None and value > meta["maximum"]:
        return value, f"must be at most {_num(meta['maximum'])} (is {_num(value)})"
    return value, None


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


@functools.lru_cache(maxsize=64)
def _cron_gaps(expr: str, zone: str) -> tuple[timedelta, timedelta] | None:
    from crawler.cron import gaps

    return gaps(expr, local_zone(zone))


def _cross_problems(v: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    """The rules between settings (CROSS_RULES), as (settings involved, message)."""
    found: list[tuple[tuple[str, ...], str]] = []
    if v["revisit_min_hours"] > v["revisit_max_days"] * 24:
        found.append((("revisit_min_hours", "revisit_max_days"),
                      f"revisit_min_hours ({_num(v['revisit_min_hours'])}) is longer than revisit_max_days "
                      f"({_num(v['revisit_max_days'])} days)"))
    if (v["alert_email"] or v["review_email"]) and not (v["smtp_host"] and v["smtp_from"]):
        found.append((("smtp_host", "alert_email", "review_email"),
                      "alert e-mail needs smtp_host and smtp_from (the server and the sender address)"))
    between = _cron_gaps(v["crawl_cron"], v["timezone"])
    if between is not None:
        shortest, longest = between
        jitter = timedelta(seconds=v["crawl_jitter"])
        if jitter >= shortest:
            found.append((("crawl_jitter", "crawl_cron"),
                          f"crawl_jitter ({v['crawl_jitter']} s) is not shorter than the shortest wait between "
                          f"two runs of crawl_cron ({_span(shortest)}): a delayed start would swallow the "
                          "next one"))
        if longest + jitter > timedelta(hours=v["health_max_age_hours"]):
            found.append((("health_max_age_hours", "crawl_cron", "crawl_jitter"),
                          f"health_max_age_hours ({_num(v['health_max_age_hours'])}) is shorter than the longest "
                          f"wait between two runs of crawl_cron plus crawl_jitter ({_span(longest + jitter)}): "
                          "`crawler status` would report stale between healthy cycles"))
    return found


def _span(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.4g} h"


def _validate(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[tuple[str, ...], str]]]:
    """Every field's value as stored, and every problem as (settings involved, message)."""
    clean: dict[str, Any] = {}
    found: list[tuple[tuple[str, ...], str]] = []
    for name in FIELDS:
        value, problem = check_value(name, values[name])
        clean[name] = value
        if problem:
            found.append(((name,), problem))
    if not found:
        found = _cross_problems(clean)
    return clean, found


def _listing(problems: list[Problem]) -> str:
    count = len(problems)
    head = "invalid setting" if count == 1 else f"{count} invalid settings"
    return f"{head}:\n" + "\n".join(str(p) for p in problems)


# --------------------------------------------------------------------------- sources: file and environment


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def env_name(name: str) -> str:
    return f"{ENV_PREFIX}{name.upper()}"


def _from_env(name: str, raw: str) -> tuple[Any, str | None]:
    kind = _kind(name)
    text = raw.strip()
    if kind is bool:
        if text.lower() in _TRUE:
            return True, None
        if text.lower() in _FALSE:
            return False, None
        return raw, f"must be true or false (1/0, yes/no, on/off), not {raw!r}"
    if kind in (int, float):
        try:
            return (int(text) if kind is int else float(text)), None
        except ValueError:
            return raw, f"must be {'a whole number' if kind is int else 'a number'}, not {raw!r}"
    if kind is Discovery:
        try:
            return json.loads(text), None
        except ValueError:
            return raw, 'must be a JSON object, e.g. {"pages": ["https://malmo.se/forskola/solrosen"]}'
    if kind is dict:
        try:
            return json.loads(text), None
        except ValueError:
            return raw, 'must be a JSON object of host name to seconds, e.g. {"www.instagram.com": 10}'
    if kind is MetaSettings:
        try:
            return json.loads(text), None
        except ValueError:
            return raw, 'must be a JSON object, e.g. {"token_env": "CRAWLER_META_TOKEN", "instagram_user_id": "1784..."}'
    return raw, None


def suggest(name: str) -> str:
    """' (did you mean 'x'?)' for a misspelt setting name, else ''."""
    close = difflib.get_close_matches(name, list(FIELDS), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def build(values: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None, *,
          file: str = "sources.yaml", lines: Mapping[str, int] | None = None) -> Settings:
    """The effective settings: defaults, then `values` (as YAML typed them, from `file`, each at
    `lines[name]`), then CRAWLER_<NAME> variables of `environ` (os.environ when None).

    Raises SettingsError whose `problems` name the file and line, or the variable, of every problem.
    """
    import os

    env = os.environ if environ is None else environ
    lines = lines or {}
    merged = {name: getattr(_DEFAULTS, name) for name in FIELDS}
    where: dict[str, str] = {}
    problems: list[Problem] = []

    def problem(name: str, message: str) -> Problem:
        if where.get(name) == "env":
            return Problem("environment", None, env_name(name), message)
        return Problem(file, lines.get(name), f"settings.{name}", message)

    for name, value in (values or {}).items():
        if name not in FIELDS:
            problems.append(Problem(file, lines.get(name), f"settings.{name}", f"unknown setting{suggest(name)}"))
            continue
        merged[name], where[name] = value, "file"
    unreadable = set()
    for name in FIELDS:
        raw = env.get(env_name(name))
        if raw is None:
            continue
        merged[name], bad = _from_env(name, raw)
        where[name] = "env"
        if bad:
            problems.append(problem(name, bad))
            unreadable.add(name)
    found = [((n,), bad) for n in FIELDS if n not in unreadable and (bad := check_value(n, merged[n])[1])]
    if not found and not unreadable:
        found = _validate(merged)[1]  # the rules between settings
    for names, message in found:
        # Name where the value came from: the environment wins over the file; a default is not named.
        origin = next((n for n in names if where.get(n) == "env"), None) or next(
            (n for n in names if n in where), names[0])
        problems.append(problem(origin, message))
    if problems:
        raise SettingsError(_listing(problems), problems=problems)
    return Settings(**merged)


_DEFAULTS = Settings()


# --------------------------------------------------------------------------- the contact rule


def contact_problem(settings: Settings) -> str | None:
    """Why the contact is unfit for crawling real sites, or None when it is fine (the one rule)."""
    contact = settings.contact.strip()
    if contact == PLACEHOLDER_CONTACT or "example.org" in contact or "CHANGE-ME" in contact:
        return (
            f"the contact in settings is still the placeholder ({settings.contact!r}).\n\n"
            "Set `settings: contact:` in sources.yaml to an e-mail address or URL where site owners "
            "can reach you (or CRAWLER_CONTACT in the environment)."
        )
    if "@" not in contact and not contact.startswith(("http://", "https://")):
        return f"the contact {contact!r} is neither an e-mail address nor an http(s) URL"
    return None


def require_contact(settings: Settings) -> None:
    """Raise SettingsError unless the contact is fit for crawling real sites."""
    problem = contact_problem(settings)
    if problem:
        raise SettingsError(f"refusing to crawl: {problem}")


# --------------------------------------------------------------------------- the reference


def _allowed(name: str) -> str:
    kind, meta = _kind(name), FIELDS[name].metadata
    if kind is bool:
        return "true or false"
    if kind is Discovery:
        return "mapping (see below)"
    if kind is dict:
        return "host name: requests a day (≥ 0)" if name == "host_budgets" else "host name: seconds (≥ 0)"
    if kind is MetaSettings:
        return "mapping (see below)"
    if kind is str:
        check = meta["check"]
        return {_cron_problem: "crontab line (5 fields)", _zone_problem: "IANA time zone name",
                _token_problem: "one word (HTTP token)", _addresses_problem: "e-mail addresses",
                _url_problem: "http(s) URL", _security_problem: "starttls, tls, none",
                _proxies_problem: "IP addresses or networks, comma-separated", _header_problem: "HTTP header name",
                _metrics_problem: "localhost, token or open"}.get(check, "text")
    bounds = []
    if meta["minimum"] is not None:
        bounds.append(f"≥ {_num(meta['minimum'])}")
    if meta["above"] is not None:
        bounds.append(f"> {_num(meta['above'])}")
    if meta["maximum"] is not None:
        bounds.append(f"≤ {_num(meta['maximum'])}")
    word = "whole number" if kind is int else "number"
    return f"{word} {', '.join(bounds)}".strip()


def _default_text(name: str) -> str:
    value = getattr(_DEFAULTS, name)
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, Discovery):
        return "none (only the registry's own pages)"
    if isinstance(value, dict):
        return "none" if not value else f"`{json.dumps(value)}`"
    if isinstance(value, MetaSettings):
        return "off"
    if isinstance(value, float):
        return f"`{_num(value)}`"
    if value == "":
        return "none"
    return f"`{value}`"


CROSS_RULES = (
    "`revisit_min_hours` is at most `revisit_max_days` (in hours).",
    "`alert_email` or `review_email` needs `smtp_host` and `smtp_from`.",
    "`crawl_jitter` is shorter than the shortest wait between two runs of `crawl_cron` (a delayed start "
    "must not swallow the next one).",
    "`health_max_age_hours` is at least the longest wait between two runs of `crawl_cron` plus `crawl_jitter` "
    "(otherwise `crawler status` would report stale between healthy cycles).",
)


def reference() -> str:
    """The settings reference (docs/SETTINGS.md), generated from the declarations."""
    out = [
        "# Settings reference",
        "",
        "<!-- Generated from crawler/settings.py by `make docs` (python -m crawler.settings > docs/SETTINGS.md);",
        "     tests/test_settings.py fails when this file is out of date. Do not edit by hand. -->",
        "",
        "Every setting has a default. Set it in the `settings:` section of `sources.yaml`, or in the",
        "environment as `CRAWLER_<NAME>`, which wins over the file (for the service: `Environment=` lines",
        "in the systemd unit). Durations are seconds unless the name says otherwise.",
        "",
        "```yaml",
        "settings:",
        "  contact: it-support@example.se",
        "  active_days: 90",
        "  host_delays:",
        "    www.instagram.com: 10",
        "```",
        "",
        "Every value is checked when it is read, by `crawler sources check` and by every command, and",
        "each problem names its place: `sources.yaml:4: settings.retries: must be at least 1 (is 0)`",
        "or `environment: CRAWLER_RETRIES: must be a whole number, not 'three'`. In the environment,",
        "true/false may be written 1/0, yes/no or on/off, and `host_delays` as a JSON object.",
    ]
    groups: dict[str, list[str]] = {}
    for name, f in FIELDS.items():
        groups.setdefault(f.metadata["group"], []).append(name)
    for group, names in groups.items():
        out += ["", f"## {group}", "", "| setting | default | allowed | what it does |", "|---|---|---|---|"]
        for name in names:
            doc = FIELDS[name].metadata["doc"].replace("|", "\\|")
            out.append(f"| `{name}` (`{env_name(name)}`) | {_default_text(name)} | {_allowed(name)} | {doc} |")
    out += ["", "### The discovery section", "", "```yaml", "settings:", "  discovery:",
            "    municipality: Malmö                 # an account that names another municipality is not proposed",
            "    pages:                              # the municipality's own pages about each preschool",
            "      - https://malmo.se/forskolor/solrosen/",
            "    sitemaps: [https://malmo.se/sitemap.xml]",
            "    sitemap_filter: /forskola           # only sitemap URLs containing this",
            "    link_in_bio: [bio.example.se]       # more link-in-bio hosts, besides linktr.ee and the like",
            "    max_pages: 2000                     # most seed pages read in one run",
            "    min_score: 0.5                      # candidates below this are kept, not proposed",
            "```", "", "In the environment: `CRAWLER_DISCOVERY` as a JSON object of the same keys."]
    out += ["", "### `meta:`", "", "The API route for Instagram and Facebook accounts (docs/META.md). It is off until "
            "`token_env` or `token_file` names where the token is; the token itself is refused in sources.yaml. "
            "In the environment: `CRAWLER_META` as a JSON object.", "",
            "```yaml", "settings:", "  meta:", "    instagram_user_id: \"17841400000000000\"",
            "    token_file: /etc/crawler/meta-token      # mode 0600, owned by the crawler's user", "```", "",
            "| key | default | what it does |", "|---|---|---|"]
    for key, doc in META_DOCS.items():
        default = getattr(MetaSettings(), key)
        shown = "none" if default is None else f"`{_num(default) if isinstance(default, float) else default}`"
        out.append(f"| `{key}` | {shown} | {doc} |")
    out += ["", "## Rules between settings", ""] + [f"- {rule}" for rule in CROSS_RULES]
    out += ["", "The contact is also checked before any request to a real site: the placeholder "
            f"(`{PLACEHOLDER_CONTACT}`) or a contact that is neither an e-mail address nor an http(s) URL "
            "is refused by `crawler crawl`, `crawler serve` and `crawler inspect URL`, and `crawler sources "
            "check` warns about it.", ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(reference(), end="")
