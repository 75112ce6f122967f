"""`report APP` (`dokku report APP`): the jupyterhub section for hub apps. Never fails the
chain: a problem is one warning line, then the other plugins' sections follow."""

from __future__ import annotations

from dokku_jupyterhub import properties
from dokku_jupyterhub.cmds.report import print_report
from dokku_jupyterhub.output import DokkuError, warn


def main(argv: list[str]) -> int:
    app = argv[0] if argv else ""
    if not app or properties.get(app, "hub-app") is None:
        return 0
    try:
        print_report(app)
    except DokkuError as exc:
        warn(f"jupyterhub report: {exc.message}")
    return 0
