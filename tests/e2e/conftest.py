"""Fixtures of the end-to-end bed (see bed.py). Under CI=true a missing prerequisite (Docker,
debootstrap, npm, apt-get, PostgreSQL) fails the run; elsewhere it skips with the reason."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


def require(ok: bool, what: str) -> None:
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"end-to-end bed needs {what} under CI=true")
    pytest.skip(f"end-to-end bed needs {what}")


@pytest.fixture(scope="session")
def e2e_bases(engine):
    """Offline stand-ins for the official hub and notebook bases, with exactly what the
    rendered hub app pins (so its Dockerfiles build with network_mode=none)."""
    from support import baseimages

    from dokku_jupyterhub import hub_source

    reason = baseimages.missing_tools()
    require(reason is None, reason or "")
    require(os.geteuid() == 0, "root (the Dokku stand-in switches to the dokku user)")

    files = hub_source.render_files(hub_source.HubParams(app="e2e"))
    return baseimages.ensure_for_rendered(engine, files)


@pytest.fixture(scope="session")
def postgres_ok():
    from support import postgres

    reason = postgres.available()
    require(reason is None, reason or "")
