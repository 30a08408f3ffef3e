"""SQL for the analysts: the canned queries `crawler browse` gives Datasette, and the example query
the demo suggests. They read the views of crawler.store.schema (documented in docs/ANALYSTS.md),
so they live with the schema they depend on.
"""

from __future__ import annotations

from collections.abc import Sequence

# The query the demo's epilogue suggests for `sqlite3`.
EXAMPLE_QUERY = "SELECT * FROM status_over_time"

def canned_queries(blog_platforms: Sequence[str]) -> dict[str, dict[str, str]]:
    """Datasette's canned queries (title, description, sql), by name; `blog_platforms` are the names of
    the platforms that count as blogs (from the platform registry)."""
    blogs = ", ".join(f"'{name}'" for name in blog_platforms)
    return {
        "dormant_since_launch": {
            "title": "Blogs that went dormant (or gone) since a date",
            "description": "Blogs that changed from active to dormant or gone on or after :since (e.g. "
                           "2023-03-01, the app's launch) and are still not active, with the reason (its kind and values; "
                           "`reason` holds the text of changes recorded before schema version 6).",
            "sql": ("SELECT h.account_id, h.unit, h.area, h.platform, substr(h.at, 1, 10) AS changed_on,\n"
                    "       h.new, h.reason_kind, h.reason_values, h.reason, i.status AS status_now\n"
                    "FROM account_history h JOIN current_inventory i ON i.id = h.account_id\n"
                    f"WHERE h.platform IN ({blogs}) AND h.old = 'active'\n"
                    "  AND h.new IN ('dormant', 'gone') AND h.at >= :since AND i.status IN ('dormant', 'gone')\n"
                    "ORDER BY h.area, h.unit"),
        },
        "active_per_area": {
            "title": "Accounts per area that are still active",
            "description": "Registered accounts per area, how many are active now, and the share.",
            "sql": ("SELECT area, count(*) AS accounts,\n"
                    "       sum(status = 'active') AS active,\n"
                    "       round(100.0 * sum(status = 'active') / count(*), 1) AS active_pct\n"
                    "FROM current_inventory GROUP BY area ORDER BY area"),
        },
        "announced_move": {
            "title": "Accounts that announced the move to Tempus Hemma, with the evidence",
            "description": "Notices confirmed as a move to Tempus Hemma: the account, the post's date "
                           "and link, the snippet and who confirmed it.",
            "sql": ("SELECT n.account_id, a.unit, a.area, a.platform, n.published_at, n.detected_at,\n"
                    "       n.post_url, n.snippet, n.reviewer, n.reviewed_at\n"
                    "FROM notices n JOIN accounts a ON a.id = n.account_id\n"
                    "WHERE n.id IN (SELECT id FROM announcing_notices) ORDER BY a.area, a.unit"),
        },
    }
