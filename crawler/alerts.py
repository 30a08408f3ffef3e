"""Telling people: ops about health incidents (once when one opens, once when it ends), reviewers
about new notices. By e-mail (SMTP) and by webhook (a JSON POST).

    Alerts(settings, db_path).run(now)   one round: health -> incidents -> messages; new notices
    secrets(settings, environ)           SMTP password, webhook URL and token: environment or a 0600 file

An incident is a health problem of `crawler status` (crawler/status.py: `problems`, each with a
stable key such as `registry`, `cycle_failed`, `no_good_pass`, `service_stopped`, `api:meta`,
`failing`, `behind`). The `alerts` table holds at most one open incident per key, so however often
a round runs (the service: after every pass and every heartbeat; a timer: `crawler status --notify`)
each incident is told once when it opens and once when it closes, whichever process saw it first.
A message that no channel took is tried again at the next round.

Why not Apprise: it would reach Teams, Slack and Matrix by URL, but brings its own HTTP stack
(requests) and a dozen dependencies into a service that talks to the internet only through its
guarded fetcher; and the two things ops here use are mail and a webhook. The webhook's JSON carries
`text` (what Slack, Mattermost, Rocket.Chat, Matrix hookshot and Teams' incoming webhooks show) plus
the structured fields, so most chat tools take it as it is. Secrets are never logged: a webhook is
named by its host only, the SMTP password never leaves `secrets()`.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import socket
import ssl
import stat
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler import __version__, log, sanitize
from crawler.clock import time_text
from crawler.errors import CrawlerError
from crawler.settings import Settings
from crawler.store import Store

TIMEOUT = 20.0  # seconds for one SMTP conversation or one webhook POST
REVIEW = "review"


class AlertError(CrawlerError):
    """A channel could not be used (bad secrets file, refused by the server)."""


@dataclass(frozen=True)
class Secrets:
    smtp_password: str | None = None
    webhook_url: str | None = None
    webhook_token: str | None = None

    def __repr__(self) -> str:  # never printed, even by accident
        return "Secrets(...)"


def secrets(settings: Settings, environ: Mapping[str, str] | None = None) -> Secrets:
    """The SMTP password and webhook URL/token: CRAWLER_SMTP_PASSWORD, CRAWLER_WEBHOOK_URL and
    CRAWLER_WEBHOOK_TOKEN, else SMTP_PASSWORD=, WEBHOOK_URL=, WEBHOOK_TOKEN= lines of
    `settings.secrets_file`, which must not be readable by group or others."""
    env = os.environ if environ is None else environ
    found: dict[str, str] = {}
    if settings.secrets_file:
        path = Path(settings.secrets_file)
        try:
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise AlertError(f"{path} is readable by others (mode {stat.S_IMODE(mode):04o}); "
                                 f"it holds passwords: `chmod 600 {path}`")
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise AlertError(f"cannot read the secrets file {path}: {exc.strerror}") from None
        for line in text.splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and not key.startswith("#"):
                found[key.strip().upper()] = value.strip().strip('"').strip("'")
    return Secrets(
        smtp_password=env.get("CRAWLER_SMTP_PASSWORD") or found.get("SMTP_PASSWORD") or None,
        webhook_url=env.get("CRAWLER_WEBHOOK_URL") or found.get("WEBHOOK_URL") or settings.alert_webhook or None,
        webhook_token=env.get("CRAWLER_WEBHOOK_TOKEN") or found.get("WEBHOOK_TOKEN") or None,
    )


def _addresses(text: str) -> list[str]:
    return [a.strip() for a in text.split(",") if a.strip()]


def _clean(text: str) -> str:
    """Text for a mail body or chat: no control or bidi characters (crawled names pass through here)."""
    return sanitize.lines(text)


# --------------------------------------------------------------------------- channels


@dataclass(frozen=True)
class Message:
    audience: str  # ops | review
    event: str  # incident.opened | incident.closed | notices.new
    subject: str
    text: str
    data: dict


def send_email(settings: Settings, secret: Secrets, to: list[str], message: Message) -> None:
    """One e-mail through settings.smtp_host (STARTTLS, TLS or plain, login when smtp_user is set)."""
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = ", ".join(to)
    mail["Subject"] = sanitize.text(message.subject)  # one line: a line break would be a header of its own
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2] or None)
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
    mail.set_content(message.text)
    context = ssl.create_default_context()
    try:
        if settings.smtp_security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT,
                                                     context=context)
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT)
        with client:
            if settings.smtp_security == "starttls":
                client.starttls(context=context)
            if settings.smtp_user:
                client.login(settings.smtp_user, secret.smtp_password or "")
            client.send_message(mail)
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        # the password is never part of smtplib's messages; the server's answer may be long
        raise AlertError(f"e-mail via {settings.smtp_host}:{settings.smtp_port}: {type(exc).__name__}: "
                         f"{str(exc)[:200]}") from None


def send_webhook(secret: Secrets, message: Message) -> None:
    """One JSON POST to the webhook (Bearer token when one is set); a 2xx answer is success."""
    body = json.dumps({"text": f"{sanitize.text(message.subject)}\n{_clean(message.text)}", "event": message.event,
                       "audience": message.audience, **sanitize.data(message.data)}, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": f"crawler/{__version__} (alerts)"}
    if secret.webhook_token:
        headers["Authorization"] = f"Bearer {secret.webhook_token}"
    url = secret.webhook_url or ""
    host = urlsplit(url).hostname or "?"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    # No proxy from the environment and no redirects to follow blindly: the webhook is where ops said.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    try:
        with opener.open(request, timeout=TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        raise AlertError(f"webhook at {host}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AlertError(f"webhook at {host}: {type(exc).__name__}: {str(reason)[:200]}") from None
    if not 200 <= status < 300:
        raise AlertError(f"webhook at {host}: HTTP {status}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect answer is then an HTTPError: reported, not followed


# --------------------------------------------------------------------------- one round


class Alerts:
    """Opens and closes incidents from `crawler status`'s health problems and sends the messages."""

    def __init__(self, settings: Settings, db_path: str, environ: Mapping[str, str] | None = None):
        self.settings = settings
        self.db_path = db_path
        self.environ = environ
        self._secrets: Secrets | None = None

    @property
    def secret(self) -> Secrets:
        if self._secrets is None:
            self._secrets = secrets(self.settings, self.environ)
        return self._secrets

    def channels(self, audience: str = "ops") -> list[str]:
        """The channels configured for `audience` (e-mail, webhook)."""
        out = []
        if _addresses(self.settings.alert_email if audience == "ops" else self.settings.review_email):
            out.append("email")
        try:
            if self.secret.webhook_url:
                out.append("webhook")
        except AlertError:
            out.append("webhook")  # configured, but its secrets cannot be read: sending says why
        return out

    def send(self, message: Message, skip: frozenset[str] = frozenset()) -> list[str]:
        """Send on every channel of the message's audience (but `skip`); the channels that took it."""
        took = []
        for channel in self.channels(message.audience):
            if channel in skip:
                continue
            try:
                if channel == "email":
                    to = _addresses(self.settings.alert_email if message.audience == "ops" else self.settings.review_email)
                    send_email(self.settings, self.secret, to, message)
                else:
                    send_webhook(self.secret, message)
            except AlertError as exc:
                log.event("alerts.send_failed", level=logging.WARNING, channel=channel, event=message.event,
                          error=str(exc))
                continue
            took.append(channel)
            log.event("alerts.sent", channel=channel, event=message.event, audience=message.audience,
                      key=message.data.get("incident", {}).get("key"))
        return took

    def run(self, now: datetime, registry: Any = None) -> dict[str, int]:
        """One round: open, retell and close incidents; tell reviewers about new notices."""
        from crawler import status as status_mod

        report = status_mod.gather(self.db_path, self.settings, now)
        problems = {p["key"]: p for p in report["health"]["problems"]}
        counts = {"opened": 0, "closed": 0, "retold": 0, "notices": 0}
        with Store.open(self.db_path) as store:
            open_now = {a.key: a for a in store.open_alerts()}
            for key, problem in problems.items():
                if key in open_now:
                    alert = open_now[key]
                    wanted = set(self.channels()) - set(json.loads(alert.sent or "[]"))
                    if wanted:  # not told yet on every channel: try those again
                        took = self.send(self._incident(problem, alert.opened_at, "incident.opened", report),
                                         skip=frozenset(set(self.channels()) - wanted))
                        if took:
                            store.alert_sent(alert.id, set(json.loads(alert.sent or "[]")) | set(took))
                            counts["retold"] += 1
                    continue
                alert_id = store.open_alert(key, problem["severity"], problem["text"], now)
                if alert_id is None:
                    continue  # another process opened it a moment ago: it tells
                counts["opened"] += 1
                log.event("incident.opened", level=logging.WARNING, key=key, severity=problem["severity"],
                          text=problem["text"])
                store.alert_sent(alert_id, self.send(self._incident(problem, now, "incident.opened", report)))
            for key, alert in open_now.items():
                if key in problems or not store.close_alert(alert.id, now):
                    continue
                counts["closed"] += 1
                log.event("incident.closed", key=key, opened=alert.opened_at.isoformat(timespec="seconds"))
                closing = self._recovery(alert, now, report)
                store.alert_sent(alert.id, self.send(closing), closing=True)
            counts["notices"] = self._notices(store, now)
        return counts

    # ------------------------------------------------------------------ the messages

    def _incident(self, problem: dict, since: datetime, event: str, report: dict) -> Message:
        severity = problem["severity"].upper()
        text = (f"{severity}: {problem['text']}\n\nSince {time_text(since.isoformat())} on {socket.gethostname()}, "
                f"inventory {report['inventory']}.\nHealth now: {report['health']['state'].upper()} - "
                f"{report['health']['reason']}\n\n`crawler status` shows everything; this incident is told once, "
                "and again when it ends.")
        return Message("ops", event, f"[crawler] {severity}: {problem['text'][:120]}", _clean(text),
                       {"incident": {"key": problem["key"], "severity": problem["severity"], "text": problem["text"],
                                     "since": since.isoformat(timespec="seconds")},
                        "health": report["health"]["state"]})

    def _recovery(self, alert: Any, now: datetime, report: dict) -> Message:
        lasted = now - alert.opened_at
        hours = lasted.total_seconds() / 3600
        text = (f"RECOVERED: {alert.summary}\n\nOpen from {time_text(alert.opened_at.isoformat())} for {hours:.1f} h. "
                f"Health now: {report['health']['state'].upper()} - {report['health']['reason']}")
        return Message("ops", "incident.closed", f"[crawler] recovered: {alert.summary[:120]}", _clean(text),
                       {"incident": {"key": alert.key, "severity": alert.severity, "text": alert.summary,
                                     "since": alert.opened_at.isoformat(timespec="seconds"),
                                     "until": now.isoformat(timespec="seconds")},
                        "health": report["health"]["state"]})

    def _notices(self, store: Store, now: datetime) -> int:
        if not self.channels(REVIEW):
            return 0
        upto, new = store.notices_after(REVIEW, now)
        if not new:
            return 0
        kinds = {"move": "flytt till Tempus Hemma", "closing": "stänger", "elsewhere": "flyttar till annan kanal"}
        lines = [f"- {sanitize.text(n.unit)} ({n.platform}): {kinds.get(n.kind, n.kind)}, poäng {n.score:.2f} (notis {n.id})"
                 for n in new[:50]]
        more = f"\n... och {len(new) - 50} till." if len(new) > 50 else ""
        text = (f"{len(new)} nya notiser väntar på granskning / {len(new)} new notices await review:\n\n"
                + "\n".join(lines) + more + "\n\nGranska: `crawler review` (or the web app's review page).")
        message = Message(REVIEW, "notices.new", f"[crawler] {len(new)} nya notiser att granska", _clean(text),
                          {"notices": [{"id": n.id, "account": n.account_id, "unit": n.unit, "platform": n.platform,
                                        "kind": n.kind, "score": round(n.score, 3),
                                        "detected_at": n.detected_at.isoformat(timespec="seconds")} for n in new]})
        if self.send(message):
            store.mark_notified(REVIEW, max(n.id for n in new), now)
        return len(new)
