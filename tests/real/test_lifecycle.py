"""`jupyterhub:destroy` and `jupyterhub:list`: Dokku through the recorder, Docker for real
(notebook images and users' servers are made in the engine, without any registry)."""

from __future__ import annotations

import contextlib
import io
import json
import secrets
import sys
import tarfile

import docker.errors
import pytest
from support.recorder import FakeDokku, install_plugins

from dokku_jupyterhub import cli, dokku_cli, properties, teardown
from dokku_jupyterhub.hub_runtime.contract import LABEL_NOTEBOOK_APP as NOTEBOOK_LABEL
from dokku_jupyterhub.paths import data_root, storage_root


def run(capsys, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    real = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with pytest.raises(SystemExit) as exc:
            cli.main(list(argv))
    finally:
        sys.stdin = real
    got = capsys.readouterr()
    return int(exc.value.code or 0), got.out, got.err


def tiny_image(engine, ref: str, labels: dict[str, str]) -> str:
    """An image imported from a one-file tar: no registry needed."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("hello")
        tf.addfile(info, io.BytesIO(b""))
    repo, tag = ref.rsplit(":", 1)
    changes = [f"LABEL {k}={v}" for k, v in labels.items()] + ['CMD ["/hello"]']
    engine.api.import_image_from_data(buf.getvalue(), repository=repo, tag=tag, changes=changes)
    return engine.images.get(ref).id


@pytest.fixture
def app(engine):
    """A unique app name: the Docker engine is shared with other suites."""
    name = f"djhtest-{secrets.token_hex(3)}"
    yield name
    for c in engine.containers.list(all=True, filters={"name": name}):
        c.remove(force=True)
    for repo in (f"dokku/{name}-notebook", f"dokku/{name}"):
        for img in engine.images.list(name=repo):
            engine.images.remove(img.id, force=True)
    for label in ("com.dokku.app-name", "org.dokku-jupyterhub.app"):
        for img in engine.images.list(filters={"label": f"{label}={name}"}):
            engine.images.remove(img.id, force=True)
    for net in engine.networks.list(names=[f"{name}-network"]):
        net.remove()


@pytest.fixture
def hub(app, dokku_env, monkeypatch, engine, capsys):
    fake = FakeDokku()
    monkeypatch.setattr(dokku_cli, "runner", fake)
    install_plugins(dokku_env, "postgres", monkeypatch=monkeypatch)
    monkeypatch.delenv("DOKKU_APPS_FORCE_DELETE", raising=False)
    code, _, err = run(capsys, "jupyterhub:create", app, "--domain", "hub.example.edu",
                       "--admin", "alice")
    assert code == 0, err
    work = data_root(app) / "users" / "alice"
    work.mkdir()
    (work / "thesis.ipynb").write_text("{}")
    fake.calls.clear()
    return fake


def test_destroy_asks_for_the_app_name(hub, app, capsys):
    code, _, err = run(capsys, "jupyterhub:destroy", app, stdin="wrong\n")
    assert code == 1 and f"Confirmation did not match {app}. Aborted." in err
    assert hub.changes() == [] and app in hub.apps
    assert properties.get(app, "hub-app") == "true"


def test_destroy_keeps_data_and_asks_about_the_database(hub, app, capsys):
    code, out, err = run(capsys, "jupyterhub:destroy", app, stdin=f"{app}\n\n")
    assert code == 0, err
    assert hub.changes() == [("apps:destroy", app, "--force"),
                             ("network:destroy", f"{app}-network", "--force")]
    assert (data_root(app) / "users" / "alice" / "thesis.ipynb").read_text() == "{}"
    assert f"Users' data kept in {storage_root(app)}" in out
    assert f"Postgres service {app}-db kept" in out and f"{app}-db" in hub.services
    assert properties.all_for(app) == {}


def test_destroy_removes_the_database_only_when_its_name_is_typed(hub, app, capsys):
    code, _, err = run(capsys, "jupyterhub:destroy", app, stdin=f"{app}\n{app}-db\n")
    assert code == 0, err
    assert hub.changes()[-1] == ("postgres:destroy", f"{app}-db", "--force")
    assert hub.services == set()


def test_force_never_destroys_the_database(hub, app, capsys, monkeypatch):
    monkeypatch.setenv("DOKKU_APPS_FORCE_DELETE", "1")  # `dokku --force jupyterhub:destroy`
    code, out, _ = run(capsys, "jupyterhub:destroy", app)
    assert code == 0
    assert f"dokku postgres:destroy {app}-db" in out
    assert f"{app}-db" in hub.services and app not in hub.apps


def test_purge_data_deletes_the_tree(hub, app, capsys):
    code, out, _ = run(capsys, "jupyterhub:destroy", app, "--force", "--purge-data")
    assert code == 0
    assert not storage_root(app).exists()
    assert f"Deleted {storage_root(app)}" in out


def test_destroy_removes_notebook_images_and_users_servers(hub, app, engine, capsys):
    built = tiny_image(engine, f"dokku/{app}-notebook:latest",
                       {"org.dokku-jupyterhub.app": app, "org.dokku-jupyterhub.context-hash": "h1"})
    # built by an older plugin version, which labelled notebook images as Dokku's own
    older = tiny_image(engine, f"djh-test/{app}-old:1",
                       {"com.dokku.app-name": app, "org.dokku-jupyterhub.context-hash": "h0"})
    pinned = tiny_image(engine, f"djh-test/{app}-pinned:1", {})  # the admin's own image
    net = engine.networks.create(f"{app}-network")
    server = engine.containers.create(f"djh-test/{app}-pinned:1", name=f"{app}-jupyter-alice",
                                      labels={NOTEBOOK_LABEL: app})
    net.connect(server)
    code, _, err = run(capsys, "jupyterhub:destroy", app, "--force")
    assert code == 0, err
    ids = {img.id for img in engine.images.list()}
    assert built not in ids and older not in ids
    assert pinned in ids
    assert not engine.containers.list(all=True, filters={"name": f"{app}-jupyter-alice"})
    engine.images.remove(pinned, force=True)


def test_only_the_hubs_own_notebook_servers_are_removed(app, engine, dokku_env, monkeypatch,
                                                         capsys):
    """The hub's network may also carry a dokku-postgres container or anything an admin
    attached: those are disconnected, never removed. Only containers the hub's spawner
    labelled for THIS app go."""
    fake = FakeDokku()
    monkeypatch.setattr(dokku_cli, "runner", fake)
    net_name = f"{app}-network"
    fake.networks.add(net_name)
    image = tiny_image(engine, f"djh-test/{app}-nb:1", {})
    net = engine.networks.create(net_name)
    made = {
        "server": engine.containers.create(image, name=f"{app}-jupyter-alice",
                                           labels={NOTEBOOK_LABEL: app}),
        "database": engine.containers.create(  # as dokku-postgres labels its containers
            image, name=f"{app}-postgres-db", labels={"com.dokku.service": "postgres"}),
        "plain": engine.containers.create(image, name=f"{app}-admins-tool"),
        "other-hub": engine.containers.create(image, name=f"{app}-x-jupyter-bob",
                                              labels={NOTEBOOK_LABEL: f"{app}-x"}),
    }
    for c in made.values():
        net.connect(c)
    try:
        teardown.release(engine, app, net_name)
        left = {c.id for c in engine.containers.list(all=True)}
        assert made["server"].id not in left
        for key in ("database", "plain", "other-hub"):
            c = made[key]
            assert c.id in left, key
            c.reload()
            assert net_name not in c.attrs["NetworkSettings"]["Networks"], key
        assert fake.changes() == [("network:destroy", net_name, "--force")]
        out = capsys.readouterr().out
        assert f"{app}-postgres-db" in out and "disconnected" in out
    finally:
        for c in made.values():
            with contextlib.suppress(docker.errors.NotFound):
                c.remove(force=True)
        engine.images.remove(image, force=True)


def test_release_disconnects_the_apps_own_stopped_container_and_drops_the_network(
        app, engine, dokku_env, monkeypatch, capsys):
    """A plain `dokku apps:destroy`: Dokku has stopped the app's web container but removes it
    only after this plugin's post-delete (plugn runs post-delete in plugin name order), so it
    is still on the network. It is disconnected, not removed (that is Dokku's), and the
    network goes (real Dokku 0.38.27 left it behind otherwise)."""
    fake = FakeDokku()
    monkeypatch.setattr(dokku_cli, "runner", fake)
    net_name = f"{app}-network"
    fake.networks.add(net_name)
    image = tiny_image(engine, f"djh-test/{app}-web:1", {})
    net = engine.networks.create(net_name)
    web = engine.containers.create(image, name=f"{app}.web.1", labels={"com.dokku.app-name": app})
    net.connect(web)
    try:
        teardown.release(engine, app, net_name)
        assert fake.changes() == [("network:destroy", net_name, "--force")]
        assert f"{net_name} kept" not in capsys.readouterr().err
        web.reload()
        assert net_name not in web.attrs["NetworkSettings"]["Networks"]
    finally:
        web.remove(force=True)
        engine.images.remove(image, force=True)


@pytest.mark.parametrize(("args", "words"), [
    (("blog",), "blog is not a jupyterhub app: use dokku apps:destroy blog"),
    (("ghost",), "App ghost does not exist"),
    (("../x",), "is not a jupyterhub app"),
])
def test_destroy_refuses_other_apps(hub, capsys, args, words):
    hub.apps.add("blog")
    code, _, err = run(capsys, "jupyterhub:destroy", *args, "--force")
    assert code == 1 and words in err
    assert hub.changes() == []


def test_destroy_cleans_up_an_interrupted_create(app, dokku_env, monkeypatch, engine, capsys):
    fake = FakeDokku()
    monkeypatch.setattr(dokku_cli, "runner", fake)
    install_plugins(dokku_env, monkeypatch=monkeypatch)
    properties.set(app, "hub-app", "true")  # create stopped right after marking the app
    code, _, err = run(capsys, "jupyterhub:destroy", app, "--force")
    assert code == 0, err
    assert fake.changes() == [] and properties.all_for(app) == {}


def test_list_shows_domain_state_and_image(hub, app, engine, capsys):
    assert run(capsys, "jupyterhub:create", "lab", "--admin", "carol", "--no-deploy",
               "--notebook-image", "quay.io/jupyter/base-notebook:2024")[0] == 0
    image = tiny_image(engine, f"dokku/{app}:latest", {})
    engine.containers.create(image, name=f"{app}.web.1")
    code, out, _ = run(capsys, "jupyterhub:list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "=====> JupyterHub apps"
    row = next(line for line in lines if line.startswith(app)).split()
    assert row == [app, "hub.example.edu", "created", f"dokku/{app}-notebook:latest"]
    lab = next(line for line in lines if line.startswith("lab")).split()
    assert lab == ["lab", "-", "not", "deployed", "quay.io/jupyter/base-notebook:2024"]
    code, out, _ = run(capsys, "jupyterhub:list", "--format", "json")
    rows = {r["app"]: r for r in json.loads(out)}
    assert rows[app]["state"] == "created" and rows[app]["domain"] == "hub.example.edu"
    assert rows["lab"]["notebook_image"] == "quay.io/jupyter/base-notebook:2024"


def test_list_without_hub_apps(dokku_env, capsys, monkeypatch):
    monkeypatch.setattr(dokku_cli, "runner", FakeDokku())
    code, out, _ = run(capsys, "jupyterhub:list")
    assert code == 0 and "No jupyterhub apps" in out
    assert json.loads(run(capsys, "jupyterhub:list", "--format", "json")[1]) == []


def test_purge_that_the_dokku_user_cannot_do_says_how(hub, app, capsys, monkeypatch):
    """Users' files belong to uid 1000 on a server: without Dokku's sudo helper the purge
    stops with the command to run, after everything else is done."""
    real = teardown.shutil.rmtree

    def denied(path, *args, **kwargs):
        if str(path) == str(storage_root(app)):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(teardown.shutil, "rmtree", denied)
    monkeypatch.setenv("PLUGIN_AVAILABLE_PATH", "/nonexistent")
    code, _, err = run(capsys, "jupyterhub:destroy", app, "--force", "--purge-data")
    assert code == 1
    assert f"sudo rm -rf {storage_root(app)}" in err
    assert app not in hub.apps and storage_root(app).exists()
