"""`jupyterhub:create`: the exact Dokku command sequence, idempotent reruns and secrets, with
the syntax-checking recorder in place of Dokku (tests/support/recorder.py). Docker is the
real engine (create checks it can reach it)."""

from __future__ import annotations

import grp
import io
import json
import os
import pwd
import secrets
import tarfile

import pytest
from support.clirun import run
from support.recorder import FakeDokku, install_plugins

from dokku_jupyterhub import create_plan, datadirs, dokku_cli, properties, proxy_plan
from dokku_jupyterhub.hub_runtime.settings import ADMIN_PASSWORD_MIN_LENGTH
from dokku_jupyterhub.paths import data_root, gate_dir, storage_root


@pytest.fixture
def fake(dokku_env, monkeypatch, engine):
    f = FakeDokku()
    monkeypatch.setattr(dokku_cli, "runner", f)
    install_plugins(dokku_env, "postgres", "letsencrypt", monkeypatch=monkeypatch)
    return f




FULL = ("jupyterhub:create", "hub", "--domain", "hub.example.edu", "--admin", "alice",
        "--letsencrypt-email", "admin@example.edu")


def test_create_issues_exactly_these_commands(fake, capsys, dokku_env):
    code, out, err = run(capsys, *FULL)
    assert code == 0, err
    data = str(data_root("hub"))
    env = fake.config["hub"]
    secret_pw, token = env["HUB_ADMIN_PASSWORD"], env["HUB_PLUGIN_API_TOKEN"]
    proxy_token = env["CONFIGPROXY_AUTH_TOKEN"]
    assert fake.changes() == [
        ("apps:create", "hub"),
        ("domains:add", "hub", "hub.example.edu"),
        ("ports:set", "hub", "http:80:8000"),
        # Docker through the app's gate only: the hub never gets the socket itself
        ("storage:mount", "hub", f"{gate_dir('hub')}:/run/dokku-gate"),
        ("network:create", "hub-network"),
        ("network:set", "hub", "attach-post-create", "hub-network"),
        ("network:set", "hub", "bind-all-interfaces", "false"),
        ("checks:disable", "hub", "web"),
        ("config:set", "--no-restart", "hub",
         "DOCKER_NETWORK_NAME=hub-network", "HUB_IP=hub.web",
         "DOCKER_JUPYTER_IMAGE=dokku/hub-notebook:latest", "HUB_APP_NAME=hub",
         "HUB_PROXY_HOST=dokku.jupyterhub.hub.proxy",
         "HUB_DATA_DIR=/data", f"HUB_HOST_DATA_DIR={data}", "HUB_IDLE_TIMEOUT=300",
         f"HUB_ADMIN_PASSWORD={secret_pw}", f"HUB_PLUGIN_API_TOKEN={token}",
         f"CONFIGPROXY_AUTH_TOKEN={proxy_token}",
         "HUB_DOCKER_GATE=/run/dokku-gate/docker.sock"),
        ("storage:mount", "hub", f"{data}:/data"),
        ("nginx:set", "hub", "client-max-body-size", "30m"),
        ("nginx:set", "hub", "proxy-read-timeout", "3600s"),
        ("proxy:build-config", "hub"),
        ("postgres:create", "hub-db"),
        ("postgres:link", "hub-db", "hub", "--no-restart"),
        ("letsencrypt:set", "hub", "email", "admin@example.edu"),
        ("git:from-archive", "hub", "--"),
        ("letsencrypt:enable", "hub"),
    ]
    # the deploy got the rendered hub app as a tar with one top folder
    deploy_call = next(i for i, c in enumerate(fake.calls) if c[0] == "git:from-archive")
    with tarfile.open(fileobj=io.BytesIO(fake.stdin[deploy_call])) as tf:
        names = tf.getnames()
    assert any(n.endswith("/Dockerfile") for n in names)
    # secrets: long enough for the hub, different, never printed
    assert len(secret_pw) >= ADMIN_PASSWORD_MIN_LENGTH
    assert len(token) == 64 and secret_pw != token
    assert len(proxy_token) == 64 and proxy_token not in (secret_pw, token)
    assert all(s not in out + err for s in (secret_pw, token, proxy_token))
    # local effects and records
    assert json.loads((data_root("hub") / "policy.json").read_text())["admins"] == ["alice"]
    props = properties.all_for("hub")
    assert props["hub-app"] == "true"
    assert props["postgres-service"] == "hub-db" and props["db-kind"] == "postgres"
    assert props["domains"] == "hub.example.edu"
    assert props["idle-timeout"] == "300" and props["max-body-size"] == "30m"
    # the proxy's own loopback address (the first free one: this host may run other proxies)
    assert proxy_plan.is_listener(props["proxy-listener"])
    # how to log in, without the password
    assert "https://hub.example.edu/" in out
    assert "dokku config:get hub HUB_ADMIN_PASSWORD" in out
    assert "alice" in out


def test_rerun_changes_nothing_and_says_so(fake, capsys):
    assert run(capsys, *FULL)[0] == 0
    before = dict(fake.config["hub"])
    policy_file = data_root("hub") / "policy.json"
    mtime = policy_file.stat().st_mtime_ns
    fake.calls.clear()
    code, out, _ = run(capsys, *FULL)
    assert code == 0
    assert fake.changes() == []
    assert "already set up" in out
    assert fake.config["hub"] == before  # secrets kept
    assert policy_file.stat().st_mtime_ns == mtime


def test_rerun_replaces_an_admin_password_the_hub_refuses(fake, capsys):
    """A hub cloned by an older plugin got a 24-character password and never started: a rerun
    of create replaces it (and only it), says so, and never prints either password."""
    assert run(capsys, *FULL)[0] == 0
    env = fake.config["hub"]
    short = secrets.token_urlsafe(18)  # what apps:clone used to generate
    env["HUB_ADMIN_PASSWORD"] = short
    token = env["HUB_PLUGIN_API_TOKEN"]
    fake.calls.clear()
    code, out, err = run(capsys, *FULL)
    assert code == 0, err
    new = env["HUB_ADMIN_PASSWORD"]
    assert new != short and len(new) >= ADMIN_PASSWORD_MIN_LENGTH
    assert env["HUB_PLUGIN_API_TOKEN"] == token
    assert fake.changes() == [
        ("config:set", "--no-restart", "hub", f"HUB_ADMIN_PASSWORD={new}"),
        ("ps:restart", "hub"),
    ]
    assert "too short" in out and "dokku config:get hub HUB_ADMIN_PASSWORD" in out
    assert new not in out + err and short not in out + err
    # and the next rerun keeps the new one
    fake.calls.clear()
    assert run(capsys, *FULL)[0] == 0
    assert fake.changes() == [] and env["HUB_ADMIN_PASSWORD"] == new


def test_generated_secrets_are_what_the_hub_accepts():
    for _ in range(20):
        fresh = create_plan.Secrets.fresh()
        assert len(fresh.admin_password) >= ADMIN_PASSWORD_MIN_LENGTH
        assert len(fresh.api_token) == 64
    assert create_plan.new_admin_password() != create_plan.new_admin_password()


def test_rerun_never_replaces_the_admins_source(fake, capsys):
    assert run(capsys, *FULL)[0] == 0
    fake.source["hub"] = b"pushed by the admin"
    fake.calls.clear()
    assert run(capsys, *FULL)[0] == 0
    assert not [c for c in fake.changes() if c[0] == "git:from-archive"]


def test_second_admin_and_new_domain_are_added_only(fake, capsys):
    assert run(capsys, *FULL)[0] == 0
    fake.calls.clear()
    code, _, err = run(capsys, "jupyterhub:create", "hub", "--domain", "b.example.edu",
                       "--admin", "Bob")
    assert code == 0, err
    assert fake.changes() == [("domains:add", "hub", "b.example.edu")]
    doc = json.loads((data_root("hub") / "policy.json").read_text())
    assert doc["admins"] == ["alice", "bob"]
    assert properties.get("hub", "domains") == "hub.example.edu\nb.example.edu"


def test_no_deploy_and_no_postgres(fake, capsys):
    code, out, err = run(capsys, "jupyterhub:create", "hub", "--admin", "alice",
                         "--no-deploy", "--no-postgres")
    assert code == 0, err
    cmds = [c[0] for c in fake.changes()]
    assert "git:from-archive" not in cmds and not any(c.startswith("postgres:") for c in cmds)
    assert properties.get("hub", "db-kind") == "sqlite"
    assert "SQLite" in out and "--no-postgres" in out
    assert "--no-deploy" in out
    # as the note says: run create again without --no-deploy. The app's repository has no
    # commit yet (Dokku's git:report prints HEAD), so it deploys the generated source.
    fake.calls.clear()
    code, out, err = run(capsys, "jupyterhub:create", "hub")
    assert code == 0, err
    assert [c[0] for c in fake.changes()] == ["git:from-archive"]


def test_without_dokku_postgres_uses_sqlite_with_a_note(dokku_env, monkeypatch, capsys, engine):
    fake = FakeDokku()
    monkeypatch.setattr(dokku_cli, "runner", fake)
    install_plugins(dokku_env, monkeypatch=monkeypatch)  # no plugins
    code, out, err = run(capsys, "jupyterhub:create", "hub", "--admin", "alice")
    assert code == 0, err
    assert not [c for c in fake.calls if c[0].startswith(("postgres:", "letsencrypt:"))]
    assert "dokku-postgres is not installed" in out


def test_options_reach_config_nginx_and_policy(fake, capsys):
    code, _, err = run(capsys, "jupyterhub:create", "hub", "--admin", "alice",
                       "--memory", "1G", "--idle-timeout", "900", "--max-body-size", "200m",
                       "--notebook-image", "quay.io/jupyter/scipy-notebook:2024-05-27")
    assert code == 0, err
    env = fake.config["hub"]
    assert env["HUB_IDLE_TIMEOUT"] == "900"
    assert env["DOCKER_JUPYTER_IMAGE"] == "quay.io/jupyter/scipy-notebook:2024-05-27"
    assert properties.get("hub", "notebook-image") == "quay.io/jupyter/scipy-notebook:2024-05-27"
    assert fake.nginx["hub"]["client-max-body-size"] == "200m"
    doc = json.loads((data_root("hub") / "policy.json").read_text())
    assert doc["limits"]["default"]["memory"] == "1g"


def test_rerun_keeps_later_settings(fake, capsys):
    """A plain rerun does not undo `set` (idle timeout, body size, memory)."""
    assert run(capsys, "jupyterhub:create", "hub", "--admin", "alice")[0] == 0
    fake.config["hub"]["HUB_IDLE_TIMEOUT"] = "1200"
    fake.nginx["hub"]["client-max-body-size"] = "1g"
    fake.calls.clear()
    assert run(capsys, "jupyterhub:create", "hub")[0] == 0
    assert fake.changes() == []


def test_data_tree_modes(fake, capsys):
    assert run(capsys, "jupyterhub:create", "hub", "--admin", "alice", "--no-deploy")[0] == 0
    root = data_root("hub")
    assert oct(root.stat().st_mode & 0o777) == "0o750"
    assert oct(storage_root("hub").stat().st_mode & 0o777) == "0o755"
    for name in ("users", "user-settings", "shared", "colab", "groups"):
        path = root / name
        assert path.is_dir() and oct(path.stat().st_mode & 0o777) == "0o755"


def test_data_tree_owners_and_modes_as_root(dokku_env, monkeypatch):
    """As root, ensure gives the five shared folders to the notebook user (1000:100) and the
    upper directories to the Dokku system user, whatever the umask."""
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("CI runs the tests as root: this test needs root")
        pytest.skip("chown needs root (CI runs as root)")
    monkeypatch.setenv("DOKKU_SYSTEM_USER", "nobody")
    monkeypatch.setenv("DOKKU_SYSTEM_GROUP", "nogroup")
    upper = (pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid)
    old_umask = os.umask(0o077)
    try:
        created = datadirs.ensure("hub")
    finally:
        os.umask(old_umask)
    root = data_root("hub")
    expected = {
        storage_root("hub"): (0o755, upper),
        gate_dir("hub"): (0o750, upper),  # the Docker gate's socket: not for other users
        root: (0o750, upper),
        **{root / name: (0o755, (1000, 100))
           for name in ("users", "user-settings", "shared", "colab", "groups")},
    }
    assert sorted(created) == sorted(expected)
    for path, (mode, owner) in expected.items():
        st = path.stat()
        assert (oct(st.st_mode & 0o7777), (st.st_uid, st.st_gid)) == (oct(mode), owner), path
    # a second run changes nothing, and an unknown Dokku user leaves the upper dirs to root
    assert datadirs.ensure("hub") == []
    monkeypatch.setenv("DOKKU_SYSTEM_USER", "no-such-user-djh")
    created = datadirs.ensure("lab")
    for path in created[:3]:
        st = path.stat()
        assert (st.st_uid, st.st_gid) == (0, 0), path
    for path in created[3:]:
        st = path.stat()
        assert (st.st_uid, st.st_gid) == (1000, 100), path


def test_the_port_map_survives_dokkus_first_domain(fake, capsys):
    """Dokku creates an app without vhosts on a host without a global domain; its first
    domains:add turns them on and clears an http:80 port map. create maps port 80 after
    the domain, also when a hub made without a domain gets one later."""
    assert run(capsys, *FULL)[0] == 0
    assert fake.ports["hub"] == ["http:80:8000"]
    assert run(capsys, "jupyterhub:create", "blog", "--admin", "alice")[0] == 0
    assert fake.ports["blog"] == ["http:80:8000"] and fake.config["blog"]["NO_VHOST"] == "1"
    fake.calls.clear()
    assert run(capsys, "jupyterhub:create", "blog", "--domain", "blog.example.edu")[0] == 0
    assert fake.ports["blog"] == ["http:80:8000"]
    cmds = [c[0] for c in fake.changes()]
    assert cmds.index("domains:add") < cmds.index("ports:set")
