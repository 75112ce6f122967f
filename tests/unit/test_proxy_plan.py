"""The hub's proxy, decided without Docker or Dokku: its address, its container, when a
running one no longer fits, and the Dokku wiring the deployed hub needs."""

from __future__ import annotations

import pytest

from dokku_jupyterhub import proxy_plan
from dokku_jupyterhub.output import DokkuError
from dokku_jupyterhub.proxy_plan import ProxySpec, Wiring


def test_the_first_hub_gets_127_42_0_2_and_each_next_hub_the_next_free_address():
    assert proxy_plan.pick_listener([]) == "127.42.0.2"
    assert proxy_plan.pick_listener(["127.42.0.2"]) == "127.42.0.3"
    assert proxy_plan.pick_listener(["127.42.0.3"]) == "127.42.0.2"  # a destroyed hub's
    taken = [f"127.42.0.{i}" for i in range(2, 255)] + ["127.42.0.255"]
    assert proxy_plan.pick_listener(taken) == "127.42.1.0"


def test_no_address_left_is_one_clear_error():
    every = [str(ip) for ip in proxy_plan.LISTENER_NET.hosts()]
    with pytest.raises(DokkuError, match="no free proxy address"):
        proxy_plan.pick_listener(every)


@pytest.mark.parametrize(("value", "ours"), [
    ("127.42.0.2", True), ("127.42.7.9", True), ("127.0.0.1", False), ("10.0.0.2", False),
    ("", False), (None, False), ("not-an-ip", False),
])
def test_is_listener(value, ours):
    assert proxy_plan.is_listener(value) is ours


def test_nginx_reaches_the_proxy_on_the_port_of_the_apps_port_map():
    assert proxy_plan.static_web_listener("127.42.0.2") == "127.42.0.2:8000"


SPEC = ProxySpec(app="hub", image="sha256:abc", listener="127.42.0.5", token="t" * 64)


def test_the_proxy_container():
    kw = SPEC.create_kwargs()
    assert kw["name"] == "dokku.jupyterhub.hub.proxy"
    assert kw["image"] == "sha256:abc"
    assert kw["network"] == "hub-network"
    assert kw["ports"] == {"8000/tcp": ("127.42.0.5", 8000)}  # never on a public interface
    assert kw["environment"] == {"CONFIGPROXY_AUTH_TOKEN": "t" * 64}
    # Dokku's app label, inherited from the hub image, emptied: Dokku stops and removes every
    # container labelled with the app's name.
    assert kw["labels"] == {"com.dokku.app-name": "", "org.dokku-jupyterhub.app": "hub",
                            "org.dokku-jupyterhub.role": "proxy"}
    assert kw["restart_policy"] == {"Name": "unless-stopped"}
    cmd = kw["command"]
    assert cmd[0] == "configurable-http-proxy"
    assert cmd[cmd.index("--port") + 1] == "8000" and cmd[cmd.index("--api-port") + 1] == "8001"
    assert cmd[cmd.index("--default-target") + 1] == "http://hub.web:8081"
    assert cmd[cmd.index("--error-target") + 1] == "http://hub.web:8081/hub/error"
    assert "--timeout" not in cmd  # an idle kernel websocket must never be cut
    assert "t" * 64 not in repr(SPEC)


def inspect(**over):
    """What `docker inspect` says of a container made from SPEC."""
    attrs = {
        "Image": "sha256:abc",
        "Config": {"Env": ["PATH=/usr/bin", f"CONFIGPROXY_AUTH_TOKEN={'t' * 64}"],
                   "Cmd": SPEC.command},
        "HostConfig": {"PortBindings": {"8000/tcp": [{"HostIp": "127.42.0.5",
                                                       "HostPort": "8000"}]}},
        "NetworkSettings": {"Networks": {"hub-network": {}}},
    }
    for key, value in over.items():
        attrs[key] = value
    return attrs


def test_a_container_made_from_the_spec_fits():
    assert proxy_plan.mismatches(SPEC, inspect()) == []


def test_a_newer_hub_image_alone_never_replaces_a_running_proxy():
    assert proxy_plan.mismatches(SPEC, inspect(Image="sha256:older")) == []


@pytest.mark.parametrize(("over", "why"), [
    ({"Config": {"Env": ["CONFIGPROXY_AUTH_TOKEN=other"], "Cmd": SPEC.command}}, "token"),
    ({"Config": {"Env": [f"CONFIGPROXY_AUTH_TOKEN={'t' * 64}"], "Cmd": ["x"]}}, "command"),
    ({"HostConfig": {"PortBindings": {"8000/tcp": [{"HostIp": "127.42.0.2",
                                                     "HostPort": "8000"}]}}}, "127.42.0.5:8000"),
    ({"HostConfig": {}}, "127.42.0.5:8000"),
    ({"NetworkSettings": {"Networks": {"bridge": {}}}}, "hub-network"),
])
def test_what_makes_a_proxy_unfit(over, why):
    found = SPEC.mismatches(inspect(**over))
    assert len(found) == 1 and why in found[0]


@pytest.mark.parametrize(("listed", "off"), [
    ("none", False), ("", False), ("worker", False), ("web", True), ("_all_", True),
    ("worker,web", True), ("webby", False),
])
def test_checks_off_for_the_web_process(listed, off):
    assert proxy_plan.checks_off(listed) is off


def test_wiring_of_a_hub_with_its_proxy_outside():
    steps = proxy_plan.wiring_steps("hub", Wiring(True, "127.42.0.2", "", "none"))
    assert [argv for _, argv in steps] == [
        ("network:set", "hub", "static-web-listener", "127.42.0.2:8000"),
        ("proxy:build-config", "hub"),
        ("checks:disable", "hub", "web"),
    ]
    done = Wiring(True, "127.42.0.2", "127.42.0.2:8000", "web")
    assert proxy_plan.wiring_steps("hub", done) == []


def test_a_hub_that_runs_its_own_proxy_gets_nginx_back_on_its_container():
    steps = proxy_plan.wiring_steps("hub", Wiring(False, "127.42.0.2", "127.42.0.2:8000",
                                                  "_all_"))
    assert [argv for _, argv in steps] == [
        ("network:set", "hub", "static-web-listener"),
        ("proxy:build-config", "hub"),
    ]
    # A listener the admin set (not one of the proxy addresses) is theirs: kept.
    assert proxy_plan.wiring_steps("hub", Wiring(False, "", "10.1.2.3:8000", "web")) == []
