"""The hub's Docker gate container, decided: what it mounts and gets of the hub's config,
and when a running one must be replaced."""

from __future__ import annotations

from dokku_jupyterhub import gate_plan
from dokku_jupyterhub.gate_plan import GateSpec

CONFIG = {
    "HUB_APP_NAME": "hub", "DOCKER_NETWORK_NAME": "hub-network",
    "DOCKER_JUPYTER_IMAGE": "dokku/hub-notebook:latest",
    "HUB_HOST_DATA_DIR": "/var/lib/dokku/data/storage/hub/data",
    "HUB_ADMIN_PASSWORD": "secret" * 8, "HUB_OAUTH_CLIENT_SECRET": "oauth-secret",
    "CONFIGPROXY_AUTH_TOKEN": "proxy-secret", "DATABASE_URL": "postgres://u:pw@db/hub",
}


def spec(**config: str) -> GateSpec:
    return GateSpec(app="hub", image="sha256:abc",
                    data_root="/var/lib/dokku/data/storage/hub/data",
                    gate_dir="/var/lib/dokku/data/storage/hub/gate",
                    environment=gate_plan.gate_environment({**CONFIG, **config}))


def test_the_gate_gets_what_its_rules_need_and_no_secret():
    env = spec().environment
    assert env == {
        "HUB_APP_NAME": "hub", "DOCKER_NETWORK_NAME": "hub-network",
        "DOCKER_JUPYTER_IMAGE": "dokku/hub-notebook:latest",
        "HUB_HOST_DATA_DIR": "/var/lib/dokku/data/storage/hub/data",
        "HUB_DATA_DIR": "/data", "DOKKU_GATE_SOCKET": "/run/dokku-gate/docker.sock",
    }
    assert spec(HUB_ALLOW_ALL="true").environment["HUB_ALLOW_ALL"] == "true"


def test_the_gate_container():
    kw = spec().create_kwargs()
    assert kw["name"] == "dokku.jupyterhub.hub.gate"
    assert kw["command"] == ["python3", "-m", "dokku_hub.docker_gate"]
    assert kw["network_mode"] == "none"  # unix sockets only
    assert kw["volumes"] == [
        "/var/run/docker.sock:/var/run/docker.sock:rw",
        "/var/lib/dokku/data/storage/hub/data:/data:ro",  # the policy, read only
        "/var/lib/dokku/data/storage/hub/gate:/run/dokku-gate:rw",
    ]
    assert kw["labels"] == {"com.dokku.app-name": "", "org.dokku-jupyterhub.app": "hub",
                            "org.dokku-jupyterhub.role": "gate"}
    assert kw["restart_policy"] == {"Name": "unless-stopped"}


def inspect(s: GateSpec, **over) -> dict:
    attrs = {"Image": s.image,
             "Config": {"Env": [f"{k}={v}" for k, v in s.environment.items()],
                        "Cmd": s.command},
             "HostConfig": {"Binds": list(reversed(s.binds))}}
    attrs.update(over)
    return attrs


def test_a_gate_that_fits_is_kept_and_any_change_replaces_it():
    s = spec()
    assert s.mismatches(inspect(s)) == []
    assert s.mismatches(inspect(s, Image="sha256:older")) == ["the hub image changed"]
    changed = spec(HUB_ALLOW_ALL="true")
    assert changed.mismatches(inspect(s)) == ["the hub's settings changed"]
    assert s.mismatches(inspect(s, HostConfig={"Binds": s.binds[:2]})) == [
        "its mounts changed"]
