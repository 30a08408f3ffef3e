"""The real servers the corpus is captured from, each run from a private work directory.

MariaDB (own data directory and socket, no TCP), Apache with Debian's module configuration
(mod_php, mod_rewrite, mod_deflate as Debian ships them), nginx with Debian's default site.
Nothing under /etc/apache2, /etc/nginx or /etc/mysql is changed. Apache and the PHP command line
run under libfaketime at the capture moment, so the pages say what they would have said then.
Every start has a stop, and `Servers` stops whatever it started when its block exits.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
from contextlib import AbstractContextManager
from pathlib import Path

from posts import CAPTURED_AT

FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
APACHE_PORT = 8180
NGINX_PORT = 8181


def faketime_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a process that believes it runs at CAPTURED_AT (and then time moves on)."""
    env = dict(os.environ)
    env.update({"TZ": "UTC", "LD_PRELOAD": FAKETIME_LIB,
                "FAKETIME": "@" + CAPTURED_AT.strftime("%Y-%m-%d %H:%M:%S"), "FAKETIME_DONT_RESET": "1", "NO_FAKE_STAT": "1"})
    env.update(extra or {})
    return env


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def wait_for(check, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up within {seconds:.0f} s")


class MariaDB:
    def __init__(self, work: Path):
        self.dir = work / "mysql"
        self.socket = work / "mysqld.sock"
        self.pid_file = work / "mysqld.pid"
        self.proc: subprocess.Popen | None = None
        self.password = secrets.token_hex(12)  # a throwaway database on a socket: never reused

    def start(self) -> None:
        if self.proc is not None:
            return
        if not (self.dir / "mysql").exists():
            self.dir.mkdir(parents=True, exist_ok=True)
            run(["mariadb-install-db", "--no-defaults", f"--datadir={self.dir}", "--user=root",
                 "--auth-root-authentication-method=socket", "--skip-test-db"])
        self.proc = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={self.dir}", f"--socket={self.socket}", "--skip-networking",
             "--user=root", f"--pid-file={self.pid_file}", "--character-set-server=utf8mb4", "--log-error=" + str(self.dir / "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.socket.exists() and self.sql("SELECT 1", check=False).returncode == 0, "MariaDB")

    def sql(self, statement: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = ["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot", "-N", "-e", statement]
        return run(cmd) if check else subprocess.run(cmd, capture_output=True, text=True)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        if self.socket.exists():
            self.socket.unlink()


class Apache:
    """Debian's apache2 binary with a configuration of our own that includes Debian's module files."""

    MODULES = ("mpm_prefork", "authz_core", "authz_host", "access_compat", "mime", "dir", "alias", "rewrite",
               "filter", "deflate", "setenvif", "env", "headers", "php8.2")

    def __init__(self, work: Path):
        self.dir = work / "apache"
        self.sites = self.dir / "sites"
        self.running = False

    def configure(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.sites.mkdir(exist_ok=True)
        lines = [
            "ServerRoot /etc/apache2", f"PidFile {self.dir}/apache2.pid", f"DefaultRuntimeDir {self.dir}",
            f"Mutex file:{self.dir} default", "User www-data", "Group www-data", f"ErrorLog {self.dir}/error.log",
            "LogLevel warn", "Timeout 30", "KeepAlive On", f"Listen 127.0.0.1:{APACHE_PORT}", "ServerName localhost",
        ]
        for module in self.MODULES:
            lines.append(f"Include mods-available/{module}.load")
            if Path(f"/etc/apache2/mods-available/{module}.conf").exists():
                lines.append(f"Include mods-available/{module}.conf")
        lines += [
            "Include conf-available/security.conf",
            "AccessFileName .htaccess",
            '<FilesMatch "^\\.ht">\n  Require all denied\n</FilesMatch>',
            "<Directory />\n  Options FollowSymLinks\n  AllowOverride None\n  Require all denied\n</Directory>",
            "<Directory /usr/share>\n  AllowOverride None\n  Require all granted\n</Directory>",
            f"<Directory {self.dir.parent}/default-html/>\n  Options Indexes FollowSymLinks\n  AllowOverride None\n  Require all granted\n</Directory>",
            f"IncludeOptional {self.sites}/*.conf",
        ]
        (self.dir / "apache2.conf").write_text("\n".join(lines) + "\n")
        # The first virtual host answers every Host it does not know: Debian's "It works" page.
        self.write_site("000-default", f"<VirtualHost 127.0.0.1:{APACHE_PORT}>\n  ServerName default.invalid\n"
                        f"  DocumentRoot {default_root(self.dir.parent)}\n</VirtualHost>\n")

    def write_site(self, name: str, text: str) -> None:
        (self.sites / f"{name}.conf").write_text(text)

    def remove_site(self, name: str) -> None:
        path = self.sites / f"{name}.conf"
        if path.exists():
            path.unlink()

    def _ctl(self, action: str) -> None:
        run(["/usr/sbin/apache2", "-d", "/etc/apache2", "-f", str(self.dir / "apache2.conf"), "-k", action],
            env=faketime_env({"APACHE_RUN_DIR": str(self.dir), "APACHE_LOG_DIR": str(self.dir),
                              "APACHE_LOCK_DIR": str(self.dir), "APACHE_PID_FILE": str(self.dir / "apache2.pid")}))

    def start(self) -> None:
        self._ctl("start")
        self.running = True
        wait_for(lambda: _port_open(APACHE_PORT), "Apache")

    def reload(self) -> None:
        """Stop and start again (a graceful restart can serve the old configuration for a while)."""
        self.stop()
        self.start()

    def stop(self) -> None:
        if not self.running:
            return
        pid_file = self.dir / "apache2.pid"
        pid = int(pid_file.read_text()) if pid_file.exists() else None
        self._ctl("stop")
        self.running = False
        wait_for(lambda: not _port_open(APACHE_PORT) and (pid is None or not _alive(pid)), "Apache stopping")


class Nginx:
    """Debian's nginx, one server block per static site, Debian's default page for unknown hosts."""

    def __init__(self, work: Path):
        self.dir = work / "nginx"
        self.proc: subprocess.Popen | None = None
        self.servers: dict[str, str] = {}

    def configure(self, servers: dict[str, str]) -> None:
        """`servers` maps a server_name to its document root."""
        self.servers = dict(servers)
        self.dir.mkdir(parents=True, exist_ok=True)
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.dir / sub).mkdir(exist_ok=True)
        blocks = [
            f"server {{ listen 127.0.0.1:{NGINX_PORT} default_server; server_name _; root {default_root(self.dir.parent)}; "
            "index index.html index.htm index.nginx-debian.html; location / { try_files $uri $uri/ =404; } }"
        ]
        for name, root in sorted(self.servers.items()):
            blocks.append(f"server {{ listen 127.0.0.1:{NGINX_PORT}; server_name {name}; root {root}; index index.html; "
                          "location / { try_files $uri $uri/ =404; } }")
        conf = f"""
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
worker_processes 1;
events {{ worker_connections 64; }}
http {{
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  sendfile on;
  access_log off;
  client_body_temp_path {self.dir}/body; proxy_temp_path {self.dir}/proxy; fastcgi_temp_path {self.dir}/fastcgi;
  uwsgi_temp_path {self.dir}/uwsgi; scgi_temp_path {self.dir}/scgi;
  # Debian's nginx.conf turns gzip on (for text/html only unless gzip_types is set)
  gzip on;
  {' '.join(blocks)}
}}
"""
        (self.dir / "nginx.conf").write_text(conf)

    def start(self) -> None:
        if self.proc is not None:
            return
        self.proc = subprocess.Popen(["nginx", "-c", str(self.dir / "nginx.conf"), "-p", str(self.dir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: _port_open(NGINX_PORT), "nginx")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def default_root(work: Path) -> Path:
    """Debian's default pages (/var/www/html) copied with a fixed file time, so validators repeat."""
    root = work / "default-html"
    if not root.exists():
        shutil.copytree("/var/www/html", root)
        stamp = CAPTURED_AT.timestamp() - 86400 * 40
        for path in [*root.rglob("*"), root]:
            os.utime(path, (stamp, stamp))
    return root


class Servers(AbstractContextManager):
    """All servers of one capture run; everything started is stopped on exit, whatever happens."""

    def __init__(self, work: Path):
        self.work = work
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        os.chmod(work, 0o755)
        self.mariadb = MariaDB(work)
        self.apache = Apache(work)
        self.nginx = Nginx(work)

    def __exit__(self, *exc) -> None:
        for stop in (self.apache.stop, self.nginx.stop, self.mariadb.stop):
            try:
                stop()
            except Exception as error:  # noqa: BLE001 - keep stopping the others
                print(f"warning: {error}")
