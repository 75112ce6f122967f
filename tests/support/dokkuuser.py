"""The `dokku` system user, for tests that must act as Dokku's commands do (they run as
`dokku`, never as root). Switching to it takes root; the user is created as a Dokku install
does. Without root the test is skipped, except under CI=true where that is a failure."""

from __future__ import annotations

import os

import pytest


def require_dokku_user() -> tuple[int, int]:
    """uid and gid of the `dokku` user, creating it (in the docker group) when root."""
    from standin.layout import ensure_dokku_user

    ids = ensure_dokku_user() if os.geteuid() == 0 else None
    if ids is None:
        reason = "needs root to act as the dokku user"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return ids
