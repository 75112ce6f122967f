"""A hub created with `--no-postgres` and no login provider: SQLite on the data volume, the
closed default login (only the admins named at create, with the generated admin password),
and the idle culler stopping a server nobody uses."""

from __future__ import annotations

import time

import pytest
from bed import Browser, User, make_bed, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

IDLE_TIMEOUT = 60  # the plugin's minimum


@pytest.fixture(scope="module")
def hub(engine, e2e_bases):
    bed = make_bed(engine, postgres=False, azure=False, bases=e2e_bases,
                   create_args=("--no-postgres", "--admin", "alice", "--admin", "carol",
                                "--idle-timeout", str(IDLE_TIMEOUT)))
    try:
        yield bed
    finally:
        bed.close()


@pytest.fixture(scope="module")
def idle_server(hub):
    """carol starts a server first thing and then leaves it alone: the culler's victim."""
    browser = Browser(hub)
    assert browser.login_password("carol", hub.admin_password()).ok
    carol = User(hub, browser)
    carol.start()
    return carol, time.monotonic()


def test_only_admins_log_in_with_the_admin_password(hub, idle_server):
    password = hub.admin_password()
    assert len(password) >= 32
    alice = Browser(hub)
    resp = alice.login_password("alice", password)
    assert resp.ok and alice.whoami()["name"] == "alice"
    assert alice.whoami()["admin"] is True
    for username, pw in (("mallory", password), ("alice", password + "x"), ("alice", "")):
        browser = Browser(hub)
        resp = browser.login_password(username, pw)
        assert browser.name is None, f"{username} logged in"
        assert browser.s.get(f"{hub.url}/hub/api/user", timeout=10).status_code in (401, 403)


def test_database_is_sqlite_on_the_data_volume(hub, idle_server):
    assert "DATABASE_URL" not in hub.config()
    assert hub.prop("db-kind") == "sqlite"
    assert (hub.data_root / "jupyterhub.sqlite").stat().st_size > 0


def test_restart_keeps_the_sqlite_database_and_the_session(hub, idle_server):
    alice = Browser(hub)
    assert alice.login_password("alice", hub.admin_password()).ok
    old_hub = hub.hub_container().id
    hub.dokku("ps:restart", hub.app)
    assert hub.hub_container().id != old_hub
    hub.wait_hub()
    assert alice.whoami()["name"] == "alice"
    assert {"alice", "carol"} <= {u["name"] for u in hub.plugin_api("/users")}


def test_idle_culler_stops_an_idle_server(hub, idle_server):
    carol, started = idle_server
    # Culled once idle for IDLE_TIMEOUT; the culler looks every IDLE_TIMEOUT/2.
    remaining = 4 * IDLE_TIMEOUT - (time.monotonic() - started)
    wait_for("the idle culler to stop carol's server", lambda: carol.server() is None,
             max(remaining, IDLE_TIMEOUT))
    wait_for("carol's container to be removed",
             lambda: not hub.notebook_containers_named("carol"), 60)
