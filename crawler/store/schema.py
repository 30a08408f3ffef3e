"""The inventory's schema: forward migrations, one per schema version (`PRAGMA user_version`).

MIGRATIONS[n] brings an inventory from version n to n+1. A released step is never edited; a change
is a new step appended at the end. `Connection.migrate` runs each in one transaction with its
version bump.
"""

from __future__ import annotations

import sqlite3

# Routes (issue 15). Each check and each account records how it was read: `api` (Meta's
# Graph API) or `public` (the platform's own pages), and why (a personal Instagram account is
# not readable through the API...). api_status keeps each API's state for `crawler status` and
# ops alerts: an expired token is one row, not a cycle of errors. No token is ever stored.
_ROUTES = """
    ALTER TABLE checks ADD COLUMN route TEXT;          -- api | public (NULL: a check made before routes)
    ALTER TABLE accounts ADD COLUMN route TEXT;        -- the route of the last visit
    ALTER TABLE accounts ADD COLUMN route_note TEXT;   -- why it was read (or not) that way
    CREATE TABLE api_status (
        api TEXT PRIMARY KEY,          -- meta
        state TEXT NOT NULL,           -- ok | token_invalid | token_unusable | throttled | permission | error
        since TEXT NOT NULL,           -- when it entered this state (the crawl's clock)
        checked_at TEXT NOT NULL,      -- the last time a cycle reported it
        detail TEXT,                   -- what happened (Meta's error code and message; never the token)
        calls INTEGER,                 -- Graph API calls of the last cycle
        usage_percent REAL,            -- the highest usage Meta reported in it
        run_id INTEGER
    );
    """

# Forward migrations: MIGRATIONS[n] brings user_version n to n+1. Never edit a released step;
# append a new one. Each runs in one transaction with the version bump.
MIGRATIONS: list[str] = [
    # 0 -> 1: the first schema
    """
    CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        unit TEXT NOT NULL,
        area TEXT NOT NULL,
        platform TEXT NOT NULL,
        url TEXT NOT NULL,
        feed_url TEXT,                 -- declared in sources.yaml
        added TEXT,
        notes TEXT,
        registered_at TEXT NOT NULL,   -- first seen in the registry
        deregistered_at TEXT,          -- removed from the registry (never deleted here)
        status TEXT,                   -- active | dormant | gone | unknown (NULL: never checked)
        status_since TEXT,
        status_reason TEXT,
        last_post_at TEXT,
        last_post_estimated INTEGER NOT NULL DEFAULT 0,
        last_post_url TEXT,            -- the newest post only, as evidence
        last_checked_at TEXT,
        last_ok_at TEXT,
        post_count INTEGER,
        post_count_at TEXT,
        post_count_since TEXT,         -- first read of the current post count
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        gone_streak INTEGER NOT NULL DEFAULT 0,
        gone_streak_since TEXT,
        announced_move INTEGER NOT NULL DEFAULT 0,
        discovered_feed_url TEXT,      -- a feed that worked, tried first next time
        source_url TEXT,               -- the URL the last observation was read from
        etag TEXT,                     -- validators of source_url, for conditional GET
        last_modified TEXT
    );
    CREATE INDEX accounts_platform ON accounts(platform);
    CREATE INDEX accounts_area ON accounts(area);
    CREATE INDEX accounts_status ON accounts(status);

    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,      -- wall clock
        finished_at TEXT,
        clock_at TEXT NOT NULL,        -- the crawl's `now` (differs from wall clock in the demo)
        state TEXT NOT NULL,           -- running | finished | interrupted | failed
        trigger TEXT,                  -- manual | schedule | demo
        pid INTEGER,
        accounts_total INTEGER NOT NULL DEFAULT 0,
        accounts_done INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        requests INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        summary TEXT,
        error TEXT
    );

    CREATE TABLE checks (
        id INTEGER PRIMARY KEY,
        run_id INTEGER REFERENCES runs(id),
        account_id TEXT NOT NULL REFERENCES accounts(id),
        started_at TEXT NOT NULL,
        url TEXT NOT NULL,
        final_url TEXT,
        http_status INTEGER,
        outcome TEXT NOT NULL,         -- ok | not_modified | gone | login_wall | blocked_by_robots | error
        error TEXT,                    -- the fetch error kind (crawler.models.FETCH_ERRORS)
        reason TEXT,                   -- the parser's or fetcher's short explanation
        etag TEXT,
        last_modified TEXT,
        content_sha256 TEXT,
        bytes INTEGER,
        elapsed_ms INTEGER,
        requests INTEGER,
        exists_ INTEGER,               -- 1 / 0 / NULL (cannot tell)
        last_post_at TEXT,
        posts_seen INTEGER,
        post_count INTEGER,
        status TEXT                    -- the account's status after this check
    );
    CREATE INDEX checks_account_time ON checks(account_id, started_at);
    CREATE INDEX checks_run ON checks(run_id);

    CREATE TABLE posts (
        account_id TEXT NOT NULL REFERENCES accounts(id),
        url_sha256 TEXT NOT NULL,
        published_at TEXT,
        first_seen_at TEXT NOT NULL,
        PRIMARY KEY (account_id, url_sha256)
    ) WITHOUT ROWID;

    CREATE TABLE notices (
        id INTEGER PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id),
        key_sha256 TEXT NOT NULL,      -- hash of the post URL (or of the text when there is none)
        post_url TEXT,
        published_at TEXT,
        detected_at TEXT NOT NULL,
        score REAL NOT NULL,
        kind TEXT NOT NULL,            -- move | closing
        matched TEXT NOT NULL,         -- JSON list of matched phrases
        snippet TEXT NOT NULL,         -- at most ~200 characters, names masked
        state TEXT NOT NULL DEFAULT 'pending',  -- pending | confirmed | rejected
        reviewer TEXT,
        reviewed_at TEXT,
        comment TEXT,
        UNIQUE (account_id, key_sha256)
    );
    CREATE INDEX notices_state ON notices(state);

    CREATE TABLE notice_reviews (      -- the audit trail: append only
        id INTEGER PRIMARY KEY,
        notice_id INTEGER NOT NULL REFERENCES notices(id),
        at TEXT NOT NULL,
        reviewer TEXT NOT NULL,
        old_state TEXT NOT NULL,
        new_state TEXT NOT NULL,
        comment TEXT
    );

    CREATE TABLE status_changes (
        id INTEGER PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id),
        at TEXT NOT NULL,
        old TEXT,
        new TEXT NOT NULL,
        reason TEXT,
        run_id INTEGER
    );
    CREATE INDEX status_changes_account_time ON status_changes(account_id, at);
    CREATE INDEX status_changes_time ON status_changes(at);

    CREATE TABLE registry_changes (
        id INTEGER PRIMARY KEY,
        account_id TEXT NOT NULL,
        at TEXT NOT NULL,
        change TEXT NOT NULL,          -- added | updated | deregistered | reregistered
        detail TEXT
    );

    CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY,
        run_id INTEGER REFERENCES runs(id),
        taken_at TEXT NOT NULL,        -- the crawl's clock
        registered INTEGER NOT NULL,
        existing INTEGER NOT NULL,     -- registered and not gone
        active INTEGER NOT NULL,
        dormant INTEGER NOT NULL,
        gone INTEGER NOT NULL,
        unknown INTEGER NOT NULL,
        unchecked INTEGER NOT NULL,
        announced INTEGER NOT NULL,    -- accounts with a confirmed notice
        pending_review INTEGER NOT NULL
    );
    CREATE INDEX snapshots_time ON snapshots(taken_at);

    CREATE TABLE snapshot_counts (     -- the same counts broken down by platform and by area
        snapshot_id INTEGER NOT NULL REFERENCES snapshots(id),
        dimension TEXT NOT NULL,       -- platform | area
        key TEXT NOT NULL,
        status TEXT NOT NULL,          -- active | dormant | gone | unknown | unchecked
        count INTEGER NOT NULL,
        PRIMARY KEY (snapshot_id, dimension, key, status)
    ) WITHOUT ROWID;

    """,
    # 1 -> 2: views for analysts (documented in the README)
    """
    CREATE VIEW current_inventory AS
        SELECT id, unit, area, platform, url, status, status_since, status_reason, last_post_at,
               last_post_estimated, post_count, last_checked_at, last_ok_at, consecutive_failures,
               announced_move, registered_at
        FROM accounts WHERE deregistered_at IS NULL;

    CREATE VIEW status_over_time AS
        SELECT taken_at, registered, existing, active, dormant, gone, unknown, unchecked,
               announced, pending_review, run_id
        FROM snapshots ORDER BY taken_at;

    CREATE VIEW pending_review AS
        SELECT n.id, n.account_id, a.unit, a.area, a.platform, n.published_at, n.detected_at,
               n.score, n.kind, n.snippet, n.post_url
        FROM notices n JOIN accounts a ON a.id = n.account_id
        WHERE n.state = 'pending' ORDER BY n.detected_at;

    CREATE VIEW account_history AS
        SELECT c.account_id, a.unit, a.area, a.platform, c.at, c.old, c.new, c.reason
        FROM status_changes c JOIN accounts a ON a.id = c.account_id
        ORDER BY c.account_id, c.at;
    """,
    # 2 -> 3: the audit trails are append-only, enforced by the database itself
    """
    CREATE TRIGGER notice_reviews_append_only_update BEFORE UPDATE ON notice_reviews
    BEGIN SELECT RAISE(ABORT, 'notice_reviews is an audit trail: rows are never changed'); END;
    CREATE TRIGGER notice_reviews_append_only_delete BEFORE DELETE ON notice_reviews
    BEGIN SELECT RAISE(ABORT, 'notice_reviews is an audit trail: rows are never deleted'); END;
    CREATE TRIGGER status_changes_append_only_update BEFORE UPDATE ON status_changes
    BEGIN SELECT RAISE(ABORT, 'status_changes is a history: rows are never changed'); END;
    CREATE TRIGGER status_changes_append_only_delete BEFORE DELETE ON status_changes
    BEGIN SELECT RAISE(ABORT, 'status_changes is a history: rows are never deleted'); END;
    CREATE TRIGGER registry_changes_append_only_update BEFORE UPDATE ON registry_changes
    BEGIN SELECT RAISE(ABORT, 'registry_changes is an audit trail: rows are never changed'); END;
    CREATE TRIGGER registry_changes_append_only_delete BEFORE DELETE ON registry_changes
    BEGIN SELECT RAISE(ABORT, 'registry_changes is an audit trail: rows are never deleted'); END;
    """,
    # 3 -> 4: a notice's decision comes from the append-only trail (issue 17.11), and notice kinds
    # (issue 14). A reviewer's decision is one INSERT into notice_reviews; triggers copy it onto the
    # notice row and the account's announced_move, and refuse any other change of those columns, so a
    # direct edit of a notice (or of the flag) cannot disagree with the trail. Existing rows are
    # brought into line with their trail first: where they disagreed, the trail wins.
    # announced_move follows the notices confirmed as a move to Tempus Hemma (view announcing_notices);
    # a decision made before version 4 (its trail entry has no kind) counts as it did then, whatever
    # the kind, since 0.1's "confirm" meant "announced the move or the account's closing".
    """
    ALTER TABLE notice_reviews ADD COLUMN kind TEXT;  -- the kind decided (NULL only in entries before v4)
    ALTER TABLE notices ADD COLUMN decided_kind TEXT; -- the kind of the latest decision (NULL while pending)

    UPDATE notices SET
        state = coalesce((SELECT r.new_state FROM notice_reviews r WHERE r.notice_id = notices.id
                          ORDER BY r.id DESC LIMIT 1), 'pending'),
        reviewer = (SELECT r.reviewer FROM notice_reviews r WHERE r.notice_id = notices.id ORDER BY r.id DESC LIMIT 1),
        reviewed_at = (SELECT r.at FROM notice_reviews r WHERE r.notice_id = notices.id ORDER BY r.id DESC LIMIT 1),
        comment = (SELECT r.comment FROM notice_reviews r WHERE r.notice_id = notices.id ORDER BY r.id DESC LIMIT 1),
        decided_kind = (SELECT coalesce(r.kind, notices.kind) FROM notice_reviews r WHERE r.notice_id = notices.id
                        ORDER BY r.id DESC LIMIT 1);
    CREATE VIEW announcing_notices AS
        SELECT n.id, n.account_id, n.detected_at, n.decided_kind FROM notices n
        WHERE n.state = 'confirmed' AND (n.decided_kind = 'move' OR (
            SELECT r.kind FROM notice_reviews r WHERE r.notice_id = n.id ORDER BY r.id DESC LIMIT 1) IS NULL);
    UPDATE accounts SET announced_move = EXISTS (SELECT 1 FROM announcing_notices n WHERE n.account_id = accounts.id);

    -- A trail entry names its reviewer, follows the notice's current state, and decides a known kind.
    CREATE TRIGGER notice_reviews_checked BEFORE INSERT ON notice_reviews
    BEGIN SELECT CASE
        WHEN NOT EXISTS (SELECT 1 FROM notices WHERE id = NEW.notice_id)
            THEN RAISE(ABORT, 'notice_reviews: no such notice')
        WHEN NEW.reviewer IS NULL OR trim(NEW.reviewer, char(9, 10, 11, 12, 13, 32, 160, 8203, 8288, 12288, 65279)) = ''
            THEN RAISE(ABORT, 'notice_reviews: a decision needs the reviewer''s name')
        WHEN NEW.new_state NOT IN ('confirmed', 'rejected')
            THEN RAISE(ABORT, 'notice_reviews: a decision confirms or rejects')
        WHEN NEW.kind IS NULL OR NEW.kind NOT IN ('move', 'closing', 'elsewhere')
            THEN RAISE(ABORT, 'notice_reviews: a decision names the kind decided (move, closing or elsewhere)')
        WHEN NEW.old_state IS NOT (SELECT state FROM notices WHERE id = NEW.notice_id)
            THEN RAISE(ABORT, 'notice_reviews: the notice is no longer in old_state (reviewed by someone else)')
    END; END;

    -- The decision is applied to the notice, and the notice's account flag follows its notices.
    CREATE TRIGGER notice_reviews_apply AFTER INSERT ON notice_reviews
    BEGIN
        UPDATE notices SET state = NEW.new_state, reviewer = NEW.reviewer, reviewed_at = NEW.at,
                           comment = NEW.comment, decided_kind = coalesce(NEW.kind, kind)
        WHERE id = NEW.notice_id;
    END;
    CREATE TRIGGER notices_flag_the_account AFTER UPDATE OF state, decided_kind ON notices
    BEGIN
        UPDATE accounts SET announced_move = EXISTS (SELECT 1 FROM announcing_notices n
                                                     WHERE n.account_id = NEW.account_id)
        WHERE id = NEW.account_id;
    END;

    -- Nothing else may change a decision, the flag, or a decided notice's evidence.
    CREATE TRIGGER notices_decision_from_the_trail BEFORE UPDATE OF state, reviewer, reviewed_at, comment,
        decided_kind ON notices
    WHEN (NEW.state, NEW.reviewer, NEW.reviewed_at, NEW.comment, NEW.decided_kind)
         IS NOT (OLD.state, OLD.reviewer, OLD.reviewed_at, OLD.comment, OLD.decided_kind)
     AND NOT EXISTS (SELECT 1 FROM notice_reviews r
                     WHERE r.id = (SELECT max(id) FROM notice_reviews WHERE notice_id = NEW.id)
                       AND r.new_state IS NEW.state AND r.reviewer IS NEW.reviewer AND r.at IS NEW.reviewed_at
                       AND r.comment IS NEW.comment AND coalesce(r.kind, NEW.kind) IS NEW.decided_kind)
    BEGIN SELECT RAISE(ABORT, 'a notice''s decision changes only through a notice_reviews entry (crawler review)'); END;
    CREATE TRIGGER notices_born_pending BEFORE INSERT ON notices
    WHEN NEW.state IS NOT 'pending' OR NEW.reviewer IS NOT NULL OR NEW.reviewed_at IS NOT NULL
      OR NEW.comment IS NOT NULL OR NEW.decided_kind IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'a notice is stored pending; decisions go into notice_reviews'); END;
    CREATE TRIGGER notices_evidence_fixed_once_decided BEFORE UPDATE OF post_url, published_at, score, kind,
        matched, snippet ON notices
    WHEN OLD.state IS NOT 'pending'
     AND (NEW.post_url, NEW.published_at, NEW.score, NEW.kind, NEW.matched, NEW.snippet)
         IS NOT (OLD.post_url, OLD.published_at, OLD.score, OLD.kind, OLD.matched, OLD.snippet)
    BEGIN SELECT RAISE(ABORT, 'the evidence of a reviewed notice is never changed'); END;
    CREATE TRIGGER notices_identity_fixed BEFORE UPDATE OF id, account_id, key_sha256, detected_at ON notices
    WHEN (NEW.id, NEW.account_id, NEW.key_sha256, NEW.detected_at)
         IS NOT (OLD.id, OLD.account_id, OLD.key_sha256, OLD.detected_at)
    BEGIN SELECT RAISE(ABORT, 'a notice''s account, post and detection time are never changed'); END;
    CREATE TRIGGER notices_never_deleted BEFORE DELETE ON notices
    BEGIN SELECT RAISE(ABORT, 'notices are evidence: rows are never deleted (reject one instead)'); END;
    CREATE TRIGGER accounts_flag_from_the_notices BEFORE UPDATE OF announced_move ON accounts
    WHEN NEW.announced_move IS NOT (SELECT EXISTS (SELECT 1 FROM announcing_notices n WHERE n.account_id = NEW.id))
    BEGIN SELECT RAISE(ABORT, 'announced_move follows the confirmed notices; decide with crawler review'); END;
    CREATE TRIGGER accounts_born_unflagged BEFORE INSERT ON accounts WHEN NEW.announced_move IS NOT 0
    BEGIN SELECT RAISE(ABORT, 'announced_move follows the confirmed notices; decide with crawler review'); END;
    """,
    # 4 -> 5: discovery (issue 20): accounts the registry lacks, with the evidence where each was
    # found, and the decisions people made about them (append-only). Only URLs, link texts and
    # where they were found are kept, never a page's text.
    """
    CREATE TABLE candidates (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,      -- the account's canonical profile URL (platforms.profile_url)
        platform TEXT NOT NULL,
        state TEXT NOT NULL,           -- proposed | excluded | accepted | dismissed | registered
        score REAL NOT NULL,
        reason TEXT NOT NULL,          -- why proposed or excluded: the scoring's reasons
        unit TEXT,                     -- guessed from the pages and the registry's unit names
        area TEXT,
        checked TEXT,                  -- what the profile check said (exists, not found, login wall, ...)
        first_seen_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        decided_at TEXT,               -- the latest decision (copied from candidate_decisions)
        decided_by TEXT,
        account_id TEXT                -- the registry id written on accept
    );
    CREATE INDEX candidates_state ON candidates(state);

    CREATE TABLE candidate_evidence (
        candidate_id INTEGER NOT NULL REFERENCES candidates(id),
        page_url TEXT NOT NULL,        -- the page the link was found on
        link_url TEXT NOT NULL,        -- the link as written there (absolute)
        link_text TEXT NOT NULL,       -- at most 200 characters, control characters removed
        how TEXT NOT NULL,             -- link | rel-me | same-as | mention
        region TEXT,                   -- header | footer | nav | aside | main | head
        source TEXT NOT NULL,          -- account (a registered account's page) | seed | link-in-bio
        source_account TEXT,           -- the registered account whose page (or link-in-bio page) it was
        first_seen_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        PRIMARY KEY (candidate_id, page_url, link_url, how)
    ) WITHOUT ROWID;

    CREATE TABLE candidate_decisions ( -- the audit trail: append only
        id INTEGER PRIMARY KEY,
        candidate_id INTEGER NOT NULL REFERENCES candidates(id),
        at TEXT NOT NULL,
        by TEXT NOT NULL,              -- the person (or "crawler discover" for a reopening)
        decision TEXT NOT NULL,        -- accepted | dismissed | reopened
        old_state TEXT NOT NULL,
        account_id TEXT,               -- the registry id written on accept
        comment TEXT
    );
    CREATE INDEX candidate_decisions_candidate ON candidate_decisions(candidate_id);
    CREATE TRIGGER candidate_decisions_append_only_update BEFORE UPDATE ON candidate_decisions
    BEGIN SELECT RAISE(ABORT, 'candidate_decisions is an audit trail: rows are never changed'); END;
    CREATE TRIGGER candidate_decisions_append_only_delete BEFORE DELETE ON candidate_decisions
    BEGIN SELECT RAISE(ABORT, 'candidate_decisions is an audit trail: rows are never deleted'); END;
    """,
    # 5 -> 6: reasons are data (issue 19.1): the classifier's reason is stored once, as its kind
    # (crawler.reasons.KINDS) and its values (a JSON object), and written per language by the report.
    # Rows written before keep their English text in `reason` / `status_reason` (kind NULL); new rows
    # leave the text column NULL unless the reason is only text (kind "text" is stored as text).
    """
    ALTER TABLE status_changes ADD COLUMN reason_kind TEXT;
    ALTER TABLE status_changes ADD COLUMN reason_values TEXT;
    ALTER TABLE accounts ADD COLUMN status_reason_kind TEXT;
    ALTER TABLE accounts ADD COLUMN status_reason_values TEXT;

    DROP VIEW current_inventory;
    CREATE VIEW current_inventory AS
        SELECT id, unit, area, platform, url, status, status_since, status_reason, status_reason_kind,
               status_reason_values, last_post_at, last_post_estimated, post_count, last_checked_at, last_ok_at,
               consecutive_failures, announced_move, registered_at
        FROM accounts WHERE deregistered_at IS NULL;
    DROP VIEW account_history;
    CREATE VIEW account_history AS
        SELECT c.account_id, a.unit, a.area, a.platform, c.at, c.old, c.new, c.reason, c.reason_kind, c.reason_values
        FROM status_changes c JOIN accounts a ON a.id = c.account_id
        ORDER BY c.account_id, c.at;
    """,
]

# Per-account schedule, host pauses, alerts and the snapshot's freshness (issue 18). A visit writes
# its account's next visit in the same transaction as the visit (crawler/schedule.py decides it);
# `hosts` carries a Retry-After across the service's passes; `alerts` holds one row per incident
# (at most one open per key), so an incident is told once when it opens and once when it closes;
# `notified` is how far reviewers have been told about new notices; `snapshot_freshness` says, per
# figure of a snapshot, how recent the visits behind it are ("every account seen within 7 days").
_SCHEDULE = """
    ALTER TABLE accounts ADD COLUMN next_due_at TEXT;       -- the next visit the schedule wants (NULL: due now)
    ALTER TABLE accounts ADD COLUMN due_reason TEXT;        -- the rule that set it: activity | backoff | ...
    ALTER TABLE accounts ADD COLUMN revisit_seconds INTEGER; -- the interval it wants, before its host's budget
    ALTER TABLE accounts ADD COLUMN posts_per_week REAL;    -- its posting rate as last measured
    ALTER TABLE accounts ADD COLUMN visit_requests INTEGER; -- requests its last visit took (its cost)
    CREATE INDEX accounts_next_due ON accounts(next_due_at);

    CREATE TABLE hosts (               -- a host's pause asked by Retry-After, across passes
        host TEXT PRIMARY KEY,
        paused_until TEXT NOT NULL,
        reason TEXT,
        updated_at TEXT NOT NULL
    );

    CREATE TABLE alerts (              -- incidents told to ops (and when they ended)
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,             -- registry | cycle_failed | no_good_pass | api:meta | failing | ...
        severity TEXT NOT NULL,        -- stale | degraded
        opened_at TEXT NOT NULL,
        summary TEXT NOT NULL,         -- what `crawler status` said when it opened
        sent TEXT,                     -- JSON list of the channels that took the opening message
        closed_at TEXT,
        closed_sent TEXT               -- JSON list of the channels that took the recovery message
    );
    CREATE UNIQUE INDEX alerts_one_open ON alerts(key) WHERE closed_at IS NULL;
    CREATE INDEX alerts_opened ON alerts(opened_at);

    CREATE TABLE notified (            -- how far an audience has been told (reviewers: notice ids)
        audience TEXT PRIMARY KEY,
        upto INTEGER NOT NULL,
        at TEXT NOT NULL
    );

    CREATE TABLE snapshot_freshness (  -- per figure of a snapshot: how recent its accounts' visits are
        snapshot_id INTEGER NOT NULL REFERENCES snapshots(id),
        dimension TEXT NOT NULL,       -- all | platform | area
        key TEXT NOT NULL,             -- '' for all
        status TEXT NOT NULL,          -- active | dormant | gone | unknown | unchecked | all
        accounts INTEGER NOT NULL,
        oldest_check_at TEXT,          -- the least recent last visit among those visited (NULL: none)
        never INTEGER NOT NULL,        -- of them, never visited
        seen_1d INTEGER NOT NULL,      -- of them, visited within a day of the snapshot
        seen_7d INTEGER NOT NULL,
        seen_30d INTEGER NOT NULL,
        PRIMARY KEY (snapshot_id, dimension, key, status)
    ) WITHOUT ROWID;
    """
MIGRATIONS.append(_SCHEDULE)  # 6 -> 7 (after the reasons-as-data step)
SCHEDULE_VERSION = MIGRATIONS.index(_SCHEDULE) + 1
MIGRATIONS.append(_ROUTES)  # 7 -> 8: routes and api_status (issue 15), written out at the top
# The version that added routes and api_status (readers of an older inventory see none).
ROUTES_VERSION = MIGRATIONS.index(_ROUTES) + 1

# The web app's people (issue 16): users with a role, the append-only trail of who changed
# which user, and login sessions. A session keeps only the SHA-256 of its token (the cookie holds
# the token), so reading the inventory never lets anyone take over a session; a password is kept
# only as its argon2id hash (NULL: no password, such as a user who signs in through the proxy's SSO).
_USERS = """
    CREATE TABLE users (
        name TEXT PRIMARY KEY,         -- the login name, recorded with each decision (lower case)
        role TEXT NOT NULL CHECK (role IN ('viewer', 'reviewer', 'admin')),
        password_hash TEXT,            -- argon2id (argon2-cffi); NULL: no password set
        created_at TEXT NOT NULL,
        password_changed_at TEXT,
        disabled_at TEXT,              -- set: may not sign in, sessions ended
        last_login_at TEXT
    );
    CREATE TABLE user_changes (        -- the audit trail of user management: append only
        id INTEGER PRIMARY KEY,
        user_name TEXT NOT NULL REFERENCES users(name),
        at TEXT NOT NULL,
        by TEXT NOT NULL,              -- the admin's login name, or "crawler users" (the command line)
        change TEXT NOT NULL,          -- added | role | password | disabled | enabled
        detail TEXT                    -- the new role; never a password or hash
    );
    CREATE INDEX user_changes_user ON user_changes(user_name);
    CREATE TRIGGER user_changes_append_only_update BEFORE UPDATE ON user_changes
    BEGIN SELECT RAISE(ABORT, 'user_changes is an audit trail: rows are never changed'); END;
    CREATE TRIGGER user_changes_append_only_delete BEFORE DELETE ON user_changes
    BEGIN SELECT RAISE(ABORT, 'user_changes is an audit trail: rows are never deleted'); END;
    CREATE TRIGGER users_never_deleted BEFORE DELETE ON users
    BEGIN SELECT RAISE(ABORT, 'users are never deleted (their decisions name them): disable one instead'); END;
    CREATE TABLE sessions (
        token_sha256 TEXT PRIMARY KEY, -- the cookie's token, hashed
        user_name TEXT NOT NULL REFERENCES users(name),
        created_at TEXT NOT NULL,
        seen_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        via TEXT NOT NULL              -- password | sso
    );
    CREATE INDEX sessions_user ON sessions(user_name);
    """
MIGRATIONS.append(_USERS)  # 8 -> 9 (after the routes step)
USERS_VERSION = MIGRATIONS.index(_USERS) + 1

# Credentials out of stored URLs (issue 17.12). Since 0.2 the registry refuses a URL with a user
# name or password (`https://user:pass@host/`) or a secret query parameter (crawler.sources
# .SECRET_PARAMS), but an inventory filled before may hold such URLs in the columns below. This
# step removes the userinfo (everything up to the authority's last '@', as urlsplit reads it) and
# writes REDACTED for the value of every secret parameter of the query (the keys as written, any
# case; the rest of the URL as it was). Only values that change are written; other URLs, and the
# hashes of post URLs (notices.key_sha256, posts.url_sha256: a crawl must still recognise a post),
# are left alone. The two triggers that refuse such an update (an audit trail's row, a decided
# notice's evidence) are dropped for the step and created again exactly as version 3 and 4 wrote them.
# The parameter list is written out (a released step never changes): a parameter added to
# SECRET_PARAMS later needs a step of its own (tests/test_store_migrations.py checks the two agree).
_SCRUB = """
    CREATE TEMP TABLE scrub_urls (old TEXT PRIMARY KEY, new TEXT NOT NULL);
    WITH RECURSIVE
    stored(v) AS (
        SELECT url FROM accounts UNION SELECT feed_url FROM accounts UNION SELECT source_url FROM accounts
        UNION SELECT discovered_feed_url FROM accounts UNION SELECT last_post_url FROM accounts
        UNION SELECT url FROM checks UNION SELECT final_url FROM checks
        UNION SELECT post_url FROM notices UNION SELECT detail FROM registry_changes
    ),
    -- the authority: from '://' up to the first '/', '?' or '#'
    found(v, rest) AS (
        SELECT v, substr(v, instr(v, '://') + 3) FROM stored
        WHERE instr(v, '://') > 0 AND (instr(v, '@') > 0 OR instr(v, '?') > 0)
    ),
    authority(v, rest, a) AS (
        SELECT v, rest, substr(rest, 1, min(instr(rest || '/', '/'), instr(rest || '?', '?'), instr(rest || '#', '#')) - 1)
        FROM found
    ),
    -- rtrim(a, every character of a but '@') keeps a up to its last '@': the userinfo and the '@'
    unuser(v, w) AS (
        SELECT v, CASE WHEN instr(a, '@') > 0
                       THEN substr(v, 1, instr(v, '://') + 2) || substr(rest, length(rtrim(a, replace(a, '@', ''))) + 1)
                       ELSE v END
        FROM authority
    ),
    -- the query: after the first '?', up to the first '#' (a '?' after the '#' is the fragment's)
    marks(v, w, q, h) AS (SELECT v, w, instr(w, '?'), instr(w || '#', '#') FROM unuser),
    -- its parameters one at a time, split at '&': done holds the ones written, rest those to come
    params(v, head, tail, done, rest) AS (
        SELECT v, substr(w, 1, q), substr(w, h), NULL, substr(w, q + 1, h - q - 1) || '&'
        FROM marks WHERE q > 0 AND q < h
        UNION ALL
        SELECT v, head, tail,
               CASE WHEN done IS NULL THEN '' ELSE done || '&' END
               || CASE WHEN instr(rest, '=') > 0 AND instr(rest, '=') + 1 < instr(rest, '&')
                        AND lower(substr(rest, 1, instr(rest, '=') - 1)) IN (
                            'access_token', 'token', 'auth', 'password', 'passwd', 'pwd', 'secret',
                            'client_secret', 'api_key', 'apikey', 'key', 'sig', 'signature')
                       THEN substr(rest, 1, instr(rest, '=')) || 'REDACTED'
                       ELSE substr(rest, 1, instr(rest, '&') - 1) END,
               substr(rest, instr(rest, '&') + 1)
        FROM params WHERE rest <> ''
    ),
    scrubbed(v, new) AS (
        SELECT v, head || done || tail FROM params WHERE rest = ''
        UNION ALL
        SELECT v, w FROM marks WHERE NOT (q > 0 AND q < h)
    )
    INSERT INTO scrub_urls (old, new) SELECT v, new FROM scrubbed WHERE new IS NOT v;

    UPDATE accounts SET url = (SELECT new FROM scrub_urls WHERE old = accounts.url)
    WHERE url IN (SELECT old FROM scrub_urls);
    UPDATE accounts SET feed_url = (SELECT new FROM scrub_urls WHERE old = accounts.feed_url)
    WHERE feed_url IN (SELECT old FROM scrub_urls);
    UPDATE accounts SET source_url = (SELECT new FROM scrub_urls WHERE old = accounts.source_url)
    WHERE source_url IN (SELECT old FROM scrub_urls);
    UPDATE accounts SET discovered_feed_url = (SELECT new FROM scrub_urls WHERE old = accounts.discovered_feed_url)
    WHERE discovered_feed_url IN (SELECT old FROM scrub_urls);
    UPDATE accounts SET last_post_url = (SELECT new FROM scrub_urls WHERE old = accounts.last_post_url)
    WHERE last_post_url IN (SELECT old FROM scrub_urls);
    UPDATE checks SET url = (SELECT new FROM scrub_urls WHERE old = checks.url)
    WHERE url IN (SELECT old FROM scrub_urls);
    UPDATE checks SET final_url = (SELECT new FROM scrub_urls WHERE old = checks.final_url)
    WHERE final_url IN (SELECT old FROM scrub_urls);

    DROP TRIGGER notices_evidence_fixed_once_decided;
    UPDATE notices SET post_url = (SELECT new FROM scrub_urls WHERE old = notices.post_url)
    WHERE post_url IN (SELECT old FROM scrub_urls);
    CREATE TRIGGER notices_evidence_fixed_once_decided BEFORE UPDATE OF post_url, published_at, score, kind,
        matched, snippet ON notices
    WHEN OLD.state IS NOT 'pending'
     AND (NEW.post_url, NEW.published_at, NEW.score, NEW.kind, NEW.matched, NEW.snippet)
         IS NOT (OLD.post_url, OLD.published_at, OLD.score, OLD.kind, OLD.matched, OLD.snippet)
    BEGIN SELECT RAISE(ABORT, 'the evidence of a reviewed notice is never changed'); END;

    DROP TRIGGER registry_changes_append_only_update;
    UPDATE registry_changes SET detail = (SELECT new FROM scrub_urls WHERE old = registry_changes.detail)
    WHERE detail IN (SELECT old FROM scrub_urls);
    CREATE TRIGGER registry_changes_append_only_update BEFORE UPDATE ON registry_changes
    BEGIN SELECT RAISE(ABORT, 'registry_changes is an audit trail: rows are never changed'); END;

    DROP TABLE temp.scrub_urls;
    """
MIGRATIONS.append(_SCRUB)  # 9 -> 10 (after the users step)
SCRUB_VERSION = MIGRATIONS.index(_SCRUB) + 1

SCHEMA_VERSION = len(MIGRATIONS)
REASONS_VERSION = 6  # from this version on, reasons are stored as kind + values (readers adapt before it)

# The notice kinds (issue 14). A confirmed `move` (to Tempus Hemma) sets the account's announced_move
# (view announcing_notices); closings and moves elsewhere are listed, not counted as the move. Version
# 4's triggers and view spell this out; changing it needs a new migration that replaces them.
NOTICE_KINDS = ("move", "closing", "elsewhere")
# Readers (status, report, export, browse) need the tables and the analyst views (version 2); later
# versions add nothing they read, so an inventory the service has not migrated yet stays readable.
MIN_READABLE_VERSION = 2


def _statements(script: str) -> list[str]:
    """Split a migration script into complete statements (sqlite3.complete_statement decides)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
