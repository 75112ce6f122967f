"""A student in the middle of a lesson, for the e2e bed: a notebook's kernel over its
websocket, and JupyterLab's REST calls, made without pause and recorded, so a test (or a
benchmark) can say what a redeploy did to them.

    kernel = KernelSocket(user).open()      # POST /api/kernels, then the websocket
    kernel.execute("print(1)")              # -> "1\\n" over the same websocket
    watch = Lesson(user, kernel).start()    # calls every 0.5 s, code every second
    ...
    watch.stop(); watch.api_gap(); watch.kernel_failures
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests
from bed import User
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClosedError, websocket_connect


class KernelSocket:
    """One kernel of the user's server and one websocket to it, kept open: a dropped socket
    is never reopened (that is what the tests look for)."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.kernel_id = ""
        self.closed_at: float | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._conn: Any = None
        self._session = uuid.uuid4().hex

    def open(self) -> KernelSocket:
        resp = self.user.api("POST", "/kernels", json={"name": "python3"})
        assert resp.status_code == 201, (resp.status_code, resp.text[:300])
        self.kernel_id = resp.json()["id"]
        self._thread.start()
        url = self.user.bed.url.replace("http://", "ws://", 1)
        request = HTTPRequest(
            f"{url}/user/{self.user.name}/api/kernels/{self.kernel_id}/channels"
            f"?session_id={self._session}",
            headers=self.user.headers, request_timeout=60)

        async def connect() -> Any:  # in the loop's own thread, as tornado wants
            return await websocket_connect(request)

        self._conn = self._run(connect(), 60)
        return self

    def _run(self, coro: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _execute(self, code: str, timeout: float) -> str:
        msg_id = uuid.uuid4().hex
        message = json.dumps({
            "header": {"msg_id": msg_id, "username": self.user.name, "session": self._session,
                       "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        })
        try:
            await self._conn.write_message(message)
        except WebSocketClosedError:
            self.closed_at = self.closed_at or time.monotonic()
            raise ConnectionError("the kernel websocket was closed") from None
        # Done at the kernel's "idle" for this request: all its output came before it.
        out, done = [], False
        deadline = time.monotonic() + timeout
        while not done:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no reply to {code!r} in {timeout} s")
            raw = await asyncio.wait_for(self._conn.read_message(), left)
            if raw is None:
                self.closed_at = self.closed_at or time.monotonic()
                raise ConnectionError("the kernel websocket was closed")
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg.get("msg_type") or msg["header"]["msg_type"]
            if kind == "stream":
                out.append(msg["content"]["text"])
            elif kind == "error":
                raise RuntimeError(f"{code!r} failed: {msg['content'].get('evalue')}")
            elif kind == "status" and msg["content"].get("execution_state") == "idle":
                done = True
        return "".join(out)

    def execute(self, code: str, timeout: float = 20) -> str:
        return self._run(self._execute(code, timeout), timeout + 5)

    def close(self) -> None:
        if self._conn is not None:
            self._loop.call_soon_threadsafe(self._conn.close)
        self._loop.call_soon_threadsafe(self._loop.stop)


@dataclass
class Calls:
    """Outcomes of one kind of call: (time sent, seconds to answer, ok, what)."""

    records: list[tuple[float, float, bool, str]] = field(default_factory=list)

    def add(self, sent: float, ok: bool, what: str) -> None:
        self.records.append((sent, time.monotonic() - sent, ok, what))

    @property
    def failures(self) -> list[str]:
        return [what for _, _, ok, what in self.records if not ok]

    def longest_gap(self) -> float:
        """The longest time without an answer: between one successful answer and the next
        (a slow answer counts its whole wait)."""
        answered = sorted(sent + took for sent, took, ok, _ in self.records if ok)
        if len(answered) < 2:
            return float("inf")
        return max(b - a for a, b in zip(answered, answered[1:], strict=False))


class Lesson:
    """The student keeps working: JupyterLab's calls (contents, sessions, kernels, status)
    every `api_every` seconds with the browser's own cookie, a save every 10 s with the
    user's token, and a line of code in the open kernel every `code_every` seconds (a
    counter, so a restarted kernel would show)."""

    def __init__(self, user: User, kernel: KernelSocket, api_every: float = 0.5,
                 code_every: float = 1.0) -> None:
        self.user, self.kernel = user, kernel
        self.api, self.code = Calls(), Calls()
        self.api_every, self.code_every = api_every, code_every
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._api_loop, daemon=True),
                         threading.Thread(target=self._code_loop, daemon=True)]
        self.count = 0

    def start(self) -> Lesson:
        self.kernel.execute("n = 0")
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)

    def _api_loop(self) -> None:
        base = f"/user/{self.user.name}/api"
        paths = ["/contents?content=0", "/sessions", "/kernels", "/status"]
        i = 0
        while not self._stop.is_set():
            path = paths[i % len(paths)]
            sent = time.monotonic()
            try:
                if i % 20 == 19:
                    resp = self.user.put_file("lesson.txt", f"saved at {time.time()}\n")
                    ok, what = resp.status_code in (200, 201), f"PUT contents {resp.status_code}"
                else:
                    resp = self.user.browser.get(base + path, timeout=30)
                    ok, what = resp.status_code == 200, f"GET {path} {resp.status_code}"
            except requests.RequestException as exc:
                ok, what = False, f"{path}: {type(exc).__name__}"
            self.api.add(sent, ok, f"{time.strftime('%H:%M:%S')} {what}")
            i += 1
            self._stop.wait(self.api_every)

    def _code_loop(self) -> None:
        while not self._stop.is_set():
            sent = time.monotonic()
            try:
                got = self.kernel.execute("n += 1; print(n)").strip()
                ok = got == str(self.count + 1)
                what = f"n={got}" if ok else f"expected n={self.count + 1}, got {got!r}"
                if ok:
                    self.count += 1
            except (TimeoutError, ConnectionError, RuntimeError) as exc:
                ok, what = False, f"{type(exc).__name__}: {exc}"
            self.code.add(sent, ok, f"{time.strftime('%H:%M:%S')} {what}")
            if self.kernel.closed_at is not None:
                return  # a dropped websocket is never reopened
            self._stop.wait(self.code_every)
