"""The containers beside a hub, kept running and wired on every deploy and when the admin
asks: its Docker gate (`gate_plan`) and its proxy (`proxy_plan`), with Dokku's side of the
proxy (nginx's static web listener, zero-downtime off for the hub's web process).

The deployed hub image says which it expects (labels of the rendered Dockerfile): a hub
whose source predates them keeps its own proxy and its Docker socket.
"""

from __future__ import annotations

import time
import urllib.request
from typing import Any

import docker.errors

from dokku_jupyterhub import (
    companion_container,
    docker_api,
    dokku_cli,
    dokku_state,
    gate_plan,
    properties,
    proxy_plan,
)
from dokku_jupyterhub.hub_runtime.contract import (
    DOCKER_SOCKET,
    LABEL_PROXY_MODE,
    PROXY_EXTERNAL,
    Env,
    Prop,
    gate_container_name,
    hub_image,
    proxy_container_name,
)
from dokku_jupyterhub.output import DokkuError, info1_quiet, verbose_quiet, warn
from dokku_jupyterhub.paths import data_root, gate_dir

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


def wants_gate(image: Any | None, config: dict[str, str]) -> bool:
    """The deployed hub reaches Docker through the gate: its image has the gate's code and
    its config says where the gate listens."""
    return (image is not None and gate_plan.image_has_gate(image.labels)
            and bool(config.get(Env.DOCKER_GATE)))


def gate_spec(app: str, image: Any, config: dict[str, str]) -> gate_plan.GateSpec:
    return gate_plan.GateSpec(app=app, image=image.id, data_root=str(data_root(app)),
                              gate_dir=str(gate_dir(app)),
                              environment=gate_plan.gate_environment(config))


def socket_left(app: str) -> bool:
    """The hub still mounts the Docker socket (made before the gate)."""
    return any(m.host == DOCKER_SOCKET for m in dokku_state.mounts(app))


def wire_gate(client: Any, app: str, image: Any | None, config: dict[str, str]) -> None:
    if wants_gate(image, config):
        done = companion_container.ensure(client, gate_spec(app, image, config))
        info1_quiet(f"Docker gate {gate_container_name(app)}: {done}")
        if socket_left(app):
            warn(f"{app} still has the Docker socket mounted, which the gate makes "
                 f"needless: remove it with dokku jupyterhub:create {app}")
    elif companion_container.remove(client, gate_container_name(app)):
        verbose_quiet(f"removed {gate_container_name(app)}: this hub uses the Docker socket")


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
    """After a deploy (post-deploy): the gate and the proxy the deployed hub expects,
    running, and nginx pointed at the proxy; then wait for the hub. A running proxy that
    fits is left alone, so users' connections stay."""
    config = dokku_state.config(app)
    if not (config.get(Env.PROXY_TOKEN) or config.get(Env.DOCKER_GATE)):
        # Made before the proxy and the gate (or their settings unset): the hub runs its own
        # proxy and uses the socket, whatever its image; Docker is not needed to know that.
        apply_dokku_wiring(app, False)
        return
    client = docker_api.client()
    image = hub_image_of(client, app, image_tag)
    wire_gate(client, app, image, config)
    external = wants_external(image, config)
    if external:
        spec = spec_for(app, image, config)
        done = companion_container.ensure(client, spec)
        info1_quiet(f"Proxy {proxy_container_name(app)}: {done}")
        apply_dokku_wiring(app, external)
        info1_quiet("Waiting for the hub to answer")
        wait_for_hub(spec)
        return
    if companion_container.remove(client, proxy_container_name(app)):
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
    companion_container.replace(client, spec)
    apply_dokku_wiring(app, True)
    info1_quiet(f"Restarting {app} so it gives the new proxy every route")
    dokku_cli.run("ps:restart", app, stream=True)


def drop(app: str) -> list[str]:
    """Remove the app's proxy and gate containers (the old name of a rename)."""
    client = docker_api.client()
    return [name for name in (proxy_container_name(app), gate_container_name(app))
            if companion_container.remove(client, name)]


def status_texts(app: str, config: dict[str, str]) -> dict[str, str]:
    """`report`'s lines of the proxy and the gate (one look at Docker for both)."""
    try:
        client = docker_api.client()
        image = hub_image_of(client, app)
    except DokkuError as exc:
        return dict.fromkeys(("proxy", "docker-gate"), f"unknown: {exc.message}")
    if wants_external(image, config):
        status = companion_container.status(client, proxy_container_name(app), image.id)
        proxy = status.describe(f"dokku jupyterhub:restart-proxy {app} to update it")
    else:
        how = (f"deploy the current source, then dokku jupyterhub:create {app}"
               if not config.get(Env.PROXY_TOKEN) else "deploy the current source")
        proxy = f"inside the hub container (a restart cuts users' connections: {how})"
    if wants_gate(image, config):
        status = companion_container.status(client, gate_container_name(app), image.id)
        gate = status.describe("the next deploy replaces it")
        if socket_left(app):
            gate += (f"; the hub still has the Docker socket mounted: dokku jupyterhub:create "
                     f"{app} removes it")
    else:
        gate = ("none: the hub has the Docker socket itself (deploy the current source, "
                f"then dokku jupyterhub:create {app})")
    return {"proxy": proxy, "docker-gate": gate}
