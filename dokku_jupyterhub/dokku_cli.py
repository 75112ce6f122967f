"""The one seam through which the plugin runs Dokku commands.

Every `dokku ...` call goes through `run()`; tests point `DOKKU_BIN` at the contract stand-in
(tests/standin) or replace `runner` with a recorder. Arguments are never echoed in errors:
`config:set` carries secrets.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dokku_jupyterhub.output import DokkuError


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def dokku_bin() -> str:
    return os.environ.get("DOKKU_BIN") or shutil.which("dokku") or "/usr/bin/dokku"


def _subprocess_runner(args: Sequence[str], input: bytes | None, stream: bool) -> Result:
    cmd = [dokku_bin(), *args]
    if stream:
        # Long steps (deploys) show Dokku's own output as it comes.
        proc = subprocess.run(cmd, input=input)
        return Result(proc.returncode, "", "")
    proc = subprocess.run(cmd, input=input, capture_output=True)
    return Result(
        proc.returncode,
        proc.stdout.decode(errors="replace"),
        proc.stderr.decode(errors="replace"),
    )


# Replaced in tests by a recorder; nothing else may call subprocess with `dokku`.
runner: Callable[[Sequence[str], bytes | None, bool], Result] = _subprocess_runner


def run(
    *args: str, check: bool = True, input: bytes | None = None, stream: bool = False
) -> Result:
    """Run `dokku <args>`; on failure with `check`, raise a DokkuError naming only the command."""
    result = runner(list(args), input, stream)
    if check and not result.ok:
        detail = _last_line(result.stderr) or _last_line(result.stdout)
        msg = f"dokku {args[0]} failed (exit {result.returncode})"
        raise DokkuError(f"{msg}: {detail}" if detail else msg)
    return result


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1].lstrip("! ").strip() if lines else ""
