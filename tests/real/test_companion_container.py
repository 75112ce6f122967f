"""The containers beside a hub, for real: the proxy (configurable-http-proxy from the hub
base image) published on its loopback address, kept when it fits, replaced when it does not,
removed."""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
import urllib.error
import urllib.request

import docker.errors
import pytest

from dokku_jupyterhub import companion_container
from dokku_jupyterhub.output import DokkuError
from dokku_jupyterhub.proxy_plan import ProxySpec

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def hub_base(engine):
    from support import baseimages

    from dokku_jupyterhub import hub_source

    reason = baseimages.missing_tools()
    if reason and os.environ.get("CI") == "true":
        pytest.fail(reason)
    elif reason:
        pytest.skip(reason)
    files = hub_source.render_files(hub_source.HubParams(app="hub"))
    return baseimages.ensure_hub_base(
        engine, baseimages.requirement_lines(files["requirements.txt"]))


def free_listener() -> str:
    """A 127.42.x.y address whose port 8000 nothing uses."""
    for last in range(200, 250):
        ip = f"127.42.9.{last}"
        with socket.socket() as sock:
            try:
                sock.bind((ip, 8000))
                return ip
            except OSError:
                continue
    raise AssertionError("no free 127.42.9.x address")


@pytest.fixture
def app(engine):
    name = f"djhproxy-{secrets.token_hex(3)}"
    net = engine.networks.create(f"{name}-network", driver="bridge")
    yield name
    mine = {"label": f"org.dokku-jupyterhub.app={name}"}
    for c in engine.containers.list(all=True, filters=mine):
        c.remove(force=True)
    net.remove()


def api(spec: ProxySpec, engine, path: str = "/api/routes", token: str | None = None):
    """The proxy's REST API, asked from a container on the hub's network (as the hub asks)."""
    cmd = ["python3", "-c",
           "import sys,urllib.request as u;"
           "r=u.Request(sys.argv[1],headers={'Authorization':'token '+sys.argv[2]});"
           "print(u.urlopen(r,timeout=5).read().decode())",
           f"http://{spec.name}:8001{path}", token or spec.token]
    out = engine.containers.run(spec.image, cmd, network=spec.network, remove=True)
    return json.loads(out)


def wait_published(ip: str) -> bytes:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://{ip}:8000/anything", timeout=2) as r:
                return r.read()
        except urllib.error.HTTPError as exc:  # the proxy answers: no route, no hub yet
            return exc.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_the_proxy_runs_on_its_address_and_answers_the_hubs_token(engine, hub_base, app):
    image = engine.images.get(hub_base).id
    spec = ProxySpec(app=app, image=image, listener=free_listener(), token=secrets.token_hex(32))
    assert companion_container.ensure(engine, spec) == "started"
    c = engine.containers.get(spec.name)
    assert c.status == "running"
    assert c.labels["org.dokku-jupyterhub.role"] == "proxy"
    assert c.labels["com.dokku.app-name"] == ""  # whatever the image says
    assert c.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    bindings = c.attrs["HostConfig"]["PortBindings"]
    assert bindings == {"8000/tcp": [{"HostIp": spec.listener, "HostPort": "8000"}]}
    wait_published(spec.listener)  # nginx's way in answers
    # The token is accepted; before the hub adds its routes, everything goes to the hub.
    routes = api(spec, engine)
    assert list(routes) == ["/"] and routes["/"]["target"] == f"http://{app}.web:8081"
    with pytest.raises(docker.errors.ContainerError):
        api(spec, engine, token="not-the-token")
    # Nothing but the listener is published: the API is only on the hub's network.
    with socket.socket() as sock:
        assert sock.connect_ex((spec.listener, 8001)) != 0


def test_a_running_proxy_that_fits_is_kept_with_its_routes(engine, hub_base, app):
    image = engine.images.get(hub_base).id
    spec = ProxySpec(app=app, image=image, listener=free_listener(), token=secrets.token_hex(32))
    companion_container.ensure(engine, spec)
    first = engine.containers.get(spec.name)
    started = first.attrs["State"]["StartedAt"]
    # A route, as the hub adds one for a user's server.
    cmd = ["python3", "-c",
           "import sys,json,urllib.request as u;"
           f"r=u.Request('http://{spec.name}:8001/api/routes/user/ada',method='POST',"
           "data=json.dumps({'target':'http://10.9.9.9:8888'}).encode(),"
           "headers={'Authorization':'token '+sys.argv[1]});u.urlopen(r,timeout=5)", spec.token]
    wait_published(spec.listener)
    engine.containers.run(image, cmd, network=spec.network, remove=True)
    assert companion_container.ensure(engine, spec) == "running"
    assert engine.containers.get(spec.name).attrs["State"]["StartedAt"] == started
    assert "/user/ada" in api(spec, engine)  # the route survived
    # A newer hub image alone does not replace it.
    newer = ProxySpec(app=app, image="sha256:" + "0" * 64, listener=spec.listener,
                      token=spec.token)
    assert companion_container.ensure(engine, newer) == "running"
    status = companion_container.status(engine, spec.name, "sha256:" + "0" * 64)
    assert status.state == "running" and not status.image_current
    assert "restart-proxy" in status.describe("dokku jupyterhub:restart-proxy hub")


def test_a_stopped_proxy_is_started_and_a_wrong_one_replaced(engine, hub_base, app):
    image = engine.images.get(hub_base).id
    spec = ProxySpec(app=app, image=image, listener=free_listener(), token=secrets.token_hex(32))
    companion_container.ensure(engine, spec)
    engine.containers.get(spec.name).stop(timeout=2)
    assert companion_container.ensure(engine, spec) == "started again"
    other = ProxySpec(app=app, image=image, listener=spec.listener, token=secrets.token_hex(32))
    done = companion_container.ensure(engine, other)
    assert done.startswith("replaced (its API token is not the hub's")
    wait_published(spec.listener)
    assert list(api(other, engine)) == ["/"]
    assert companion_container.remove(engine, spec.name) is True
    assert companion_container.remove(engine, spec.name) is False
    assert companion_container.status(engine, spec.name, image).describe("-") == "missing"


def test_an_address_in_use_is_one_clear_error(engine, hub_base, app):
    image = engine.images.get(hub_base).id
    ip = free_listener()
    with socket.socket() as squatter:
        squatter.bind((ip, 8000))
        squatter.listen()
        spec = ProxySpec(app=app, image=image, listener=ip, token=secrets.token_hex(32))
        with pytest.raises(DokkuError, match=f"something else listens on {ip}:8000"):
            companion_container.ensure(engine, spec)
