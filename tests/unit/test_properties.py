"""The property store writes Dokku's own layout: $DOKKU_LIB_ROOT/config/jupyterhub/<app>/<key>,
raw value, files 0600, directories 0755, atomic, empty value unsets, `--global` fallback."""

from __future__ import annotations

import grp
import os
import pwd
import stat
import subprocess

import pytest

from dokku_jupyterhub import properties as props


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_layout_raw_value_and_modes(dokku_env):
    props.set("hub", "auth-provider", "azuread")
    path = dokku_env / "config" / "jupyterhub" / "hub" / "auth-provider"
    assert path.read_bytes() == b"azuread"  # no trailing newline, as Dokku writes them
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o755
    assert mode(path.parent.parent) == 0o755
    assert mode(dokku_env / "config") == 0o755
    assert props.get("hub", "auth-provider") == "azuread"


def test_modes_do_not_depend_on_umask(dokku_env):
    old = os.umask(0o077)
    try:
        props.set("hub", "idle-timeout", "300")
    finally:
        os.umask(old)
    path = dokku_env / "config" / "jupyterhub" / "hub" / "idle-timeout"
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o755


def test_missing_value_and_default(dokku_env):
    assert props.get("hub", "domains") is None
    assert props.get("hub", "domains", "x") == "x"


def test_empty_value_unsets(dokku_env):
    props.set("hub", "notebook-image", "img:1")
    props.set("hub", "notebook-image", "")
    assert props.get("hub", "notebook-image") is None
    assert not (dokku_env / "config/jupyterhub/hub/notebook-image").exists()
    props.set("hub", "never-set", "")  # unsetting what is not there is fine
    props.delete("hub", "never-set")


def test_overwrite_is_atomic_and_leaves_no_temporary_files(dokku_env, monkeypatch):
    props.set("hub", "db-kind", "sqlite")
    path = dokku_env / "config/jupyterhub/hub/db-kind"
    inode = os.stat(path).st_ino
    props.set("hub", "db-kind", "postgres")
    assert path.read_text() == "postgres"
    assert os.stat(path).st_ino != inode  # replaced by rename, never rewritten in place
    assert sorted(p.name for p in path.parent.iterdir()) == ["db-kind"]

    # A write that fails half-way keeps the old value and cleans up after itself.
    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(props.os, "replace", broken_replace)
    with pytest.raises(OSError):
        props.set("hub", "db-kind", "sqlite")
    assert path.read_text() == "postgres"
    assert sorted(p.name for p in path.parent.iterdir()) == ["db-kind"]


def test_lists_are_newline_separated(dokku_env):
    props.set("hub", "domains", "hub.example.edu\njupyter.example.edu")
    path = dokku_env / "config/jupyterhub/hub/domains"
    assert path.read_text() == "hub.example.edu\njupyter.example.edu"
    assert props.get_list("hub", "domains") == ["hub.example.edu", "jupyter.example.edu"]
    props.set("hub", "domains", "")
    assert props.get_list("hub", "domains") == []
    assert not path.exists()


def test_global_fallback(dokku_env):
    assert props.get_with_global("hub", "hub-base-image", "default") == "default"
    props.set(props.GLOBAL, "hub-base-image", "global:1")
    assert (dokku_env / "config/jupyterhub/--global/hub-base-image").read_text() == "global:1"
    assert props.get_with_global("hub", "hub-base-image") == "global:1"
    props.set("hub", "hub-base-image", "app:1")
    assert props.get_with_global("hub", "hub-base-image") == "app:1"
    props.set("hub", "hub-base-image", "")
    assert props.get_with_global("hub", "hub-base-image") == "global:1"


@pytest.mark.parametrize("key", ["", "Upper", "a/b", "../x", ".hidden", "a b", "-x"])
def test_bad_keys_are_refused(dokku_env, key):
    with pytest.raises(ValueError):
        props.set("hub", key, "v")
    assert not list(dokku_env.rglob("*")) or props.all_for("hub") == {}


@pytest.mark.parametrize("app", ["", "a/b", "..", ".x", "../etc"])
def test_bad_app_names_are_refused(dokku_env, app):
    with pytest.raises(ValueError):
        props.set(app, "hub-app", "true")
    with pytest.raises(ValueError):
        props.destroy(app)


def test_all_for_apps_with_destroy(dokku_env):
    props.set("a", "hub-app", "true")
    props.set("a", "db-kind", "sqlite")
    props.set("b", "hub-app", "true")
    props.set("c", "db-kind", "sqlite")
    props.set(props.GLOBAL, "hub-app", "true")
    assert props.all_for("a") == {"db-kind": "sqlite", "hub-app": "true"}
    assert props.all_for("nope") == {}
    assert props.apps_with("hub-app") == ["a", "b"]  # never the --global pseudo-app
    props.destroy("a")
    assert props.all_for("a") == {}
    assert props.apps_with("hub-app") == ["b"]
    props.destroy("a")  # twice is fine


def test_rename_and_clone(dokku_env):
    props.set("old", "hub-app", "true")
    props.set("old", "domains", "x.example.edu")
    props.clone("old", "copy")
    assert props.all_for("copy") == props.all_for("old")
    assert mode(dokku_env / "config/jupyterhub/copy/domains") == 0o600
    props.rename("old", "new")
    assert props.all_for("old") == {}
    assert props.all_for("new") == {"domains": "x.example.edu", "hub-app": "true"}
    props.rename("missing", "other")  # nothing to move
    assert props.all_for("other") == {}


def _dokku_ids():
    try:
        return pwd.getpwnam("dokku").pw_uid, grp.getgrnam("dokku").gr_gid
    except KeyError:
        return None


def test_owned_by_dokku_when_written_by_root(dokku_env):
    """Triggers such as install run as root: what they write must stay the dokku user's."""
    if os.geteuid() != 0:
        pytest.skip("ownership is only changed when running as root")
    ids = _dokku_ids()
    if ids is None:
        subprocess.run(["useradd", "--system", "--user-group", "dokku"], check=True)
        ids = _dokku_ids()
    props.set("hub", "hub-app", "true")
    for path in (dokku_env / "config", dokku_env / "config/jupyterhub",
                 dokku_env / "config/jupyterhub/hub", dokku_env / "config/jupyterhub/hub/hub-app"):
        st = os.stat(path)
        assert (st.st_uid, st.st_gid) == ids, path
