"""Whether a notebook image build is needed: pure decisions, no I/O.

The image currently tagged as the target carries the hash of the context it was built from
(a label). Equal hash: nothing changed, so no build and no image churn, which keeps the
`post-deploy` of a `ps:restart` or `config:set` short. Missing tag, foreign image or another
hash: build.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from dokku_jupyterhub.hub_runtime.contract import (
    LABEL_BUILD_HASH,
    LABEL_DOKKU_APP,
    LABEL_NOTEBOOK_APP,
    notebook_image,
)

BASE_IMAGE_ARG = "NOTEBOOK_BASE_IMAGE"


class Action(str, Enum):
    BUILD = "build"
    SKIP = "skip"  # the target already holds this context
    PINNED = "pinned"  # notebook-image is set: automatic builds are off
    NO_DOCKERFILE = "no-dockerfile"  # no images/Dockerfile: the hub uses the image as set
    CONFLICT = "conflict"  # the target tag holds another app's image: never overwrite it


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str


def target_tag(app: str) -> str:
    """The default DOCKER_JUPYTER_IMAGE of a hub app."""
    return notebook_image(app)


def previous_tag(target: str) -> str:
    """The tag that keeps the image a new build replaced, for rollback."""
    return f"{repository(target)}:previous"


def repository(ref: str) -> str:
    """`registry:5000/a/b:tag` -> `registry:5000/a/b` (a colon after the last slash is the tag)."""
    head, _, last = ref.rpartition("/")
    name = last.split("@", 1)[0].split(":", 1)[0]
    return f"{head}/{name}" if head else name


def image_owner(labels: Mapping[str, str]) -> str | None:
    """The app a notebook image of this plugin belongs to: its own label, or Dokku's app label
    on the images older versions of the plugin built (they carry the context hash too)."""
    if labels.get(LABEL_NOTEBOOK_APP):
        return labels[LABEL_NOTEBOOK_APP]
    return labels.get(LABEL_DOKKU_APP) if labels.get(LABEL_BUILD_HASH) else None


def buildargs(base_image: str | None) -> dict[str, str]:
    """Build arguments: NOTEBOOK_BASE_IMAGE only when set, so the Dockerfile's default holds."""
    return {BASE_IMAGE_ARG: base_image} if base_image else {}


def pinned(app: str, notebook_image: str | None) -> Decision | None:
    """Decided before anything is read from Docker: a pinned image turns builds off."""
    if notebook_image:
        return Decision(
            Action.PINNED,
            f"notebook-image is set to {notebook_image}: automatic notebook builds are off "
            f"(unset it to build again: dokku jupyterhub:set {app} notebook-image)",
        )
    return None


def decide(
    app: str,
    *,
    has_dockerfile: bool,
    context_hash: str,
    target_labels: Mapping[str, str] | None,
    force: bool = False,
) -> Decision:
    """`target_labels` are the labels of the image tagged as the target, None when untagged."""
    if not has_dockerfile:
        return Decision(
            Action.NO_DOCKERFILE,
            "images/Dockerfile not found in the deployed app: no notebook build, the hub keeps "
            "using DOCKER_JUPYTER_IMAGE as set",
        )
    labels = target_labels or {}
    # Ours, or a Dokku app's image (an app really named `<app>-notebook`).
    owner = image_owner(labels) or labels.get(LABEL_DOKKU_APP)
    if target_labels is not None and owner and owner != app:
        return Decision(
            Action.CONFLICT,
            f"the tag {target_tag(app)} holds an image of app {owner}: not overwriting it "
            f"(pin another image with: dokku jupyterhub:set {app} notebook-image TAG)",
        )
    if target_labels is None:
        return Decision(Action.BUILD, "no notebook image yet")
    current = labels.get(LABEL_BUILD_HASH) if owner == app else None
    if current == context_hash:
        if force:
            return Decision(Action.BUILD, "images/ unchanged, rebuilding as asked (--force)")
        return Decision(Action.SKIP, "images/ unchanged")
    if current is None:
        return Decision(Action.BUILD, "the tagged notebook image was not built by this plugin")
    return Decision(Action.BUILD, "images/ changed")
