"""Fixtures shared by every suite. Suite-specific fixtures live beside their tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


@pytest.fixture
def dokku_env(tmp_path, monkeypatch):
    """A private DOKKU_LIB_ROOT / DOKKU_ROOT for one test."""
    lib = tmp_path / "lib"
    home = tmp_path / "home"
    lib.mkdir()
    home.mkdir()
    monkeypatch.setenv("DOKKU_LIB_ROOT", str(lib))
    monkeypatch.setenv("DOKKU_ROOT", str(home))
    monkeypatch.delenv("DOKKU_QUIET_OUTPUT", raising=False)
    monkeypatch.delenv("DOKKU_TRACE", raising=False)
    monkeypatch.delenv("DOKKU_APP_NAME", raising=False)
    return lib


@pytest.fixture(scope="session")
def engine():
    from support.engine import require_engine

    return require_engine()


@pytest.fixture(scope="session")
def bookworm_image(engine):
    from support.baseimages import ensure_bookworm

    return ensure_bookworm(engine)
