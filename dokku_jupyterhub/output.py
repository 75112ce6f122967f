"""Output in Dokku's log formats (see dokku's `dokku_log_*` helpers).

`info1`/`info2`/`verbose` always print; the `*_quiet` variants are for progress chatter and
are silenced by `--quiet` (DOKKU_QUIET_OUTPUT), as Dokku's own `_quiet` helpers are.
"""

from __future__ import annotations

import os
import sys


class DokkuError(Exception):
    """A failure reported to the user as one ` !     ` line and a non-zero exit."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def is_quiet() -> bool:
    return bool(os.environ.get("DOKKU_QUIET_OUTPUT"))


def _emit(line: str) -> None:
    print(line, flush=True)


def info1(msg: str) -> None:
    _emit(f"-----> {msg}")


def info2(msg: str) -> None:
    _emit(f"=====> {msg}")


def verbose(msg: str) -> None:
    _emit(f"       {msg}")


def info1_quiet(msg: str) -> None:
    if not is_quiet():
        info1(msg)


def info2_quiet(msg: str) -> None:
    if not is_quiet():
        info2(msg)


def verbose_quiet(msg: str) -> None:
    if not is_quiet():
        verbose(msg)


def warn(msg: str) -> None:
    print(f" !     {msg}", file=sys.stderr, flush=True)


def out(text: str) -> None:
    """Raw data (reports, lists, JSON): never silenced."""
    _emit(text)
