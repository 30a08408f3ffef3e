"""crawler/settings.py: one typed settings object that refuses bad values on every path."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from crawler import settings as S
from crawler import sources
from crawler.errors import RegistryError, SettingsError
from crawler.settings import Settings, build

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("changes", "expected"), [
    ({"concurrency": -1}, "concurrency: must be at least 1 (is -1)"),
    ({"retries": 0}, "retries: must be at least 1 (is 0)"),
    ({"active_days": 0}, "active_days: must be at least 1"),
    ({"per_host_delay": -0.5}, "per_host_delay: must not be negative (is -0.5)"),
    ({"notice_threshold": 1.5}, "notice_threshold: must be at most 1 (is 1.5)"),
    ({"deadline": 0}, "deadline: must be more than 0"),
    ({"robots_cache_hours": 48}, "robots_cache_hours: must be at most 24"),
    ({"concurrency": True}, "concurrency: must be a whole number, not True"),
    ({"gone_after": 2.5}, "gone_after: must be a whole number, not 2.5"),
    ({"deadline": math.nan}, "deadline: must be a finite number"),
    ({"respect_robots": "yes"}, "respect_robots: must be true or false"),
    ({"db": ""}, "db: must not be empty"),
    ({"contact": "ops@x.se\r\nX-Evil: 1"}, "contact: must not contain control"),
    ({"user_agent_name": "my crawler"}, "user_agent_name: 'my crawler' must be one word"),
    ({"crawl_cron": "every night"}, "crawl_cron: 'every night' is not a crontab line"),
    ({"maintenance_cron": "0 0 31 2 *"}, "maintenance_cron: '0 0 31 2 *' never runs"),
    ({"timezone": "Europe/Malmo"}, "timezone: 'Europe/Malmo' is not a time zone name"),
    ({"host_delays": {"https://www.instagram.com/": 5}}, "host_delays: entry 'https://www.instagram.com/': must be a host"),
    ({"host_delays": {"instagram.com": -1}}, "host_delays: entry 'instagram.com': delay must not be negative"),
    ({"host_delays": ["instagram.com"]}, "host_delays: must be a mapping"),
    # rules between settings
    ({"crawl_cron": "*/10 * * * *", "crawl_jitter": 1800}, "crawl_jitter (1800 s) is not shorter than the shortest wait between two runs of "
                                     "crawl_cron (10 min)"),
    ({"crawl_cron": "0 2 * * 1", "crawl_jitter": 1800}, "health_max_age_hours (36) is shorter than the longest wait between two runs of "
                                  "crawl_cron plus crawl_jitter (169.5 h)"),  # a week, an hour more when DST ends
])
def test_bad_values_are_refused_on_construction(changes, expected):
    with pytest.raises(SettingsError) as info:
        Settings(**changes)
    assert expected in str(info.value)
    assert info.value.problems and all(p.field in S.FIELDS for p in info.value.problems)


def test_replace_and_dataclasses_replace_validate_too():
    with pytest.raises(SettingsError, match="concurrency: must be at least 1"):
        Settings().replace(concurrency=0)
    with pytest.raises(SettingsError, match="retries"):
        dataclasses.replace(Settings(), retries=-3)
    assert Settings().replace(crawl_cron="0 2 * * 1", health_max_age_hours=200).crawl_cron == "0 2 * * 1"


def test_values_are_stored_in_their_type():
    s = Settings(per_host_delay=2, host_delays={"WWW.Instagram.com": 10}, timezone="UTC")
    assert s.per_host_delay == 2.0 and isinstance(s.per_host_delay, float)
    assert s.host_delays == {"www.instagram.com": 10.0}
    assert s.host_delay("www.instagram.com") == 10.0


def test_defaults_pass_every_rule_and_the_time_zone_is_stockholm():
    s = Settings()
    assert s.timezone == "Europe/Stockholm"
    assert S._validate({n: getattr(s, n) for n in S.FIELDS})[1] == []


def test_every_setting_has_a_doc_and_a_section():
    for name, f in S.FIELDS.items():
        assert f.metadata["doc"].strip() and f.metadata["group"], name


def test_file_values_then_environment_with_every_problem_named_where_it_is():
    values = {"retries": 0, "concurrency": "many", "active_dayz": 3, "per_host_delay": 2}
    lines = {"retries": 4, "concurrency": 5, "active_dayz": 6, "per_host_delay": 7}
    with pytest.raises(SettingsError) as info:
        build(values, {"CRAWLER_GONE_AFTER": "two", "CRAWLER_RESPECT_ROBOTS": "maybe"}, file="reg.yaml", lines=lines)
    found = sorted(str(p) for p in info.value.problems)
    assert found == sorted([
        "reg.yaml:4: settings.retries: must be at least 1 (is 0)",
        "reg.yaml:5: settings.concurrency: must be a whole number, not 'many'",
        "reg.yaml:6: settings.active_dayz: unknown setting (did you mean 'active_days'?)",
        "environment: CRAWLER_GONE_AFTER: must be a whole number, not 'two'",
        "environment: CRAWLER_RESPECT_ROBOTS: must be true or false (1/0, yes/no, on/off), not 'maybe'",
    ])


def test_the_environment_wins_and_takes_the_blame_for_a_rule_between_settings():
    env = {"CRAWLER_ACTIVE_DAYS": "120", "CRAWLER_RESPECT_ROBOTS": "off", "CRAWLER_PER_HOST_DELAY": "0.5",
           "CRAWLER_HOST_DELAYS": '{"www.instagram.com": 10}'}
    s = build({"active_days": 60, "contact": "ops@kommun.se"}, env)
    assert (s.active_days, s.respect_robots, s.per_host_delay, s.contact) == (120, False, 0.5, "ops@kommun.se")
    assert s.host_delays == {"www.instagram.com": 10.0}
    with pytest.raises(SettingsError) as info:
        build({"crawl_cron": "0 2 * * 1"}, {"CRAWLER_HEALTH_MAX_AGE_HOURS": "48"}, lines={"crawl_cron": 3})
    (problem,) = info.value.problems
    assert str(problem).startswith("environment: CRAWLER_HEALTH_MAX_AGE_HOURS: health_max_age_hours (48) is shorter")
    with pytest.raises(SettingsError) as info:
        build({"crawl_cron": "0 2 * * 1"}, {}, file="reg.yaml", lines={"crawl_cron": 3})
    assert str(info.value.problems[0]).startswith("reg.yaml:3: settings.crawl_cron: health_max_age_hours (36)")


def test_settings_problems_come_with_the_registry_problems_at_once(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text(
        "settings:\n"
        "  contact: ops@kommun.se\n"
        "  concurrency: -1\n"
        "  timezone: Stockholm\n"
        "accounts:\n"
        "  - id: a\n"
        "    unit: U\n"
        "    area: A\n"
        "    platform: tiktok\n"
        "    url: https://a.example.se/\n", encoding="utf-8")
    with pytest.raises(RegistryError) as info:
        sources.load(path, environ={"CRAWLER_RETRIES": "0"})
    found = [str(p).replace(str(path), "sources.yaml") for p in info.value.problems]
    assert "sources.yaml:3: settings.concurrency: must be at least 1 (is -1)" in found
    assert "sources.yaml:4: settings.timezone: 'Stockholm' is not a time zone name (write one like Europe/Stockholm)" in found
    assert "environment: CRAWLER_RETRIES: must be at least 1 (is 0)" in found
    assert any(":9: platform:" in p for p in found) and len(found) == 4


def test_the_contact_rule():
    assert "placeholder" in S.contact_problem(Settings())
    assert "neither an e-mail address" in S.contact_problem(Settings(contact="Anna"))
    assert S.contact_problem(Settings(contact="it-support@malmo.se")) is None
    assert S.contact_problem(Settings(contact="https://malmo.se/crawler")) is None
    with pytest.raises(SettingsError, match="refusing to crawl: the contact in settings is still the placeholder"):
        S.require_contact(Settings())


def test_the_settings_reference_in_the_docs_is_generated_from_the_object():
    text = (ROOT / "docs" / "SETTINGS.md").read_text(encoding="utf-8")
    assert text == S.reference(), "docs/SETTINGS.md is out of date: run `python -m crawler.settings > docs/SETTINGS.md`"
    for name in S.FIELDS:
        assert f"| `{name}` (`CRAWLER_{name.upper()}`) |" in text


def test_settings_for_a_reader_without_a_registry_or_with_a_broken_one(tmp_path):
    missing = tmp_path / "none.yaml"
    settings, registry, problem = sources.settings_for(missing, environ={"CRAWLER_DB": "/tmp/x.sqlite"})
    assert (settings.db, registry, problem) == ("/tmp/x.sqlite", None, None)
    good = tmp_path / "good.yaml"
    good.write_text("settings:\n  reports_dir: out\naccounts: []\n", encoding="utf-8")
    settings, registry, problem = sources.settings_for(good, environ={})
    assert settings.reports_dir == "out" and registry is not None and problem is None
    broken = tmp_path / "broken.yaml"
    broken.write_text("settings:\n  reports_dir: out\naccounts: {}\n", encoding="utf-8")
    settings, registry, problem = sources.settings_for(broken, environ={})
    assert settings == Settings() and registry is None and isinstance(problem, RegistryError)
    with pytest.raises(SettingsError, match="CRAWLER_RETRIES"):
        sources.settings_for(missing, environ={"CRAWLER_RETRIES": "0"})
