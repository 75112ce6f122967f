"""The containers the plugin runs beside a hub (its proxy, its Docker gate), with Docker
(docker-py): made, kept, replaced, removed, read. What each should be is its spec
(`proxy_plan.ProxySpec`, `gate_plan.GateSpec`); this module only carries it out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import docker.errors

from dokku_jupyterhub import docker_api
from dokku_jupyterhub.output import DokkuError


class Spec(Protocol):
    app: str

    @property
    def name(self) -> str: ...

    def create_kwargs(self) -> dict[str, Any]: ...

    def mismatches(self, attrs: dict[str, Any]) -> list[str]: ...

    def start_hint(self, error: str) -> str: ...


def find(client: Any, name: str) -> Any | None:
    try:
        return client.containers.get(name)
    except docker.errors.NotFound:
        return None
    except docker.errors.DockerException as exc:
        raise DokkuError(docker_api.explain(exc)) from None


def _create(client: Any, spec: Spec) -> Any:
    try:
        container = client.containers.create(**spec.create_kwargs())
    except docker.errors.DockerException as exc:
        raise DokkuError(f"could not create {spec.name}: {docker_api.explain(exc)}") from None
    _start(container, spec)
    return container


def _start(container: Any, spec: Spec) -> None:
    try:
        container.start()
    except docker.errors.DockerException as exc:
        raise DokkuError(f"could not start {spec.name}{spec.start_hint(str(exc))} "
                         f"({docker_api.explain(exc)})") from None


def _remove(container: Any) -> None:
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        return
    except docker.errors.DockerException as exc:
        raise DokkuError(f"could not remove {container.name}: "
                         f"{docker_api.explain(exc)}") from None


def ensure(client: Any, spec: Spec) -> str:
    """Make the container run as `spec` says, touching a running one only when it does not
    fit (`spec.mismatches`). Returns what was done, for the log."""
    container = find(client, spec.name)
    if container is None:
        _create(client, spec)
        return "started"
    why = spec.mismatches(container.attrs)
    if why:
        _remove(container)
        _create(client, spec)
        return f"replaced ({'; '.join(why)})"
    if container.status != "running":
        _start(container, spec)
        return "started again"
    return "running"


def replace(client: Any, spec: Spec) -> None:
    """A new container from `spec` (its image included), whatever runs now."""
    container = find(client, spec.name)
    if container is not None:
        _remove(container)
    _create(client, spec)


def remove(client: Any, name: str) -> bool:
    container = find(client, name)
    if container is None:
        return False
    _remove(container)
    return True


@dataclass(frozen=True)
class Status:
    state: str  # running | exited | ... | missing
    started_at: str = ""
    image_current: bool = False

    def describe(self, when_older: str) -> str:
        """`when_older` says how a container from an older hub image gets the current one."""
        if self.state == "missing":
            return "missing"
        text = f"{self.state} since {self.started_at[:19].replace('T', ' ')} UTC"
        if not self.image_current:
            text += f" (an older hub image: {when_older})"
        return text


def status(client: Any, name: str, hub_image_id: str | None) -> Status:
    container = find(client, name)
    if container is None:
        return Status("missing")
    state = container.attrs.get("State") or {}
    return Status(
        state=str(state.get("Status") or container.status),
        started_at=str(state.get("StartedAt") or ""),
        image_current=bool(hub_image_id) and container.attrs.get("Image") == hub_image_id,
    )
