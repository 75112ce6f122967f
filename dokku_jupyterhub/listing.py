"""Lists and tables in Dokku's style, for the `*:list` commands: `=====> header`, then one
bare item (or padded row) per line, or JSON with `--format json`."""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from dokku_jupyterhub.output import info2_quiet, out, verbose_quiet

format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["stdout", "json"]),
    default="stdout",
    metavar="stdout|json",
    help="Output format",
)


def print_list(header: str, items: Sequence[str], empty: str, fmt: str) -> None:
    if fmt == "json":
        out(json.dumps(list(items)))
        return
    info2_quiet(header)
    if not items:
        verbose_quiet(empty)
    for item in items:
        out(item)


def print_table(header: str, columns: Sequence[str], rows: Sequence[Sequence[str]],
                empty: str) -> None:
    info2_quiet(header)
    if not rows:
        verbose_quiet(empty)
        return
    widths = [max(len(str(r[i])) for r in [columns, *rows]) for i in range(len(columns))]
    for row in [columns, *rows]:
        out("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
