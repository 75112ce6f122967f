"""The Python CLI frame (dokku_jupyterhub.cli): how Dokku's argv becomes a click command and how
failures reach the user. Commands here are test doubles registered in place of the real ones,
so these tests do not depend on which capabilities exist."""

from __future__ import annotations

import os
import subprocess
import sys

import click
import pytest

from dokku_jupyterhub import cli
from dokku_jupyterhub.output import DokkuError, info1_quiet, out

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@click.command("probe")
@click.argument("app")
@click.argument("rest", nargs=-1)
@click.option("--force", is_flag=True)
def probe(app, rest, force):
    """Print what the command received."""
    out(f"app={app} rest={','.join(rest)} force={force}")
    env = os.environ
    out(f"quiet={env.get('DOKKU_QUIET_OUTPUT', '')} trace={env.get('DOKKU_TRACE', '')}")
    info1_quiet("chatter")


@click.command("fails")
@click.argument("code", type=int)
def fails(code):
    """Raise a DokkuError with the given exit code."""
    raise DokkuError("the thing is broken", exit_code=code)


@click.command("crashes")
def crashes():
    """Raise an unexpected exception."""
    raise RuntimeError("kaboom")


@click.command("returns")
def returns():
    """Return an exit code."""
    return 3


@click.command("admins:add")
@click.argument("app")
def admins_add(app):
    """A nested name."""
    out(f"admins:add {app}")


@pytest.fixture
def commands(monkeypatch, dokku_env):
    # cli.main exports DOKKU_QUIET_OUTPUT/DOKKU_TRACE itself: make monkeypatch restore them.
    for name in ("DOKKU_QUIET_OUTPUT", "DOKKU_TRACE", "DOKKU_APP_NAME"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    table = {c.name: c for c in (probe, fails, crashes, returns, admins_add)}
    monkeypatch.setattr(cli, "registry", lambda: table)
    return table


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


@pytest.mark.parametrize(
    ("argv", "rest", "flags"),
    [
        (["--quiet", "x"], ["x"], cli.GlobalFlags(quiet=True)),
        (["x", "--trace"], ["x"], cli.GlobalFlags(trace=True)),
        (["a", "--app", "hub", "b"], ["a", "b"], cli.GlobalFlags(app="hub")),
        (["a", "--app=hub"], ["a"], cli.GlobalFlags(app="hub")),
        (["--force", "a"], ["--force", "a"], cli.GlobalFlags()),
        (["a", "--quiet", "--trace", "--app", "h"], ["a"], cli.GlobalFlags(True, True, "h")),
    ],
)
def test_global_flags_are_taken_from_anywhere(argv, rest, flags):
    assert cli.split_global_flags(argv) == (rest, flags)


def test_flags_anywhere_reach_the_environment_and_are_removed(commands, capsys):
    code, stdout, _ = run(["jupyterhub:probe", "hub", "--quiet", "x", "--trace", "--force"], capsys)
    assert code == 0
    assert stdout.splitlines() == ["app=hub rest=x force=True", "quiet=1 trace=1"]


def test_quiet_silences_only_chatter(commands, capsys):
    _, stdout, _ = run(["jupyterhub:probe", "hub"], capsys)
    assert "-----> chatter" in stdout
    _, stdout, _ = run(["--quiet", "jupyterhub:probe", "hub"], capsys)
    assert "chatter" not in stdout
    assert "app=hub" in stdout


def test_app_flag_or_env_becomes_the_first_argument(commands, capsys, monkeypatch):
    _, stdout, _ = run(["jupyterhub:probe", "--app", "hub", "x"], capsys)
    assert stdout.splitlines()[0] == "app=hub rest=x force=False"
    # `dokku --app hub jupyterhub:probe x`: Dokku removed the leading flag, exported the name.
    monkeypatch.setenv("DOKKU_APP_NAME", "hub")
    _, stdout, _ = run(["jupyterhub:probe", "x"], capsys)
    assert stdout.splitlines()[0] == "app=hub rest=x force=False"
    # Typed explicitly as well: not doubled.
    _, stdout, _ = run(["jupyterhub:probe", "hub", "x"], capsys)
    assert stdout.splitlines()[0] == "app=hub rest=x force=False"


def test_nested_names_dispatch_on_text_after_first_colon(commands, capsys):
    code, stdout, _ = run(["jupyterhub:admins:add", "hub"], capsys)
    assert (code, stdout) == (0, "admins:add hub\n")


def test_unknown_command_fails_like_dokku(commands, capsys):
    code, stdout, stderr = run(["jupyterhub:nope", "a"], capsys)
    assert (code, stdout, stderr) == (1, "", " !     `jupyterhub:nope` is not a dokku command.\n")


@pytest.mark.parametrize("exit_code", [1, 4])
def test_dokku_error_is_one_line_and_its_exit_code(commands, capsys, exit_code):
    code, stdout, stderr = run(["jupyterhub:fails", str(exit_code)], capsys)
    assert code == exit_code
    assert stdout == ""
    assert stderr == " !     the thing is broken\n"


def test_traceback_only_with_trace(commands, capsys):
    _, _, stderr = run(["jupyterhub:fails", "1"], capsys)
    assert "Traceback" not in stderr
    _, _, stderr = run(["jupyterhub:fails", "1", "--trace"], capsys)
    assert "Traceback (most recent call last)" in stderr
    assert stderr.endswith(" !     the thing is broken\n")


def test_unexpected_exception_is_one_line_without_trace(commands, capsys):
    code, _, stderr = run(["jupyterhub:crashes"], capsys)
    assert code == 1
    assert stderr == (
        " !     Unexpected error: RuntimeError: kaboom (rerun with --trace for details)\n"
    )
    code, _, stderr = run(["--trace", "jupyterhub:crashes"], capsys)
    assert code == 1
    assert "Traceback (most recent call last)" in stderr
    assert 'raise RuntimeError("kaboom")' in stderr


def test_usage_errors_are_dokku_lines(commands, capsys):
    code, _, stderr = run(["jupyterhub:probe", "hub", "--bogus"], capsys)
    assert code == 2
    assert stderr.startswith(" !     No such option") and "--bogus" in stderr
    assert stderr.count("\n") == 1
    code, _, stderr = run(["jupyterhub:probe"], capsys)
    assert code == 2
    assert stderr.startswith(" !     Missing argument")
    assert "\n" not in stderr.rstrip("\n")


def test_returned_exit_code_is_kept(commands, capsys):
    code, _, _ = run(["jupyterhub:returns"], capsys)
    assert code == 3


def test_real_entry_point_in_a_fresh_interpreter(dokku_env):
    """`python -m dokku_jupyterhub` as lib/subcommand runs it: unknown names fail cleanly."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "dokku_jupyterhub", "jupyterhub:surely-not-a-command", "x"],
        capture_output=True, text=True, env=env,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == " !     `jupyterhub:surely-not-a-command` is not a dokku command.\n"


def test_trace_never_shows_a_secret_typed_on_the_command_line(dokku_env, tmp_path):
    """`--trace` sets -x in the shim; argv (which may carry `--client-secret`) must not be
    traced. A recording python3 in the venv's place shows the argv did reach Python."""
    venv_bin = dokku_env / "data" / "jupyterhub" / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    seen = tmp_path / "argv"
    fake = venv_bin / "python3"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {seen}\n')
    fake.chmod(0o755)
    proc = subprocess.run(
        ["bash", os.path.join(ROOT, "subcommands", "auth:set"), "jupyterhub:auth:set", "hub",
         "azuread", "--client-secret", "S3CRET-VALUE"],
        capture_output=True, text=True, env=dict(os.environ, DOKKU_TRACE="1"),
    )
    assert proc.returncode == 0, proc.stderr
    assert "+ " in proc.stderr  # it did trace
    assert "S3CRET-VALUE" not in proc.stderr + proc.stdout
    assert "S3CRET-VALUE" in seen.read_text().split("\n")
