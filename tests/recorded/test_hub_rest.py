"""The plugin's client of the hub's REST API, against a small real HTTP server that checks
the token header and serves JupyterHub-shaped `/hub/api/users` pages (the shape only; a
real JupyterHub answers the same request in the end-to-end suite). One test runs that
server in a container labelled like Dokku's web container on the app network, so the
Docker lookup of the hub's address is real too."""

from __future__ import annotations

import json
import textwrap
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dokku_jupyterhub import cli, dokku_cli, hub_rest, policy_store, properties
from dokku_jupyterhub.paths import data_root
from dokku_jupyterhub.user_view import NEVER

TOKEN = "plugin-token-4f2a"

# Served by the fake hub both in a thread here and inside a container (python3 -c): a
# JupyterHub 5 user list with pagination (page size capped like api_page_max_limit).
FAKE_HUB = textwrap.dedent('''
    import json, sys, urllib.parse
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Hub(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def send(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            if url.path != "/hub/api/users":
                return self.send(404, {"status": 404, "message": "Not Found"})
            if self.headers.get("Authorization") != "token " + TOKEN:
                return self.send(403, {"status": 403, "message": "Forbidden"})
            q = urllib.parse.parse_qs(url.query)
            offset = int(q.get("offset", ["0"])[0])
            limit = min(int(q.get("limit", [str(PAGE)])[0]), PAGE)
            items = USERS[offset:offset + limit]
            if "jupyterhub-pagination" not in self.headers.get("Accept", ""):
                return self.send(200, items)
            nxt = None
            if offset + limit < len(USERS):
                nxt = {"offset": offset + limit, "limit": limit, "url": "..."}
            self.send(200, {"items": items, "_pagination": {
                "offset": offset, "limit": limit, "total": len(USERS), "next": nxt}})

    def serve(port, host="0.0.0.0"):
        return ThreadingHTTPServer((host, port), Hub)

    if __name__ == "__main__":
        TOKEN, USERS, PAGE = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
        serve(8000).serve_forever()
''')


def user_model(name, admin=False, groups=(), server=None, pending=None, servers=None):
    """The fields JupyterHub 5/6 returns for a user with read:users and read:servers."""
    return {
        "kind": "user",
        "name": name,
        "admin": admin,
        "roles": ["admin"] if admin else ["user"],
        "groups": list(groups),
        "server": server,
        "pending": pending,
        "created": "2025-01-01T00:00:00Z",
        "last_activity": None,
        "servers": servers if servers is not None else {},
    }


USERS = [
    user_model("alice", admin=True, server="/user/alice/", servers={
        "": {"name": "", "ready": True, "pending": None, "stopped": False,
             "url": "/user/alice/"}}),
    user_model("bob", groups=["physics"]),
    user_model("carol", groups=["chem", "aad-unknown"], pending="spawn", servers={
        "": {"name": "", "ready": False, "pending": "spawn", "stopped": False}}),
    user_model("dave"),
    user_model("erin", servers={"lab": {"name": "lab", "ready": True, "pending": None}}),
]


@pytest.fixture
def fake_hub():
    namespace: dict = {}
    exec(FAKE_HUB, namespace)  # noqa: S102 - our own server source, shared with the container
    namespace["TOKEN"], namespace["USERS"], namespace["PAGE"] = TOKEN, USERS, 2
    server = namespace["serve"](0, "127.0.0.1")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_fetch_users_follows_pagination_with_the_token(fake_hub):
    users = hub_rest.fetch_users(fake_hub, TOKEN)
    assert [u["name"] for u in users] == ["alice", "bob", "carol", "dave", "erin"]


def test_a_wrong_token_is_refused_and_never_shown(fake_hub):
    with pytest.raises(hub_rest.HubUnavailable) as exc:
        hub_rest.fetch_users(fake_hub, "wrong-token")
    assert "refused the plugin's API token (HTTP 403)" in str(exc.value)
    assert "wrong-token" not in str(exc.value)


def test_an_unreachable_hub_is_one_line(fake_hub):
    with pytest.raises(hub_rest.HubUnavailable, match="not reachable"):
        hub_rest.fetch_users("http://127.0.0.1:9", TOKEN, timeout=2)
    with pytest.raises(hub_rest.HubUnavailable, match="HTTP 404"):
        hub_rest.fetch_users(fake_hub + "/prefix", TOKEN)


class _NotJson(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"<html>nginx default page</html>")


def test_a_non_json_answer_is_reported():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotJson)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(hub_rest.HubUnavailable, match="did not answer with JSON"):
            hub_rest.fetch_users(f"http://127.0.0.1:{server.server_address[1]}", TOKEN)
    finally:
        server.shutdown()
        server.server_close()


def test_server_states_from_user_models():
    states = {u.name: u.server for u in map(hub_rest.parse_user, USERS)}
    assert states == {"alice": "running", "bob": "stopped", "carol": "pending",
                      "dave": "stopped", "erin": "running"}
    assert hub_rest.parse_user(USERS[2]).groups == ("aad-unknown", "chem")


def test_container_ip_prefers_the_app_network():
    attrs = {"NetworkSettings": {"Networks": {
        "bridge": {"IPAddress": "172.17.0.2"}, "hub-network": {"IPAddress": "10.0.5.3"}}}}
    assert hub_rest.container_ip(attrs, "hub-network") == "10.0.5.3"
    assert hub_rest.container_ip(attrs, "other-network") == "172.17.0.2"
    assert hub_rest.container_ip({"NetworkSettings": {"Networks": {}}}, "x") is None


@pytest.fixture
def token_from_dokku(monkeypatch):
    calls = []

    def runner(args, input, stream):
        calls.append(list(args))
        if args[:3] == ["config:get", "hub", "HUB_PLUGIN_API_TOKEN"]:
            return dokku_cli.Result(0, TOKEN + "\n", "")
        return dokku_cli.Result(1, "", "")

    monkeypatch.setattr(dokku_cli, "runner", runner)
    return calls


def test_hub_users_reads_the_token_through_dokku(fake_hub, monkeypatch, token_from_dokku):
    monkeypatch.setattr(hub_rest, "locator", lambda app: fake_hub)
    view = hub_rest.hub_users("hub")
    assert view.note is None
    assert sorted(view.users) == ["alice", "bob", "carol", "dave", "erin"]
    assert token_from_dokku == [["config:get", "hub", "HUB_PLUGIN_API_TOKEN"]]


def test_hub_users_without_a_token_gives_a_note(fake_hub, monkeypatch):
    monkeypatch.setattr(dokku_cli, "runner", lambda a, i, s: dokku_cli.Result(1, "", ""))
    monkeypatch.setattr(hub_rest, "locator", lambda app: fake_hub)
    view = hub_rest.hub_users("hub")
    assert view.users is None
    assert view.note == "HUB_PLUGIN_API_TOKEN is not set for hub"


def test_users_list_merges_the_hub_view(dokku_env, fake_hub, monkeypatch, capsys,
                                        token_from_dokku):
    properties.set("hub", "hub-app", "true")
    data_root("hub").mkdir(parents=True)
    monkeypatch.setattr(hub_rest, "locator", lambda app: fake_hub)
    for argv in (["admins:add", "hub", "alice"], ["groups:create", "hub", "physics"],
                 ["groups:create", "hub", "chem"], ["groups:add-member", "hub", "physics", "bob"],
                 ["limits:set", "hub", "@chem", "--memory", "2G"],
                 ["users:add", "hub", "zoe"]):
        with pytest.raises(SystemExit) as exc:
            cli.main([f"jupyterhub:{argv[0]}", *argv[1:]])
        assert exc.value.code == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        cli.main(["jupyterhub:users:list", "hub", "--format", "json"])
    cap = capsys.readouterr()
    assert exc.value.code == 0 and cap.err == ""
    rows = {r["name"]: r for r in json.loads(cap.out)}
    assert sorted(rows) == ["alice", "bob", "carol", "dave", "erin", "zoe"]
    assert rows["alice"]["server"] == "running" and rows["alice"]["admin"] is True
    # carol is in chem only through the hub (OAuth groups claim): it raises her memory
    assert rows["carol"]["groups"] == [{"name": "chem", "source": "claim"}]
    assert rows["carol"]["memory"] == "2G" and rows["carol"]["server"] == "pending"
    assert rows["bob"]["groups"] == [{"name": "physics", "source": "policy+claim"}]
    assert rows["dave"]["in_policy"] is False
    assert rows["zoe"]["server"] == NEVER
    with pytest.raises(SystemExit):
        cli.main(["jupyterhub:users:list", "hub"])
    out = capsys.readouterr().out
    assert "carol  no     chem (claim)" in out
    assert TOKEN not in out


def test_locating_the_hub_container_on_the_app_network(engine, bookworm_image, dokku_env,
                                                       monkeypatch, token_from_dokku):
    """A container labelled like Dokku's web container, on `<app>-network`, runs the fake
    hub on port 8000: the real Docker lookup finds its IP and the API answers through it."""
    app = f"djh-api-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(
        dokku_cli, "runner",
        lambda a, i, s: dokku_cli.Result(0, TOKEN, "") if a[:2] == ["config:get", app]
        else dokku_cli.Result(1, "", ""))
    network = engine.networks.create(hub_rest.network_name(app))
    container = engine.containers.run(
        bookworm_image,
        ["python3", "-c", FAKE_HUB, TOKEN, json.dumps(USERS[:3]), "2"],
        labels={"com.dokku.app-name": app, "com.dokku.process-type": "web"},
        network=network.name, detach=True, remove=True,
    )
    other = engine.containers.run(  # another app's web container must not be picked
        bookworm_image, ["sleep", "600"],
        labels={"com.dokku.app-name": app + "-x", "com.dokku.process-type": "web"},
        detach=True, remove=True,
    )
    try:
        container.reload()
        ip = container.attrs["NetworkSettings"]["Networks"][network.name]["IPAddress"]
        assert hub_rest._docker_locator(app) == f"http://{ip}:8000"
        for _ in range(100):  # the server may need a moment to listen
            view = hub_rest.hub_users(app)
            if view.users is not None or "not reachable" not in (view.note or ""):
                break
            time.sleep(0.1)
        assert view.note is None, view.note
        assert sorted(view.users) == ["alice", "bob", "carol"]
        with pytest.raises(hub_rest.HubUnavailable, match="the hub is not running"):
            hub_rest._docker_locator(app + "-none")
    finally:
        for c in (container, other):
            c.remove(force=True)
        network.remove()


def test_policy_store_untouched_by_users_list(dokku_env, monkeypatch, capsys):
    """users:list only reads: no policy file appears for a fresh app."""
    properties.set("hub", "hub-app", "true")
    data_root("hub").mkdir(parents=True)
    monkeypatch.setattr(hub_rest, "locator", lambda app: (_ for _ in ()).throw(
        hub_rest.HubUnavailable("the hub is not running")))
    with pytest.raises(SystemExit) as exc:
        cli.main(["jupyterhub:users:list", "hub"])
    assert exc.value.code == 0
    assert not policy_store.policy_path("hub").exists()
    assert "no users" in capsys.readouterr().out
