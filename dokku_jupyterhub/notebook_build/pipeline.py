"""What happens when a hub app's notebook image is (re)built: one code path for the
`post-deploy` trigger and `dokku jupyterhub:rebuild-image`.

1. `notebook-image` set: builds are off; one line, done (no Docker call).
2. Under the app's build lock (a second build waits, then decides again):
3. read `images/` out of the deployed hub image into a temporary folder;
4. hash it with the build arguments and compare with the label of the image tagged as the
   target: unchanged means nothing to do;
5. otherwise build under a temporary tag, tag the result as the target (the replaced image
   becomes `:previous`), prune older images of this app, record the outcome.

Failures raise `BuildFailed` after recording them; the caller decides the exit code (the
trigger never fails a deploy, the command does).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker.errors
import requests.exceptions

from dokku_jupyterhub import docker_api, dokku_cli, properties
from dokku_jupyterhub.hub_runtime import contract
from dokku_jupyterhub.notebook_build import context, engine, fingerprint, lock, plan, records
from dokku_jupyterhub.notebook_build.plan import Action
from dokku_jupyterhub.output import (
    DokkuError,
    info1,
    is_quiet,
    verbose_quiet,
    warn,
)

PINNED_PROPERTY = contract.Prop.NOTEBOOK_IMAGE
BASE_IMAGE_PROPERTY = contract.Prop.NOTEBOOK_BASE_IMAGE


class BuildFailed(DokkuError):
    """The build failed; the image in service (if any) is untouched. `details`: more lines."""

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


@dataclass
class BuildOutcome:
    action: Action
    message: str
    image_id: str | None = None
    removed: list[str] = field(default_factory=list)


def short(digest: str | None) -> str:
    return (digest or "").removeprefix("sha256:")[:12]


def ensure_notebook_image(
    app: str,
    *,
    image_tag: str = "latest",
    force: bool = False,
    nocache: bool = False,
    network_mode: str | None = None,
) -> BuildOutcome:
    decision = plan.pinned(app, properties.get(app, PINNED_PROPERTY))
    if decision:
        info1(f"Notebook image: {decision.reason}")
        return BuildOutcome(decision.action, decision.reason)
    try:
        api = docker_api.client().api
        with lock.app_lock(app, on_wait=lambda: info1(
                f"Another notebook image build for {app} is running: waiting for it to finish")):
            return _build_holding_lock(app, api, image_tag, force, nocache, network_mode)
    except BuildFailed:
        raise
    except (DokkuError, docker.errors.DockerException, requests.exceptions.RequestException,
            OSError) as exc:
        # Engine gone mid-way, image missing, lock or temporary folder not writable.
        message = _describe(exc)
        records.failed(app, message)
        raise BuildFailed(f"Notebook image for {app} not built: {message}",
                          _kept_lines(app, None)) from exc


def _build_holding_lock(app: str, api, image_tag: str, force: bool, nocache: bool,
            network_mode: str | None) -> BuildOutcome:
    hub = context.inspect_hub_image(api, context.hub_image(app, image_tag))
    target = plan.target_tag(app)
    buildargs = plan.buildargs(properties.get_with_global(app, BASE_IMAGE_PROPERTY))
    with tempfile.TemporaryDirectory(prefix=f"djh-{app}-images-") as tmp:
        root = Path(tmp) / "images"
        root.mkdir()
        has_dockerfile = context.extract(api, hub, root) and context.has_dockerfile(root)
        context_hash = fingerprint.context_hash(root, buildargs) if has_dockerfile else ""
        target_labels = engine.labels_of(api, target)
        decision = plan.decide(app, has_dockerfile=has_dockerfile, context_hash=context_hash,
                               target_labels=target_labels, force=force)
        if decision.action is Action.NO_DOCKERFILE:
            info1(f"Notebook image: {decision.reason}")
            return BuildOutcome(decision.action, decision.reason)
        if decision.action is Action.CONFLICT:
            records.failed(app, decision.reason, context_hash)
            raise BuildFailed(f"Notebook image for {app} not built: {decision.reason}")
        if decision.action is Action.SKIP:
            current = engine.image_id(api, target) or ""
            records.skipped(app, current, context_hash)
            message = (f"Notebook image {target} is current ({decision.reason}, "
                       f"context {context_hash[:12]})")
            info1(message)
            return BuildOutcome(decision.action, message, current)
        return _build(app, api, hub, root, target, buildargs, context_hash, decision.reason,
                      nocache, network_mode)


def _build(app: str, api, hub: context.HubImage, root: Path, target: str,
           buildargs: dict[str, str], context_hash: str, reason: str, nocache: bool,
           network_mode: str | None) -> BuildOutcome:
    revision = context.revision_from_image(hub) or _configured_revision(app) or "unknown"
    records.running(app, context_hash, revision)
    info1(f"Building notebook image {target} ({reason}; revision {revision[:12]}, "
          f"context {context_hash[:12]}{', no cache' if nocache else ''})")
    labels = {
        contract.LABEL_NOTEBOOK_APP: app,
        contract.LABEL_BUILD_HASH: context_hash,
        contract.LABEL_BUILD_REVISION: revision,
        contract.LABEL_BUILT_AT: records.now(),
    }
    temporary = engine.temporary_tag(target)
    started = time.monotonic()
    try:
        new_id = engine.build(api, root, tag=temporary, buildargs=buildargs, labels=labels,
                              nocache=nocache, network_mode=network_mode,
                              on_line=verbose_quiet)
        previous = engine.promote(api, new_id, target)
    except engine.BuildError as exc:
        records.failed(app, exc.message, context_hash, revision)
        tail = [f"  {line}" for line in exc.tail] if is_quiet() else []
        raise BuildFailed(f"Notebook image build for {app} failed: {exc.message}",
                          tail + _kept_lines(app, api, target)) from None
    finally:
        engine.untag(api, temporary)
    seconds = time.monotonic() - started
    try:
        pruned = engine.prune(api, app, plan.repository(target), keep={new_id, previous or new_id})
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        pruned = engine.Pruned(errors=[docker_api.explain(exc)])  # the new image is in service
    records.ok(app, new_id, context_hash, revision)
    message = f"Notebook image {target} built in {seconds:.1f} s ({short(new_id)})"
    info1(message)
    if previous:
        verbose_quiet(f"Previous image kept as {plan.previous_tag(target)} for rollback")
    if pruned.removed:
        verbose_quiet(f"Removed {len(pruned.removed)} older notebook image(s) of {app}")
    if pruned.in_use:
        verbose_quiet(f"Kept {len(pruned.in_use)} older notebook image(s) still used by "
                      "containers")
    for problem in pruned.errors:
        warn(f"Could not remove an older notebook image: {problem}")
    verbose_quiet("New notebook servers start from it; running ones keep theirs until restarted")
    return BuildOutcome(Action.BUILD, message, new_id, pruned.removed)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, DokkuError):
        return exc.message
    if isinstance(exc, (docker.errors.DockerException, requests.exceptions.RequestException)):
        return docker_api.explain(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc)


def _configured_revision(app: str) -> str | None:
    """Dokku sets GIT_REV in the app's config (not in the image) on git deploys."""
    try:
        result = dokku_cli.run("config:get", app, "GIT_REV", check=False)
    except (OSError, DokkuError):
        return None
    return context.clean_revision(result.stdout) if result.ok else None


def _kept_lines(app: str, api, target: str | None = None) -> list[str]:
    target = target or plan.target_tag(app)
    try:
        current = engine.image_id(api, target) if api is not None else None
    except Exception:  # noqa: BLE001 - only wording depends on it; the engine may be gone
        api = None
    if api is None:
        return [f"{target} is unchanged: new notebook servers keep using the image in service"]
    if current:
        return [f"{target} still points at the previous image ({short(current)}): "
                "new notebook servers keep using it"]
    return [f"No notebook image exists yet: users cannot start servers until a build succeeds "
            f"(or pin one: dokku jupyterhub:set {app} notebook-image TAG)"]


def report_failure(exc: BuildFailed, *, trigger: bool, app: str) -> None:
    """Loud, in Dokku's style; the trigger says why the deploy still succeeded."""
    warn(exc.message)
    for line in exc.details:
        warn(line)
    if trigger:
        warn(f"The deploy itself succeeded. Fix images/ and push again, or run: "
             f"dokku jupyterhub:rebuild-image {app}")

