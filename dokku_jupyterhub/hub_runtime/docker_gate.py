"""The docker gate: the only Docker socket the hub gets (issue 20).

Whoever holds the engine's own socket is root on the host, so the hub does not: the gate
runs beside it (in its own container, the engine's socket mounted there only), listens on a
UNIX socket that only the hub gets, and forwards to the engine exactly the requests that
`docker_rules.check` allows (what DockerSpawner and the hub's spawner need for this app),
answering everything else with 403 and {"message": "dokku-jupyterhub docker gate: <why>"}
(docker-py shows the message) and one line on stderr:

    [docker-gate] refused POST /v1.41/containers/x/exec: POST exec is not an operation ...

The create rule comes from the policy file, read again (when it changed) at every create,
so a policy change needs no restart. Each connection gets one request: it is forwarded with
`Connection: close` and the engine's answer is streamed back byte for byte until the engine
closes (events, logs that follow, stats that stream and waits all work). Request bodies,
query strings and environment values are never logged.

    python -m dokku_hub.docker_gate   # configured by the environment, see `from_env`
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import re
import select
import signal
import socket
import socketserver
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from . import docker_rules, policy_cache
from .contract import (
    DATA_MOUNT,
    DOCKER_SOCKET,
    HUB_APP_RE,
    POLICY_FILE,
    Env,
    container_prefix,
    network_name,
    notebook_image,
)
from .docker_rules import GateContext, Verdict

# The gate's own environment (the rest is the hub's: contract.Env).
ENV_SOCKET = "DOKKU_GATE_SOCKET"  # where the gate listens (the hub's DOCKER_HOST)
ENV_UPSTREAM = "DOKKU_GATE_UPSTREAM"  # the engine's socket
DEFAULT_SOCKET = "/run/dokku-gate/docker.sock"
DEFAULT_UPSTREAM = DOCKER_SOCKET
SOCKET_MODE = 0o660

MESSAGE_PREFIX = "dokku-jupyterhub docker gate: "
MAX_BODY = 16 * 1024 * 1024  # a create body is a few KiB; nothing the hub sends is larger
REQUEST_TIMEOUT = 60.0  # seconds to send a request's head and body
SEND_TIMEOUT = 300.0  # seconds a client may leave a streamed answer unread
LOOKUP_TIMEOUT = 30.0  # the gate's own questions to the engine (labels, image ids)
CHUNK = 64 * 1024
# Request headers passed on to the engine; every other one (hop-by-hop, Upgrade, ...) is not.
FORWARD_HEADERS = ("content-type", "user-agent", "accept", "x-registry-auth")
_CONTAINER_ID_RE = re.compile(r"^[0-9a-f]{64}$")


class GateError(RuntimeError):
    """The gate cannot start (configuration, socket path)."""


class UpstreamError(RuntimeError):
    """The engine did not answer one of the gate's own questions."""


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _say(line: str) -> None:
    sys.stderr.write(f"[docker-gate] {line}\n")
    sys.stderr.flush()


def _printable(text: str) -> str:
    return "".join(c if 32 <= ord(c) < 127 else f"\\x{ord(c):02x}" for c in text)


# ---- the engine --------------------------------------------------------------------------


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


class Upstream:
    """The engine's socket."""

    def __init__(self, path: str) -> None:
        self.path = path

    def connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            raise
        return sock

    def get_json(self, path: str) -> tuple[int, Any]:
        """(status, decoded body or None) of GET `path`."""
        conn = _UnixConnection(self.path, LOOKUP_TIMEOUT)
        try:
            conn.request("GET", path, headers={"Host": "docker"})
            resp = conn.getresponse()
            data = resp.read()
        except OSError as exc:
            raise UpstreamError(f"cannot reach the Docker engine at {self.path}: {exc}") from None
        finally:
            conn.close()
        if resp.status != 200:
            return resp.status, None
        try:
            return 200, json.loads(data)
        except ValueError:
            raise UpstreamError(f"the Docker engine's answer to GET {path} is not JSON") from None


class _Lookup:
    """`labels_of` and `image_of` for one request, asked of the engine itself; remembers the
    id each container reference resolved to."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.ids: dict[str, str] = {}

    def labels_of(self, ref: str) -> dict[str, str] | None:
        status, data = self.upstream.get_json(f"/containers/{quote(ref, safe='')}/json")
        if status == 404:
            return None
        if not isinstance(data, dict):
            raise UpstreamError(f"the Docker engine answered {status} for container {ref}")
        self.ids[ref] = str(data.get("Id", ""))
        return dict((data.get("Config") or {}).get("Labels") or {})

    def image_of(self, ref: str) -> str | None:
        if not docker_rules.is_image_ref(ref):
            return None
        status, data = self.upstream.get_json(f"/images/{quote(ref, safe='/:@')}/json")
        if status == 200 and isinstance(data, dict):
            return str(data.get("Id") or "") or None
        if status >= 500:
            raise UpstreamError(f"the Docker engine answered {status} for image {ref}")
        return None  # 404, or a reference the engine cannot parse


# ---- one request ---------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dokku-jupyterhub-docker-gate"
    sys_version = ""
    timeout = REQUEST_TIMEOUT
    server: GateServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no access log: query strings and bodies may carry secrets

    def do_GET(self) -> None:
        self._serve()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _serve(self) -> None:
        self.close_connection = True  # one request per connection
        method = self.command
        try:
            path, query = self._target()
            body = self._read_body()
        except _BadRequest as exc:
            self._answer(exc.status, MESSAGE_PREFIX + str(exc))
            return
        lookup = _Lookup(self.server.upstream)
        target = ""
        try:
            doc = (self.server.policy().current()
                   if docker_rules.needs_policy(method, path) else {})
            verdict = docker_rules.check(method, path, query, body, self.server.ctx, doc,
                                         lookup.labels_of, lookup.image_of)
            if verdict.allowed:
                target = self._forward_target(path, query, verdict, lookup)
        except UpstreamError as exc:
            _say(f"error {method} {_printable(path)}: {exc}")
            self._answer(502, MESSAGE_PREFIX + str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a bug here must not kill the gate
            _say(f"error {method} {_printable(path)}: {type(exc).__name__}: {exc}")
            self._answer(500, MESSAGE_PREFIX + "internal error (see the gate's log)")
            return
        if not verdict.allowed:
            self._refuse(method, path, verdict)
            return
        try:
            upstream = self.server.upstream.connect()
        except OSError as exc:
            _say(f"error {method} {_printable(path)}: cannot reach the Docker engine: {exc}")
            self._answer(502, MESSAGE_PREFIX + "cannot reach the Docker engine")
            return
        try:
            upstream.sendall(self._request_head(method, target, body) + (body or b""))
            self._pump(upstream)
        except OSError:
            pass  # either side went away: nothing more to say to anyone
        finally:
            upstream.close()

    def _target(self) -> tuple[str, dict[str, list[str]]]:
        if not self.path.startswith("/"):
            raise _BadRequest(400, "malformed request target")
        split = urlsplit(self.path)
        try:
            path = unquote(split.path, errors="strict")
            query = parse_qs(split.query, keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            raise _BadRequest(400, "malformed request target") from None
        return path, query

    def _read_exact(self, size: int) -> bytes:
        data = self.rfile.read(size)
        if len(data) != size:
            raise _BadRequest(400, "the request body ended early")
        return data

    def _read_body(self) -> bytes | None:
        encoding = (self.headers.get("Transfer-Encoding") or "").strip().lower()
        length = self.headers.get("Content-Length")
        if encoding and length is not None:
            raise _BadRequest(400, "both Content-Length and Transfer-Encoding")
        if encoding:
            if encoding != "chunked":
                raise _BadRequest(400, f"unsupported Transfer-Encoding {encoding}")
            return self._read_chunked()
        if length is None:
            return None
        if not length.strip().isdigit():
            raise _BadRequest(400, "malformed Content-Length")
        size = int(length)
        if size > MAX_BODY:
            raise _BadRequest(413, "request body too large")
        return self._read_exact(size)

    def _read_chunked(self) -> bytes:
        out = bytearray()
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BadRequest(400, "malformed chunked body") from None
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return bytes(out)
            if size < 0 or len(out) + size > MAX_BODY:
                raise _BadRequest(413, "request body too large")
            out += self._read_exact(size)
            self.rfile.readline(3)

    def _forward_target(self, path: str, query: dict[str, list[str]], verdict: Verdict,
                        lookup: _Lookup) -> str:
        """The request target sent to the engine: exactly what was checked, the container
        named by the id it had when it was checked, the narrowed query if any."""
        if verdict.container is not None:
            version, route = docker_rules.split_version(path)
            cid = lookup.ids.get(verdict.container, "")
            if not _CONTAINER_ID_RE.fullmatch(cid):
                raise UpstreamError(f"the Docker engine gave no id for {verdict.container}")
            old = f"/containers/{verdict.container}"
            path = version + f"/containers/{cid}" + route[len(old):]
        query = verdict.query if verdict.query is not None else query
        target = quote(path, safe="/:@")
        return f"{target}?{urlencode(query, doseq=True)}" if query else target

    def _request_head(self, method: str, target: str, body: bytes | None) -> bytes:
        lines = [f"{method} {target} HTTP/1.1", "Host: docker"]
        for key, value in self.headers.items():
            if key.lower() in FORWARD_HEADERS and "\r" not in value and "\n" not in value:
                lines.append(f"{key}: {value}")
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _pump(self, upstream: socket.socket) -> None:
        """The engine's answer to the client as it comes, until the engine closes it or the
        client goes away (a client that only shut its sending side still gets it all)."""
        client = self.connection
        client.settimeout(SEND_TIMEOUT)
        poller = select.poll()
        poller.register(upstream, select.POLLIN)
        poller.register(client, select.POLLIN)
        while True:
            for fd, events in poller.poll():
                if fd == upstream.fileno():
                    data = upstream.recv(CHUNK)
                    if not data:
                        return
                    client.sendall(data)
                elif events & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                    return
                elif not client.recv(CHUNK):
                    poller.modify(client, 0)  # half-closed: keep sending until it hangs up

    def _refuse(self, method: str, path: str, verdict: Verdict) -> None:
        if verdict.status == 404:
            self._answer(404, verdict.reason)  # as the engine says it: docker-py's NotFound
            return
        _say(f"refused {method} {_printable(path)}: {_printable(verdict.reason)}")
        self._answer(verdict.status, MESSAGE_PREFIX + verdict.reason)

    def _answer(self, status: int, message: str) -> None:
        body = json.dumps({"message": message}).encode()
        with contextlib.suppress(OSError):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)


# ---- the server ----------------------------------------------------------------------------


def _prepare_socket_path(path: str) -> None:
    """Create the socket's folder; remove a socket file nobody listens on any more."""
    os.makedirs(os.path.dirname(path) or ".", mode=0o755, exist_ok=True)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise GateError(f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)  # stale: left by a gate that stopped
        return
    finally:
        probe.close()
    raise GateError(f"another process is listening on {path}")


class GateServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Thread per connection on a UNIX socket (mode 0660)."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, listen_path: str, upstream_path: str, ctx: GateContext,
                 policy_path: str) -> None:
        self.listen_path = listen_path
        self.upstream = Upstream(upstream_path)
        self.ctx = ctx
        self.policy_path = policy_path
        _prepare_socket_path(listen_path)
        super().__init__(listen_path, _Handler)

    def server_bind(self) -> None:
        old = os.umask(0o777 & ~SOCKET_MODE)
        try:
            super().server_bind()
        finally:
            os.umask(old)
        os.chmod(self.listen_path, SOCKET_MODE)

    def server_close(self) -> None:
        super().server_close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.listen_path)

    def policy(self) -> policy_cache.PolicyCache:
        return policy_cache.for_path(self.policy_path)


def make_server(listen_path: str, upstream_path: str, ctx: GateContext,
                policy_path: str) -> GateServer:
    return GateServer(listen_path, upstream_path, ctx, policy_path)


def serve(listen_path: str, upstream_path: str, ctx: GateContext, policy_path: str) -> None:
    """Listen on `listen_path` and forward what the rules allow to `upstream_path`."""
    server = make_server(listen_path, upstream_path, ctx, policy_path)
    _say(f"listening on {listen_path} for {ctx.app} (engine {upstream_path}; images "
         f"{', '.join(ctx.images)}; network {ctx.network})")
    try:
        server.serve_forever()
    finally:
        server.server_close()


# ---- configuration -------------------------------------------------------------------------


@dataclass(frozen=True)
class GateSettings:
    listen: str
    upstream: str
    ctx: GateContext
    policy_path: str


def _text(environ: Mapping[str, str], key: str, default: str = "") -> str:
    value = (environ.get(key) or "").strip()
    return value or default


def _absolute(key: str, path: str) -> str:
    if not path.startswith("/") or "/../" in f"{path}/" or any(c in path for c in ":\n\0"):
        raise GateError(f"{key} must be an absolute path, got {path!r}")
    return path.rstrip("/") or "/"


def from_env(environ: Mapping[str, str]) -> GateSettings:
    app = _text(environ, Env.APP)
    if not HUB_APP_RE.fullmatch(app):
        raise GateError(f"{Env.APP} must be the hub app's name, got {app!r}")
    host_root = _text(environ, Env.HOST_DATA_DIR)
    if not host_root:
        raise GateError(f"{Env.HOST_DATA_DIR} is not set: the hub's data directory as the "
                        "host sees it")
    allow_all = _text(environ, Env.ALLOW_ALL).lower()
    if allow_all not in ("", "true", "false"):
        raise GateError(f"{Env.ALLOW_ALL} must be true or false, got {allow_all!r}")
    pinned = [i.strip() for i in _text(environ, Env.NOTEBOOK_IMAGE).split(",") if i.strip()]
    data_dir = _absolute(Env.DATA_DIR, _text(environ, Env.DATA_DIR, DATA_MOUNT))
    ctx = GateContext(
        app=app,
        network=_text(environ, Env.NETWORK, network_name(app)),
        images=tuple(dict.fromkeys([*pinned, notebook_image(app)])),
        host_root=_absolute(Env.HOST_DATA_DIR, host_root),
        prefix=container_prefix(app),
        allow_all=allow_all == "true",
        groups_from_claim=bool(_text(environ, Env.GROUPS_CLAIM)),
    )
    return GateSettings(
        listen=_absolute(ENV_SOCKET, _text(environ, ENV_SOCKET, DEFAULT_SOCKET)),
        upstream=_absolute(ENV_UPSTREAM, _text(environ, ENV_UPSTREAM, DEFAULT_UPSTREAM)),
        ctx=ctx,
        policy_path=f"{data_dir.rstrip('/')}/{POLICY_FILE}",
    )


def _stop(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="[docker-gate] %(message)s")
    try:
        settings = from_env(os.environ)
        signal.signal(signal.SIGTERM, _stop)
        serve(settings.listen, settings.upstream, settings.ctx, settings.policy_path)
    except GateError as exc:
        _say(str(exc))
        sys.exit(2)


if __name__ == "__main__":
    main()
