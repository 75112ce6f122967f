"""`jupyterhub:set <app>|--global <key> [<value>]`: where each key lands, validation before
any change, unsetting, restarts, and which keys may be global."""

from __future__ import annotations

import json

import pytest
from support.clirun import run
from support.recorder import FakeDokku, install_plugins

from dokku_jupyterhub import dokku_cli, properties, setting_keys
from dokku_jupyterhub.output import DokkuError
from dokku_jupyterhub.paths import data_root


@pytest.fixture
def hub(dokku_env, monkeypatch, engine, capsys):
    """A created (and deployed) hub app behind the recorder."""
    fake = FakeDokku()
    monkeypatch.setattr(dokku_cli, "runner", fake)
    install_plugins(dokku_env, monkeypatch=monkeypatch)
    assert run(capsys, "jupyterhub:create", "hub", "--admin", "alice")[0] == 0
    fake.calls.clear()
    return fake


def policy() -> dict:
    return json.loads((data_root("hub") / "policy.json").read_text())


def test_notebook_image_pins_and_unpins(hub, capsys):
    code, out, _ = run(capsys, "jupyterhub:set", "hub", "notebook-image", "jupyter/base:2024")
    assert code == 0 and "automatic notebook builds are off" in out
    assert properties.get("hub", "notebook-image") == "jupyter/base:2024"
    # the hub reads DOCKER_JUPYTER_IMAGE at start: config:set WITHOUT --no-restart restarts it
    assert ("config:set", "hub", "DOCKER_JUPYTER_IMAGE=jupyter/base:2024") in hub.changes()
    hub.calls.clear()
    code, out, _ = run(capsys, "jupyterhub:set", "hub", "notebook-image")
    assert code == 0 and "builds are on again" in out
    assert properties.get("hub", "notebook-image") is None
    assert hub.changes() == [
        ("config:set", "hub", "DOCKER_JUPYTER_IMAGE=dokku/hub-notebook:latest")]


def test_idle_timeout_no_restart_and_unset(hub, capsys):
    code, out, _ = run(capsys, "jupyterhub:set", "hub", "idle-timeout", "900", "--no-restart")
    assert code == 0 and "dokku ps:restart hub" in out
    assert hub.changes() == [("config:set", "--no-restart", "hub", "HUB_IDLE_TIMEOUT=900")]
    assert properties.get("hub", "idle-timeout") == "900"
    hub.calls.clear()
    assert run(capsys, "jupyterhub:set", "hub", "idle-timeout", "900")[0] == 0
    assert hub.changes() == []  # already so: nothing issued
    assert run(capsys, "jupyterhub:set", "hub", "idle-timeout", "")[0] == 0
    assert hub.config["hub"]["HUB_IDLE_TIMEOUT"] == "300"


def test_limits_go_to_the_policy_without_restart(hub, capsys):
    assert run(capsys, "jupyterhub:set", "hub", "memory-limit", "2G")[0] == 0
    assert run(capsys, "jupyterhub:set", "hub", "cpu-limit", "1.5")[0] == 0
    assert policy()["limits"]["default"] == {"memory": "2g", "cpu": 1.5}
    assert hub.changes() == []
    assert run(capsys, "jupyterhub:set", "hub", "cpu-limit")[0] == 0
    assert run(capsys, "jupyterhub:set", "hub", "memory-limit")[0] == 0
    # Unset is the default's floor again, as `limits:unset --default --memory` leaves it.
    assert policy()["limits"]["default"] == {"memory": "350m"}


def test_max_body_size_sets_nginx_and_rebuilds_the_proxy(hub, capsys):
    assert run(capsys, "jupyterhub:set", "hub", "max-body-size", "200M")[0] == 0
    assert hub.changes() == [("nginx:set", "hub", "client-max-body-size", "200m"),
                             ("proxy:build-config", "hub")]
    hub.calls.clear()
    assert run(capsys, "jupyterhub:set", "hub", "max-body-size")[0] == 0
    assert hub.nginx["hub"]["client-max-body-size"] == "30m"  # our default, not nginx's 1m


def test_base_images_per_app_and_global(hub, capsys):
    code = run(capsys, "jupyterhub:set", "--global", "notebook-base-image", "reg.local/nb:1")[0]
    assert code == 0
    assert properties.get_with_global("hub", "notebook-base-image") == "reg.local/nb:1"
    assert run(capsys, "jupyterhub:set", "hub", "notebook-base-image", "reg.local/nb:2")[0] == 0
    assert properties.get_with_global("hub", "notebook-base-image") == "reg.local/nb:2"
    assert run(capsys, "jupyterhub:set", "hub", "hub-base-image", "reg.local/hub:5")[0] == 0
    assert properties.get("hub", "hub-base-image") == "reg.local/hub:5"
    assert hub.changes() == []


BAD = [
    (("hub", "colour", "blue"), "Invalid key 'colour', valid keys: notebook-image"),
    (("--global", "memory-limit", "1g"), "can only be set per app"),
    (("--global", "notebook-image", "x/y"), "can only be set per app"),
    (("hub", "memory-limit", "huge"), "invalid memory"),
    (("hub", "cpu-limit", "-1"), "invalid cpu"),
    (("hub", "idle-timeout", "10"), "invalid idle timeout"),
    (("hub", "max-body-size", "big"), "invalid max body size"),
    (("hub", "notebook-image", "Not An Image"), "invalid notebook image"),
    (("hub", "hub-base-image", "a b"), "invalid hub base image"),
    (("blog", "idle-timeout", "600"), "blog is not a jupyterhub app"),
]


@pytest.mark.parametrize(("args", "words"), BAD)
def test_bad_settings_change_nothing(args, words, hub, capsys):
    before_props = {a: properties.all_for(a) for a in ("hub", properties.GLOBAL)}
    before_policy = policy()
    code, _, err = run(capsys, "jupyterhub:set", *args)
    assert code == 1 and words in err and err.count("\n") == 1, err
    assert hub.changes() == []
    assert {a: properties.all_for(a) for a in ("hub", properties.GLOBAL)} == before_props
    assert policy() == before_policy


def test_memory_larger_than_the_host_is_refused(hub, capsys):
    code, _, err = run(capsys, "jupyterhub:set", "hub", "memory-limit", "100000g")
    assert code == 1 and "more than this host has" in err


def test_global_keys_are_the_base_images():
    assert {k for k, s in setting_keys.SETTINGS.items() if s.global_ok} == {
        "hub-base-image", "notebook-base-image"}
    with pytest.raises(DokkuError, match="valid keys"):
        setting_keys.parse("hub", "nope", "x")


def test_unsetting_the_default_memory_is_one_change_whichever_command(hub, capsys, monkeypatch):
    """`set <app> memory-limit ""` and `limits:unset <app> --default --memory` are the same
    policy change: same file, same effective limits in users:list, same report."""
    from dokku_jupyterhub import hub_rest

    def not_running(app: str) -> str:
        raise hub_rest.HubUnavailable("the hub is not running")

    monkeypatch.setattr(hub_rest, "locator", not_running)
    assert run(capsys, "jupyterhub:limits:set", "hub", "student1", "--memory", "200m")[0] == 0
    seen = []
    for unset in (["jupyterhub:set", "hub", "memory-limit", ""],
                  ["jupyterhub:limits:unset", "hub", "--default", "--memory"]):
        assert run(capsys, "jupyterhub:set", "hub", "memory-limit", "1G")[0] == 0
        assert run(capsys, *unset)[0] == 0
        code, users, _ = run(capsys, "jupyterhub:users:list", "hub", "--format", "json")
        assert code == 0
        code, report, _ = run(capsys, "jupyterhub:report", "hub", "--format", "json")
        assert code == 0
        seen.append((policy(), json.loads(users), json.loads(report)))
    assert seen[0] == seen[1]
    doc, users, report = seen[0]
    assert doc["limits"]["default"] == {"memory": "350m"}
    assert {u["name"]: u["memory"] for u in users}["student1"] == "350m"
    assert report["memory-limit"] == "350m"
