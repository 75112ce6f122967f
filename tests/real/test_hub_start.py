"""The hub container's start: data folders, cookie secret mode, `upgrade-db` on version change."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest
from support.hub_harness import RenderedHub

from dokku_jupyterhub.hub_runtime import settings as hub_settings
from dokku_jupyterhub.hub_runtime import start


@pytest.fixture
def hub(tmp_path, monkeypatch):
    h = RenderedHub(tmp_path, monkeypatch)
    yield h
    h.close()


def test_prepare_makes_the_data_tree_and_fixes_the_cookie_secret(hub):
    secret = hub.data / "jupyterhub_cookie_secret"
    secret.write_text("00" * 32)
    os.chmod(secret, 0o644)
    s = start.prepare(os.environ)
    assert s.data_dir == str(hub.data)
    for name in ("users", "user-settings", "shared", "colab", "groups"):
        assert (hub.data / name).is_dir()
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600


def test_prepare_refuses_to_start_without_the_data_volume(hub, monkeypatch):
    monkeypatch.setenv("HUB_DATA_DIR", str(hub.data / "missing"))
    with pytest.raises(SystemExit, match="persistent storage is not mounted"):
        start.prepare(os.environ)


def test_prepare_reports_bad_settings_in_one_line(hub, monkeypatch):
    monkeypatch.setenv("HUB_IDLE_TIMEOUT", "soon")
    with pytest.raises(SystemExit, match=r"^\[dokku-jupyterhub\] HUB_IDLE_TIMEOUT"):
        start.prepare(os.environ)


def test_real_upgrade_db_runs_once_per_version(hub):
    s = hub_settings.from_env(os.environ)
    stamp = hub.data / "jupyterhub-version"
    # First start on this data: the real `jupyterhub upgrade-db` with the rendered config.
    assert start.upgrade_db_if_needed(s, "6.1.1", config=hub.config_file) is True
    assert stamp.read_text().strip() == "6.1.1"
    with sqlite3.connect(hub.data / "jupyterhub.sqlite") as db:
        assert db.execute("select version_num from alembic_version").fetchone()

    def must_not_run(argv):
        raise AssertionError(f"ran {argv}")

    assert start.upgrade_db_if_needed(s, "6.1.1", config=hub.config_file, run=must_not_run) is False
    calls = []
    assert start.upgrade_db_if_needed(
        s, "6.2.0", config=hub.config_file, run=lambda argv: calls.append(argv) or 0
    )
    assert calls and calls[0][1:] == ["-m", "jupyterhub", "upgrade-db", "-f", hub.config_file]
    assert stamp.read_text().strip() == "6.2.0"


def test_failed_upgrade_keeps_the_old_stamp(hub):
    s = hub_settings.from_env(os.environ)
    stamp = hub.data / "jupyterhub-version"
    stamp.write_text("6.0.0\n")
    with pytest.raises(SystemExit, match="upgrade-db failed"):
        start.upgrade_db_if_needed(s, "6.1.1", config=hub.config_file, run=lambda argv: 1)
    assert stamp.read_text() == "6.0.0\n"


# --- one hub at a time, and the proxy before the hub -----------------------------------------

HOLD = r"""
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_a_second_hub_waits_until_the_first_has_exited(tmp_path, capsys):
    import subprocess
    import sys
    import time

    lock = tmp_path / "hub.lock"
    first = subprocess.Popen([sys.executable, "-c", HOLD, str(lock), "2"],
                             stdout=subprocess.PIPE, text=True)
    assert first.stdout.readline().strip() == "held"
    started = time.monotonic()
    fd = start.take_hub_lock(str(lock))
    waited = time.monotonic() - started
    first.wait(5)
    assert waited >= 1.0  # it really waited for the other process to let go
    err = capsys.readouterr().err
    assert "another hub runs on" in err and "the previous hub has exited" in err
    # Kept across the exec into jupyterhub, and held: a third process cannot take it.
    assert os.get_inheritable(fd)
    third = subprocess.run(
        [sys.executable, "-c", "import fcntl,os,sys; fd=os.open(sys.argv[1], os.O_RDWR); "
         "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)", str(lock)], capture_output=True)
    assert third.returncode != 0 and b"BlockingIOError" in third.stderr
    os.close(fd)


def test_the_first_hub_takes_the_lock_without_waiting(tmp_path, capsys):
    fd = start.take_hub_lock(str(tmp_path / "hub.lock"))
    os.close(fd)
    assert capsys.readouterr().err == ""


class FakeProxyAPI:
    """configurable-http-proxy's `GET /api/routes`: 200 for the right token once `ready`,
    403 for another token, nothing at all before it is up."""

    def __init__(self, token: str, answer_after: int = 0) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.seen: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # noqa: ANN002
                pass

            def do_GET(self):  # noqa: N802
                api.seen.append(self.headers.get("Authorization", ""))
                if self.path != "/api/routes":
                    self.send_response(404)
                elif self.headers.get("Authorization") != f"token {token}":
                    self.send_response(403)
                elif len(api.seen) <= answer_after:
                    self.send_response(503)
                else:
                    self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def proxy_settings(monkeypatch, port: int, token: str) -> hub_settings.HubSettings:
    from dokku_jupyterhub.hub_runtime import contract

    monkeypatch.setattr(hub_settings, "PROXY_API_PORT", port)
    s = hub_settings.from_env({**os.environ, contract.Env.PROXY_TOKEN: token,
                               contract.Env.PROXY_HOST: "127.0.0.1"})
    assert s.external_proxy and s.proxy_api_url == f"http://127.0.0.1:{port}"
    return s


def test_the_hub_waits_for_its_proxy_and_asks_with_its_token(hub, monkeypatch, capsys):
    api = FakeProxyAPI("p" * 64, answer_after=2)
    try:
        s = proxy_settings(monkeypatch, api.port, "p" * 64)
        start.wait_for_proxy(s, timeout=30, sleep=lambda _: None)
    finally:
        api.close()
    assert api.seen == ["token " + "p" * 64] * 3
    assert "waiting for the proxy 127.0.0.1" in capsys.readouterr().err


def test_a_proxy_that_refuses_the_token_stops_the_hub_at_once(hub, monkeypatch):
    api = FakeProxyAPI("right-token-123")
    try:
        s = proxy_settings(monkeypatch, api.port, "wrong-token-456")
        with pytest.raises(SystemExit, match="refused the hub's token"):
            start.wait_for_proxy(s, timeout=30, sleep=lambda _: None)
    finally:
        api.close()
    assert len(api.seen) == 1


def test_no_proxy_at_all_fails_after_the_timeout(hub, monkeypatch):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s = proxy_settings(monkeypatch, port, "p" * 64)
    clock = iter(range(0, 1000, 10))
    with pytest.raises(SystemExit, match="did not answer in 30 s"):
        start.wait_for_proxy(s, timeout=30, clock=lambda: next(clock), sleep=lambda _: None)
