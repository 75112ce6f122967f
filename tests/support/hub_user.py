"""What DockerSpawner reads of a JupyterHub user, for running the real spawner's create
without a hub (the Docker gate's tests)."""

from __future__ import annotations

from typing import Any


class HubUser:
    def __init__(self, name: str) -> None:
        self.name = name
        self.escaped_name = self.json_escaped_name = name
        self.url = f"/user/{name}/"
        self.id = 1
        self.groups: list[Any] = []
        self.spawners: dict[str, Any] = {}
        self.server = None
