"""The crawl lock: one crawling process per inventory, and a message naming the holder.

An advisory `fcntl.flock` on `<inventory>.lock`. The kernel releases it when the holder dies
(even by SIGKILL), so a stale lock never needs cleaning by hand; the file's content (pid, since,
command) is only there to name the holder in the refusal.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
from pathlib import Path

from crawler.clock import utcnow
from crawler.errors import LockedError, StoreError
from crawler.store.connection import cannot_write


class CrawlLock:
    """Hold with `with CrawlLock(db_path, "crawl"):`; raises LockedError if another process has it."""

    def __init__(self, db_path: str, purpose: str):
        self.path = Path(f"{db_path}.lock")
        self.purpose = purpose
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a read-only file system, a folder or lock file this user may not write
            raise StoreError(cannot_write(str(self.path.with_suffix("")), f"its lock file {self.path.name}: "
                                                                         f"{exc.strerror or exc}")) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(os.pread(fd, 4096, 0))
            os.close(fd)
            raise LockedError(
                f"another crawler holds the inventory {self.path.with_suffix('')}: {holder}.\n\n"
                "Wait for it to finish (`crawler status` shows the running cycle), or stop that process."
            ) from None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": utcnow().isoformat(timespec="seconds"),
            "purpose": self.purpose,
            "command": " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))[:200],
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> CrawlLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder(db_path: str) -> dict | None:
    """Who holds the lock now (parsed from the lock file), or None when it is free."""
    path = Path(f"{db_path}.lock")
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # no lock file (no crawl ever ran here), or one this user may not read: cannot tell
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return json.loads(os.pread(fd, 4096, 0) or b"{}")
            except ValueError:
                return {}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _describe(raw: bytes) -> str:
    try:
        info = json.loads(raw or b"{}")
    except ValueError:
        return "holder unknown"
    if not info:
        return "holder unknown"
    return (f"pid {info.get('pid')} on {info.get('host')} ({info.get('purpose')}, "
            f"since {info.get('since')}: {info.get('command')})")
