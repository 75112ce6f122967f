"""Keeping a hub's proxy wired, on every deploy and when the admin asks: the container
(`proxy_container`) and Dokku's side of it (nginx's static web listener, zero-downtime off
for the hub's web process), as `proxy_plan` decides from the deployed hub image.

The hub image says whether it wants the proxy outside (the LABEL_PROXY_MODE label of the
rendered Dockerfile); a hub whose source predates that keeps its own proxy, and nginx keeps
going to its container.
"""

from __future__ import annotations

import time
import urllib.request
from typing import Any

import docker.errors

from dokku_jupyterhub import (
    docker_api,
    dokku_cli,
    dokku_state,
    properties,
    proxy_container,
    proxy_plan,
)
from dokku_jupyterhub.hub_runtime.contract import (
    LABEL_PROXY_MODE,
    PROXY_EXTERNAL,
    Env,
    Prop,
    hub_image,
    proxy_container_name,
)
from dokku_jupyterhub.output import DokkuError, info1_quiet, verbose_quiet, warn

HUB_WAIT = 120  # seconds: a hub on a busy host, upgrading its database


def hub_image_of(client: Any, app: str, tag: str = "latest") -> Any | None:
    try:
        return client.images.get(hub_image(app, tag))
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.DockerException as exc:
        raise DokkuError(docker_api.explain(exc)) from None


def wants_external(image: Any | None, config: dict[str, str]) -> bool:
    """The deployed hub runs with the proxy outside: its image says so and it has the
    proxy's token (without one the hub starts its own proxy, see hub settings)."""
    labels = (image.labels or {}) if image is not None else {}
    return labels.get(LABEL_PROXY_MODE) == PROXY_EXTERNAL and bool(config.get(Env.PROXY_TOKEN))


def listener_of(app: str) -> str:
    """The app's proxy address, given one (and recorded) if it has none yet."""
    ip = properties.get(app, Prop.PROXY_LISTENER)
    if not proxy_plan.is_listener(ip):
        ip = proxy_plan.pick_listener(dokku_state.other_listeners(app))
        properties.set(app, Prop.PROXY_LISTENER, ip)
    return str(ip)


def spec_for(app: str, image: Any, config: dict[str, str]) -> proxy_plan.ProxySpec:
    return proxy_plan.ProxySpec(app=app, image=image.id, listener=listener_of(app),
                                token=config[Env.PROXY_TOKEN])


def apply_dokku_wiring(app: str, external: bool) -> None:
    wiring = proxy_plan.Wiring(
        external=external,
        listener=properties.get(app, Prop.PROXY_LISTENER) or "",
        static_listener=dokku_state.static_web_listener(app),
        checks_disabled=dokku_state.checks_disabled(app),
    )
    for what, argv in proxy_plan.wiring_steps(app, wiring):
        info1_quiet(what)
        dokku_cli.run(*argv)


def wait_for_hub(spec: proxy_plan.ProxySpec, timeout: float = HUB_WAIT) -> None:
    """Zero-downtime checks are off for hub apps, so Dokku no longer waits for the hub: wait
    here (through the proxy, as users reach it), so the deploy ends once the hub serves, or
    says that it does not."""
    url = f"http://{proxy_plan.static_web_listener(spec.listener)}/hub/health"
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    verbose_quiet(f"the hub answers ({time.monotonic() - started:.1f} s)")
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    warn(f"the hub of {spec.app} did not answer in {timeout:.0f} s; users' open notebooks "
         f"keep working, but nobody can log in or start a server: dokku logs {spec.app}")


def reconcile(app: str, image_tag: str = "latest") -> None:
    """After a deploy (post-deploy): the proxy the deployed hub expects, running, and nginx
    pointed at it; then wait for the hub. A running proxy that fits is left alone, so users'
    connections stay."""
    config = dokku_state.config(app)
    if not config.get(Env.PROXY_TOKEN):
        # Made before the proxy moved out (or its token unset): the hub runs its own proxy,
        # whatever its image; Docker is not needed to know that.
        apply_dokku_wiring(app, False)
        return
    client = docker_api.client()
    image = hub_image_of(client, app, image_tag)
    external = wants_external(image, config)
    if external:
        spec = spec_for(app, image, config)
        done = proxy_container.ensure(client, spec)
        info1_quiet(f"Proxy {proxy_container_name(app)}: {done}")
        apply_dokku_wiring(app, external)
        info1_quiet("Waiting for the hub to answer")
        wait_for_hub(spec)
        return
    if proxy_container.remove(client, app):
        verbose_quiet(f"removed {proxy_container_name(app)}: this hub runs its own proxy")
    apply_dokku_wiring(app, external)


def restart(app: str) -> None:
    """A new proxy from the hub's current image (how the proxy is upgraded), then a hub
    restart, so the hub adds every route to it at once instead of at its next check."""
    client = docker_api.client()
    image = hub_image_of(client, app)
    config = dokku_state.config(app)
    if not wants_external(image, config):
        raise DokkuError(
            f"{app} runs its proxy inside the hub (its source predates the separate proxy): "
            f"restart the hub instead: dokku ps:restart {app}")
    spec = spec_for(app, image, config)
    info1_quiet(f"Replacing the proxy {spec.name} (open notebooks reconnect)")
    proxy_container.replace(client, spec)
    apply_dokku_wiring(app, True)
    info1_quiet(f"Restarting {app} so it gives the new proxy every route")
    dokku_cli.run("ps:restart", app, stream=True)


def drop(app: str) -> bool:
    """Remove the app's proxy container (destroy, and the old name of a rename)."""
    return proxy_container.remove(docker_api.client(), app)


def status_text(app: str, config: dict[str, str]) -> str:
    try:
        client = docker_api.client()
        image = hub_image_of(client, app)
        if not wants_external(image, config):
            how = (f"dokku jupyterhub:create {app}, then deploy the current source"
                   if not config.get(Env.PROXY_TOKEN) else "deploy the current source")
            return f"inside the hub container (a restart cuts users' connections: {how})"
        return proxy_container.status(client, app, image.id).describe()
    except DokkuError as exc:
        return f"unknown: {exc.message}"
