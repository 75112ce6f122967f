"""The hub's proxy container, with Docker (docker-py): made, kept, replaced, removed, read.
What it should be is `proxy_plan.spec`; this module only carries it out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import docker.errors

from dokku_jupyterhub import docker_api
from dokku_jupyterhub.hub_runtime.contract import proxy_container_name
from dokku_jupyterhub.output import DokkuError
from dokku_jupyterhub.proxy_plan import (
    ProxySpec,
    image_is_current,
    mismatches,
    static_web_listener,
)


def find(client: Any, app: str) -> Any | None:
    try:
        return client.containers.get(proxy_container_name(app))
    except docker.errors.NotFound:
        return None
    except docker.errors.DockerException as exc:
        raise DokkuError(docker_api.explain(exc)) from None


def _create(client: Any, spec: ProxySpec) -> Any:
    try:
        container = client.containers.create(**spec.create_kwargs())
    except docker.errors.DockerException as exc:
        raise DokkuError(f"could not create the proxy {spec.name}: "
                         f"{docker_api.explain(exc)}") from None
    _start(container, spec)
    return container


def _start(container: Any, spec: ProxySpec) -> None:
    try:
        container.start()
    except docker.errors.DockerException as exc:
        text = str(exc)
        hint = (f": something else listens on {static_web_listener(spec.listener)}"
                if "address already in use" in text else "")
        raise DokkuError(f"could not start the proxy {spec.name}{hint} "
                         f"({docker_api.explain(exc)})") from None


def _remove(container: Any) -> None:
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        return
    except docker.errors.DockerException as exc:
        raise DokkuError(f"could not remove the proxy {container.name}: "
                         f"{docker_api.explain(exc)}") from None


def ensure(client: Any, spec: ProxySpec) -> str:
    """Make the proxy run as `spec` says, touching a running one only when it cannot serve
    this hub (another token, address or network). Returns what was done, for the log."""
    container = find(client, spec.app)
    if container is None:
        _create(client, spec)
        return "started"
    why = mismatches(spec, container.attrs)
    if why:
        _remove(container)
        _create(client, spec)
        return f"replaced ({'; '.join(why)})"
    if container.status != "running":
        _start(container, spec)
        return "started again"
    return "running"


def replace(client: Any, spec: ProxySpec) -> None:
    """A new proxy from `spec` (its image included), whatever runs now."""
    container = find(client, spec.app)
    if container is not None:
        _remove(container)
    _create(client, spec)


def remove(client: Any, app: str) -> bool:
    container = find(client, app)
    if container is None:
        return False
    _remove(container)
    return True


@dataclass(frozen=True)
class ProxyStatus:
    state: str  # running | exited | ... | missing
    started_at: str = ""
    image_current: bool = False

    def describe(self) -> str:
        if self.state == "missing":
            return "missing"
        text = f"{self.state} since {self.started_at[:19].replace('T', ' ')} UTC"
        if not self.image_current:
            text += " (an older hub image: dokku jupyterhub:restart-proxy to update it)"
        return text


def status(client: Any, app: str, hub_image_id: str | None) -> ProxyStatus:
    container = find(client, app)
    if container is None:
        return ProxyStatus("missing")
    state = container.attrs.get("State") or {}
    return ProxyStatus(
        state=str(state.get("Status") or container.status),
        started_at=str(state.get("StartedAt") or ""),
        image_current=image_is_current(container.attrs, hub_image_id),
    )
