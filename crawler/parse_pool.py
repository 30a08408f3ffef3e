"""Reading responses in worker processes, each read bounded by a wall-clock limit that is enforced.

    async with ParsePool(settings) as pool:
        reading = await pool.read(platform, fetched, now)     # never raises for a slow body
        reading.observation, reading.hits, reading.sha256, reading.timed_out

A thread cannot interrupt a regex or the HTML parser; a process can be killed. So every response
body is read (the platform's pure `parse`, then the notice detector over its public texts) in one
of `settings.parse_workers` worker processes, which also puts the second core to work. A read that
takes longer than `settings.parse_timeout` seconds has its worker killed and replaced, and comes
back as an Observation that says so (`timed_out`; the crawl records the check's error as
`parse_timeout`); the cycle goes on.

No hostile body may hold up other accounts: a read still running after SPARE_AFTER seconds (normal
pages take about a millisecond, a large legitimate feed some tens) no longer counts as capacity: a
fresh worker is started beside it at once (up to `max_workers` processes in all), and the pool
shrinks back to its size when the long read ends. One still running after SLOW_AFTER seconds is
treated as hostile: its worker is given a lower CPU priority (SLOW_NICE) and is retired when its
read ends. So the other accounts keep their workers, and their CPU, while a hostile one runs out
its time.

What crosses the process boundary (pickled, over a socketpair): in, the Fetched with its body
(up to max_body_bytes) and `now`; out, the Observation (dates, post URLs, public texts), the notice
hits of its texts (sparse) and the body's SHA-256 (the check row's content hash), so the crawler's
own process never hashes or scans a body. Settings go to each worker once (again when they change).

Workers are forked from a zygote: a process of our own started once per crawler process, with the
parsers and the notice model already imported, so a worker starts in milliseconds (multiprocessing's
fork server would import the crawler's main module again in every worker). They ignore SIGINT, SIGTERM and
SIGHUP (the crawler decides when they end), exit when the crawler's end of their socket closes (a
crawler killed with SIGKILL), and end themselves by SIGALRM if one read outlives twice the limit
with nobody left to kill it.

A platform registered at run time in the crawler's process (a plug-in, a test) is read in a worker
when its parse is a module-level function the worker can import by name; one whose parse is a
closure can only be read in the crawler's process, without a limit.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import gc
import hashlib
import importlib
import json
import logging
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from crawler import log, notices, platforms
from crawler.models import Fetched, NoticeHit, Observation, PublicText
from crawler.settings import Settings

SPARE_AFTER = 0.1  # seconds: a read still running then no longer counts as capacity (a worker is added)
SLOW_AFTER = 0.5  # seconds: a read still running then is treated as hostile (normal: ~1 ms)
# A slow read's worker yields the CPU to the others (a tenth of a normal share when they contend; all
# of an idle core) but is not starved outright: at 19 a legitimately large feed on a busy machine
# would hardly ever finish within the limit.
SLOW_NICE = 10
IMPORT_TIMEOUT = 120.0  # seconds a worker may take to import a plug-in platform's module
_HEADER = struct.Struct("!I")
_MAX_FRAME = 1 << 30


class ParseError(Exception):
    """A parser raised (a crawler bug) or its worker died: `kind` names what, for the check's reason."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind


@dataclass(frozen=True)
class Reading:
    """What one response told: its Observation, the notice hit of each public text (None where the
    text is no notice), the body's SHA-256, and whether the read was stopped at the limit."""

    observation: Observation
    hits: tuple[NoticeHit | None, ...] = ()
    sha256: str | None = None
    timed_out: bool = False
    seconds: float = 0.0  # wall time of the read in the worker (or until it was stopped)


def read_inline(platform: str, fetched: Fetched, now: datetime, settings: Settings,
                parse: Callable[..., Observation] | None = None, since: datetime | None = None) -> Reading:
    """Read one response in this process (what a worker does; no time limit here).

    With `since` (the newest post an earlier visit read), the notice detector reads only the texts
    of posts from then on and the undated ones (a bio, a description): older posts were read then.
    """
    started = time.perf_counter()
    obs = (parse or platforms.adapter(platform).parse)(fetched, now, settings, platform)
    hits = tuple(found[0] if new_text(text, since) and (found := notices.detect([text], settings.notice_threshold))
                 else None for text in obs.texts)
    digest = hashlib.sha256(fetched.body).hexdigest() if fetched.body is not None else None
    return Reading(obs, hits, digest, False, time.perf_counter() - started)


def new_text(text: PublicText, since: datetime | None) -> bool:
    """Whether the notice detector should read `text`: undated, or dated from `since` on."""
    return since is None or text.published_at is None or text.published_at >= since


def timed_out_observation(platform: str, limit: float) -> Observation:
    return Observation(platform, None, f"reading the response took longer than {limit:g} s; it was stopped")


# --------------------------------------------------------------------------- framing


def _frame(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


def _recv_exactly(sock: socket.socket, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# --------------------------------------------------------------------------- the worker process


def _reference(parse: Callable[..., Any]) -> tuple[str, str] | None:
    """(module, name) of a parse function a worker can import by name; None for a closure or lambda."""
    module, name = getattr(parse, "__module__", None), getattr(parse, "__qualname__", "")
    if not module or "<" in name or module == "__main__":
        return None
    try:
        found: Any = importlib.import_module(module)
        for part in name.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return None
    return (module, name) if found is parse else None


def _resolve(ref: tuple[str, str]) -> Callable[..., Observation]:
    found: Any = importlib.import_module(ref[0])
    for part in ref[1].split("."):
        found = getattr(found, part)
    return found


def _worker_main(sock: socket.socket, hard_limit: float) -> None:
    """A worker: read requests from `sock` until it closes. Runs in the forked process."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    sock.setblocking(True)
    known = sorted(platforms.ADAPTERS)
    # scripts/bench.py's profile: each worker profiles its reads and leaves one dump in this folder
    profile_dir = os.environ.get("CRAWLER_PROFILE_WORKERS")
    profiler = None
    if profile_dir:
        import cProfile

        profiler = cProfile.Profile(time.process_time)
    sock.sendall(_frame(("hello", os.getpid(), known)))
    try:
        _serve(sock, hard_limit, profiler)
    finally:
        if profiler is not None and profile_dir:
            profiler.dump_stats(str(Path(profile_dir) / f"worker-{os.getpid()}.pstats"))


def _serve(sock: socket.socket, hard_limit: float, profiler: Any) -> None:
    settings: Settings | None = None
    while True:
        head = _recv_exactly(sock, _HEADER.size)
        if head is None:
            return  # the crawler closed its end (or died): nothing more to do
        body = _recv_exactly(sock, _HEADER.unpack(head)[0])
        if body is None:
            return
        message = pickle.loads(body)
        kind = message[0]
        if kind == "settings":
            settings = message[1]
            continue
        if kind == "import":  # a plug-in's parse, imported before its first read (not within the limit)
            try:
                _resolve(message[1])
                sock.sendall(_frame(("ready",)))
            except BaseException as exc:  # noqa: BLE001 - reported to the crawler
                sock.sendall(_frame(("error", type(exc).__name__, str(exc)[:300])))
            continue
        if kind == "bye":
            usage = os.times()
            sock.sendall(_frame(("cpu", usage.user + usage.system)))
            return
        _, platform, fetched, now, ref, since = message
        signal.alarm(max(1, int(hard_limit * 2) + 1))  # an orphaned read ends itself
        try:
            parse = _resolve(ref) if ref is not None else None
            if profiler is not None:
                profiler.enable()
            try:
                reading = read_inline(platform, fetched, now, settings or Settings(), parse, since)
            finally:
                if profiler is not None:
                    profiler.disable()
            reply: tuple = ("ok", reading.observation,
                            tuple((i, h) for i, h in enumerate(reading.hits) if h is not None),
                            reading.sha256, reading.seconds)
        except BaseException as exc:  # noqa: BLE001 - a parser bug is reported, never the end of the worker
            reply = ("error", type(exc).__name__, str(exc)[:300])
        finally:
            signal.alarm(0)
        del fetched, message, body
        sock.sendall(_frame(reply))


# --------------------------------------------------------------------------- the crawler's side


# --------------------------------------------------------------------------- the zygote


def _zygote_main(control_fd: int) -> None:
    """The zygote: a process with the parsers imported that forks a worker for each request.

    Started once per crawler process (python -c, see _Zygote); single-threaded, so forking it is
    safe. A request on the control socket carries one fd (the worker's end of its socketpair) and
    is answered with the new worker's pid. It reaps its children, and ends when the control socket
    closes (the crawler ended, however it ended).
    """
    _warm()
    # What is loaded now (parsers, the notice model) lives as long as every worker: out of the cyclic
    # collector's reach, so a worker's collections do not walk it (nor write to its pages, which
    # the workers share with the zygote copy-on-write).
    gc.collect()
    gc.freeze()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)

    def reap(signum: int, frame: Any) -> None:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass

    signal.signal(signal.SIGCHLD, reap)
    control = socket.socket(fileno=control_fd)
    while True:
        try:
            message, fds, _flags, _addr = socket.recv_fds(control, 64, 1)
        except OSError:
            return
        if not message:
            return
        hard_limit = float(message.decode())
        pid = os.fork()
        if pid == 0:  # the worker
            try:
                control.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _worker_main(socket.socket(fileno=fds[0]), hard_limit)
            finally:
                os._exit(0)
        os.close(fds[0])
        control.sendall(f"{pid}\n".encode())


def _warm() -> None:
    """Load what the parsers load on first use (the notice model, lazily built tables), so that every
    worker forked afterwards starts warm."""
    from datetime import timezone

    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    feed = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>Vi flyttar till Tempus'
            b'</title><link>https://x.se/p</link><pubDate>Mon, 05 Jan 2026 10:00:00 +0000</pubDate></item>'
            b'</channel></rss>')
    page = ('<!doctype html><html lang=sv><head><title>Förskolan</title></head><body><article>'
            '<time datetime="2026-01-02">2 januari</time><p>Sista inlägget här.</p></article></body></html>').encode()
    for body, ctype, platform in ((feed, "application/rss+xml", "feed"), (page, "text/html", "blog")):
        with contextlib.suppress(Exception):
            read_inline(platform, Fetched("https://x.se/", "https://x.se/", 200, {"content-type": ctype}, body),
                        now, Settings())


class _Zygote:
    """The crawler's handle on its zygote process (one per crawler process, started on first use)."""

    _lock = threading.Lock()
    _current: _Zygote | None = None

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        code = ("import sys, json; sys.path[:0] = json.loads(sys.argv[2]); "
                "from crawler.parse_pool import _zygote_main; _zygote_main(int(sys.argv[1]))")
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, str(theirs.fileno()), json.dumps([p for p in sys.path if p])],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            close_fds=True, start_new_session=False,
        )
        theirs.close()
        self.control = ours
        self.pid = self.process.pid

    @classmethod
    def get(cls) -> _Zygote:
        with cls._lock:
            if cls._current is None or cls._current.process.poll() is not None:
                cls._current = cls()
            return cls._current

    def fork(self, worker_sock: socket.socket, hard_limit: float) -> int:
        """A new worker reading `worker_sock`; its pid. Blocking (the caller runs it in a thread)."""
        with self._lock:
            socket.send_fds(self.control, [f"{hard_limit}".encode()], [worker_sock.fileno()])
            line = b""
            while not line.endswith(b"\n"):
                chunk = self.control.recv(64)
                if not chunk:
                    raise ParseError("WorkerStart", "the parsers' zygote process ended")
                line += chunk
            return int(line)

    def cpu_seconds(self) -> float:
        """The zygote's own CPU and that of the workers it has reaped."""
        return _cpu_of(self.pid, children=True)


_LIVE: weakref.WeakSet[ParsePool] = weakref.WeakSet()


@atexit.register
def _kill_all() -> None:
    """At exit, kill the workers of pools nobody closed (they ignore SIGTERM; their socket closing
    ends them too, this only makes it immediate)."""
    for pool in list(_LIVE):
        for worker in list(pool._workers):
            with contextlib.suppress(OSError):
                os.kill(worker.pid, signal.SIGKILL)


def _cpu_of(pid: int, children: bool = False) -> float:
    """User+system CPU seconds of a live process (Linux /proc), with its reaped children's if asked;
    0.0 when it cannot be read."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        fields = text[text.rindex(")") + 2:].split()
        ticks = sum(int(x) for x in fields[11:15 if children else 13])
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


@dataclass(eq=False)
class _Worker:
    sock: socket.socket
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    pid: int
    known: frozenset[str]
    generation: int = -1  # of the settings it holds
    imported: set = field(default_factory=set)  # plug-in parse references it has imported
    slow: bool = False
    spared: bool = False  # a worker was started beside it while its read ran long
    busy: bool = False

    async def send(self, obj: Any) -> int:
        frame = _frame(obj)
        self.writer.write(frame)
        await self.writer.drain()
        return len(frame)

    async def receive(self) -> tuple[Any, int]:
        head = await self.reader.readexactly(_HEADER.size)
        size = _HEADER.unpack(head)[0]
        if size > _MAX_FRAME:
            raise ParseError("ProtocolError", f"a worker sent a frame of {size} bytes")
        return pickle.loads(await self.reader.readexactly(size)), size + _HEADER.size


@dataclass
class PoolStats:
    reads: int = 0
    inline: int = 0  # read in the crawler's process (a platform the workers do not know)
    timeouts: int = 0
    slow: int = 0
    errors: int = 0
    died: int = 0
    started: int = 0
    bytes_out: int = 0  # to the workers (requests with bodies)
    bytes_in: int = 0  # back (observations, hits)
    parse_seconds: float = 0.0  # wall time of the reads inside the workers
    retired_cpu_s: float = 0.0  # CPU of workers that have ended
    extra: dict[str, Any] = field(default_factory=dict)


class ParsePool:
    """`workers` parse processes with an enforced `timeout` per read (see the module docstring)."""

    def __init__(self, settings: Settings, *, workers: int | None = None, timeout: float | None = None,
                 max_workers: int | None = None, slow_after: float = SLOW_AFTER):
        self.settings = settings
        self.size = workers if workers is not None else settings.parse_workers
        self.timeout = timeout if timeout is not None else settings.parse_timeout
        self.max_workers = max_workers if max_workers is not None else max(2 * self.size, self.size + 4)
        self.slow_after = min(slow_after, self.timeout)
        self.stats = PoolStats()
        self._generation = 0
        self._settings_frame: Settings = settings
        self._idle: asyncio.Queue[_Worker] | None = None
        self._workers: set[_Worker] = set()
        self._leaving: set[_Worker] = set()  # being retired (their CPU is counted once they have gone)
        self._retiring: set[asyncio.Task] = set()
        self._starting = 0
        self._closed = False
        self._spawns: set[asyncio.Task] = set()
        self._known: frozenset[str] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> ParsePool:
        self._idle = asyncio.Queue()
        _LIVE.add(self)
        started = await asyncio.gather(*(self._spawn() for _ in range(self.size)), return_exceptions=True)
        failures = [s for s in started if isinstance(s, BaseException)]
        if len(failures) == len(started):
            await self.close()
            raise failures[0]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """End every worker: politely when idle (they report their CPU), killed when busy."""
        self._closed = True
        for task in list(self._spawns):
            task.cancel()
        for w in list(self._workers):
            await self._retire(w, polite=not w.busy)
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)

    @property
    def pids(self) -> list[int]:
        return [w.pid for w in self._workers]

    def cpu_seconds(self) -> float:
        """CPU of every worker so far: the live ones (from /proc) and those that have ended."""
        return self.stats.retired_cpu_s + sum(_cpu_of(w.pid) for w in self._workers | self._leaving)

    async def _spawn(self) -> _Worker:
        self._starting += 1
        try:
            parent, child = socket.socketpair()
            try:
                zygote = _Zygote.get()
                pid = await asyncio.to_thread(zygote.fork, child, self.timeout)  # a round trip, off the loop
            finally:
                child.close()
            parent.setblocking(False)
            reader, writer = await asyncio.open_unix_connection(sock=parent, limit=1 << 16)
            worker = _Worker(parent, reader, writer, pid, frozenset())
            try:
                async with asyncio.timeout(60):
                    (kind, pid, known), _ = await worker.receive()
            except BaseException:
                self._kill(worker)
                raise
            worker.pid, worker.known = pid, frozenset(known)
            self._known = worker.known
            self.stats.started += 1
            if self._closed:
                await self._retire(worker, polite=True)
                raise asyncio.CancelledError
            self._workers.add(worker)
            assert self._idle is not None
            self._idle.put_nowait(worker)
            return worker
        finally:
            self._starting -= 1

    def _replace(self) -> None:
        """Start a worker in the background (a killed or slow one's replacement), within max_workers."""
        if self._closed or len(self._workers) + self._starting >= self.max_workers:
            return
        task = asyncio.ensure_future(self._spawn())
        self._spawns.add(task)

        def done(t: asyncio.Task) -> None:
            self._spawns.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.event("parse.worker_failed_to_start", level=logging.ERROR,
                          error=f"{type(t.exception()).__name__}: {t.exception()}")

        task.add_done_callback(done)

    def _kill(self, worker: _Worker) -> None:
        self.stats.retired_cpu_s += _cpu_of(worker.pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(worker.pid, signal.SIGKILL)
        worker.writer.close()  # the zygote reaps it
        self._workers.discard(worker)
        self._leaving.discard(worker)

    async def _retire(self, worker: _Worker, *, polite: bool) -> None:
        if polite:
            try:
                async with asyncio.timeout(2):
                    await worker.send(("bye",))
                    (kind, cpu), _ = await worker.receive()
                self.stats.retired_cpu_s += cpu
                worker.writer.close()
                self._workers.discard(worker)
                self._leaving.discard(worker)
                return
            except (Exception, asyncio.CancelledError):  # noqa: BLE001 - it goes either way
                pass
        self._kill(worker)

    # ------------------------------------------------------------------ reading

    def _route(self, platform: str) -> tuple[bool, tuple[str, str] | None]:
        """(read in a worker?, the parse function's import reference when the workers lack it).

        Built-in platforms are the workers' own. A platform registered later in this process (a
        plug-in, a test) is read in a worker when its parse is a module-level function the worker can
        import; a closure or lambda can only be read here, without a limit."""
        module = platforms.adapter(platform)
        if self._known is None or (module.name in self._known and module is _BUILTIN.get(module.name)):
            return True, None
        ref = _reference(module.parse)
        return ref is not None, ref

    async def read(self, platform: str, fetched: Fetched, now: datetime,
                   settings: Settings | None = None, since: datetime | None = None) -> Reading:
        """Read one response in a worker, within the limit; `since`: see read_inline. Raises
        ParseError for a parser bug."""
        settings = settings or self.settings
        self.stats.reads += 1
        in_worker, ref = self._route(platform)
        if not in_worker:
            self.stats.inline += 1
            return read_inline(platform, fetched, now, settings, since=since)
        if settings is not self._settings_frame and settings != self._settings_frame:
            self._settings_frame, self._generation = settings, self._generation + 1
        assert self._idle is not None
        worker = await self._idle.get()
        worker.busy = True
        started = time.monotonic()
        try:
            if worker.generation != self._generation:
                self.stats.bytes_out += await worker.send(("settings", self._settings_frame))
                worker.generation = self._generation
            if ref is not None and ref not in worker.imported:
                failed = await self._prepare(worker, ref)
                if failed is not None:
                    self._release(worker)
                    raise failed
            self.stats.bytes_out += await worker.send(("read", platform, fetched, now, ref, since))
            reply_task = asyncio.ensure_future(worker.receive())
            try:
                spare_after = min(SPARE_AFTER, self.slow_after)
                done, _ = await asyncio.wait({reply_task}, timeout=spare_after)
                if not done:
                    worker.spared = True
                    self._replace()  # capacity for the other accounts, at once
                    done, _ = await asyncio.wait({reply_task}, timeout=self.slow_after - spare_after)
                if not done:
                    self._went_slow(worker, platform, fetched)
                    done, _ = await asyncio.wait({reply_task}, timeout=self.timeout - self.slow_after)
                if not done:
                    reply_task.cancel()
                    return self._timed_out(worker, platform, fetched, time.monotonic() - started)
                reply, size = reply_task.result()
            except BaseException:
                reply_task.cancel()
                raise
        except ParseError:
            raise  # the worker was released: a plug-in that cannot be imported
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            self.stats.died += 1
            self._kill(worker)
            self._replace()
            log.event("parse.worker_died", level=logging.ERROR, url=fetched.url, error=type(exc).__name__)
            raise ParseError("WorkerDied", "the parser's process ended while reading this response") from None
        except BaseException:
            # cancelled mid-read (the cycle is stopping): the worker's state is unknown, end it
            self._kill(worker)
            self._replace()
            raise
        self.stats.bytes_in += size
        self._release(worker)
        if reply[0] == "error":
            self.stats.errors += 1
            raise ParseError(reply[1], reply[2])
        _, obs, sparse, digest, seconds = reply
        self.stats.parse_seconds += seconds
        hits: list[NoticeHit | None] = [None] * len(obs.texts)
        for i, hit in sparse:
            hits[i] = hit
        return Reading(obs, tuple(hits), digest, False, seconds)

    async def _prepare(self, worker: _Worker, ref: tuple[str, str]) -> ParseError | None:
        """Have `worker` import a plug-in's parse before its first read: an import is no parse, and
        may take a while on a busy machine (bounded all the same). The error, if it could not."""
        await worker.send(("import", ref))
        try:
            async with asyncio.timeout(IMPORT_TIMEOUT):
                reply, _ = await worker.receive()
        except TimeoutError:
            raise ConnectionError("the import outlasted IMPORT_TIMEOUT") from None  # the worker is ended
        if reply[0] == "error":
            return ParseError(reply[1], f"importing {ref[0]}.{ref[1]} in a parse worker: {reply[2]}")
        worker.imported.add(ref)
        return None

    def _release(self, worker: _Worker) -> None:
        worker.busy = False
        if worker.slow or self._closed or (worker.spared and len(self._workers) + self._starting > self.size):
            # a worker that went slow runs at a lower priority, one that was spared has a replacement
            # already: retire it (the pool shrinks back to its size). It leaves the count at once, so
            # that two retiring together cannot take the pool below its size.
            self._workers.discard(worker)
            self._leaving.add(worker)
            task = asyncio.ensure_future(self._retire(worker, polite=True))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)
            if not self._closed and len(self._workers) + self._starting < self.size:
                self._replace()
            return
        worker.spared = False
        assert self._idle is not None
        self._idle.put_nowait(worker)

    def _went_slow(self, worker: _Worker, platform: str, fetched: Fetched) -> None:
        worker.slow = True
        self.stats.slow += 1
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, worker.pid, SLOW_NICE)  # the other accounts' reads go first
        log.event("parse.slow", level=logging.WARNING, url=fetched.url, platform=platform,
                  after_s=self.slow_after, bytes=len(fetched.body or b""))
        if not worker.spared:
            self._replace()  # capacity for the other accounts, at once

    def _timed_out(self, worker: _Worker, platform: str, fetched: Fetched, seconds: float) -> Reading:
        self.stats.timeouts += 1
        self._kill(worker)
        if len(self._workers) + self._starting < self.size:
            self._replace()
        log.event("parse.timeout", level=logging.WARNING, url=fetched.url, platform=platform,
                  limit_s=self.timeout, bytes=len(fetched.body or b""))
        digest = hashlib.sha256(fetched.body).hexdigest() if fetched.body is not None else None
        return Reading(timed_out_observation(platform, self.timeout), (), digest, True, seconds)


def read_once(platform: str, fetched: Fetched, now: datetime, settings: Settings) -> Observation:
    """One response read in a worker within settings.parse_timeout, from synchronous code
    (`crawler inspect FILE`): the same limit as a crawl's."""

    async def go() -> Observation:
        async with ParsePool(settings, workers=1) as pool:
            return (await pool.read(platform, fetched, now)).observation

    return asyncio.run(go())


# The platforms as the workers import them (built in): one registered later in this process is not theirs.
_BUILTIN = {name: platforms.registry.get(name) for name in platforms.ADAPTERS}


def hits_of(texts: Sequence[Any], found: dict[Any, NoticeHit]) -> list[NoticeHit]:
    """The hits of `texts` (an Observation's public texts) from what the readings found."""
    return [found[t] for t in texts if t in found]


__all__ = ["SLOW_AFTER", "ParseError", "ParsePool", "Reading", "hits_of", "read_inline", "read_once",
           "timed_out_observation"]
