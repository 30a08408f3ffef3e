"""Structured logging to stderr: one line per event, greppable text or JSON.

    2023-03-01T02:00:01Z INFO  check.done account=solrosen-blogg outcome=ok status=active ms=84

Library code logs events with `log.info("event.name", extra={"fields": {...}})` through `event()`;
never a response body, a post title or any text from a crawled page. A field's value can still
quote the web (a URL, a server's error text): both formats clean every value with
crawler.sanitize, so a log line cannot carry an escape sequence, a carriage return or a line break.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from crawler import sanitize

LOGGER = logging.getLogger("crawler")


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one structured event: a dotted name and key=value fields."""
    if LOGGER.isEnabledFor(level):
        LOGGER.log(level, name, extra={"fields": fields})


def _quote(value: Any) -> str:
    text = sanitize.text(value)
    if not text or any(c.isspace() or c in '"=' for c in text):
        return json.dumps(text, ensure_ascii=False)
    return text


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
        fields = getattr(record, "fields", {}) or {}
        parts = [stamp, f"{record.levelname:<5}", sanitize.text(record.getMessage())]
        parts += [f"{k}={_quote(v)}" for k, v in fields.items() if v is not None]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + sanitize.lines(self.formatException(record.exc_info))
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "event": sanitize.text(record.getMessage()),
        }
        for k, v in (getattr(record, "fields", {}) or {}).items():
            out[k] = v if isinstance(v, (int, float, bool)) or v is None else sanitize.text(v)
        if record.exc_info:
            out["exception"] = sanitize.lines(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False)


FORMAT = "text"  # what setup() was asked for: the CLI writes its own error lines the same way


def setup(level: str = "info", fmt: str = "text") -> None:
    """Send the crawler's logs to stderr in `fmt` ("text" or "json")."""
    global FORMAT
    FORMAT = fmt
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(getattr(logging, level.upper(), logging.INFO))
    LOGGER.propagate = False
    # APScheduler's own messages go through the same handler.
    aps = logging.getLogger("apscheduler")
    aps.handlers[:] = [handler]
    aps.setLevel(logging.WARNING if level.lower() != "debug" else logging.INFO)
    aps.propagate = False


def user_error(text: str, *, kind: str = "error", **fields: Any) -> str:
    """The line the CLI prints for an error or warning a person must read: `Error: ...` as text, or
    one JSON object under --log-format json (so that `jq` reads start-up errors like any event)."""
    if FORMAT != "json":
        return f"{kind.capitalize()}: {text}" if kind == "error" else f"{kind}: {text}"
    out = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "level": kind, "event": f"cli.{kind}",
           "message": text, **fields}
    return json.dumps(out, ensure_ascii=False)
