"""`report APP` (`dokku report APP`): the jupyterhub section for hub apps. Never fails the
chain: a problem is one warning line, then the other plugins' sections follow."""

from __future__ import annotations

import os
import traceback

from dokku_jupyterhub.hub_apps import is_hub_app
from dokku_jupyterhub.hub_report import print_report
from dokku_jupyterhub.output import DokkuError, warn


def main(argv: list[str]) -> int:
    app = argv[0] if argv else ""
    if not is_hub_app(app):
        return 0
    try:
        print_report(app)
    except DokkuError as exc:
        warn(f"jupyterhub report: {exc.message}")
    except Exception as exc:  # noqa: BLE001 - `dokku report` goes on with the other sections
        if os.environ.get("DOKKU_TRACE"):
            traceback.print_exc()
        warn(f"jupyterhub report: unexpected error: {type(exc).__name__}: {exc}")
    return 0
