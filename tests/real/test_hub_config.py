"""The rendered jupyterhub_config.py, loaded into a real JupyterHub with the real
DockerSpawner and OAuthenticator: what each user's notebook container would get."""

from __future__ import annotations

import logging
import os
import stat

import docker
import pytest
from support.hub_harness import API_TOKEN, HOST_ROOT, RenderedHub, write_policy

HOME = "/home/jovyan"
POLICY = {
    "version": 1,
    "admins": ["alice"],
    "users": ["carol"],
    "groups": {
        "physics": {"members_mode": "ro", "members": ["bob"]},
        "lab": {"members_mode": "rw", "members": ["bob", "dave"]},
        "chem": {"members_mode": "rw", "members": []},
    },
    "limits": {
        "default": {"memory": "350m"},
        "users": {"dave": {"memory": "2G"}},
        "groups": {"physics": {"memory": "1G", "cpu": 1.5}, "lab": {"memory": "512m"}},
    },
}


@pytest.fixture
def hub(tmp_path, monkeypatch):
    h = RenderedHub(tmp_path, monkeypatch)
    write_policy(h.data, POLICY)
    h.start()
    yield h
    h.close()


def binds(spawner) -> dict[str, tuple[str, str]]:
    """container path -> (host path, mode), as DockerSpawner will pass them to Docker."""
    return {v["bind"]: (host, v["mode"]) for host, v in spawner.volume_binds.items()}


def owner(path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_uid, st.st_gid


def test_hub_settings_from_the_environment(hub):
    app = hub.app
    assert app.cleanup_servers is False
    assert app.shutdown_on_logout is True
    assert app.last_activity_interval == 150
    assert app.hub_connect_ip == "hub.web"
    assert app.hub_ip == "0.0.0.0"
    assert app.db_url == f"sqlite:///{hub.data}/jupyterhub.sqlite"
    assert app.cookie_secret_file == f"{hub.data}/jupyterhub_cookie_secret"
    assert stat.S_IMODE(os.stat(app.cookie_secret_file).st_mode) == 0o600
    spawner = hub.user("carol").spawner
    # DockerSpawner, watching the container while it starts (dokku_hub.docker_spawner)
    from dockerspawner import DockerSpawner

    assert isinstance(spawner, DockerSpawner)
    assert type(spawner).__module__ == "dokku_hub.docker_spawner"
    assert spawner.failure_record == f"{hub.data}/last-spawn-failure.json"
    assert spawner.image == "dokku/hub-notebook:latest"
    assert spawner.network_name == "hub-network"
    assert spawner.use_internal_ip is True
    assert spawner.remove is True
    assert spawner.object_name == "hub-jupyter-carol"
    assert spawner.default_url == "/lab"
    assert spawner.notebook_dir == f"{HOME}/work"
    assert spawner.cmd == ["jupyterhub-singleuser"]
    assert spawner.pull_policy == "never"  # built locally by the plugin
    assert (spawner.start_timeout, spawner.http_timeout) == (120, 60)


def test_services_and_roles_are_least_privilege(hub):
    from jupyterhub import orm

    roles = {r.name: sorted(r.scopes) for r in hub.app.db.query(orm.Role)}
    culler = sorted(["list:users", "read:users:activity", "read:servers", "delete:servers"])
    assert roles["idle-culler"] == culler
    assert roles["dokku-jupyterhub"] == sorted(["list:users", "read:users", "read:servers"])
    services = {s["name"]: s for s in hub.app.services}
    assert services["idle-culler"]["command"][-1] == "--timeout=300"
    assert "admin" not in services["idle-culler"]
    assert services["dokku-jupyterhub"]["api_token"] == API_TOKEN
    # Neither service holds an admin role.
    for name in ("idle-culler", "dokku-jupyterhub"):
        service = orm.Service.find(hub.app.db, name)
        assert [r.name for r in service.roles] == [name]


def test_without_token_and_with_culling_off_no_services(tmp_path, monkeypatch):
    h = RenderedHub(tmp_path, monkeypatch, HUB_PLUGIN_API_TOKEN="", HUB_IDLE_TIMEOUT="0")
    try:
        h.start()
        assert h.app.services == []
    finally:
        h.close()


def test_admin_gets_everything_rw(hub):
    spawner = hub.spawn_hook("alice")
    assert binds(spawner) == {
        f"{HOME}/work": (f"{HOST_ROOT}/users/alice", "rw"),
        f"{HOME}/.jupyter/lab": (f"{HOST_ROOT}/user-settings/alice", "rw"),
        f"{HOME}/work/shared": (f"{HOST_ROOT}/shared", "rw"),
        f"{HOME}/work/colab": (f"{HOST_ROOT}/colab", "rw"),
        f"{HOME}/work/groups/chem": (f"{HOST_ROOT}/groups/chem", "rw"),
        f"{HOME}/work/groups/lab": (f"{HOST_ROOT}/groups/lab", "rw"),
        f"{HOME}/work/groups/physics": (f"{HOST_ROOT}/groups/physics", "rw"),
        f"{HOME}/work/users": (f"{HOST_ROOT}/users", "rw"),
    }
    assert spawner.mem_limit == 350 * 1024**2
    assert spawner.cpu_limit is None
    assert spawner.extra_host_config == {"memswap_limit": 350 * 1024**2, "auto_remove": False}
    env = spawner.get_env()
    assert env["MEM_LIMIT"] == str(350 * 1024**2)
    assert "CPU_LIMIT" not in env
    assert env["JUPYTERHUB_API_URL"] == "http://hub.web:8081/hub/api"


def test_group_member_gets_group_modes_and_largest_limits(hub):
    spawner = hub.spawn_hook("bob")
    assert binds(spawner) == {
        f"{HOME}/work": (f"{HOST_ROOT}/users/bob", "rw"),
        f"{HOME}/.jupyter/lab": (f"{HOST_ROOT}/user-settings/bob", "rw"),
        f"{HOME}/work/shared": (f"{HOST_ROOT}/shared", "ro"),
        f"{HOME}/work/colab": (f"{HOST_ROOT}/colab", "rw"),
        f"{HOME}/work/groups/lab": (f"{HOST_ROOT}/groups/lab", "rw"),
        f"{HOME}/work/groups/physics": (f"{HOST_ROOT}/groups/physics", "ro"),
    }
    assert spawner.mem_limit == 1024**3  # physics 1G beats lab 512m and the default
    assert spawner.cpu_limit == 1.5
    env = spawner.get_env()
    assert env["MEM_LIMIT"] == str(1024**3)
    assert env["CPU_LIMIT"] == "1.5"
    assert spawner.extra_create_kwargs["user"] == "1000:100"
    assert spawner.extra_create_kwargs["labels"] == {
        "org.dokku-jupyterhub.app": "hub",
        "org.dokku-jupyterhub.user": "bob",
    }
    # The host config docker-py builds from these values (offline: no engine is asked).
    host = docker.types.HostConfig(
        version="1.41",
        binds=spawner.volume_binds,
        mem_limit=spawner.mem_limit,
        **spawner.extra_host_config,
    )
    assert host["Memory"] == host["MemorySwap"] == 1024**3
    assert f"{HOST_ROOT}/groups/physics:{HOME}/work/groups/physics:ro" in host["Binds"]


def test_user_limit_beats_group_limit(hub):
    spawner = hub.spawn_hook("dave")
    assert spawner.mem_limit == 2 * 1024**3
    assert binds(spawner)[f"{HOME}/work/groups/lab"] == (f"{HOST_ROOT}/groups/lab", "rw")


def test_plain_user_gets_own_folders_and_ro_shared(hub):
    spawner = hub.spawn_hook("carol")
    assert binds(spawner) == {
        f"{HOME}/work": (f"{HOST_ROOT}/users/carol", "rw"),
        f"{HOME}/.jupyter/lab": (f"{HOST_ROOT}/user-settings/carol", "rw"),
        f"{HOME}/work/shared": (f"{HOST_ROOT}/shared", "ro"),
        f"{HOME}/work/colab": (f"{HOST_ROOT}/colab", "rw"),
    }
    assert spawner.mem_limit == 350 * 1024**2


def test_host_folders_exist_owned_by_the_notebook_user(hub):
    hub.spawn_hook("bob")
    for rel in ("users/bob", "user-settings/bob", "shared", "colab", "groups/lab",
                "groups/physics", "users"):
        path = hub.data / rel
        assert path.is_dir(), rel
        if os.geteuid() == 0:
            assert owner(path) == (1000, 100), rel
    # Mount points inside the user's own folder, so Docker leaves no root-owned dirs there.
    for rel in ("users/bob/shared", "users/bob/colab", "users/bob/groups/lab"):
        assert (hub.data / rel).is_dir(), rel
    # The data root itself (policy, database, secrets) is not handed to the notebook user.
    if os.geteuid() == 0:
        assert owner(hub.data) == (os.geteuid(), os.getegid())


@pytest.mark.parametrize(
    "name", ["../x", "a/b", ".hidden", "", "nul\x00x", "new\nline", "..", "Upper", "tab\tx"]
)
def test_hostile_usernames_are_refused_before_any_path(hub, name):
    from dokku_hub.spawn import SpawnRefused

    before = sorted(p.relative_to(hub.data) for p in hub.data.rglob("*"))
    spawner = hub.user("carol").spawner  # a real spawner whose user we swap for the hostile one

    class Hostile:
        pass

    hostile = Hostile()
    hostile.name = name
    hostile.groups = []
    spawner.user = hostile
    with pytest.raises(SpawnRefused, match="cannot be used"):
        spawner.run_pre_spawn_hook()
    assert sorted(p.relative_to(hub.data) for p in hub.data.rglob("*")) == before
    # The authenticator refuses such names too, whatever the provider sends.
    assert hub.authenticator().validate_username(name) is False


def test_policy_change_applies_to_the_next_spawn_without_restart(hub):
    first = hub.spawn_hook("carol")
    assert f"{HOME}/work/groups/chem" not in binds(first)
    assert first.mem_limit == 350 * 1024**2
    changed = dict(POLICY)
    changed["groups"] = dict(POLICY["groups"], chem={"members_mode": "rw", "members": ["carol"]})
    changed["limits"] = dict(POLICY["limits"], users={"carol": {"memory": "3G", "cpu": 2}})
    write_policy(hub.data, changed)
    second = hub.spawn_hook("carol")
    assert binds(second)[f"{HOME}/work/groups/chem"] == (f"{HOST_ROOT}/groups/chem", "rw")
    assert second.mem_limit == 3 * 1024**3
    assert second.cpu_limit == 2.0


def test_corrupt_policy_is_logged_and_the_last_good_stays(hub):
    hub.spawn_hook("bob")
    (hub.data / ".bad").write_text('{"version": 1, "admins": ["alice"')  # truncated
    os.replace(hub.data / ".bad", hub.data / "policy.json")
    spawner = hub.spawn_hook("bob")
    assert spawner.mem_limit == 1024**3  # still the last good policy's physics limit
    assert binds(spawner)[f"{HOME}/work/groups/physics"][1] == "ro"
    errors = hub.log.messages(logging.ERROR)
    assert any("policy.json is invalid" in m and "keeping the last good policy" in m
               for m in errors), errors
    # Logged once per broken file, not at every spawn.
    hub.spawn_hook("carol")
    assert len([m for m in hub.log.messages(logging.ERROR) if "is invalid" in m]) == 1


def test_user_removed_from_policy_cannot_spawn(hub):
    from dokku_hub.spawn import SpawnRefused

    hub.spawn_hook("carol")
    write_policy(hub.data, dict(POLICY, users=[]))
    with pytest.raises(SpawnRefused, match="not allowed"):
        hub.spawn_hook("carol")


def test_groups_claim_adds_known_groups_only(tmp_path, monkeypatch):
    h = RenderedHub(
        tmp_path,
        monkeypatch,
        HUB_AUTH_PROVIDER="azuread",
        HUB_OAUTH_CLIENT_ID="client",
        HUB_OAUTH_CLIENT_SECRET="secret",
        HUB_AZURE_TENANT_ID="contoso.onmicrosoft.com",
        HUB_OAUTH_CALLBACK_URL="https://hub.example.edu/hub/oauth_callback",
        HUB_OAUTH_GROUPS_CLAIM="groups",
    )
    write_policy(h.data, POLICY)
    try:
        h.start()
        spawner = h.spawn_hook("erin", groups=("chem", "not-in-policy"))
        assert binds(spawner)[f"{HOME}/work/groups/chem"] == (f"{HOST_ROOT}/groups/chem", "rw")
        assert not any("not-in-policy" in k for k in binds(spawner))
    finally:
        h.close()


def test_hub_groups_do_not_count_without_a_groups_claim(hub):
    from dokku_hub.spawn import SpawnRefused

    # An admin could add "erin" to a JupyterHub group in the admin panel: without a groups
    # claim configured that grants no folder and no access.
    with pytest.raises(SpawnRefused):
        hub.spawn_hook("erin", groups=("chem",))


def test_database_url_from_dokku_postgres_uses_psycopg3(tmp_path, monkeypatch):
    h = RenderedHub(tmp_path, monkeypatch, DATABASE_URL="postgres://u:p@dokku-postgres-hub:5432/hub")
    from jupyterhub.app import JupyterHub

    app = JupyterHub(config_file=h.config_file)
    app.load_config_file(h.config_file)
    assert app.db_url == "postgresql+psycopg://u:p@dokku-postgres-hub:5432/hub"
    h.close()


def test_missing_host_data_dir_fails_loudly(tmp_path, monkeypatch):
    from jupyterhub.app import JupyterHub

    h = RenderedHub(tmp_path, monkeypatch, HUB_HOST_DATA_DIR="")
    app = JupyterHub(config_file=h.config_file)
    with pytest.raises(ValueError, match="HUB_HOST_DATA_DIR is not set"):
        app.load_config_file(h.config_file)
    h.close()
