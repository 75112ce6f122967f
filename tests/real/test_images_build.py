"""The generated hub Dockerfile and images/Dockerfile build, offline, into working images.

Bases are made here without a registry (tests/support/baseimages.py): `djh-test/hub-base`
plays quay.io/jupyterhub/jupyterhub:6.1.1 with the hub's pins installed, and
`djh-test/notebook-full` plays the docker-stacks base with the default package set, so the
RENDERED files (not copies) must build with `network_mode="none"`: every pin must already be
satisfied and nothing may reach for the network. The base is chosen through the same build
args the plugin uses (JUPYTERHUB_BASE_IMAGE, NOTEBOOK_BASE_IMAGE).
"""

from __future__ import annotations

import io
import json
import os
import secrets
import tarfile

import docker
import pytest
from support import baseimages

from dokku_jupyterhub import hub_source

pytestmark = pytest.mark.docker


def context_tar(files: dict[str, bytes], under: str = "") -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, data in sorted(files.items()):
            if under and not path.startswith(under):
                continue
            info = tarfile.TarInfo(path[len(under):])
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def build(cli: docker.DockerClient, ctx: io.BytesIO, tag: str, buildargs: dict[str, str]):
    try:
        image, _ = cli.images.build(fileobj=ctx, custom_context=True, tag=tag, rm=True,
                                    forcerm=True, pull=False, network_mode="none",
                                    buildargs=buildargs, labels={"djh-test": "build-test"})
    except docker.errors.BuildError as exc:
        log = "".join(str(c.get("stream", c.get("error", ""))) for c in exc.build_log)
        pytest.fail(f"{tag} did not build offline: {exc.msg}\n{log[-4000:]}")
    return image


def run(cli: docker.DockerClient, image: str, script: str, **kw) -> str:
    out = cli.containers.run(image, ["sh", "-c", script], network_mode="none", remove=True,
                             stderr=True, entrypoint=[], **kw)
    return out.decode()


@pytest.fixture(scope="module")
def rendered():
    # Default parameters: the real quay.io bases are in the files, the build args override.
    return hub_source.render_files(hub_source.HubParams(app="buildtest"))


@pytest.fixture(scope="module")
def bases(engine, rendered):
    reason = baseimages.missing_tools()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"offline base images need: {reason}")
        pytest.skip(reason)
    return baseimages.ensure_for_rendered(engine, rendered)


@pytest.fixture(scope="module")
def built(engine, rendered, bases):
    suffix = secrets.token_hex(4)
    tags = {"hub": f"djh-test/build-hub:{suffix}", "notebook": f"djh-test/build-nb:{suffix}"}
    images = {
        "hub": build(engine, context_tar(rendered), tags["hub"],
                     {"JUPYTERHUB_BASE_IMAGE": bases["hub"]}),
        "notebook": build(engine, context_tar(rendered, "images/"), tags["notebook"],
                          {"NOTEBOOK_BASE_IMAGE": bases["notebook"]}),
    }
    yield tags
    for tag in tags.values():
        engine.images.remove(tag, force=True)
    del images


def test_rendered_files_name_the_official_bases(rendered):
    assert b"ARG JUPYTERHUB_BASE_IMAGE=quay.io/jupyterhub/jupyterhub:6.1.1" in rendered[
        "Dockerfile"]
    assert b"ARG NOTEBOOK_BASE_IMAGE=quay.io/jupyter/" in rendered["images/Dockerfile"]


def test_hub_image_has_pinned_stack(engine, built, rendered):
    pins = baseimages.requirement_lines(rendered["requirements.txt"])
    out = run(engine, built["hub"], "jupyterhub --version && python3 -m pip freeze")
    lines = out.splitlines()
    assert lines[0].strip() == hub_source.JUPYTERHUB_VERSION
    frozen = {ln.split("==")[0].lower(): ln.split("==")[1] for ln in lines[1:] if "==" in ln}
    for pin in pins:
        name, version = pin.split("==")
        assert frozen[name.split("[")[0].lower()] == version, pin


def test_hub_image_carries_config_package_and_notebook_context(engine, built, rendered):
    image = engine.images.get(built["hub"])
    assert image.attrs["Config"]["Cmd"] == ["python3", "-m", "dokku_hub.start"]
    assert image.attrs["Config"]["WorkingDir"] == "/srv/jupyterhub"
    # The notebook build context travels inside the hub image byte for byte.
    for path in ("images/Dockerfile", "images/overrides.json", "images/requirements.txt",
                 "jupyterhub_config.py"):
        data = run(engine, built["hub"], f"cat /srv/jupyterhub/{path}").encode()
        assert data == rendered[path], path
    out = run(engine, built["hub"],
              "python3 -c 'import dokku_hub.auth, dokku_hub.spawn, dokku_hub.start; print(1)'")
    assert out.strip() == "1"
    assert run(engine, built["hub"], "command -v configurable-http-proxy").strip()


def test_notebook_image_runs_as_jovyan_with_packages(engine, built, rendered):
    out = run(engine, built["notebook"], "id -u; id -g; jupyterhub --version")
    uid, gid, version = out.split()
    assert (uid, gid) == ("1000", "100")
    assert version == hub_source.JUPYTERHUB_VERSION
    imports = "import numpy, pandas, PIL, openpyxl, xlrd, ipywidgets, ipympl, graphviz"
    assert run(engine, built["notebook"], f"python3 -c '{imports}; print(\"ok\")'").strip() \
        == "ok"
    assert "dot - graphviz" in run(engine, built["notebook"], "dot -V 2>&1")
    assert "jupyterlab-spellchecker" in run(engine, built["notebook"], "pip list 2>/dev/null")
    assert run(engine, built["notebook"], "command -v jupyterhub-singleuser").strip()


def test_notebook_image_has_lab_settings(engine, built, rendered):
    path = run(engine, built["notebook"],
               "python3 -c 'import sys; print(sys.prefix)'").strip()
    data = run(engine, built["notebook"],
               f"cat {path}/share/jupyter/lab/settings/overrides.json")
    assert json.loads(data) == json.loads(rendered["images/overrides.json"])
    settings = json.loads(data)
    assert settings["@jupyterlab/notebook-extension:tracker"]["kernelShutdown"] is True


def test_notebook_image_starts_without_the_slow_grammar(engine, built):
    """rfc3987-syntax (a lark grammar compiled at import, ~0.7 CPU-s per server start) is
    gone, and the server stack that imported it through jsonschema still imports."""
    script = (
        "python3 -c 'import importlib.util as u, jupyter_server.serverapp, jupyter_events; "
        "print(u.find_spec(\"rfc3987_syntax\") is None)'"
    )
    assert run(engine, built["notebook"], script).strip().splitlines()[-1] == "True"
