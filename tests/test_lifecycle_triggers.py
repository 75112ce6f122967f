"""The lifecycle triggers with the recorder in place of Dokku, run in Dokku 0.38's order:
plugins in alphabetical order, so `config` copies the app's environment BEFORE `jupyterhub`,
and `network`, `postgres` and `storage` copy theirs AFTER it (see triggers/appcopy.py).
Also the stand-in's order (everything copied first) for rename and clone."""

from __future__ import annotations

import io
import json
import secrets
import tarfile

import pytest
from test_create_recorder import FakeDokku, install_plugins

from dokku_jupyterhub import cli, dokku_cli, properties
from dokku_jupyterhub.paths import data_root, storage_root
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
    assert mounts.count("/var/run/docker.sock:/var/run/docker.sock") == 1
    assert fake.network_props["lab"]["attach-post-create"] == "lab-network"
    assert "lab-network" in fake.networks
    env = fake.config["lab"]
    assert env["HUB_APP_NAME"] == "lab" and env["HUB_IP"] == "lab.web"
    assert env["HUB_HOST_DATA_DIR"] == str(data_root("lab"))
    assert env["DOCKER_NETWORK_NAME"] == "lab-network"
    assert env["DOCKER_JUPYTER_IMAGE"] == "dokku/lab-notebook:latest"
    assert "DATABASE_URL" in env  # the service keeps serving the renamed app
    assert "dokku network:destroy hub-network" in capsys.readouterr().out
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
    # create then gives the clone its own database, and nothing else
    fake.calls.clear()
    assert run("jupyterhub:create", "copy") == 0
    assert [c[0] for c in fake.changes()] == ["postgres:create", "postgres:link", "ps:restart"]


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
