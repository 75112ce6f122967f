"""Running the steps `create_plan.plan` decided, in order: Dokku commands through
`dokku_cli`, the plugin's own effects (properties, the data tree, the policy) here. A failed
step stops the run with the one line that says how to continue: run `create` again."""

from __future__ import annotations

from dokku_jupyterhub import (
    create_plan,
    datadirs,
    dokku_cli,
    policy_ops,
    policy_store,
    properties,
)
from dokku_jupyterhub.hub_runtime.policy import PolicyError
from dokku_jupyterhub.output import DokkuError, info1_quiet, verbose_quiet


def run_steps(app: str, steps: tuple[create_plan.Step, ...]) -> None:
    for step in steps:
        # Plugin bookkeeping is chatter; Dokku-visible steps are what the admin follows.
        (verbose_quiet if step.local == "property" else info1_quiet)(step.what)
        try:
            run_step(app, step)
        except DokkuError as exc:
            raise DokkuError(
                f"{step.what} failed: {exc.message}. Fix the cause, then run "
                f"`dokku jupyterhub:create {app}` again: it continues where it stopped",
                exc.exit_code,
            ) from None
        except (OSError, PolicyError) as exc:
            raise DokkuError(
                f"{step.what} failed: {exc}. Fix the cause, then run "
                f"`dokku jupyterhub:create {app}` again: it continues where it stopped"
            ) from None


def run_step(app: str, step: create_plan.Step) -> None:
    if step.dokku:
        data = rendered_hub_tar(app) if step.stdin == create_plan.HUB_SOURCE else None
        dokku_cli.run(*step.dokku, input=data, stream=step.stream)
    elif step.local == "property":
        key, value = step.args
        properties.set(app, key, value)
    elif step.local == "data-tree":
        created = datadirs.ensure(app)
        verbose_quiet(f"{len(created)} directories created")
    elif step.local == "policy":
        memory, *admins = step.args
        policy_store.change(app, lambda doc: policy_ops.initial_policy(
            doc, admins, memory or None, policy_store.host_memory()))
    else:  # pragma: no cover - a plan only makes the kinds above
        raise DokkuError(f"unknown step {step}")


def rendered_hub_tar(app: str) -> bytes:
    """The default hub app, rendered from the templates, as the tar git:from-archive wants."""
    from dokku_jupyterhub import hub_source  # jinja2 and the templates: only when deploying

    try:
        return hub_source.to_tar(hub_source.render_files(hub_source.params_for(app)))
    except ValueError as exc:
        raise DokkuError(f"cannot render the hub source: {exc}") from None
