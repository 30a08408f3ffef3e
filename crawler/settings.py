"""Settings: thresholds, politeness, user agent, paths and schedule, with their defaults.

Precedence (lowest first): the defaults below, the `settings:` section of sources.yaml, then
environment variables named CRAWLER_<FIELD> (for instance CRAWLER_DB=/var/lib/crawler/inv.sqlite,
CRAWLER_ACTIVE_DAYS=120). `host_delays` is only settable in sources.yaml.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crawler import __version__

# The contact shipped in sources.yaml; crawling real sites with it is refused (see check_contact).
PLACEHOLDER_CONTACT = "CHANGE-ME@example.org"


@dataclass(frozen=True)
class Settings:
    """Every knob of the crawler in one place. Durations are seconds unless named otherwise."""

    # Identity. The User-Agent carries the contact so that a site owner can reach a person.
    contact: str = PLACEHOLDER_CONTACT
    user_agent_name: str = "crawler"

    # Classification.
    active_days: int = 90  # newest post within this many days of the check: active
    gone_after: int = 2  # consecutive "not there" visits before an account is gone...
    gone_min_hours: float = 24.0  # ...spanning at least this many hours
    unknown_after: int = 3  # consecutive visits that tell nothing before status becomes unknown
    future_skew_hours: float = 36.0  # post dates further in the future than this are ignored
    notice_threshold: float = 0.6  # detector score from which a text is flagged for review

    # Politeness.
    concurrency: int = 16  # requests in flight over all hosts
    per_host_concurrency: int = 1
    per_host_delay: float = 1.0  # minimum spacing between request starts on one host
    host_delays: Mapping[str, float] = field(default_factory=dict)  # e.g. {"www.instagram.com": 5}
    respect_robots: bool = True
    robots_cache_hours: float = 24.0

    # Bounds of one request.
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    deadline: float = 60.0  # total time for one URL, retries excluded
    max_body_bytes: int = 5 * 1024 * 1024  # after decompression
    max_redirects: int = 5
    retries: int = 3  # attempts in all for transient failures
    retry_after_cap: float = 120.0  # a longer Retry-After defers the URL to the next cycle
    allow_private_addresses: bool = False  # on only for the demo and tests (loopback servers)

    # Paths.
    db: str = "db/inventory.sqlite"
    reports_dir: str = "reports"

    # Service.
    crawl_cron: str = "0 2 * * *"  # daily at 02:00 local time
    crawl_jitter: int = 1800  # seconds of random delay added to each scheduled start
    maintenance_cron: str = "30 4 * * 0"  # weekly, Sunday 04:30
    misfire_grace: int = 3600
    retention_days: int = 400  # raw check rows older than this are pruned (daily history kept)
    health_max_age_hours: float = 36.0  # `crawler status` fails when the last good cycle is older

    @property
    def user_agent(self) -> str:
        return f"{self.user_agent_name}/{__version__} (+{self.contact}; public-account inventory)"

    def host_delay(self, host: str) -> float:
        """The minimum delay between two requests to `host`: host_delays (suffix-matched) wins,
        else the larger of per_host_delay and the politeness default of the platform owning the host."""
        host = host.lower()
        for name, delay in self.host_delays.items():
            name = name.lower()
            if host == name or host.endswith("." + name):
                return float(delay)
        from crawler.platforms import host_delay  # the platform modules declare their own defaults

        default = host_delay(host)
        return max(self.per_host_delay, default) if default is not None else self.per_host_delay

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def field_type(name: str) -> type:
    """The Python type a setting's value must have (int, float, bool, str or dict)."""
    default = FIELDS[name].default
    if default is dataclasses.MISSING:
        return dict
    return type(default)


def coerce(name: str, value: Any) -> Any:
    """Check (and for floats widen) one setting value; raise ValueError with a readable message."""
    expected = field_type(name)
    if expected is dict:
        if not isinstance(value, Mapping):
            raise ValueError(f"must be a mapping of host to seconds, not {type(value).__name__}")
        out = {}
        for host, delay in value.items():
            if not isinstance(host, str) or isinstance(delay, bool) or not isinstance(delay, (int, float)):
                raise ValueError(f"entry {host!r}: must map a host name to a number of seconds")
            if delay < 0:
                raise ValueError(f"entry {host!r}: delay must not be negative")
            out[host] = float(delay)
        return out
    if expected is bool:
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false, not {value!r}")
        return value
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"must be a number, not {value!r}")
        if value < 0:
            raise ValueError("must not be negative")
        return float(value)
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be a whole number, not {value!r}")
        if value < 0:
            raise ValueError("must not be negative")
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty string, not {value!r}")
    return value


def _from_env(name: str, raw: str) -> Any:
    expected = field_type(name)
    if expected is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"CRAWLER_{name.upper()}: expected true or false, not {raw!r}")
    if expected in (int, float):
        try:
            return coerce(name, expected(raw))
        except ValueError as exc:
            raise ValueError(f"CRAWLER_{name.upper()}: {exc}") from None
    if expected is dict:
        raise ValueError(f"CRAWLER_{name.upper()}: set this one in sources.yaml")
    return raw


def build(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from already-validated `overrides` (sources.yaml) and then the environment."""
    values: dict[str, Any] = dict(overrides or {})
    env = os.environ if environ is None else environ
    for name in FIELDS:
        raw = env.get(f"CRAWLER_{name.upper()}")
        if raw is not None:
            values[name] = _from_env(name, raw)
    return Settings(**values)


def contact_problem(settings: Settings) -> str | None:
    """Why the contact is unfit for crawling real sites, or None when it is fine."""
    contact = settings.contact.strip()
    if not contact or contact == PLACEHOLDER_CONTACT or "example.org" in contact or "CHANGE-ME" in contact:
        return (
            f"the contact in settings is still the placeholder ({settings.contact!r}).\n\n"
            "Set `settings: contact:` in sources.yaml to an e-mail address or URL where site owners "
            "can reach you (or CRAWLER_CONTACT in the environment)."
        )
    if "@" not in contact and not contact.startswith(("http://", "https://")):
        return f"the contact {contact!r} is neither an e-mail address nor an http(s) URL"
    return None
