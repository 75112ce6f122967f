"""Run the plugin's CLI in-process as Dokku would run a subcommand, for pytest."""

from __future__ import annotations

import pytest

from dokku_jupyterhub import cli


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `dokku <argv>`; the CLI always exits."""
    with pytest.raises(SystemExit) as exc:
        cli.main(list(argv))
    got = capsys.readouterr()
    return int(exc.value.code or 0), got.out, got.err
