"""Dokku triggers that need Python: one module per trigger (`post_deploy` for `post-deploy`),
each with `main(argv: list[str]) -> int`. The shell trigger files decide cheap things first."""

from __future__ import annotations

import importlib
import sys

from dokku_jupyterhub.output import DokkuError, warn


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        warn("usage: python -m dokku_jupyterhub.triggers <trigger> [args...]")
        sys.exit(2)
    module = importlib.import_module(f"{__name__}.{argv[0].replace('-', '_')}")
    try:
        sys.exit(module.main(argv[1:]))
    except DokkuError as exc:
        warn(exc.message)
        sys.exit(exc.exit_code)
