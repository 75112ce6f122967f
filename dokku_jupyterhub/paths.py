"""Where Dokku keeps things: its library root (plugin data, properties, storage)."""

from __future__ import annotations

import os
from pathlib import Path

from dokku_jupyterhub import PLUGIN_NAME


def lib_root() -> Path:
    return Path(os.environ.get("DOKKU_LIB_ROOT") or "/var/lib/dokku")


def dokku_root() -> Path:
    """Dokku's home: every directory in it is an app to Dokku."""
    return Path(os.environ.get("DOKKU_ROOT") or "/home/dokku")


def plugin_data_dir() -> Path:
    """The plugin's own data: venv, build locks, build records."""
    return lib_root() / "data" / PLUGIN_NAME


def properties_dir() -> Path:
    return lib_root() / "config" / PLUGIN_NAME


def storage_root(app: str) -> Path:
    """Dokku's persistent storage convention: data/storage/<name>."""
    return lib_root() / "data" / "storage" / app


def gate_dir(app: str) -> Path:
    """Host directory of the app's Docker gate socket (mounted into the gate and the hub,
    outside the data tree, so no notebook server ever gets it)."""
    return storage_root(app) / "gate"


def data_root(app: str) -> Path:
    """Host directory mounted at /data in the hub: users' folders, policy, secrets."""
    return storage_root(app) / "data"
