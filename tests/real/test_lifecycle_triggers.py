"""The lifecycle triggers with the recorder in place of Dokku, run in Dokku 0.38's order:
plugins in alphabetical order, so `config` copies the app's environment BEFORE `jupyterhub`,
and `network`, `postgres` and `storage` copy theirs AFTER it (see rename_clone.py).
Also the stand-in's order (everything copied first) for rename and clone."""

from __future__ import annotations

import http.server
import io
import json
import os
import secrets
import socketserver
import tarfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

import docker
import pytest
from support.recorder import FakeDokku, install_plugins

from dokku_jupyterhub import cli, docker_api, dokku_cli, properties, rename_clone
from dokku_jupyterhub.hub_runtime.settings import ADMIN_PASSWORD_MIN_LENGTH
from dokku_jupyterhub.output import DokkuError
from dokku_jupyterhub.paths import data_root, gate_dir, storage_root
from dokku_jupyterhub.triggers import (
    post_app_clone,
    post_app_clone_setup,
    post_app_rename_setup,
    post_delete,
)


def run(*argv: str) -> int:
    with pytest.raises(SystemExit) as exc:
        cli.main(list(argv))
    return int(exc.value.code or 0)


@pytest.fixture
def hub(dokku_env, monkeypatch, engine, capsys):
    fake = FakeDokku()
    monkeypatch.setattr(dokku_cli, "runner", fake)
    install_plugins(dokku_env, "postgres", monkeypatch=monkeypatch)
    assert run("jupyterhub:create", "hub", "--domain", "hub.example.edu", "--admin",
               "alice") == 0
    work = data_root("hub") / "users" / "alice"
    work.mkdir()
    (work / "thesis.ipynb").write_text("{}")
    capsys.readouterr()
    fake.calls.clear()
    return fake


def dokku_copies(fake: FakeDokku, old: str, new: str, plugins: tuple[str, ...]) -> None:
    """What Dokku's own plugins' post-app-(rename|clone)-setup triggers copy."""
    for plugin in plugins:
        if plugin == "config":
            fake.config[new] = {**fake.config.get(new, {}), **fake.config.get(old, {})}
        elif plugin == "network":
            fake.network_props[new] = dict(fake.network_props.get(old, {}))
        elif plugin == "storage":
            fake.mounts[new] = list(fake.mounts.get(old, []))
        elif plugin == "postgres":
            for linked in fake.links.values():
                if old in linked:
                    linked.add(new)
        elif plugin == "git" and old in fake.source:
            fake.source[new] = fake.source[old]
        elif plugin == "domains":  # rename keeps the domains; a clone gets none
            fake.domains[new] = list(fake.domains.get(old, []))
        elif plugin in ("ports", "nginx"):
            store = fake.ports if plugin == "ports" else fake.nginx
            store[new] = type(store.get(old, []))(store.get(old, []))


def dokku_destroy(fake: FakeDokku, app: str) -> None:
    assert fake(["apps:destroy", app, "--force"], None, False).ok
    post_delete.main([app, "latest"])


AFTER_US = ("network", "nginx", "ports", "postgres", "storage")


@pytest.mark.parametrize("order", ["dokku", "stand-in"])
def test_rename_moves_settings_data_mount_and_network(hub, order, capsys):
    fake = hub
    old_data = str(data_root("hub"))
    fake.apps.add("lab")  # apps:rename: create NEW
    before = ("config", "domains", "git")
    dokku_copies(fake, "hub", "lab", before if order == "dokku" else (*before, *AFTER_US))
    assert post_app_rename_setup.main(["hub", "lab"]) == 0
    if order == "dokku":
        dokku_copies(fake, "hub", "lab", AFTER_US)
    dokku_destroy(fake, "hub")
    fake.deployed.add("lab")  # ps's post-app-rename rebuilds the renamed app

    assert (data_root("lab") / "users" / "alice" / "thesis.ipynb").read_text() == "{}"
    assert not storage_root("hub").exists()
    assert properties.get("lab", "hub-app") == "true" and properties.all_for("hub") == {}
    assert json.loads((data_root("lab") / "policy.json").read_text())["admins"] == ["alice"]
    mounts = fake.mounts["lab"]
    assert f"{data_root('lab')}:/data" in mounts and f"{old_data}:/data" not in mounts
    assert mounts.count(f"{gate_dir('lab')}:/run/dokku-gate") == 1  # the gate follows
    assert not any("docker.sock" in m for m in mounts)
    assert fake.network_props["lab"]["attach-post-create"] == "lab-network"
    assert "lab-network" in fake.networks
    env = fake.config["lab"]
    assert env["HUB_APP_NAME"] == "lab" and env["HUB_IP"] == "lab.web"
    assert env["HUB_HOST_DATA_DIR"] == str(data_root("lab"))
    assert env["DOCKER_NETWORK_NAME"] == "lab-network"
    assert env["DOCKER_JUPYTER_IMAGE"] == "dokku/lab-notebook:latest"
    assert "DATABASE_URL" in env  # the service keeps serving the renamed app
    assert "dokku network:destroy hub-network" in capsys.readouterr().out
    # Dokku's checks plugin does not carry zero-downtime off over a rename: the trigger did
    assert fake.checks_disabled["lab"] == "web"
    # create on the renamed app has nothing left to fix
    fake.calls.clear()
    assert run("jupyterhub:create", "lab") == 0
    assert fake.changes() == []


def test_rename_moves_a_leftover_tree_aside_never_deletes_it(hub):
    leftover = storage_root("lab") / "data" / "users" / "old"
    leftover.mkdir(parents=True)
    (leftover / "keep.txt").write_text("keep")
    hub.apps.add("lab")
    dokku_copies(hub, "hub", "lab", ("config",))
    assert post_app_rename_setup.main(["hub", "lab"]) == 0
    kept = [p for p in storage_root("lab").parent.iterdir() if p.name.startswith("lab.kept-")]
    assert len(kept) == 1
    assert (kept[0] / "data" / "users" / "old" / "keep.txt").read_text() == "keep"
    assert (data_root("lab") / "users" / "alice" / "thesis.ipynb").exists()


@pytest.mark.parametrize("order", ["dokku", "stand-in"])
def test_clone_is_a_separate_hub(hub, order, capsys):
    fake = hub
    original = {k: dict(v) if isinstance(v, dict) else v for k, v in {
        "config": fake.config["hub"], "mounts": list(fake.mounts["hub"]),
        "net": fake.network_props["hub"]}.items()}
    fake.apps.add("copy")
    before = ("config", "git") if order == "dokku" else ("config", "git", *AFTER_US)
    dokku_copies(fake, "hub", "copy", before)
    assert post_app_clone_setup.main(["hub", "copy"]) == 0
    if order == "dokku":
        dokku_copies(fake, "hub", "copy", AFTER_US)
    assert post_app_clone.main(["hub", "copy"]) == 0
    fake.deployed.add("copy")  # ps's post-app-clone builds the clone

    env, old_env = fake.config["copy"], fake.config["hub"]
    for key in ("HUB_ADMIN_PASSWORD", "HUB_PLUGIN_API_TOKEN"):
        assert env[key] and env[key] != old_env[key]
    # a password the hub accepts, or the clone never starts
    assert len(env["HUB_ADMIN_PASSWORD"]) >= ADMIN_PASSWORD_MIN_LENGTH
    assert "DATABASE_URL" not in env
    assert not any("copy" in linked for linked in fake.links.values())
    assert env["HUB_HOST_DATA_DIR"] == str(data_root("copy"))
    assert f"{data_root('copy')}:/data" in fake.mounts["copy"]
    assert f"{data_root('hub')}:/data" not in fake.mounts["copy"]
    assert fake.network_props["copy"]["attach-post-create"] == "copy-network"
    # own, empty users' tree with the original's policy (admins can log in)
    assert list((data_root("copy") / "users").iterdir()) == []
    assert json.loads((data_root("copy") / "policy.json").read_text())["admins"] == ["alice"]
    props = properties.all_for("copy")
    assert props["hub-app"] == "true" and "db-kind" not in props
    assert "postgres-service" not in props
    # the original is untouched
    assert fake.config["hub"] == original["config"]
    assert fake.mounts["hub"] == original["mounts"]
    assert fake.network_props["hub"] == original["net"]
    assert (data_root("hub") / "users" / "alice" / "thesis.ipynb").exists()
    assert properties.get("hub", "postgres-service") == "hub-db"
    out = capsys.readouterr().out
    assert old_env["HUB_ADMIN_PASSWORD"] not in out and env["HUB_ADMIN_PASSWORD"] not in out
    # not carried over a clone by Dokku's checks plugin: set by the trigger
    assert fake.checks_disabled["copy"] == "web"
    # create then gives the clone its own database, and nothing else
    fake.calls.clear()
    assert run("jupyterhub:create", "copy") == 0
    assert [c[0] for c in fake.changes()] == ["postgres:create", "postgres:link", "ps:restart"]
    assert properties.get("copy", "proxy-listener") not in (
        None, properties.get("hub", "proxy-listener"))  # both proxies run at once


def test_post_delete_releases_what_create_made_and_keeps_data(hub, engine, capsys):
    """`dokku apps:destroy` of a hub app: properties, network and notebook images go (a unique
    app name: the Docker engine is shared), the users' data stays."""
    app = f"djhtest-{secrets.token_hex(3)}"
    assert run("jupyterhub:create", app, "--admin", "alice", "--no-deploy") == 0
    (data_root(app) / "users" / "alice").mkdir()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        tf.addfile(tarfile.TarInfo("hello"), io.BytesIO(b""))
    engine.api.import_image_from_data(buf.getvalue(), repository=f"dokku/{app}-notebook",
                                      tag="latest")
    try:
        assert hub(["apps:destroy", app, "--force"], None, False).ok
        assert post_delete.main([app, "latest"]) == 0
        assert properties.all_for(app) == {}
        assert f"{app}-network" not in hub.networks
        assert not engine.images.list(name=f"dokku/{app}-notebook")
        assert (data_root(app) / "users" / "alice").is_dir()
        assert "kept in" in capsys.readouterr().out
    finally:
        for img in engine.images.list(name=f"dokku/{app}-notebook"):
            engine.images.remove(img.id, force=True)


def test_triggers_ignore_other_apps(hub):
    hub.apps.update({"blog", "blog2"})
    assert post_delete.main(["blog", "latest"]) == 0
    assert post_app_rename_setup.main(["blog", "blog2"]) == 0
    assert post_app_clone_setup.main(["blog", "blog2"]) == 0
    assert post_app_clone.main(["blog", "blog2"]) == 0
    assert hub.calls == [] and properties.all_for("blog2") == {}


# ---- failures: users' data stays safe, the trigger chain goes on ------------------------


def fail_nth(fake: FakeDokku, cmd: str, *nth: int):
    """A runner failing the n-th calls of `cmd`, as Dokku would: exit 1, one line."""
    count = 0

    def runner(args, input, stream):
        nonlocal count
        if args[0] == cmd:
            count += 1
            if count in nth:
                fake.calls.append(tuple(args))
                return dokku_cli.Result(1, "", f" !     injected failure of {cmd}\n")
        return fake(args, input, stream)

    return runner


def rename_state(fake: FakeDokku) -> dict:
    return {"mounts": sorted(fake.mounts["hub"]), "net": dict(fake.network_props["hub"]),
            "config": dict(fake.config["hub"]), "props": properties.all_for("hub")}


def assert_rename_undone(fake: FakeDokku, before: dict) -> None:
    """The old hub is exactly as before and its users' data where it was."""
    assert (data_root("hub") / "users" / "alice" / "thesis.ipynb").read_text() == "{}"
    assert not storage_root("lab").exists()
    assert rename_state(fake) == before
    assert properties.all_for("lab") == {}


def rename_again(fake: FakeDokku) -> None:
    """What the error message tells the admin to run, then a clean rename."""
    dokku_destroy(fake, "lab")
    fake.apps.add("lab")
    dokku_copies(fake, "hub", "lab", ("config", "domains", "git"))
    assert post_app_rename_setup.main(["hub", "lab"]) == 0
    dokku_copies(fake, "hub", "lab", AFTER_US)
    dokku_destroy(fake, "hub")
    assert (data_root("lab") / "users" / "alice" / "thesis.ipynb").read_text() == "{}"
    assert f"{data_root('lab')}:/data" in fake.mounts["lab"]
    assert fake.config["lab"]["HUB_HOST_DATA_DIR"] == str(data_root("lab"))


@pytest.mark.parametrize("nth", [1, 2])
def test_rename_that_fails_in_dokku_leaves_the_old_hub_and_its_data(hub, monkeypatch, nth):
    """storage:mount fails for the new app (1st) or the old one (2nd, after its /data mount
    was removed): nothing moved, the old app mounts its data again, the message says what
    to run, and running it works."""
    fake = hub
    before = rename_state(fake)
    fake.apps.add("lab")
    dokku_copies(fake, "hub", "lab", ("config", "domains", "git"))
    monkeypatch.setattr(dokku_cli, "runner", fail_nth(fake, "storage:mount", nth))
    with pytest.raises(DokkuError) as exc:
        post_app_rename_setup.main(["hub", "lab"])
    message = exc.value.message
    assert "injected failure of storage:mount" in message
    assert str(storage_root("hub")) in message
    assert "dokku apps:destroy lab --force" in message and "dokku apps:rename hub lab" in message
    assert_rename_undone(fake, before)
    monkeypatch.setattr(dokku_cli, "runner", fake)
    rename_again(fake)


def test_rename_whose_restore_fails_says_how_to_put_the_old_hub_back(hub, monkeypatch):
    """Dokku keeps refusing storage:mount, so the old hub cannot get its /data mount back:
    its data still does not move, and the error gives the exact commands."""
    fake = hub
    before = rename_state(fake)
    fake.apps.add("lab")
    dokku_copies(fake, "hub", "lab", ("config", "domains", "git"))
    monkeypatch.setattr(dokku_cli, "runner", fail_nth(fake, "storage:mount", 2, 3))
    with pytest.raises(DokkuError) as exc:
        post_app_rename_setup.main(["hub", "lab"])
    message = exc.value.message
    assert f"dokku storage:mount hub {data_root('hub')}:/data" in message
    assert "dokku network:set hub attach-post-create hub-network" in message
    assert "dokku apps:destroy lab --force && dokku apps:rename hub lab" in message
    assert (data_root("hub") / "users" / "alice" / "thesis.ipynb").read_text() == "{}"
    assert not storage_root("lab").exists() and properties.all_for("lab") == {}
    # running what it says restores the old hub exactly
    monkeypatch.setattr(dokku_cli, "runner", fake)
    for command in message.split(": ", 3)[-1].split("; then")[0].split(" && "):
        argv = command.split()
        assert argv[0] == "dokku"
        assert fake(argv[1:], None, False).ok, command
    assert rename_state(fake) == before


def test_rename_whose_data_move_fails_restores_the_old_hub(hub, monkeypatch):
    fake = hub
    before = rename_state(fake)
    fake.apps.add("lab")
    dokku_copies(fake, "hub", "lab", ("config", "domains", "git"))
    real = os.rename

    def refused(src, dst, *args, **kwargs):
        if str(src) == str(storage_root("hub")):
            raise PermissionError(13, "Permission denied", str(src))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(rename_clone.os, "rename", refused)
    with pytest.raises(DokkuError) as exc:
        post_app_rename_setup.main(["hub", "lab"])
    assert "Permission denied" in exc.value.message
    assert "dokku apps:rename hub lab" in exc.value.message
    assert_rename_undone(fake, before)
    monkeypatch.setattr(rename_clone.os, "rename", real)
    rename_again(fake)


class _EngineHandler(http.server.BaseHTTPRequestHandler):
    """Answers the ping (and the version), then fails as the server's `mode` says."""

    def _answer(self) -> None:
        path = urlsplit(self.path).path
        mode = self.server.mode  # type: ignore[attr-defined]
        if path.endswith("/_ping"):
            if mode == "dies":  # the engine stops right after answering the ping
                os.unlink(self.server.server_address)  # type: ignore[arg-type]
            self._send(200, b"OK")
        elif path.endswith("/version"):
            self._send(200, json.dumps({"ApiVersion": "1.41", "Version": "24.0"}).encode())
        elif path.endswith("/containers/json") and mode == "images-fail":
            self._send(200, b"[]")
        else:
            self._send(500, json.dumps({"message": "engine failure (test)"}).encode())

    do_GET = do_POST = do_DELETE = _answer

    def _send(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def broken_engine(tmp_path, monkeypatch):
    """Point docker_api at an engine that is down (`dead`), that dies after the ping
    (`dies`: requests' ConnectionError, not a DockerException) or that answers the image
    API with 500 (`images-fail`: docker.errors.APIError)."""
    servers = []

    def make(mode: str) -> None:
        sock = str(tmp_path / "engine.sock")
        if mode != "dead":
            server = socketserver.ThreadingUnixStreamServer(sock, _EngineHandler)
            server.mode = mode  # type: ignore[attr-defined]
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)
        monkeypatch.setattr(docker_api, "factory", lambda: docker.DockerClient(
            base_url=f"unix://{sock}", timeout=5))

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("mode", ["dead", "dies", "images-fail"])
def test_post_delete_never_fails_the_chain_when_docker_does(hub, broken_engine, capsys, mode):
    broken_engine(mode)
    assert hub(["apps:destroy", "hub", "--force"], None, False).ok
    assert post_delete.main(["hub", "latest"]) == 0
    err = capsys.readouterr().err
    lines = err.rstrip("\n").splitlines()
    assert lines and all(line.startswith(" !     ") for line in lines), err
    assert "jupyterhub:" in err and "dokku/hub-notebook" in err
    assert "Traceback" not in err
    assert properties.all_for("hub") == {}
    assert (data_root("hub") / "users" / "alice" / "thesis.ipynb").read_text() == "{}"


def test_an_engine_that_never_answers_stalls_nothing(dokku_env, tmp_path):
    """An engine that accepts the connection and then says nothing: post-deploy gives up
    after the liveness check, warns, and never fails the deploy; a command fails with one
    line. The subprocess timeout is a bound against hanging, not a speed assertion."""
    import socket
    import subprocess
    import sys

    sock_path = str(tmp_path / "silent.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(16)
    accepted = []
    stop = threading.Event()

    def accept_and_say_nothing() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept_and_say_nothing, daemon=True).start()
    properties.set("hub", "hub-app", "true")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DOKKU_LIB_ROOT": str(dokku_env), "DOCKER_HOST": f"unix://{sock_path}",
           "PYTHONPATH": str(root)}
    try:
        deploy = subprocess.run(
            [sys.executable, "-m", "dokku_jupyterhub.triggers", "post-deploy", "hub", "", "",
             "latest"], env=env, capture_output=True, text=True, timeout=120)
        command = subprocess.run(
            [sys.executable, "-m", "dokku_jupyterhub", "jupyterhub:rebuild-image", "hub"],
            env=env, capture_output=True, text=True, timeout=120)
    finally:
        stop.set()
        for conn in accepted:
            conn.close()
        server.close()
    assert accepted, "the test engine was never asked"
    assert deploy.returncode == 0, deploy.stderr
    assert "did not answer in time" in deploy.stderr
    assert command.returncode == 1
    assert command.stderr.count("\n") >= 1 and "did not answer in time" in command.stderr
