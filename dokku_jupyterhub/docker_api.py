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


def _default_factory() -> docker.DockerClient:
    return docker.DockerClient(
        base_url=os.environ.get("DOCKER_HOST") or f"unix://{DOCKER_SOCKET}",
        timeout=int(os.environ.get("DOKKU_JUPYTERHUB_DOCKER_TIMEOUT", "600")),
    )


factory: Callable[[], docker.DockerClient] = _default_factory


def client() -> docker.DockerClient:
    try:
        cli = factory()
        cli.ping()
        return cli
    # docker-py wraps connection errors only while negotiating the API version; a later
    # ping lets requests' own errors through.
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise DokkuError(explain(exc)) from exc


def explain(exc: BaseException) -> str:
    text = str(exc)
    if "Permission denied" in text or "PermissionError" in text:
        return (
            "Permission denied on the Docker socket: add the dokku user to the docker group "
            "(usermod -aG docker dokku)"
        )
    if any(s in text for s in ("No such file", "Connection refused", "FileNotFoundError",
                               "Connection aborted", "Max retries")):
        return "Docker engine unreachable: is dockerd running and DOCKER_HOST right?"
    return f"Docker error: {text.splitlines()[0] if text else type(exc).__name__}"
