"""The one seam through which the plugin reaches Docker (docker-py).

`client()` returns a connected `docker.DockerClient` or raises a DokkuError that says what to
fix: engine not running, or no permission on the socket (the `dokku` user must be in the
`docker` group). Tests replace `factory` to point at another engine or simulate failures.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import docker
import docker.errors
import requests

from dokku_jupyterhub.hub_runtime.contract import DOCKER_SOCKET
from dokku_jupyterhub.output import DokkuError

# An engine that accepts the connection but never answers must not stall a deploy: the
# liveness check (version negotiation and ping) waits a few seconds, ordinary calls a
# minute; only a build may run long (BUILD_TIMEOUT, passed to the build call itself).
LIVENESS_TIMEOUT = 10
CALL_TIMEOUT = 60
BUILD_TIMEOUT = int(os.environ.get("DOKKU_JUPYTERHUB_DOCKER_TIMEOUT", "600"))


def _default_factory() -> docker.DockerClient:
    return docker.DockerClient(
        base_url=os.environ.get("DOCKER_HOST") or f"unix://{DOCKER_SOCKET}",
        timeout=LIVENESS_TIMEOUT,
    )


factory: Callable[[], docker.DockerClient] = _default_factory


def client() -> docker.DockerClient:
    try:
        cli = factory()
        cli.ping()
    # docker-py wraps connection errors only while negotiating the API version; a later
    # ping lets requests' own errors through.
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise DokkuError(explain(exc)) from exc
    cli.api.timeout = max(cli.api.timeout or 0, CALL_TIMEOUT)
    return cli


def explain(exc: BaseException) -> str:
    text = str(exc)
    if "Permission denied" in text or "PermissionError" in text:
        return (
            "Permission denied on the Docker socket: add the dokku user to the docker group "
            "(usermod -aG docker dokku)"
        )
    if "timed out" in text.lower():
        return ("Docker engine did not answer in time: is dockerd hung? "
                "(systemctl status docker)")
    if any(s in text for s in ("No such file", "Connection refused", "FileNotFoundError",
                               "Connection aborted", "Max retries")):
        return "Docker engine unreachable: is dockerd running and DOCKER_HOST right?"
    return f"Docker error: {text.splitlines()[0] if text else type(exc).__name__}"
