"""`jupyterhub:export`: hand over the hub app's source, to keep it in a git repository.

The files are exactly those the plugin deploys by default (`hub_source.render_files`), so a
`git push` of an unchanged export changes nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from dokku_jupyterhub import hub_source
from dokku_jupyterhub.hub_apps import require_hub_app
from dokku_jupyterhub.output import DokkuError, info1, verbose
from dokku_jupyterhub.paths import dokku_root


def _render(app: str) -> dict[str, bytes]:
    try:
        return hub_source.render_files(hub_source.params_for(app))
    except ValueError as exc:
        raise DokkuError(f"cannot render the hub source of {app}: {exc}") from None


def _write_tar(app: str, files: dict[str, bytes]) -> None:
    data = hub_source.to_tar(files, top=app)
    out = sys.stdout.buffer
    out.write(data)
    out.flush()


def _write_dir(app: str, files: dict[str, bytes], dest: Path, force: bool) -> None:
    try:
        _check_dest(app, files, dest, force)
        written = hub_source.write_dir(files, dest)
    except PermissionError as exc:
        # Commands run as the dokku user, in the caller's working directory: a folder of
        # root's (say /root) cannot even be looked into.
        raise DokkuError(
            f"cannot write {exc.filename or dest}: permission denied (commands run as the "
            f"dokku user; `dokku jupyterhub:export {app} | tar -x` writes where you are)"
        ) from None
    info1(f"Exported the hub source of {app} to {dest}")
    for path in written:
        verbose(str(path.relative_to(dest)))


def _check_dest(app: str, files: dict[str, bytes], dest: Path, force: bool) -> None:
    home = dokku_root().resolve()
    if dest.resolve() == home or home in dest.resolve().parents:
        # Run over ssh, a relative DIR lands in Dokku's home, where every folder is an app.
        raise DokkuError(f"{dest} is inside {home}, where Dokku takes every folder for an app: "
                         f"write elsewhere, or use `dokku jupyterhub:export {app} | tar -x`")
    if dest.exists() and not dest.is_dir():
        raise DokkuError(f"{dest} exists and is not a directory")
    if dest.is_dir() and any(dest.iterdir()) and not force:
        raise DokkuError(f"{dest} is not empty: choose an empty directory or add --force")
    for path in files:
        # No symlink at any depth: DIR/images -> elsewhere would write elsewhere.
        for depth in range(len(Path(path).parts) + 1):
            step = dest.joinpath(*Path(path).parts[:depth])
            if step.is_symlink():
                raise DokkuError(f"{step} is a symbolic link: export never writes through one")
        target = dest / path
        if target.exists() and not target.is_file():
            raise DokkuError(f"{target} exists and is not a plain file: not overwriting it")


@click.command("export")
@click.argument("app")
@click.argument("dir", required=False)
@click.option("--force", is_flag=True, help="Write into a non-empty directory.")
def export(app: str, dir: str | None, force: bool) -> None:  # noqa: A002 - shown as DIR
    """Write the hub app's source to DIR or as a tar on stdout"""
    require_hub_app(app)
    if dir is None and sys.stdout.isatty():
        raise DokkuError(
            "give a directory, or redirect stdout to get a tar: "
            f"dokku jupyterhub:export {app} > {app}.tar"
        )
    # `dokku --force jupyterhub:export ...`: Dokku strips a leading --force into this variable.
    force = force or os.environ.get("DOKKU_APPS_FORCE_DELETE") == "1"
    files = _render(app)
    if dir in (None, "-"):
        _write_tar(app, files)
        return
    _write_dir(app, files, Path(os.path.abspath(dir)), force)


export.dokku_usage = "<app> [DIR|-] [--force]"

COMMANDS = [export]
