"""The hub's Docker gate, decided: the container that holds the host's Docker socket so the
hub does not, and lets through only what spawning this app's students' servers needs (the
rules: hub_runtime/docker_rules.py, from the same spawn decision the hub makes).

The gate runs from the hub image (`python3 -m dokku_hub.docker_gate`), with the socket, the
hub's data tree read-only (the policy it checks against) and a directory of its own, in
which it listens and which the hub mounts too (`storage/<app>/gate` at GATE_DIR). It has no
network at all. Pure: `spec()` and the mismatch rule; `companion_container` runs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dokku_jupyterhub.hub_runtime.contract import (
    DATA_MOUNT,
    DOCKER_SOCKET,
    GATE_DIR,
    GATE_SOCKET,
    LABEL_DOCKER_GATE,
    ROLE_GATE,
    Env,
    companion_labels,
    gate_container_name,
)

# What the gate reads of the hub's config: the rest (secrets above all) it never gets.
GATE_ENV_KEYS = (Env.APP, Env.NETWORK, Env.NOTEBOOK_IMAGE, Env.HOST_DATA_DIR, Env.ALLOW_ALL,
                 Env.GROUPS_CLAIM)


def image_has_gate(labels: Mapping[str, str] | None) -> bool:
    """Whether a hub image (its labels) holds the gate's code: the rendered Dockerfile's."""
    return (labels or {}).get(LABEL_DOCKER_GATE) == "1"


def gate_environment(config: Mapping[str, str]) -> dict[str, str]:
    env = {k: config[k] for k in GATE_ENV_KEYS if config.get(k)}
    return {**env, Env.DATA_DIR: DATA_MOUNT, Env.GATE_SOCKET: GATE_SOCKET}


@dataclass(frozen=True)
class GateSpec:
    app: str
    image: str  # an image id
    data_root: str  # the host path of the hub's data tree
    gate_dir: str  # the host directory the gate listens in
    environment: dict[str, str]

    @property
    def name(self) -> str:
        return gate_container_name(self.app)

    @property
    def labels(self) -> dict[str, str]:
        return companion_labels(self.app, ROLE_GATE)

    @property
    def command(self) -> list[str]:
        return ["python3", "-m", "dokku_hub.docker_gate"]

    @property
    def binds(self) -> list[str]:
        return [f"{DOCKER_SOCKET}:{DOCKER_SOCKET}:rw", f"{self.data_root}:{DATA_MOUNT}:ro",
                f"{self.gate_dir}:{GATE_DIR}:rw"]

    def create_kwargs(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "command": self.command,
            "name": self.name,
            "environment": self.environment,
            "labels": self.labels,
            "volumes": self.binds,
            "network_mode": "none",
            "user": "0:0",  # the socket is root's (and the docker group's)
            "restart_policy": {"Name": "unless-stopped"},
            "log_config": {"Type": "json-file", "Config": {"max-size": "10m"}},
            "detach": True,
        }

    def start_hint(self, error: str) -> str:
        return ""

    def mismatches(self, attrs: Mapping[str, Any]) -> list[str]:
        """Why a gate container (docker inspect) is not this one. Unlike the proxy, a newer
        hub image replaces it: its rules are the hub's code, and nothing long-lived goes
        through it (the hub's event stream is opened again)."""
        config = attrs.get("Config") or {}
        host = attrs.get("HostConfig") or {}
        env = dict(e.split("=", 1) for e in config.get("Env") or [] if "=" in e)
        why = []
        if attrs.get("Image") != self.image:
            why.append("the hub image changed")
        if any(env.get(k) != v for k, v in self.environment.items()):
            why.append("the hub's settings changed")
        if list(config.get("Cmd") or []) != self.command:
            why.append("its command changed")
        if sorted(host.get("Binds") or []) != sorted(self.binds):
            why.append("its mounts changed")
        return why
