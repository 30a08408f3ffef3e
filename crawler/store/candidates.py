"""Discovery's tables: candidate accounts, the evidence where each was found, and people's decisions.

    save_sightings(sightings, now)        one discovery run's findings, merged into what is known
    mark_registered(urls, now)            candidates that are in the registry now (in any URL form)
    decide_candidate(id, ...)             accept or dismiss (compare-and-set) with its audit row
    candidates(state) / candidate(id)     the reads: records of crawler.store.records

The rules (what may be accepted, what "new evidence" means for a dismissed candidate) are stated
here once and used by crawler.discover: a dismissed candidate comes back only when a (page, link)
pair that was never seen before points at it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from crawler.errors import NotFound
from crawler.store.connection import Connection, iso
from crawler.store.records import CandidateDecision, CandidateDetail, CandidateRecord, EvidenceRecord, make

CANDIDATE_STATES = ("proposed", "excluded", "accepted", "dismissed", "registered")
DECISIONS = ("accepted", "dismissed", "reopened")
MACHINE = "crawler discover"  # who reopens a dismissed candidate on new evidence

_CANDIDATE_SELECT = (
    "SELECT c.id, c.url, c.platform, c.state, c.score, c.reason, c.unit, c.area, c.checked, c.first_seen_at, "
    "c.last_seen_at, c.decided_at, c.decided_by, c.account_id, "
    "(SELECT count(*) FROM candidate_evidence e WHERE e.candidate_id = c.id) AS evidence_count FROM candidates c"
)


@dataclass(frozen=True)
class SeenLink:
    """One piece of evidence as a discovery run found it."""

    page_url: str
    link_url: str
    link_text: str
    how: str
    region: str | None
    source: str
    source_account: str | None = None


@dataclass(frozen=True)
class Sighting:
    """One candidate as a discovery run judged it (state is proposed or excluded)."""

    url: str
    platform: str
    state: str
    score: float
    reason: str
    unit: str | None
    area: str | None
    checked: str | None
    evidence: tuple[SeenLink, ...]


@dataclass(frozen=True)
class SaveResult:
    """What one run changed: candidate ids new, updated, reopened (new evidence after a dismissal)."""

    new: tuple[int, ...]
    updated: tuple[int, ...]
    reopened: tuple[int, ...]
    still_dismissed: tuple[int, ...]


class CandidateStore(Connection):
    """The discovery side of the store."""

    # ------------------------------------------------------------------ writes

    def save_sightings(self, sightings: Sequence[Sighting], now: datetime) -> SaveResult:
        """Merge one run's sightings, all in one transaction.

        New URLs are inserted in their judged state. Proposed and excluded candidates take the new
        judgement. Accepted and registered ones keep their state. A dismissed one stays dismissed
        unless a (page, link) pair never seen before points at it and the run would propose it:
        then it is proposed again, with a `reopened` entry in its trail.
        """
        new: list[int] = []
        updated: list[int] = []
        reopened: list[int] = []
        still: list[int] = []
        at = iso(now)
        with self.transaction() as conn:
            for s in sightings:
                row = conn.execute("SELECT id, state FROM candidates WHERE url = ?", (s.url,)).fetchone()
                if row is None:
                    cur = conn.execute(
                        "INSERT INTO candidates (url, platform, state, score, reason, unit, area, checked, "
                        "first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (s.url, s.platform, s.state, s.score, s.reason, s.unit, s.area, s.checked, at, at))
                    ident = cur.lastrowid
                    new.append(ident)
                    self._evidence(ident, s.evidence, at)
                    continue
                ident, state = row
                fresh = self._evidence(ident, s.evidence, at)
                if state in ("accepted", "registered"):
                    conn.execute("UPDATE candidates SET last_seen_at = ? WHERE id = ?", (at, ident))
                    continue
                if state == "dismissed":
                    if fresh and s.state == "proposed":
                        conn.execute(
                            "INSERT INTO candidate_decisions (candidate_id, at, by, decision, old_state, comment) "
                            "VALUES (?, ?, ?, 'reopened', 'dismissed', ?)",
                            (ident, at, MACHINE, "new evidence: " + ", ".join(sorted(fresh))[:500]))
                        self._judge(ident, s, at)
                        reopened.append(ident)
                    else:
                        conn.execute("UPDATE candidates SET last_seen_at = ? WHERE id = ?", (at, ident))
                        still.append(ident)
                    continue
                self._judge(ident, s, at)
                updated.append(ident)
        return SaveResult(tuple(new), tuple(updated), tuple(reopened), tuple(still))

    def _judge(self, ident: int, s: Sighting, at: str) -> None:
        self._conn.execute(
            "UPDATE candidates SET state = ?, platform = ?, score = ?, reason = ?, unit = ?, area = ?, checked = ?, "
            "last_seen_at = ? WHERE id = ?",
            (s.state, s.platform, s.score, s.reason, s.unit, s.area, s.checked, at, ident))

    def _evidence(self, ident: int, links: Iterable[SeenLink], at: str) -> set[str]:
        """Insert or refresh evidence rows; return the pages of the pairs never seen before."""
        fresh: set[str] = set()
        for e in links:
            cur = self._conn.execute(
                "UPDATE candidate_evidence SET last_seen_at = ?, link_text = ?, region = ? "
                "WHERE candidate_id = ? AND page_url = ? AND link_url = ? AND how = ?",
                (at, e.link_text, e.region, ident, e.page_url, e.link_url, e.how))
            if cur.rowcount:
                continue
            # A pair seen before under another `how` is not new evidence either.
            seen = self._conn.execute(
                "SELECT 1 FROM candidate_evidence WHERE candidate_id = ? AND page_url = ? AND link_url = ?",
                (ident, e.page_url, e.link_url)).fetchone()
            self._conn.execute(
                "INSERT INTO candidate_evidence (candidate_id, page_url, link_url, link_text, how, region, source, "
                "source_account, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (ident, e.page_url, e.link_url, e.link_text, e.how, e.region, e.source, e.source_account, at, at))
            if seen is None:
                fresh.add(e.page_url)
        return fresh

    def mark_registered(self, candidate_ids: Iterable[int], now: datetime) -> int:
        """Candidates now in the registry (added by hand or by an import) leave the proposals."""
        ids = list(candidate_ids)
        if not ids:
            return 0
        with self.transaction() as conn:
            count = 0
            for ident in ids:
                count += conn.execute(
                    "UPDATE candidates SET state = 'registered', last_seen_at = ? "
                    "WHERE id = ? AND state IN ('proposed', 'excluded', 'dismissed')", (iso(now), ident)).rowcount
        return count

    def decide_candidate(self, candidate_id: int, expected: Sequence[str], decision: str, by: str, at: datetime,
                         comment: str | None = None, account_id: str | None = None) -> bool:
        """Accept or dismiss a candidate that is in one of the `expected` states, with its audit row.

        One transaction; False (nothing written) when the candidate has moved on meanwhile.
        """
        if decision not in ("accepted", "dismissed"):
            raise ValueError(f"decision must be accepted or dismissed, not {decision!r}")
        with self.transaction() as conn:
            row = conn.execute("SELECT state FROM candidates WHERE id = ?", (candidate_id,)).fetchone()
            if row is None or row[0] not in expected:
                return False
            conn.execute(
                "INSERT INTO candidate_decisions (candidate_id, at, by, decision, old_state, account_id, comment) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", (candidate_id, iso(at), by, decision, row[0], account_id, comment))
            conn.execute(
                "UPDATE candidates SET state = ?, decided_at = ?, decided_by = ?, account_id = coalesce(?, account_id) "
                "WHERE id = ?", (decision, iso(at), by, account_id, candidate_id))
        return True

    # ------------------------------------------------------------------ reads

    def candidates(self, state: str | None = None) -> list[CandidateRecord]:
        """Candidates in `state` (all when None), best score first, then oldest."""
        where, params = ("WHERE c.state = ?", [state]) if state else ("", [])
        return [make(CandidateRecord, r) for r in self._query(
            f"{_CANDIDATE_SELECT} {where} ORDER BY c.score DESC, c.first_seen_at, c.id", params)]

    def candidate(self, candidate_id: int) -> CandidateDetail:
        """One candidate with its evidence and decisions; NotFound when there is no such id."""
        rows = self._query(f"{_CANDIDATE_SELECT} WHERE c.id = ?", [candidate_id])
        if not rows:
            raise NotFound(f"no candidate with id {candidate_id}.\n\nList them with `crawler discover list --state all`.")
        evidence = self._query(
            "SELECT page_url, link_url, link_text, how, region, source, source_account, first_seen_at, last_seen_at "
            "FROM candidate_evidence WHERE candidate_id = ? ORDER BY first_seen_at, page_url, link_url", [candidate_id])
        decisions = self._query(
            "SELECT id, candidate_id, at, by, decision, old_state, account_id, comment FROM candidate_decisions "
            "WHERE candidate_id = ? ORDER BY id", [candidate_id])
        return CandidateDetail(make(CandidateRecord, rows[0]), tuple(make(EvidenceRecord, r) for r in evidence),
                               tuple(make(CandidateDecision, r) for r in decisions))

    def candidate_counts(self) -> dict[str, int]:
        """Candidates by state (every state named, 0 when none)."""
        counts = {state: 0 for state in CANDIDATE_STATES}
        for row in self._query("SELECT state, count(*) AS n FROM candidates GROUP BY state"):
            counts[row["state"]] = row["n"]
        return counts
