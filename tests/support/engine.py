"""Access to the real Docker engine for tests: fail (under CI=true) or skip when absent."""

from __future__ import annotations

import os

import docker
import pytest


def require_engine() -> docker.DockerClient:
    try:
        cli = docker.from_env(timeout=600)
        cli.ping()
        return cli
    except docker.errors.DockerException as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Docker engine required under CI=true but unreachable: {exc}")
        pytest.skip(f"no Docker engine: {exc}")
