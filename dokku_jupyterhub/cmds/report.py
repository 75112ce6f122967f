"""`report [<app>] [--jupyterhub-<key>] [--format stdout|json]`: the jupyterhub report
(hub_report.py) of one hub app or of all of them."""

from __future__ import annotations

import click

from dokku_jupyterhub.hub_apps import all_hub_apps, require_hub_app
from dokku_jupyterhub.hub_report import print_report
from dokku_jupyterhub.listing import format_option
from dokku_jupyterhub.output import DokkuError


@click.command("report", context_settings={"ignore_unknown_options": True})
@click.argument("app", required=False)
@click.argument("flags", nargs=-1, type=click.UNPROCESSED)
@format_option
def report(app: str | None, flags: tuple[str, ...], fmt: str) -> None:
    """Display a jupyterhub report for one or more hub apps"""
    args = [a for a in (app, *flags) if a]
    info = [a for a in args if a.startswith("--")]
    names = [a for a in args if not a.startswith("--")]
    if len(info) > 1:
        raise DokkuError("jupyterhub:report command allows only a single flag")
    if len(names) > 1:
        raise DokkuError(f"unexpected arguments: {' '.join(names[1:])}")
    flag = info[0] if info else None
    if flag and fmt != "stdout":
        raise DokkuError("--format flag cannot be specified when specifying an info flag")
    if names:
        apps = [require_hub_app(names[0])]
    else:
        apps = all_hub_apps()
        if not apps:
            raise DokkuError("You haven't deployed any jupyterhub apps")
    for name in apps:
        print_report(name, fmt, flag)


report.dokku_usage = "[<app>] [--jupyterhub-<key>] [--format stdout|json]"  # type: ignore[attr-defined]

COMMANDS = [report]
