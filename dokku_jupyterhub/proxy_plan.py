"""The hub's proxy, decided: which container runs it and when an existing one must go.

The proxy (configurable-http-proxy) carries every user's traffic. It runs in a container of
its own beside the hub, so a deploy or restart of the hub, which replaces the hub's
container, never touches users' open connections or the routes. nginx reaches it the way
Dokku reaches a service that is not an app container: the app's `static-web-listener`,
a loopback address of its own on this host (one per hub app, port HUB_PORT, so the app's
`http:80:8000` port map is unchanged).

Pure: `spec()` says what the container is, `mismatches()` why a running one no longer fits;
`companion_container.py` does it with Docker.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dokku_jupyterhub.hub_runtime.contract import (
    HUB_API_PORT,
    HUB_PORT,
    PROXY_API_PORT,
    ROLE_PROXY,
    Env,
    companion_labels,
    hub_alias,
    network_name,
    proxy_container_name,
)
from dokku_jupyterhub.output import DokkuError

# 127.0.0.0/8 is loopback as a whole on Linux: each hub's proxy gets its own address of it,
# so every hub's proxy can use port 8000. This block is one nothing else is known to use.
LISTENER_NET = ipaddress.ip_network("127.42.0.0/16")


def pick_listener(taken: Iterable[str]) -> str:
    """The lowest address of LISTENER_NET no other hub app has."""
    used = set(taken)
    # From .0.2: 127.42.0.1 reads like a gateway to whoever looks at the host's sockets.
    for ip in itertools.islice(LISTENER_NET.hosts(), 1, None):
        if str(ip) not in used:
            return str(ip)
    raise DokkuError(f"no free proxy address left in {LISTENER_NET}")


def is_listener(value: str | None) -> bool:
    try:
        return ipaddress.ip_address(value or "") in LISTENER_NET
    except ValueError:
        return False


def static_web_listener(ip: str) -> str:
    """Dokku's `network:set <app> static-web-listener` value for the proxy at `ip`. nginx
    uses its address with the port of the app's port map (HUB_PORT)."""
    return f"{ip}:{HUB_PORT}"


def command(app: str) -> list[str]:
    hub = f"http://{hub_alias(app)}:{HUB_API_PORT}"
    return [
        "configurable-http-proxy",
        "--ip", "0.0.0.0", "--port", str(HUB_PORT),
        "--api-ip", "0.0.0.0", "--api-port", str(PROXY_API_PORT),
        # Before the hub has added its routes (a new proxy), everything goes to the hub.
        "--default-target", hub,
        # A user's server that does not answer: the hub's own error page.
        "--error-target", f"{hub}/hub/error",
    ]


@dataclass(frozen=True)
class ProxySpec:
    app: str
    image: str  # an image id: the container keeps exactly the image it was made from
    listener: str
    token: str = field(repr=False)

    @property
    def name(self) -> str:
        return proxy_container_name(self.app)

    @property
    def network(self) -> str:
        return network_name(self.app)

    @property
    def labels(self) -> dict[str, str]:
        return companion_labels(self.app, ROLE_PROXY)

    @property
    def command(self) -> list[str]:
        return command(self.app)

    @property
    def environment(self) -> dict[str, str]:
        return {Env.PROXY_TOKEN: self.token}

    @property
    def ports(self) -> dict[str, tuple[str, int]]:
        return {f"{HUB_PORT}/tcp": (self.listener, HUB_PORT)}

    def mismatches(self, attrs: Mapping[str, Any]) -> list[str]:
        return mismatches(self, attrs)

    def start_hint(self, error: str) -> str:
        if "address already in use" in error:
            return f": something else listens on {static_web_listener(self.listener)}"
        return ""

    def create_kwargs(self) -> dict[str, Any]:
        """docker-py `containers.create` arguments."""
        return {
            "image": self.image,
            "command": self.command,
            "name": self.name,
            "environment": self.environment,
            "labels": self.labels,
            "network": self.network,
            "ports": self.ports,
            # Up again after a reboot or a crash, whatever Dokku does with the hub.
            "restart_policy": {"Name": "unless-stopped"},
            "log_config": {"Type": "json-file", "Config": {"max-size": "10m"}},
            "detach": True,
        }


def mismatches(spec: ProxySpec, attrs: Mapping[str, Any]) -> list[str]:
    """Why an existing proxy container (docker inspect) is not the one `spec` wants. The
    image is not compared: a newer hub image never replaces a running proxy by itself
    (that would cut every open connection); `restart-proxy` does, when the admin chooses."""
    config = attrs.get("Config") or {}
    host = attrs.get("HostConfig") or {}
    env = dict(e.split("=", 1) for e in config.get("Env") or [] if "=" in e)
    why = []
    if env.get(Env.PROXY_TOKEN) != spec.token:
        why.append("its API token is not the hub's")
    if list(config.get("Cmd") or []) != spec.command:
        why.append("its command changed")
    bindings = (host.get("PortBindings") or {}).get(f"{HUB_PORT}/tcp") or []
    if [(b.get("HostIp"), b.get("HostPort")) for b in bindings] != [
        (spec.listener, str(HUB_PORT))
    ]:
        why.append(f"it is not published on {static_web_listener(spec.listener)}")
    networks = ((attrs.get("NetworkSettings") or {}).get("Networks") or {})
    if spec.network not in networks:
        why.append(f"it is not on {spec.network}")
    return why




def checks_off(disabled_list: str) -> bool:
    """Whether Dokku's zero-downtime checks are off for the hub's `web` process, from
    `checks:report <app> --checks-disabled-list` (`none`, `_all_` or a comma list). Off,
    Dokku stops the old hub before it starts the new one (scheduler-deploy-process: "Zero
    downtime is disabled, stopping currently running containers"); on, both would run
    side by side against one database until `wait-to-retire` (60 s) has passed."""
    return bool({"_all_", "web"} & set(disabled_list.split(",")))


@dataclass(frozen=True)
class Wiring:
    """What Dokku has and what the deployed hub expects, for `wiring_steps`."""

    external: bool  # the deployed hub runs with the proxy outside it
    listener: str  # the app's proxy address (property), "" when none
    static_listener: str  # Dokku's `static-web-listener` of the app now
    checks_disabled: str  # `checks:report --checks-disabled-list`


def wiring_steps(app: str, w: Wiring) -> list[tuple[str, tuple[str, ...]]]:
    """The Dokku commands that make nginx and deploys fit the deployed hub: (what, argv)."""
    steps: list[tuple[str, tuple[str, ...]]] = []
    if w.external and w.listener:
        want = static_web_listener(w.listener)
        if w.static_listener != want:
            steps += [
                (f"Pointing nginx at the hub's proxy ({want})",
                 ("network:set", app, "static-web-listener", want)),
                ("Rebuilding the proxy config", ("proxy:build-config", app)),
            ]
    elif is_listener(w.static_listener.rsplit(":", 1)[0]):
        # A hub that runs its own proxy again (an older source pushed): nginx goes back to
        # the hub's container.
        steps += [
            ("Pointing nginx at the hub's container", ("network:set", app,
                                                       "static-web-listener")),
            ("Rebuilding the proxy config", ("proxy:build-config", app)),
        ]
    if not checks_off(w.checks_disabled):
        steps.append(("Turning zero-downtime deploys off for the hub (one hub at a time)",
                      ("checks:disable", app, "web")))
    return steps
