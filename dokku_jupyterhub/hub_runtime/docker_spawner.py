"""The hub's spawner: DockerSpawner that sees a server die while it starts, and says why.

DockerSpawner returns as soon as the container runs; JupyterHub then only waits for the
server's HTTP answer, so a container killed for lack of memory a second later shows "Your
server is starting up" for a minute and then a timeout, and `remove` leaves no trace. Here
the start also watches the container until the server answers: a death fails the spawn at
once with the reason (out of memory, exit code and the last log line, image missing), which
the hub logs, shows on the progress page and records for `dokku jupyterhub:report`.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any, NoReturn

import docker.errors
from dockerspawner import DockerSpawner
from jupyterhub.utils import wait_for_http_server
from traitlets import Unicode

WATCH_INTERVAL = 0.5  # seconds between looks at a starting container


class SpawnFailed(RuntimeError):
    """The server died while it started; the message says why, for the user and the admin.
    JupyterHub shows `jupyterhub_message` on the progress page and in its API's error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.jupyterhub_message = reason


def death_reason(state: dict[str, Any], memory: str | None, last_log_line: str = "") -> str:
    """Why a container stopped, from Docker's State (pure)."""
    if state.get("OOMKilled"):
        limit = f" of {memory}" if memory else ""
        return (f"out of memory: the server was killed at its memory limit{limit} (an admin "
                "can raise it with dokku jupyterhub:limits:set)")
    reason = f"the server exited with code {state.get('ExitCode')}"
    if state.get("Error"):
        reason += f": {state['Error']}"
    if last_log_line:
        reason += f" (last output: {last_log_line[:200]})"
    return reason


def record(path: str, user: str, reason: str) -> None:
    """The last failed spawn, for `report` (written atomically; never fails the spawn)."""
    if not path:
        return
    tmp = f"{path}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"user": user, "reason": reason,
                       "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, fh)
        os.replace(tmp, path)
    except OSError:
        pass


class WatchedDockerSpawner(DockerSpawner):
    failure_record = Unicode(
        "", help="File that keeps the last failed spawn (empty: none)."
    ).tag(config=True)
    memory_shown = Unicode("", help="The memory limit as the policy wrote it, for messages.")

    async def start(self) -> Any:
        try:
            ip, port = await super().start()
        except docker.errors.ImageNotFound:  # pull_policy "never" on an image not built
            self._fail(f"the notebook image {self.image} is missing (an admin can build it "
                       "with dokku jupyterhub:rebuild-image)")
        url = f"http://{ip}:{port}{self.server.base_url}api"
        up = asyncio.ensure_future(wait_for_http_server(url, timeout=self.http_timeout))
        try:
            while not up.done():
                state = await self._state()
                if state is not None and not state.get("Running"):
                    self._fail(death_reason(state, self.memory_shown, await self._last_line()))
                await asyncio.wait({up}, timeout=WATCH_INTERVAL)
            up.result()  # a timeout here: JupyterHub's own wait gives up and says so
        except TimeoutError:
            pass
        except Exception as exc:
            if isinstance(exc, SpawnFailed):
                raise
            self.log.warning("Waiting for %s's server: %s", self.user.name, exc)
        finally:
            up.cancel()
        return ip, port

    async def _state(self) -> dict[str, Any] | None:
        obj = await self.get_object()
        return obj["State"] if obj else None

    async def _last_line(self) -> str:
        try:
            logs = await self.docker("logs", self.container_id, tail=5)
        except Exception:  # noqa: BLE001 - the reason is still worth giving without it
            return ""
        lines = [ln.strip() for ln in logs.decode(errors="replace").splitlines() if ln.strip()]
        return lines[-1] if lines else ""

    def _fail(self, reason: str) -> NoReturn:
        self.log.error("Server of %s failed to start: %s", self.user.name, reason)
        record(self.failure_record, self.user.name, reason)
        raise SpawnFailed(reason)
