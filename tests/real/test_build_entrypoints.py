"""The entry points of the notebook build that need no Docker engine: the real shell
`post-deploy` file (no Python for a non-hub app; never a failed deploy), the trigger and
`rebuild-image` when the engine is unreachable, and `rebuild-image` on a non-hub app."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from dokku_jupyterhub import cli, properties, triggers
from dokku_jupyterhub.notebook_build import records

ROOT = Path(__file__).resolve().parents[2]
POST_DEPLOY = ROOT / "post-deploy"

RECORDER = """#!/bin/sh
echo "$0 $*" >> "{log}"
exit {code}
"""


@pytest.fixture
def shell(tmp_path, dokku_env):
    """Runs the real `post-deploy` with `python3`/`python` on PATH replaced by recorders."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "python-calls.log"
    for name in ("python3", "python"):
        (bin_dir / name).write_text(RECORDER.format(log=log, code=0))
        (bin_dir / name).chmod(0o755)
    venv_python = dokku_env / "data" / "jupyterhub" / "venv" / "bin" / "python3"

    def run(app: str, venv: int | None = None) -> subprocess.CompletedProcess[str]:
        """`venv`: None = no plugin venv; else a recorder venv python exiting with it."""
        if venv is not None:
            venv_python.parent.mkdir(parents=True, exist_ok=True)
            venv_python.write_text(RECORDER.format(log=log, code=venv))
            venv_python.chmod(0o755)
        env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "DOKKU_LIB_ROOT": str(dokku_env),
               "HOME": str(tmp_path)}
        return subprocess.run([str(POST_DEPLOY), app, "", "", "latest"], env=env,
                              capture_output=True, text=True, timeout=30)

    run.log = log  # type: ignore[attr-defined]
    return run


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_non_hub_app_starts_no_python(shell):
    for venv in (None, 0):
        result = shell("some-other-app", venv=venv)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
        assert calls(shell.log) == []


def test_hub_app_runs_the_python_trigger_with_dokkus_arguments(shell, dokku_env):
    properties.set("hub", "hub-app", "true")
    result = shell("hub", venv=0)
    assert result.returncode == 0, result.stderr
    venv_python = dokku_env / "data/jupyterhub/venv/bin/python3"
    [call] = calls(shell.log)
    assert call.startswith(f"{venv_python} ")
    assert call.endswith(" -m dokku_jupyterhub.triggers post-deploy hub   latest")


def test_hub_app_without_venv_warns_but_never_fails_the_deploy(shell):
    properties.set("hub", "hub-app", "true")
    result = shell("hub", venv=None)
    assert result.returncode == 0
    assert "Python environment is missing" in result.stderr
    assert "the deploy itself succeeded" in result.stderr
    assert calls(shell.log) == []


def test_crashing_python_never_fails_the_deploy(shell):
    properties.set("hub", "hub-app", "true")
    result = shell("hub", venv=3)
    assert result.returncode == 0
    assert (" !     The notebook image step of the jupyterhub plugin failed (exit 3)"
            in result.stderr)


def test_trigger_ignores_non_hub_apps_in_python_too(dokku_env, capsys):
    assert triggers_exit(["post-deploy", "plain", "", "", "latest"]) == 0
    assert capsys.readouterr() == ("", "")
    assert properties.all_for("plain") == {}


def triggers_exit(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        triggers.main(argv)
    return exit_info.value.code


def cli_exit(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    return exit_info.value.code


def test_docker_unreachable_is_a_clear_error(dokku_env, tmp_path, monkeypatch, capsys):
    properties.set("deadhub", "hub-app", "true")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/dead.sock")
    assert triggers_exit(["post-deploy", "deadhub", "", "", "latest"]) == 0
    err = capsys.readouterr().err
    assert " !     Notebook image for deadhub not built: Docker engine unreachable" in err
    assert "The deploy itself succeeded" in err
    got = records.read("deadhub")
    assert got["last-build-status"] == "failed"
    assert got["last-build-error"].startswith("Docker engine unreachable")
    assert cli_exit(["jupyterhub:rebuild-image", "deadhub"]) == 1
    assert "Docker engine unreachable" in capsys.readouterr().err


def test_rebuild_image_refuses_a_non_hub_app(dokku_env, capsys):
    assert cli_exit(["jupyterhub:rebuild-image", "not-a-hub"]) == 1
    assert " !     not-a-hub is not a jupyterhub app" in capsys.readouterr().err
    assert properties.all_for("not-a-hub") == {}
    assert not (dokku_env / "data").exists()


def test_rebuild_image_usage_errors_change_nothing(dokku_env, capsys):
    assert cli_exit(["jupyterhub:rebuild-image"]) != 0
    assert cli_exit(["jupyterhub:rebuild-image", "hub", "--bogus"]) != 0
    assert os.listdir(dokku_env) == []
