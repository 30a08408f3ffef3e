"""The web app's users: names, roles, passwords, the trail of changes, sessions, `crawler users`."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.errors import NotFound, StoreError
from crawler.store import Store
from crawler.web import auth, users
from crawler.web.auth import AuthError, Passwords, Throttle, allowed

from .conftest import NOW, execute, sql_rows

CHEAP = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    monkeypatch.setattr(auth, "HASH_PARAMS", CHEAP)


@pytest.fixture
def pw():
    return Passwords()


def test_roles_and_the_one_permission_rule():
    assert allowed("viewer", "read") and not allowed("viewer", "review") and not allowed("viewer", "manage_users")
    assert allowed("reviewer", "review") and not allowed("reviewer", "manage_users")
    assert allowed("admin", "manage_users") and allowed("admin", "review")
    assert not allowed(None, "read") and not allowed("root", "read") and not allowed("admin", "launch")


def test_names_are_clean_login_names():
    assert auth.clean_name("  Anna.Lind@Malmo.se ") == "anna.lind@malmo.se"
    for bad in ("", " ", "anna lind", "-anna", "a" * 65, "ånna", "anna\u202e", "<script>"):
        with pytest.raises(AuthError):
            auth.clean_name(bad)


def test_password_rules_and_hashes(pw):
    assert auth.password_problem("short") and auth.password_problem("aaaaaaaaaaaa")
    assert auth.password_problem("anna.lind1", "anna.lind1")
    assert auth.password_problem("x" * 2000)
    assert auth.password_problem("korrekt häst batteri") is None
    digest = pw.hash("korrekt häst batteri")
    assert digest.startswith("$argon2id$") and "korrekt" not in digest
    assert pw.verify(digest, "korrekt häst batteri")
    assert not pw.verify(digest, "korrekt hast batteri")
    assert not pw.verify(None, "korrekt häst batteri")  # no such user: same work, still no
    assert not pw.verify("not a hash", "x")


def test_add_change_disable_with_an_append_only_trail(store, pw):
    users.add(store, "Anna.Lind", "reviewer", "korrekt häst batteri", by="crawler users", now=NOW, passwords=pw)
    users.add(store, "boss", "admin", "ett långt lösenord", by="crawler users", now=NOW, passwords=pw)
    users.add(store, "sso.person", "viewer", None, by="boss", now=NOW, passwords=pw)
    anna = store.user("anna.lind")
    assert (anna.role, anna.has_password, anna.disabled) == ("reviewer", True, False)
    assert not store.user("sso.person").has_password
    with pytest.raises(AuthError, match="already"):
        users.add(store, "ANNA.LIND", "viewer", "korrekt häst batteri", by="x", now=NOW, passwords=pw)
    with pytest.raises(AuthError, match="at least"):
        users.add(store, "bo", "viewer", "kort", by="x", now=NOW, passwords=pw)
    with pytest.raises(AuthError, match="unknown role"):
        users.add(store, "bo", "root", "korrekt häst batteri", by="x", now=NOW, passwords=pw)

    later = NOW + timedelta(hours=1)
    users.set_role(store, "anna.lind", "viewer", by="boss", now=later)
    users.set_password(store, "anna.lind", "ett nytt långt lösen", by="boss", now=later, passwords=pw)
    users.disable(store, "anna.lind", by="boss", now=later)
    assert store.user("anna.lind").disabled and store.user("anna.lind").role == "viewer"
    assert pw.verify(store.password_hash("anna.lind"), "ett nytt långt lösen")
    users.enable(store, "anna.lind", by="boss", now=later)
    trail = [(c.change, c.by, c.detail) for c in store.user_changes("anna.lind")]
    assert trail == [("added", "crawler users", "reviewer"), ("role", "boss", "viewer"), ("password", "boss", None),
                     ("disabled", "boss", None), ("enabled", "boss", None)]
    assert not any("lösen" in str(row) or "argon2" in str(row) for row in sql_rows(store, "SELECT * FROM user_changes"))
    with pytest.raises(sqlite3.DatabaseError, match="audit trail"):
        execute(store, "DELETE FROM user_changes")
    with pytest.raises(sqlite3.DatabaseError, match="never deleted"):
        execute(store, "DELETE FROM users WHERE name = 'anna.lind'")
    with pytest.raises(NotFound):
        users.disable(store, "nobody", by="boss", now=later)


def test_the_last_admin_cannot_be_disabled_or_demoted(store, pw):
    users.add(store, "boss", "admin", "ett långt lösenord", by="x", now=NOW, passwords=pw)
    with pytest.raises(AuthError, match="last admin"):
        users.disable(store, "boss", by="boss", now=NOW)
    with pytest.raises(AuthError, match="last admin"):
        users.set_role(store, "boss", "reviewer", by="boss", now=NOW)
    users.add(store, "boss2", "admin", "ett långt lösenord", by="x", now=NOW, passwords=pw)
    users.disable(store, "boss", by="boss2", now=NOW)
    assert store.user("boss").disabled


def test_sessions_keep_only_a_hash_expire_and_end_with_the_password_or_the_user(store, pw):
    users.add(store, "anna", "reviewer", "korrekt häst batteri", by="x", now=NOW, passwords=pw)
    users.add(store, "boss", "admin", "ett långt lösenord", by="x", now=NOW, passwords=pw)
    store.create_session("a" * 64, "anna", NOW, NOW + timedelta(hours=12), "password")
    store.create_session("b" * 64, "anna", NOW, NOW + timedelta(hours=12), "password")
    s = store.session("a" * 64, NOW + timedelta(hours=1))
    assert (s.user_name, s.role, s.disabled, s.via) == ("anna", "reviewer", False, "password")
    assert store.user("anna").last_login_at == NOW
    assert store.session("a" * 64, NOW + timedelta(hours=13)) is None  # expired
    store.touch_session("a" * 64, NOW + timedelta(hours=11), NOW + timedelta(hours=23))
    assert store.session("a" * 64, NOW + timedelta(hours=13)) is not None
    store.end_session("b" * 64)
    assert store.session("b" * 64, NOW) is None
    users.set_password(store, "anna", "ett nytt långt lösen", by="boss", now=NOW, passwords=pw)
    assert store.session("a" * 64, NOW) is None  # a new password ends every session
    store.create_session("c" * 64, "anna", NOW, NOW + timedelta(hours=12), "password")
    users.disable(store, "anna", by="boss", now=NOW)
    assert store.session("c" * 64, NOW) is None
    assert store.prune_sessions(NOW + timedelta(days=2)) == 0


def test_an_inventory_before_the_users_migration_reads_as_having_no_users(store):
    from crawler.store.schema import USERS_VERSION

    store._version = USERS_VERSION - 1  # as a read-only reader sees an inventory not migrated yet
    assert store.users() == [] and store.user("anna") is None and store.session("a" * 64, NOW) is None
    with pytest.raises(StoreError, match="no users yet"):
        store.add_user("a", "viewer", None, NOW, "x")


def test_throttle_per_user_and_per_address_on_an_injected_clock():
    t = [1000.0]
    throttle = Throttle(clock=lambda: t[0], per_user=3, per_address=5, window=600)
    for _ in range(3):
        assert throttle.retry_after("anna", "10.0.0.1") is None
        throttle.failed("anna", "10.0.0.1")
    assert throttle.retry_after("anna", "10.0.0.1") == 600
    assert throttle.retry_after("anna", "10.0.0.2") == 600  # the name is locked from anywhere
    assert throttle.retry_after("bo", "10.0.0.1") is None
    throttle.failed("bo", "10.0.0.1")
    throttle.failed("cy", "10.0.0.1")
    assert throttle.retry_after("dan", "10.0.0.1") == 600  # the address tried five names
    t[0] += 599
    assert throttle.retry_after("anna", "10.0.0.2") == 1
    t[0] += 1
    assert throttle.retry_after("anna", "10.0.0.2") is None
    throttle.failed("eve", "10.0.0.9")
    throttle.succeeded("eve")
    assert throttle._failures.get(("user", "eve")) is None


def test_throttle_memory_is_bounded():
    throttle = Throttle(clock=lambda: 0.0, keep=100)
    for i in range(1000):
        throttle.failed(f"user{i}", f"10.0.{i // 250}.{i % 250}")
    assert len(throttle._failures) <= 100


def run(db, *args, input=None):
    return CliRunner().invoke(cli, ["--db", str(db), "users", *args], input=input, catch_exceptions=False)


def test_cli_add_list_set_role_disable_enable(tmp_path):
    db = tmp_path / "inv.sqlite"
    result = run(db, "add", "Boss", "--role", "admin", "--password-stdin", input="ett långt lösenord\n")
    assert result.exit_code == 0, result.output
    assert "added boss (admin)" in result.output
    assert run(db, "add", "anna", "--role", "reviewer", "--password-stdin", input="kort\n").exit_code == 1
    assert run(db, "add", "anna", "--role", "reviewer", "--password-stdin", input="\n").exit_code == 1
    assert run(db, "add", "sso.anna", "--role", "viewer", "--no-password").exit_code == 0
    listing = run(db, "list").output
    assert "boss" in listing and "admin" in listing and "SSO only" in listing
    assert run(db, "set-role", "sso.anna", "reviewer").exit_code == 0
    assert run(db, "disable", "sso.anna").exit_code == 0
    assert "disabled" in run(db, "list").output
    assert run(db, "enable", "sso.anna").exit_code == 0
    refused = CliRunner().invoke(cli, ["--db", str(db), "users", "disable", "boss"])
    assert refused.exit_code == 1 and "last admin" in refused.output
    assert run(db, "set-password", "boss", "--password-stdin", input="ett annat långt lösen\n").exit_code == 0
    with Store.open(db, readonly=True) as s:
        assert Passwords().verify(s.password_hash("boss"), "ett annat långt lösen")
    # never an argument: there is no option that takes the password itself
    no_arg = CliRunner().invoke(cli, ["--db", str(db), "users", "add", "x", "--role", "viewer", "--password", "p"])
    assert no_arg.exit_code == 2


def test_cli_prompts_twice_for_a_password_in_a_terminal(tmp_path, monkeypatch):
    db = tmp_path / "inv.sqlite"
    monkeypatch.setattr("crawler.cli.sys.stdin.isatty", lambda: True, raising=False)
    result = CliRunner().invoke(cli, ["--db", str(db), "users", "add", "anna", "--role", "viewer"],
                                input="korrekt häst batteri\nkorrekt häst batteri\n")
    assert result.exit_code == 0, result.output
    assert "korrekt" not in result.output  # hidden input
