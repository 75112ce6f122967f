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
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn

import docker
import docker.errors
from docker.utils import kwargs_from_env
from dockerspawner import DockerSpawner
from jupyterhub.utils import wait_for_http_server
from traitlets import Unicode

# DockerSpawner runs every Docker call of every spawner in ONE thread, so nothing here
# polls: one Docker event stream for the whole hub says when a starting container dies,
# and the watcher has a client and threads of its own for the one look at why.
EVENTS_RETRY = 2.0  # seconds before the event stream is opened again after it broke


class _DeathWatch:
    """Futures, by container id, that the hub's one `die` event stream resolves."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiting: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] = {}
        self.thread: threading.Thread | None = None
        self.executor = ThreadPoolExecutor(2, thread_name_prefix="spawn-watch")
        self.client = docker.APIClient(version="auto", timeout=10, **kwargs_from_env())

    def watch(self, container_id: str) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self.lock:
            self.waiting[container_id] = (loop, future)
            if self.thread is None:
                self.thread = threading.Thread(target=self._stream, name="spawn-deaths",
                                               daemon=True)
                self.thread.start()
        return future

    def forget(self, container_id: str) -> None:
        with self.lock:
            self.waiting.pop(container_id, None)

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.wrap_future(
            self.executor.submit(getattr(self.client, method), *args, **kwargs))

    def _stream(self) -> None:
        while True:
            try:
                stream = docker.APIClient(version="auto", timeout=None, **kwargs_from_env())
                for event in stream.events(decode=True,
                                           filters={"type": "container", "event": "die"}):
                    with self.lock:
                        entry = self.waiting.pop(event.get("id", ""), None)
                    if entry:
                        loop, future = entry
                        loop.call_soon_threadsafe(
                            lambda f=future, e=event: f.done() or f.set_result(e))
            except Exception:  # noqa: BLE001 - a broken stream is opened again
                time.sleep(EVENTS_RETRY)


_deaths: list[_DeathWatch] = []


def deaths() -> _DeathWatch:
    if not _deaths:
        _deaths.append(_DeathWatch())
    return _deaths[0]


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
        watch = deaths()
        died = watch.watch(self.container_id)
        up = asyncio.ensure_future(wait_for_http_server(url, timeout=self.http_timeout))
        try:
            state = await self._state()  # it may have died before the watch began
            if state is not None and state.get("Running"):
                await asyncio.wait({up, died}, return_when=asyncio.FIRST_COMPLETED)
                if died.done():
                    state = await self._state()
            if state is None:
                self._fail("the server's container stopped and is gone")
            if not state.get("Running"):
                self._fail(death_reason(state, self.memory_shown, await self._last_line()))
            up.result()  # a timeout here: JupyterHub's own wait gives up and says so
        except TimeoutError:
            pass
        except Exception as exc:
            if isinstance(exc, SpawnFailed):
                raise
            self.log.warning("Waiting for %s's server: %s", self.user.name, exc)
        finally:
            watch.forget(self.container_id)
            up.cancel()
            died.cancel()
        return ip, port

    async def _state(self) -> dict[str, Any] | None:
        try:
            return (await deaths().call("inspect_container", self.container_id))["State"]
        except docker.errors.NotFound:
            return None

    async def _last_line(self) -> str:
        try:
            logs = await deaths().call("logs", self.container_id, tail=5)
        except Exception:  # noqa: BLE001 - the reason is still worth giving without it
            return ""
        lines = [ln.strip() for ln in logs.decode(errors="replace").splitlines() if ln.strip()]
        return lines[-1] if lines else ""

    def _fail(self, reason: str) -> NoReturn:
        self.log.error("Server of %s failed to start: %s", self.user.name, reason)
        record(self.failure_record, self.user.name, reason)
        raise SpawnFailed(reason)
