"""The notebook image's bridge over hub restarts (images/jupyter_server_config.py), run
against JupyterHub's real HubAuth and a hub API that goes away and comes back."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from jupyterhub.services.auth import HubAuth
from tornado.web import HTTPError

from dokku_jupyterhub import hub_source


class FakeHubAPI:
    """`GET /hub/api/user`: the user for a known token, 403 for another; `down` answers 503
    as the proxy does while the hub container is replaced; `stop()` closes the port."""

    def __init__(self) -> None:
        self.users = {"tok-ada": "ada", "tok-bob": "bob"}
        self.down = False
        self.calls = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # noqa: ANN002
                pass

            def do_GET(self):  # noqa: N802
                api.calls += 1
                token = self.headers.get("Authorization", "").removeprefix("token ")
                if api.down:
                    status, body = 503, b"hub restarting"
                elif token in api.users:
                    status = 200
                    body = json.dumps({"name": api.users[token], "scopes": []}).encode()
                else:
                    status, body = 403, b"{}"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hub/api"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def bridge(monkeypatch):
    """The rendered config file executed as Jupyter would; HubAuth restored afterwards."""
    monkeypatch.setattr(HubAuth, "_check_hub_authorization", HubAuth._check_hub_authorization)
    source = hub_source.render_files(hub_source.HubParams(app="hub"))
    namespace: dict = {}
    exec(compile(source["images/jupyter_server_config.py"], "jupyter_server_config.py",
                 "exec"), namespace)
    namespace["RETRY_EVERY"] = 0.05
    assert getattr(HubAuth._check_hub_authorization, "_dokku_bridged", False)
    return namespace


def who(auth: HubAuth, token: str) -> str | None:
    # HubAuth's own cache skipped: every call asks the hub, as one whose cache expired does.
    user = asyncio.run(auth.user_for_token(token, use_cache=False, sync=False))
    return user["name"] if user else None


def test_a_confirmed_identity_carries_a_call_over_the_hub_restart(bridge):
    hub = FakeHubAPI()
    try:
        auth = HubAuth(api_url=hub.url, api_token="svc")
        assert who(auth, "tok-ada") == "ada"
        hub.down = True  # the proxy answers 503 while the hub is replaced
        started = time.monotonic()
        assert who(auth, "tok-ada") == "ada"
        assert time.monotonic() - started < 1  # answered at once, not after a wait
        hub.down = False
        assert who(auth, "tok-ada") == "ada"
        calls = hub.calls
        hub.stop()  # the hub gone entirely (connection refused)
        assert who(auth, "tok-ada") == "ada"
        assert hub.calls == calls
    finally:
        hub.stop()


def test_a_first_call_waits_for_the_hub_instead_of_failing(bridge):
    hub = FakeHubAPI()
    try:
        auth = HubAuth(api_url=hub.url, api_token="svc")
        hub.down = True
        threading.Timer(1.0, lambda: setattr(hub, "down", False)).start()
        started = time.monotonic()
        assert who(auth, "tok-bob") == "bob"
        assert 0.9 <= time.monotonic() - started < 10
    finally:
        hub.stop()


def test_the_hubs_answer_always_wins_and_the_wait_is_bounded(bridge):
    hub = FakeHubAPI()
    try:
        auth = HubAuth(api_url=hub.url, api_token="svc")
        assert who(auth, "tok-ada") == "ada"
        del hub.users["tok-ada"]  # the hub no longer knows the token
        assert who(auth, "tok-ada") is None
        hub.down = True
        bridge["WAIT_FOR"] = 0.5
        with pytest.raises(HTTPError) as exc:  # revoked, so nothing to fall back on
            who(auth, "tok-ada")
        assert exc.value.status_code == 502
    finally:
        hub.stop()


def test_a_stale_identity_is_used_only_for_so_long(bridge):
    hub = FakeHubAPI()
    try:
        auth = HubAuth(api_url=hub.url, api_token="svc")
        assert who(auth, "tok-ada") == "ada"
        bridge["STALE_FOR"] = 0
        bridge["WAIT_FOR"] = 0.3
        hub.down = True
        with pytest.raises(HTTPError):
            who(auth, "tok-ada")
    finally:
        hub.stop()


def test_executed_twice_it_bridges_once(bridge):
    source = hub_source.render_files(hub_source.HubParams(app="hub"))
    wrapped = HubAuth._check_hub_authorization
    exec(compile(source["images/jupyter_server_config.py"], "cfg", "exec"), {})
    assert HubAuth._check_hub_authorization is wrapped


def test_without_the_bridge_the_same_call_fails(monkeypatch):
    """The control: JupyterHub's own HubAuth fails a call made while the hub restarts."""
    monkeypatch.setattr(HubAuth, "_check_hub_authorization", HubAuth._check_hub_authorization)
    assert not getattr(HubAuth._check_hub_authorization, "_dokku_bridged", False)
    hub = FakeHubAPI()
    try:
        auth = HubAuth(api_url=hub.url, api_token="svc")
        assert who(auth, "tok-ada") == "ada"
        hub.down = True
        with pytest.raises(HTTPError) as exc:
            who(auth, "tok-ada")
        assert exc.value.status_code == 502
    finally:
        hub.stop()
