"""The simulated web used by `crawler demo`, the benchmarks and the end-to-end tests.

world   a deterministic, pure model of N preschool accounts and how they evolve over time
pages   renders what each platform would serve for an account at a moment (HTML, RSS, Atom, JSON)
server  an asyncio HTTP/1.1 server on loopback hosts that serves the world at a settable clock
runner  the weekly crawl cycles of `crawler demo` against that server, and the --check comparison
"""

from crawler.demo.world import BoardTruth, DemoAccount, Truth, World, cycle_time

__all__ = ["BoardTruth", "DemoAccount", "Truth", "World", "cycle_time"]
