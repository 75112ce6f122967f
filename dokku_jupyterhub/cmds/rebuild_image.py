"""`jupyterhub:rebuild-image`: the post-deploy notebook build, run by hand."""

from __future__ import annotations

import sys

import click

from dokku_jupyterhub.hub_apps import require_hub_app
from dokku_jupyterhub.notebook_build import pipeline
from dokku_jupyterhub.notebook_build.plan import Action
from dokku_jupyterhub.output import DokkuError


@click.command("rebuild-image")
@click.argument("app")
@click.option("--no-cache", "nocache", is_flag=True,
              help="Build every step again without Docker's layer cache (implies --force).")
@click.option("--force", is_flag=True, help="Build even when images/ did not change.")
def rebuild_image(app: str, nocache: bool, force: bool) -> None:
    """Build the notebook image from the deployed app's images/ folder now

    Same as the post-deploy trigger, but it fails (non-zero exit) when no image was built:
    a failed build, no images/Dockerfile, or notebook-image pinned. The image in service is
    kept until a new one succeeds.
    """
    require_hub_app(app, f" (create one with: dokku jupyterhub:create {app})")
    try:
        outcome = pipeline.ensure_notebook_image(app, force=force or nocache, nocache=nocache)
    except pipeline.BuildFailed as exc:
        pipeline.report_failure(exc, trigger=False, app=app)
        # Already reported in full; click (standalone_mode=False) would turn Exit into 0.
        sys.exit(exc.exit_code)
    if outcome.action is Action.PINNED:
        raise DokkuError("Nothing built: notebook-image is pinned")
    if outcome.action is Action.NO_DOCKERFILE:
        raise DokkuError("Nothing built: the deployed app has no images/Dockerfile "
                         "(add one to images/ and deploy)")


COMMANDS = [rebuild_image]
