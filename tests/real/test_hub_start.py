"""The hub container's start: data folders, cookie secret mode, `upgrade-db` on version change."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest
from support.hub_harness import RenderedHub

from dokku_jupyterhub.hub_runtime import settings as hub_settings
from dokku_jupyterhub.hub_runtime import start


@pytest.fixture
def hub(tmp_path, monkeypatch):
    h = RenderedHub(tmp_path, monkeypatch)
    yield h
    h.close()


def test_prepare_makes_the_data_tree_and_fixes_the_cookie_secret(hub):
    secret = hub.data / "jupyterhub_cookie_secret"
    secret.write_text("00" * 32)
    os.chmod(secret, 0o644)
    s = start.prepare(os.environ)
    assert s.data_dir == str(hub.data)
    for name in ("users", "user-settings", "shared", "colab", "groups"):
        assert (hub.data / name).is_dir()
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600


def test_prepare_refuses_to_start_without_the_data_volume(hub, monkeypatch):
    monkeypatch.setenv("HUB_DATA_DIR", str(hub.data / "missing"))
    with pytest.raises(SystemExit, match="persistent storage is not mounted"):
        start.prepare(os.environ)


def test_prepare_reports_bad_settings_in_one_line(hub, monkeypatch):
    monkeypatch.setenv("HUB_IDLE_TIMEOUT", "soon")
    with pytest.raises(SystemExit, match=r"^\[dokku-jupyterhub\] HUB_IDLE_TIMEOUT"):
        start.prepare(os.environ)


def test_real_upgrade_db_runs_once_per_version(hub):
    s = hub_settings.from_env(os.environ)
    stamp = hub.data / "jupyterhub-version"
    # First start on this data: the real `jupyterhub upgrade-db` with the rendered config.
    assert start.upgrade_db_if_needed(s, "6.1.1", config=hub.config_file) is True
    assert stamp.read_text().strip() == "6.1.1"
    with sqlite3.connect(hub.data / "jupyterhub.sqlite") as db:
        assert db.execute("select version_num from alembic_version").fetchone()

    def must_not_run(argv):
        raise AssertionError(f"ran {argv}")

    assert start.upgrade_db_if_needed(s, "6.1.1", config=hub.config_file, run=must_not_run) is False
    calls = []
    assert start.upgrade_db_if_needed(
        s, "6.2.0", config=hub.config_file, run=lambda argv: calls.append(argv) or 0
    )
    assert calls and calls[0][1:] == ["-m", "jupyterhub", "upgrade-db", "-f", hub.config_file]
    assert stamp.read_text().strip() == "6.2.0"


def test_failed_upgrade_keeps_the_old_stamp(hub):
    s = hub_settings.from_env(os.environ)
    stamp = hub.data / "jupyterhub-version"
    stamp.write_text("6.0.0\n")
    with pytest.raises(SystemExit, match="upgrade-db failed"):
        start.upgrade_db_if_needed(s, "6.1.1", config=hub.config_file, run=lambda argv: 1)
    assert stamp.read_text() == "6.0.0\n"
