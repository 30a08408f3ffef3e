"""The demo's world kept alive for the web app's browser tests: its simulated web on loopback, a
registry of it, an inventory crawled by the real crawler, more cycles on demand (in a background
thread while people use the web app), and `crawler web` itself served by a real uvicorn."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import uvicorn

from crawler import crawl, discover, sources
from crawler import settings as settings_mod
from crawler.demo import municipality
from crawler.demo.server import DemoWeb
from crawler.demo.world import World, cycle_time, demo_settings
from crawler.fetch import Fetcher
from crawler.parse_pool import ParsePool
from crawler.store import Store


class LiveDemo:
    """`with LiveDemo(folder) as demo: demo.crawl(range(0, 20))` (blocking) or `demo.crawl_in_background(...)`."""

    def __init__(self, out: Path, accounts: int = 40, seed: int = 2):
        self.out = Path(out)
        self.world = World(accounts, seed=seed, rules=settings_mod.build(demo_settings()))
        self.db = self.out / "inventory.sqlite"
        self.sources = self.out / "sources.yaml"
        self.web: DemoWeb | None = None
        self.registry: sources.Registry | None = None
        self.cycles_done: list[int] = []

    def __enter__(self) -> LiveDemo:
        self.out.mkdir(parents=True, exist_ok=True)
        self.web = DemoWeb(self.world, cycle_time(0), slow_seconds=0.0).__enter__()
        bases = {h: self.web.base_url(h) for h in self.web.hosts}
        where = municipality.of(self.world).discovery_settings(bases)  # for `crawler discover`
        self.sources.write_text(self.world.sources_yaml(self.web, {**demo_settings(), "discovery": where}),
                                encoding="utf-8")
        self.registry = sources.load(self.sources)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.web is not None:
            self.web.__exit__(*exc)

    def crawl(self, cycles: range) -> None:
        asyncio.run(self._crawl(cycles))

    async def _crawl(self, cycles: range) -> None:
        settings = self.registry.settings
        with Store.open(self.db) as store:
            async with ParsePool(settings) as pool:
                for k in cycles:
                    at = cycle_time(k)
                    self.web.set_clock(at)
                    wall = time.monotonic()

                    def clock(at: datetime = at, wall: float = wall) -> datetime:
                        return at + timedelta(seconds=time.monotonic() - wall)

                    async with Fetcher(settings, backoff_base=0.05) as fetcher:
                        await crawl.run_cycle(store, self.registry.accounts, settings, clock=clock, trigger="demo",
                                              fetcher=fetcher, pool=pool)
                    self.cycles_done.append(k)

    def discover(self, at: datetime) -> discover.RunReport:
        """`crawler discover` on the demo web as it is at `at` (candidates for the web app's page)."""
        self.web.set_clock(at)

        async def run() -> discover.RunReport:
            with Store.open(self.db) as store:
                async with Fetcher(self.registry.settings, backoff_base=0.05) as fetcher:
                    return await discover.run(self.registry, store, fetcher.fetch, at)

        return asyncio.run(run())

    def crawl_in_background(self, cycles: range) -> threading.Thread:
        errors: list[BaseException] = []

        def run() -> None:
            try:
                self.crawl(cycles)
            except BaseException as exc:  # the test joins and re-raises
                errors.append(exc)

        thread = threading.Thread(target=run, name="background-crawl", daemon=True)
        thread.errors = errors
        thread.start()
        return thread


class Served:
    """An ASGI app served by uvicorn on 127.0.0.1 (a free port) in a thread, until the block ends."""

    def __init__(self, app):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, name="crawler-web", daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("crawler web did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(20)
