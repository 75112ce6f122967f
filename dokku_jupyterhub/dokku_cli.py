"""The one seam through which the plugin runs Dokku commands.

Every `dokku ...` call goes through `run()`; tests point `DOKKU_BIN` at the Dokku stand-in
(tests/standin) or replace `runner` with a recorder. Arguments are never echoed in errors:
`config:set` carries secrets, so an error names the command only, and the last line of Dokku's
own output is added with every argument value masked.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dokku_jupyterhub.output import DokkuError

_SECRET_FLAG = re.compile(r"password|secret|token|key", re.IGNORECASE)


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


# Set by the outer `dokku` for the command the user typed. A nested `dokku` keeps them from the
# environment: Dokku's dispatcher would put DOKKU_APP_NAME in front of a core command's
# arguments again, and plugins such as dokku-postgres read `--no-restart` from
# DOKKU_GLOBAL_FLAGS, which a nested call only recomputes when it is unset.
_OUTER_ONLY = ("DOKKU_APP_NAME", "DOKKU_GLOBAL_FLAGS")


# Commands whose arguments carry secrets: Dokku's --trace (`set -x`) would print them.
_SECRET_ARGS = ("config:set",)


def command_of(args: Sequence[str]) -> str | None:
    """The Dokku command of an argv, past Dokku's global flags (`--quiet config:set ...`)."""
    return next((a for a in args if not a.startswith("-")), None)


def child_env(args: Sequence[str] = ()) -> dict[str, str]:
    secret = command_of(args) in _SECRET_ARGS
    drop = _OUTER_ONLY + (("DOKKU_TRACE",) if secret else ())
    return {k: v for k, v in os.environ.items() if k not in drop}


def _subprocess_runner(args: Sequence[str], input: bytes | None, stream: bool) -> Result:
    cmd = [dokku_bin(), *args]
    env = child_env(args)
    if stream:
        # Long steps (deploys) show Dokku's own output as it comes.
        proc = subprocess.run(cmd, input=input, env=env)
        return Result(proc.returncode, "", "")
    proc = subprocess.run(cmd, input=input, capture_output=True, env=env)
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
        detail = _mask(_last_line(result.stderr) or _last_line(result.stdout), args[1:])
        msg = f"dokku {args[0]} failed (exit {result.returncode})"
        raise DokkuError(f"{msg}: {detail}" if detail else msg)
    return result


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1].lstrip("! ").strip() if lines else ""


def _mask(text: str, args: Sequence[str]) -> str:
    """Hide the argument values that can be secrets if Dokku echoes them: every `K=V` value
    (config:set) and the value after a flag naming a password, secret or token."""
    hidden: set[str] = set()
    for i, arg in enumerate(args):
        if arg.startswith("-"):
            name, eq, value = arg.partition("=")
            if _SECRET_FLAG.search(name):
                hidden.add(value if eq else (args[i + 1] if i + 1 < len(args) else ""))
        elif "=" in arg:
            hidden.add(arg.split("=", 1)[1])
    for value in sorted(filter(None, hidden), key=len, reverse=True):
        text = text.replace(value, "***")
    return text
