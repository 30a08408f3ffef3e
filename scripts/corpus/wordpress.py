"""WordPress 6.1 from Debian (Apache + mod_php + MariaDB, sv_SE from wordpress-l10n), several
bundled themes, and the traps: a database outage, a deleted site, an address that later serves
another site or nginx's default page, feeds turned off, a static front page, conditional GETs
through mod_deflate.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from capture import Recorder, expect, iso
from posts import Post, preschool_posts
from servers import APACHE_PORT, NGINX_PORT, Servers, faketime_env, run

WP = "/usr/share/wordpress"
CONNECT = f"http://127.0.0.1:{APACHE_PORT}"
PERMALINKS = "/%year%/%monthnum%/%day%/%postname%/"

FEEDS_OFF_PLUGIN = """<?php
/* Feeds turned off, as the widely copied snippet (and several "disable feeds" plugins) do it. */
function corpus_disable_feed() {
    wp_die(__('No feed available, please visit the <a href="' . esc_url(home_url('/')) . '">homepage</a>!'));
}
foreach (array('do_feed', 'do_feed_rdf', 'do_feed_rss', 'do_feed_rss2', 'do_feed_atom', 'do_feed_rss2_comments',
               'do_feed_atom_comments') as $hook) {
    add_action($hook, 'corpus_disable_feed', 1);
}
remove_action('wp_head', 'feed_links_extra', 3);
remove_action('wp_head', 'feed_links', 2);
"""


@dataclass
class Site:
    name: str
    title: str
    theme: str
    posts: list[Post]
    per_page: int
    tagline: str = "Här berättar vi om vardagen på förskolan"
    feeds_off: bool = False
    pages: list[tuple[str, str, str]] = field(default_factory=list)  # (slug, title, text)
    front_page: str | None = None
    posts_page: str | None = None
    traps: tuple[str, ...] = ()

    @property
    def host(self) -> str:
        return f"{self.name}.test:{APACHE_PORT}"

    @property
    def origin(self) -> str:
        return f"http://{self.host}"

    def url(self, post: Post) -> str:
        local = post.local
        return f"/{local:%Y/%m/%d}/{post.slug}/"


def sites() -> list[Site]:
    return [
        Site("solrosen", "Förskolan Solrosen", "twentytwentythree", preschool_posts(27), per_page=5,
             traps=("outage", "removed", "replaced", "removed-nginx")),
        Site("tallbacken", "Förskolan Tallbacken", "twentytwentyone", preschool_posts(14, shift_days=2), per_page=4),
        Site("ekbacken", "Förskolan Ekbacken", "twentytwentytwo", preschool_posts(12, shift_days=5), per_page=5,
             feeds_off=True, front_page="valkommen", posts_page="nyheter",
             pages=[("valkommen", "Välkommen till Ekbacken", "Ekbacken är en förskola med fyra avdelningar nära parken."),
                    ("nyheter", "Nyheter", ""),
                    ("om-oss", "Om oss", "Vi har öppet vardagar 6.30 till 18.00.")]),
    ]


def replacement() -> Site:
    """What later answers at a deleted preschool blog's address: somebody else's WordPress."""
    posts = [Post(n + 1, t, x, at, "Nyheter", s) for n, (t, x, at, s) in enumerate([
        ("Nya öppettider i kliniken", "Vi har nu öppet även på lördagar.", _utc(2023, 3, 20, 8, 0), "nya-oppettider"),
        ("Välkommen till Tandvårdshuset", "Vi har tagit över adressen och välkomnar nya patienter.", _utc(2023, 4, 3, 7, 30), "valkommen-till-tandvardshuset"),
        ("Boka tid på nätet", "Nu kan du boka tid direkt här på sidan.", _utc(2023, 4, 12, 12, 5), "boka-tid-pa-natet"),
    ])]
    return Site("tandvardshuset", "Tandvårdshuset", "twentytwentythree", posts, per_page=10,
                tagline="Tandvård för hela familjen")


def _utc(y, mo, d, h, mi):
    from datetime import UTC, datetime

    return datetime(y, mo, d, h, mi, tzinfo=UTC)


class WordPress:
    def __init__(self, servers: Servers, out: Path):
        self.servers = servers
        self.out = out
        self.work = servers.work / "wp"

    # ------------------------------------------------------------------------------ set-up

    def create(self, site: Site) -> dict[str, int]:
        db = self.servers.mariadb
        password = db.password
        db.sql(f"CREATE DATABASE IF NOT EXISTS corpus_{site.name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci")
        db.sql(f"CREATE USER IF NOT EXISTS 'corpus'@'localhost' IDENTIFIED BY '{password}'")
        db.sql(f"GRANT ALL ON corpus_{site.name}.* TO 'corpus'@'localhost'")
        content = self.work / site.name / "wp-content"
        for sub in ("themes", "plugins", "uploads", "mu-plugins"):
            (content / sub).mkdir(parents=True, exist_ok=True)
        for theme in Path(f"{WP}/wp-content/themes").iterdir():
            link = content / "themes" / theme.name
            if not link.exists():
                link.symlink_to(theme)
        if not (content / "languages").exists():
            (content / "languages").symlink_to("/var/lib/wordpress/wp-content/languages")
        if site.feeds_off:
            (content / "mu-plugins" / "feeds-off.php").write_text(FEEDS_OFF_PLUGIN)
        subprocess.run(["chown", "-R", "www-data:www-data", str(self.work / site.name)], check=True)
        Path(f"/etc/wordpress/config-corpus-{site.name}.php").write_text(
            "<?php\n/* Written by scripts/corpus (a throwaway site on loopback). */\n"
            f"define('DB_NAME', 'corpus_{site.name}');\ndefine('DB_USER', 'corpus');\n"
            f"define('DB_PASSWORD', '{password}');\ndefine('DB_HOST', 'localhost:{db.socket}');\n"
            f"define('WP_CONTENT_DIR', '{content}');\ndefine('WP_CONTENT_URL', '{site.origin}/wp-content');\n"
            f"define('WP_HOME', '{site.origin}');\ndefine('WP_SITEURL', '{site.origin}');\n"
            "define('DISABLE_WP_CRON', true);\ndefine('AUTOMATIC_UPDATER_DISABLED', true);\n"
            "define('WP_HTTP_BLOCK_EXTERNAL', true);\ndefine('WP_DEBUG', false);\n"
            + "".join(f"define('{k}', 'corpus-{site.name}-{k.lower()}');\n" for k in
                      ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT", "SECURE_AUTH_SALT",
                       "LOGGED_IN_SALT", "NONCE_SALT"))
        )
        spec = {
            "host": site.host, "origin": site.origin, "title": site.title, "language": "sv_SE", "theme": site.theme,
            "categories": sorted({p.category for p in site.posts}),
            "options": {"blogdescription": site.tagline, "timezone_string": "Europe/Stockholm", "date_format": "j F Y",
                        "time_format": "H:i", "posts_per_page": site.per_page, "posts_per_rss": 10,
                        "permalink_structure": PERMALINKS, "start_of_week": 1, "blog_public": 1,
                        "default_comment_status": "closed", "WPLANG": "sv_SE", "rss_use_excerpt": 0},
            "posts": [{"type": "post", "title": p.title, "slug": p.slug, "text": p.text, "category": p.category,
                       "local": f"{p.local:%Y-%m-%d %H:%M:%S}", "gmt": f"{p.at:%Y-%m-%d %H:%M:%S}"} for p in site.posts]
                     + [{"type": "page", "title": t, "slug": s, "text": x, "category": None,
                         "local": "2022-08-15 10:00:00", "gmt": "2022-08-15 08:00:00"} for s, t, x in site.pages],
            "front_page": site.front_page, "posts_page": site.posts_page,
        }
        spec_path = self.work / f"{site.name}.json"
        spec_path.write_text(json.dumps(spec, ensure_ascii=False))
        done = run(["php", str(Path(__file__).with_name("wp_setup.php")), str(spec_path)],
                   env=faketime_env({"WORDPRESS_CONFIG": f"corpus-{site.name}"}))
        self.vhost(site, site)
        return json.loads(done.stdout.strip().splitlines()[-1])

    def vhost(self, address: Site, serves: Site) -> None:
        """`address`'s host name answered by `serves`'s WordPress (the same site, or another one)."""
        content = self.work / serves.name / "wp-content"
        self.servers.apache.write_site(f"wp-{address.name}", f"""<VirtualHost 127.0.0.1:{APACHE_PORT}>
  ServerName {address.name}.test
  DocumentRoot {WP}
  SetEnv WORDPRESS_CONFIG corpus-{serves.name}
  Alias /wp-content {content}
  <Directory {WP}>
    Options FollowSymLinks
    AllowOverride Limit Options FileInfo
    DirectoryIndex index.php
    Require all granted
    RewriteEngine On
    RewriteBase /
    RewriteRule ^index\\.php$ - [L]
    RewriteCond %{{REQUEST_FILENAME}} !-f
    RewriteCond %{{REQUEST_FILENAME}} !-d
    RewriteRule . /index.php [L]
  </Directory>
  <Directory {content}>
    Options FollowSymLinks
    Require all granted
  </Directory>
</VirtualHost>
""")

    # ------------------------------------------------------------------------------ capture

    def capture(self, site: Site, other: Site | None) -> Path:
        folder = self.out / "wordpress" / f"{site.theme}-{site.name}"
        version = run(["dpkg-query", "-W", "-f=${Version}", "wordpress"]).stdout
        apache = run(["dpkg-query", "-W", "-f=${Version}", "apache2"]).stdout
        meta = {"software": "wordpress", "version": version, "server": f"Apache {apache} (Debian) + mod_php + MariaDB",
                "theme": site.theme, "language": "sv_SE", "site": site.name, "conditional": "wordpress-apache-deflate",
                "captured_at": "2023-04-15T10:00:00Z"}
        rec = Recorder(folder, site.origin, CONNECT, meta)
        desc = sorted(site.posts, key=lambda p: p.at, reverse=True)
        n = site.per_page
        feed = None if site.feeds_off else f"{site.origin}/feed/"
        count = len(site.posts)
        notes: list[str] = []
        live = "live"
        listing_base = f"/{site.posts_page}/" if site.posts_page else "/"
        if site.front_page:
            rec.get(live, "front_static_page", "/", "page", expect(True, (), note="a static front page: no posts on it"))
            rec.get(live, "posts_page", listing_base, "listing", expect(True, desc[:n]))
            notes.append("static front page: the posts are on /nyheter/, the feed is off; the REST API still answers")
        else:
            rec.get(live, "front", "/", "front", expect(True, desc[:n], feed_url=feed))
        pages = (count + n - 1) // n
        for k in sorted({2, 3, pages}):
            if 2 <= k <= pages:
                rec.get(live, f"listing_page_{k}", f"{listing_base}page/{k}/", "listing", expect(True, desc[(k - 1) * n:k * n]))
        months = sorted({(p.local.year, p.local.month) for p in site.posts}, reverse=True)
        for y, m in months[:1] + months[-2:-1]:
            in_month = [p for p in desc if (p.local.year, p.local.month) == (y, m)]
            rec.get(live, f"archive_{y}_{m:02d}", f"/{y}/{m:02d}/", "archive", expect(True, in_month[:n]))
        category = desc[0].category
        from posts import slugify

        rec.get(live, f"category_{slugify(category)}", f"/category/{slugify(category)}/", "archive",
                expect(True, [p for p in desc if p.category == category][:n]))
        rec.get(live, "author", "/author/redaktor/", "archive", expect(True, desc[:n]))
        winter = next((p for p in desc if p.local.hour == 0 and p.local.month == 1), None)
        for label, post in (("newest", desc[0]), ("second", desc[1]), ("winter_after_midnight", winter), ("oldest", desc[-1])):
            if post is not None:
                rec.get(live, f"post_{label}", site.url(post), "post", expect(True, [post]))
        for slug, _title, _text in site.pages:
            if slug not in (site.front_page, site.posts_page):
                rec.get(live, f"page_{slug}", f"/{slug}/", "page", expect(True, ()))
        if site.feeds_off:
            off = expect(None, (), note="feeds turned off: the feed URL answers an error page")
            rec.get(live, "feed_off", "/feed/", "feed", off)
            rec.get(live, "feed_off_query", "/?feed=rss2", "feed", off)
        else:
            rec.get(live, "feed", "/feed/", "feed", expect(True, desc[:10], feed_url=feed))
            rec.get(live, "feed_query", "/?feed=rss2", "feed", expect(True, desc[:10], feed_url=feed))
            rec.get(live, "feed_atom", "/feed/atom/", "feed", expect(True, desc[:10]))
            rec.get(live, "category_feed", f"/category/{slugify(category)}/feed/", "feed",
                    expect(True, [p for p in desc if p.category == category][:10]))
        rec.get(live, "rest_posts_per_page_1", "/wp-json/wp/v2/posts?per_page=1", "api",
                expect(True, desc[:1], post_count=count))
        rec.get(live, "rest_posts", "/wp-json/wp/v2/posts", "api", expect(True, desc[:10], post_count=count))
        rec.get(live, "robots", "/robots.txt", "robots", None)
        rec.get(live, "missing_post", "/2023/04/14/finns-inte/", "missing",
                expect(False, (), note="a URL of a live site that does not exist"), fallback=True)
        for path in ("/feed/", "/", "/wp-json/wp/v2/posts?per_page=1"):
            rec.probe_validators(live, path)
        truth = {"exists": True, "newest_day": desc[0].day.isoformat(), "newest_at": iso(desc[0].at),
                 "newest_title": desc[0].title, "post_count": count, "feed_url": feed,
                 "posts": [{"title": p.title, "at": iso(p.at), "day": p.day.isoformat(), "url": site.origin + site.url(p)}
                           for p in desc]}
        if "outage" in site.traps:
            self.servers.mariadb.stop()
            down = expect(None, (), note="MariaDB is down")
            rec.get("outage", "front", "/", "outage", down, fallback=True)
            rec.get("outage", "feed", "/feed/", "outage", down)
            rec.get("outage", "feed_query", "/?feed=rss2", "outage", down)
            rec.get("outage", "post_newest", site.url(desc[0]), "outage", down)
            rec.get("outage", "rest_posts_per_page_1", "/wp-json/wp/v2/posts?per_page=1", "outage", down)
            rec.get("outage", "robots", "/robots.txt", "robots", None)
            self.servers.mariadb.start()
            notes.append("outage: MariaDB stopped; WordPress answers every URL, robots.txt included, with its database error page")
        if "replaced" in site.traps and other is not None:
            self.vhost(site, other)
            self.servers.apache.reload()
            o_desc = sorted(other.posts, key=lambda p: p.at, reverse=True)
            gone = dict(needs_history=True, note="the address now serves another site (Tandvårdshuset)")
            rec.get("replaced", "front", "/", "removed", expect(False, (), **gone), check_title=False)
            rec.get("replaced", "feed", "/feed/", "removed", expect(False, (), **gone), check_title=False)
            rec.get("replaced", "feed_query", "/?feed=rss2", "removed", expect(False, (), **gone))
            rec.get("replaced", "rest_posts_per_page_1", "/wp-json/wp/v2/posts?per_page=1", "removed",
                    expect(False, (), **gone))
            rec.get("replaced", "robots", "/robots.txt", "robots", None)
            rec.get("replaced", "missing", site.url(desc[0]), "missing", expect(False, ()), fallback=True)
            truth["replaced_by"] = {"title": other.title, "newest_at": iso(o_desc[0].at)}
            notes.append("replaced: the address serves another WordPress (Tandvårdshuset) with posts newer than the deletion")
        if "removed" in site.traps:
            self.servers.apache.remove_site(f"wp-{site.name}")
            self.servers.apache.reload()
            gone = dict(needs_history=True, note="the site was deleted; Apache's default page answers")
            rec.get("removed", "front", "/", "removed", expect(False, (), **gone))
            rec.get("removed", "feed", "/feed/", "removed", expect(False, ()), fallback=True)
            rec.get("removed", "robots", "/robots.txt", "robots", None)
            rec.get("removed", "rest_posts_per_page_1", "/wp-json/wp/v2/posts?per_page=1", "removed", expect(False, ()))
            rec.probe_validators("removed", "/")
            self.vhost(site, site)
            self.servers.apache.reload()
            notes.append("removed: the virtual host is deleted; Debian's default page ('It works') answers with 200")
        if "removed-nginx" in site.traps:
            rec.connect = f"http://127.0.0.1:{NGINX_PORT}"
            gone = dict(needs_history=True, note="the address now points at a host whose nginx serves its default page")
            rec.get("removed-nginx", "front", "/", "removed", expect(False, (), **gone))
            rec.get("removed-nginx", "feed", "/feed/", "removed", expect(False, ()), fallback=True)
            rec.get("removed-nginx", "robots", "/robots.txt", "robots", None)
            rec.probe_validators("removed-nginx", "/")
            rec.connect = CONNECT
            notes.append("removed-nginx: the name points at a server whose nginx serves 'Welcome to nginx!' with 200")
        return rec.write(truth, notes)


def build(servers: Servers, out: Path) -> list[Path]:
    servers.mariadb.start()
    servers.apache.configure()
    wp = WordPress(servers, out)
    other = replacement()
    for site in sites() + [other]:
        wp.create(site)
    servers.apache.remove_site("wp-tandvardshuset")
    servers.apache.start()
    servers.nginx.configure({})
    servers.nginx.start()
    written = [wp.capture(site, other) for site in sites()]
    return written


