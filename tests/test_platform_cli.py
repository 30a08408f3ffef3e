"""`crawler inspect FILE|URL`: the thin CLI over platforms.inspect_file / observe."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from click.testing import CliRunner

from crawler.cli import cli

CORPUS = Path(__file__).parent / "fixtures" / "platforms"
RSS = (CORPUS / "feed" / "rss2_wordpress.xml").read_bytes()


def test_inspect_a_saved_instagram_page(tmp_path):
    result = CliRunner().invoke(cli, ["--sources", str(tmp_path / "none.yaml"), "inspect",
                                      str(CORPUS / "instagram" / "deleted_status200.html"),
                                      "--url", "https://www.instagram.com/forskolan_humlan/", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["platform"] == "instagram" and data["exists"] is False


def test_inspect_text_output_never_prints_titles(tmp_path):
    result = CliRunner().invoke(cli, ["--sources", str(tmp_path / "none.yaml"), "inspect", str(CORPUS / "feed" / "rss2_wordpress.xml")])
    assert result.exit_code == 0, result.output
    assert "last_post_at: 2023-03-12 10:30 CET (2023-03-12T09:30:00+00:00)" in result.output
    assert "Utflykt" not in result.output  # a post title


def test_inspect_refuses_what_is_neither_file_nor_url(tmp_path):
    result = CliRunner().invoke(cli, ["--sources", str(tmp_path / "none.yaml"), "inspect", "no-such-thing"])
    assert result.exit_code == 1 and "not an http(s) URL" in result.output


class _Feed(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path == "/solrosen/feed/":
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=UTF-8")  # a lying Content-Type
            self.send_header("Content-Length", str(len(RSS)))
            self.end_headers()
            self.wfile.write(RSS)
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


def test_inspect_a_url_on_a_loopback_server(tmp_path, monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("CRAWLER_CONTACT", "it@forskola.example.se")
        monkeypatch.setenv("CRAWLER_ALLOW_PRIVATE_ADDRESSES", "true")
        monkeypatch.setenv("CRAWLER_PER_HOST_DELAY", "0")
        monkeypatch.setenv("CRAWLER_DEADLINE", "5")
        url = f"http://127.0.0.1:{server.server_address[1]}/solrosen/feed/"
        result = CliRunner().invoke(cli, ["--sources", str(tmp_path / "none.yaml"), "inspect", url, "--platform", "wordpress", "--json"])
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        assert data["exists"] is True and data["reason"] == "feed parsed"
        assert data["last_post_at"] == "2023-03-12T09:30:00+00:00" and data["feed_url"] == url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
