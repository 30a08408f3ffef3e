"""/metrics: the inventory's figures in the Prometheus text format (prometheus-client), read from the
store at each scrape (a collector, not counters kept in this process: the crawl runs elsewhere).

    crawler_cycles_total{state}                  crawl cycles (runs) by how they ended
    crawler_last_cycle_duration_seconds          wall time of the last cycle that ended
    crawler_last_cycle_accounts / _errors / _requests
    crawler_fetch_outcomes{outcome}              checks of the last cycle that ended, by outcome
    crawler_accounts{status,route,platform}      registered accounts now
    crawler_pending_reviews                      notices awaiting a reviewer
    crawler_oldest_pending_review_age_seconds
    crawler_last_good_cycle_age_seconds          since the last full cycle finished (absent: never)
    crawler_health{state}                        1 for the state `crawler status` gives, 0 for the others
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from crawler.errors import CrawlerError
from crawler.store import Store

CONTENT_TYPE = CONTENT_TYPE_LATEST
HEALTH_STATES = ("ok", "stale", "degraded")


class InventoryCollector:
    """Reads the store at each collect()."""

    def __init__(self, config) -> None:
        self.config = config

    def collect(self):
        from crawler.web.views.ops import health  # the one health rule, shared with `crawler status`

        config = self.config
        now = config.clock()
        state, _report = health(config)
        h = GaugeMetricFamily("crawler_health", "1 for the health state crawler status reports", labels=["state"])
        for name in HEALTH_STATES:
            h.add_metric([name], 1.0 if state["state"] == name else 0.0)
        yield h
        try:
            with Store.open(config.db_path, readonly=True) as store:
                runs = store.runs_by_state()
                recent = store.recent_runs(20)
                good = store.last_full_cycle()
                accounts = store.route_counts()
                pending = store.pending_summary()
                ended = next((r for r in recent if r.state != "running"), None)
                outcomes = store.outcomes_in_run(ended.id) if ended else {}
        except CrawlerError:
            return  # an unreadable inventory: crawler_health says degraded
        c = CounterMetricFamily("crawler_cycles", "crawl cycles by the state they ended in", labels=["state"])
        for name in ("running", "finished", "interrupted", "failed"):
            c.add_metric([name], float(runs.get(name, 0)))
        yield c
        if ended is not None:
            if ended.finished_at is not None:
                yield GaugeMetricFamily("crawler_last_cycle_duration_seconds", "wall time of the last cycle that "
                                        "ended", value=(ended.finished_at - ended.started_at).total_seconds())
            yield GaugeMetricFamily("crawler_last_cycle_accounts", "accounts visited by the last cycle that ended",
                                    value=ended.accounts_done)
            yield GaugeMetricFamily("crawler_last_cycle_errors", "errors in the last cycle that ended",
                                    value=ended.errors)
            yield GaugeMetricFamily("crawler_last_cycle_requests", "HTTP requests of the last cycle that ended",
                                    value=ended.requests)
        o = GaugeMetricFamily("crawler_fetch_outcomes", "checks of the last cycle that ended, by outcome",
                              labels=["outcome"])
        for outcome, n in sorted(outcomes.items()):
            o.add_metric([outcome], float(n))
        yield o
        a = GaugeMetricFamily("crawler_accounts", "registered accounts by status, route of the last visit "
                              "(api, public, unchecked) and platform", labels=["status", "route", "platform"])
        totals: dict[tuple[str, str, str], int] = {}
        for c in accounts:  # by route note too in the store; summed over notes here
            totals[(c.status, c.route, c.platform)] = totals.get((c.status, c.route, c.platform), 0) + c.count
        for (status, route, platform), n in sorted(totals.items()):
            a.add_metric([status, route, platform], float(n))
        yield a
        yield GaugeMetricFamily("crawler_pending_reviews", "notices awaiting a reviewer", value=pending.count)
        if pending.oldest is not None:
            yield GaugeMetricFamily("crawler_oldest_pending_review_age_seconds", "age of the oldest pending notice",
                                    value=max(0.0, (now - pending.oldest).total_seconds()))
        if good is not None and good.finished_at is not None:
            yield GaugeMetricFamily("crawler_last_good_cycle_age_seconds", "seconds since the last full cycle "
                                    "finished", value=max(0.0, (now - good.finished_at).total_seconds()))


def exposition(config) -> bytes:
    """The text a scrape gets."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(InventoryCollector(config))
    return generate_latest(registry)
